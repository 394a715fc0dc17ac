//! The session store on SQLite's `sessions` table (keyed by the SHA-256 of
//! the id, see [`crate::rows::sessions`]).

use pod_domain::Timestamp;
use pod_ports::{Session, SessionId, StoreError};
use rusqlite::{Connection, params};

use super::engine::Engine;
use super::error::{SqliteRow, db_error, write_error};
use crate::rows::sessions::{NewSession, id_hash, session_from_row};

fn insert(conn: &Connection, new: &NewSession) -> Result<(), StoreError> {
    let s = &new.session;
    conn.prepare_cached(
        "INSERT INTO sessions (id_hash, customer_id, csrf_token, pending, created_at, \
             expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            new.id_hash,
            new.customer_id(),
            s.csrf_token,
            s.pending,
            s.created_at.unix_millis(),
            s.expires_at.unix_millis(),
        ])
    })
    .map_err(write_error)?;
    Ok(())
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

impl Engine {
    pub(crate) async fn create_session(
        &self,
        new: NewSession,
    ) -> Result<(SessionId, Session), StoreError> {
        self.write(move |conn| {
            // Pruning here keeps the table as small as the live sessions
            // without a background task; the index makes it cheap.
            execute(
                conn,
                "DELETE FROM sessions WHERE expires_at <= ?1",
                params![new.session.created_at.unix_millis()],
            )?;
            insert(conn, &new)?;
            Ok(new.made())
        })
        .await
    }

    pub(crate) fn session(
        &self,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let hash = id_hash(id);
        self.read(|conn| {
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
                .map(|row| session_from_row(&SqliteRow(row)))
                .transpose()
        })
    }

    pub(crate) async fn set_pending(
        &self,
        id: &SessionId,
        pending: Option<String>,
    ) -> Result<(), StoreError> {
        let hash = id_hash(id);
        self.write(move |conn| {
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

    pub(crate) async fn rotate_session(
        &self,
        id: &SessionId,
        new: NewSession,
    ) -> Result<(SessionId, Session), StoreError> {
        let hash = id_hash(id);
        // One job, so one savepoint: the old session is deleted and the
        // new one made together, or neither.
        self.write(move |conn| {
            let deleted = execute(
                conn,
                "DELETE FROM sessions WHERE id_hash = ?1 AND expires_at > ?2",
                params![hash, new.session.created_at.unix_millis()],
            )?;
            if deleted == 0 {
                return Err(StoreError::Conflict);
            }
            insert(conn, &new)?;
            Ok(new.made())
        })
        .await
    }

    pub(crate) async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        let hash = id_hash(id);
        self.write(move |conn| {
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
