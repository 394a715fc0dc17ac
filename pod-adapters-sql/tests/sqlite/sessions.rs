//! `SqlStore` as a `SessionStore`, against real SQLite files; the checks
//! that need only the port (and a look behind it) are shared with
//! PostgreSQL ([`checks`], [`session_checks!`]).

use std::collections::HashSet;

use pod_adapters_sql::SqlStore;
use pod_ports::domain::{CustomerId, Timestamp};
use pod_ports::{SessionId, SessionStore, StoreError};
use tempfile::TempDir;

use crate::RawDb;

const T0: i64 = 1_700_000_000_000;
pub(crate) const HOUR: i64 = 3_600_000;

pub(crate) fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(T0 + offset_ms)
}

pub(crate) fn demo() -> CustomerId {
    CustomerId::parse("local|demo").unwrap()
}

async fn store() -> (TempDir, SqlStore) {
    let dir = TempDir::new().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("pod.db"))
        .await
        .unwrap();
    (dir, store)
}

fn raw(dir: &TempDir) -> rusqlite::Connection {
    super::raw(&dir.path().join("pod.db"))
}

/// Checks of the session store through the port alone, on any backend.
pub(crate) mod checks {
    use super::*;

    pub(crate) async fn a_session_is_made_read_and_expires(store: &SqlStore) {
        let (id, made) = store
            .create_session(None, Some("pending".into()), at(0), at(HOUR))
            .await
            .unwrap();
        assert_eq!(made.customer, None);
        assert_eq!(made.pending.as_deref(), Some("pending"));
        let read = store.session(&id, at(1)).await.unwrap().unwrap();
        assert_eq!(read, made);
        assert!(
            store.session(&id, at(HOUR)).await.unwrap().is_none(),
            "expired at expires_at"
        );
        let unknown = SessionId::from_cookie("no-such-session").unwrap();
        assert!(store.session(&unknown, at(1)).await.unwrap().is_none());
    }

    pub(crate) async fn ids_and_csrf_tokens_are_random_256_bit_values(store: &SqlStore) {
        let mut seen = HashSet::new();
        for _ in 0..50 {
            let (id, session) = store
                .create_session(None, None, at(0), at(HOUR))
                .await
                .unwrap();
            assert_eq!(id.expose().len(), 43, "32 bytes, base64url");
            assert_eq!(session.csrf_token.len(), 43);
            assert_ne!(id.expose(), session.csrf_token);
            assert!(seen.insert(id.expose().to_owned()));
            assert!(seen.insert(session.csrf_token));
        }
    }

    pub(crate) async fn rotation_signs_in_with_a_new_id_and_the_old_one_is_dead(store: &SqlStore) {
        let (old, before) = store
            .create_session(None, Some("oidc".into()), at(0), at(HOUR))
            .await
            .unwrap();
        let (new, after) = store
            .rotate_session(&old, &demo(), at(10), at(8 * HOUR))
            .await
            .unwrap();
        assert_ne!(new, old);
        assert_ne!(after.csrf_token, before.csrf_token);
        assert_eq!(after.customer, Some(demo()));
        assert_eq!(after.pending, None);
        assert_eq!(after.expires_at, at(8 * HOUR));
        assert!(store.session(&old, at(11)).await.unwrap().is_none());
        assert_eq!(store.session(&new, at(11)).await.unwrap(), Some(after));
        // Rotating the old id again (a replayed sign-in) makes nothing.
        assert!(matches!(
            store.rotate_session(&old, &demo(), at(12), at(HOUR)).await,
            Err(StoreError::Conflict)
        ));
    }

    pub(crate) async fn an_expired_session_cannot_be_rotated(store: &SqlStore) {
        let (id, _) = store
            .create_session(None, None, at(0), at(HOUR))
            .await
            .unwrap();
        assert!(matches!(
            store
                .rotate_session(&id, &demo(), at(HOUR), at(2 * HOUR))
                .await,
            Err(StoreError::Conflict)
        ));
    }

    pub(crate) async fn pending_data_is_replaced_and_cleared(store: &SqlStore) {
        let (id, _) = store
            .create_session(None, None, at(0), at(HOUR))
            .await
            .unwrap();
        store.set_pending(&id, Some("one".into())).await.unwrap();
        assert_eq!(
            store
                .session(&id, at(1))
                .await
                .unwrap()
                .unwrap()
                .pending
                .as_deref(),
            Some("one")
        );
        store.set_pending(&id, None).await.unwrap();
        assert_eq!(
            store.session(&id, at(1)).await.unwrap().unwrap().pending,
            None
        );
        store.delete_session(&id).await.unwrap();
        assert!(matches!(
            store.set_pending(&id, Some("two".into())).await,
            Err(StoreError::Conflict)
        ));
    }

    pub(crate) async fn expired_sessions_are_pruned_when_new_ones_are_made(
        store: &SqlStore,
        db: &impl RawDb,
    ) {
        for _ in 0..3 {
            store
                .create_session(None, None, at(0), at(HOUR))
                .await
                .unwrap();
        }
        let (live, _) = store
            .create_session(None, None, at(0), at(10 * HOUR))
            .await
            .unwrap();
        store
            .create_session(None, None, at(2 * HOUR), at(3 * HOUR))
            .await
            .unwrap();
        assert_eq!(
            db.raw_count("sessions").await,
            2,
            "the three expired ones are gone"
        );
        assert!(store.session(&live, at(2 * HOUR)).await.unwrap().is_some());
    }

    pub(crate) async fn a_corrupt_customer_is_reported_as_corrupt(
        store: &SqlStore,
        db: &impl RawDb,
    ) {
        let (id, _) = store
            .create_session(Some(demo()), None, at(0), at(HOUR))
            .await
            .unwrap();
        db.raw_execute("UPDATE sessions SET customer_id = ''").await;
        assert!(matches!(
            store.session(&id, at(1)).await,
            Err(StoreError::Corrupt(_))
        ));
    }

    pub(crate) async fn deletion_ends_a_session_and_is_idempotent(store: &SqlStore) {
        let (id, _) = store
            .create_session(Some(demo()), None, at(0), at(HOUR))
            .await
            .unwrap();
        store.delete_session(&id).await.unwrap();
        assert!(store.session(&id, at(1)).await.unwrap().is_none());
        store.delete_session(&id).await.unwrap();
    }
}

/// One `#[tokio::test]` per check of [`checks`], each on a fresh store from
/// `$make` (an async fn returning `(database, SqlStore)`, the database a
/// [`RawDb`](crate::RawDb) for the checks that look behind the store).
macro_rules! session_checks {
    ($make:path) => {
        $crate::sessions::session_checks!(@tests $make;
            a_session_is_made_read_and_expires,
            ids_and_csrf_tokens_are_random_256_bit_values,
            rotation_signs_in_with_a_new_id_and_the_old_one_is_dead,
            an_expired_session_cannot_be_rotated,
            pending_data_is_replaced_and_cleared,
            deletion_ends_a_session_and_is_idempotent,
        );
        $crate::sessions::session_checks!(@raw_tests $make;
            expired_sessions_are_pruned_when_new_ones_are_made,
            a_corrupt_customer_is_reported_as_corrupt,
        );
    };
    (@tests $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (_db, store) = $make().await;
                $crate::sessions::checks::$name(&store).await;
            }
        )*
    };
    (@raw_tests $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (db, store) = $make().await;
                $crate::sessions::checks::$name(&store, &db).await;
            }
        )*
    };
}
pub(crate) use session_checks;

session_checks!(store);

#[tokio::test]
async fn only_a_hash_of_the_id_is_stored() {
    let (dir, store) = store().await;
    let (id, _) = store
        .create_session(Some(demo()), None, at(0), at(HOUR))
        .await
        .unwrap();
    let conn = raw(&dir);
    let mut statement = conn.prepare("SELECT id_hash FROM sessions").unwrap();
    let rows: Vec<Vec<u8>> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 1);
    let stored = &rows[0];
    assert_eq!(stored.len(), 32, "SHA-256");
    assert!(
        !stored
            .windows(8)
            .any(|w| id.expose().as_bytes().windows(8).any(|v| v == w))
    );
    let text = std::fs::read(dir.path().join("pod.db")).unwrap_or_default();
    let wal = std::fs::read(dir.path().join("pod.db-wal")).unwrap_or_default();
    for bytes in [text, wal] {
        assert!(
            !bytes
                .windows(id.expose().len())
                .any(|w| w == id.expose().as_bytes()),
            "the id itself is never written"
        );
    }
}

#[tokio::test]
async fn sessions_survive_reopening_the_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("pod.db");
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    let (id, made) = store
        .create_session(Some(demo()), None, at(0), at(HOUR))
        .await
        .unwrap();
    store.close().await;
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    assert_eq!(store.session(&id, at(1)).await.unwrap(), Some(made));
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let (_dir, store) = store().await;
    store.close().await;
    let id = SessionId::from_cookie("whatever").unwrap();
    assert!(matches!(
        store.session(&id, at(0)).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.create_session(None, None, at(0), at(HOUR)).await,
        Err(StoreError::Unavailable(_))
    ));
}
