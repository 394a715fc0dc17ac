//! Brings a database's schema up to date, safely when several processes
//! open a new data folder at the same moment.
//!
//! The schema version is SQLite's `PRAGMA user_version`. The migrations run
//! inside one `BEGIN IMMEDIATE` transaction: concurrent openers serialize on
//! SQLite's write lock (waiting up to the busy timeout), each reads the
//! version only once it holds the lock, and skips what another already did.
//! A failed migration rolls back whole.
//!
//! Databases made by earlier pods (built on `sqlx`) have user_version 0 and
//! a `_sqlx_migrations` table listing what was applied; those migrations
//! (1 and 2 here) count as applied, and the table is dropped once the
//! database carries a user_version.

use pod_ports::StoreError;
use rusqlite::Connection;

use super::error::describe;

/// One migration: its version and its SQL, embedded at compile time.
struct Migration {
    version: i64,
    sql: &'static str,
}

/// Every migration, in order; versions count up from 1 without gaps.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../migrations/0001_orders_users_codes.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../migrations/0002_sessions.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../migrations/0003_accounts.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../../migrations/0004_alexa_links.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../../migrations/0005_answered_requests.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../../migrations/0006_oauth.sql"),
    },
];

/// The schema version this build of pod writes.
pub(crate) const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

fn failed(what: &str, e: &rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!(
        "database migration failed: {what}: {}",
        describe(e)
    ))
}

/// Applies the migrations the database lacks.
pub(crate) fn run(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| failed("cannot lock the database", &e))?;
    let result = apply(conn);
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    match conn.execute_batch(end) {
        Ok(()) => result,
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            result.and(Err(failed("cannot commit", &e)))
        }
    }
}

fn apply(conn: &Connection) -> Result<(), StoreError> {
    let stored: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| failed("cannot read the schema version", &e))?;
    let (current, from_sqlx) = if stored == 0 {
        match sqlx_version(conn)? {
            Some(version) => (version, true),
            None => (0, false),
        }
    } else {
        (stored, false)
    };
    if current > LATEST {
        return Err(StoreError::Unavailable(format!(
            "database migration failed: the schema version {current} is newer than this pod's \
             ({LATEST}); a newer pod wrote it"
        )));
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        conn.execute_batch(migration.sql)
            .map_err(|e| failed(&format!("migration {}", migration.version), &e))?;
    }
    if from_sqlx {
        conn.execute_batch("DROP TABLE _sqlx_migrations")
            .map_err(|e| failed("cannot drop the old migration table", &e))?;
    }
    if current < LATEST || from_sqlx {
        // No bind parameters in a PRAGMA; LATEST is a constant.
        conn.execute_batch(&format!("PRAGMA user_version = {LATEST}"))
            .map_err(|e| failed("cannot write the schema version", &e))?;
    }
    Ok(())
}

/// The schema version of a database made by the `sqlx` engine: the last of
/// its applied migrations, `None` when there is no `_sqlx_migrations` table.
fn sqlx_version(conn: &Connection) -> Result<Option<i64>, StoreError> {
    let has_table: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master \
             WHERE type = 'table' AND name = '_sqlx_migrations')",
            [],
            |row| row.get(0),
        )
        .map_err(|e| failed("cannot inspect the schema", &e))?;
    if !has_table {
        return Ok(None);
    }
    let mut statement = conn
        .prepare("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .map_err(|e| failed("cannot read the old migration table", &e))?;
    let applied = statement
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, bool>(1)?))
        })
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| failed("cannot read the old migration table", &e))?;
    let mut version = 0;
    for (applied, success) in applied {
        if !success {
            return Err(StoreError::Unavailable(format!(
                "database migration failed: migration {applied} is partially applied"
            )));
        }
        // Only the migrations the sqlx engine knew, each once, in order.
        if applied != version + 1 || applied > 2 {
            return Err(StoreError::Unavailable(format!(
                "database migration failed: migration {applied} is applied to the database \
                 but unknown to this pod"
            )));
        }
        version = applied;
    }
    Ok(Some(version))
}
