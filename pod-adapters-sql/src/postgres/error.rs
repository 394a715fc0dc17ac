//! Turning `sqlx` errors into the ports' [`StoreError`] at the seam, and
//! reading PostgreSQL rows through [`Columns`].
//!
//! Messages are built from the kind of failure, the SQLSTATE and the
//! server's primary message, which names tables, columns, constraints,
//! roles and databases but not bound values (the server's DETAIL line,
//! which may repeat a key's value, is left out). `sqlx`'s `Display` is not
//! used: for configuration errors it may repeat part of the URL.

use pod_ports::StoreError;
use sqlx::error::UnexpectedNullError;
use sqlx::postgres::{PgRow, Postgres};
use sqlx::{Decode, Row, Type, ValueRef};

use crate::rows::{Column, Columns, unreadable};

/// SQLSTATEs that mean another transaction got there first: a unique
/// violation (`23505`), and the two ways PostgreSQL aborts one of two
/// transactions that collided (`40001` serialization failure, `40P01`
/// deadlock). Nothing of the aborted transaction was written.
const LOST_RACE: [&str; 3] = ["23505", "40001", "40P01"];

/// Maps an error of a write: a lost race is [`StoreError::Conflict`].
pub(crate) fn write_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.code().is_some_and(|c| LOST_RACE.contains(&&*c)) => {
            StoreError::Conflict
        }
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

/// A loggable description of an error: never the URL, a password or a
/// bound value.
pub(crate) fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("database error {code}: {}", db.message()),
            None => format!("database error: {}", db.message()),
        },
        // An I/O error's text is the operating system's ("Connection
        // refused (os error 111)"); it names no address.
        sqlx::Error::Io(io) => format!("cannot reach the database server: {io}"),
        sqlx::Error::Tls(_) => "TLS failed (pod's PostgreSQL driver is built without TLS: \
                                 use sslmode=disable or prefer)"
            .to_owned(),
        sqlx::Error::Configuration(_) => "invalid database connection settings".to_owned(),
        sqlx::Error::PoolTimedOut => {
            "no database connection became free within the acquire timeout".to_owned()
        }
        sqlx::Error::PoolClosed => "the store is closed".to_owned(),
        sqlx::Error::Protocol(_) => "unexpected data from the database server".to_owned(),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            "a stored value has an unexpected type".to_owned()
        }
        sqlx::Error::RowNotFound => "the query returned no row".to_owned(),
        _ => "database driver error".to_owned(),
    }
}

/// A row of a PostgreSQL query, read through [`Columns`]. The schema fixes
/// every column's type; a value that still does not decode (a column
/// altered by hand) is corrupt.
pub(crate) struct PgColumns<'a>(pub(crate) &'a PgRow);

impl<'a, T> Column<T> for PgColumns<'a>
where
    T: Decode<'a, Postgres> + Type<Postgres>,
{
    fn column(&self, index: usize, table: &str, column: &str) -> Result<T, StoreError> {
        self.0.try_get::<T, _>(index).map_err(|e| {
            // Described by kind only: the error may hold the value.
            let problem = match &e {
                sqlx::Error::ColumnDecode { source, .. } if source.is::<UnexpectedNullError>() => {
                    "missing"
                }
                sqlx::Error::ColumnDecode { .. } => "wrong type",
                sqlx::Error::ColumnIndexOutOfBounds { .. } => "missing",
                _ => "unreadable",
            };
            unreadable(table, column, problem)
        })
    }
}

impl Columns for PgColumns<'_> {
    fn is_null(&self, index: usize) -> Result<bool, StoreError> {
        Ok(self.0.try_get_raw(index).map_err(db_error)?.is_null())
    }
}
