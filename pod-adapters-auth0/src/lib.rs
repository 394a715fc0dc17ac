//! Auth0 adapters for pod.
//!
//! - [`Auth0AccessTokens`] ([`pod_ports::AccessTokens`]): the access tokens
//!   account linking gave Alexa, HS256 with the API signing secret or RS256
//!   with the tenant's JWKS; the algorithm comes from configuration, never
//!   from the token.
//! - [`Auth0Directory`] ([`pod_ports::CustomerDirectory`]): contact points
//!   and passwordless identities through the Management API, with a cached
//!   client-credentials token refreshed once for all concurrent callers.
//! - [`Auth0Codes`] ([`pod_ports::OneTimeCodes`]): `POST /passwordless/start`
//!   and the passwordless OTP grant, with the id token verified.
//! - [`Auth0Oidc`]: the web app's login (authorization code, PKCE, state,
//!   nonce) and logout; also the [`pod_ports::WebLogin`] port.
//!
//! Build them all at once with [`Auth0Adapters::new`] from an
//! [`Auth0Config`]; they share one HTTP client, one JWKS cache and one
//! Management API token. Secrets, tokens and codes never reach logs or error
//! messages.
//!
//! With the `fake` feature, [`fake::FakeAuth0`] is a local stand-in for an
//! Auth0 tenant for black-box tests.

mod access;
mod codes;
mod config;
mod directory;
mod http;
mod jwt;
mod management;
mod oidc;
mod web_login;

#[cfg(feature = "fake")]
pub mod fake;

use std::sync::Arc;

pub use access::Auth0AccessTokens;
pub use codes::{Auth0Codes, OTP_GRANT};
pub use config::{Auth0Config, CacheTtls, ConfigError, Timeouts, TokenAlgorithm};
pub use directory::Auth0Directory;
pub use oidc::{Auth0Oidc, LoginStart, OidcError, OidcLogin, PendingLogin, pkce_challenge};

use http::Upstream;
use jwt::{Jwks, Verifier};
use management::Management;

/// Every Auth0 adapter, sharing one HTTP client, JWKS cache and Management
/// API token.
#[derive(Debug, Clone)]
pub struct Auth0Adapters {
    /// Access token → customer.
    pub access_tokens: Arc<Auth0AccessTokens>,
    /// Contact points and passwordless identities.
    pub directory: Arc<Auth0Directory>,
    /// Sending and checking codes.
    pub codes: Arc<Auth0Codes>,
    /// The web app's login.
    pub oidc: Arc<Auth0Oidc>,
}

impl Auth0Adapters {
    /// Builds the adapters. No request is made until one is needed.
    pub fn new(config: Auth0Config) -> Result<Self, ConfigError> {
        let client = config.http_client()?;
        let config = Arc::new(config);
        let upstream = |name| Upstream::new(client.clone(), config.clone(), name);
        let jwks = Arc::new(Jwks::new(upstream("jwks"), config.clone()));
        let token = upstream("oauth/token");
        let access = Arc::new(Verifier::new(
            &config,
            &config.access_token_algorithm,
            &config.api_audience,
            jwks.clone(),
        ));
        let id_tokens = Arc::new(Verifier::new(
            &config,
            &config.id_token_algorithm,
            &config.client_id,
            jwks,
        ));
        let management = Arc::new(Management::new(
            config.clone(),
            token.clone(),
            upstream("management"),
        ));
        Ok(Auth0Adapters {
            access_tokens: Arc::new(Auth0AccessTokens::new(access)),
            directory: Arc::new(Auth0Directory::new(config.clone(), management)),
            codes: Arc::new(Auth0Codes::new(
                config.clone(),
                upstream("passwordless"),
                token.clone(),
                id_tokens.clone(),
            )),
            oidc: Arc::new(Auth0Oidc::new(config, token, id_tokens)),
        })
    }
}
