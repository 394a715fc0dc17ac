//! Answered requests on SQLite's `answered_requests` table. Every
//! operation is a job of the writer thread, so a claim is durable (in the
//! batch's fsynced commit) before its caller processes the request, and
//! the writer, the only one that writes, makes each claim atomic. An
//! answer is a lazy write: it joins the next batch.

use pod_domain::Timestamp;
use pod_ports::{Claim, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use super::engine::Engine;
use super::error::db_error;

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
    pub(crate) async fn claim(
        &self,
        request_id: &str,
        fingerprint: &[u8],
        now: Timestamp,
        keep_until: Timestamp,
    ) -> Result<Claim, StoreError> {
        let (id, fingerprint) = (request_id.to_owned(), fingerprint.to_vec());
        let (now, keep_until) = (now.unix_millis(), keep_until.unix_millis());
        self.write(move |conn| {
            // Claims expire in the order they were made, so this removes
            // the few that expired since the last claim, through the index;
            // an expired claim of this very id goes with them.
            execute(
                conn,
                "DELETE FROM answered_requests WHERE keep_until <= ?1",
                params![now],
            )?;
            let inserted = execute(
                conn,
                "INSERT INTO answered_requests (request_id, fingerprint, answer, keep_until) \
                 VALUES (?1, ?2, NULL, ?3) ON CONFLICT (request_id) DO NOTHING",
                params![id, fingerprint, keep_until],
            )?;
            if inserted == 1 {
                return Ok(Claim::Fresh);
            }
            let (fingerprint, answer) = conn
                .prepare_cached(
                    "SELECT fingerprint, answer FROM answered_requests WHERE request_id = ?1",
                )
                .and_then(|mut s| {
                    s.query_row(params![id], |row| Ok((row.get(0)?, row.get(1)?)))
                        .optional()
                })
                .map_err(db_error)?
                .ok_or_else(|| {
                    StoreError::Unavailable("a claimed request vanished mid-job".to_owned())
                })?;
            Ok(Claim::Taken {
                fingerprint,
                answer,
            })
        })
        .await
    }

    pub(crate) async fn record_answer(
        &self,
        request_id: &str,
        answer: &str,
    ) -> Result<(), StoreError> {
        let (id, answer) = (request_id.to_owned(), answer.to_owned());
        // Lazy: the answer rides along with the next write (the next
        // request's claim, say) instead of costing an fsync of its own.
        // Nobody waits for it, and losing it in a crash only turns later
        // copies of the request into 409s.
        self.write_lazy(move |conn| {
            execute(
                conn,
                "UPDATE answered_requests SET answer = ?2 WHERE request_id = ?1",
                params![id, answer],
            )?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn release(&self, request_id: &str) -> Result<(), StoreError> {
        let id = request_id.to_owned();
        self.write(move |conn| {
            execute(
                conn,
                "DELETE FROM answered_requests WHERE request_id = ?1",
                params![id],
            )?;
            Ok(())
        })
        .await
    }
}
