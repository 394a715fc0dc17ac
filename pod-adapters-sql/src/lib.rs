//! Durable storage for pod: an embedded SQLite engine built on `rusqlite`.
//!
//! [`SqlStore`] implements the storage ports of `pod-ports`:
//! [`AccountStore`](pod_ports::AccountStore) (accounts with their pending
//! order, code digests, send logs and lock, changed by version-checked
//! commits), [`UserStore`](pod_ports::UserStore) (the embedded identity's
//! users) and [`SessionStore`](pod_ports::SessionStore) (the web app's
//! sessions, keyed by a hash of the id).
//!
//! # The engine
//!
//! - **One writer.** A dedicated thread owns the only read-write
//!   connection. Every write is a job sent to it; it takes the first job and
//!   every job queued behind it (up to 256) and runs them in **one
//!   transaction**, each job inside its own `SAVEPOINT`, so a refused job
//!   (a version conflict) is rolled back alone while the others commit.
//! - **Group commit, durable acknowledgements.** Callers hear the outcome
//!   only after the `COMMIT` returned: with `synchronous = FULL` that means
//!   the write-ahead log was fsynced, so an order or a confirmation is on
//!   disk before Alexa is told. One fsync serves the whole batch, which is
//!   what lets thousands of commits per second share a disk. If the
//!   `COMMIT` fails, every job of the batch fails with
//!   [`StoreError::Unavailable`]. Batch sizes and durations go to a
//!   [`StoreTelemetry`] (see [`SqlStore::with_telemetry`]).
//! - **Readers inline.** Reads never go through the writer: a small pool of
//!   `query_only` connections (two per core, at least two), each behind a
//!   mutex, runs them on the calling task, with cached prepared statements.
//!   A read of one indexed row takes microseconds, less than a thread
//!   hand-off. In WAL mode readers see the last committed state and never
//!   wait for the writer. An in-memory database (`sqlite::memory:`) has a
//!   single connection, shared by the writer and the readers.
//! - **Loading an account is one query**: the account row and the
//!   customer's order awaiting its code (through the partial unique index),
//!   joined on one read connection.
//!
//! The file is in WAL mode with `synchronous = FULL`, `foreign_keys = ON`
//! and a 5 s busy timeout on every connection. A process killed at any
//! moment leaves the last committed state behind; nothing acknowledged is
//! lost.
//!
//! # Schema
//!
//! The schema lives in `migrations/*.sql`, embedded at compile time, and is
//! brought up to date whenever a store is opened. Its version is SQLite's
//! `user_version`; migrations run inside one `BEGIN IMMEDIATE` transaction,
//! so several processes opening a new data folder at the same moment
//! serialize and each applies only what is missing. Databases made by the
//! earlier `sqlx` engine are recognised and migrated, data included. The SQL
//! is kept portable (BIGINT millisecond timestamps, `ON CONFLICT`, partial
//! unique indexes, numbered binds) so that a PostgreSQL backend can keep the
//! same contract.
//!
//! Errors follow the ports' contract: a unique-index violation or a lost
//! version race is [`StoreError::Conflict`], a row that does not make a
//! domain value is [`StoreError::Corrupt`], anything else the database says
//! is [`StoreError::Unavailable`] with a message that never carries bound
//! values, URLs or code digests.

mod accounts;
mod engine;
mod error;
mod migrate;
mod orders;
mod sessions;
mod users;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pod_ports::{StoreError, StoreTelemetry};

use crate::engine::{Engine, Target};

/// pod's SQL store: accounts, orders, users and sessions.
///
/// Cheap to clone: clones share one engine (one writer thread, one pool of
/// readers). Safe to call from many tasks at once; writes from all of them
/// are grouped into shared transactions. The engine stops when the last
/// clone is dropped or [`SqlStore::close`] is called.
#[derive(Clone)]
pub struct SqlStore {
    engine: Arc<Engine>,
}

impl fmt::Debug for SqlStore {
    // Written by hand so that no path or URL (a PostgreSQL URL's password,
    // one day) can reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &"sqlite")
            .field("in_memory", &self.engine.in_memory())
            .field("readers", &self.engine.reader_count())
            .field("closed", &self.engine.is_closed())
            .finish()
    }
}

impl SqlStore {
    /// Opens (creating it if missing) the SQLite database file at `path`,
    /// brings its schema up to date and starts the writer thread.
    ///
    /// Every connection gets:
    /// - `journal_mode = WAL`: readers never wait for the writer, and a
    ///   process killed mid-write leaves the last committed state behind;
    /// - `synchronous = FULL`: every commit is fsynced before anyone hears
    ///   it succeeded. `NORMAL` would survive a crash of the process but
    ///   could lose the last commits to a power cut; group commit makes the
    ///   fsync cheap, since one serves a whole batch;
    /// - `foreign_keys = ON` and a busy timeout of 5 s.
    ///
    /// Errors: [`StoreError::Unavailable`] when the file cannot be opened or
    /// created, is not a database, or a migration fails.
    pub async fn open_sqlite(path: &Path) -> Result<SqlStore, StoreError> {
        Self::open(Target::File {
            path: path.to_path_buf(),
            create: true,
        })
        .await
    }

    /// Connects to the database a URL names and brings its schema up to date.
    ///
    /// Accepts `sqlite:` URLs: `sqlite:pod.db`, `sqlite://pod.db`,
    /// `sqlite:///var/lib/pod/pod.db` (percent-encoded), with the optional
    /// parameters `mode=rwc` (the default: create the file if missing),
    /// `mode=rw` (it must exist) or `mode=memory`, and `cache=shared|private`
    /// (ignored). `sqlite::memory:` (or `mode=memory`) is a private
    /// in-memory database that lives as long as the store. A file gets the
    /// settings of [`SqlStore::open_sqlite`].
    ///
    /// Errors: [`StoreError::Unavailable`] for another scheme, a malformed
    /// URL or an unknown parameter (the message does not repeat the URL,
    /// which may hold a password), or when the database cannot be opened or
    /// migrated.
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        Self::open(target_of(url)?).await
    }

    async fn open(target: Target) -> Result<SqlStore, StoreError> {
        Ok(SqlStore {
            engine: Arc::new(Engine::open(target).await?),
        })
    }

    /// Reports every committed batch (its number of writes and how long it
    /// took) to `telemetry`, for the batch-size histogram. Applies to every
    /// clone of the store.
    pub fn with_telemetry(self, telemetry: Arc<dyn StoreTelemetry>) -> Self {
        self.set_telemetry(telemetry);
        self
    }

    /// Like [`SqlStore::with_telemetry`], on a shared store.
    pub fn set_telemetry(&self, telemetry: Arc<dyn StoreTelemetry>) {
        self.engine.set_telemetry(telemetry);
    }

    /// Lets the writer finish the batch under way, then closes every
    /// connection. Every clone of the store fails with
    /// [`StoreError::Unavailable`] afterwards. Not needed for durability
    /// (every write is committed when it returns); it lets SQLite
    /// checkpoint the log and tidy up its files.
    pub async fn close(&self) {
        self.engine.close().await;
    }
}

/// What a `sqlite:` URL names. Errors never repeat the URL.
fn target_of(url: &str) -> Result<Target, StoreError> {
    let malformed = || StoreError::Unavailable("malformed sqlite: URL".to_owned());
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err(StoreError::Unavailable(
            "unsupported database URL: only sqlite: URLs are supported".to_owned(),
        ));
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let mut create = true;
    let mut memory = path == ":memory:";
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        match pair.split_once('=') {
            Some(("mode", "rwc")) => create = true,
            Some(("mode", "rw")) => create = false,
            Some(("mode", "memory")) => memory = true,
            Some(("cache", "shared" | "private")) => {}
            None if pair.is_empty() => {}
            _ => {
                return Err(StoreError::Unavailable(
                    "unsupported parameter in sqlite: URL (known: mode=rwc|rw|memory, cache)"
                        .to_owned(),
                ));
            }
        }
    }
    if memory {
        return Ok(Target::Memory);
    }
    let path = percent_decode(path).ok_or_else(malformed)?;
    if path.is_empty() {
        return Err(malformed());
    }
    Ok(Target::File {
        path: PathBuf::from(path),
        create,
    })
}

/// `%XX` escapes decoded; `None` for a broken escape or bytes that are not
/// UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn settings(store: &SqlStore, on_writer: bool) -> (String, [i64; 4]) {
        let query = |conn: &rusqlite::Connection| -> Result<(String, [i64; 4]), StoreError> {
            let get = |pragma: &str| -> i64 {
                conn.query_row(&format!("PRAGMA {pragma}"), [], |row| row.get(0))
                    .unwrap()
            };
            let mode: String = conn
                .query_row("PRAGMA journal_mode", [], |row| row.get(0))
                .unwrap();
            Ok((
                mode,
                [
                    get("synchronous"),
                    get("foreign_keys"),
                    get("busy_timeout"),
                    get("query_only"),
                ],
            ))
        };
        if on_writer {
            store.engine.on_writer(query).await.unwrap()
        } else {
            store.engine.read(query).unwrap()
        }
    }

    #[tokio::test]
    async fn connections_get_the_documented_settings() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = SqlStore::open_sqlite(&dir.path().join("pod.db"))
            .await
            .unwrap();
        // FULL is 2; busy_timeout is in milliseconds; readers are query-only.
        assert_eq!(
            settings(&store, true).await,
            ("wal".to_owned(), [2, 1, 5000, 0])
        );
        for _ in 0..store.engine.reader_count() {
            assert_eq!(
                settings(&store, false).await,
                ("wal".to_owned(), [2, 1, 5000, 1])
            );
        }
        let version: i64 = store
            .engine
            .read(|c| {
                Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))
                    .unwrap())
            })
            .unwrap();
        assert_eq!(version, migrate::LATEST);
    }

    #[test]
    fn urls_name_files_or_memory() {
        let file = |path: &str, create: bool| Target::File {
            path: PathBuf::from(path),
            create,
        };
        let cases = [
            ("sqlite:pod.db", Some(file("pod.db", true))),
            ("sqlite://pod.db", Some(file("pod.db", true))),
            (
                "sqlite:///var/lib/pod/pod.db",
                Some(file("/var/lib/pod/pod.db", true)),
            ),
            (
                "sqlite:/a%20b/pod.db?mode=rw",
                Some(file("/a b/pod.db", false)),
            ),
            (
                "sqlite:pod.db?mode=rwc&cache=shared",
                Some(file("pod.db", true)),
            ),
            ("sqlite::memory:", Some(Target::Memory)),
            ("sqlite://:memory:", Some(Target::Memory)),
            ("sqlite:x?mode=memory", Some(Target::Memory)),
            ("sqlite:", None),
            ("sqlite:pod.db?mode=ro", None),
            ("sqlite:pod.db?password=x", None),
            ("sqlite:%zz", None),
            ("sqlite:%ff", None),
            ("SQLITE:pod.db", None),
            ("file:pod.db", None),
        ];
        for (url, expected) in cases {
            let got = target_of(url).ok();
            assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{url}");
        }
    }
}
