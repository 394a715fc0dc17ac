//! The web app's sessions as rows of the `sessions` table, and back.
//!
//! Ids and CSRF tokens are 32 bytes from the operating system's CSPRNG
//! (through `aws-lc-rs`), base64url without padding (43 characters). The
//! table keys sessions by the SHA-256 of the id, never the id itself.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pod_domain::{CustomerId, Timestamp};
use pod_ports::{Session, SessionId, StoreError};

use super::{Columns, corrupt};

const T: &str = "sessions";

/// 32 random bytes, base64url.
fn random_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| StoreError::Unavailable("no randomness for a session id".to_owned()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the table keys a session by: the SHA-256 of its id.
pub(crate) fn id_hash(id: &SessionId) -> Vec<u8> {
    digest(&SHA256, id.expose().as_bytes()).as_ref().to_vec()
}

/// Rebuilds a session from a row of `customer_id, csrf_token, pending,
/// created_at, expires_at`.
pub(crate) fn session_from_row(row: &impl Columns) -> Result<Session, StoreError> {
    let customer = row
        .opt_text(0, T, "customer_id")?
        .map(|raw| {
            CustomerId::parse(raw)
                .map_err(|_| corrupt(T, "(session)", "customer_id", "not a customer id"))
        })
        .transpose()?;
    Ok(Session {
        customer,
        csrf_token: row.text(1, T, "csrf_token")?,
        pending: row.opt_text(2, T, "pending")?,
        created_at: Timestamp::from_unix_millis(row.int(3, T, "created_at")?),
        expires_at: Timestamp::from_unix_millis(row.int(4, T, "expires_at")?),
    })
}

/// A session about to be made: its id and contents are drawn on the
/// caller's task; the backend only inserts the row. Its `created_at` is the
/// `now` of the request, which the backends also prune and check liveness
/// against.
pub(crate) struct NewSession {
    pub(crate) id: SessionId,
    pub(crate) id_hash: Vec<u8>,
    pub(crate) session: Session,
}

impl NewSession {
    pub(crate) fn draw(
        customer: Option<CustomerId>,
        pending: Option<String>,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Self, StoreError> {
        let raw = random_token()?;
        let id = SessionId::from_cookie(&raw)
            .ok_or_else(|| StoreError::Unavailable("unusable session id".to_owned()))?;
        Ok(NewSession {
            id_hash: id_hash(&id),
            id,
            session: Session {
                customer,
                csrf_token: random_token()?,
                pending,
                created_at: now,
                expires_at,
            },
        })
    }

    /// The customer column's value.
    pub(crate) fn customer_id(&self) -> Option<&str> {
        self.session.customer.as_ref().map(CustomerId::as_str)
    }

    pub(crate) fn made(self) -> (SessionId, Session) {
        (self.id, self.session)
    }
}
