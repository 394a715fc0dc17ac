//! The session store on PostgreSQL's `sessions` table (keyed by the SHA-256
//! of the id, see [`crate::rows::sessions`]). Every operation is one
//! statement, so each is atomic without an explicit transaction.

use pod_domain::Timestamp;
use pod_ports::{Session, SessionId, StoreError};

use super::Postgres;
use super::error::{PgColumns, db_error, write_error};
use crate::rows::sessions::{NewSession, id_hash, session_from_row};

impl Postgres {
    pub(crate) async fn create_session(
        &self,
        new: NewSession,
    ) -> Result<(SessionId, Session), StoreError> {
        // Pruning the expired sessions in the same statement keeps the table
        // as small as the live sessions without a background task; the
        // index makes it cheap.
        sqlx::query(
            "WITH pruned AS (DELETE FROM sessions WHERE expires_at <= $5) \
             INSERT INTO sessions (id_hash, customer_id, csrf_token, pending, created_at, \
                 expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&new.id_hash)
        .bind(new.customer_id())
        .bind(&new.session.csrf_token)
        .bind(new.session.pending.as_deref())
        .bind(new.session.created_at.unix_millis())
        .bind(new.session.expires_at.unix_millis())
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(new.made())
    }

    pub(crate) async fn session(
        &self,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT customer_id, csrf_token, pending, created_at, expires_at \
             FROM sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash(id))
        .bind(now.unix_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|row| session_from_row(&PgColumns(&row)))
            .transpose()
    }

    pub(crate) async fn set_pending(
        &self,
        id: &SessionId,
        pending: Option<String>,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query("UPDATE sessions SET pending = $1 WHERE id_hash = $2")
            .bind(pending)
            .bind(id_hash(id))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    pub(crate) async fn rotate_session(
        &self,
        id: &SessionId,
        new: NewSession,
    ) -> Result<(SessionId, Session), StoreError> {
        // One statement: the new session is made only if the old one was
        // live and is deleted by it. Of two rotations of one session, the
        // second waits for the first's row lock, then finds the row gone.
        let made = sqlx::query(
            "WITH old AS (DELETE FROM sessions WHERE id_hash = $1 AND expires_at > $5 \
                 RETURNING 1) \
             INSERT INTO sessions (id_hash, customer_id, csrf_token, pending, created_at, \
                 expires_at) \
             SELECT $2, $3, $4, NULL, $5, $6 WHERE EXISTS (SELECT 1 FROM old)",
        )
        .bind(id_hash(id))
        .bind(&new.id_hash)
        .bind(new.customer_id())
        .bind(&new.session.csrf_token)
        .bind(new.session.created_at.unix_millis())
        .bind(new.session.expires_at.unix_millis())
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        if made.rows_affected() == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(new.made())
    }

    pub(crate) async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash(id))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
