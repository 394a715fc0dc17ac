//! [`UserStore`] on the `users` table.

use async_trait::async_trait;
use pod_domain::{CustomerId, Timestamp};
use pod_ports::{LocalUser, StoreError, UserStore};
use rusqlite::{Connection, Row, params};

use crate::SqlStore;
use crate::error::{column, corrupt, db_error, write_error};

const T: &str = "users";

/// The key a login is matched on: lowercased here rather than with SQL
/// `LOWER()`, which is ASCII-only on SQLite but Unicode-aware on PostgreSQL.
fn login_key(login: &str) -> String {
    login.trim().to_lowercase()
}

fn user_from_row(row: &Row<'_>) -> Result<LocalUser, StoreError> {
    let raw_id: String = column(row, 0, T, "id")?;
    let id = CustomerId::parse(raw_id.clone())
        .map_err(|_| corrupt(T, &raw_id, "id", "not a customer id"))?;
    Ok(LocalUser {
        id,
        name: column(row, 1, T, "name")?,
        email: column(row, 2, T, "email")?,
        phone: column(row, 3, T, "phone")?,
        created_at: Timestamp::from_unix_millis(column(row, 4, T, "created_at")?),
    })
}

fn users_from(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<LocalUser>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(db_error)?;
    let mut rows = statement.query(params).map_err(db_error)?;
    let mut users = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        users.push(user_from_row(row)?);
    }
    Ok(users)
}

#[async_trait]
impl UserStore for SqlStore {
    async fn add_user(&self, user: &LocalUser) -> Result<(), StoreError> {
        let user = user.clone();
        self.engine
            .write(move |conn| {
                // The id's primary key and the unique indexes on the
                // lowercased name and email turn a taken id, name or email
                // into a conflict.
                conn.prepare_cached(
                    "INSERT INTO users (id, name, name_key, email, email_key, phone, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        user.id.as_str(),
                        user.name,
                        login_key(&user.name),
                        user.email,
                        login_key(&user.email),
                        user.phone,
                        user.created_at.unix_millis(),
                    ])
                })
                .map_err(write_error)?;
                Ok(())
            })
            .await
    }

    async fn user_by_id(&self, id: &CustomerId) -> Result<Option<LocalUser>, StoreError> {
        self.engine.read(|conn| {
            let users = users_from(
                conn,
                "SELECT id, name, email, phone, created_at FROM users WHERE id = ?1",
                params![id.as_str()],
            )?;
            Ok(users.into_iter().next())
        })
    }

    async fn user_by_login(&self, name_or_email: &str) -> Result<Option<LocalUser>, StoreError> {
        let key = login_key(name_or_email);
        if key.is_empty() {
            return Ok(None);
        }
        self.engine.read(|conn| {
            // Should one user's name be another's email, the name wins: it
            // is what the login form asks for first.
            let users = users_from(
                conn,
                "SELECT id, name, email, phone, created_at FROM users \
                 WHERE name_key = ?1 OR email_key = ?1 \
                 ORDER BY CASE WHEN name_key = ?1 THEN 0 ELSE 1 END, id LIMIT 1",
                params![key],
            )?;
            Ok(users.into_iter().next())
        })
    }

    async fn users(&self) -> Result<Vec<LocalUser>, StoreError> {
        self.engine.read(|conn| {
            users_from(
                conn,
                "SELECT id, name, email, phone, created_at FROM users ORDER BY name_key, id",
                params![],
            )
        })
    }
}
