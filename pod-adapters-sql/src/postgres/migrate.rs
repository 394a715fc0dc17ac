//! Brings a PostgreSQL database's schema up to date, safely when several
//! pod servers start on one database at the same moment.
//!
//! Everything happens in one transaction that first takes the transaction
//! advisory lock [`LOCK_KEY`] (`pg_advisory_xact_lock`): concurrent servers
//! queue on it, and each reads the applied versions only once it holds the
//! lock (under READ COMMITTED every statement sees what committed before
//! it, so the migrations the previous holder committed), applies only what
//! is missing, and releases the lock by committing. A failed migration
//! rolls back whole, the lock with it. The applied versions are rows of
//! `pod_schema_migrations`, created by the first server.

use pod_ports::StoreError;
use sqlx::{Connection, Executor, PgConnection};

use super::error::describe;

/// The advisory lock's key: the ASCII bytes of "pod_sche" (schema). Advisory
/// locks are per database, so databases of one server do not wait for each
/// other.
pub(crate) const LOCK_KEY: i64 = 0x706f_645f_7363_6865;

/// How long a migration's statements may take, waiting for the lock
/// included: longer than the pool's statement timeout, as a server waits
/// here for every server that started before it.
const MIGRATION_TIMEOUT_MS: u32 = 60_000;

/// One migration: its version and its SQL, embedded at compile time.
struct Migration {
    version: i64,
    sql: &'static str,
}

/// Every migration, in order; versions count up from 1 without gaps. They
/// are PostgreSQL's own (`migrations/postgres/`), numbered apart from
/// SQLite's.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../migrations/postgres/0001_schema.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../migrations/postgres/0002_alexa_links.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../migrations/postgres/0003_answered_requests.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../../migrations/postgres/0004_oauth.sql"),
    },
];

/// The schema version this build of pod writes.
pub(crate) const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

fn failed(what: &str, e: &sqlx::Error) -> StoreError {
    StoreError::Unavailable(format!(
        "database migration failed: {what}: {}",
        describe(e)
    ))
}

/// Applies the migrations the database lacks, on `conn`.
pub(crate) async fn run(conn: &mut PgConnection) -> Result<(), StoreError> {
    let mut tx = conn
        .begin()
        .await
        .map_err(|e| failed("cannot begin a transaction", &e))?;
    apply(&mut tx).await?;
    tx.commit().await.map_err(|e| failed("cannot commit", &e))
}

/// The migration's statements, inside the transaction; an error rolls it
/// back (and releases the lock) when the caller drops the transaction.
async fn apply(tx: &mut PgConnection) -> Result<(), StoreError> {
    let timeout = format!("SET LOCAL statement_timeout = {MIGRATION_TIMEOUT_MS}");
    // The constant is pod's own; SET takes no bind parameters.
    tx.execute(timeout.as_str())
        .await
        .map_err(|e| failed("cannot set the timeout", &e))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *tx)
        .await
        .map_err(|e| failed("cannot take the migration lock", &e))?;
    let table: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('pod_schema_migrations')::text")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| failed("cannot inspect the schema", &e))?;
    if table.is_none() {
        tx.execute(
            "CREATE TABLE pod_schema_migrations (\
                 version    BIGINT      NOT NULL PRIMARY KEY, \
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .map_err(|e| failed("cannot create the migration table", &e))?;
    }
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM pod_schema_migrations")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| failed("cannot read the schema version", &e))?;
    if current > LATEST {
        return Err(StoreError::Unavailable(format!(
            "database migration failed: the schema version {current} is newer than this pod's \
             ({LATEST}); a newer pod wrote it"
        )));
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        let what = format!("migration {}", migration.version);
        tx.execute(migration.sql)
            .await
            .map_err(|e| failed(&what, &e))?;
        sqlx::query("INSERT INTO pod_schema_migrations (version) VALUES ($1)")
            .bind(migration.version)
            .execute(&mut *tx)
            .await
            .map_err(|e| failed(&what, &e))?;
    }
    Ok(())
}
