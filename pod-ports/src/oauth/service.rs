//! [`OAuthService`]: every decision of the authorization server, with no
//! HTTP in it. The HTTP adapter parses requests into these calls and
//! writes their answers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use pod_domain::{CustomerId, Timestamp};
use tracing::{info, warn};

use super::{
    AuthorizationCode, Grant, GrantId, GrantTokens, NewGrant, OAuthClient, OAuthStore, Redemption,
    Rotation, Secrets,
};
use crate::{Clock, StoreError};

/// The one scope pod grants: ordering by voice.
pub const SCOPE_ORDER: &str = "order";

/// Every scope pod knows, with what it allows in English (the web app's
/// consent page says it in the person's language).
pub const SUPPORTED_SCOPES: &[(&str, &str)] = &[(
    SCOPE_ORDER,
    "Place pizza orders for you by voice. Each order still waits for the one-time code pod sends to your phone or email.",
)];

/// Bytes of a new authorization code, refresh token or client secret (256 bits).
const SECRET_BYTES: usize = 32;
/// Bytes of a new grant id (128 bits).
const GRANT_ID_BYTES: usize = 16;

/// Lifetimes of what the service issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthConfig {
    /// How long an authorization code may wait for its token request
    /// (default 60 s).
    pub code_lifetime: Duration,
    /// How long an access token works (default 1 hour).
    pub access_token_lifetime: Duration,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            code_lifetime: Duration::from_secs(60),
            access_token_lifetime: Duration::from_secs(3600),
        }
    }
}

/// The parameters of an authorization request, as sent (RFC 6749 §4.1.1,
/// RFC 7636 §4.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// `response_type`.
    pub response_type: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method`.
    pub code_challenge_method: Option<String>,
}

/// An authorization request that passed every check: what the consent
/// page shows and what an approval issues a code for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidAuthorization {
    /// The client.
    pub client_id: String,
    /// Its display name.
    pub client_name: String,
    /// The redirect URI (one registered for the client, exactly).
    pub redirect_uri: String,
    /// The scopes asked for, known ones only, sorted.
    pub scopes: Vec<String>,
    /// The `state` to hand back.
    pub state: Option<String>,
    /// The PKCE `S256` challenge.
    pub code_challenge: Option<String>,
}

impl ValidAuthorization {
    /// The scopes, space-separated.
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }
}

/// A redirect to the client with the answer of an authorization request:
/// `uri` with `params` added to its query.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRedirect {
    /// The client's redirect URI.
    pub uri: String,
    /// `code` and `state`, or `error`, `error_description` and `state`.
    pub params: Vec<(&'static str, String)>,
}

impl fmt::Debug for ClientRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.params.iter().map(|(k, _)| *k).collect();
        f.debug_struct("ClientRedirect")
            .field("uri", &self.uri)
            .field("params", &names)
            .finish()
    }
}

impl ClientRedirect {
    /// A redirect carrying `error`, `error_description` and `state`.
    pub fn error(
        uri: &str,
        error: &'static str,
        description: &'static str,
        state: Option<&String>,
    ) -> Self {
        let mut params = vec![
            ("error", error.to_owned()),
            ("error_description", description.to_owned()),
        ];
        if let Some(state) = state {
            params.push(("state", state.clone()));
        }
        ClientRedirect {
            uri: uri.to_owned(),
            params,
        }
    }

    /// The `error` parameter, if this is an error.
    pub fn error_code(&self) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| *k == "error")
            .map(|(_, v)| v.as_str())
    }
}

/// Why an authorization request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client id is missing or unknown, or the redirect URI is missing,
    /// malformed or not registered for the client: the person sees an error
    /// page and is never redirected (RFC 6749 §4.1.2.1).
    NoRedirect(NoRedirect),
    /// Anything else: redirect to the client with the error (RFC 6749
    /// §4.1.2.1).
    Redirect(ClientRedirect),
    /// The store failed.
    Unavailable,
}

/// What is wrong with an authorization request that must not be
/// redirected: the adapter says it to the person in their language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRedirect {
    /// The client id is missing or names no registered client.
    UnknownClient,
    /// The redirect URI is missing or not registered for the client.
    UnregisteredRedirectUri,
}

impl NoRedirect {
    /// What is wrong, in English (for logs and plain adapters).
    pub fn description(self) -> &'static str {
        match self {
            NoRedirect::UnknownClient => "The request does not name a known application.",
            NoRedirect::UnregisteredRedirectUri => {
                "The address to return to is not registered for this application."
            }
        }
    }
}

/// Client credentials as a token, revocation request presented them.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientAuth {
    /// The client id.
    pub id: String,
    /// The client secret.
    pub secret: String,
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// An error of the token or revocation endpoint (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// `invalid_request`.
    InvalidRequest(&'static str),
    /// `invalid_client` (401).
    InvalidClient,
    /// `invalid_grant`.
    InvalidGrant(&'static str),
    /// `unauthorized_client`.
    UnauthorizedClient(&'static str),
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope,
    /// The store failed (500, `server_error`).
    Unavailable,
}

impl OAuthError {
    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope => "invalid_scope",
            OAuthError::Unavailable => "server_error",
        }
    }

    /// A fixed description for the client.
    pub fn description(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(d)
            | OAuthError::InvalidGrant(d)
            | OAuthError::UnauthorizedClient(d) => d,
            OAuthError::InvalidClient => "client authentication failed",
            OAuthError::UnsupportedGrantType => {
                "grant_type must be authorization_code or refresh_token"
            }
            OAuthError::InvalidScope => "the scope is unknown or exceeds the grant",
            OAuthError::Unavailable => "the server cannot answer right now",
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        warn!(%error, "oauth: store failed");
        OAuthError::Unavailable
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// The access token (pod's local token, carrying the grant id).
    pub access_token: String,
    /// Seconds it works.
    pub expires_in: u64,
    /// The new refresh token (the old one is spent).
    pub refresh_token: String,
    /// The granted scope.
    pub scope: String,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A client to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    /// The client id (`[A-Za-z0-9._-]`, 1 to 64 characters).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its redirect URIs: absolute `https://` URIs (or `http://` on
    /// loopback), without a fragment.
    pub redirect_uris: Vec<String>,
}

/// A linked client as the person's "Linked skills" page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedClient {
    /// The grant.
    pub grant: Grant,
    /// The client's display name (its id when the client is gone).
    pub client_name: String,
}

/// The authorization server's decisions over the ports.
#[derive(Clone)]
pub struct OAuthService {
    store: Arc<dyn OAuthStore>,
    tokens: Arc<dyn GrantTokens>,
    secrets: Arc<dyn Secrets>,
    clock: Arc<dyn Clock>,
    config: OAuthConfig,
}

impl fmt::Debug for OAuthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn valid_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Whether `uri` may be registered: absolute `https://`, or `http://` on
/// loopback (for tests and development), no fragment, no whitespace.
pub(crate) fn registrable_redirect_uri(uri: &str) -> bool {
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| {
            uri.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
    let https = uri
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    (https || loopback)
        && !uri.contains('#')
        && uri.len() <= 2048
        && uri.bytes().all(|b| b.is_ascii_graphic())
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl OAuthService {
    /// The service over its ports.
    pub fn new(
        store: Arc<dyn OAuthStore>,
        tokens: Arc<dyn GrantTokens>,
        secrets: Arc<dyn Secrets>,
        clock: Arc<dyn Clock>,
        config: OAuthConfig,
    ) -> Self {
        OAuthService {
            store,
            tokens,
            secrets,
            clock,
            config,
        }
    }

    /// The lifetimes.
    pub fn config(&self) -> &OAuthConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn OAuthStore> {
        &self.store
    }

    /// Registers a client and returns it with its secret, which is not
    /// kept (only its SHA-256) and so can be shown only now.
    ///
    /// Errors: [`OAuthError::InvalidRequest`] for a bad id or redirect URI,
    /// [`OAuthError::UnauthorizedClient`] when the id is taken.
    pub async fn register_client(
        &self,
        new: NewClient,
    ) -> Result<(OAuthClient, String), OAuthError> {
        if !valid_client_id(&new.id) {
            return Err(OAuthError::InvalidRequest(
                "a client id is 1 to 64 letters, digits, '.', '_' or '-'",
            ));
        }
        if new.redirect_uris.is_empty()
            || !new
                .redirect_uris
                .iter()
                .all(|u| registrable_redirect_uri(u))
        {
            return Err(OAuthError::InvalidRequest(
                "redirect URIs must be absolute https:// URIs (http:// only on loopback), without a fragment",
            ));
        }
        let secret = self.secrets.random(SECRET_BYTES);
        let name = if new.name.trim().is_empty() {
            new.id.clone()
        } else {
            new.name.trim().to_owned()
        };
        let client = OAuthClient {
            id: new.id,
            name,
            secret_digest: self.secrets.digest(&secret),
            redirect_uris: new.redirect_uris,
            created_at: self.clock.now(),
        };
        match self.store.add_client(&client).await {
            Ok(()) => Ok((client, secret)),
            Err(StoreError::Conflict) => Err(OAuthError::UnauthorizedClient(
                "a client with this id exists",
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// Checks an authorization request (RFC 6749 §4.1.1, §4.1.2.1; RFC 7636
    /// §4.4): client and exact redirect URI first (an error page, never a
    /// redirect, when either is wrong), then the response type, the scopes
    /// and PKCE (a redirect with the error).
    pub async fn check_authorization(
        &self,
        request: &AuthorizeRequest,
    ) -> Result<ValidAuthorization, AuthorizeError> {
        let Some(client_id) = request.client_id.as_deref().filter(|c| valid_client_id(c)) else {
            return Err(AuthorizeError::NoRedirect(NoRedirect::UnknownClient));
        };
        let client = match self.store.client(client_id).await {
            Ok(Some(client)) => client,
            Ok(None) => {
                return Err(AuthorizeError::NoRedirect(NoRedirect::UnknownClient));
            }
            Err(error) => {
                warn!(%error, "oauth: store failed");
                return Err(AuthorizeError::Unavailable);
            }
        };
        // Exact string comparison (RFC 9700 §4.1.3): no prefix, no pattern,
        // no normalisation. A redirect_uri is always required (Alexa always
        // sends one), so the token request can always be held to it.
        let redirect_uri = request
            .redirect_uri
            .as_deref()
            .and_then(|uri| client.redirect_uris.iter().find(|r| r.as_str() == uri));
        let Some(redirect_uri) = redirect_uri.cloned() else {
            return Err(AuthorizeError::NoRedirect(
                NoRedirect::UnregisteredRedirectUri,
            ));
        };
        let state = request.state.as_ref();
        let refuse = |error, description| {
            AuthorizeError::Redirect(ClientRedirect::error(
                &redirect_uri,
                error,
                description,
                state,
            ))
        };
        match request.response_type.as_deref() {
            Some("code") => {}
            None => return Err(refuse("invalid_request", "response_type is missing")),
            Some(_) => {
                return Err(refuse(
                    "unsupported_response_type",
                    "only the code response type is supported",
                ));
            }
        }
        let mut scopes: Vec<String> = match request.scope.as_deref().map(str::trim) {
            None | Some("") => vec![SCOPE_ORDER.to_owned()],
            Some(scope) => scope.split(' ').map(str::to_owned).collect(),
        };
        scopes.sort();
        scopes.dedup();
        if scopes
            .iter()
            .any(|s| !SUPPORTED_SCOPES.iter().any(|(k, _)| k == s))
        {
            return Err(refuse("invalid_scope", "unknown scope"));
        }
        let code_challenge = match (
            request.code_challenge.as_deref(),
            request.code_challenge_method.as_deref(),
        ) {
            (None, None) => None,
            (Some(challenge), Some("S256")) => {
                if challenge.len() != 43
                    || !challenge
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(refuse(
                        "invalid_request",
                        "code_challenge must be the base64url SHA-256 of the verifier",
                    ));
                }
                Some(challenge.to_owned())
            }
            // A missing method means `plain` (RFC 7636 §4.3), which gives
            // no protection against a stolen request: refused.
            (Some(_), None | Some("plain")) => {
                return Err(refuse(
                    "invalid_request",
                    "code_challenge_method must be S256 (plain is not supported)",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(refuse(
                    "invalid_request",
                    "unsupported code_challenge_method",
                ));
            }
            (None, Some(_)) => {
                return Err(refuse("invalid_request", "code_challenge is missing"));
            }
        };
        Ok(ValidAuthorization {
            client_id: client.id,
            client_name: client.name,
            redirect_uri,
            scopes,
            state: request.state.clone(),
            code_challenge,
        })
    }

    /// The person allowed the request: a new code, and the redirect that
    /// hands it (with `state`) to the client.
    pub async fn approve(
        &self,
        request: &ValidAuthorization,
        customer: &CustomerId,
    ) -> Result<ClientRedirect, OAuthError> {
        let now = self.clock.now();
        let code = self.secrets.random(SECRET_BYTES);
        self.store
            .save_code(&AuthorizationCode {
                digest: self.secrets.digest(&code),
                client_id: request.client_id.clone(),
                customer: customer.clone(),
                redirect_uri: request.redirect_uri.clone(),
                scope: request.scope(),
                code_challenge: request.code_challenge.clone(),
                created_at: now,
                expires_at: now.plus(self.config.code_lifetime),
            })
            .await?;
        info!(client = %request.client_id, %customer, "oauth: authorization approved");
        let mut params = vec![("code", code)];
        if let Some(state) = &request.state {
            params.push(("state", state.clone()));
        }
        Ok(ClientRedirect {
            uri: request.redirect_uri.clone(),
            params,
        })
    }

    /// The person denied the request: `error=access_denied` for the client.
    pub fn deny(&self, request: &ValidAuthorization) -> ClientRedirect {
        ClientRedirect::error(
            &request.redirect_uri,
            "access_denied",
            "the account holder denied the request",
            request.state.as_ref(),
        )
    }

    /// Authenticates a client by its secret (constant-time comparison of
    /// SHA-256 digests; an unknown client costs the same digest).
    pub async fn authenticate(&self, auth: &ClientAuth) -> Result<OAuthClient, OAuthError> {
        let presented = self.secrets.digest(&auth.secret);
        let client = if valid_client_id(&auth.id) {
            self.store.client(&auth.id).await?
        } else {
            None
        };
        match client {
            Some(client) if self.secrets.equal(&presented, &client.secret_digest) => Ok(client),
            _ => {
                info!(client = %auth.id.chars().take(64).collect::<String>(), "oauth: client authentication failed");
                Err(OAuthError::InvalidClient)
            }
        }
    }

    /// The `authorization_code` grant (RFC 6749 §4.1.3, RFC 7636 §4.6):
    /// the code must be unused, unexpired, issued to this client for this
    /// redirect URI, and match the PKCE challenge when there was one. A
    /// code used twice revokes what its first use issued.
    pub async fn exchange_code(
        &self,
        client: &OAuthClient,
        code: Option<&str>,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let code = code
            .filter(|c| !c.is_empty())
            .ok_or(OAuthError::InvalidRequest("code is missing"))?;
        let now = self.clock.now();
        let digest = self.secrets.digest(code);
        let Some(stored) = self.store.code(&digest).await? else {
            return Err(OAuthError::InvalidGrant("unknown authorization code"));
        };
        let refusal = if now >= stored.expires_at {
            Some("the authorization code expired")
        } else if stored.client_id != client.id {
            Some("the code was issued to another client")
        } else if redirect_uri != Some(stored.redirect_uri.as_str()) {
            Some("redirect_uri does not match the authorization request")
        } else {
            match (&stored.code_challenge, verifier) {
                (None, None) => None,
                (None, Some(_)) => Some("code_verifier given but no code_challenge was"),
                (Some(_), None) => Some("code_verifier is missing"),
                (Some(challenge), Some(verifier)) => {
                    if valid_verifier(verifier)
                        && self
                            .secrets
                            .equal(self.secrets.s256(verifier).as_bytes(), challenge.as_bytes())
                    {
                        None
                    } else {
                        Some("code_verifier does not match the code_challenge")
                    }
                }
            }
        };
        if let Some(reason) = refusal {
            // The code is spent by a failed attempt too, and a code that was
            // redeemed before revokes its grant (expired or not): it gives
            // no second try.
            self.store.consume_code(&digest, None, now).await?;
            info!(client = %client.id, reason, "oauth: code refused");
            return Err(OAuthError::InvalidGrant(reason));
        }
        let refresh = self.secrets.random(SECRET_BYTES);
        let new_grant = NewGrant {
            grant: Grant {
                id: self.new_grant_id()?,
                client_id: client.id.clone(),
                customer: stored.customer.clone(),
                scope: stored.scope.clone(),
                created_at: now,
                revoked_at: None,
            },
            refresh_digest: self.secrets.digest(&refresh),
        };
        match self
            .store
            .consume_code(&digest, Some(&new_grant), now)
            .await?
        {
            Redemption::Redeemed => {
                info!(client = %client.id, customer = %stored.customer, grant = %new_grant.grant.id, "oauth: account linked");
                Ok(self.token_response(&new_grant.grant, refresh, now))
            }
            Redemption::Reused => {
                warn!(client = %client.id, "oauth: authorization code reused; its grant is revoked");
                Err(OAuthError::InvalidGrant(
                    "the authorization code was used already",
                ))
            }
            Redemption::Unknown => Err(OAuthError::InvalidGrant("unknown authorization code")),
        }
    }

    /// The `refresh_token` grant (RFC 6749 §6) with rotation (RFC 9700
    /// §4.14.2): the token is spent and a new one issued; a spent token
    /// presented again revokes the whole grant.
    pub async fn refresh(
        &self,
        client: &OAuthClient,
        refresh_token: Option<&str>,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let token = refresh_token
            .filter(|c| !c.is_empty())
            .ok_or(OAuthError::InvalidRequest("refresh_token is missing"))?;
        let now = self.clock.now();
        let digest = self.secrets.digest(token);
        let Some(grant) = self.store.refresh_grant(&digest).await? else {
            return Err(OAuthError::InvalidGrant("unknown refresh token"));
        };
        if grant.client_id != client.id {
            return Err(OAuthError::InvalidGrant(
                "the refresh token was issued to another client",
            ));
        }
        if let Some(scope) = scope.map(str::trim).filter(|s| !s.is_empty()) {
            let granted: Vec<&str> = grant.scope.split(' ').collect();
            if scope.split(' ').any(|s| !granted.contains(&s)) {
                return Err(OAuthError::InvalidScope);
            }
        }
        let fresh = self.secrets.random(SECRET_BYTES);
        match self
            .store
            .rotate_refresh(&digest, &self.secrets.digest(&fresh), now)
            .await?
        {
            Rotation::Rotated(grant) => Ok(self.token_response(&grant, fresh, now)),
            Rotation::Reused => {
                warn!(client = %client.id, grant = %grant.id, "oauth: refresh token reused; the grant is revoked");
                Err(OAuthError::InvalidGrant(
                    "the refresh token was used already",
                ))
            }
            Rotation::Revoked => Err(OAuthError::InvalidGrant("the grant was revoked")),
            Rotation::Unknown => Err(OAuthError::InvalidGrant("unknown refresh token")),
        }
    }

    /// Token revocation (RFC 7009 §2): a refresh or access token of this
    /// client revokes its whole grant. Unknown tokens are no error.
    pub async fn revoke(&self, client: &OAuthClient, token: &str) -> Result<(), OAuthError> {
        let now = self.clock.now();
        let grant = match self
            .store
            .refresh_grant(&self.secrets.digest(token))
            .await?
        {
            Some(grant) => Some(grant),
            None => match self.tokens.grant_of(token) {
                Some(id) => self.store.grant(&id).await?,
                None => None,
            },
        };
        let Some(grant) = grant else {
            return Ok(());
        };
        if grant.client_id != client.id {
            return Err(OAuthError::UnauthorizedClient(
                "the token was not issued to this client",
            ));
        }
        let revoked = self
            .store
            .revoke_grants(None, None, Some(&grant.id), now)
            .await?;
        if revoked > 0 {
            info!(client = %client.id, grant = %grant.id, "oauth: grant revoked by the client");
        }
        Ok(())
    }

    /// The person's linked clients, newest first.
    pub async fn linked(&self, customer: &CustomerId) -> Result<Vec<LinkedClient>, StoreError> {
        let grants = self.store.grants_of(customer).await?;
        let clients = self.store.clients().await?;
        Ok(grants
            .into_iter()
            .map(|grant| {
                let client_name = clients
                    .iter()
                    .find(|c| c.id == grant.client_id)
                    .map_or_else(|| grant.client_id.clone(), |c| c.name.clone());
                LinkedClient { grant, client_name }
            })
            .collect())
    }

    /// The person unlinks one grant of theirs; `false` when it was not
    /// theirs or not active.
    pub async fn unlink(&self, customer: &CustomerId, grant: &GrantId) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let revoked = self
            .store
            .revoke_grants(None, Some(customer), Some(grant), now)
            .await?;
        if revoked > 0 {
            info!(%customer, %grant, "oauth: unlinked by the account holder");
        }
        Ok(revoked > 0)
    }

    fn new_grant_id(&self) -> Result<GrantId, OAuthError> {
        GrantId::parse(self.secrets.random(GRANT_ID_BYTES)).ok_or(OAuthError::Unavailable)
    }

    fn token_response(&self, grant: &Grant, refresh: String, now: Timestamp) -> TokenResponse {
        let ttl = self.config.access_token_lifetime;
        TokenResponse {
            access_token: self.tokens.issue(&grant.customer, &grant.id, ttl, now),
            expires_in: ttl.as_secs(),
            refresh_token: refresh,
            scope: grant.scope.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_to_register() {
        for ok in [
            "https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA",
            "http://127.0.0.1:9000/cb",
            "http://localhost/cb",
        ] {
            assert!(registrable_redirect_uri(ok), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "https:///cb",
            "https://a.example/cb#x",
            "http://127.0.0.1.evil.example/cb",
            "ftp://a.example",
            "https://a.example/ b",
        ] {
            assert!(!registrable_redirect_uri(bad), "{bad}");
        }
    }

    #[test]
    fn verifiers_follow_rfc_7636() {
        assert!(valid_verifier(&"a".repeat(43)));
        assert!(!valid_verifier(&"a".repeat(42)));
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!valid_verifier(&format!("{}+", "a".repeat(43))));
    }
}
