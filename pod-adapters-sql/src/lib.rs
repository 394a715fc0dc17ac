//! Durable storage for pod: an embedded SQLite engine built on `rusqlite`,
//! and PostgreSQL (through `sqlx`) for several pod servers sharing one
//! database.
//!
//! [`SqlStore`] implements the storage ports of `pod-ports`:
//! [`AccountStore`] (accounts with their pending order, code digests, send
//! logs and lock, changed by version-checked commits), [`UserStore`] (the
//! embedded identity's users), [`SessionStore`] (the web app's sessions,
//! keyed by a hash of the id), [`AlexaLinks`] (which customer an Alexa
//! user linked, from skill events), [`OAuthStore`] (the OAuth server's
//! clients, codes, grants and refresh tokens, secrets kept as SHA-256) and [`AnsweredRequests`] (the Alexa requests
//! claimed and answered, so that a replay changes nothing: a claim is an
//! `INSERT … ON CONFLICT` on the request id, a job of the writer on SQLite
//! and one autocommitted statement on PostgreSQL, shared by every server;
//! expired claims are swept by later claims, on PostgreSQL at most every
//! 10 s per server). It is one type for both backends:
//! [`SqlStore::open_sqlite`] and `sqlite:` URLs open SQLite,
//! `postgres://` and `postgresql://` URLs connect to PostgreSQL (see
//! [`SqlStore::connect`]). Both pass the same contract suite
//! (`pod_ports::account_store_contract!` and
//! `pod_ports::answered_requests_contract!`).
//!
//! # The SQLite engine
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
//! - **Lazy writes.** A write nobody waits for (the answer recorded for an
//!   Alexa request) does not start a batch: it joins the next one, or is
//!   committed after 20 ms without one, so it costs no fsync of its own.
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
//! The schema lives in `migrations/*.sql`, embedded at compile time, and is
//! brought up to date whenever a store is opened. Its version is SQLite's
//! `user_version`; migrations run inside one `BEGIN IMMEDIATE` transaction,
//! so several processes opening a new data folder at the same moment
//! serialize and each applies only what is missing. Databases made by the
//! earlier `sqlx` engine are recognised and migrated, data included.
//!
//! # The PostgreSQL backend
//!
//! - **A pool of connections** (`sqlx`, tokio): at most 16 by default,
//!   opened as needed, closed after 10 minutes idle and replaced after 30;
//!   a caller waits at most 5 s for a free one (the acquire timeout); every
//!   statement is cancelled by the server after 5 s (`statement_timeout`),
//!   and a transaction left idle is ended after 60 s. The URL's own
//!   parameters `max_connections`, `acquire_timeout_ms` and
//!   `statement_timeout_ms` change the first three (see
//!   [`SqlStore::connect`]).
//! - **Each commit is one transaction** on a pooled connection: the
//!   version-checked account write (`UPDATE … WHERE version = $expected`,
//!   or `INSERT … ON CONFLICT DO NOTHING` for a new account; no row written
//!   means [`StoreError::Conflict`]), then the change's orders, then
//!   `COMMIT`. PostgreSQL's own group commit batches the WAL flushes of
//!   concurrent commits; each commit is reported to the telemetry as a
//!   batch of one. READ COMMITTED is enough because every write is decided
//!   by the account row's version under its row lock. Durability is the
//!   server's: with its default `synchronous_commit = on`, `COMMIT` returns
//!   once the WAL is flushed.
//! - **Loading an account is one round trip**: the account row left-joined
//!   with its pending order.
//! - **Migrations** are PostgreSQL's own files (`migrations/postgres/*.sql`,
//!   the same tables and indexes as SQLite's, with `BYTEA` digests and
//!   bytewise `COLLATE "C"` keys), applied at connect in one transaction
//!   holding `pg_advisory_xact_lock`, so several servers starting on an
//!   empty database at once take turns and all come up. The applied
//!   versions are rows of `pod_schema_migrations`.
//!
//! # Order events across servers
//!
//! [`SqlStore::order_events`] gives the services their [`OrderEvents`]
//! port. On SQLite (one process) that is the local sink itself. On
//! PostgreSQL each event is sent with `pg_notify` on the channel
//! [`ORDER_EVENTS_CHANNEL`] (payload: `{"event":…,"order":…,"customer":…}`,
//! ids only, never a code, token or destination), and every server keeps
//! one connection listening there: for each notification, its own
//! included, it loads the order and hands the event to its local sink, so
//! an order placed through one server reaches the live pages held by every
//! other. When that connection is lost the listener listens again (backoff
//! from 100 ms doubling to 5 s, each failure logged at warn) and then calls
//! `resync`, since notifications sent meanwhile are gone: whoever shows
//! orders reloads them from the store. A quiet connection is checked every
//! 30 s, so one lost without a word is noticed too.
//!
//! # Errors
//!
//! Errors follow the ports' contract: a unique-index violation or a lost
//! version race is [`StoreError::Conflict`], a row that does not make a
//! domain value is [`StoreError::Corrupt`], anything else the database says
//! is [`StoreError::Unavailable`] with a message that never carries bound
//! values, URLs, passwords or code digests. The SQL is portable in spirit
//! (BIGINT millisecond timestamps, `ON CONFLICT`, partial unique indexes,
//! version-checked `UPDATE`s), and the conversions between rows and domain
//! values are shared by both backends.

mod postgres;
mod rows;
mod sqlite;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use pod_domain::{Account, Change, CustomerId, Order, OrderId, Timestamp};
use pod_ports::OAuthStore;
use pod_ports::oauth::{
    AuthorizationCode, Grant, GrantId, NewGrant, OAuthClient, Redemption, Rotation,
};
use pod_ports::{
    AccountStore, AlexaLinks, AlexaUserId, AnsweredRequests, Claim, LocalUser, OrderEvents,
    Session, SessionId, SessionStore, StoreError, StoreTelemetry, UserStore,
};

use crate::postgres::Postgres;
pub use crate::postgres::events::CHANNEL as ORDER_EVENTS_CHANNEL;
use crate::postgres::events::ListenerHandle;
use crate::rows::sessions::NewSession;
use crate::rows::users::login_key;
use crate::sqlite::{Engine, Target};

/// pod's SQL store: accounts, orders, users and sessions, on SQLite or
/// PostgreSQL.
///
/// Cheap to clone: clones share one backend (SQLite: one writer thread and
/// a pool of readers; PostgreSQL: one connection pool). Safe to call from
/// many tasks at once. SQLite's engine stops when the last clone is dropped
/// or [`SqlStore::close`] is called.
#[derive(Clone)]
pub struct SqlStore {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(Arc<Engine>),
    Postgres(Arc<Postgres>),
}

impl fmt::Debug for SqlStore {
    // Written by hand so that no path or URL (a PostgreSQL URL's password)
    // can reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backend {
            Backend::Sqlite(engine) => f
                .debug_struct("SqlStore")
                .field("backend", &"sqlite")
                .field("in_memory", &engine.in_memory())
                .field("readers", &engine.reader_count())
                .field("closed", &engine.is_closed())
                .finish(),
            Backend::Postgres(db) => {
                let (open, idle, max) = db.connections();
                f.debug_struct("SqlStore")
                    .field("backend", &"postgres")
                    .field("connections", &open)
                    .field("idle", &idle)
                    .field("max_connections", &max)
                    .field("closed", &db.is_closed())
                    .finish()
            }
        }
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
    /// **SQLite**: `sqlite:pod.db`, `sqlite://pod.db`,
    /// `sqlite:///var/lib/pod/pod.db` (percent-encoded), with the optional
    /// parameters `mode=rwc` (the default: create the file if missing),
    /// `mode=rw` (it must exist) or `mode=memory`, and `cache=shared|private`
    /// (ignored). `sqlite::memory:` (or `mode=memory`) is a private
    /// in-memory database that lives as long as the store. A file gets the
    /// settings of [`SqlStore::open_sqlite`].
    ///
    /// **PostgreSQL**: `postgres://user:password@host:port/database` (or
    /// `postgresql://`), with libpq's parameters as `sqlx` reads them
    /// (`sslmode`, `application_name`, `options`, `host=/socket/dir`, …;
    /// as with libpq, what the URL leaves out comes from the `PG*`
    /// environment variables, and a missing password from `~/.pgpass`), and
    /// pod's own:
    /// - `max_connections` (1 to 10000, default 16): the pool's size;
    /// - `acquire_timeout_ms` (default 5000): how long a caller waits for a
    ///   free connection, and how long connecting at start-up may take;
    /// - `statement_timeout_ms` (default 5000, 0 for none): the server
    ///   cancels a statement running longer (set it here rather than in
    ///   `options`, which pod's value would override).
    ///
    /// The driver is built without TLS: `sslmode=disable`, `allow` or
    /// `prefer` (the default) connect in plain TCP; `require` and the
    /// `verify-*` modes fail. Use it on loopback, a private network, or
    /// through a TLS-terminating proxy. Connecting opens one connection at
    /// once, to migrate (under an advisory lock, so several servers may
    /// start together on an empty database); the pool opens the others as
    /// needed.
    ///
    /// Errors: [`StoreError::Unavailable`] for another scheme, a malformed
    /// URL or an unknown or invalid parameter, when the server cannot be
    /// reached or refuses the connection, or when a migration fails. The
    /// message never repeats the URL, which may hold a password.
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(SqlStore {
                backend: Backend::Postgres(Arc::new(Postgres::connect(url).await?)),
            });
        }
        Self::open(sqlite::target_of(url)?).await
    }

    async fn open(target: Target) -> Result<SqlStore, StoreError> {
        Ok(SqlStore {
            backend: Backend::Sqlite(Arc::new(Engine::open(target).await?)),
        })
    }

    /// Reports every committed batch (its number of writes and how long it
    /// took) to `telemetry`, for the batch-size histogram: SQLite's group
    /// commits, or each PostgreSQL account commit as a batch of one.
    /// Applies to every clone of the store.
    pub fn with_telemetry(self, telemetry: Arc<dyn StoreTelemetry>) -> Self {
        self.set_telemetry(telemetry);
        self
    }

    /// Like [`SqlStore::with_telemetry`], on a shared store.
    pub fn set_telemetry(&self, telemetry: Arc<dyn StoreTelemetry>) {
        match &self.backend {
            Backend::Sqlite(engine) => engine.set_telemetry(telemetry),
            Backend::Postgres(db) => db.set_telemetry(telemetry),
        }
    }

    /// The [`OrderEvents`] port for the services of a server on this store,
    /// with `local` (the server's in-process fan-out to its live pages) as
    /// where events arrive, and `resync` as what to do when events may have
    /// been missed.
    ///
    /// - **SQLite** (one process): events go straight to `local`; `resync`
    ///   is never called and there is nothing to stop.
    /// - **PostgreSQL** (several servers): the publisher sends each event
    ///   with `pg_notify` on [`ORDER_EVENTS_CHANNEL`] (ids only), and a
    ///   listener on a connection of its own (application name
    ///   `<the URL's application_name, or pod>-listener`) receives every
    ///   server's events, this one's included: it loads each event's order
    ///   ([`AccountStore::order`], as stored when the notification arrives)
    ///   and publishes the event to `local`, so each event reaches each
    ///   server's `local` once. When the listener's connection is lost it
    ///   listens again, with a bounded backoff, and then calls `resync`:
    ///   every page that follows events should reload from the store. An
    ///   event that cannot be delivered (its order is gone, or cannot be
    ///   loaded) also calls `resync`; one that cannot be sent goes to
    ///   `local` alone, logged at warn. This returns once the listener's
    ///   `LISTEN` is in effect, so nothing published afterwards is missed.
    ///
    /// `resync` runs on the listener's task: keep it quick (a broadcast,
    /// not a reload). Must be called inside a tokio runtime (the listener
    /// is a task).
    /// Stop the listener with [`StoreEvents::stop`] before closing the
    /// store; dropping the [`StoreEvents`] stops it too.
    ///
    /// Errors: [`StoreError::Unavailable`] when the listener's first
    /// connection or `LISTEN` fails (PostgreSQL only).
    pub async fn order_events(
        &self,
        local: Arc<dyn OrderEvents>,
        resync: impl Fn() + Send + Sync + 'static,
    ) -> Result<StoreEvents, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(StoreEvents {
                publisher: local,
                listener: None,
            }),
            Backend::Postgres(db) => {
                let (publisher, listener) =
                    postgres::events::start(db.clone(), local, Arc::new(resync)).await?;
                Ok(StoreEvents {
                    publisher,
                    listener: Some(listener),
                })
            }
        }
    }

    /// Lets the writes under way finish, then closes every connection.
    /// Every clone of the store fails with [`StoreError::Unavailable`]
    /// afterwards. Not needed for durability (every write is committed when
    /// it returns); it lets SQLite checkpoint the log and tidy up its
    /// files, and PostgreSQL end its server processes at once.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(engine) => engine.close().await,
            Backend::Postgres(db) => db.close().await,
        }
    }
}

/// Order events for the servers on one store, from
/// [`SqlStore::order_events`]: the port the services publish to, and (on
/// PostgreSQL) the listener that feeds this server's local sink.
pub struct StoreEvents {
    publisher: Arc<dyn OrderEvents>,
    listener: Option<ListenerHandle>,
}

impl StoreEvents {
    /// The [`OrderEvents`] port to give the services.
    pub fn publisher(&self) -> Arc<dyn OrderEvents> {
        self.publisher.clone()
    }

    /// Stops the listener and waits until its connection is closed
    /// (nothing to do on SQLite). The publisher keeps working, but events
    /// no longer reach this server's local sink through the database.
    pub async fn stop(self) {
        if let Some(listener) = self.listener {
            listener.stop().await;
        }
    }
}

impl fmt::Debug for StoreEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreEvents")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

// The ports, each method sent to the backend. SQLite's reads are plain
// function calls (they run inline on the calling task); everything else is
// awaited.

#[async_trait]
impl AccountStore for SqlStore {
    async fn load_account(&self, customer: &CustomerId) -> Result<Account, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.load_account(customer),
            Backend::Postgres(db) => db.load_account(customer).await,
        }
    }

    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.commit(change).await,
            Backend::Postgres(db) => db.commit(change).await,
        }
    }

    async fn order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.order(id),
            Backend::Postgres(db) => db.order(id).await,
        }
    }

    async fn orders_of(&self, customer: &CustomerId) -> Result<Vec<Order>, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.orders_of(customer),
            Backend::Postgres(db) => db.orders_of(customer).await,
        }
    }

    async fn clear_confirmed(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.clear_confirmed(customer).await,
            Backend::Postgres(db) => db.clear_confirmed(customer).await,
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.ready().await,
            Backend::Postgres(db) => db.ping().await,
        }
    }
}

#[async_trait]
impl AnsweredRequests for SqlStore {
    async fn claim(
        &self,
        request_id: &str,
        fingerprint: &[u8],
        now: Timestamp,
        keep_until: Timestamp,
    ) -> Result<Claim, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.claim(request_id, fingerprint, now, keep_until).await,
            Backend::Postgres(db) => db.claim(request_id, fingerprint, now, keep_until).await,
        }
    }

    async fn record_answer(&self, request_id: &str, answer: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.record_answer(request_id, answer).await,
            Backend::Postgres(db) => db.record_answer(request_id, answer).await,
        }
    }

    async fn release(&self, request_id: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.release(request_id).await,
            Backend::Postgres(db) => db.release(request_id).await,
        }
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn add_user(&self, user: &LocalUser) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.add_user(user).await,
            Backend::Postgres(db) => db.add_user(user).await,
        }
    }

    async fn user_by_id(&self, id: &CustomerId) -> Result<Option<LocalUser>, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.user_by_id(id),
            Backend::Postgres(db) => db.user_by_id(id).await,
        }
    }

    async fn user_by_login(&self, name_or_email: &str) -> Result<Option<LocalUser>, StoreError> {
        let key = login_key(name_or_email);
        if key.is_empty() {
            return Ok(None);
        }
        match &self.backend {
            Backend::Sqlite(engine) => engine.user_by_login_key(&key),
            Backend::Postgres(db) => db.user_by_login_key(&key).await,
        }
    }

    async fn users(&self) -> Result<Vec<LocalUser>, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.users(),
            Backend::Postgres(db) => db.users().await,
        }
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
        let new = NewSession::draw(customer, pending, now, expires_at)?;
        match &self.backend {
            Backend::Sqlite(engine) => engine.create_session(new).await,
            Backend::Postgres(db) => db.create_session(new).await,
        }
    }

    async fn session(&self, id: &SessionId, now: Timestamp) -> Result<Option<Session>, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.session(id, now),
            Backend::Postgres(db) => db.session(id, now).await,
        }
    }

    async fn set_pending(&self, id: &SessionId, pending: Option<String>) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.set_pending(id, pending).await,
            Backend::Postgres(db) => db.set_pending(id, pending).await,
        }
    }

    async fn rotate_session(
        &self,
        id: &SessionId,
        customer: &CustomerId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(SessionId, Session), StoreError> {
        let new = NewSession::draw(Some(customer.clone()), None, now, expires_at)?;
        match &self.backend {
            Backend::Sqlite(engine) => engine.rotate_session(id, new).await,
            Backend::Postgres(db) => db.rotate_session(id, new).await,
        }
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.delete_session(id).await,
            Backend::Postgres(db) => db.delete_session(id).await,
        }
    }
}

#[async_trait]
impl AlexaLinks for SqlStore {
    async fn link(
        &self,
        alexa_user: &AlexaUserId,
        customer: &CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.link(alexa_user, customer, at).await,
            Backend::Postgres(db) => db.link(alexa_user, customer, at).await,
        }
    }

    async fn forget(&self, alexa_user: &AlexaUserId) -> Result<Option<CustomerId>, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.forget(alexa_user).await,
            Backend::Postgres(db) => db.forget(alexa_user).await,
        }
    }

    async fn customer_of(
        &self,
        alexa_user: &AlexaUserId,
    ) -> Result<Option<CustomerId>, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.customer_of(alexa_user),
            Backend::Postgres(db) => db.customer_of(alexa_user).await,
        }
    }
}

#[async_trait]
impl OAuthStore for SqlStore {
    async fn add_client(&self, client: &OAuthClient) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.add_oauth_client(client).await,
            Backend::Postgres(db) => db.add_oauth_client(client).await,
        }
    }

    async fn client(&self, id: &str) -> Result<Option<OAuthClient>, StoreError> {
        let clients = match &self.backend {
            Backend::Sqlite(engine) => engine.oauth_clients(Some(id))?,
            Backend::Postgres(db) => db.oauth_clients(Some(id)).await?,
        };
        Ok(clients.into_iter().next())
    }

    async fn clients(&self) -> Result<Vec<OAuthClient>, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.oauth_clients(None),
            Backend::Postgres(db) => db.oauth_clients(None).await,
        }
    }

    async fn remove_client(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.remove_oauth_client(id, now).await,
            Backend::Postgres(db) => db.remove_oauth_client(id, now).await,
        }
    }

    async fn save_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.save_oauth_code(code).await,
            Backend::Postgres(db) => db.save_oauth_code(code).await,
        }
    }

    async fn code(&self, digest: &[u8]) -> Result<Option<AuthorizationCode>, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.oauth_code(digest),
            Backend::Postgres(db) => db.oauth_code(digest).await,
        }
    }

    async fn consume_code(
        &self,
        digest: &[u8],
        grant: Option<&NewGrant>,
        now: Timestamp,
    ) -> Result<Redemption, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.consume_oauth_code(digest, grant, now).await,
            Backend::Postgres(db) => db.consume_oauth_code(digest, grant, now).await,
        }
    }

    async fn refresh_grant(&self, digest: &[u8]) -> Result<Option<Grant>, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.oauth_refresh_grant(digest),
            Backend::Postgres(db) => db.oauth_refresh_grant(digest).await,
        }
    }

    async fn rotate_refresh(
        &self,
        old: &[u8],
        new: &[u8],
        now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.rotate_oauth_refresh(old, new, now).await,
            Backend::Postgres(db) => db.rotate_oauth_refresh(old, new, now).await,
        }
    }

    async fn grant(&self, id: &GrantId) -> Result<Option<Grant>, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.oauth_grant(id),
            Backend::Postgres(db) => db.oauth_grant(id).await,
        }
    }

    async fn grants_of(&self, customer: &CustomerId) -> Result<Vec<Grant>, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => engine.oauth_grants_of(customer),
            Backend::Postgres(db) => db.oauth_grants_of(customer).await,
        }
    }

    async fn revoke_grants(
        &self,
        client: Option<&str>,
        customer: Option<&CustomerId>,
        grant: Option<&GrantId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(engine) => {
                engine
                    .revoke_oauth_grants(client, customer, grant, now)
                    .await
            }
            Backend::Postgres(db) => db.revoke_oauth_grants(client, customer, grant, now).await,
        }
    }
}
