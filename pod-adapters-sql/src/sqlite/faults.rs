//! Faults of the database file, rehearsed through the store: another
//! process holding the write lock, a full database, a file that went
//! read-only. For each: writes fail with a clear `Unavailable`, the store
//! is not ready while the fault lasts (`ping`, what `/readyz` asks), and
//! after the recovery readiness comes back by itself, SQLite finds the
//! file intact (`PRAGMA integrity_check`), every acknowledged write is
//! there and the next write succeeds.
//!
//! "Full" and "read-only" are set on the writer's own connection (these
//! tests are inside the crate to reach it): `PRAGMA max_page_count` is a
//! setting of the connection that writes, not of the file, so no other
//! process can set it; and tests may run as root, for whom a `chmod` denies
//! nothing, while remounting a file system read-only needs privileges CI
//! lacks. `PRAGMA max_page_count` makes SQLite answer `SQLITE_FULL` exactly
//! as a full disk does, and `PRAGMA query_only` makes it answer
//! `SQLITE_READONLY` as a read-only file does.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pod_domain::{
    Account, CodeDigest, ConfirmationPolicy, CustomerId, Destination, OrderId, Pizza, PizzaSize,
    Timestamp, Topping,
};
use pod_ports::{AccountStore, StoreError};
use tempfile::TempDir;

use crate::{Backend, SqlStore};

use super::Engine;

const T0: Timestamp = Timestamp::from_unix_seconds(1_700_000_000);

fn customer(n: usize) -> CustomerId {
    CustomerId::parse(format!("local|faults-{n}")).unwrap()
}

/// Places an order for customer `n` on what the store holds for them.
async fn place(store: &SqlStore, n: usize) -> Result<(), StoreError> {
    let account: Account = store.load_account(&customer(n)).await?;
    let change = account
        .place_order(
            OrderId::parse(format!("order-{n}")).unwrap(),
            Pizza::new(PizzaSize::Large, [Topping::Pepperoni]).unwrap(),
            &Destination::sms("+15550100123"),
            Some(CodeDigest::new(vec![0xab; 32])),
            T0,
            &ConfirmationPolicy::default(),
        )
        .unwrap()
        .change;
    store.commit(&change).await
}

/// Whether customer `n`'s order is stored.
async fn has_order(store: &SqlStore, n: usize) -> bool {
    let orders = store.orders_of(&customer(n)).await.unwrap();
    orders.iter().any(|o| o.awaiting().is_some())
}

fn engine(store: &SqlStore) -> Arc<Engine> {
    match &store.backend {
        Backend::Sqlite(engine) => engine.clone(),
        Backend::Postgres(_) => unreachable!("a SQLite store"),
    }
}

/// Runs `sql` on the writer's own connection.
async fn on_writer(store: &SqlStore, sql: &'static str) {
    engine(store)
        .on_writer(move |conn| {
            conn.execute_batch(sql).unwrap();
            Ok(())
        })
        .await
        .unwrap();
}

fn integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap()
}

fn is_unavailable<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Unavailable(_)))
}

/// After the fault: ready again, intact, `acknowledged` customers' orders
/// present, and the next write (customer `next`) succeeds.
async fn recovered(store: &SqlStore, path: &Path, acknowledged: usize, next: usize) {
    store.ping().await.expect("ready again after the fault");
    assert_eq!(integrity(path), "ok");
    for n in 0..acknowledged {
        assert!(has_order(store, n).await, "acknowledged order {n} lost");
    }
    place(store, next).await.expect("the next write succeeds");
    assert!(has_order(store, next).await);
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_by_another_connection_fails_writes_then_recovers() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("pod.db");
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    place(&store, 0).await.unwrap();

    // Another process (here another connection; SQLite's locks do not care)
    // holds the write lock and does not let go.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let refused = place(&store, 1).await;
    assert!(is_unavailable(&refused), "{refused:?}");
    // Reads still work (WAL), but the store is not ready: writes fail.
    assert!(has_order(&store, 0).await);
    let ping = store.ping().await;
    assert!(is_unavailable(&ping), "{ping:?}");

    other.execute_batch("ROLLBACK").unwrap();
    drop(other);
    recovered(&store, &path, 1, 1).await;
}

/// Caps the file at the pages it has now, with none free inside it (a free
/// page would take a small write such as the readiness probe).
async fn no_more_pages(store: &SqlStore) {
    engine(store)
        .on_writer(|conn| {
            let free: i64 = conn
                .query_row("PRAGMA freelist_count", [], |r| r.get(0))
                .unwrap();
            if free > 0 {
                conn.execute_batch("VACUUM").unwrap();
            }
            let pages: i64 = conn
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .unwrap();
            conn.execute_batch(&format!("PRAGMA max_page_count = {pages}"))
                .unwrap();
            Ok(())
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_fails_writes_then_recovers() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("pod.db");
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    place(&store, 0).await.unwrap();

    // The file may not grow by a single page from now on.
    no_more_pages(&store).await;
    // Writes go on while the pages have room, then fail.
    let mut acknowledged = 1;
    let refused = loop {
        assert!(acknowledged < 2000, "the database never filled up");
        match place(&store, acknowledged).await {
            Ok(()) => acknowledged += 1,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(&refused, StoreError::Unavailable(m) if m.contains("full")),
        "{refused:?}"
    );
    // The refused write may have needed more pages than were left; the
    // probe needs one, so leave none.
    no_more_pages(&store).await;
    let ping = store.ping().await;
    assert!(is_unavailable(&ping), "{ping:?}");
    // Still full: still not ready, and nothing half-written.
    assert!(is_unavailable(&place(&store, acknowledged).await));
    assert!(is_unavailable(&store.ping().await));
    assert!(!has_order(&store, acknowledged).await);

    // Space again.
    on_writer(&store, "PRAGMA max_page_count = 1073741823").await;
    recovered(&store, &path, acknowledged, acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_fails_writes_then_recovers() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("pod.db");
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    place(&store, 0).await.unwrap();

    on_writer(&store, "PRAGMA query_only = ON").await;
    let refused = place(&store, 1).await;
    assert!(
        matches!(&refused, Err(StoreError::Unavailable(m)) if m.contains("readonly")),
        "{refused:?}"
    );
    let ping = store.ping().await;
    assert!(is_unavailable(&ping), "{ping:?}");
    assert!(has_order(&store, 0).await, "reads still work");

    on_writer(&store, "PRAGMA query_only = OFF").await;
    recovered(&store, &path, 1, 1).await;
}
