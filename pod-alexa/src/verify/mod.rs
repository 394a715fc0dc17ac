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
//! 4. `request.timestamp` is within the tolerance of `now`, either way
//!    (a skill event, `AlexaSkillEvent.*`, may be up to an hour old:
//!    [`SKILL_EVENT_MAX_AGE`]);
//! 5. the application id is one of the configured skill ids.
//!
//! The body is parsed once, into the typed [`RequestEnvelope`] that steps 4
//! and 5 read; a request that passes comes back as a [`VerifiedRequest`]
//! holding it, so nothing downstream parses the body again.
//!
//! Each failure is a [`VerifyError`] with a stable [`reason`](VerifyError::reason)
//! code and a short message that never contains the body.
//!
//! [`VerifyMode`] picks where trust comes from: Amazon's chains and the
//! public roots ([`VerifyMode::Strict`]), a development CA with chains from a
//! local folder ([`VerifyMode::Dev`]; `DevSigningKeys`, behind the `dev-ca`
//! feature, makes such a CA and signs with it), or no signature checks at
//! all ([`VerifyMode::Off`]).
//!
//! The parts: [`check_chain_url`] (step 1), [`SigningChain`] and
//! [`TrustStore`] (steps 2 and 3), [`ChainSource`] (where chains come
//! from) with [`DirChainSource`] (a local folder) and [`HttpChainSource`]
//! (HTTPS, in `verify/fetch.rs`: the crate's only outbound client), and
//! the bounded chain cache.

mod cache;
mod cert_url;
mod chain;
#[cfg(feature = "dev-ca")]
mod dev;
mod fetch;
mod iso8601;
mod source;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pod_domain::Timestamp;
use rustls_pki_types::CertificateDer;
use serde::Deserialize;
use url::Url;

use crate::envelope::RequestEnvelope;
use cache::ChainCache;
pub use cert_url::{CHAIN_HOST, CHAIN_PATH_PREFIX, check_chain_url};
pub use chain::{MAX_CHAIN_BYTES, SIGNING_CERT_DNS_NAME, SigningChain, TrustStore};
#[cfg(feature = "dev-ca")]
pub use dev::{
    DEV_CA_CERT_FILE, DEV_CA_NAME, DEV_CHAIN_FILE, DEV_KEY_FILE, DevKeysError, DevSigningKeys,
};
pub use fetch::{DEFAULT_FETCH_TIMEOUT, HttpChainSource};
pub use iso8601::{format_iso8601, parse_iso8601};
pub use source::{ChainSource, DirChainSource, FetchError};

/// The header naming the signing-certificate chain URL.
pub const CHAIN_URL_HEADER: &str = "signaturecertchainurl";
/// The header carrying the base64 RSA SHA-256 signature.
pub const SIGNATURE_256_HEADER: &str = "signature-256";
/// The default (and largest allowed) timestamp tolerance: 150 seconds.
pub const MAX_TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(150);
/// How old a skill event's timestamp may be: one hour. Alexa delivers skill
/// events (`AlexaSkillEvent.SkillEnabled`, `SkillDisabled`,
/// `SkillAccountLinked`, `SkillPermissionAccepted`, `SkillPermissionChanged`)
/// asynchronously and may retry them, so their `timestamp` can be up to an
/// hour old when they arrive (Amazon, "Use Skill Events", section "Delivery
/// of events to the skill":
/// <https://developer.amazon.com/docs/smapi/skill-events-in-alexa-skills.html#delivery-of-events-to-the-skill>;
/// Amazon's own ASK SDK verifiers allow 3,600,000 ms for that reason as their
/// `MAX_TIMESTAMP_TOLERANCE_IN_MILLIS`). Only those typed event requests get
/// it; every other request keeps the configured tolerance (at most 150 s),
/// and a timestamp in the future never gets more than that either.
pub const SKILL_EVENT_MAX_AGE: Duration = Duration::from_secs(3600);
/// The default number of chains kept in the cache.
pub const DEFAULT_CACHE_CAPACITY: usize = 64;

/// Why a request was rejected. [`reason`](Self::reason) gives a stable
/// short code for logs and metrics; `Display` a short human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// The body is JSON with a valid timestamp and skill id, but not a
    /// request envelope pod understands (no `request.type`, a field of the
    /// wrong type, ...). Its reason is `body_invalid` too.
    #[error("not an Alexa request envelope")]
    Envelope,
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
            VerifyError::BodyInvalid(_) | VerifyError::Envelope => "body_invalid",
            VerifyError::Timestamp(_) => "timestamp",
            VerifyError::SkillId => "skill_id",
        }
    }

    /// A fixed sentence for the caller, one per [`VerifyError::reason`]. The
    /// error's own text (`Display`) can carry an HTTP client's or a parser's
    /// words: it is for the log only.
    pub fn public_message(&self) -> &'static str {
        match self.reason() {
            "cert_url" => "the SignatureCertChainUrl is not one Amazon uses",
            "cert_fetch" => "the signing certificate chain could not be fetched",
            "cert_invalid" => "the signing certificate chain is not valid",
            "cert_expired" => "the signing certificate has expired",
            "cert_not_yet_valid" => "the signing certificate is not valid yet",
            "cert_san" => "the signing certificate is not for echo-api.amazon.com",
            "cert_untrusted" => "the signing certificate chain is not trusted",
            "signature_missing" => "the Signature-256 header is missing",
            "signature_invalid" => "the signature does not match the body",
            "body_invalid" => "not an Alexa request envelope",
            "timestamp" => "the request timestamp is missing or too far from now",
            _ => "the request is not for this skill",
        }
    }
}

/// Why a [`VerifierConfig`] was refused.
#[derive(Debug, thiserror::Error)]
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
    /// Timeout of the default HTTPS fetcher ([`HttpChainSource`]).
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

/// A request that passed every check: its envelope, parsed once from the
/// verified bytes.
#[derive(Debug, Clone)]
pub struct VerifiedRequest {
    envelope: RequestEnvelope,
    signature_checked: bool,
}

impl VerifiedRequest {
    /// The request envelope.
    pub fn envelope(&self) -> &RequestEnvelope {
        &self.envelope
    }

    /// The request envelope, owned.
    pub fn into_envelope(self) -> RequestEnvelope {
        self.envelope
    }

    /// Whether the signature was checked: `false` only in [`VerifyMode::Off`].
    pub fn signature_checked(&self) -> bool {
        self.signature_checked
    }
}

/// What a lenient read of a body that is not a [`RequestEnvelope`] still
/// finds: the timestamp and the application ids, each optional. Used only
/// on that failure path, so the answer names the first check the body fails
/// (bad JSON, timestamp, skill id) before saying its shape is wrong.
#[derive(Deserialize)]
struct Outline {
    request: Option<OutlineRequest>,
    context: Option<OutlineContext>,
    session: Option<OutlineSession>,
}

#[derive(Deserialize)]
struct OutlineRequest {
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct OutlineContext {
    #[serde(rename = "System")]
    system: Option<OutlineSession>,
}

#[derive(Deserialize)]
struct OutlineSession {
    application: Option<OutlineApplication>,
}

#[derive(Deserialize)]
struct OutlineApplication {
    #[serde(rename = "applicationId")]
    application_id: Option<String>,
}

impl Outline {
    fn application_id(&self) -> Option<&str> {
        fn id(session: &OutlineSession) -> Option<&str> {
            session
                .application
                .as_ref()
                .and_then(|a| a.application_id.as_deref())
        }
        self.context
            .as_ref()
            .and_then(|c| c.system.as_ref())
            .and_then(id)
            .or_else(|| self.session.as_ref().and_then(id))
    }
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
                        HttpChainSource::new(config.fetch_timeout).map_err(ConfigError::Fetcher)?,
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

    /// Runs all checks on a request (headers and raw body bytes) at `now`,
    /// and returns the request with its envelope.
    pub async fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> Result<VerifiedRequest, VerifyError> {
        let signature_checked = match &self.signature {
            Some(check) => {
                self.verify_signature(check, headers, body, now).await?;
                true
            }
            None => {
                tracing::warn!(
                    "Alexa request signature verification is OFF: accepting an unverified request"
                );
                false
            }
        };
        let envelope = self.verify_body(body, now)?;
        Ok(VerifiedRequest {
            envelope,
            signature_checked,
        })
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

        // 2. The chain, cached by normalised URL, validated on every use; a
        // cached chain that has expired is fetched again (Amazon rotates
        // them), never served.
        let chain = match check.cache.get(url.as_str()) {
            Some(chain) => match chain.validate(&check.trust, now) {
                Ok(()) => chain,
                Err(VerifyError::CertExpired) => {
                    let fresh = Self::fetch_chain(check, &url, Some(&chain)).await?;
                    fresh.validate(&check.trust, now)?;
                    fresh
                }
                Err(error) => return Err(error),
            },
            None => {
                let chain = Self::fetch_chain(check, &url, None).await?;
                chain.validate(&check.trust, now)?;
                chain
            }
        };

        // 3. The signature over the exact body bytes.
        let signature = STANDARD
            .decode(raw_signature.as_bytes().trim_ascii())
            .map_err(|_| VerifyError::SignatureInvalid("Signature-256 is not base64"))?;
        chain.verify_signature(body, &signature)
    }

    /// Downloads the chain at `url` into the cache, one download per URL at
    /// a time: a caller that waited behind another's download takes its
    /// result instead of fetching again (unless that is still `stale`, the
    /// entry this caller found expired).
    async fn fetch_chain(
        check: &SignatureCheck,
        url: &Url,
        stale: Option<&Arc<SigningChain>>,
    ) -> Result<Arc<SigningChain>, VerifyError> {
        let key = url.as_str();
        let gate = check.cache.fetch_gate(key);
        let result = {
            let _turn = gate.lock().await;
            match check.cache.get(key) {
                Some(chain) if !stale.is_some_and(|stale| Arc::ptr_eq(stale, &chain)) => Ok(chain),
                _ => match check.source.fetch(url).await {
                    Ok(pem) => SigningChain::from_pem(&pem).map(|chain| {
                        let chain = Arc::new(chain);
                        check.cache.insert(key.to_owned(), Arc::clone(&chain));
                        chain
                    }),
                    Err(error) => Err(VerifyError::CertFetch(error)),
                },
            }
        };
        check.cache.release_gate(key, &gate);
        result
    }

    /// Steps 4 and 5 on the envelope parsed from `body`.
    fn verify_body(&self, body: &[u8], now: Timestamp) -> Result<RequestEnvelope, VerifyError> {
        match serde_json::from_slice::<RequestEnvelope>(body) {
            Ok(envelope) => {
                // Skill events may arrive up to an hour late (see
                // SKILL_EVENT_MAX_AGE); nothing else may.
                let max_age = if envelope.request.is_skill_event() {
                    SKILL_EVENT_MAX_AGE
                } else {
                    self.tolerance
                };
                self.check_timestamp_within(Some(envelope.request.timestamp()), now, max_age)?;
                self.check_skill_id(envelope.application_id())?;
                Ok(envelope)
            }
            Err(_) => {
                // Not an envelope: the error names the first check a lenient
                // read fails, as if the body had been one.
                let outline: Outline = serde_json::from_slice(body)
                    .map_err(|_| VerifyError::BodyInvalid("not a JSON Alexa request"))?;
                let timestamp = outline
                    .request
                    .as_ref()
                    .and_then(|r| r.timestamp.as_deref());
                self.check_timestamp(timestamp, now)?;
                self.check_skill_id(outline.application_id())?;
                Err(VerifyError::Envelope)
            }
        }
    }

    /// Step 4: `request.timestamp` is within the tolerance of `now`.
    fn check_timestamp(&self, raw: Option<&str>, now: Timestamp) -> Result<(), VerifyError> {
        self.check_timestamp_within(raw, now, self.tolerance)
    }

    /// Step 4 with `max_age` for a timestamp in the past (the tolerance, or
    /// [`SKILL_EVENT_MAX_AGE`] for a skill event); one in the future gets
    /// the tolerance.
    fn check_timestamp_within(
        &self,
        raw: Option<&str>,
        now: Timestamp,
        max_age: Duration,
    ) -> Result<(), VerifyError> {
        let raw = raw.ok_or(VerifyError::Timestamp("missing request.timestamp"))?;
        let at = parse_iso8601(raw).ok_or(VerifyError::Timestamp("not an ISO 8601 time"))?;
        if at < now && now.since(at) > max_age {
            return Err(VerifyError::Timestamp("too old"));
        }
        if at > now && at.since(now) > self.tolerance {
            return Err(VerifyError::Timestamp("too far in the future"));
        }
        Ok(())
    }

    /// Step 5: the application id is one of the skill ids (any, when none
    /// is configured).
    fn check_skill_id(&self, id: Option<&str>) -> Result<(), VerifyError> {
        if self.skill_ids.is_empty() {
            return Ok(());
        }
        match id {
            Some(id) if self.skill_ids.iter().any(|s| s == id) => Ok(()),
            _ => Err(VerifyError::SkillId),
        }
    }
}

/// The value of a header that must appear exactly once.
fn single_header<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h http::HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_fixed_public_message() {
        let errors = [
            VerifyError::CertUrl("inner detail"),
            VerifyError::CertInvalid("inner detail"),
            VerifyError::CertExpired,
            VerifyError::CertNotYetValid,
            VerifyError::CertSan,
            VerifyError::CertUntrusted("inner detail"),
            VerifyError::SignatureMissing,
            VerifyError::SignatureInvalid("inner detail"),
            VerifyError::BodyInvalid("inner detail"),
            VerifyError::Timestamp("inner detail"),
            VerifyError::SkillId,
        ];
        let messages: std::collections::BTreeSet<&str> =
            errors.iter().map(VerifyError::public_message).collect();
        assert_eq!(messages.len(), errors.len(), "one message per reason");
        for error in &errors {
            assert!(!error.public_message().contains("inner detail"), "{error}");
        }
    }
}
