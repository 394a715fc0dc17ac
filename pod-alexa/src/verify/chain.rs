//! Signing-certificate chains: parsing, validation against a trust store,
//! and signature checks with the signing certificate's key.

use std::fmt;
use std::time::Duration;

use pod_domain::Timestamp;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

use super::VerifyError;

/// The DNS name every Alexa signing certificate must carry as a SAN.
pub const SIGNING_CERT_DNS_NAME: &str = "echo-api.amazon.com";

/// The most certificates accepted in one chain file.
const MAX_CHAIN_CERTS: usize = 8;
/// The largest chain file accepted (Amazon's are about 7 KB).
pub const MAX_CHAIN_BYTES: usize = 64 * 1024;

/// The roots a chain must lead to.
#[derive(Debug, Clone)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
}

impl TrustStore {
    /// The public web PKI roots (`webpki_roots::TLS_SERVER_ROOTS`), as used
    /// in strict mode.
    pub fn public_roots() -> Self {
        TrustStore {
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }
    }

    /// A store trusting exactly one CA certificate (a development CA).
    pub fn from_ca_der(ca: &CertificateDer<'_>) -> Result<Self, VerifyError> {
        let anchor = webpki::anchor_from_trusted_cert(ca)
            .map_err(|_| VerifyError::CertInvalid("trust anchor is not a valid certificate"))?
            .to_owned();
        Ok(TrustStore {
            anchors: vec![anchor],
        })
    }

    /// The trust anchors.
    pub fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }
}

/// A parsed signing-certificate chain: the signing (end-entity) certificate
/// first, then the certificates that lead towards a root.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningChain {
    certs: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for SigningChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningChain")
            .field("certs", &self.certs.len())
            .finish()
    }
}

impl SigningChain {
    /// Parses a PEM chain. Anything that is not a `CERTIFICATE` section is
    /// ignored; at least one certificate is required and the first must
    /// parse as an end-entity certificate.
    pub fn from_pem(pem: &[u8]) -> Result<Self, VerifyError> {
        if pem.len() > MAX_CHAIN_BYTES {
            return Err(VerifyError::CertInvalid("chain file is too large"));
        }
        let mut certs = Vec::new();
        for item in CertificateDer::pem_slice_iter(pem) {
            let cert = item.map_err(|_| VerifyError::CertInvalid("chain is not valid PEM"))?;
            if certs.len() == MAX_CHAIN_CERTS {
                return Err(VerifyError::CertInvalid("chain has too many certificates"));
            }
            certs.push(cert);
        }
        Self::from_der(certs)
    }

    /// A chain from DER certificates, signing certificate first.
    pub fn from_der(certs: Vec<CertificateDer<'static>>) -> Result<Self, VerifyError> {
        let Some(first) = certs.first() else {
            return Err(VerifyError::CertInvalid("chain holds no certificate"));
        };
        EndEntityCert::try_from(first)
            .map_err(|_| VerifyError::CertInvalid("signing certificate does not parse"))?;
        Ok(SigningChain { certs })
    }

    /// The certificates, signing certificate first.
    pub fn certs(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    fn end_entity(&self) -> Result<EndEntityCert<'_>, VerifyError> {
        let first = self
            .certs
            .first()
            .ok_or(VerifyError::CertInvalid("chain holds no certificate"))?;
        EndEntityCert::try_from(first)
            .map_err(|_| VerifyError::CertInvalid("signing certificate does not parse"))
    }

    /// Checks the chain at `now`: every certificate on the path is inside
    /// its validity window, the signing certificate names
    /// `echo-api.amazon.com` among its DNS SANs, and the chain leads to one
    /// of `trust`'s anchors for server authentication.
    pub fn validate(&self, trust: &TrustStore, now: Timestamp) -> Result<(), VerifyError> {
        let ee = self.end_entity()?;
        let intermediates = self.certs.get(1..).unwrap_or(&[]);
        let time = unix_time(now);
        // Validity window and chain of trust. webpki checks the window of
        // each certificate as it builds the path, the signing cert first.
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            trust.anchors(),
            intermediates,
            time,
            KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(map_path_error)?;
        let name = ServerName::try_from(SIGNING_CERT_DNS_NAME).map_err(|_| VerifyError::CertSan)?;
        ee.verify_is_valid_for_subject_name(&name)
            .map_err(|_| VerifyError::CertSan)?;
        Ok(())
    }

    /// Checks an RSA PKCS#1 v1.5 SHA-256 signature over `body` with the
    /// signing certificate's public key.
    pub fn verify_signature(&self, body: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
        let ee = self.end_entity()?;
        ee.verify_signature(
            webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
            body,
            signature,
        )
        .map_err(|_| VerifyError::SignatureInvalid("signature does not match the body"))
    }
}

fn unix_time(now: Timestamp) -> UnixTime {
    let secs = u64::try_from(now.unix_seconds()).unwrap_or(0);
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn map_path_error(error: webpki::Error) -> VerifyError {
    match error {
        webpki::Error::CertExpired { .. } => VerifyError::CertExpired,
        webpki::Error::CertNotValidYet { .. } => VerifyError::CertNotYetValid,
        webpki::Error::UnknownIssuer => VerifyError::CertUntrusted("no path to a trusted root"),
        webpki::Error::RequiredEkuNotFoundContext(_) => {
            VerifyError::CertUntrusted("signing certificate is not for server authentication")
        }
        webpki::Error::CaUsedAsEndEntity => {
            VerifyError::CertUntrusted("signing certificate is a CA certificate")
        }
        webpki::Error::BadDer | webpki::Error::BadDerTime | webpki::Error::TrailingData(_) => {
            VerifyError::CertInvalid("a certificate in the chain does not parse")
        }
        _ => VerifyError::CertUntrusted("chain does not verify"),
    }
}
