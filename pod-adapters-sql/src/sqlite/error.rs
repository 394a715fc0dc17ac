//! Turning `rusqlite` errors into the ports' [`StoreError`] at the seam.
//!
//! Messages are built from the kind of failure and SQLite's own message,
//! which names tables, columns and constraints but never bound values.
//! `rusqlite`'s `Display` is not used: for some kinds it repeats a path or
//! a value.

use pod_ports::StoreError;
use rusqlite::types::{FromSql, ValueRef};
use rusqlite::{Row, ffi};

use crate::rows::{Column, Columns, unreadable};

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

/// A row of a SQLite query, read through [`Columns`]. SQLite keeps
/// whatever it is given in any column, so every read checks the type.
pub(crate) struct SqliteRow<'a, 'r>(pub(crate) &'a Row<'r>);

impl<T: FromSql> Column<T> for SqliteRow<'_, '_> {
    fn column(&self, index: usize, table: &str, column: &str) -> Result<T, StoreError> {
        self.0.get::<_, T>(index).map_err(|e| {
            // Described by kind only: the error may hold the value.
            let problem = match e {
                rusqlite::Error::InvalidColumnType(..) => "wrong type",
                rusqlite::Error::IntegralValueOutOfRange(..) => "out of range",
                rusqlite::Error::Utf8Error(..) => "not UTF-8",
                rusqlite::Error::InvalidColumnIndex(_) => "missing",
                _ => "unreadable",
            };
            unreadable(table, column, problem)
        })
    }
}

impl Columns for SqliteRow<'_, '_> {
    fn is_null(&self, index: usize) -> Result<bool, StoreError> {
        Ok(matches!(
            self.0.get_ref(index).map_err(db_error)?,
            ValueRef::Null
        ))
    }
}
