//! The user store on PostgreSQL's `users` table.

use pod_domain::CustomerId;
use pod_ports::{LocalUser, StoreError};

use super::Postgres;
use super::error::{PgColumns, db_error, write_error};
use crate::rows::users::{login_key, user_from_row};

impl Postgres {
    pub(crate) async fn add_user(&self, user: &LocalUser) -> Result<(), StoreError> {
        // The id's primary key and the unique indexes on the lowercased
        // name and email turn a taken id, name or email into a conflict.
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

    pub(crate) async fn user_by_id(
        &self,
        id: &CustomerId,
    ) -> Result<Option<LocalUser>, StoreError> {
        let row = sqlx::query("SELECT id, name, email, phone, created_at FROM users WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(|row| user_from_row(&PgColumns(&row))).transpose()
    }

    /// The user whose name or email has this [`login_key`].
    pub(crate) async fn user_by_login_key(
        &self,
        key: &str,
    ) -> Result<Option<LocalUser>, StoreError> {
        // Should one user's name be another's email, the name wins: it is
        // what the login form asks for first.
        let row = sqlx::query(
            "SELECT id, name, email, phone, created_at FROM users \
             WHERE name_key = $1 OR email_key = $1 \
             ORDER BY CASE WHEN name_key = $1 THEN 0 ELSE 1 END, id LIMIT 1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|row| user_from_row(&PgColumns(&row))).transpose()
    }

    pub(crate) async fn users(&self) -> Result<Vec<LocalUser>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, email, phone, created_at FROM users ORDER BY name_key, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| user_from_row(&PgColumns(row)))
            .collect()
    }
}
