//! `SqlStore` against real SQLite files in temporary directories: every port
//! method, the concurrency rules, corrupt rows, reopening, and a writer
//! killed with SIGKILL mid-write.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use pod_adapters_sql::SqlStore;
use pod_ports::domain::{
    AwaitingCode, CancelReason, Channel, CodeCheck, ConfirmationPolicy, CustomerId, Destination,
    Order, OrderId, OrderState, Pizza, PizzaSize, Timestamp, Topping,
};
use pod_ports::{CodeRecord, CodeStore, LocalUser, OrderStore, StoreError, UserStore};
use rand::Rng;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};
use tempfile::TempDir;

/// A fixed point in time; tests never read a clock.
const T0: i64 = 1_700_000_000_000;

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(T0 + offset_ms)
}

fn customer(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

fn pizza(size: PizzaSize, toppings: &[Topping]) -> Pizza {
    Pizza::new(size, toppings.iter().copied()).unwrap()
}

fn awaiting(channel: Channel, failed_attempts: u32) -> OrderState {
    let masked = match channel {
        Channel::Sms => "***23",
        Channel::Email => "d***@example.com",
    };
    OrderState::AwaitingCode(AwaitingCode::new(
        channel,
        masked.to_owned(),
        at(0),
        at(300_000),
        failed_attempts,
    ))
}

fn order(id: &str, who: &str, placed_at: i64, version: u64, state: OrderState) -> Order {
    Order::restore(
        OrderId::parse(id).unwrap(),
        customer(who),
        pizza(
            PizzaSize::Large,
            &[Topping::Pepperoni, Topping::ExtraCheese],
        ),
        at(placed_at),
        version,
        state,
    )
    .unwrap()
}

/// A freshly placed order, version 1, awaiting its code.
fn placed(id: &str, who: &str, placed_at: i64) -> Order {
    Order::place(
        OrderId::parse(id).unwrap(),
        customer(who),
        pizza(PizzaSize::Medium, &Topping::DEFAULT),
        &Destination::sms("+15550100123"),
        at(placed_at),
        &ConfirmationPolicy::default(),
    )
    .0
}

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("pod.db")
}

async fn open(dir: &TempDir) -> SqlStore {
    SqlStore::open_sqlite(&db_path(dir)).await.unwrap()
}

/// A connection of its own, to look at or damage the file behind the store's back.
async fn raw(path: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(Duration::from_secs(5));
    SqliteConnection::connect_with(&options).await.unwrap()
}

async fn integrity(path: &Path) -> String {
    let mut conn = raw(path).await;
    let row = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    row.get::<String, _>(0)
}

fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict))
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

    let mut conn = raw(&path).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' \
         AND name NOT LIKE 'sqlite%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "code_sends",
            "lockouts",
            "one_time_codes",
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
}

#[tokio::test]
async fn debug_output_names_no_connection_details() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let debug = format!("{store:?}");
    assert!(debug.starts_with("SqlStore"), "{debug}");
    assert!(!debug.contains("pod.db"), "{debug}");
}

#[tokio::test]
async fn connect_accepts_sqlite_urls_only_and_never_echoes_the_url() {
    let dir = TempDir::new().unwrap();
    let file_url = format!("sqlite:{}", dir.path().join("url.db").display());
    for url in [file_url.as_str(), "sqlite::memory:"] {
        let store = SqlStore::connect(url).await.unwrap();
        store
            .insert_order(&placed("o1", "local|a", 0))
            .await
            .unwrap();
        // Several reads on a pool: an in-memory database is shared and kept.
        for _ in 0..3 {
            assert!(
                store
                    .pending_order(&customer("local|a"))
                    .await
                    .unwrap()
                    .is_some()
            );
        }
    }
    for url in [
        "postgres://pod:hunter2@db.internal/pod",
        "mysql://pod:hunter2@db.internal/pod",
        "hunter2",
        "",
        "sqlite://hunter2@/nonexistent-dir/x.db?mode=bogus",
    ] {
        match SqlStore::connect(url).await {
            Err(StoreError::Unavailable(message)) => {
                assert!(!message.contains("hunter2"), "{url}: {message}")
            }
            other => panic!("{url}: expected Unavailable, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let clone = store.clone();
    store.close().await;
    assert!(matches!(
        clone.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        clone.order(&OrderId::parse("o1").unwrap()).await,
        Err(StoreError::Unavailable(_))
    ));
}

// ---------------------------------------------------------------- orders

/// Every state, every cancel reason, both channels, every size, zero to five
/// toppings.
fn orders_in_every_state() -> Vec<Order> {
    let mut states = vec![
        awaiting(Channel::Sms, 0),
        awaiting(Channel::Email, 2),
        OrderState::Confirmed { at: at(1_234) },
    ];
    states.extend(
        CancelReason::ALL
            .into_iter()
            .map(|reason| OrderState::Cancelled {
                at: at(5_678),
                reason,
            }),
    );
    let toppings: [&[Topping]; 4] = [
        &[],
        &[Topping::Ham],
        &[
            Topping::GreenPeppers,
            Topping::BlackOlives,
            Topping::ExtraCheese,
        ],
        &[
            Topping::Spinach,
            Topping::Chicken,
            Topping::Onions,
            Topping::Mushrooms,
            Topping::Sausage,
        ],
    ];
    states
        .into_iter()
        .enumerate()
        .map(|(i, state)| {
            Order::restore(
                OrderId::parse(format!("order-{i}")).unwrap(),
                // One customer per order: awaiting orders must not collide.
                customer(&format!("auth0|c{i}")),
                pizza(PizzaSize::ALL[i % 4], toppings[i % 4]),
                at(-(i as i64) * 1000),
                1 + i as u64,
                state,
            )
            .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn orders_round_trip_in_every_state() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let orders = orders_in_every_state();
    assert_eq!(orders.len(), 3 + CancelReason::ALL.len());
    for order in &orders {
        store.insert_order(order).await.unwrap();
    }
    for order in &orders {
        assert_eq!(store.order(order.id()).await.unwrap().as_ref(), Some(order));
        assert_eq!(
            store.orders_of(order.customer()).await.unwrap(),
            std::slice::from_ref(order)
        );
        let pending = store.pending_order(order.customer()).await.unwrap();
        assert_eq!(pending.is_some(), order.awaiting().is_some(), "{order:?}");
    }
    assert_eq!(
        store.order(&OrderId::parse("nope").unwrap()).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn insert_refuses_a_taken_id() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let first = order("o1", "local|a", 0, 1, OrderState::Confirmed { at: at(1) });
    store.insert_order(&first).await.unwrap();
    let same_id = order("o1", "local|b", 5, 1, awaiting(Channel::Sms, 0));
    assert!(is_conflict(store.insert_order(&same_id).await));
    assert_eq!(store.order(first.id()).await.unwrap(), Some(first));
    assert_eq!(
        store.pending_order(&customer("local|b")).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_customer_has_at_most_one_pending_order() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let first = placed("o1", "local|a", 0);
    store.insert_order(&first).await.unwrap();

    // (order, outcome): a second pending order conflicts; terminal orders of
    // the same customer and pending orders of others do not.
    let cases = [
        (placed("o2", "local|a", 10), false),
        (
            order("o3", "local|a", 10, 2, OrderState::Confirmed { at: at(11) }),
            true,
        ),
        (
            order(
                "o4",
                "local|a",
                10,
                2,
                OrderState::Cancelled {
                    at: at(11),
                    reason: CancelReason::Expired,
                },
            ),
            true,
        ),
        (placed("o5", "local|b", 10), true),
    ];
    for (order, accepted) in cases {
        let result = store.insert_order(&order).await;
        if accepted {
            result.unwrap();
        } else {
            assert!(is_conflict(result), "{order:?}");
        }
    }
    assert_eq!(
        store.pending_order(&customer("local|a")).await.unwrap(),
        Some(first.clone())
    );

    // An update that would make a second pending order conflicts too.
    let terminal = store
        .order(&OrderId::parse("o3").unwrap())
        .await
        .unwrap()
        .unwrap();
    let revived = order("o3", "local|a", 10, 3, awaiting(Channel::Sms, 0));
    assert!(is_conflict(
        store.update_order(&revived, terminal.version()).await
    ));
    assert_eq!(store.order(terminal.id()).await.unwrap(), Some(terminal));

    // Once the pending order is settled, a new one may wait.
    let (cancelled, _) = first.cancel(CancelReason::Superseded, at(20)).unwrap();
    store
        .update_order(&cancelled, first.version())
        .await
        .unwrap();
    let next = placed("o6", "local|a", 20);
    store.insert_order(&next).await.unwrap();
    assert_eq!(
        store.pending_order(&customer("local|a")).await.unwrap(),
        Some(next)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pending_inserts_for_one_customer_exactly_one_wins() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    for round in 0..5 {
        let who = format!("local|racer{round}");
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                let order = placed(&format!("r{round}-{i}"), &who, i);
                tokio::spawn(async move { (store.insert_order(&order).await, order) })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (Ok(()), order) => winners.push(order),
                (Err(StoreError::Conflict), _) => {}
                (Err(other), _) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        assert_eq!(
            store.pending_order(&customer(&who)).await.unwrap(),
            winners.pop()
        );
        assert_eq!(store.orders_of(&customer(&who)).await.unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_updates_from_one_read_exactly_one_wins() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let policy = ConfirmationPolicy::default();
    for round in 0..10 {
        let placed = placed(&format!("o{round}"), &format!("local|c{round}"), 0);
        store.insert_order(&placed).await.unwrap();
        let read = store.order(placed.id()).await.unwrap().unwrap();
        let confirm = read
            .check_code(CodeCheck::Valid, at(1), &policy)
            .unwrap()
            .order;
        let (cancel, _) = read
            .cancel(CancelReason::CancelledByCustomer, at(1))
            .unwrap();
        let (a, b) = tokio::join!(
            {
                let store = store.clone();
                let confirm = confirm.clone();
                tokio::spawn(async move { store.update_order(&confirm, read.version()).await })
            },
            {
                let store = store.clone();
                let cancel = cancel.clone();
                tokio::spawn(async move { store.update_order(&cancel, 1).await })
            }
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let stored = store.order(placed.id()).await.unwrap().unwrap();
        match (a, b) {
            (Ok(()), Err(StoreError::Conflict)) => assert_eq!(stored, confirm),
            (Err(StoreError::Conflict), Ok(())) => assert_eq!(stored, cancel),
            other => panic!("round {round}: expected exactly one winner, got {other:?}"),
        }
        assert_eq!(stored.version(), 2);
    }
}

#[tokio::test]
async fn update_needs_the_stored_version() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let policy = ConfirmationPolicy::default();
    let v1 = placed("o1", "local|a", 0);
    store.insert_order(&v1).await.unwrap();
    let v2 = v1
        .check_code(CodeCheck::Invalid, at(1), &policy)
        .unwrap()
        .order;
    let v3 = v2
        .check_code(CodeCheck::Valid, at(2), &policy)
        .unwrap()
        .order;

    // (new order, expected version, accepted)
    let cases = [
        (&v3, 2, false), // the stored version is 1
        (&v2, 0, false),
        (&v2, u64::MAX, false),
        (&v2, 1, true),
        (&v2, 1, false), // already moved on
        (&v3, 2, true),
    ];
    for (i, (order, expected, accepted)) in cases.into_iter().enumerate() {
        let before = store.order(v1.id()).await.unwrap();
        let result = store.update_order(order, expected).await;
        if accepted {
            result.unwrap();
            assert_eq!(store.order(v1.id()).await.unwrap().as_ref(), Some(order));
        } else {
            assert!(is_conflict(result), "case {i}");
            assert_eq!(store.order(v1.id()).await.unwrap(), before, "case {i}");
        }
    }
    let missing = placed("ghost", "local|a", 0);
    assert!(is_conflict(store.update_order(&missing, 1).await));
    assert_eq!(store.order(missing.id()).await.unwrap(), None);
}

#[tokio::test]
async fn orders_of_lists_newest_first() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let confirmed = || OrderState::Confirmed { at: at(99) };
    // Inserted out of order; "b" and "a" share a placed_at, so the id decides.
    for (id, who, placed_at) in [
        ("m", "local|a", 50),
        ("b", "local|a", 70),
        ("z", "local|a", 10),
        ("a", "local|a", 70),
        ("x", "local|b", 60),
    ] {
        store
            .insert_order(&order(id, who, placed_at, 1, confirmed()))
            .await
            .unwrap();
    }
    let ids =
        |orders: Vec<Order>| -> Vec<String> { orders.iter().map(|o| o.id().to_string()).collect() };
    let cases = [
        ("local|a", vec!["a", "b", "m", "z"]),
        ("local|b", vec!["x"]),
        ("local|nobody", vec![]),
    ];
    for (who, expected) in cases {
        assert_eq!(
            ids(store.orders_of(&customer(who)).await.unwrap()),
            expected,
            "{who}"
        );
    }
}

#[tokio::test]
async fn clear_confirmed_deletes_only_the_customers_confirmed_orders() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let confirmed = || OrderState::Confirmed { at: at(9) };
    let cancelled = || OrderState::Cancelled {
        at: at(9),
        reason: CancelReason::Expired,
    };
    for order in [
        order("a1", "local|a", 1, 2, confirmed()),
        order("a2", "local|a", 2, 2, confirmed()),
        order("a3", "local|a", 3, 2, cancelled()),
        order("a4", "local|a", 4, 1, awaiting(Channel::Email, 0)),
        order("b1", "local|b", 1, 2, confirmed()),
    ] {
        store.insert_order(&order).await.unwrap();
    }
    // (customer, deleted, left)
    for (who, deleted, left) in [
        ("local|a", 2, 2),
        ("local|a", 0, 2),
        ("local|nobody", 0, 0),
        ("local|b", 1, 0),
    ] {
        assert_eq!(
            store.clear_confirmed(&customer(who)).await.unwrap(),
            deleted,
            "{who}"
        );
        assert_eq!(
            store.orders_of(&customer(who)).await.unwrap().len(),
            left,
            "{who}"
        );
    }
}

// ---------------------------------------------------------------- counters

#[tokio::test]
async fn code_sends_are_counted_from_since_inclusive() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let a = customer("local|a");
    for offset in [0, 1_000, 1_000, 60_000] {
        store.record_code_sent(&a, at(offset)).await.unwrap();
    }
    store
        .record_code_sent(&customer("local|b"), at(0))
        .await
        .unwrap();
    // (since, count)
    for (since, count) in [
        (-1, 4),
        (0, 4),
        (1, 3),
        (1_000, 3),
        (1_001, 1),
        (60_000, 1),
        (60_001, 0),
    ] {
        assert_eq!(
            store.codes_sent_since(&a, at(since)).await.unwrap(),
            count,
            "since {since}"
        );
    }
    assert_eq!(
        store
            .codes_sent_since(&customer("local|nobody"), at(-1))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn sends_older_than_a_day_are_pruned_on_the_next_send() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let a = customer("local|a");
    let b = customer("local|b");
    let day = 24 * 60 * 60 * 1000;
    store.record_code_sent(&a, at(0)).await.unwrap();
    store.record_code_sent(&b, at(0)).await.unwrap();
    store.record_code_sent(&a, at(day + 1)).await.unwrap();
    assert_eq!(
        store.codes_sent_since(&a, Timestamp::EPOCH).await.unwrap(),
        1
    );
    // Another customer's rows are left alone.
    assert_eq!(
        store.codes_sent_since(&b, Timestamp::EPOCH).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn the_lockout_counts_wrong_codes_until_cleared() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let a = customer("local|a");
    let b = customer("local|b");
    assert_eq!(store.lockout(&a).await.unwrap().consecutive_failures(), 0);
    for n in 1..=4 {
        assert_eq!(
            store
                .record_failed_attempt(&a)
                .await
                .unwrap()
                .consecutive_failures(),
            n
        );
        assert_eq!(store.lockout(&a).await.unwrap().consecutive_failures(), n);
    }
    assert_eq!(
        store
            .record_failed_attempt(&b)
            .await
            .unwrap()
            .consecutive_failures(),
        1
    );
    store.clear_lockout(&a).await.unwrap();
    store
        .clear_lockout(&customer("local|nobody"))
        .await
        .unwrap();
    assert_eq!(store.lockout(&a).await.unwrap().consecutive_failures(), 0);
    assert_eq!(store.lockout(&b).await.unwrap().consecutive_failures(), 1);
    assert_eq!(
        store
            .record_failed_attempt(&a)
            .await
            .unwrap()
            .consecutive_failures(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_codes_each_count() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.record_failed_attempt(&customer("local|a")).await })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap().unwrap().consecutive_failures());
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=20).collect::<Vec<u32>>());
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
    let store = open(&dir).await;
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
    let store = open(&dir).await;
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

// ---------------------------------------------------------------- codes

fn code(who: &str, purpose: &str, hash: &[u8], failed_attempts: u32) -> CodeRecord {
    CodeRecord {
        customer: customer(who),
        purpose: purpose.to_owned(),
        hash: hash.to_vec(),
        issued_at: at(0),
        expires_at: at(300_000),
        failed_attempts,
    }
}

#[tokio::test]
async fn codes_are_kept_one_per_customer_and_purpose() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let a = customer("local|a");
    let first = code("local|a", "order", &[0, 1, 2, 255, 0], 0);
    let sign_in = code("local|a", "sign_in", &[9; 32], 1);
    let other = code("local|b", "order", &[7; 32], 0);
    for record in [&first, &sign_in, &other] {
        store.put_code(record).await.unwrap();
    }
    // (purpose, expected)
    for (purpose, expected) in [
        ("order", Some(&first)),
        ("sign_in", Some(&sign_in)),
        ("other", None),
    ] {
        assert_eq!(
            store.code_for(&a, purpose).await.unwrap().as_ref(),
            expected,
            "{purpose}"
        );
    }

    assert_eq!(
        store.record_code_failure(&a, "order").await.unwrap(),
        Some(1)
    );
    assert_eq!(
        store.record_code_failure(&a, "order").await.unwrap(),
        Some(2)
    );
    assert_eq!(
        store.record_code_failure(&a, "sign_in").await.unwrap(),
        Some(2)
    );
    assert_eq!(store.record_code_failure(&a, "other").await.unwrap(), None);
    assert_eq!(
        store
            .code_for(&a, "order")
            .await
            .unwrap()
            .unwrap()
            .failed_attempts,
        2
    );

    // A new code replaces the old one and its failures.
    let mut second = code("local|a", "order", &[3; 32], 0);
    second.issued_at = at(1_000);
    second.expires_at = at(301_000);
    store.put_code(&second).await.unwrap();
    assert_eq!(store.code_for(&a, "order").await.unwrap(), Some(second));

    store.delete_code(&a, "order").await.unwrap();
    store.delete_code(&a, "order").await.unwrap();

    // Consuming needs the current hash and succeeds exactly once.
    let record = code("local|a", "order", &[7, 7, 7], 0);
    store.put_code(&record).await.unwrap();
    assert!(
        !store.consume_code(&a, "order", &[1, 2, 3]).await.unwrap(),
        "another hash is left alone"
    );
    assert!(store.consume_code(&a, "order", &[7, 7, 7]).await.unwrap());
    assert!(
        !store.consume_code(&a, "order", &[7, 7, 7]).await.unwrap(),
        "used up"
    );
    assert_eq!(store.code_for(&a, "order").await.unwrap(), None);
    assert_eq!(store.code_for(&a, "order").await.unwrap(), None);
    assert_eq!(store.record_code_failure(&a, "order").await.unwrap(), None);
    assert!(store.code_for(&a, "sign_in").await.unwrap().is_some());
    assert_eq!(
        store.code_for(&customer("local|b"), "order").await.unwrap(),
        Some(other)
    );
}

// ---------------------------------------------------------------- reopening

#[tokio::test]
async fn reopening_the_file_keeps_everything() {
    let dir = TempDir::new().unwrap();
    let orders = orders_in_every_state();
    let demo = user("demo", "demo@example.com", Some("+15550100123"));
    let record = code("local|demo", "sign_in", &[1, 2, 3], 2);
    {
        let store = open(&dir).await;
        for order in &orders {
            store.insert_order(order).await.unwrap();
        }
        store
            .record_code_sent(&customer("local|demo"), at(5))
            .await
            .unwrap();
        store
            .record_failed_attempt(&customer("local|demo"))
            .await
            .unwrap();
        store
            .record_failed_attempt(&customer("local|demo"))
            .await
            .unwrap();
        store.add_user(&demo).await.unwrap();
        store.put_code(&record).await.unwrap();
        store.close().await;
    }
    // Twice: the second open finds every migration applied.
    for _ in 0..2 {
        let store = open(&dir).await;
        for order in &orders {
            assert_eq!(store.order(order.id()).await.unwrap().as_ref(), Some(order));
        }
        let who = customer("local|demo");
        assert_eq!(store.codes_sent_since(&who, at(0)).await.unwrap(), 1);
        assert_eq!(store.lockout(&who).await.unwrap().consecutive_failures(), 2);
        assert_eq!(
            store.user_by_login("DEMO").await.unwrap().as_ref(),
            Some(&demo)
        );
        assert_eq!(
            store.code_for(&who, "sign_in").await.unwrap().as_ref(),
            Some(&record)
        );
        store.close().await;
    }
    assert_eq!(integrity(&db_path(&dir)).await, "ok");
}

// ---------------------------------------------------------------- corruption

#[tokio::test]
async fn corrupt_rows_are_corrupt_errors_not_panics() {
    // (what the damage does, SQL applied to the order "o1" of "local|a")
    let cases = [
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
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let store = open(&dir).await;
    let mut conn = raw(&path).await;
    let a = customer("local|a");
    for (what, damage) in cases {
        sqlx::query("DELETE FROM orders")
            .execute(&mut conn)
            .await
            .unwrap();
        let good = placed("o1", "local|a", 0);
        store.insert_order(&good).await.unwrap();
        sqlx::query(damage).execute(&mut conn).await.unwrap();

        let by_id = store.order(good.id()).await;
        let listed = store.orders_of(&a).await;
        let pending = store.pending_order(&a).await;
        // A damaged id or customer hides the row from lookups by the good
        // id or customer; every lookup that finds the row must refuse it.
        let mut refused = 0;
        for result in [by_id, listed.map(|v| v.into_iter().next()), pending] {
            match result {
                Err(StoreError::Corrupt(message)) => {
                    refused += 1;
                    assert!(!message.is_empty());
                }
                Ok(None) => {}
                other => panic!("{what}: expected Corrupt, got {other:?}"),
            }
        }
        assert!(refused >= 1, "{what}: nothing noticed the damage");
    }

    // The counters and codes too.
    sqlx::query(
        "INSERT INTO lockouts (customer_id, consecutive_failures) VALUES ('local|x', 'many')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    assert!(matches!(
        store.lockout(&customer("local|x")).await,
        Err(StoreError::Corrupt(_))
    ));
    sqlx::query("INSERT INTO lockouts (customer_id, consecutive_failures) VALUES ('local|y', -1)")
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        store.lockout(&customer("local|y")).await,
        Err(StoreError::Corrupt(_))
    ));
    store
        .put_code(&code("local|x", "order", &[1], 0))
        .await
        .unwrap();
    sqlx::query("UPDATE one_time_codes SET failed_attempts = -5")
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        store.code_for(&customer("local|x"), "order").await,
        Err(StoreError::Corrupt(_))
    ));
    store
        .add_user(&user("demo", "demo@example.com", None))
        .await
        .unwrap();
    sqlx::query("UPDATE users SET created_at = 'noon'")
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        store.user_by_login("demo").await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(store.users().await, Err(StoreError::Corrupt(_))));
}

// ---------------------------------------------------------------- crash

/// Set (to the database path) when this binary runs as the crash-test child.
const CHILD_DB: &str = "POD_SQL_CRASH_CHILD_DB";
/// The round the child runs in, to keep order ids apart.
const CHILD_ROUND: &str = "POD_SQL_CRASH_CHILD_ROUND";
/// More writes than any round waits for; the parent kills the child first.
const CHILD_MAX_ORDERS: usize = 100_000;

/// Not a test on its own: the writer half of
/// [`a_killed_writer_loses_no_acknowledged_write`], run in a child process.
/// Without the environment variable it does nothing.
///
/// It places orders for one customer and takes each through a transition or
/// two, and counts a wrong code on a lockout counter, printing an `ACK` line
/// after every write that returned `Ok`, never before.
#[test]
fn crash_child() {
    let (Ok(path), Ok(round)) = (std::env::var(CHILD_DB), std::env::var(CHILD_ROUND)) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = SqlStore::open_sqlite(Path::new(&path)).await.unwrap();
        let policy = ConfirmationPolicy::default();
        let who = format!("crash|r{round}");
        let lock = customer(&format!("crash|lock{round}"));
        let mut out = std::io::stdout().lock();
        // Libtest may have written half a line ("test crash_child ... ").
        let _ = writeln!(out);
        let mut ack = |line: String| writeln!(out, "ACK {line}").and_then(|()| out.flush());
        for i in 0..CHILD_MAX_ORDERS {
            let id = format!("r{round}-{i}");
            let v1 = placed(&id, &who, i as i64);
            store.insert_order(&v1).await.unwrap();
            if ack(format!("order {id} 1")).is_err() {
                return; // the parent is gone
            }
            let mut last = v1;
            let steps = if i % 3 == 0 {
                vec![CodeCheck::Invalid, CodeCheck::Valid]
            } else {
                vec![CodeCheck::Valid]
            };
            for check in steps {
                let next = last.check_code(check, at(i as i64), &policy).unwrap().order;
                store.update_order(&next, last.version()).await.unwrap();
                if ack(format!("order {id} {}", next.version())).is_err() {
                    return;
                }
                last = next;
            }
            let failures = store.record_failed_attempt(&lock).await.unwrap();
            if ack(format!("lock {}", failures.consecutive_failures())).is_err() {
                return;
            }
        }
    });
}

/// What the child acknowledged before it died.
#[derive(Default)]
struct Acknowledged {
    versions: HashMap<String, u64>,
    lock: u32,
    lines: usize,
}

impl Acknowledged {
    fn note(&mut self, line: &str) {
        let Some((_, ack)) = line.split_once("ACK ") else {
            return;
        };
        let words: Vec<&str> = ack.split_whitespace().collect();
        match words.as_slice() {
            ["order", id, version] => {
                let version: u64 = version.parse().unwrap();
                let seen = self.versions.entry((*id).to_owned()).or_default();
                *seen = (*seen).max(version);
            }
            ["lock", n] => self.lock = self.lock.max(n.parse().unwrap()),
            _ => panic!("unexpected child output {line:?}"),
        }
        self.lines += 1;
    }
}

/// Kills a writer with SIGKILL at a random moment, several times over one
/// file, and checks that nothing it acknowledged is lost and that SQLite
/// finds the file intact.
#[test]
fn a_killed_writer_loses_no_acknowledged_write() {
    const ROUNDS: usize = 5;
    // How long a silent child may take before the test gives up on it: a
    // watchdog against a hung child, not a wait for anything to happen.
    const STALL: Duration = Duration::from_secs(15);

    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let exe = std::env::current_exe().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rng = rand::rng();
    let mut total_acks = 0;
    let mut all: Vec<(usize, Acknowledged)> = Vec::new();

    for round in 0..ROUNDS {
        let stderr_path = dir.path().join(format!("child{round}.stderr"));
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DB, &path)
            .env(CHILD_ROUND, round.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match stdout.read_line(&mut line) {
                    // Only whole lines: a line cut by the kill acknowledges nothing.
                    Ok(n) if n > 0 && line.ends_with('\n') => {
                        if lines_tx.send(line).is_err() {
                            return;
                        }
                    }
                    _ => return,
                }
            }
        });

        let kill_after = rng.random_range(1..=400);
        let mut acked = Acknowledged::default();
        while acked.lines < kill_after {
            match lines.recv_timeout(STALL) {
                Ok(line) => acked.note(&line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    panic!(
                        "round {round}: the child stopped after {} acks:\n{stderr}",
                        acked.lines
                    );
                }
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        // Lines the child wrote before it died were acknowledged too.
        for line in lines.try_iter() {
            acked.note(&line);
        }
        total_acks += acked.lines;

        // The integrity check runs first, on the file exactly as the kill
        // left it (this connection also replays the log).
        assert_eq!(runtime.block_on(integrity(&path)), "ok", "round {round}");
        all.push((round, acked));
        runtime.block_on(async {
            let store = SqlStore::open_sqlite(&path).await.unwrap();
            // Every earlier round too: later rounds must not lose them.
            for (round, acked) in &all {
                for (id, version) in &acked.versions {
                    let stored = store
                        .order(&OrderId::parse(id.as_str()).unwrap())
                        .await
                        .unwrap()
                        .unwrap_or_else(|| {
                            panic!("round {round}: acknowledged order {id} is lost")
                        });
                    assert!(
                        stored.version() >= *version,
                        "round {round}: {id} went back"
                    );
                }
                let lock = customer(&format!("crash|lock{round}"));
                assert!(store.lockout(&lock).await.unwrap().consecutive_failures() >= acked.lock);
                // Every stored order of the round still reads back.
                store
                    .orders_of(&customer(&format!("crash|r{round}")))
                    .await
                    .unwrap();
            }
            store.close().await;
        });
    }
    println!("crash test: {ROUNDS} rounds, {total_acks} acknowledged writes, integrity ok");
}
