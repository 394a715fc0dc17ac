//! The crate's one test binary: `SqlStore` on both backends.
//!
//! SQLite (this file and `sqlite/`), against real files in temporary
//! directories (and the in-memory database): the store contract, the
//! engine's group commit and inline readers, users, sessions, corrupt rows,
//! reopening, migrations (concurrent openers, databases of the earlier sqlx
//! engine), and a writer killed with SIGKILL mid-write.
//!
//! PostgreSQL (`postgres/`), against a real server on loopback named by
//! `POD_TEST_POSTGRES_URL`, each test in a database of its own: the same
//! contract, users, sessions, concurrent first connects, limits, refused
//! URLs, and order events between servers through LISTEN/NOTIFY. Without
//! that variable those tests fail and say how to run them (`bash
//! scripts/test.sh` starts a throwaway cluster); building with
//! `POD_SKIP_POSTGRES=1` leaves them out.

#[path = "sqlite/crash.rs"]
mod crash;
#[path = "sqlite/migrations.rs"]
mod migrations;
#[cfg(not(pod_skip_postgres))]
#[path = "postgres/mod.rs"]
mod postgres;
#[path = "sqlite/sessions.rs"]
mod sessions;

/// What stands in for the PostgreSQL tests when they are left out.
#[cfg(pod_skip_postgres)]
#[test]
fn postgres_tests_skipped() {
    eprintln!(
        "POD_SKIP_POSTGRES=1: the PostgreSQL tests were left out of this build; \
         `bash scripts/test.sh` runs them against a throwaway cluster"
    );
}

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pod_adapters_sql::SqlStore;
use pod_ports::domain::{
    Account, CancelReason, Change, CodeCheck, CodeDigest, ConfirmResult, ConfirmationPolicy,
    CustomerId, Destination, Order, OrderCodeStep, OrderId, OrderState, Pizza, PizzaSize,
    Timestamp, Topping,
};
use pod_ports::{
    AccountStore, AnsweredRequests, Claim, LocalUser, SessionId, SessionStore, StoreError,
    StoreTelemetry, UserStore,
};
use tempfile::TempDir;

// ---------------------------------------------------------------- helpers

/// A fixed point in time; tests never read a clock.
const T0: Timestamp = Timestamp::from_unix_seconds(1_700_000_000);

fn at(seconds: u64) -> Timestamp {
    T0.plus(Duration::from_secs(seconds))
}

fn customer(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

fn oid(id: &str) -> OrderId {
    OrderId::parse(id).unwrap()
}

fn policy() -> ConfirmationPolicy {
    ConfirmationPolicy::default()
}

fn pizza() -> Pizza {
    Pizza::new(PizzaSize::Large, [Topping::Pepperoni, Topping::ExtraCheese]).unwrap()
}

/// Places order `id` on `account` at `now`, its code going by SMS.
fn place(account: &Account, id: &str, now: Timestamp) -> Change {
    place_to(account, id, now, &Destination::sms("+15550100123"))
}

fn place_to(account: &Account, id: &str, now: Timestamp, destination: &Destination) -> Change {
    account
        .place_order(
            oid(id),
            pizza(),
            destination,
            Some(CodeDigest::new(vec![0xab; 32])),
            now,
            &policy(),
        )
        .unwrap()
        .change
}

/// The change of checking `check` against the pending order `id`.
fn check(account: &Account, id: &str, check: CodeCheck, now: Timestamp) -> Change {
    account
        .apply_order_check(&oid(id), check, now, &policy())
        .unwrap()
        .0
        .unwrap()
}

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("pod.db")
}

async fn open(dir: &TempDir) -> SqlStore {
    SqlStore::open_sqlite(&db_path(dir)).await.unwrap()
}

/// A connection of its own, to look at or damage the file behind the
/// store's back.
fn raw(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

fn integrity(path: &Path) -> String {
    raw(path)
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap()
}

fn tables(conn: &rusqlite::Connection) -> Vec<String> {
    let mut statement = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite%' ORDER BY name",
        )
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict))
}

/// Commits `change` and returns the account after it.
async fn commit(store: &SqlStore, change: &Change) -> Account {
    store.commit(change).await.unwrap();
    change.account().clone()
}

/// A store's database reached behind the store's back, as a writer other
/// than pod would: to look at what is stored, or to damage it. SQLite's is
/// the `pod.db` in the test's folder, PostgreSQL's the test's own database.
trait RawDb {
    /// Runs `sql`; panics when the database refuses it.
    async fn raw_execute(&self, sql: &str);
    /// How many rows `table` holds.
    async fn raw_count(&self, table: &str) -> i64;
}

impl RawDb for TempDir {
    async fn raw_execute(&self, sql: &str) {
        raw(&db_path(self)).execute_batch(sql).unwrap();
    }

    async fn raw_count(&self, table: &str) -> i64 {
        raw(&db_path(self))
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap()
    }
}

// ---------------------------------------------------------------- contract

async fn make_store() -> (Arc<dyn AccountStore>, TempDir) {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    (Arc::new(store), dir)
}

pod_ports::account_store_contract!(make_store);

mod answers {
    use super::*;
    use pod_ports::AnsweredRequests;

    async fn make_store() -> (Arc<dyn AnsweredRequests>, TempDir) {
        let dir = TempDir::new().unwrap();
        let store = open(&dir).await;
        (Arc::new(store), dir)
    }

    pod_ports::answered_requests_contract!(make_store);
}

mod in_memory {
    use super::*;

    async fn make_store() -> (Arc<dyn AccountStore>, ()) {
        (
            Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap()),
            (),
        )
    }

    pod_ports::account_store_contract!(make_store);

    async fn make_links() -> (Arc<dyn pod_ports::AlexaLinks>, ()) {
        (
            Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap()),
            (),
        )
    }

    pod_ports::alexa_links_contract!(make_links);

    mod answers {
        use super::*;
        use pod_ports::AnsweredRequests;

        async fn make_store() -> (Arc<dyn AnsweredRequests>, ()) {
            (
                Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap()),
                (),
            )
        }

        pod_ports::answered_requests_contract!(make_store);
    }
}

mod links {
    use super::*;

    async fn make_links() -> (Arc<dyn pod_ports::AlexaLinks>, TempDir) {
        let dir = TempDir::new().unwrap();
        let store = open(&dir).await;
        (Arc::new(store), dir)
    }

    pod_ports::alexa_links_contract!(make_links);

    /// A damaged customer id is a corrupt error that names neither the
    /// Alexa user nor the value.
    #[tokio::test]
    async fn a_corrupt_link_is_a_corrupt_error() {
        use pod_ports::{AlexaLinks, AlexaUserId};
        let dir = TempDir::new().unwrap();
        let store = open(&dir).await;
        let user = AlexaUserId::parse("amzn1.ask.account.SECRET").unwrap();
        store
            .link(&user, &customer("local|a"), at(0))
            .await
            .unwrap();
        dir.raw_execute("UPDATE alexa_links SET customer_id = 'bad' || char(10) || 'id'")
            .await;
        for result in [store.customer_of(&user).await, store.forget(&user).await] {
            match result {
                Err(StoreError::Corrupt(message)) => {
                    assert!(message.contains("alexa_links"), "{message}");
                    assert!(!message.contains("SECRET"), "{message}");
                    assert!(!message.contains("bad"), "{message}");
                }
                other => panic!("expected Corrupt, got {other:?}"),
            }
        }
    }
}

mod oauth_contract {
    use super::*;

    async fn on_file() -> (Arc<dyn pod_ports::OAuthStore>, TempDir) {
        let dir = TempDir::new().unwrap();
        let store = open(&dir).await;
        (Arc::new(store), dir)
    }

    pod_ports::oauth_store_contract!(on_file);

    mod in_memory {
        use super::*;

        async fn in_memory() -> (Arc<dyn pod_ports::OAuthStore>, ()) {
            (
                Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap()),
                (),
            )
        }

        pod_ports::oauth_store_contract!(in_memory);
    }
}

// ---------------------------------------------------------------- opening

#[tokio::test]
async fn open_creates_the_file_in_wal_mode_and_migrates() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    assert!(!path.exists());
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    store.ping().await.unwrap();
    assert!(path.exists());

    let conn = raw(&path);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 6);
    assert_eq!(
        tables(&conn),
        [
            "accounts",
            "alexa_links",
            "answered_requests",
            "oauth_clients",
            "oauth_codes",
            "oauth_grants",
            "oauth_refresh_tokens",
            "orders",
            "sessions",
            "users"
        ]
    );
}

#[tokio::test]
async fn open_reports_an_unusable_path_as_unavailable() {
    let dir = TempDir::new().unwrap();
    let not_a_database = dir.path().join("garbage.db");
    std::fs::write(&not_a_database, [0x5a_u8; 8192]).unwrap();
    for path in [
        dir.path().join("no-such-dir").join("pod.db"),
        dir.path().to_path_buf(), // a directory
        not_a_database,
    ] {
        match SqlStore::open_sqlite(&path).await {
            Err(StoreError::Unavailable(message)) => assert!(!message.is_empty()),
            other => panic!("{}: expected Unavailable, got {other:?}", path.display()),
        }
    }
    // mode=rw does not create a missing file.
    let missing = format!("sqlite:{}?mode=rw", dir.path().join("missing.db").display());
    assert!(matches!(
        SqlStore::connect(&missing).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(!dir.path().join("missing.db").exists());
}

#[tokio::test]
async fn debug_output_names_no_connection_details() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let debug = format!("{store:?}");
    assert!(debug.starts_with("SqlStore"), "{debug}");
    assert!(!debug.contains("pod.db"), "{debug}");
    assert!(
        !debug.contains(&dir.path().display().to_string()),
        "{debug}"
    );
}

#[tokio::test]
async fn connect_accepts_known_schemes_only_and_never_echoes_the_url() {
    let dir = TempDir::new().unwrap();
    let file_url = format!("sqlite:{}", dir.path().join("url.db").display());
    for url in [file_url.as_str(), "sqlite::memory:"] {
        let store = SqlStore::connect(url).await.unwrap();
        let account = store.load_account(&customer("local|a")).await.unwrap();
        store.commit(&place(&account, "o1", at(0))).await.unwrap();
        // Several reads: an in-memory database is one database, kept.
        for _ in 0..3 {
            let account = store.load_account(&customer("local|a")).await.unwrap();
            assert_eq!(account.pending().map(|o| o.id().as_str()), Some("o1"));
        }
    }
    assert!(dir.path().join("url.db").exists());
    for url in [
        // Malformed: refused before any connection is tried.
        "postgres://pod:hunter2@[db.internal/pod",
        "postgresql://pod:hunter2@db.internal:99999/pod",
        "postgres:pod:hunter2",
        "mysql://pod:hunter2@db.internal/pod",
        "hunter2",
        "",
        "sqlite://hunter2@/nonexistent-dir/x.db?mode=bogus",
        "sqlite:/nonexistent-dir-hunter2/x.db",
    ] {
        match SqlStore::connect(url).await {
            Err(StoreError::Unavailable(message)) => {
                assert!(!message.contains("hunter2"), "{url}: {message}");
            }
            other => panic!("{url}: expected Unavailable, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let dir = TempDir::new().unwrap();
    a_closed_store_refuses_everything(open(&dir).await).await;
    a_closed_store_refuses_everything(SqlStore::connect("sqlite::memory:").await.unwrap()).await;
}

/// Shared with PostgreSQL: closed (twice), the store and its clones refuse
/// every call as unavailable, saying it is closed.
async fn a_closed_store_refuses_everything(store: SqlStore) {
    let account = store.load_account(&customer("local|a")).await.unwrap();
    let change = place(&account, "o1", at(0));
    let clone = store.clone();
    store.close().await;
    store.close().await; // twice is fine
    let unavailable = |result: Result<(), StoreError>| {
        assert!(
            matches!(&result, Err(StoreError::Unavailable(m)) if m.contains("closed")),
            "{clone:?}: {result:?}"
        );
    };
    unavailable(clone.ping().await);
    unavailable(clone.order(&oid("o1")).await.map(drop));
    unavailable(clone.load_account(&customer("local|a")).await.map(drop));
    unavailable(clone.commit(&change).await);
    unavailable(clone.users().await.map(drop));
    let session = SessionId::from_cookie("whatever").unwrap();
    unavailable(clone.session(&session, at(0)).await.map(drop));
    unavailable(clone.clear_confirmed(&customer("local|a")).await.map(drop));
    assert!(format!("{clone:?}").contains("closed: true"));
}

// ---------------------------------------------------------------- accounts

/// Takes one order per customer through each reachable end: waiting (SMS,
/// email with a wrong code), confirmed, and cancelled for every reason an
/// account can cancel for. Returns every order as last written.
async fn orders_in_every_state(store: &SqlStore) -> HashMap<OrderId, Order> {
    let mut written = HashMap::new();
    let mut apply = async |change: Change| -> Account {
        for order in change.orders() {
            written.insert(order.id().clone(), order.clone());
        }
        commit(store, &change).await
    };
    let fresh = |n: usize| Account::new(customer(&format!("auth0|c{n}")));

    apply(place(&fresh(1), "sms", at(0))).await;
    let a = apply(place_to(
        &fresh(2),
        "email",
        at(0),
        &Destination::email("d@example.com"),
    ))
    .await;
    apply(check(&a, "email", CodeCheck::Invalid, at(1))).await;
    let a = apply(place(&fresh(3), "confirmed", at(0))).await;
    apply(check(&a, "confirmed", CodeCheck::Valid, at(2))).await;
    let a = apply(place(&fresh(4), "superseded", at(0))).await;
    apply(place(&a, "superseding", at(3))).await;
    let mut a = apply(place(&fresh(5), "too-many", at(0))).await;
    for n in 1..=policy().max_failed_attempts() {
        a = apply(check(&a, "too-many", CodeCheck::Invalid, at(u64::from(n)))).await;
    }
    let a = apply(place(&fresh(6), "expired", at(0))).await;
    let OrderCodeStep::Settled {
        change: Some(change),
        result: ConfirmResult::Expired(_),
    } = a.order_code_step(at(3600), &policy())
    else {
        panic!("an overdue order expires");
    };
    apply(change).await;
    let a = apply(place(&fresh(7), "undelivered", at(0))).await;
    let change = a
        .order_code_not_delivered(&oid("undelivered"), at(1))
        .unwrap();
    apply(change).await;
    written
}

#[tokio::test]
async fn orders_round_trip_in_every_state() {
    let dir = TempDir::new().unwrap();
    orders_round_trip(&open(&dir).await, &dir).await;
}

/// Shared with PostgreSQL: every order of [`orders_in_every_state`] reads
/// back as written (by id, in its customer's list, and as the account's
/// pending order while it waits), and so does a stored reason no account
/// transition writes.
async fn orders_round_trip(store: &SqlStore, db: &impl RawDb) {
    let written = orders_in_every_state(store).await;
    let mut reasons = Vec::new();
    for order in written.values() {
        assert_eq!(store.order(order.id()).await.unwrap().as_ref(), Some(order));
        assert!(
            store
                .orders_of(order.customer())
                .await
                .unwrap()
                .contains(order)
        );
        let account = store.load_account(order.customer()).await.unwrap();
        if order.awaiting().is_some() {
            assert_eq!(account.pending(), Some(order));
        }
        if let OrderState::Cancelled { reason, .. } = order.state() {
            reasons.push(*reason);
        }
    }
    reasons.sort_by_key(|r| r.as_str());
    let mut expected: Vec<CancelReason> = CancelReason::ALL
        .into_iter()
        .filter(|r| *r != CancelReason::CancelledByCustomer)
        .collect();
    expected.sort_by_key(|r| r.as_str());
    assert_eq!(reasons, expected, "every reason an account cancels for");
    assert!(written.values().any(|o| o.awaiting().is_some()));
    assert!(
        written
            .values()
            .any(|o| matches!(o.state(), OrderState::Confirmed { .. }))
    );

    // No account transition cancels for the customer; a stored row that
    // says so reads back all the same.
    db.raw_execute(
        "UPDATE orders SET cancel_reason = 'cancelled_by_customer' WHERE id = 'superseded'",
    )
    .await;
    let order = store.order(&oid("superseded")).await.unwrap().unwrap();
    assert!(matches!(
        order.state(),
        OrderState::Cancelled {
            reason: CancelReason::CancelledByCustomer,
            ..
        }
    ));
    assert_eq!(store.order(&oid("nope")).await.unwrap(), None);
}

#[tokio::test]
async fn orders_of_lists_newest_first_then_by_id() {
    let dir = TempDir::new().unwrap();
    orders_list_newest_first_then_by_id(&open(&dir).await).await;
}

/// Shared with PostgreSQL.
async fn orders_list_newest_first_then_by_id(store: &SqlStore) {
    // Each placement supersedes the one before; "b" and "a" share a time,
    // so the id decides (descending, as placed_at does).
    let mut account = store.load_account(&customer("local|a")).await.unwrap();
    for (id, seconds) in [("m", 50), ("b", 70), ("z", 10), ("a", 70)] {
        account = commit(store, &place(&account, id, at(seconds))).await;
    }
    let other = store.load_account(&customer("local|b")).await.unwrap();
    commit(store, &place(&other, "x", at(60))).await;
    let ids =
        |orders: Vec<Order>| -> Vec<String> { orders.iter().map(|o| o.id().to_string()).collect() };
    for (who, expected) in [
        ("local|a", vec!["b", "a", "m", "z"]),
        ("local|b", vec!["x"]),
        ("local|nobody", vec![]),
    ] {
        assert_eq!(
            ids(store.orders_of(&customer(who)).await.unwrap()),
            expected,
            "{who}"
        );
    }
}

#[tokio::test]
async fn a_second_waiting_order_is_a_conflict_and_writes_nothing() {
    let dir = TempDir::new().unwrap();
    a_second_waiting_order_conflicts(&open(&dir).await, &dir).await;
}

/// Shared with PostgreSQL.
async fn a_second_waiting_order_conflicts(store: &SqlStore, db: &impl RawDb) {
    let who = customer("local|a");
    let fresh = store.load_account(&who).await.unwrap();
    let change = place(&fresh, "mine", at(0));
    // Another writer (behind the store's back) left an order waiting for
    // this customer: the partial unique index refuses a second one, and the
    // account insert of the same commit is rolled back with it.
    db.raw_execute(
        "INSERT INTO orders (id, customer_id, size, toppings, placed_at, version, state, \
             channel, masked_destination, sent_at, expires_at, failed_attempts) \
         VALUES ('theirs', 'local|a', 'large', 'ham', 0, 1, 'awaiting_code', 'sms', '***23', \
             0, 300000, 0)",
    )
    .await;
    assert!(is_conflict(store.commit(&change).await));
    assert_eq!(store.order(&oid("mine")).await.unwrap(), None);
    let account = store.load_account(&who).await.unwrap();
    assert_eq!(account.version(), 0, "the account write was rolled back");
    assert_eq!(account.pending().map(|o| o.id().as_str()), Some("theirs"));
    // Deciding again on what is stored now works: it supersedes theirs.
    let account = commit(store, &place(&account, "mine", at(1))).await;
    assert_eq!(account.version(), 1);
    let theirs = store.order(&oid("theirs")).await.unwrap().unwrap();
    assert!(matches!(theirs.state(), OrderState::Cancelled { .. }));
}

#[tokio::test]
async fn an_order_id_of_another_customer_is_a_conflict() {
    let dir = TempDir::new().unwrap();
    an_order_id_of_another_customer_conflicts(&open(&dir).await).await;
}

/// Shared with PostgreSQL.
async fn an_order_id_of_another_customer_conflicts(store: &SqlStore) {
    let a = store.load_account(&customer("local|a")).await.unwrap();
    commit(store, &place(&a, "o1", at(0))).await;
    let b = store.load_account(&customer("local|b")).await.unwrap();
    assert!(is_conflict(store.commit(&place(&b, "o1", at(1))).await));
    assert_eq!(
        store.order(&oid("o1")).await.unwrap().unwrap().customer(),
        &customer("local|a")
    );
    assert_eq!(
        store.load_account(&customer("local|b")).await.unwrap(),
        Account::new(customer("local|b"))
    );
}

/// Counts what the writer reports.
#[derive(Debug, Default)]
struct Batches(Mutex<Vec<usize>>);

impl StoreTelemetry for Batches {
    fn commit_batch(&self, commits: usize, _duration: Duration) {
        self.0.lock().unwrap().push(commits);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_share_transactions() {
    const COMMITS: usize = 64;
    let dir = TempDir::new().unwrap();
    let batches = Arc::new(Batches::default());
    let store = open(&dir).await.with_telemetry(batches.clone());
    let mut changes = Vec::new();
    for n in 0..COMMITS {
        let account = store
            .load_account(&customer(&format!("local|g{n}")))
            .await
            .unwrap();
        changes.push(place(&account, &format!("g{n}"), at(0)));
    }
    // Another connection holds the write lock while the commits queue up,
    // so that they meet in the writer's queue however the tasks are
    // scheduled (the pause is no assertion: any batching passes).
    let blocker = raw(&db_path(&dir));
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let tasks: Vec<_> = changes
        .into_iter()
        .map(|change| {
            let store = store.clone();
            tokio::spawn(async move { store.commit(&change).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    blocker.execute_batch("COMMIT").unwrap();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let sizes = batches.0.lock().unwrap().clone();
    assert_eq!(sizes.iter().sum::<usize>(), COMMITS, "{sizes:?}");
    assert!(sizes.len() < COMMITS, "no two commits shared a batch");
    for n in 0..COMMITS {
        let account = store
            .load_account(&customer(&format!("local|g{n}")))
            .await
            .unwrap();
        assert_eq!(account.version(), 1);
        assert_eq!(
            account.pending().map(|o| o.id().to_string()),
            Some(format!("g{n}"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_starts_over_under_a_steady_stream_of_writes() {
    // 16 MiB of claims, 4 KiB each, 32 at a time without a pause: the
    // write-ahead log is checkpointed and started again from its beginning
    // instead of growing with the data (a writer that never checkpoints,
    // or leaves it to a thread that cannot find a moment between two write
    // transactions, lets it grow to the whole 16 MiB).
    const CLAIMS: usize = 4096;
    const BYTES: usize = 4096;
    let dir = TempDir::new().unwrap();
    let (path, wal) = (db_path(&dir), dir.path().join("pod.db-wal"));
    let store = open(&dir).await;
    let log_size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    let mut largest_log = 0;
    for chunk in 0..CLAIMS / 32 {
        let mut claims = tokio::task::JoinSet::new();
        for n in 0..32 {
            let (store, id) = (store.clone(), format!("steady-{chunk}-{n}"));
            claims.spawn(async move { store.claim(&id, &[0x5a; BYTES], at(0), at(3600)).await });
        }
        while let Some(claim) = claims.join_next().await {
            assert_eq!(claim.unwrap().unwrap(), Claim::Fresh);
        }
        largest_log = largest_log.max(log_size());
    }
    let written = (CLAIMS * BYTES) as u64;
    assert!(
        largest_log < written / 2,
        "the log grew to {largest_log} bytes of {written}"
    );
    let claimed: i64 = raw(&path)
        .query_row("SELECT count(*) FROM answered_requests", [], |r| r.get(0))
        .unwrap();
    assert_eq!(claimed, CLAIMS as i64);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_do_not_wait_for_the_writer() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let who = customer("local|a");
    let account = store.load_account(&who).await.unwrap();
    let committed = commit(&store, &place(&account, "o1", at(0))).await;

    // A write transaction of another connection, open and uncommitted.
    let writer = raw(&db_path(&dir));
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    writer
        .execute(
            "INSERT INTO users (id, name, name_key, email, email_key, created_at) \
             VALUES ('local|ghost', 'ghost', 'ghost', 'g@example.com', 'g@example.com', 0)",
            [],
        )
        .unwrap();
    let reader = store.clone();
    let read = tokio::spawn(async move {
        let account = reader.load_account(&customer("local|a")).await?;
        let users = reader.users().await?;
        let order = reader.order(&oid("o1")).await?;
        Ok::<_, StoreError>((account, users, order))
    });
    // A guard against a hang, not a measurement.
    let (account, users, order) = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("a read waited for the writer")
        .unwrap()
        .unwrap();
    assert_eq!(account, committed);
    assert!(users.is_empty(), "an uncommitted write is not seen");
    assert_eq!(order.as_ref(), committed.pending());
    writer.execute_batch("ROLLBACK").unwrap();
}

// ---------------------------------------------------------------- users

fn user(name: &str, email: &str, phone: Option<&str>) -> LocalUser {
    LocalUser {
        id: customer(&format!("local|{name}")),
        name: name.to_owned(),
        email: email.to_owned(),
        phone: phone.map(str::to_owned),
        created_at: at(42),
    }
}

#[tokio::test]
async fn users_are_found_by_id_and_by_name_or_email_in_any_case() {
    let dir = TempDir::new().unwrap();
    users_are_found_in_any_case(&open(&dir).await).await;
}

/// Shared with PostgreSQL.
async fn users_are_found_in_any_case(store: &SqlStore) {
    let demo = user("demo", "Demo@Example.com", Some("+15550100123"));
    let zoe = user("Zoe", "zoe@example.org", None);
    for user in [&zoe, &demo] {
        store.add_user(user).await.unwrap();
    }
    assert_eq!(
        store.user_by_id(&demo.id).await.unwrap().as_ref(),
        Some(&demo)
    );
    assert_eq!(
        store.user_by_id(&customer("local|nobody")).await.unwrap(),
        None
    );
    // (login, found)
    let cases = [
        ("demo", Some(&demo)),
        ("DEMO", Some(&demo)),
        (" demo ", Some(&demo)),
        ("demo@example.com", Some(&demo)),
        ("DEMO@EXAMPLE.COM", Some(&demo)),
        ("zoe", Some(&zoe)),
        ("ZOE@example.org", Some(&zoe)),
        ("dem", None),
        ("demo@example", None),
        ("%", None),
        ("", None),
        ("local|demo", None),
    ];
    for (login, found) in cases {
        assert_eq!(
            store.user_by_login(login).await.unwrap().as_ref(),
            found,
            "{login:?}"
        );
    }
    assert_eq!(store.users().await.unwrap(), [demo, zoe]);
}

#[tokio::test]
async fn a_taken_id_name_or_email_is_a_conflict() {
    let dir = TempDir::new().unwrap();
    taken_logins_conflict(&open(&dir).await).await;
}

/// Shared with PostgreSQL.
async fn taken_logins_conflict(store: &SqlStore) {
    let demo = user("demo", "demo@example.com", None);
    store.add_user(&demo).await.unwrap();
    let mut same_id = user("other", "other@example.com", None);
    same_id.id = demo.id.clone();
    let mut same_name = user("DEMO", "new@example.com", None);
    same_name.id = customer("local|demo2");
    let same_email = user("new", "Demo@Example.COM", None);
    for taken in [same_id, same_name, same_email] {
        assert!(is_conflict(store.add_user(&taken).await), "{taken:?}");
    }
    assert_eq!(store.users().await.unwrap(), [demo]);
}

// ---------------------------------------------------------------- events

/// Records what reaches it.
#[derive(Default)]
struct Recorder(Mutex<Vec<pod_ports::domain::OrderEvent>>);

#[async_trait::async_trait]
impl pod_ports::OrderEvents for Recorder {
    async fn publish(&self, event: pod_ports::domain::OrderEvent) {
        self.0.lock().unwrap().push(event);
    }
}

#[tokio::test]
async fn on_sqlite_order_events_go_straight_to_the_local_sink() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let local = Arc::new(Recorder::default());
    let events = store
        .order_events(local.clone(), || panic!("one process never resyncs"))
        .await
        .unwrap();
    let change = place(&Account::new(customer("local|a")), "o1", at(0));
    let event = change.events()[0].clone();
    events.publisher().publish(event.clone()).await;
    assert_eq!(*local.0.lock().unwrap(), [event]);
    events.stop().await;
}

// ---------------------------------------------------------------- reopening

#[tokio::test]
async fn reopening_the_file_keeps_everything() {
    let dir = TempDir::new().unwrap();
    let demo = user("demo", "demo@example.com", Some("+15550100123"));
    let who = customer("local|demo");
    let (written, account) = {
        let store = open(&dir).await;
        let written = orders_in_every_state(&store).await;
        // An account with every part set: a pending order with a counted
        // wrong code, a sign-in code with a wrong attempt, both send logs.
        let a = store.load_account(&who).await.unwrap();
        let a = commit(&store, &place(&a, "demo-1", at(0))).await;
        let a = commit(&store, &check(&a, "demo-1", CodeCheck::Invalid, at(1))).await;
        let change = a
            .start_sign_in(Some(CodeDigest::new(vec![1, 2, 3])), at(2), &policy())
            .unwrap();
        let a = commit(&store, &change).await;
        let issued = a.sign_in_code().unwrap().issued_at;
        let (change, _) = a
            .apply_sign_in_check(issued, CodeCheck::Invalid, at(3), &policy())
            .unwrap();
        let a = commit(&store, &change.unwrap()).await;
        store.add_user(&demo).await.unwrap();
        store.close().await;
        (written, a)
    };
    assert_eq!(account.lockout().consecutive_failures, 2);
    assert!(account.sign_in_code().is_some());
    // Twice: the second open finds every migration applied.
    for _ in 0..2 {
        let store = open(&dir).await;
        for order in written.values() {
            assert_eq!(store.order(order.id()).await.unwrap().as_ref(), Some(order));
        }
        assert_eq!(store.load_account(&who).await.unwrap(), account);
        assert_eq!(
            store.user_by_login("DEMO").await.unwrap().as_ref(),
            Some(&demo)
        );
        store.close().await;
    }
    assert_eq!(integrity(&db_path(&dir)), "ok");
}

// ---------------------------------------------------------------- corruption

/// Damage to the order "o1" of "local|a": (what it does, SQL). Shared with
/// PostgreSQL, which refuses some of it outright (its columns are typed).
const ORDER_DAMAGE: &[(&str, &str)] = &[
    ("unknown size", "UPDATE orders SET size = 'gigantic'"),
    ("synonym size", "UPDATE orders SET size = 'big'"),
    ("size of the wrong type", "UPDATE orders SET size = 12"),
    (
        "unknown topping",
        "UPDATE orders SET toppings = 'ham,anchovies'",
    ),
    ("empty topping name", "UPDATE orders SET toppings = 'ham,'"),
    (
        "too many toppings",
        "UPDATE orders SET toppings = 'ham,bacon,onions,spinach,chicken,pineapple'",
    ),
    ("unknown state", "UPDATE orders SET state = 'eaten'"),
    ("version zero", "UPDATE orders SET version = 0"),
    ("negative version", "UPDATE orders SET version = -1"),
    (
        "text timestamp",
        "UPDATE orders SET placed_at = 'yesterday'",
    ),
    (
        "missing destination",
        "UPDATE orders SET masked_destination = NULL",
    ),
    ("unknown channel", "UPDATE orders SET channel = 'pigeon'"),
    ("missing expiry", "UPDATE orders SET expires_at = NULL"),
    (
        "negative attempts",
        "UPDATE orders SET failed_attempts = -3",
    ),
    (
        "huge attempts",
        "UPDATE orders SET failed_attempts = 99999999999",
    ),
    (
        "confirmed without time",
        "UPDATE orders SET state = 'confirmed'",
    ),
    (
        "cancelled without reason",
        "UPDATE orders SET state = 'cancelled', cancelled_at = 5",
    ),
    (
        "unknown reason",
        "UPDATE orders SET state = 'cancelled', cancelled_at = 5, cancel_reason = 'bored'",
    ),
    ("bad order id", "UPDATE orders SET id = 'o 1!'"),
    ("binary customer", "UPDATE orders SET customer_id = x'00ff'"),
];

/// Damage to the account of "local|a": (what it does, SQL). Shared with
/// PostgreSQL, which refuses some of it outright (its columns are typed).
const ACCOUNT_DAMAGE: &[(&str, &str)] = &[
    (
        "digest of the wrong type",
        "UPDATE accounts SET order_code_digest = 'abc'",
    ),
    (
        "sign-in digest of the wrong type",
        "UPDATE accounts SET sign_in_digest = 12",
    ),
    ("bad send list", "UPDATE accounts SET order_sends = '1,x'"),
    ("empty send time", "UPDATE accounts SET order_sends = '1,'"),
    (
        "send list of the wrong type",
        "UPDATE accounts SET sign_in_sends = x'00'",
    ),
    ("version zero", "UPDATE accounts SET version = 0"),
    ("negative version", "UPDATE accounts SET version = -1"),
    ("text version", "UPDATE accounts SET version = 'one'"),
    (
        "negative failures",
        "UPDATE accounts SET consecutive_failures = -2",
    ),
    ("text lock time", "UPDATE accounts SET locked_at = 'noon'"),
    (
        "sign-in code without expiry",
        "UPDATE accounts SET sign_in_expires_at = NULL",
    ),
    (
        "sign-in code without attempts",
        "UPDATE accounts SET sign_in_failed_attempts = NULL",
    ),
    (
        "negative sign-in attempts",
        "UPDATE accounts SET sign_in_failed_attempts = -1",
    ),
];

#[tokio::test]
async fn corrupt_orders_are_corrupt_errors_not_panics() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let conn = raw(&db_path(&dir));
    for &(what, damage) in ORDER_DAMAGE {
        conn.execute_batch("DELETE FROM orders; DELETE FROM accounts;")
            .unwrap();
        before_order_damage(&store).await;
        conn.execute(damage, []).unwrap();
        order_damage_is_noticed(&store, what).await;
    }
}

/// Writes the order "o1" of "local|a" (into empty tables) for damage.
async fn before_order_damage(store: &SqlStore) {
    commit(
        store,
        &place(&Account::new(customer("local|a")), "o1", at(0)),
    )
    .await;
}

/// After a damage of [`ORDER_DAMAGE`]: every lookup that finds the order
/// refuses it as corrupt, and one at least finds it.
async fn order_damage_is_noticed(store: &SqlStore, what: &str) {
    let a = customer("local|a");
    let by_id = store.order(&oid("o1")).await.map(|o| o.is_some());
    let listed = store.orders_of(&a).await.map(|v| !v.is_empty());
    let account = store
        .load_account(&a)
        .await
        .map(|account| account.pending().is_some());
    // A damaged id, customer or state hides the row from some lookups;
    // every lookup that finds the row must refuse it.
    let mut refused = 0;
    for result in [by_id, listed, account] {
        match result {
            Err(StoreError::Corrupt(message)) => {
                refused += 1;
                assert!(!message.is_empty());
            }
            Ok(false) => {}
            other => panic!("{what}: expected Corrupt, got {other:?}"),
        }
    }
    assert!(refused >= 1, "{what}: nothing noticed the damage");
}

#[tokio::test]
async fn corrupt_accounts_are_corrupt_errors_not_panics() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let conn = raw(&db_path(&dir));
    for &(what, damage) in ACCOUNT_DAMAGE {
        conn.execute_batch("DELETE FROM orders; DELETE FROM accounts;")
            .unwrap();
        before_account_damage(&store).await;
        conn.execute(damage, []).unwrap();
        account_damage_is_noticed(&store, what).await;
    }

    // Users too.
    store
        .add_user(&user("demo", "demo@example.com", None))
        .await
        .unwrap();
    conn.execute("UPDATE users SET created_at = 'noon'", [])
        .unwrap();
    assert!(matches!(
        store.user_by_login("demo").await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(store.users().await, Err(StoreError::Corrupt(_))));
}

/// Writes the account of "local|a" (into empty tables) with every part set
/// that [`ACCOUNT_DAMAGE`] damages: a pending order and a sign-in code.
async fn before_account_damage(store: &SqlStore) {
    let a = customer("local|a");
    let account = commit(store, &place(&Account::new(a.clone()), "o1", at(0))).await;
    let change = account
        .start_sign_in(Some(CodeDigest::new(vec![0xcd; 32])), at(1), &policy())
        .unwrap();
    commit(store, &change).await;
    assert_eq!(store.load_account(&a).await.unwrap().version(), 2);
}

/// After a damage of [`ACCOUNT_DAMAGE`]: loading the account is refused as
/// corrupt, naming the table and not the value; the order still reads.
async fn account_damage_is_noticed(store: &SqlStore, what: &str) {
    match store.load_account(&customer("local|a")).await {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.contains("accounts"), "{what}: {message}");
            assert!(!message.contains("abc"), "{what}: {message}");
        }
        other => panic!("{what}: expected Corrupt, got {other:?}"),
    }
    // The orders themselves still read.
    assert!(store.order(&oid("o1")).await.unwrap().is_some(), "{what}");
}
