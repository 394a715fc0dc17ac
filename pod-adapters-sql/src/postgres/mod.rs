//! The PostgreSQL backend, for several pod servers sharing one database: a
//! pool of connections (`sqlx`), the schema in `migrations/postgres/*.sql`
//! applied at connect under an advisory lock (see [`migrate`]), and the
//! same store contract as SQLite.
//!
//! There is no writer thread here: every write is its own transaction on a
//! pooled connection, and PostgreSQL's own group commit (several backends'
//! commit records flushed by one WAL fsync) does the batching. Each
//! account commit is reported to the [`StoreTelemetry`] as a batch of one.

mod accounts;
mod answers;
mod error;
pub(crate) mod events;
mod links;
pub(crate) mod migrate;
mod oauth;
mod sessions;
mod users;

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use pod_ports::{StoreError, StoreTelemetry};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};
use url::Url;

use self::error::{db_error, describe};

/// Connections the pool opens at most, unless the URL says otherwise
/// (`max_connections`). Each is a server process on the database host:
/// servers × this must stay below the server's `max_connections` (100 by
/// default).
pub(crate) const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// How long a caller waits for a pooled connection (all of them busy, or a
/// new one being opened) before it fails with [`StoreError::Unavailable`];
/// also how long connecting at start-up may take (`acquire_timeout_ms`).
pub(crate) const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one statement may run, waiting for a row lock included, before
/// the server cancels it (`statement_timeout_ms`; 0 turns it off). A
/// statement of pod's touches a handful of rows through an index.
pub(crate) const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// A transaction left open and idle this long is ended by the server, so a
/// connection lost mid-transaction cannot hold row locks for long.
const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// A pooled connection unused this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// A connection is replaced after this long, so that the pool follows a
/// server's configuration changes and failovers.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The pool's limits, from pod's own parameters of a `postgres:` URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) max_connections: u32,
    pub(crate) acquire_timeout: Duration,
    /// Zero: no statement timeout.
    pub(crate) statement_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
        }
    }
}

fn bad_parameter(name: &str, range: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "invalid {name} in postgres: URL (expected {range})"
    ))
}

/// The connect options and pool limits a `postgres://` or `postgresql://`
/// URL names. pod's parameters (`max_connections`, `acquire_timeout_ms`,
/// `statement_timeout_ms`) are taken out; everything else is `sqlx`'s
/// (libpq's names: `sslmode`, `application_name`, `options`, …). Errors
/// never repeat the URL.
pub(crate) fn settings_of(url: &str) -> Result<(PgConnectOptions, Limits), StoreError> {
    let malformed = || StoreError::Unavailable("malformed postgres: URL".to_owned());
    let mut url = Url::parse(url).map_err(|_| malformed())?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(malformed());
    }
    let mut limits = Limits::default();
    let mut kept = Vec::new();
    for (key, value) in url.query_pairs() {
        match &*key {
            "max_connections" => {
                limits.max_connections = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| bad_parameter("max_connections", "1 to 10000"))?;
            }
            "acquire_timeout_ms" => {
                limits.acquire_timeout = value
                    .parse()
                    .ok()
                    .filter(|ms| (1..=3_600_000).contains(ms))
                    .map(Duration::from_millis)
                    .ok_or_else(|| bad_parameter("acquire_timeout_ms", "1 to 3600000"))?;
            }
            "statement_timeout_ms" => {
                limits.statement_timeout = value
                    .parse()
                    .ok()
                    .filter(|ms| *ms <= 86_400_000)
                    .map(Duration::from_millis)
                    .ok_or_else(|| bad_parameter("statement_timeout_ms", "0 to 86400000"))?;
            }
            _ => kept.push((key.into_owned(), value.into_owned())),
        }
    }
    url.set_query(None);
    if !kept.is_empty() {
        url.query_pairs_mut().extend_pairs(&kept);
    }
    let mut options = PgConnectOptions::from_url(&url)
        .map_err(|_| StoreError::Unavailable("invalid postgres: URL".to_owned()))?;
    // Server settings of every connection, in the startup packet (no round
    // trip). Appended after the URL's own `options`, so these win.
    let mut server = vec![(
        "idle_in_transaction_session_timeout",
        IDLE_IN_TRANSACTION_TIMEOUT.as_millis(),
    )];
    server.push(("statement_timeout", limits.statement_timeout.as_millis()));
    options = options.options(server);
    if options.get_application_name().is_none() {
        options = options.application_name("pod");
    }
    Ok((options, limits))
}

type Telemetry = RwLock<Option<Arc<dyn StoreTelemetry>>>;

/// The open database: the pool and where commits are reported.
pub(crate) struct Postgres {
    pool: PgPool,
    /// What the pool connects with; the events listener connects with the
    /// same, under an application name of its own.
    options: PgConnectOptions,
    limits: Limits,
    telemetry: Telemetry,
    /// When (Unix milliseconds, in the claims' time) the next claim sweeps
    /// expired answered requests.
    next_sweep: AtomicI64,
}

impl Postgres {
    /// Connects once to migrate (failing at once, with the server's reason,
    /// when the server cannot be reached or refuses), then makes the pool,
    /// which opens its connections as they are needed.
    pub(crate) async fn connect(url: &str) -> Result<Postgres, StoreError> {
        let (options, limits) = settings_of(url)?;
        let cannot =
            |why: String| StoreError::Unavailable(format!("cannot connect to the database: {why}"));
        let mut conn =
            tokio::time::timeout(limits.acquire_timeout, PgConnection::connect_with(&options))
                .await
                .map_err(|_| cannot("timed out".to_owned()))?
                .map_err(|e| cannot(describe(&e)))?;
        let migrated = migrate::run(&mut conn).await;
        // Closing politely is a courtesy; the migration's outcome is known.
        let _ = conn.close().await;
        migrated?;
        let pool = PgPoolOptions::new()
            .max_connections(limits.max_connections)
            .min_connections(0)
            .acquire_timeout(limits.acquire_timeout)
            .idle_timeout(IDLE_TIMEOUT)
            .max_lifetime(MAX_LIFETIME)
            // A connection the server dropped (a restart, a failover) is
            // found out by a ping when it leaves the pool, not by a failed
            // request.
            .test_before_acquire(true)
            .connect_lazy_with(options.clone());
        Ok(Postgres {
            pool,
            options,
            limits,
            telemetry: RwLock::new(None),
            next_sweep: AtomicI64::new(i64::MIN),
        })
    }

    pub(crate) fn set_telemetry(&self, telemetry: Arc<dyn StoreTelemetry>) {
        *self
            .telemetry
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(telemetry);
    }

    /// Reports one finished account commit (applied or refused).
    fn report_commit(&self, started: Instant) {
        let telemetry = self
            .telemetry
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(telemetry) = telemetry {
            telemetry.commit_batch(1, started.elapsed());
        }
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Waits for the connections in use to come back, then closes all of
    /// them. Later calls fail with [`StoreError::Unavailable`].
    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// Open connections, idle connections, and the most the pool opens.
    pub(crate) fn connections(&self) -> (u32, usize, u32) {
        (
            self.pool.size(),
            self.pool.num_idle(),
            self.limits.max_connections,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_parameters_set_the_limits_and_leave_the_rest_to_sqlx() {
        let (options, limits) = settings_of(
            "postgres://pod:secret@127.0.0.1:6543/podb?max_connections=4&sslmode=disable\
             &acquire_timeout_ms=1500&statement_timeout_ms=0&application_name=pod-a",
        )
        .unwrap();
        assert_eq!(
            limits,
            Limits {
                max_connections: 4,
                acquire_timeout: Duration::from_millis(1500),
                statement_timeout: Duration::ZERO,
            }
        );
        assert_eq!(options.get_host(), "127.0.0.1");
        assert_eq!(options.get_port(), 6543);
        assert_eq!(options.get_username(), "pod");
        assert_eq!(options.get_database(), Some("podb"));
        assert_eq!(options.get_application_name(), Some("pod-a"));
        assert_eq!(
            options.get_options(),
            Some("-c idle_in_transaction_session_timeout=60000 -c statement_timeout=0")
        );

        let (options, limits) = settings_of("postgresql://127.0.0.1/podb").unwrap();
        assert_eq!(limits, Limits::default());
        assert_eq!(options.get_application_name(), Some("pod"));
        assert_eq!(
            options.get_options(),
            Some("-c idle_in_transaction_session_timeout=60000 -c statement_timeout=5000")
        );
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_them() {
        for url in [
            "postgres://pod:hunter2@[bad/x",
            "postgres://pod:hunter2@h/x?max_connections=0",
            "postgres://pod:hunter2@h/x?max_connections=hunter2",
            "postgres://pod:hunter2@h/x?acquire_timeout_ms=0",
            "postgres://pod:hunter2@h/x?statement_timeout_ms=-1",
            "postgres://pod:hunter2@h:99999/x",
            "postgres://pod:hunter2@h/x?sslmode=hunter2",
            "mysql://pod:hunter2@h/x",
        ] {
            match settings_of(url) {
                Err(StoreError::Unavailable(message)) => {
                    assert!(!message.contains("hunter2"), "{url}: {message}");
                }
                other => panic!("{url}: expected Unavailable, got {:?}", other.map(|o| o.1)),
            }
        }
    }
}

/// Connecting must be a `Send` future (a server may connect inside a
/// spawned task). `sqlx::raw_sql(…).execute(&mut *conn)` in an async fn
/// breaks that (rustc cannot prove its executor bound for every lifetime),
/// so the migrations use `Executor::execute` on the connection instead.
#[cfg(test)]
mod send_check {
    fn is_send<T: Send>(_: &T) {}

    #[allow(dead_code, reason = "compiled, never run")]
    fn futures_are_send(conn: &mut sqlx::PgConnection) {
        is_send(&super::Postgres::connect(""));
        is_send(&super::migrate::run(conn));
    }
}
