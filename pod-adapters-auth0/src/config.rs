//! Settings of the Auth0 adapters.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use pod_domain::Timestamp;
use pod_ports::{Clock, SystemClock};
use secrecy::SecretString;
use url::Url;

/// How tokens of one kind (access tokens or id tokens) are signed. Fixed by
/// configuration: the `alg` in a token's header is only ever compared with
/// it, never used to choose a key.
#[derive(Clone)]
pub enum TokenAlgorithm {
    /// HMAC-SHA256 with a shared secret (the original sample's API signing
    /// secret for access tokens; the client secret for id tokens).
    Hs256 {
        /// The shared secret.
        secret: SecretString,
    },
    /// RSA-SHA256 with the tenant's keys from `/.well-known/jwks.json`.
    Rs256,
}

impl fmt::Debug for TokenAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenAlgorithm::Hs256 { .. } => f.write_str("Hs256 { secret: [REDACTED] }"),
            TokenAlgorithm::Rs256 => f.write_str("Rs256"),
        }
    }
}

/// Time limits for calls to Auth0. Every call must finish well inside
/// Alexa's 8 second window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting to Auth0 (default 1 s).
    pub connect: Duration,
    /// One HTTP request, connect to last byte (default 2 s).
    pub request: Duration,
    /// One operation including its retries and backoff (default 4 s).
    pub budget: Duration,
    /// Retries after the first attempt for 5xx answers and transport
    /// failures (default 2).
    pub retries: u32,
    /// Pause before the first retry, doubled for each further one
    /// (default 100 ms).
    pub backoff: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(1),
            request: Duration::from_secs(2),
            budget: Duration::from_secs(4),
            retries: 2,
            backoff: Duration::from_millis(100),
        }
    }
}

/// How long answers from Auth0 are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTtls {
    /// The tenant's JWKS (default 10 minutes).
    pub jwks: Duration,
    /// The shortest time between two refetches of the JWKS caused by an
    /// unknown `kid` (default 30 s).
    pub jwks_min_refetch: Duration,
    /// A user's contact points and identities (default 60 s).
    pub directory: Duration,
    /// How long before its `expires_in` runs out the Management API token
    /// is replaced (default 5 minutes; half the lifetime when that is
    /// shorter).
    pub management_token_margin: Duration,
}

impl Default for CacheTtls {
    fn default() -> Self {
        CacheTtls {
            jwks: Duration::from_secs(10 * 60),
            jwks_min_refetch: Duration::from_secs(30),
            directory: Duration::from_secs(60),
            management_token_margin: Duration::from_secs(5 * 60),
        }
    }
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The domain is not a bare host name such as `tenant.eu.auth0.com`.
    #[error("AUTH0_DOMAIN must be a host name like tenant.auth0.com, without scheme or path")]
    InvalidDomain,
    /// The base URL override is not an absolute http(s) URL.
    #[error("the Auth0 base URL must be an absolute http or https URL")]
    InvalidBaseUrl,
    /// A required value is empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built: {0}")]
    HttpClient(String),
}

/// Everything the Auth0 adapters need: the tenant, the API, the application
/// and how tokens are signed.
///
/// Build one with [`Auth0Config::new`] and adjust it with the `with_*`
/// methods. `Debug` output never shows secrets.
#[derive(Clone)]
pub struct Auth0Config {
    pub(crate) domain: String,
    pub(crate) base_url: Url,
    pub(crate) api_audience: String,
    pub(crate) access_token_algorithm: TokenAlgorithm,
    pub(crate) custom_issuer: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) id_token_algorithm: TokenAlgorithm,
    pub(crate) leeway: Duration,
    pub(crate) timeouts: Timeouts,
    pub(crate) ttls: CacheTtls,
    pub(crate) clock: Arc<dyn Clock>,
}

impl fmt::Debug for Auth0Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth0Config")
            .field("domain", &self.domain)
            .field("base_url", &self.base_url.as_str())
            .field("api_audience", &self.api_audience)
            .field("access_token_algorithm", &self.access_token_algorithm)
            .field("custom_issuer", &self.custom_issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("id_token_algorithm", &self.id_token_algorithm)
            .field("leeway", &self.leeway)
            .field("timeouts", &self.timeouts)
            .field("ttls", &self.ttls)
            .finish_non_exhaustive()
    }
}

fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

impl Auth0Config {
    /// A configuration for the tenant `domain` (`AUTH0_DOMAIN`, e.g.
    /// `tenant.eu.auth0.com`), the API `api_audience` (`API_ID`), the
    /// application `client_id` / `client_secret` (`APP_CLIENT_ID`,
    /// `APP_CLIENT_SECRET`) and the access-token algorithm (HS256 with
    /// `API_SIGNING_KEY`, or RS256).
    ///
    /// Defaults: base URL `https://{domain}`, id tokens verified with HS256
    /// and the client secret when access tokens are HS256, else RS256; 30 s
    /// leeway; [`Timeouts::default`], [`CacheTtls::default`], the system
    /// clock.
    pub fn new(
        domain: &str,
        api_audience: &str,
        client_id: &str,
        client_secret: SecretString,
        access_token_algorithm: TokenAlgorithm,
    ) -> Result<Self, ConfigError> {
        let domain = domain.trim().trim_end_matches('/').to_ascii_lowercase();
        if !valid_domain(&domain) {
            return Err(ConfigError::InvalidDomain);
        }
        if api_audience.trim().is_empty() {
            return Err(ConfigError::Empty("API_ID"));
        }
        if client_id.trim().is_empty() {
            return Err(ConfigError::Empty("APP_CLIENT_ID"));
        }
        if secrecy::ExposeSecret::expose_secret(&client_secret).is_empty() {
            return Err(ConfigError::Empty("APP_CLIENT_SECRET"));
        }
        if let TokenAlgorithm::Hs256 { secret } = &access_token_algorithm
            && secrecy::ExposeSecret::expose_secret(secret).is_empty()
        {
            return Err(ConfigError::Empty("API_SIGNING_KEY"));
        }
        let base_url =
            Url::parse(&format!("https://{domain}/")).map_err(|_| ConfigError::InvalidDomain)?;
        let id_token_algorithm = match access_token_algorithm {
            TokenAlgorithm::Hs256 { .. } => TokenAlgorithm::Hs256 {
                secret: client_secret.clone(),
            },
            TokenAlgorithm::Rs256 => TokenAlgorithm::Rs256,
        };
        Ok(Auth0Config {
            domain,
            base_url,
            api_audience: api_audience.trim().to_owned(),
            access_token_algorithm,
            custom_issuer: None,
            client_id: client_id.trim().to_owned(),
            client_secret,
            id_token_algorithm,
            leeway: Duration::from_secs(30),
            timeouts: Timeouts::default(),
            ttls: CacheTtls::default(),
            clock: Arc::new(SystemClock),
        })
    }

    /// Sends every request to `base_url` instead of `https://{domain}`
    /// (tests point it at a local fake). Issuers and audiences still use the
    /// domain.
    pub fn with_base_url(mut self, base_url: &str) -> Result<Self, ConfigError> {
        let mut url = Url::parse(base_url).map_err(|_| ConfigError::InvalidBaseUrl)?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(ConfigError::InvalidBaseUrl);
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        self.base_url = url;
        Ok(self)
    }

    /// Also accepts tokens issued by a custom domain (`https://login.example.com/`).
    pub fn with_custom_issuer(mut self, issuer: &str) -> Self {
        let issuer = issuer.trim();
        self.custom_issuer = (!issuer.is_empty()).then(|| {
            if issuer.ends_with('/') {
                issuer.to_owned()
            } else {
                format!("{issuer}/")
            }
        });
        self
    }

    /// How id tokens (OTP grant, web login) are signed: HS256 with the
    /// client secret, or RS256 via the JWKS.
    pub fn with_id_token_algorithm(mut self, algorithm: TokenAlgorithm) -> Self {
        self.id_token_algorithm = algorithm;
        self
    }

    /// Clock skew tolerated for `exp` (default 30 s, at most 5 minutes).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.min(Duration::from_secs(300));
        self
    }

    /// Time limits and retries.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Cache lifetimes.
    pub fn with_cache_ttls(mut self, ttls: CacheTtls) -> Self {
        self.ttls = ttls;
        self
    }

    /// The clock the caches and rate-limit windows read (tests inject one).
    /// Token `exp` checks use the system clock, as tokens carry real times.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The tenant domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The application's client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The issuers tokens may carry: `https://{domain}/` and the custom
    /// domain, if any.
    pub fn issuers(&self) -> Vec<String> {
        let mut issuers = vec![format!("https://{}/", self.domain)];
        issuers.extend(self.custom_issuer.clone());
        issuers
    }

    /// The Management API audience, `https://{domain}/api/v2/`.
    pub fn management_audience(&self) -> String {
        format!("https://{}/api/v2/", self.domain)
    }

    /// `path` (relative, without a leading slash) on the base URL.
    pub(crate) fn endpoint(&self, path: &str) -> Url {
        // Joining a relative path onto a base that ends in '/' cannot fail.
        self.base_url
            .join(path)
            .unwrap_or_else(|_| self.base_url.clone())
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub(crate) fn http_client(&self) -> Result<reqwest::Client, ConfigError> {
        reqwest::Client::builder()
            .connect_timeout(self.timeouts.connect)
            .timeout(self.timeouts.request)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pod/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))
    }
}
