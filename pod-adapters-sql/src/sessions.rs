//! [`SessionStore`] on the `sessions` table.
//!
//! Ids and CSRF tokens are 32 bytes from the operating system's CSPRNG
//! (through `aws-lc-rs`), base64url without padding (43 characters). The
//! table keys sessions by the SHA-256 of the id, never the id itself.

use async_trait::async_trait;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pod_domain::{CustomerId, Timestamp};
use pod_ports::{Session, SessionId, SessionStore, StoreError};
use rusqlite::{Connection, Row, params};

use crate::SqlStore;
use crate::error::{column, corrupt, db_error, write_error};

const T: &str = "sessions";

/// 32 random bytes, base64url.
fn random_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| StoreError::Unavailable("no randomness for a session id".to_owned()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn id_hash(id: &SessionId) -> Vec<u8> {
    digest(&SHA256, id.expose().as_bytes()).as_ref().to_vec()
}

fn session_from_row(row: &Row<'_>) -> Result<Session, StoreError> {
    let customer: Option<String> = column(row, 0, T, "customer_id")?;
    let customer = customer
        .map(|raw| {
            CustomerId::parse(raw)
                .map_err(|_| corrupt(T, "(session)", "customer_id", "not a customer id"))
        })
        .transpose()?;
    Ok(Session {
        customer,
        csrf_token: column(row, 1, T, "csrf_token")?,
        pending: column(row, 2, T, "pending")?,
        created_at: Timestamp::from_unix_millis(column(row, 3, T, "created_at")?),
        expires_at: Timestamp::from_unix_millis(column(row, 4, T, "expires_at")?),
    })
}

/// A session about to be made: its id and contents are drawn on the
/// caller's task, the writer thread only inserts the row.
struct NewSession {
    id: SessionId,
    id_hash: Vec<u8>,
    session: Session,
}

impl NewSession {
    fn draw(
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

    fn insert(&self, conn: &Connection) -> Result<(), StoreError> {
        let s = &self.session;
        conn.prepare_cached(
            "INSERT INTO sessions (id_hash, customer_id, csrf_token, pending, created_at, \
                 expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                self.id_hash,
                s.customer.as_ref().map(CustomerId::as_str),
                s.csrf_token,
                s.pending,
                s.created_at.unix_millis(),
                s.expires_at.unix_millis(),
            ])
        })
        .map_err(write_error)?;
        Ok(())
    }

    fn made(self) -> (SessionId, Session) {
        (self.id, self.session)
    }
}

fn execute(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute(params))
        .map_err(db_error)
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(
        &self,
        customer: Option<CustomerId>,
        pending: Option<String>,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(SessionId, Session), StoreError> {
        let new = NewSession::draw(customer, pending, now, expires_at)?;
        self.engine
            .write(move |conn| {
                // Pruning here keeps the table as small as the live
                // sessions without a background task; the index makes it
                // cheap.
                execute(
                    conn,
                    "DELETE FROM sessions WHERE expires_at <= ?1",
                    params![now.unix_millis()],
                )?;
                new.insert(conn)?;
                Ok(new.made())
            })
            .await
    }

    async fn session(&self, id: &SessionId, now: Timestamp) -> Result<Option<Session>, StoreError> {
        let hash = id_hash(id);
        self.engine.read(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT customer_id, csrf_token, pending, created_at, expires_at \
                     FROM sessions WHERE id_hash = ?1 AND expires_at > ?2",
                )
                .map_err(db_error)?;
            let mut rows = statement
                .query(params![hash, now.unix_millis()])
                .map_err(db_error)?;
            rows.next()
                .map_err(db_error)?
                .map(session_from_row)
                .transpose()
        })
    }

    async fn set_pending(&self, id: &SessionId, pending: Option<String>) -> Result<(), StoreError> {
        let hash = id_hash(id);
        self.engine
            .write(move |conn| {
                let updated = execute(
                    conn,
                    "UPDATE sessions SET pending = ?1 WHERE id_hash = ?2",
                    params![pending, hash],
                )?;
                if updated == 0 {
                    return Err(StoreError::Conflict);
                }
                Ok(())
            })
            .await
    }

    async fn rotate_session(
        &self,
        id: &SessionId,
        customer: &CustomerId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(SessionId, Session), StoreError> {
        let hash = id_hash(id);
        let new = NewSession::draw(Some(customer.clone()), None, now, expires_at)?;
        // One job, so one savepoint: the old session is deleted and the
        // new one made together, or neither.
        self.engine
            .write(move |conn| {
                let deleted = execute(
                    conn,
                    "DELETE FROM sessions WHERE id_hash = ?1 AND expires_at > ?2",
                    params![hash, now.unix_millis()],
                )?;
                if deleted == 0 {
                    return Err(StoreError::Conflict);
                }
                new.insert(conn)?;
                Ok(new.made())
            })
            .await
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        let hash = id_hash(id);
        self.engine
            .write(move |conn| {
                execute(
                    conn,
                    "DELETE FROM sessions WHERE id_hash = ?1",
                    params![hash],
                )?;
                Ok(())
            })
            .await
    }
}
