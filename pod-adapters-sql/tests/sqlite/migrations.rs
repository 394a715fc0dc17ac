//! Schema migrations: several processes opening a new file at once,
//! databases of the earlier sqlx engine, and databases this pod cannot read.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use pod_adapters_sql::SqlStore;
use pod_ports::domain::{
    Account, CodeCheck, CodeDigest, Lockout, OrderState, SendLog, SignInCode, Timestamp,
};
use pod_ports::{AccountStore, SessionId, SessionStore, StoreError, UserStore};
use tempfile::TempDir;

use super::{at, check, commit, customer, db_path, integrity, oid, place, raw, tables, user};

const MIGRATION_1: &str = include_str!("../../migrations/0001_orders_users_codes.sql");
const MIGRATION_2: &str = include_str!("../../migrations/0002_sessions.sql");

/// Set (to the database path) when this binary runs as a migration child.
const CHILD_DB: &str = "POD_SQL_MIGRATE_CHILD_DB";
/// The child's number, to keep its writes apart.
const CHILD_N: &str = "POD_SQL_MIGRATE_CHILD_N";

/// Not a test on its own: one of the processes of
/// [`concurrent_openers_of_a_new_file_all_succeed`]. Without the
/// environment variables it does nothing.
///
/// Says `READY`, waits for a line on stdin (the start signal the parent
/// gives all children at once), opens the store, writes a user and an
/// account, and says `OK`.
#[test]
fn migrate_child() {
    let (Ok(path), Ok(n)) = (std::env::var(CHILD_DB), std::env::var(CHILD_N)) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut out = std::io::stdout().lock();
    // Libtest may have written half a line ("test migrate_child ... ").
    writeln!(out, "\nREADY").unwrap();
    out.flush().unwrap();
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    runtime.block_on(async {
        let store = SqlStore::open_sqlite(std::path::Path::new(&path))
            .await
            .unwrap();
        store
            .add_user(&user(&format!("m{n}"), &format!("m{n}@example.com"), None))
            .await
            .unwrap();
        let who = customer(&format!("local|m{n}"));
        let account = store.load_account(&who).await.unwrap();
        store
            .commit(&place(&account, &format!("m{n}"), at(0)))
            .await
            .unwrap();
        store.close().await;
    });
    writeln!(out, "OK").unwrap();
    out.flush().unwrap();
}

fn spawn_child(path: &std::path::Path, n: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "migrations::migrate_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, path)
        .env(CHILD_N, n.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Today's `pod users add` run four times at once on a fresh data folder:
/// every process must open (and migrate) the same new file and write.
#[test]
fn concurrent_openers_of_a_new_file_all_succeed() {
    const ROUNDS: usize = 3;
    const CHILDREN: usize = 6;
    // A watchdog against a hung child, not a wait for anything to happen.
    const STALL: Duration = Duration::from_secs(60);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for round in 0..ROUNDS {
        let dir = TempDir::new().unwrap();
        let path = db_path(&dir);
        let mut children: Vec<Child> = (0..CHILDREN).map(|n| spawn_child(&path, n)).collect();
        // Wait until every child is up, so that the start signal reaches
        // processes that are all ready to open at once (a barrier).
        let (lines_tx, lines) = mpsc::channel::<(usize, String)>();
        let mut readers = Vec::new();
        for (n, child) in children.iter_mut().enumerate() {
            let stdout = BufReader::new(child.stdout.take().unwrap());
            let tx = lines_tx.clone();
            readers.push(std::thread::spawn(move || {
                for line in stdout.lines().map_while(Result::ok) {
                    if tx.send((n, line)).is_err() {
                        return;
                    }
                }
            }));
        }
        drop(lines_tx);
        let mut ready = 0;
        while ready < CHILDREN {
            let (_, line) = lines.recv_timeout(STALL).expect("a child never got ready");
            if line.trim() == "READY" {
                ready += 1;
            }
        }
        for child in &mut children {
            child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        }
        let mut ok = [false; CHILDREN];
        loop {
            match lines.recv_timeout(STALL) {
                Ok((n, line)) => ok[n] |= line.trim() == "OK",
                Err(mpsc::RecvTimeoutError::Disconnected) => break, // every child is done
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    for child in &mut children {
                        let _ = child.kill();
                    }
                    panic!("round {round}: a child hangs");
                }
            }
        }
        for (n, child) in children.into_iter().enumerate() {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success() && ok[n],
                "round {round}: child {n} failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for reader in readers {
            reader.join().unwrap();
        }

        let conn = raw(&path);
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, 6, "round {round}");
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
        assert_eq!(integrity(&path), "ok");
        runtime.block_on(async {
            let store = SqlStore::open_sqlite(&path).await.unwrap();
            assert_eq!(store.users().await.unwrap().len(), CHILDREN);
            for n in 0..CHILDREN {
                let account = store
                    .load_account(&customer(&format!("local|m{n}")))
                    .await
                    .unwrap();
                assert_eq!(account.version(), 1, "round {round}, child {n}");
            }
        });
    }
}

/// Far in the future: a send time the migration keeps as recent whatever
/// today's date (it drops sends older than a day).
const RECENT: Timestamp = Timestamp::from_unix_seconds(4_102_444_800);

/// Makes the database the sqlx engine made with its migrations `applied`
/// (1, or 1 and 2), holding a customer with a lock count, a pending order
/// with its code and code sends; one with a sign-in code; one with only a
/// confirmed order and a stray order code; a user; and (with migration 2)
/// a session.
fn old_database(path: &std::path::Path, applied: &[i64]) {
    let conn = raw(path);
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch(
        "CREATE TABLE _sqlx_migrations (
             version BIGINT PRIMARY KEY,
             description TEXT NOT NULL,
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
             success BOOLEAN NOT NULL,
             checksum BLOB NOT NULL,
             execution_time BIGINT NOT NULL
         );",
    )
    .unwrap();
    for version in applied {
        let sql = if *version == 1 {
            MIGRATION_1
        } else {
            MIGRATION_2
        };
        conn.execute_batch(sql).unwrap();
        conn.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                 execution_time) VALUES (?1, 'old', TRUE, x'00', 1)",
            [version],
        )
        .unwrap();
    }
    let t0 = at(0).unix_millis();
    let recent = RECENT.unix_millis();
    conn.execute(
        "INSERT INTO orders (id, customer_id, size, toppings, placed_at, version, state, \
             channel, masked_destination, sent_at, expires_at, failed_attempts) \
         VALUES ('old-1', 'local|a', 'large', 'ham', ?1, 2, 'awaiting_code', 'sms', '***23', \
             ?1, ?2, 1)",
        [t0, t0 + 300_000],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO orders (id, customer_id, size, toppings, placed_at, version, state, \
             confirmed_at) \
         VALUES ('old-2', 'local|c', 'small', '', ?1, 2, 'confirmed', ?1)",
        [t0],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO lockouts (customer_id, consecutive_failures) VALUES ('local|a', 3)",
        [],
    )
    .unwrap();
    for (who, sent_at) in [("local|a", recent), ("local|a", t0), ("local|b", recent)] {
        conn.execute(
            "INSERT INTO code_sends (customer_id, sent_at) VALUES (?1, ?2)",
            rusqlite::params![who, sent_at],
        )
        .unwrap();
    }
    for (who, purpose, hash, issued, failed) in [
        ("local|a", "order", vec![7u8; 32], t0, 1),
        ("local|b", "sign_in", vec![9u8, 9], recent, 2),
        ("local|c", "order", vec![5u8; 32], t0, 0),
    ] {
        conn.execute(
            "INSERT INTO one_time_codes (customer_id, purpose, hash, issued_at, expires_at, \
                 failed_attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![who, purpose, hash, issued, issued + 300_000, failed],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO users (id, name, name_key, email, email_key, phone, created_at) \
         VALUES ('local|demo', 'demo', 'demo', 'demo@example.com', 'demo@example.com', NULL, 42)",
        [],
    )
    .unwrap();
    if applied.contains(&2) {
        let hash = digest(&SHA256, b"old-session-cookie");
        conn.execute(
            "INSERT INTO sessions (id_hash, customer_id, csrf_token, pending, created_at, \
                 expires_at) VALUES (?1, 'local|demo', 'csrf', NULL, ?2, ?3)",
            rusqlite::params![hash.as_ref(), t0, recent],
        )
        .unwrap();
    }
}

#[tokio::test]
async fn an_old_sqlx_database_is_migrated_with_its_data() {
    for applied in [&[1][..], &[1, 2]] {
        let dir = TempDir::new().unwrap();
        let path = db_path(&dir);
        old_database(&path, applied);
        let store = SqlStore::open_sqlite(&path).await.unwrap();

        let conn = raw(&path);
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
            ],
            "old tables dropped, {applied:?}"
        );
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, 6);

        // The lock count, the pending order with its code, the recent send
        // (in both logs: the old pod had one budget for both).
        let a = store.load_account(&customer("local|a")).await.unwrap();
        assert_eq!(a.version(), 1);
        assert_eq!(
            a.lockout(),
            Lockout {
                consecutive_failures: 3,
                locked_at: None
            }
        );
        let pending = a.pending().expect("the pending order is carried over");
        assert_eq!(pending.id(), &oid("old-1"));
        assert_eq!(pending.version(), 2);
        assert_eq!(pending.awaiting().unwrap().failed_attempts(), 1);
        assert_eq!(a.order_digest(), Some(&CodeDigest::new(vec![7; 32])));
        assert_eq!(a.order_sends(), &SendLog::from_times(vec![RECENT]));
        assert_eq!(a.sign_in_sends(), &SendLog::from_times(vec![RECENT]));
        assert_eq!(a.sign_in_code(), None);

        // The sign-in code.
        let b = store.load_account(&customer("local|b")).await.unwrap();
        assert_eq!(
            b.sign_in_code(),
            Some(&SignInCode {
                digest: Some(CodeDigest::new(vec![9, 9])),
                issued_at: RECENT,
                expires_at: RECENT.plus(Duration::from_secs(300)),
                failed_attempts: 2,
            })
        );
        assert_eq!(b.order_digest(), None);
        assert_eq!(b.lockout(), Lockout::default());

        // A stray order code without a pending order is not kept.
        let c = store.load_account(&customer("local|c")).await.unwrap();
        assert_eq!(c.order_digest(), None);
        assert_eq!(c.pending(), None);
        let history = store.orders_of(&customer("local|c")).await.unwrap();
        assert!(matches!(
            history.as_slice(),
            [order] if matches!(order.state(), OrderState::Confirmed { .. })
        ));

        assert!(store.user_by_login("demo").await.unwrap().is_some());
        if applied.contains(&2) {
            let id = SessionId::from_cookie("old-session-cookie").unwrap();
            let session = store.session(&id, at(1)).await.unwrap().unwrap();
            assert_eq!(session.customer, Some(customer("local|demo")));
        }

        // The carried-over account goes on: the right code confirms.
        let a = commit(&store, &check(&a, "old-1", CodeCheck::Valid, at(1))).await;
        assert_eq!(a.version(), 2);
        let confirmed = store.order(&oid("old-1")).await.unwrap().unwrap();
        assert!(matches!(confirmed.state(), OrderState::Confirmed { .. }));
        store.close().await;

        // Opening again changes nothing.
        let store = SqlStore::open_sqlite(&path).await.unwrap();
        assert_eq!(store.load_account(&customer("local|a")).await.unwrap(), a);
        assert_eq!(integrity(&path), "ok");
    }
}

#[tokio::test]
async fn a_customer_with_a_pending_order_but_no_account_row_can_go_on() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    let who = customer("local|a");
    commit(&store, &place(&Account::new(who.clone()), "o1", at(0))).await;
    raw(&path).execute("DELETE FROM accounts", []).unwrap();
    let account = store.load_account(&who).await.unwrap();
    assert_eq!(account.version(), 0);
    assert_eq!(account.pending().map(|o| o.id().as_str()), Some("o1"));
    let account = commit(&store, &place(&account, "o2", at(1))).await;
    assert_eq!(store.load_account(&who).await.unwrap(), account);
}

#[tokio::test]
async fn databases_this_pod_cannot_read_are_refused_untouched() {
    // (what, how the database was left)
    let cases = [
        ("written by a newer pod", "PRAGMA user_version = 99;"),
        (
            "a partially applied sqlx migration",
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT, \
                 success BOOLEAN NOT NULL, checksum BLOB, execution_time BIGINT); \
             INSERT INTO _sqlx_migrations VALUES (1, 'old', FALSE, x'00', 1);",
        ),
        (
            "a sqlx migration this pod never had",
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT, \
                 success BOOLEAN NOT NULL, checksum BLOB, execution_time BIGINT); \
             INSERT INTO _sqlx_migrations VALUES (1, 'old', TRUE, x'00', 1); \
             INSERT INTO _sqlx_migrations VALUES (2, 'old', TRUE, x'00', 1); \
             INSERT INTO _sqlx_migrations VALUES (3, 'new', TRUE, x'00', 1);",
        ),
    ];
    for (what, setup) in cases {
        let dir = TempDir::new().unwrap();
        let path = db_path(&dir);
        raw(&path).execute_batch(setup).unwrap();
        let before = tables(&raw(&path));
        match SqlStore::open_sqlite(&path).await {
            Err(StoreError::Unavailable(message)) => {
                assert!(message.contains("migration"), "{what}: {message}");
            }
            other => panic!("{what}: expected Unavailable, got {other:?}"),
        }
        assert_eq!(tables(&raw(&path)), before, "{what}: nothing created");
    }
}
