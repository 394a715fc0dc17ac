//! Users of the embedded identity as rows of the `users` table, and back.

use pod_domain::{CustomerId, Timestamp};
use pod_ports::{LocalUser, StoreError};

use super::{Columns, corrupt};

const T: &str = "users";

/// The key a login is matched on: lowercased here rather than with SQL
/// `LOWER()`, which is ASCII-only on SQLite but Unicode-aware on PostgreSQL.
pub(crate) fn login_key(login: &str) -> String {
    login.trim().to_lowercase()
}

/// Rebuilds a user from a row of `id, name, email, phone, created_at`.
pub(crate) fn user_from_row(row: &impl Columns) -> Result<LocalUser, StoreError> {
    let raw_id = row.text(0, T, "id")?;
    let id = CustomerId::parse(raw_id.clone())
        .map_err(|_| corrupt(T, &raw_id, "id", "not a customer id"))?;
    Ok(LocalUser {
        id,
        name: row.text(1, T, "name")?,
        email: row.text(2, T, "email")?,
        phone: row.opt_text(3, T, "phone")?,
        created_at: Timestamp::from_unix_millis(row.int(4, T, "created_at")?),
    })
}
