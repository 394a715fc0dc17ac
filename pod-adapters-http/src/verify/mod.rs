//! Alexa request verification.
//!
//! Every request Alexa sends to a skill's web service carries a signature
//! over the exact body bytes, made with a certificate Amazon publishes under
//! `https://s3.amazonaws.com/echo.api/`. [`RequestVerifier::verify`] runs the
//! checks Amazon's "Host a custom skill as a web service" documentation asks
//! for, on the raw body, in this order:
//!
//! 1. the `SignatureCertChainUrl` header is a well-formed Amazon chain URL
//!    ([`check_chain_url`]), and a `Signature-256` header is present (both
//!    checked before anything is fetched);
//! 2. the PEM chain is fetched (or taken from the bounded cache) and, on
//!    every use, checked at `now`: validity window, chain of trust to a
//!    trusted root, DNS SAN `echo-api.amazon.com` ([`SigningChain::validate`]);
//! 3. `Signature-256` is an RSA PKCS#1 v1.5 SHA-256 signature over the body
//!    (the legacy SHA-1 `Signature` header is never accepted);
//! 4. `request.timestamp` is within the tolerance of `now`, either way;
//! 5. the application id is one of the configured skill ids.
//!
//! Each failure is a [`VerifyError`] with a stable [`reason`](VerifyError::reason)
//! code and a short message that never contains the body.
//!
//! [`VerifyMode`] picks where trust comes from: Amazon's chains and the
//! public roots ([`VerifyMode::Strict`]), a development CA with chains from a
//! local folder ([`VerifyMode::Dev`], see [`DevSigningKeys`]), or no
//! signature checks at all ([`VerifyMode::Off`]).

mod cert_url;
mod chain;
mod dev;
mod iso8601;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pod_domain::Timestamp;
use rustls_pki_types::CertificateDer;
use serde::Deserialize;

pub use cert_url::{CHAIN_HOST, CHAIN_PATH_PREFIX, check_chain_url};
pub use chain::{
    ChainSource, DEFAULT_FETCH_TIMEOUT, DirChainSource, FetchError, MAX_CHAIN_BYTES,
    ReqwestChainSource, SIGNING_CERT_DNS_NAME, SigningChain, TrustStore,
};
pub use dev::{
    DEV_CA_CERT_FILE, DEV_CA_NAME, DEV_CHAIN_FILE, DEV_KEY_FILE, DevKeysError, DevSigningKeys,
};
pub use iso8601::{format_iso8601, parse_iso8601};

use chain::ChainCache;

/// The header naming the signing-certificate chain URL.
pub const CHAIN_URL_HEADER: &str = "signaturecertchainurl";
/// The header carrying the base64 RSA SHA-256 signature.
pub const SIGNATURE_256_HEADER: &str = "signature-256";
/// The default (and largest allowed) timestamp tolerance: 150 seconds.
pub const MAX_TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(150);
/// The default number of chains kept in the cache.
pub const DEFAULT_CACHE_CAPACITY: usize = 64;

/// Why a request was rejected. [`reason`](Self::reason) gives a stable
/// short code for logs and metrics; `Display` a short human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// `SignatureCertChainUrl` is missing or not an Amazon chain URL.
    #[error("bad SignatureCertChainUrl: {0}")]
    CertUrl(&'static str),
    /// The chain could not be fetched.
    #[error("cannot fetch signing certificate chain: {0}")]
    CertFetch(FetchError),
    /// The chain does not parse.
    #[error("invalid signing certificate chain: {0}")]
    CertInvalid(&'static str),
    /// A certificate on the path is past its not-after date at `now`.
    #[error("signing certificate chain has expired")]
    CertExpired,
    /// A certificate on the path is before its not-before date at `now`.
    #[error("signing certificate chain is not yet valid")]
    CertNotYetValid,
    /// The signing certificate does not name `echo-api.amazon.com`.
    #[error("signing certificate is not for echo-api.amazon.com")]
    CertSan,
    /// The chain does not lead to a trusted root.
    #[error("signing certificate is not trusted: {0}")]
    CertUntrusted(&'static str),
    /// No `Signature-256` header (a legacy SHA-1 `Signature` alone counts as missing).
    #[error("missing Signature-256 header")]
    SignatureMissing,
    /// The signature is not base64 or does not match the body.
    #[error("invalid signature: {0}")]
    SignatureInvalid(&'static str),
    /// The body is not a JSON Alexa request.
    #[error("invalid request body: {0}")]
    BodyInvalid(&'static str),
    /// `request.timestamp` is missing, malformed or too far from now.
    #[error("request timestamp rejected: {0}")]
    Timestamp(&'static str),
    /// The application id is not one of the configured skill ids.
    #[error("request is for another skill")]
    SkillId,
}

impl VerifyError {
    /// A stable short code: `cert_url`, `cert_fetch`, `cert_invalid`,
    /// `cert_expired`, `cert_not_yet_valid`, `cert_san`, `cert_untrusted`,
    /// `signature_missing`, `signature_invalid`, `body_invalid`,
    /// `timestamp` or `skill_id`.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::CertUrl(_) => "cert_url",
            VerifyError::CertFetch(_) => "cert_fetch",
            VerifyError::CertInvalid(_) => "cert_invalid",
            VerifyError::CertExpired => "cert_expired",
            VerifyError::CertNotYetValid => "cert_not_yet_valid",
            VerifyError::CertSan => "cert_san",
            VerifyError::CertUntrusted(_) => "cert_untrusted",
            VerifyError::SignatureMissing => "signature_missing",
            VerifyError::SignatureInvalid(_) => "signature_invalid",
            VerifyError::BodyInvalid(_) => "body_invalid",
            VerifyError::Timestamp(_) => "timestamp",
            VerifyError::SkillId => "skill_id",
        }
    }
}

/// Why a [`VerifierConfig`] was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The timestamp tolerance is above [`MAX_TIMESTAMP_TOLERANCE`].
    #[error("timestamp tolerance {0:?} is above the 150 s Amazon allows")]
    ToleranceTooLarge(Duration),
    /// The development CA certificate is not usable as a trust anchor.
    #[error("development CA certificate is not a valid trust anchor")]
    DevCa,
    /// The HTTP client for fetching chains could not be built.
    #[error("cannot build the chain fetcher: {0}")]
    Fetcher(FetchError),
}

/// Where trust comes from.
#[derive(Clone)]
pub enum VerifyMode {
    /// Production: chains from Amazon over HTTPS, trusted through the public
    /// web PKI roots (`webpki_roots`).
    Strict,
    /// Development: only `ca_cert` is trusted, and chain URLs under
    /// `https://s3.amazonaws.com/echo.api/` are read from files in
    /// `chain_dir` (see [`DirChainSource`]) instead of the network.
    Dev {
        /// The development CA certificate (DER).
        ca_cert: CertificateDer<'static>,
        /// The folder holding the chain files.
        chain_dir: PathBuf,
    },
    /// No signature checks (steps 1 to 3); every request logs a warning.
    /// The timestamp and skill id are still checked.
    Off,
}

impl fmt::Debug for VerifyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyMode::Strict => f.write_str("Strict"),
            VerifyMode::Dev { chain_dir, .. } => f
                .debug_struct("Dev")
                .field("chain_dir", chain_dir)
                .finish_non_exhaustive(),
            VerifyMode::Off => f.write_str("Off"),
        }
    }
}

/// Settings for a [`RequestVerifier`].
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Where trust comes from.
    pub mode: VerifyMode,
    /// Accepted application ids. Empty means the id is not checked; the
    /// caller decides when that is allowed.
    pub skill_ids: Vec<String>,
    /// How far `request.timestamp` may be from `now`, either way. At most
    /// [`MAX_TIMESTAMP_TOLERANCE`] (150 s, the default).
    pub timestamp_tolerance: Duration,
    /// How many chains the cache keeps (0 disables caching).
    pub cache_capacity: usize,
    /// Timeout of the default HTTPS fetcher.
    pub fetch_timeout: Duration,
    /// Replaces the default chain source (HTTPS in strict mode, the chain
    /// folder in dev mode), e.g. with a fake in tests.
    pub chain_source: Option<Arc<dyn ChainSource>>,
}

impl VerifierConfig {
    /// Defaults for `mode`: no skill ids, 150 s tolerance, 64 cached chains,
    /// 2 s fetch timeout, the mode's own chain source.
    pub fn new(mode: VerifyMode) -> Self {
        VerifierConfig {
            mode,
            skill_ids: Vec::new(),
            timestamp_tolerance: MAX_TIMESTAMP_TOLERANCE,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            chain_source: None,
        }
    }
}

#[derive(Debug)]
struct SignatureCheck {
    trust: TrustStore,
    source: Arc<dyn ChainSource>,
    cache: ChainCache,
}

/// Verifies that requests come from Alexa. Cheap to share behind an `Arc`;
/// `verify` takes `&self`.
#[derive(Debug)]
pub struct RequestVerifier {
    signature: Option<SignatureCheck>,
    skill_ids: Vec<String>,
    tolerance: Duration,
}

#[derive(Deserialize)]
struct Envelope {
    request: Option<RequestPart>,
    context: Option<ContextPart>,
    session: Option<SessionPart>,
}

#[derive(Deserialize)]
struct RequestPart {
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct ContextPart {
    #[serde(rename = "System")]
    system: Option<SessionPart>,
}

#[derive(Deserialize)]
struct SessionPart {
    application: Option<Application>,
}

#[derive(Deserialize)]
struct Application {
    #[serde(rename = "applicationId")]
    application_id: Option<String>,
}

impl RequestVerifier {
    /// A verifier for `config`. Fails if the tolerance is above 150 s, the
    /// dev CA is unusable, or the HTTP client cannot be built.
    pub fn new(config: VerifierConfig) -> Result<Self, ConfigError> {
        if config.timestamp_tolerance > MAX_TIMESTAMP_TOLERANCE {
            return Err(ConfigError::ToleranceTooLarge(config.timestamp_tolerance));
        }
        let signature = match config.mode {
            VerifyMode::Off => None,
            VerifyMode::Strict => {
                let source = match config.chain_source {
                    Some(source) => source,
                    None => Arc::new(
                        ReqwestChainSource::new(config.fetch_timeout)
                            .map_err(ConfigError::Fetcher)?,
                    ),
                };
                Some(SignatureCheck {
                    trust: TrustStore::public_roots(),
                    source,
                    cache: ChainCache::new(config.cache_capacity),
                })
            }
            VerifyMode::Dev { ca_cert, chain_dir } => {
                let trust = TrustStore::from_ca_der(&ca_cert).map_err(|_| ConfigError::DevCa)?;
                let source = config
                    .chain_source
                    .unwrap_or_else(|| Arc::new(DirChainSource::new(chain_dir)));
                Some(SignatureCheck {
                    trust,
                    source,
                    cache: ChainCache::new(config.cache_capacity),
                })
            }
        };
        Ok(RequestVerifier {
            signature,
            skill_ids: config.skill_ids,
            tolerance: config.timestamp_tolerance,
        })
    }

    /// Runs all checks on a request (headers and raw body bytes) at `now`.
    pub async fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> Result<(), VerifyError> {
        match &self.signature {
            Some(check) => self.verify_signature(check, headers, body, now).await?,
            None => tracing::warn!(
                "Alexa request signature verification is OFF: accepting an unverified request"
            ),
        }
        self.verify_body(body, now)
    }

    /// Validates a PEM chain at `now` against this verifier's trust store
    /// (validity, SAN, chain of trust), without a request or signature.
    /// In [`VerifyMode::Off`] there is no trust store and this fails with
    /// `cert_untrusted`.
    pub fn validate_chain(&self, pem: &[u8], now: Timestamp) -> Result<(), VerifyError> {
        let check = self
            .signature
            .as_ref()
            .ok_or(VerifyError::CertUntrusted("signature checks are off"))?;
        SigningChain::from_pem(pem)?.validate(&check.trust, now)
    }

    /// How many chains are cached now.
    pub fn cached_chains(&self) -> usize {
        self.signature.as_ref().map_or(0, |c| c.cache.len())
    }

    async fn verify_signature(
        &self,
        check: &SignatureCheck,
        headers: &http::HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> Result<(), VerifyError> {
        // 1. The chain URL and the presence of the signature, before any fetch.
        let raw_url = single_header(headers, CHAIN_URL_HEADER)
            .ok_or(VerifyError::CertUrl(
                "missing or repeated SignatureCertChainUrl header",
            ))?
            .to_str()
            .map_err(|_| VerifyError::CertUrl("header is not visible ASCII"))?;
        let url = check_chain_url(raw_url)?;
        let raw_signature =
            single_header(headers, SIGNATURE_256_HEADER).ok_or(VerifyError::SignatureMissing)?;

        // 2. The chain, cached by normalised URL, validated on every use.
        let key = url.as_str();
        let chain = match check.cache.get(key) {
            Some(chain) => chain,
            None => {
                let pem = check
                    .source
                    .fetch(&url)
                    .await
                    .map_err(VerifyError::CertFetch)?;
                let chain = Arc::new(SigningChain::from_pem(&pem)?);
                check.cache.insert(key.to_owned(), Arc::clone(&chain));
                chain
            }
        };
        chain.validate(&check.trust, now)?;

        // 3. The signature over the exact body bytes.
        let signature = STANDARD
            .decode(raw_signature.as_bytes().trim_ascii())
            .map_err(|_| VerifyError::SignatureInvalid("Signature-256 is not base64"))?;
        chain.verify_signature(body, &signature)
    }

    fn verify_body(&self, body: &[u8], now: Timestamp) -> Result<(), VerifyError> {
        let envelope: Envelope = serde_json::from_slice(body)
            .map_err(|_| VerifyError::BodyInvalid("not a JSON Alexa request"))?;

        // 4. The timestamp.
        let raw = envelope
            .request
            .and_then(|r| r.timestamp)
            .ok_or(VerifyError::Timestamp("missing request.timestamp"))?;
        let at = parse_iso8601(&raw).ok_or(VerifyError::Timestamp("not an ISO 8601 time"))?;
        let skew = now.since(at).max(at.since(now));
        if skew > self.tolerance {
            return Err(VerifyError::Timestamp(if at < now {
                "too old"
            } else {
                "too far in the future"
            }));
        }

        // 5. The skill id.
        if self.skill_ids.is_empty() {
            return Ok(());
        }
        let id = envelope
            .context
            .and_then(|c| c.system)
            .and_then(|s| s.application)
            .and_then(|a| a.application_id)
            .or_else(|| {
                envelope
                    .session
                    .and_then(|s| s.application)
                    .and_then(|a| a.application_id)
            })
            .ok_or(VerifyError::SkillId)?;
        if self.skill_ids.contains(&id) {
            Ok(())
        } else {
            Err(VerifyError::SkillId)
        }
    }
}

/// The value of a header that must appear exactly once.
fn single_header<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h http::HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}
