//! Server-side sessions of the web app.

use std::fmt;

use async_trait::async_trait;
use pod_domain::{CustomerId, Timestamp};

use crate::StoreError;

/// The secret that names a session: the value of the session cookie.
///
/// Adapters make them (256 random bits); anything read from a cookie can be
/// wrapped with [`SessionId::from_cookie`] and simply finds no session when
/// it is not one. `Debug` hides the value, so an id never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// The longest cookie value considered at all.
    pub const MAX_LEN: usize = 128;

    /// Wraps a cookie value; `None` when it is empty, too long or not
    /// printable ASCII, so that no store is asked about garbage.
    pub fn from_cookie(value: &str) -> Option<Self> {
        let ok = !value.is_empty()
            && value.len() <= Self::MAX_LEN
            && value.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| SessionId(value.to_owned()))
    }

    /// The id. Handle with care: never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(****)")
    }
}

/// A session as the store keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// The signed-in customer; `None` while a sign-in is under way.
    pub customer: Option<CustomerId>,
    /// The token every state-changing form of this session must carry
    /// (random, 256 bits, made by the store).
    pub csrf_token: String,
    /// Small data of a sign-in under way (the OIDC state, nonce and PKCE
    /// verifier, or whom a sign-in code went to), opaque to the store.
    pub pending: Option<String>,
    /// When the session was made.
    pub created_at: Timestamp,
    /// The first moment the session is no longer valid.
    pub expires_at: Timestamp,
}

impl fmt::Debug for Session {
    // The CSRF token and the pending sign-in are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("customer", &self.customer)
            .field("pending", &self.pending.as_ref().map(|_| "****"))
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Keeps the web app's sessions on the server.
///
/// Implementations draw ids and CSRF tokens from a cryptographic random
/// source, should keep only a hash of the id, and never return an expired
/// session.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Makes a session with a fresh id and CSRF token, valid from `now`
    /// until `expires_at`. May delete sessions that expired before `now`.
    ///
    /// Errors: [`StoreError::Unavailable`] when the database failed.
    async fn create_session(
        &self,
        customer: Option<CustomerId>,
        pending: Option<String>,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(SessionId, Session), StoreError>;

    /// The session `id` names, unless it is unknown or expired at `now`.
    async fn session(&self, id: &SessionId, now: Timestamp) -> Result<Option<Session>, StoreError>;

    /// Replaces the session's pending sign-in data.
    ///
    /// Errors: [`StoreError::Conflict`] when the session is gone.
    async fn set_pending(&self, id: &SessionId, pending: Option<String>) -> Result<(), StoreError>;

    /// Signs `customer` in: deletes the session `id` and makes a new one
    /// with a new id and CSRF token, no pending data, valid until
    /// `expires_at`, in one transaction (so a session id seen before the
    /// sign-in is worthless after it).
    ///
    /// Errors: [`StoreError::Conflict`] when the old session is gone or
    /// expired (it was used already); nothing is made then.
    async fn rotate_session(
        &self,
        id: &SessionId,
        customer: &CustomerId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(SessionId, Session), StoreError>;

    /// Deletes the session, if it exists.
    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_values_are_screened_and_hidden() {
        assert!(SessionId::from_cookie("abc-DEF_123").is_some());
        for bad in ["", "a b", "x\n", "é", &"a".repeat(129)] {
            assert!(SessionId::from_cookie(bad).is_none(), "{bad:?}");
        }
        let id = SessionId::from_cookie("secret-value").unwrap();
        assert!(!format!("{id:?}").contains("secret"));
        let session = Session {
            customer: None,
            csrf_token: "csrf-secret".into(),
            pending: Some("pending-secret".into()),
            created_at: Timestamp::EPOCH,
            expires_at: Timestamp::EPOCH,
        };
        let debug = format!("{session:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }
}
