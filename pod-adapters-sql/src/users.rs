//! [`UserStore`] on the `users` table.

use async_trait::async_trait;
use pod_domain::{CustomerId, Timestamp};
use pod_ports::{LocalUser, StoreError, UserStore};
use sqlx::sqlite::SqliteRow;

use crate::SqlStore;
use crate::error::{column, corrupt, db_error, write_error};

const USER_COLUMNS: &str = "id, name, email, phone, created_at";

/// The key a login is matched on: lowercased here rather than with SQL
/// `LOWER()`, which is ASCII-only on SQLite but Unicode-aware on PostgreSQL.
fn login_key(login: &str) -> String {
    login.trim().to_lowercase()
}

fn user_from_row(row: &SqliteRow) -> Result<LocalUser, StoreError> {
    const T: &str = "users";
    let raw_id: String = column(row, T, "id")?;
    let id = CustomerId::parse(raw_id.clone())
        .map_err(|_| corrupt(T, &raw_id, "id", "not a customer id"))?;
    Ok(LocalUser {
        id,
        name: column(row, T, "name")?,
        email: column(row, T, "email")?,
        phone: column(row, T, "phone")?,
        created_at: Timestamp::from_unix_millis(column(row, T, "created_at")?),
    })
}

#[async_trait]
impl UserStore for SqlStore {
    async fn add_user(&self, user: &LocalUser) -> Result<(), StoreError> {
        // The id's primary key and the unique indexes on the lowercased name
        // and email turn a taken id, name or email into a conflict.
        sqlx::query(
            "INSERT INTO users (id, name, name_key, email, email_key, phone, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(user.id.as_str())
        .bind(&user.name)
        .bind(login_key(&user.name))
        .bind(&user.email)
        .bind(login_key(&user.email))
        .bind(user.phone.as_deref())
        .bind(user.created_at.unix_millis())
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn user_by_id(&self, id: &CustomerId) -> Result<Option<LocalUser>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_login(&self, name_or_email: &str) -> Result<Option<LocalUser>, StoreError> {
        let key = login_key(name_or_email);
        if key.is_empty() {
            return Ok(None);
        }
        // Should one user's name be another's email, the name wins: it is
        // what the login form asks for first.
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE name_key = $1 OR email_key = $1 \
             ORDER BY CASE WHEN name_key = $1 THEN 0 ELSE 1 END, id LIMIT 1"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn users(&self) -> Result<Vec<LocalUser>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY name_key, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(user_from_row).collect()
    }
}
