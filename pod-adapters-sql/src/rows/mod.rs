//! What both backends share: accounts, orders, users and sessions as column
//! values ready to bind, and rows read back into domain values, whatever
//! the driver. Each backend reads its rows through [`Columns`].
//!
//! Every value a row holds is checked on the way back: anything the domain
//! would not produce is [`StoreError::Corrupt`], never a panic.

pub(crate) mod accounts;
pub(crate) mod links;
pub(crate) mod oauth;
pub(crate) mod orders;
pub(crate) mod sessions;
pub(crate) mod users;

use pod_ports::StoreError;

/// One column of a result row read as a `T` (by index). A value of the
/// wrong type, or a NULL where a value is required, is
/// [`StoreError::Corrupt`] naming the table and the column, never the value.
///
/// Each backend implements it once, for every type its driver decodes;
/// [`Columns`] names the types the rows use.
pub(crate) trait Column<T> {
    /// Column `index` of the row, from `table.column`.
    fn column(&self, index: usize, table: &str, column: &str) -> Result<T, StoreError>;
}

/// One result row, read column by column (by index), whatever the driver.
pub(crate) trait Columns:
    Column<String>
    + Column<Option<String>>
    + Column<i64>
    + Column<Option<i64>>
    + Column<Option<Vec<u8>>>
{
    /// A required text column.
    fn text(&self, index: usize, table: &str, column: &str) -> Result<String, StoreError> {
        self.column(index, table, column)
    }
    /// A text column that may be NULL.
    fn opt_text(
        &self,
        index: usize,
        table: &str,
        column: &str,
    ) -> Result<Option<String>, StoreError> {
        self.column(index, table, column)
    }
    /// A required BIGINT column.
    fn int(&self, index: usize, table: &str, column: &str) -> Result<i64, StoreError> {
        self.column(index, table, column)
    }
    /// A BIGINT column that may be NULL.
    fn opt_int(&self, index: usize, table: &str, column: &str) -> Result<Option<i64>, StoreError> {
        self.column(index, table, column)
    }
    /// A BLOB (SQLite) or BYTEA (PostgreSQL) column that may be NULL.
    fn opt_bytes(
        &self,
        index: usize,
        table: &str,
        column: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.column(index, table, column)
    }
    /// Whether column `index` is NULL.
    fn is_null(&self, index: usize) -> Result<bool, StoreError>;
}

/// [`StoreError::Corrupt`] for a column that could not be read as its type
/// (`problem` says how, never with the value).
pub(crate) fn unreadable(table: &str, column: &str, problem: &str) -> StoreError {
    StoreError::Corrupt(format!("{table}: column {column}: {problem}"))
}

/// [`StoreError::Corrupt`] for a stored value of `table.column` (of the row
/// `key`) that does not make a domain value.
pub(crate) fn corrupt(table: &str, key: &str, column: &str, problem: &str) -> StoreError {
    StoreError::Corrupt(format!("{table} {key:?}: column {column}: {problem}"))
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
