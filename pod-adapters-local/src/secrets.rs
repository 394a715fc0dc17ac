//! [`OsSecrets`]: random secrets from the operating system's CSPRNG and
//! their SHA-256 digests (through `aws-lc-rs`), for the OAuth server.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pod_ports::Secrets;

/// [`Secrets`] from the operating system.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsSecrets;

impl Secrets for OsSecrets {
    fn random(&self, bytes: usize) -> String {
        let mut buf = vec![0u8; bytes];
        // The OS CSPRNG does not fail on any platform pod runs on; if it
        // did, no secret could be made safely.
        aws_lc_rs::rand::fill(&mut buf).expect("the operating system's CSPRNG failed");
        URL_SAFE_NO_PAD.encode(buf)
    }

    fn digest(&self, secret: &str) -> Vec<u8> {
        digest(&SHA256, secret.as_bytes()).as_ref().to_vec()
    }

    fn equal(&self, a: &[u8], b: &[u8]) -> bool {
        verify_slices_are_equal(a, b).is_ok()
    }

    fn s256(&self, verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_transforms() {
        // RFC 7636 Appendix B.
        assert_eq!(
            OsSecrets.s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn secrets_are_random_and_digests_compare() {
        let a = OsSecrets.random(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, OsSecrets.random(32));
        assert!(OsSecrets.equal(&OsSecrets.digest(&a), &OsSecrets.digest(&a)));
        assert!(!OsSecrets.equal(&OsSecrets.digest(&a), &OsSecrets.digest("b")));
    }
}
