//! pod as an OAuth 2.0 authorization server (RFC 6749, authorization-code
//! grant with refresh tokens), so that Alexa can link accounts against the
//! embedded identity: the values the store keeps, the ports
//! ([`OAuthStore`], [`GrantTokens`], [`Secrets`]) and the
//! [`OAuthService`] that decides every request of the protocol.
//!
//! The profile is narrow on purpose: confidential clients registered by
//! the operator (`client_secret_basic` or `client_secret_post`), exact
//! redirect URIs, the `code` response type, PKCE with `S256` when the client
//! sends a challenge (`plain` refused), single-use codes bound to client and
//! redirect URI, refresh tokens rotated on every use with reuse detection,
//! and revocation (RFC 7009).
//!
//! Every grant (one account linked to one client) is a *family*: the code
//! that started it, its refresh tokens and the access tokens issued from
//! them all name its [`GrantId`]. Revoking the grant (a reused code or
//! refresh token, an unlink in the web app, the operator) ends all of them
//! at once, access tokens included, since checking an access token asks the
//! store whether its grant is still active.

mod service;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use pod_domain::{CustomerId, Timestamp};

use crate::StoreError;

pub use service::{
    AuthorizeError, AuthorizeRequest, ClientAuth, ClientRedirect, LinkedClient, NewClient,
    NoRedirect, OAuthConfig, OAuthError, OAuthService, SCOPE_ORDER, SUPPORTED_SCOPES,
    TokenResponse, ValidAuthorization,
};

/// How long a spent refresh token is remembered for reuse detection: a
/// grant refreshed every hour keeps about 720 of them.
pub const SPENT_REFRESH_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The id of a grant: random, 128 bits, base64url (22 characters).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrantId(String);

impl GrantId {
    /// A grant id from its text; `None` unless 1 to 64 characters of
    /// `[A-Za-z0-9_-]`.
    pub fn parse(raw: impl Into<String>) -> Option<Self> {
        let raw = raw.into();
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then_some(GrantId(raw))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GrantId({})", self.0)
    }
}

impl fmt::Display for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client registered by the operator (`pod clients add`): Alexa's skill.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// The client id (`[A-Za-z0-9._-]`, 1 to 64 characters).
    pub id: String,
    /// What the consent page calls it ("Pizza on Demand for Alexa").
    pub name: String,
    /// SHA-256 of the client secret; the secret itself is shown once.
    pub secret_digest: Vec<u8>,
    /// The redirect URIs it may use, compared exactly.
    pub redirect_uris: Vec<String>,
    /// When it was registered.
    pub created_at: Timestamp,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// An authorization code as the store keeps it (the code itself only as
/// its SHA-256).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    /// SHA-256 of the code.
    pub digest: Vec<u8>,
    /// The client it was issued to.
    pub client_id: String,
    /// The person who allowed it.
    pub customer: CustomerId,
    /// The redirect URI of the authorization request (the token request
    /// must repeat it).
    pub redirect_uri: String,
    /// The granted scope (space-separated).
    pub scope: String,
    /// The PKCE `S256` challenge, when the client sent one.
    pub code_challenge: Option<String>,
    /// When it was issued.
    pub created_at: Timestamp,
    /// The first moment it is no longer valid.
    pub expires_at: Timestamp,
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCode")
            .field("client_id", &self.client_id)
            .field("customer", &self.customer)
            .field("redirect_uri", &self.redirect_uri)
            .field("scope", &self.scope)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// One account linked to one client: the family of every token issued
/// from one authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Its id, carried by its access tokens.
    pub id: GrantId,
    /// The client.
    pub client_id: String,
    /// The person.
    pub customer: CustomerId,
    /// The granted scope (space-separated).
    pub scope: String,
    /// When the code was redeemed.
    pub created_at: Timestamp,
    /// When it was revoked; `None` while active.
    pub revoked_at: Option<Timestamp>,
}

impl Grant {
    /// Whether its tokens still work.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// The grant a redeemed code starts, with its first refresh token.
#[derive(Clone, PartialEq, Eq)]
pub struct NewGrant {
    /// The grant.
    pub grant: Grant,
    /// SHA-256 of its first refresh token.
    pub refresh_digest: Vec<u8>,
}

impl fmt::Debug for NewGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewGrant")
            .field("grant", &self.grant)
            .finish_non_exhaustive()
    }
}

/// What [`OAuthStore::consume_code`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The code was unused: it is used now, and the grant (if one was
    /// given) is stored with its first refresh token.
    Redeemed,
    /// The code was used before: nothing was issued, and the grant made
    /// from it (if any) is revoked now.
    Reused,
    /// No such code.
    Unknown,
}

/// What [`OAuthStore::rotate_refresh`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is spent now, and the new one replaces it
    /// in the same grant.
    Rotated(Grant),
    /// The token was spent already: its whole grant is revoked now.
    Reused,
    /// The token's grant was revoked before.
    Revoked,
    /// No such token.
    Unknown,
}

/// Keeps the OAuth clients, codes, grants and refresh tokens. Codes and
/// tokens are known only by their SHA-256. Every method is one atomic step.
#[async_trait]
pub trait OAuthStore: Send + Sync {
    /// Registers a client; [`StoreError::Conflict`] when the id is taken.
    async fn add_client(&self, client: &OAuthClient) -> Result<(), StoreError>;

    /// A client by id.
    async fn client(&self, id: &str) -> Result<Option<OAuthClient>, StoreError>;

    /// Every client, by id.
    async fn clients(&self) -> Result<Vec<OAuthClient>, StoreError>;

    /// Removes a client, revoking its grants and forgetting its codes, in
    /// one transaction; `false` when there was no such client.
    async fn remove_client(&self, id: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Keeps a new code. May delete codes that expired a day before
    /// `code.created_at`.
    async fn save_code(&self, code: &AuthorizationCode) -> Result<(), StoreError>;

    /// A code by digest, used or not.
    async fn code(&self, digest: &[u8]) -> Result<Option<AuthorizationCode>, StoreError>;

    /// Uses the code up, in one transaction: if it is unused it is marked
    /// used and `grant` (when given) is stored with its first refresh
    /// token ([`Redemption::Redeemed`]); if it was used before, the grant
    /// made from it is revoked ([`Redemption::Reused`]). Of two calls for one
    /// code, exactly one redeems it.
    async fn consume_code(
        &self,
        digest: &[u8],
        grant: Option<&NewGrant>,
        now: Timestamp,
    ) -> Result<Redemption, StoreError>;

    /// The grant a refresh token belongs to (whatever its state and the
    /// token's), for checking the client before rotating.
    async fn refresh_grant(&self, digest: &[u8]) -> Result<Option<Grant>, StoreError>;

    /// Spends the refresh token `old` and adds `new` to its grant, in one
    /// transaction. A token spent before revokes its grant
    /// ([`Rotation::Reused`]). Of two calls for one token, exactly one
    /// rotates it (and the other revokes the grant). May forget the grant's
    /// tokens spent more than [`SPENT_REFRESH_RETENTION`] before `now` (a
    /// forgotten token is refused as unknown, without revoking).
    async fn rotate_refresh(
        &self,
        old: &[u8],
        new: &[u8],
        now: Timestamp,
    ) -> Result<Rotation, StoreError>;

    /// A grant by id.
    async fn grant(&self, id: &GrantId) -> Result<Option<Grant>, StoreError>;

    /// The customer's active grants, newest first.
    async fn grants_of(&self, customer: &CustomerId) -> Result<Vec<Grant>, StoreError>;

    /// Revokes the grants of `client` (only the customer's, when given);
    /// how many were active. With `grant`, only that one.
    async fn revoke_grants(
        &self,
        client: Option<&str>,
        customer: Option<&CustomerId>,
        grant: Option<&GrantId>,
        now: Timestamp,
    ) -> Result<u64, StoreError>;
}

/// Access tokens for grants: pod's local tokens carrying the grant id.
pub trait GrantTokens: Send + Sync {
    /// An access token for `customer` under `grant`, valid for `ttl` from `now`.
    fn issue(
        &self,
        customer: &CustomerId,
        grant: &GrantId,
        ttl: Duration,
        now: Timestamp,
    ) -> String;

    /// The grant a token (correctly signed, expired or not) was issued
    /// under; `None` for anything else.
    fn grant_of(&self, token: &str) -> Option<GrantId>;
}

/// Secrets and their digests: random tokens, SHA-256, constant-time
/// comparison.
pub trait Secrets: Send + Sync {
    /// `bytes` from a cryptographic random source, base64url without padding.
    fn random(&self, bytes: usize) -> String;
    /// SHA-256 of `secret`.
    fn digest(&self, secret: &str) -> Vec<u8>;
    /// Whether `a` equals `b`, in time independent of where they differ.
    fn equal(&self, a: &[u8], b: &[u8]) -> bool;
    /// base64url (no padding) of SHA-256 of `verifier`: the PKCE `S256`
    /// transform (RFC 7636 §4.2).
    fn s256(&self, verifier: &str) -> String;
}
