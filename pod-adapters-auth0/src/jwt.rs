//! JWT verification with a configured algorithm, and the tenant's JWKS.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use pod_domain::Timestamp;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, RwLock};
use tracing::{debug, warn};

use crate::config::{Auth0Config, TokenAlgorithm};
use crate::http::{Retry, Upstream, UpstreamError};

/// Longer tokens are refused unparsed.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a token did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VerifyError {
    /// The token is not acceptable; the reason is safe to log.
    Invalid(String),
    /// The keys could not be fetched.
    Unavailable(String),
}

#[derive(Default)]
struct JwksState {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Timestamp>,
    /// The last refetch caused by an unknown `kid`.
    last_forced: Option<Timestamp>,
    /// The last failed fetch.
    last_failure: Option<Timestamp>,
}

/// The tenant's signing keys, fetched from `/.well-known/jwks.json`, cached
/// for [`crate::CacheTtls::jwks`], refetched (at most once per
/// [`crate::CacheTtls::jwks_min_refetch`]) when a token names an unknown `kid`.
pub(crate) struct Jwks {
    upstream: Upstream,
    config: Arc<Auth0Config>,
    state: RwLock<JwksState>,
    fetch_gate: Mutex<()>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks").finish_non_exhaustive()
    }
}

enum Lookup {
    Found(DecodingKey),
    Fetch { forced: bool },
    Refuse(VerifyError),
}

impl Jwks {
    pub(crate) fn new(upstream: Upstream, config: Arc<Auth0Config>) -> Self {
        Jwks {
            upstream,
            config,
            state: RwLock::new(JwksState::default()),
            fetch_gate: Mutex::new(()),
        }
    }

    fn lookup(&self, state: &JwksState, kid: &str, now: Timestamp) -> Lookup {
        let ttls = self.config.ttls;
        let within =
            |at: Option<Timestamp>| at.is_some_and(|at| now.since(at) < ttls.jwks_min_refetch);
        let fresh = state.fetched_at.is_some_and(|at| now.since(at) < ttls.jwks);
        let known = state.keys.get(kid);
        let recently_failed = within(state.last_failure);
        match (fresh, known) {
            (true, Some(key)) => Lookup::Found(key.clone()),
            (false, known) if recently_failed => match known {
                Some(key) => Lookup::Found(key.clone()),
                None => Lookup::Refuse(VerifyError::Unavailable("JWKS unavailable".into())),
            },
            (false, _) => Lookup::Fetch { forced: false },
            (true, None) if recently_failed || within(state.last_forced) => {
                Lookup::Refuse(VerifyError::Invalid("unknown signing key id".into()))
            }
            (true, None) => Lookup::Fetch { forced: true },
        }
    }

    /// The key with id `kid`.
    pub(crate) async fn key(&self, kid: &str) -> Result<DecodingKey, VerifyError> {
        if let Some(done) = self.settled(kid, self.config.now()).await {
            return done;
        }
        let _gate = self.fetch_gate.lock().await;
        // Someone else may have fetched while this task waited.
        let now = self.config.now();
        let forced = match self.lookup(&*self.state.read().await, kid, now) {
            Lookup::Found(key) => return Ok(key),
            Lookup::Refuse(e) => return Err(e),
            Lookup::Fetch { forced } => forced,
        };
        let fetched = self.fetch().await;
        let mut state = self.state.write().await;
        if forced {
            state.last_forced = Some(now);
        }
        match fetched {
            Ok(keys) => {
                debug!(keys = keys.len(), forced, "JWKS fetched");
                state.keys = keys;
                state.fetched_at = Some(now);
                state.last_failure = None;
            }
            Err(e) => {
                warn!(error = %e, "JWKS fetch failed");
                state.last_failure = Some(now);
                return match state.keys.get(kid) {
                    Some(key) => Ok(key.clone()),
                    None => Err(VerifyError::Unavailable(format!("JWKS: {e}"))),
                };
            }
        }
        state
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| VerifyError::Invalid("unknown signing key id".into()))
    }

    async fn settled(&self, kid: &str, now: Timestamp) -> Option<Result<DecodingKey, VerifyError>> {
        match self.lookup(&*self.state.read().await, kid, now) {
            Lookup::Found(key) => Some(Ok(key)),
            Lookup::Refuse(e) => Some(Err(e)),
            Lookup::Fetch { .. } => None,
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, UpstreamError> {
        let url = self.config.endpoint(".well-known/jwks.json");
        let reply = self
            .upstream
            .send("jwks", Retry::Safe, |c| c.get(url.clone()))
            .await?;
        if !reply.status.is_success() {
            return Err(UpstreamError::Garbage(reply.summary()));
        }
        let set: JwkSet = reply.json()?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.as_deref() else {
                continue;
            };
            let usable = matches!(jwk.algorithm, AlgorithmParameters::RSA(_))
                && jwk
                    .common
                    .public_key_use
                    .as_ref()
                    .is_none_or(|u| *u == PublicKeyUse::Signature)
                && jwk
                    .common
                    .key_algorithm
                    .is_none_or(|a| a == KeyAlgorithm::RS256);
            if !usable {
                continue;
            }
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid.to_owned(), key);
            }
        }
        Ok(keys)
    }
}

/// Verifies tokens of one kind: fixed algorithm, issuers, audience, leeway.
pub(crate) struct Verifier {
    algorithm: Algorithm,
    secret: Option<DecodingKey>,
    jwks: Arc<Jwks>,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for `algorithm`, accepting `audience` and the configured
    /// issuers; `exp`, `iss`, `aud` and `sub` are required.
    pub(crate) fn new(
        config: &Auth0Config,
        algorithm: &TokenAlgorithm,
        audience: &str,
        jwks: Arc<Jwks>,
    ) -> Self {
        let (alg, secret) = match algorithm {
            TokenAlgorithm::Hs256 { secret } => (
                Algorithm::HS256,
                Some(DecodingKey::from_secret(secret.expose_secret().as_bytes())),
            ),
            TokenAlgorithm::Rs256 => (Algorithm::RS256, None),
        };
        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = config.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_audience(&[audience]);
        validation.set_issuer(&config.issuers());
        Verifier {
            algorithm: alg,
            secret,
            jwks,
            validation,
        }
    }

    /// The verified claims of `token`.
    pub(crate) async fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<T, VerifyError> {
        let token = token.trim();
        if token.is_empty() || token.len() > MAX_TOKEN_LEN || token.split('.').count() != 3 {
            return Err(VerifyError::Invalid("not a signed JWT".into()));
        }
        let header = decode_header(token)
            .map_err(|e| VerifyError::Invalid(format!("bad header: {}", describe(&e))))?;
        if header.alg != self.algorithm {
            return Err(VerifyError::Invalid(format!(
                "algorithm {:?} is not the configured {:?}",
                header.alg, self.algorithm
            )));
        }
        let key = match &self.secret {
            Some(secret) => secret.clone(),
            None => {
                let kid = header
                    .kid
                    .as_deref()
                    .filter(|k| !k.is_empty() && k.len() <= 256)
                    .ok_or_else(|| VerifyError::Invalid("no key id".into()))?;
                self.jwks.key(kid).await?
            }
        };
        decode::<T>(token, &key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| VerifyError::Invalid(describe(&e)))
    }
}

/// A log-safe description of a JWT error (no token content).
fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match error.kind() {
        K::InvalidToken => "malformed token".into(),
        K::InvalidSignature => "bad signature".into(),
        K::MissingRequiredClaim(c) => format!("missing claim {c}"),
        K::InvalidClaimFormat(c) => format!("malformed claim {c}"),
        K::ExpiredSignature => "expired".into(),
        K::InvalidIssuer => "wrong issuer".into(),
        K::InvalidAudience => "wrong audience".into(),
        K::InvalidSubject => "wrong subject".into(),
        K::ImmatureSignature => "not yet valid".into(),
        K::InvalidAlgorithm | K::MissingAlgorithm | K::InvalidAlgorithmName => {
            "algorithm not allowed".into()
        }
        K::Base64(_) => "bad base64".into(),
        K::Json(_) => "bad JSON".into(),
        K::Utf8(_) => "bad UTF-8".into(),
        _ => "unusable token".into(),
    }
}
