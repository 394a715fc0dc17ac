//! `SqlStore` as a `SessionStore` on PostgreSQL: the checks shared with
//! SQLite, and what only the database shows.

use std::sync::Arc;

use pod_ports::{SessionStore, StoreError};
use tokio::sync::Barrier;

use super::store;
use crate::RawDb;
use crate::sessions::{HOUR, at, demo};

crate::sessions::session_checks!(store);

#[tokio::test]
async fn only_a_hash_of_the_id_is_stored() {
    let (db, store) = store().await;
    let (id, _) = store
        .create_session(Some(demo()), None, at(0), at(HOUR))
        .await
        .unwrap();
    let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT id_hash FROM sessions")
        .fetch_all(&mut db.raw().await)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].len(), 32, "SHA-256");
    let text: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' ', encode(id_hash, 'escape'), customer_id, csrf_token, pending) \
         FROM sessions",
    )
    .fetch_all(&mut db.raw().await)
    .await
    .unwrap();
    assert!(
        !text[0].contains(id.expose()),
        "the id itself is never written"
    );
}

/// A replayed sign-in racing the real one: of two rotations of one session
/// at the same moment, exactly one makes a new session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_rotations_of_one_session_exactly_one_applies() {
    let (db, store) = store().await;
    for round in 0..10 {
        let (old, _) = store
            .create_session(None, Some("oidc".into()), at(round), at(HOUR))
            .await
            .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                let old = old.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .rotate_session(&old, &demo(), at(round + 1), at(8 * HOUR))
                        .await
                })
            })
            .collect();
        let mut made = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok((id, _)) => made.push(id),
                Err(StoreError::Conflict) => {}
                Err(other) => panic!("round {round}: {other}"),
            }
        }
        assert_eq!(made.len(), 1, "round {round}");
        assert!(store.session(&old, at(round + 2)).await.unwrap().is_none());
        assert!(
            store
                .session(&made[0], at(round + 2))
                .await
                .unwrap()
                .is_some()
        );
        store.delete_session(&made[0]).await.unwrap();
    }
    assert_eq!(db.raw_count("sessions").await, 0);
}
