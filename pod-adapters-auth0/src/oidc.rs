//! [`Auth0Oidc`]: signing in to the web app with the authorization-code
//! flow, PKCE (S256), `state` and `nonce`.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pod_domain::CustomerId;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::Auth0Config;
use crate::http::{Retry, Upstream, UpstreamError};
use crate::jwt::{Verifier, VerifyError};

/// Why a login did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The `state` that came back is not the one sent (a forged or replayed
    /// callback).
    #[error("login state mismatch")]
    StateMismatch,
    /// Auth0 refused to exchange the code (expired, used, wrong verifier).
    #[error("the authorization code was refused: {0}")]
    Refused(String),
    /// The id token did not verify (signature, `iss`, `aud`, `exp`, `nonce`).
    #[error("id token rejected: {0}")]
    InvalidIdToken(String),
    /// Auth0 failed, timed out or answered nonsense.
    #[error("Auth0 unavailable: {0}")]
    Unavailable(String),
    /// Random bytes could not be drawn.
    #[error("no randomness available")]
    Random,
}

/// What a login must remember between the redirect to Auth0 and the
/// callback (keep it server-side or in an encrypted cookie; it holds the
/// PKCE verifier). `Debug` hides the values.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    state: String,
    nonce: String,
    code_verifier: String,
    redirect_uri: String,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl PendingLogin {
    /// The `state` sent to Auth0 (a key to find this login again).
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The `nonce` the id token must carry.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The redirect URI the login uses.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
}

/// The start of a login: send the browser to `authorize_url`, keep `pending`.
#[derive(Debug, Clone)]
pub struct LoginStart {
    /// Auth0's `/authorize` with every parameter.
    pub authorize_url: Url,
    /// What the callback needs.
    pub pending: PendingLogin,
}

/// A completed login.
#[derive(Clone)]
pub struct OidcLogin {
    /// The signed-in customer (`sub`).
    pub customer: CustomerId,
    /// The email address from the id token, if any.
    pub email: Option<String>,
    /// The display name from the id token, if any.
    pub name: Option<String>,
    /// The id token, for the logout's `id_token_hint`.
    pub id_token: SecretString,
}

impl fmt::Debug for OidcLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcLogin")
            .field("customer", &self.customer)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct LoginClaims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct CodeAnswer {
    id_token: Option<String>,
}

/// The web app's login through Auth0 (Universal Login).
pub struct Auth0Oidc {
    config: Arc<Auth0Config>,
    token: Upstream,
    id_tokens: Arc<Verifier>,
}

impl fmt::Debug for Auth0Oidc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth0Oidc")
            .field("domain", &self.config.domain)
            .finish_non_exhaustive()
    }
}

/// `bytes` random bytes, base64url without padding.
fn random_token(bytes: usize) -> Result<String, OidcError> {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| OidcError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// The PKCE S256 challenge of `verifier`.
pub fn pkce_challenge(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

impl Auth0Oidc {
    pub(crate) fn new(config: Arc<Auth0Config>, token: Upstream, id_tokens: Arc<Verifier>) -> Self {
        Auth0Oidc {
            config,
            token,
            id_tokens,
        }
    }

    /// Starts a login that returns to `redirect_uri` (registered in Auth0 as
    /// an allowed callback URL), asking for `openid profile email`.
    pub fn begin_login(&self, redirect_uri: &str) -> Result<LoginStart, OidcError> {
        let pending = PendingLogin {
            state: random_token(32)?,
            nonce: random_token(32)?,
            code_verifier: random_token(48)?,
            redirect_uri: redirect_uri.to_owned(),
        };
        let mut url = self.config.endpoint("authorize");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid profile email")
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &pkce_challenge(&pending.code_verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(LoginStart {
            authorize_url: url,
            pending,
        })
    }

    /// Completes a login from the callback's `state` and `code`: checks the
    /// state, exchanges the code with the PKCE verifier, verifies the id
    /// token (signature, `iss`, `aud` = client id, `exp`, `nonce`).
    pub async fn complete_login(
        &self,
        pending: &PendingLogin,
        state: &str,
        code: &str,
    ) -> Result<OidcLogin, OidcError> {
        if verify_slices_are_equal(state.as_bytes(), pending.state.as_bytes()).is_err() {
            return Err(OidcError::StateMismatch);
        }
        if code.is_empty() || code.len() > 2048 {
            return Err(OidcError::Refused("no usable code".into()));
        }
        let config = &self.config;
        let url = config.endpoint("oauth/token");
        let reply = self
            .token
            .send("authorization code", Retry::Unsafe, |c| {
                c.post(url.clone()).form(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", config.client_id.as_str()),
                    ("client_secret", config.client_secret.expose_secret()),
                    ("code", code),
                    ("code_verifier", pending.code_verifier.as_str()),
                    ("redirect_uri", pending.redirect_uri.as_str()),
                ])
            })
            .await
            .map_err(|e: UpstreamError| OidcError::Unavailable(e.to_string()))?;
        if !reply.status.is_success() {
            return Err(if reply.status.is_client_error() {
                OidcError::Refused(reply.summary())
            } else {
                OidcError::Unavailable(reply.summary())
            });
        }
        let answer: CodeAnswer = reply
            .json()
            .map_err(|e| OidcError::Unavailable(e.to_string()))?;
        let id_token = answer
            .id_token
            .ok_or_else(|| OidcError::Unavailable("no id token".into()))?;
        let claims: LoginClaims = self
            .id_tokens
            .verify(&id_token)
            .await
            .map_err(|e| match e {
                VerifyError::Invalid(reason) => OidcError::InvalidIdToken(reason),
                VerifyError::Unavailable(reason) => OidcError::Unavailable(reason),
            })?;
        if !claims.nonce.as_deref().is_some_and(|n| {
            verify_slices_are_equal(n.as_bytes(), pending.nonce.as_bytes()).is_ok()
        }) {
            return Err(OidcError::InvalidIdToken("wrong nonce".into()));
        }
        let customer = CustomerId::parse(claims.sub)
            .map_err(|_| OidcError::InvalidIdToken("unusable sub".into()))?;
        Ok(OidcLogin {
            customer,
            email: claims.email,
            name: claims.name,
            id_token: SecretString::from(id_token),
        })
    }

    /// Where to send the browser to sign out of Auth0 too: the OIDC
    /// RP-initiated logout endpoint `/oidc/logout` with `client_id`,
    /// `post_logout_redirect_uri` (an allowed logout URL) and, when known,
    /// the `id_token_hint`. (`/v2/logout` with `returnTo` is Auth0's older,
    /// non-standard endpoint.)
    pub fn logout_url(
        &self,
        post_logout_redirect_uri: &str,
        id_token_hint: Option<&SecretString>,
    ) -> Url {
        let mut url = self.config.endpoint("oidc/logout");
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &self.config.client_id)
                .append_pair("post_logout_redirect_uri", post_logout_redirect_uri);
            if let Some(hint) = id_token_hint {
                query.append_pair("id_token_hint", hint.expose_secret());
            }
        }
        url
    }
}
