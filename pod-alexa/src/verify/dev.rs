//! Development signing keys: a local CA and an Alexa-like signing
//! certificate, so pod's own conversation simulator (and tests) can send
//! requests that pass full signature verification in [`VerifyMode::Dev`].

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pod_domain::Timestamp;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use super::VerifyMode;
use super::chain::SIGNING_CERT_DNS_NAME;

/// The file holding the development CA certificate (PEM).
pub const DEV_CA_CERT_FILE: &str = "pod-dev-ca-cert.pem";
/// The file holding the signing chain (signing certificate, then the CA), PEM.
pub const DEV_CHAIN_FILE: &str = "pod-dev-signing-cert.pem";
/// The file holding the signing private key (PKCS#8 PEM, mode 0600).
pub const DEV_KEY_FILE: &str = "pod-dev-signing-key.pem";
/// The common name of the development CA.
pub const DEV_CA_NAME: &str = "pod development Alexa CA";

/// Why development keys could not be created or loaded.
#[derive(Debug, thiserror::Error)]
pub enum DevKeysError {
    /// Reading or writing the key folder failed.
    #[error("dev keys: {context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Generating keys or certificates failed.
    #[error("dev keys: generation failed: {0}")]
    Generate(String),
    /// The files exist but do not hold usable keys.
    #[error("dev keys: {0}")]
    Invalid(&'static str),
}

fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> DevKeysError {
    move |source| DevKeysError::Io { context, source }
}

/// A development CA and signing key, kept in a folder.
///
/// Files in the folder: [`DEV_CA_CERT_FILE`] (the CA certificate, the trust
/// anchor of [`VerifyMode::Dev`]), [`DEV_CHAIN_FILE`] (signing certificate
/// then CA certificate, what the chain URL resolves to) and [`DEV_KEY_FILE`]
/// (the signing key, created with mode 0600). The CA's own private key is
/// never written: it signs the signing certificate once and is dropped.
pub struct DevSigningKeys {
    dir: PathBuf,
    chain_url: String,
    ca_cert: CertificateDer<'static>,
    key: RsaKeyPair,
}

impl fmt::Debug for DevSigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevSigningKeys")
            .field("dir", &self.dir)
            .field("chain_url", &self.chain_url)
            .finish_non_exhaustive()
    }
}

impl DevSigningKeys {
    /// Loads the keys from `dir`, creating the folder and the keys on first
    /// use (RSA 2048; certificates valid from the start of last year for ten
    /// years). A folder holding only some of the files is an error rather
    /// than being overwritten.
    pub fn load_or_create(dir: &Path) -> Result<DevSigningKeys, DevKeysError> {
        let files = [DEV_CA_CERT_FILE, DEV_CHAIN_FILE, DEV_KEY_FILE].map(|f| dir.join(f));
        let present = files.iter().filter(|p| p.exists()).count();
        match present {
            0 => Self::create(dir)?,
            3 => {}
            _ => {
                return Err(DevKeysError::Invalid(
                    "key folder holds only some of the dev key files",
                ));
            }
        }
        Self::load(dir)
    }

    fn load(dir: &Path) -> Result<DevSigningKeys, DevKeysError> {
        let ca_pem = std::fs::read(dir.join(DEV_CA_CERT_FILE)).map_err(io("read CA cert"))?;
        let ca_cert = CertificateDer::from_pem_slice(&ca_pem)
            .map_err(|_| DevKeysError::Invalid("CA certificate file is not PEM"))?;
        let key_pem = std::fs::read(dir.join(DEV_KEY_FILE)).map_err(io("read signing key"))?;
        let key_der = PrivatePkcs8KeyDer::from_pem_slice(&key_pem)
            .map_err(|_| DevKeysError::Invalid("signing key file is not PKCS#8 PEM"))?;
        let key = RsaKeyPair::from_pkcs8(key_der.secret_pkcs8_der())
            .map_err(|_| DevKeysError::Invalid("signing key is not an RSA key"))?;
        Ok(DevSigningKeys {
            dir: dir.to_path_buf(),
            chain_url: format!("https://s3.amazonaws.com/echo.api/{DEV_CHAIN_FILE}"),
            ca_cert,
            key,
        })
    }

    fn create(dir: &Path) -> Result<(), DevKeysError> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256,
        };
        let gen_err = |e: rcgen::Error| DevKeysError::Generate(e.to_string());

        std::fs::create_dir_all(dir).map_err(io("create key folder"))?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| Timestamp::from_unix_millis(i64::try_from(d.as_millis()).unwrap_or(0)))
            .unwrap_or(Timestamp::EPOCH);
        let year = i32::try_from(now.year()).unwrap_or(2026);
        let not_before = rcgen::date_time_ymd(year - 1, 1, 1);
        let not_after = rcgen::date_time_ymd(year + 10, 1, 1);

        let ca_key = KeyPair::generate_for(&PKCS_RSA_SHA256).map_err(gen_err)?;
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = rcgen::DistinguishedName::new();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, DEV_CA_NAME);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.not_before = not_before;
        ca_params.not_after = not_after;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(gen_err)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate_for(&PKCS_RSA_SHA256).map_err(gen_err)?;
        let mut params =
            CertificateParams::new(vec![SIGNING_CERT_DNS_NAME.to_string()]).map_err(gen_err)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, SIGNING_CERT_DNS_NAME);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = not_before;
        params.not_after = not_after;
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &issuer).map_err(gen_err)?;

        // The key first, created exclusively with mode 0600.
        write_file(dir, DEV_KEY_FILE, key.serialize_pem().as_bytes(), true)?;
        let chain = format!("{}{}", cert.pem(), ca_cert.pem());
        write_file(dir, DEV_CHAIN_FILE, chain.as_bytes(), false)?;
        // The CA certificate last: its presence marks a complete folder.
        write_file(dir, DEV_CA_CERT_FILE, ca_cert.pem().as_bytes(), false)?;
        Ok(())
    }

    /// The folder the keys live in (also the chain folder for dev mode).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `SignatureCertChainUrl` to send with signed requests:
    /// `https://s3.amazonaws.com/echo.api/pod-dev-signing-cert.pem`.
    pub fn chain_url(&self) -> &str {
        &self.chain_url
    }

    /// The development CA certificate (DER), the only trust anchor in dev mode.
    pub fn ca_cert_der(&self) -> &CertificateDer<'static> {
        &self.ca_cert
    }

    /// The verification mode that trusts these keys and reads chains from
    /// this folder.
    pub fn dev_mode(&self) -> VerifyMode {
        VerifyMode::Dev {
            ca_cert: self.ca_cert.clone(),
            chain_dir: self.dir.clone(),
        }
    }

    /// The base64 `Signature-256` header value for `body`: RSA PKCS#1 v1.5
    /// with SHA-256. Returns an empty string (which never verifies) in the
    /// practically impossible case that the crypto library fails.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut signature = vec![0; self.key.public_modulus_len()];
        match self.key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            body,
            &mut signature,
        ) {
            Ok(()) => STANDARD.encode(signature),
            Err(_) => {
                tracing::error!("dev signing key failed to sign");
                String::new()
            }
        }
    }
}

fn write_file(dir: &Path, name: &str, contents: &[u8], secret: bool) -> Result<(), DevKeysError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options
        .open(dir.join(name))
        .map_err(io("create dev key file"))?;
    file.write_all(contents).map_err(io("write dev key file"))?;
    file.sync_all().map_err(io("sync dev key file"))
}
