//! Answered requests on PostgreSQL's `answered_requests` table, shared by
//! every server on the database. A claim is one autocommitted statement
//! (`INSERT … ON CONFLICT`), so of several servers claiming one id at once
//! the primary key lets exactly one insert; the others wait for its row and
//! find it taken. Only then, and only for them, a second round trip reads
//! the row.

use std::sync::atomic::Ordering;
use std::time::Duration;

use pod_domain::Timestamp;
use pod_ports::{Claim, StoreError};
use sqlx::Row;

use super::Postgres;
use super::error::db_error;

/// How often (in the claims' own time) a server sweeps expired claims.
/// Sweeping on every claim would make concurrent servers queue on the row
/// locks of the same expired rows; once in a while is as good, since an
/// expired claim counts as absent whether or not it is swept.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Inserts the claim, or takes over the row of an expired one. A row
/// comes back when the claim is the caller's.
const CLAIM: &str = "INSERT INTO answered_requests (request_id, fingerprint, answer, keep_until) \
     VALUES ($1, $2, NULL, $3) \
     ON CONFLICT (request_id) DO UPDATE \
         SET fingerprint = EXCLUDED.fingerprint, answer = NULL, keep_until = EXCLUDED.keep_until \
         WHERE answered_requests.keep_until <= $4 \
     RETURNING 1";

/// [`CLAIM`], sweeping the other expired claims in the same statement.
const SWEEP_AND_CLAIM: &str = "WITH swept AS ( \
         DELETE FROM answered_requests WHERE keep_until <= $4 AND request_id <> $1) \
     INSERT INTO answered_requests (request_id, fingerprint, answer, keep_until) \
     VALUES ($1, $2, NULL, $3) \
     ON CONFLICT (request_id) DO UPDATE \
         SET fingerprint = EXCLUDED.fingerprint, answer = NULL, keep_until = EXCLUDED.keep_until \
         WHERE answered_requests.keep_until <= $4 \
     RETURNING 1";

const TAKEN: &str = "SELECT fingerprint, answer FROM answered_requests \
     WHERE request_id = $1 AND keep_until > $2";

/// How often a claim tries again when the row it ran into is gone before
/// it could read it (released or swept in between).
const ATTEMPTS: usize = 3;

impl Postgres {
    /// Whether this claim should sweep: the first one at or after the
    /// next sweep time (one caller wins the swap).
    fn sweep_due(&self, now: i64) -> bool {
        let next = self.next_sweep.load(Ordering::Relaxed);
        now >= next
            && self
                .next_sweep
                .compare_exchange(
                    next,
                    now + SWEEP_EVERY.as_millis() as i64,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    pub(crate) async fn claim(
        &self,
        request_id: &str,
        fingerprint: &[u8],
        now: Timestamp,
        keep_until: Timestamp,
    ) -> Result<Claim, StoreError> {
        let now = now.unix_millis();
        for _ in 0..ATTEMPTS {
            let sql = if self.sweep_due(now) {
                SWEEP_AND_CLAIM
            } else {
                CLAIM
            };
            let claimed = sqlx::query(sql)
                .bind(request_id)
                .bind(fingerprint)
                .bind(keep_until.unix_millis())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
            if claimed.is_some() {
                return Ok(Claim::Fresh);
            }
            let taken = sqlx::query(TAKEN)
                .bind(request_id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
            if let Some(row) = taken {
                return Ok(Claim::Taken {
                    fingerprint: row.try_get(0).map_err(db_error)?,
                    answer: row.try_get(1).map_err(db_error)?,
                });
            }
        }
        Err(StoreError::Unavailable(
            "a request's claim kept changing while it was claimed".to_owned(),
        ))
    }

    pub(crate) async fn record_answer(
        &self,
        request_id: &str,
        answer: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE answered_requests SET answer = $2 WHERE request_id = $1")
            .bind(request_id)
            .bind(answer)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    pub(crate) async fn release(&self, request_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM answered_requests WHERE request_id = $1")
            .bind(request_id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
