//! Signing-certificate chains: parsing, validation, signature checks, where
//! chains come from ([`ChainSource`]) and the bounded cache.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pod_domain::Timestamp;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use url::Url;
use webpki::{EndEntityCert, KeyUsage};

use super::VerifyError;
use super::cert_url::CHAIN_PATH_PREFIX;

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

/// Why a chain could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The request took longer than the configured timeout.
    #[error("timed out")]
    Timeout,
    /// The server answered with a status other than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The answer was larger than the limit.
    #[error("chain file too large")]
    TooLarge,
    /// The chain is not available from this source (e.g. no such local file).
    #[error("not found")]
    NotFound,
    /// Anything else (connection refused, TLS failure, IO error ...).
    #[error("{0}")]
    Other(String),
}

/// Where signing-certificate chains come from. Object safe, so a verifier
/// holds an `Arc<dyn ChainSource>`; tests plug in fakes that count fetches.
#[async_trait]
pub trait ChainSource: Send + Sync + fmt::Debug {
    /// The PEM bytes of the chain at `url` (already checked and normalised
    /// by [`check_chain_url`](super::check_chain_url)).
    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, FetchError>;
}

/// The default [`ChainSource`]: an HTTPS GET with `reqwest`, a timeout, no
/// redirects and a size limit.
#[derive(Debug, Clone)]
pub struct ReqwestChainSource {
    client: reqwest::Client,
    base: Option<Url>,
}

/// The default fetch timeout: Alexa waits 8 s for the whole answer.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(2);

impl ReqwestChainSource {
    /// A fetcher for the real chain URLs (HTTPS only).
    pub fn new(timeout: Duration) -> Result<Self, FetchError> {
        Ok(ReqwestChainSource {
            client: build_client(timeout, true)?,
            base: None,
        })
    }

    /// A fetcher that keeps each chain URL's path (and query) but sends the
    /// request to `base` instead (scheme, host and port taken from `base`;
    /// plain `http` allowed). Meant for tests against a local server and for
    /// mirrors.
    pub fn with_base_url(base: Url, timeout: Duration) -> Result<Self, FetchError> {
        Ok(ReqwestChainSource {
            client: build_client(timeout, false)?,
            base: Some(base),
        })
    }

    fn target(&self, url: &Url) -> Url {
        match &self.base {
            None => url.clone(),
            Some(base) => {
                let mut target = base.clone();
                target.set_path(url.path());
                target.set_query(url.query());
                target
            }
        }
    }
}

fn build_client(timeout: Duration, https_only: bool) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .https_only(https_only)
        .build()
        .map_err(|e| FetchError::Other(format!("cannot build HTTP client: {e}")))
}

#[async_trait]
impl ChainSource for ReqwestChainSource {
    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let map = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout
            } else {
                FetchError::Other(format!("request failed: {}", e.without_url()))
            }
        };
        let mut response = self
            .client
            .get(self.target(url))
            .send()
            .await
            .map_err(map)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(FetchError::Status(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_CHAIN_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(map)? {
            if body.len() + chunk.len() > MAX_CHAIN_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// A [`ChainSource`] for development: a chain URL
/// `https://s3.amazonaws.com/echo.api/NAME` is read from the file `NAME` in
/// a local folder. `NAME` must be a plain file name (letters, digits, `.`,
/// `_`, `-`, not starting with `.`); nothing else is ever read.
#[derive(Debug, Clone)]
pub struct DirChainSource {
    dir: PathBuf,
}

impl DirChainSource {
    /// Serves chains from the files in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirChainSource { dir: dir.into() }
    }

    /// The file name a chain URL maps to, if it is acceptable.
    pub fn file_name(url: &Url) -> Option<&str> {
        let name = url.path().strip_prefix(CHAIN_PATH_PREFIX)?;
        let plain = !name.is_empty()
            && name.len() <= 128
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        plain.then_some(name)
    }
}

#[async_trait]
impl ChainSource for DirChainSource {
    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let name = Self::file_name(url).ok_or(FetchError::NotFound)?;
        let path = self.dir.join(name);
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() && meta.len() <= MAX_CHAIN_BYTES as u64 => {}
            Ok(meta) if meta.is_file() => return Err(FetchError::TooLarge),
            Ok(_) => return Err(FetchError::NotFound),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FetchError::NotFound);
            }
            Err(e) => return Err(FetchError::Other(format!("cannot read chain file: {e}"))),
        }
        tokio::fs::read(&path)
            .await
            .map_err(|e| FetchError::Other(format!("cannot read chain file: {e}")))
    }
}

/// A bounded map from chain URL to parsed chain; when full, the least
/// recently used entry goes. Entries are re-validated on every use, so a
/// cached chain that has expired is still rejected.
#[derive(Debug)]
pub(crate) struct ChainCache {
    capacity: usize,
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    tick: u64,
    entries: HashMap<String, (u64, Arc<SigningChain>)>,
}

impl ChainCache {
    pub(crate) fn new(capacity: usize) -> Self {
        ChainCache {
            capacity,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        // The map stays consistent even if a holder panicked.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<SigningChain>> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        inner.entries.get_mut(key).map(|(used, chain)| {
            *used = tick;
            Arc::clone(chain)
        })
    }

    pub(crate) fn insert(&self, key: String, chain: Arc<SigningChain>) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if !inner.entries.contains_key(&key) && inner.entries.len() >= self.capacity {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.entries.remove(&oldest);
            }
        }
        inner.entries.insert(key, (tick, chain));
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }
}
