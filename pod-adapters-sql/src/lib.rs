//! Durable storage for pod on SQL databases, built on `sqlx`.
//!
//! [`SqlStore`] implements the storage ports of `pod-ports`:
//! [`OrderStore`](pod_ports::OrderStore) (orders with optimistic concurrency,
//! code-send counts, the lockout counter), [`UserStore`](pod_ports::UserStore)
//! and [`CodeStore`](pod_ports::CodeStore) (the embedded identity), and
//! [`SessionStore`](pod_ports::SessionStore) (the web app's sessions, keyed
//! by a hash of the id). Today it
//! runs on SQLite, the embedded default; the SQL is written so that a
//! PostgreSQL backend can sit behind the same type later (BIGINT millisecond
//! timestamps, `ON CONFLICT`, partial unique indexes, `$n` binds).
//!
//! The schema lives in `migrations/`, is embedded at compile time and is
//! brought up to date every time a store is opened.
//!
//! Errors follow the ports' contract: a unique-index violation or a lost
//! optimistic-concurrency race is [`StoreError::Conflict`], a row that does
//! not make a domain value is [`StoreError::Corrupt`], anything else the
//! database says is [`StoreError::Unavailable`] with a message that never
//! carries bound values, URLs or code hashes.

mod codes;
mod error;
mod orders;
mod sessions;
mod users;

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use pod_ports::StoreError;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::unavailable;

/// How long a statement waits for another connection's write lock before it
/// fails: long enough to ride out a burst of writers, short enough that a
/// stuck database surfaces as an error rather than a hung request.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a caller waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pooled connections. SQLite serialises writers anyway; a few connections
/// let reads run beside a write (WAL mode).
const MAX_CONNECTIONS: u32 = 8;

/// The migrations in `pod-adapters-sql/migrations/`, embedded.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// pod's SQL store: orders, counters, users and one-time codes.
///
/// Cheap to clone: clones share one connection pool. Every method is a single
/// statement or a short transaction, safe to call from many tasks at once.
#[derive(Clone)]
pub struct SqlStore {
    pool: SqlitePool,
}

impl fmt::Debug for SqlStore {
    // Written by hand so that no connection options (a PostgreSQL URL's
    // password, one day) can reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &"sqlite")
            .field("connections", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .field("closed", &self.pool.is_closed())
            .finish()
    }
}

impl SqlStore {
    /// Opens (creating it if missing) the SQLite database file at `path`
    /// and brings its schema up to date.
    ///
    /// The connections use:
    /// - `journal_mode = WAL`: readers never block the writer and a commit is
    ///   one append to the log, so a process killed mid-write leaves the
    ///   last committed state behind;
    /// - `synchronous = FULL`: every commit is fsynced before it returns.
    ///   `NORMAL` would already survive a crash of the process (the log is in
    ///   the OS page cache), but could lose the last commits to a power cut
    ///   or kernel crash. A confirmed order or a counted wrong code that was
    ///   acknowledged must not vanish, and one fsync per write is cheap at
    ///   the rate people order pizza;
    /// - `foreign_keys = ON` and a busy timeout of 5 s.
    ///
    /// Errors: [`StoreError::Unavailable`] when the file cannot be opened or
    /// created or a migration fails.
    pub async fn open_sqlite(path: &Path) -> Result<SqlStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::open(options, false).await
    }

    /// Connects to the database a URL names and brings its schema up to date.
    ///
    /// Accepts `sqlite:` URLs (`sqlite:pod.db`, `sqlite:///var/lib/pod/pod.db`,
    /// `sqlite::memory:`); the file is created if missing and the connections
    /// get the same settings as [`SqlStore::open_sqlite`]. An in-memory
    /// database lives as long as the store: the pool keeps one connection
    /// open for it.
    ///
    /// Errors: [`StoreError::Unavailable`] for another scheme, a malformed
    /// URL (the message does not repeat the URL, which may hold a password),
    /// or when the database cannot be opened or migrated.
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme);
        if scheme != Some("sqlite") {
            return Err(StoreError::Unavailable(
                "unsupported database URL: only sqlite: URLs are supported".to_owned(),
            ));
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| StoreError::Unavailable("malformed sqlite: URL".to_owned()))?
            .create_if_missing(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        Self::open(options, in_memory).await
    }

    async fn open(options: SqliteConnectOptions, in_memory: bool) -> Result<SqlStore, StoreError> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let mut pool_options = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT);
        if in_memory {
            // An in-memory database disappears with its last connection:
            // keep one connection for the life of the pool.
            pool_options = pool_options
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(|e| unavailable(&e))?;
        MIGRATOR.run(&pool).await.map_err(|e| {
            StoreError::Unavailable(format!("database migration failed: {}", error::migrate(&e)))
        })?;
        Ok(SqlStore { pool })
    }

    /// Closes every pooled connection, waiting for those in use to be
    /// returned. Clones of the store fail with [`StoreError::Unavailable`]
    /// afterwards. Not needed for durability (every write is committed when
    /// it returns); it lets SQLite checkpoint the log and tidy up its files.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_get_the_documented_settings() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = SqlStore::open_sqlite(&dir.path().join("pod.db"))
            .await
            .unwrap();
        let mut conn = store.pool.acquire().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        // FULL is 2; busy_timeout is in milliseconds.
        for (pragma, expected) in [
            ("synchronous", 2),
            ("foreign_keys", 1),
            ("busy_timeout", 5000),
        ] {
            let value: i64 = sqlx::query_scalar(&format!("PRAGMA {pragma}"))
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(value, expected, "{pragma}");
        }
    }
}
