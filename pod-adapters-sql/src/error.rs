//! Turning `sqlx` errors into the ports' [`StoreError`] at the seam.
//!
//! Messages are built from the kind of failure, never from `sqlx`'s own
//! `Display`, which for some kinds repeats configuration (URLs with
//! passwords) or data.

use pod_ports::StoreError;
use sqlx::Row;
use sqlx::migrate::MigrateError;
use sqlx::sqlite::SqliteRow;

/// Maps an error of a write: a unique-index violation means another writer
/// got there first, which the ports call a conflict.
pub(crate) fn write_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => unavailable(&e),
    }
}

/// Maps any other error: reads, and writes no uniqueness rule can refuse.
pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    unavailable(&e)
}

/// [`StoreError::Unavailable`] with a message safe to log.
pub(crate) fn unavailable(e: &sqlx::Error) -> StoreError {
    StoreError::Unavailable(describe(e))
}

fn describe(e: &sqlx::Error) -> String {
    match e {
        // SQLite's messages name tables, columns and constraints, never
        // bound values.
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("database error {code}: {}", db.message()),
            None => format!("database error: {}", db.message()),
        },
        sqlx::Error::Io(io) => format!("database I/O error ({})", io.kind()),
        sqlx::Error::Configuration(_) => "invalid database configuration".to_owned(),
        sqlx::Error::Tls(_) => "TLS error talking to the database".to_owned(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a database connection".to_owned(),
        sqlx::Error::PoolClosed => "the store is closed".to_owned(),
        sqlx::Error::WorkerCrashed => "the database worker crashed".to_owned(),
        sqlx::Error::Protocol(_) => "database protocol error".to_owned(),
        sqlx::Error::Migrate(m) => migrate(m),
        _ => "database driver error".to_owned(),
    }
}

/// A loggable description of a failed migration.
pub(crate) fn migrate(e: &MigrateError) -> String {
    match e {
        MigrateError::Execute(inner) => describe(inner),
        MigrateError::ExecuteMigration(inner, version) => {
            format!("migration {version}: {}", describe(inner))
        }
        MigrateError::Source(_) => "the embedded migrations cannot be read".to_owned(),
        MigrateError::VersionMissing(version) => format!(
            "migration {version} is applied to the database but unknown to this pod (a newer pod wrote it?)"
        ),
        MigrateError::VersionMismatch(version) => {
            format!("migration {version} was applied in a different form")
        }
        MigrateError::Dirty(version) => format!("migration {version} is partially applied"),
        _ => "the migrations do not match the database".to_owned(),
    }
}

/// [`StoreError::Corrupt`] for a stored value of `table.column` (of the row
/// `key`) that does not make a domain value.
pub(crate) fn corrupt(table: &str, key: &str, column: &str, problem: &str) -> StoreError {
    StoreError::Corrupt(format!("{table} {key:?}: column {column}: {problem}"))
}

/// Reads a column, turning a missing column or a value of the wrong type
/// (SQLite stores whatever it is given) into [`StoreError::Corrupt`].
pub(crate) fn column<'r, T>(row: &'r SqliteRow, table: &str, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get::<T, _>(column).map_err(|e| {
        // The decode error names types, not the value, so it is safe to keep.
        let problem = match e {
            sqlx::Error::ColumnDecode { source, .. } => source.to_string(),
            sqlx::Error::ColumnNotFound(_) => "missing".to_owned(),
            _ => "unreadable".to_owned(),
        };
        StoreError::Corrupt(format!("{table}: column {column}: {problem}"))
    })
}

/// A stored count or version as a `u64`; negative is corrupt.
pub(crate) fn non_negative(
    value: i64,
    table: &str,
    key: &str,
    column: &str,
) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(table, key, column, "negative"))
}

/// A stored count as a `u32`: negative is corrupt; beyond `u32::MAX`
/// saturates, as the domain's counters do.
pub(crate) fn count_u32(
    value: i64,
    table: &str,
    key: &str,
    column: &str,
) -> Result<u32, StoreError> {
    let value = non_negative(value, table, key, column)?;
    Ok(u32::try_from(value).unwrap_or(u32::MAX))
}
