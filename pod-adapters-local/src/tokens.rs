//! Locally signed access tokens: the key file, validation and issuing.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::{hmac, rand as lc_rand};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use pod_domain::{CustomerId, Timestamp};
use pod_ports::oauth::GrantId;
use pod_ports::{AccessTokens, Clock, GrantTokens, OAuthStore, TokenError};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::codes::CodeHashKey;

/// The `iss` of every token pod's embedded identity issues and accepts.
pub const LOCAL_ISSUER: &str = "pod-local";

/// The audience used when none is configured (`POD_API_AUDIENCE` unset).
pub const DEFAULT_AUDIENCE: &str = "pod";

/// Bytes of a newly created key.
const NEW_KEY_LEN: usize = 32;
/// The shortest key file accepted.
const MIN_KEY_LEN: usize = 32;
/// The longest key file read.
const MAX_KEY_LEN: usize = 4096;

/// Why the token key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading, creating or writing the key file failed.
    #[error("token key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// The key file exists but holds fewer than 32 or more than 4096 bytes.
    #[error("token key file {path} must hold 32 to 4096 bytes, it holds {len}")]
    BadLength {
        /// The key file.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },
    /// The operating system's random number generator failed.
    #[error("no randomness for a new token key")]
    Random,
}

/// The HS256 secret of the embedded identity, kept in a file in the data
/// folder.
///
/// The file holds the raw key bytes (any content of 32 to 4096 bytes is
/// used as is, so `openssl rand -hex 32 > token.key` also works). A new key
/// is 32 bytes from the operating system's CSPRNG, written to a temporary
/// file with mode 0600 (on Unix) and linked into place only when complete,
/// so a concurrent start never sees a half-written key and two concurrent
/// starts agree on one key. Later starts reuse it, so issued tokens stay
/// valid across restarts. `Debug` never shows the key.
#[derive(Clone)]
pub struct LocalTokenKey {
    bytes: Arc<[u8]>,
}

impl fmt::Debug for LocalTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalTokenKey")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl LocalTokenKey {
    /// Loads the key at `path`, or creates it (and nothing else: the folder
    /// must exist) when there is no file yet.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        match Self::load(path) {
            Ok(key) => return Ok(key),
            Err(KeyError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            Err(other) => return Err(other),
        }
        let mut bytes = [0u8; NEW_KEY_LEN];
        lc_rand::fill(&mut bytes).map_err(|_| KeyError::Random)?;
        match create_exclusive(path, &bytes) {
            Ok(()) => {
                info!(path = %path.display(), "created a new local token key");
                Ok(Self::from_bytes_unchecked(&bytes))
            }
            // Another process won the race: use its key.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Self::load(path),
            Err(source) => Err(KeyError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Loads an existing key file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io_err = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io_err)?;
        warn_if_readable_by_others(path, &file);
        let mut bytes = Vec::new();
        file.take(MAX_KEY_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io_err)?;
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&bytes.len()) {
            return Err(KeyError::BadLength {
                path: path.to_owned(),
                len: bytes.len(),
            });
        }
        debug!(path = %path.display(), "loaded the local token key");
        Ok(Self::from_bytes_unchecked(&bytes))
    }

    /// A key from bytes (for tests and embedders that keep the key
    /// elsewhere); `None` when shorter than 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (bytes.len() >= MIN_KEY_LEN).then(|| Self::from_bytes_unchecked(bytes))
    }

    fn from_bytes_unchecked(bytes: &[u8]) -> Self {
        LocalTokenKey {
            bytes: Arc::from(bytes),
        }
    }

    /// A key for hashing one-time codes, derived from this key
    /// (HMAC-SHA256 of a fixed label), so one secret file serves both and a
    /// code hash never equals anything a token signature could produce.
    pub fn derive_code_hash_key(&self) -> CodeHashKey {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.bytes);
        let tag = hmac::sign(&key, b"pod-local one-time code hash key v1");
        CodeHashKey::new(tag.as_ref())
    }
}

/// Writes `bytes` to a new file at `path` with mode 0600, failing with
/// `AlreadyExists` if the path exists. The content is complete before the
/// name appears.
fn create_exclusive(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let mut suffix = [0u8; 8];
    lc_rand::fill(&mut suffix).map_err(|_| io::Error::other("no randomness"))?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp_name = format!(".{}.{suffix}.tmp", file_name.to_string_lossy());
    let tmp = match dir {
        Some(dir) => dir.join(tmp_name),
        None => PathBuf::from(tmp_name),
    };
    let result = (|| {
        let mut file = private_new_file(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
            // A file system without hard links: fall back to an exclusive
            // create of the final name (not atomic for readers, but never
            // clobbers another start's key).
            Err(_) => {
                let mut file = private_new_file(path)?;
                file.write_all(bytes)?;
                file.sync_all()
            }
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

fn private_new_file(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, file: &std::fs::File) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = file.metadata()
        && meta.permissions().mode() & 0o077 != 0
    {
        warn!(path = %path.display(), mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "the token key file is readable by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path, _file: &std::fs::File) {}

/// How [`LocalAccessTokens`] checks tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTokenConfig {
    /// The `aud` tokens must carry and that [`LocalAccessTokens::issue`]
    /// writes (`POD_API_AUDIENCE`, default [`DEFAULT_AUDIENCE`]).
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf` (default 30 seconds).
    pub leeway: Duration,
}

impl Default for LocalTokenConfig {
    fn default() -> Self {
        LocalTokenConfig {
            audience: DEFAULT_AUDIENCE.to_owned(),
            leeway: Duration::from_secs(30),
        }
    }
}

#[derive(Serialize)]
struct IssuedClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: i64,
    exp: i64,
    /// The OAuth grant the token was issued under (account linking).
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<&'a str>,
}

#[derive(Deserialize)]
struct CheckedClaims {
    sub: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    gid: Option<String>,
}

/// [`AccessTokens`] for pod's own identity: JWTs signed with HS256 under
/// the [`LocalTokenKey`].
///
/// The algorithm is fixed to HS256 and never taken from the token header,
/// so `alg: none` and RS256-headed tokens are rejected before any key is
/// used. A token must carry `iss` = [`LOCAL_ISSUER`], the configured `aud`,
/// a `sub` that is a valid [`CustomerId`], and an `exp` not yet past
/// (checked against the injected [`Clock`], with the configured leeway;
/// `nbf` is honoured when present).
pub struct LocalAccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    config: LocalTokenConfig,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for LocalAccessTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalAccessTokens")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LocalAccessTokens {
    /// Tokens signed and checked with `key`, for `config.audience`, with
    /// expiry judged by `clock`.
    pub fn new(key: &LocalTokenKey, config: LocalTokenConfig, clock: Arc<dyn Clock>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[LOCAL_ISSUER]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        // Time is checked below against the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        LocalAccessTokens {
            encoding: EncodingKey::from_secret(&key.bytes),
            decoding: DecodingKey::from_secret(&key.bytes),
            validation,
            config,
            clock,
        }
    }

    /// A token for `user`, valid from `now` for `ttl` (for
    /// `pod token NAME --ttl 1h`). The whole `ttl` counts in whole seconds,
    /// rounded down; the token is not checked against the user store.
    pub fn issue(&self, user: &CustomerId, ttl: Duration, now: Timestamp) -> String {
        self.issue_claims(user, None, ttl, now)
    }

    fn issue_claims(
        &self,
        user: &CustomerId,
        grant: Option<&str>,
        ttl: Duration,
        now: Timestamp,
    ) -> String {
        let iat = now.unix_seconds();
        let ttl_secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = IssuedClaims {
            iss: LOCAL_ISSUER,
            aud: &self.config.audience,
            sub: user.as_str(),
            iat,
            exp: iat.saturating_add(ttl_secs),
            gid: grant,
        };
        // Serialising plain strings and integers and signing with HMAC
        // cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The customer a valid token names, and the OAuth grant it was issued
    /// under (`None` for tokens of `pod token`).
    pub fn check_with_grant(
        &self,
        token: &str,
    ) -> Result<(CustomerId, Option<GrantId>), TokenError> {
        let (customer, gid) = self.check_claims(token)?;
        let grant = match gid {
            Some(raw) => Some(
                GrantId::parse(raw)
                    .ok_or_else(|| TokenError::Invalid("malformed grant id".into()))?,
            ),
            None => None,
        };
        Ok((customer, grant))
    }

    fn check(&self, token: &str) -> Result<CustomerId, TokenError> {
        self.check_claims(token).map(|(customer, _)| customer)
    }

    fn check_claims(&self, token: &str) -> Result<(CustomerId, Option<String>), TokenError> {
        let data = jsonwebtoken::decode::<CheckedClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| TokenError::Invalid(describe(&e)))?;
        let claims = data.claims;
        let now = self.clock.now().unix_seconds();
        let leeway = i64::try_from(self.config.leeway.as_secs()).unwrap_or(i64::MAX);
        if claims.exp.saturating_add(leeway) <= now {
            return Err(TokenError::Invalid("token expired".into()));
        }
        if let Some(nbf) = claims.nbf
            && nbf > now.saturating_add(leeway)
        {
            return Err(TokenError::Invalid("token not yet valid".into()));
        }
        let customer = CustomerId::parse(claims.sub)
            .map_err(|_| TokenError::Invalid("token subject is not a customer id".into()))?;
        Ok((customer, claims.gid))
    }
}

/// A reason safe to log: the error kind, never the token.
fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => "bad signature".into(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "algorithm is not HS256".into()
        }
        ErrorKind::InvalidIssuer => "wrong issuer".into(),
        ErrorKind::InvalidAudience => "wrong audience".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("missing claim {claim}"),
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => "malformed token".into(),
        _ => "token does not verify".into(),
    }
}

impl GrantTokens for LocalAccessTokens {
    fn issue(
        &self,
        customer: &CustomerId,
        grant: &GrantId,
        ttl: Duration,
        now: Timestamp,
    ) -> String {
        self.issue_claims(customer, Some(grant.as_str()), ttl, now)
    }

    fn grant_of(&self, token: &str) -> Option<GrantId> {
        // The signature, issuer and audience are checked; the time is not
        // (revoking an expired token is harmless).
        let data =
            jsonwebtoken::decode::<CheckedClaims>(token, &self.decoding, &self.validation).ok()?;
        data.claims.gid.and_then(GrantId::parse)
    }
}

/// [`AccessTokens`] for the embedded mode with account linking: a local
/// token issued under an OAuth grant works only while that grant is active
/// (one indexed read of the grant per check), so an unlink, a reused
/// refresh token or the operator ends it at once rather than at its expiry.
/// Tokens without a grant (`pod token NAME`) are checked as
/// [`LocalAccessTokens`] checks them.
pub struct GrantCheckedTokens {
    tokens: Arc<LocalAccessTokens>,
    grants: Arc<dyn OAuthStore>,
}

impl fmt::Debug for GrantCheckedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantCheckedTokens")
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl GrantCheckedTokens {
    /// `tokens`, with grants looked up in `grants`.
    pub fn new(tokens: Arc<LocalAccessTokens>, grants: Arc<dyn OAuthStore>) -> Self {
        GrantCheckedTokens { tokens, grants }
    }
}

#[async_trait]
impl AccessTokens for GrantCheckedTokens {
    async fn customer_for_token(&self, token: &str) -> Result<CustomerId, TokenError> {
        let (customer, grant) = self.tokens.check_with_grant(token).inspect_err(|e| {
            if let TokenError::Invalid(reason) = e {
                debug!(%reason, "local access token rejected");
            }
        })?;
        let Some(grant) = grant else {
            return Ok(customer);
        };
        match self.grants.grant(&grant).await {
            Ok(Some(g)) if g.is_active() && g.customer == customer => Ok(customer),
            Ok(_) => {
                debug!(%grant, "access token of a revoked grant rejected");
                Err(TokenError::Invalid("the token's grant was revoked".into()))
            }
            Err(error) => Err(TokenError::Unavailable(format!("grant store: {error}"))),
        }
    }
}

#[async_trait]
impl AccessTokens for LocalAccessTokens {
    async fn customer_for_token(&self, token: &str) -> Result<CustomerId, TokenError> {
        let result = self.check(token);
        if let Err(TokenError::Invalid(reason)) = &result {
            debug!(%reason, "local access token rejected");
        }
        result
    }
}
