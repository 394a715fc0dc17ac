//! Turning `rusqlite` errors into the ports' [`StoreError`] at the seam.
//!
//! Messages are built from the kind of failure and SQLite's own message,
//! which names tables, columns and constraints but never bound values.
//! `rusqlite`'s `Display` is not used: for some kinds it repeats a path or
//! a value.

use pod_ports::StoreError;
use rusqlite::types::FromSql;
use rusqlite::{Row, ffi};

/// Maps an error of a write: a unique-index or primary-key violation means
/// another writer got there first, which the ports call a conflict.
pub(crate) fn write_error(e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict
    } else {
        unavailable(&e)
    }
}

/// Maps any other error: reads, and writes no uniqueness rule can refuse.
pub(crate) fn db_error(e: rusqlite::Error) -> StoreError {
    unavailable(&e)
}

/// [`StoreError::Unavailable`] with a message safe to log.
pub(crate) fn unavailable(e: &rusqlite::Error) -> StoreError {
    StoreError::Unavailable(describe(e))
}

/// [`StoreError::Unavailable`] for a store that was closed.
pub(crate) fn closed() -> StoreError {
    StoreError::Unavailable("the store is closed".to_owned())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Whether SQLite said another connection holds the lock it needs.
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked)
    )
}

/// A loggable description of an error.
pub(crate) fn describe(e: &rusqlite::Error) -> String {
    match e {
        // SQLite's messages name tables, columns and constraints, never
        // bound values; the code's description is fixed text.
        // Except when a file cannot be opened: then the message names the
        // path (a URL's, possibly with a password in it).
        rusqlite::Error::SqliteFailure(failure, message) => match message {
            Some(message) if failure.code != ffi::ErrorCode::CannotOpen => format!(
                "database error {} ({failure}): {message}",
                failure.extended_code
            ),
            _ => format!("database error {} ({failure})", failure.extended_code),
        },
        rusqlite::Error::InvalidPath(_) => "invalid database path".to_owned(),
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => "a stored value has an unexpected type".to_owned(),
        rusqlite::Error::QueryReturnedNoRows => "the query returned no row".to_owned(),
        _ => "database driver error".to_owned(),
    }
}

/// [`StoreError::Corrupt`] for a stored value of `table.column` (of the row
/// `key`) that does not make a domain value.
pub(crate) fn corrupt(table: &str, key: &str, column: &str, problem: &str) -> StoreError {
    StoreError::Corrupt(format!("{table} {key:?}: column {column}: {problem}"))
}

/// Reads column `index` (named `column` for the message), turning a value
/// of the wrong type (SQLite stores whatever it is given) into
/// [`StoreError::Corrupt`].
pub(crate) fn column<T: FromSql>(
    row: &Row<'_>,
    index: usize,
    table: &str,
    column: &str,
) -> Result<T, StoreError> {
    row.get::<_, T>(index).map_err(|e| {
        // Described by kind only: the error may hold the value.
        let problem = match e {
            rusqlite::Error::InvalidColumnType(..) => "wrong type",
            rusqlite::Error::IntegralValueOutOfRange(..) => "out of range",
            rusqlite::Error::Utf8Error(..) => "not UTF-8",
            rusqlite::Error::InvalidColumnIndex(_) => "missing",
            _ => "unreadable",
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

/// A version or count as the BIGINT column keeps it. Versions grow by one
/// per change, so one beyond `i64::MAX` cannot happen short of a bug.
pub(crate) fn to_bigint(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Unavailable(format!("{what} too large to store")))
}
