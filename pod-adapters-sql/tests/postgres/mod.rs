//! `SqlStore` on a real PostgreSQL server on loopback: the store contract,
//! users, sessions, orders in every state, corrupt rows, concurrent first
//! connects, the pool's limits, URLs that cannot work, and order events
//! between servers (`events.rs`).
//!
//! The server is the one `POD_TEST_POSTGRES_URL` names, an admin URL such
//! as `postgres://postgres@127.0.0.1:PORT/postgres`; every test makes a
//! database of its own through it (`CREATE DATABASE pod_test_…`) and drops
//! it when done. Without the variable every test here fails, saying how to
//! run them.

mod events;
mod sessions;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use pod_adapters_sql::SqlStore;
use pod_ports::domain::Account;
use pod_ports::{AccountStore, StoreError};
use sqlx::{Connection, PgConnection};
use tokio::sync::Barrier;
use url::Url;

use super::{
    ACCOUNT_DAMAGE, Batches, ORDER_DAMAGE, RawDb, a_closed_store_refuses_everything,
    a_second_waiting_order_conflicts, account_damage_is_noticed,
    an_order_id_of_another_customer_conflicts, at, before_account_damage, before_order_damage,
    commit, customer, is_conflict, order_damage_is_noticed, orders_list_newest_first_then_by_id,
    orders_round_trip, place, taken_logins_conflict, users_are_found_in_any_case,
};

const HOW_TO_RUN: &str = "\
The PostgreSQL tests need a server: set POD_TEST_POSTGRES_URL to an admin URL \
on loopback (postgres://postgres@127.0.0.1:PORT/postgres). \
`bash scripts/test.sh` starts a throwaway cluster for the whole suite; for \
this crate alone run `eval \"$(bash scripts/pg-cluster.sh start)\"` first \
(and `bash scripts/pg-cluster.sh stop \"$POD_TEST_POSTGRES_DIR\"` after). \
To leave these tests out, build with POD_SKIP_POSTGRES=1.";

/// The admin URL; panics (the test fails) with [`HOW_TO_RUN`] without one.
fn admin_url() -> String {
    match std::env::var("POD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("POD_TEST_POSTGRES_URL is not set. {HOW_TO_RUN}"),
    }
}

/// A database of one test's own, dropped (with its connections) when this
/// guard is.
pub(crate) struct TestDb {
    admin: String,
    name: String,
    url: Url,
}

impl TestDb {
    pub(crate) async fn new() -> TestDb {
        let admin = admin_url();
        let name = format!("pod_test_{:016x}", rand::random::<u64>());
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("cannot connect to POD_TEST_POSTGRES_URL ({e}). {HOW_TO_RUN}")
        });
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let mut url = Url::parse(&admin).expect("POD_TEST_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        TestDb { admin, name, url }
    }

    /// The database's URL, with `params` added to its query.
    pub(crate) fn url_with(&self, params: &[(&str, &str)]) -> String {
        let mut url = self.url.clone();
        if !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params);
        }
        url.to_string()
    }

    pub(crate) fn url(&self) -> String {
        self.url_with(&[])
    }

    pub(crate) async fn store(&self) -> SqlStore {
        SqlStore::connect(&self.url()).await.unwrap()
    }

    /// A connection of its own, to look at or damage the database behind
    /// the store's back.
    pub(crate) async fn raw(&self) -> PgConnection {
        PgConnection::connect(&self.url()).await.unwrap()
    }
}

impl RawDb for TestDb {
    async fn raw_execute(&self, sql: &str) {
        execute(&mut self.raw().await, sql).await;
    }

    async fn raw_count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut self.raw().await)
            .await
            .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // On a thread with a runtime of its own: the test's runtime may be
        // shutting down, and Drop cannot await. Best effort: the throwaway
        // cluster goes away whole anyway.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&admin).await.ok()?;
                sqlx::raw_sql(&drop).execute(&mut conn).await.ok()?;
                conn.close().await.ok()
            })
        })
        .join();
    }
}

async fn store() -> (TestDb, SqlStore) {
    let db = TestDb::new().await;
    let store = db.store().await;
    (db, store)
}

/// Runs `sql` on `conn`; `false` when the server refuses it.
async fn try_execute(conn: &mut PgConnection, sql: &str) -> bool {
    sqlx::raw_sql(sql).execute(conn).await.is_ok()
}

async fn execute(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sql).execute(conn).await.unwrap();
}

async fn strings(conn: &mut PgConnection, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sql).fetch_all(conn).await.unwrap()
}

async fn schema_versions(conn: &mut PgConnection) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM pod_schema_migrations ORDER BY version")
        .fetch_all(conn)
        .await
        .unwrap()
}

// ---------------------------------------------------------------- contract

async fn make_store() -> (Arc<dyn AccountStore>, TestDb) {
    let (db, store) = store().await;
    (Arc::new(store), db)
}

pod_ports::account_store_contract!(make_store);

mod links {
    use super::*;
    use pod_ports::AlexaLinks;

    async fn make_links() -> (Arc<dyn AlexaLinks>, TestDb) {
        let (db, store) = store().await;
        (Arc::new(store), db)
    }

    pod_ports::alexa_links_contract!(make_links);
}

mod answers {
    use super::*;
    use pod_ports::AnsweredRequests;

    async fn make_store() -> (Arc<dyn AnsweredRequests>, TestDb) {
        let (db, store) = store().await;
        (Arc::new(store), db)
    }

    pod_ports::answered_requests_contract!(make_store);
}

mod oauth_contract {
    use super::*;

    async fn make_store() -> (Arc<dyn pod_ports::OAuthStore>, TestDb) {
        let (db, store) = store().await;
        (Arc::new(store), db)
    }

    pod_ports::oauth_store_contract!(make_store);
}

// ---------------------------------------------------------------- connecting

#[tokio::test]
async fn connect_migrates_an_empty_database_once() {
    let (db, store) = store().await;
    let mut raw = db.raw().await;
    assert_eq!(
        strings(
            &mut raw,
            "SELECT tablename::text FROM pg_tables \
             WHERE schemaname = current_schema() ORDER BY 1"
        )
        .await,
        [
            "accounts",
            "alexa_links",
            "answered_requests",
            "oauth_clients",
            "oauth_codes",
            "oauth_grants",
            "oauth_refresh_tokens",
            "orders",
            "pod_schema_migrations",
            "sessions",
            "users"
        ]
    );
    assert_eq!(schema_versions(&mut raw).await, [1, 2, 3, 4]);
    // Digests and session ids are BYTEA; keys sort bytewise.
    assert_eq!(
        strings(
            &mut raw,
            "SELECT DISTINCT data_type::text FROM information_schema.columns \
             WHERE column_name IN ('order_code_digest', 'sign_in_digest', 'id_hash')"
        )
        .await,
        ["bytea"]
    );
    assert_eq!(
        strings(
            &mut raw,
            "SELECT DISTINCT collation_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name IN ('id', 'customer_id')"
        )
        .await,
        ["C"]
    );
    let partial: Vec<String> = strings(
        &mut raw,
        "SELECT indexdef::text FROM pg_indexes WHERE indexname = 'orders_one_pending_per_customer'",
    )
    .await;
    assert_eq!(partial.len(), 1);
    assert!(
        partial[0].starts_with("CREATE UNIQUE INDEX") && partial[0].contains("awaiting_code"),
        "{partial:?}"
    );

    // Connecting again applies nothing and keeps everything.
    let who = customer("local|a");
    let account = commit(&store, &place(&Account::new(who.clone()), "o1", at(0))).await;
    store.close().await;
    let again = db.store().await;
    assert_eq!(again.load_account(&who).await.unwrap(), account);
    assert_eq!(schema_versions(&mut raw).await, [1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn servers_starting_together_on_an_empty_database_all_come_up() {
    const SERVERS: usize = 4;
    let db = TestDb::new().await;
    let barrier = Arc::new(Barrier::new(SERVERS));
    let tasks: Vec<_> = (0..SERVERS)
        .map(|_| {
            let url = db.url();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                SqlStore::connect(&url).await
            })
        })
        .collect();
    let mut stores = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(store) => stores.push(store),
            Err(e) => panic!("server {n} did not come up: {e}"),
        }
    }
    // Each writes, and each sees what every other wrote.
    for (n, store) in stores.iter().enumerate() {
        let who = customer(&format!("local|s{n}"));
        commit(store, &place(&Account::new(who), &format!("s{n}"), at(0))).await;
    }
    for store in &stores {
        for n in 0..SERVERS {
            let account = store
                .load_account(&customer(&format!("local|s{n}")))
                .await
                .unwrap();
            assert_eq!(
                account.pending().map(|o| o.id().to_string()),
                Some(format!("s{n}"))
            );
        }
    }
    assert_eq!(schema_versions(&mut db.raw().await).await, [1, 2, 3, 4]);
}

#[tokio::test]
async fn a_schema_newer_than_this_pod_is_refused() {
    let (db, _store) = store().await;
    execute(
        &mut db.raw().await,
        "INSERT INTO pod_schema_migrations (version) VALUES (99)",
    )
    .await;
    match SqlStore::connect(&db.url()).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("newer"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn unreachable_and_wrong_urls_are_unavailable_and_never_echoed() {
    let admin = Url::parse(&admin_url()).unwrap();
    let server = format!(
        "{}:{}",
        admin.host_str().unwrap(),
        admin.port().unwrap_or(5432)
    );
    // A loopback port nothing listens on: bound, then let go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let urls = [
        format!("postgres://pod:hunter2@{closed}/pod"),
        format!("postgres://postgres:hunter2@{server}/pod_no_such_database"),
        format!("postgres://no_such_role:hunter2@{server}/postgres"),
        // pod's driver has no TLS.
        format!("postgres://postgres:hunter2@{server}/postgres?sslmode=require"),
        format!("postgresql://postgres:hunter2@{server}/postgres?max_connections=0"),
        format!("postgresql://postgres:hunter2@{server}/postgres?acquire_timeout_ms=x"),
    ];
    for url in &urls {
        match SqlStore::connect(url).await {
            Err(StoreError::Unavailable(message)) => {
                assert!(!message.contains("hunter2"), "{url}: {message}");
                assert!(!message.contains(&server), "{url}: {message}");
                assert!(!message.contains(&closed.to_string()), "{url}: {message}");
                assert!(!message.is_empty());
            }
            other => panic!("{url}: expected Unavailable, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn debug_output_names_no_connection_details() {
    let db = TestDb::new().await;
    // The test cluster trusts loopback, so any password does.
    let mut url = Url::parse(&db.url()).unwrap();
    url.set_password(Some("hunter2")).unwrap();
    let store = SqlStore::connect(url.as_str()).await.unwrap();
    store.ping().await.unwrap();
    let debug = format!("{store:?}");
    assert!(debug.starts_with("SqlStore"), "{debug}");
    assert!(debug.contains("postgres"), "{debug}");
    for secret in [
        "hunter2",
        db.name.as_str(),
        url.host_str().unwrap(),
        &url.port().unwrap_or(5432).to_string(),
    ] {
        assert!(!debug.contains(secret), "{debug} shows {secret}");
    }
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let (_db, store) = store().await;
    a_closed_store_refuses_everything(store).await;
}

/// Statement timeout and acquire timeout, set through the URL: a commit
/// stuck behind another transaction's row lock holds the pool's only
/// connection, so another caller times out waiting for it; then the
/// server cancels the stuck statement. Both fail as Unavailable, nothing
/// hangs, and the store works once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_urls_limits_bound_every_wait() {
    let db = TestDb::new().await;
    let store = SqlStore::connect(&db.url_with(&[
        ("max_connections", "1"),
        ("acquire_timeout_ms", "200"),
        // Far longer than the acquire timeout, so that the ping below
        // times out while the commit still waits.
        ("statement_timeout_ms", "3000"),
    ]))
    .await
    .unwrap();
    let who = customer("local|a");
    let account = commit(&store, &place(&Account::new(who.clone()), "o1", at(0))).await;

    let mut blocker = db.raw().await;
    execute(&mut blocker, "BEGIN").await;
    execute(
        &mut blocker,
        "SELECT 1 FROM accounts WHERE customer_id = 'local|a' FOR UPDATE",
    )
    .await;
    let stuck = {
        let store = store.clone();
        let change = place(&account, "o2", at(1));
        tokio::spawn(async move { store.commit(&change).await })
    };
    // Wait until the commit waits for the row lock (polling the server;
    // bounded, and no assertion on time).
    let mut observer = db.raw().await;
    let mut waiting = false;
    for _ in 0..200 {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut observer)
        .await
        .unwrap();
        if n > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(waiting, "the commit never waited for the lock");
    match store.ping().await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("acquire timeout"), "{message}");
        }
        other => panic!("expected an acquire timeout, got {other:?}"),
    }
    match stuck.await.unwrap() {
        Err(StoreError::Unavailable(message)) => {
            // 57014: query_canceled, the statement timeout.
            assert!(message.contains("57014"), "{message}");
        }
        other => panic!("expected a statement timeout, got {other:?}"),
    }
    execute(&mut blocker, "ROLLBACK").await;
    store.ping().await.unwrap();
    let account = store.load_account(&who).await.unwrap();
    assert_eq!(account.version(), 1, "the cancelled commit wrote nothing");
    commit(&store, &place(&account, "o2", at(1))).await;
}

// ---------------------------------------------------------------- accounts

#[tokio::test]
async fn orders_round_trip_in_every_state() {
    let (db, store) = store().await;
    orders_round_trip(&store, &db).await;
}

#[tokio::test]
async fn orders_of_lists_newest_first_then_by_id() {
    let (_db, store) = store().await;
    orders_list_newest_first_then_by_id(&store).await;
}

#[tokio::test]
async fn an_order_id_of_another_customer_is_a_conflict() {
    let (_db, store) = store().await;
    an_order_id_of_another_customer_conflicts(&store).await;
}

#[tokio::test]
async fn a_second_waiting_order_is_a_conflict_and_writes_nothing() {
    let (db, store) = store().await;
    a_second_waiting_order_conflicts(&store, &db).await;
}

#[tokio::test]
async fn each_commit_is_reported_as_a_batch_of_one() {
    let (_db, store) = store().await;
    let batches = Arc::new(Batches::default());
    let store = store.with_telemetry(batches.clone());
    let who = customer("local|a");
    let first = place(&Account::new(who.clone()), "o1", at(0));
    let account = commit(&store, &first).await;
    commit(&store, &place(&account, "o2", at(1))).await;
    // Refused (stale), still a finished commit.
    assert!(is_conflict(store.commit(&first).await));
    let other = Account::new(customer("local|b"));
    commit(&store, &place(&other, "x1", at(0))).await;
    assert_eq!(*batches.0.lock().unwrap(), [1, 1, 1, 1]);
}

#[tokio::test]
async fn corrupt_rows_are_corrupt_errors_not_panics() {
    // The columns are typed: PostgreSQL refuses most damage of the wrong
    // type outright, and turns these into valid values of the column's
    // type (a bit string cast to its digits as text, 'abc' read as bytes),
    // so they are no damage here.
    const NOT_DAMAGE_HERE: [&str; 3] = [
        "binary customer",
        "digest of the wrong type",
        "send list of the wrong type",
    ];
    let (db, store) = store().await;
    let mut raw = db.raw().await;
    let mut applied = HashSet::new();
    for &(what, damage) in ORDER_DAMAGE {
        if NOT_DAMAGE_HERE.contains(&what) {
            continue;
        }
        execute(&mut raw, "DELETE FROM orders; DELETE FROM accounts;").await;
        before_order_damage(&store).await;
        if try_execute(&mut raw, damage).await {
            applied.insert(what);
            order_damage_is_noticed(&store, what).await;
        }
    }
    for &(what, damage) in ACCOUNT_DAMAGE {
        if NOT_DAMAGE_HERE.contains(&what) {
            continue;
        }
        execute(&mut raw, "DELETE FROM orders; DELETE FROM accounts;").await;
        before_account_damage(&store).await;
        if try_execute(&mut raw, damage).await {
            applied.insert(what);
            account_damage_is_noticed(&store, what).await;
        }
    }
    for expected in [
        "unknown size",
        "unknown state",
        "version zero",
        "negative attempts",
        "huge attempts",
        "bad order id",
        "bad send list",
        "negative failures",
        "sign-in code without expiry",
    ] {
        assert!(applied.contains(expected), "{expected} was not tried");
    }
}

// ---------------------------------------------------------------- users

#[tokio::test]
async fn users_are_found_by_id_and_by_name_or_email_in_any_case() {
    let (_db, store) = store().await;
    users_are_found_in_any_case(&store).await;
}

#[tokio::test]
async fn a_taken_id_name_or_email_is_a_conflict() {
    let (_db, store) = store().await;
    taken_logins_conflict(&store).await;
}
