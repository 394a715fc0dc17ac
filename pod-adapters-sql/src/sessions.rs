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
use sqlx::sqlite::SqliteRow;

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

fn session_from_row(row: &SqliteRow) -> Result<Session, StoreError> {
    let customer: Option<String> = column(row, T, "customer_id")?;
    let customer = customer
        .map(|raw| {
            CustomerId::parse(raw.clone())
                .map_err(|_| corrupt(T, "(session)", "customer_id", "not a customer id"))
        })
        .transpose()?;
    Ok(Session {
        customer,
        csrf_token: column(row, T, "csrf_token")?,
        pending: column(row, T, "pending")?,
        created_at: Timestamp::from_unix_millis(column(row, T, "created_at")?),
        expires_at: Timestamp::from_unix_millis(column(row, T, "expires_at")?),
    })
}

impl SqlStore {
    async fn insert_session<'e, E>(
        executor: E,
        customer: Option<CustomerId>,
        pending: Option<String>,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(SessionId, Session), StoreError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
    {
        let raw = random_token()?;
        let id = SessionId::from_cookie(&raw)
            .ok_or_else(|| StoreError::Unavailable("unusable session id".to_owned()))?;
        let session = Session {
            customer,
            csrf_token: random_token()?,
            pending,
            created_at: now,
            expires_at,
        };
        sqlx::query(
            "INSERT INTO sessions (id_hash, customer_id, csrf_token, pending, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_hash(&id))
        .bind(session.customer.as_ref().map(CustomerId::as_str))
        .bind(&session.csrf_token)
        .bind(session.pending.as_deref())
        .bind(now.unix_millis())
        .bind(expires_at.unix_millis())
        .execute(executor)
        .await
        .map_err(write_error)?;
        Ok((id, session))
    }
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
        // Pruning here keeps the table as small as the live sessions
        // without a background task; the index makes it cheap.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.unix_millis())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Self::insert_session(&self.pool, customer, pending, now, expires_at).await
    }

    async fn session(&self, id: &SessionId, now: Timestamp) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT customer_id, csrf_token, pending, created_at, expires_at \
             FROM sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash(id))
        .bind(now.unix_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn set_pending(&self, id: &SessionId, pending: Option<String>) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE sessions SET pending = $1 WHERE id_hash = $2")
            .bind(pending.as_deref())
            .bind(id_hash(id))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    async fn rotate_session(
        &self,
        id: &SessionId,
        customer: &CustomerId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(SessionId, Session), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let deleted = sqlx::query("DELETE FROM sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(id_hash(id))
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::Conflict);
        }
        let made =
            Self::insert_session(&mut *tx, Some(customer.clone()), None, now, expires_at).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(made)
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash(id))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
