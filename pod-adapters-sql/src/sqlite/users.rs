//! The user store on SQLite's `users` table.

use pod_domain::CustomerId;
use pod_ports::{LocalUser, StoreError};
use rusqlite::{Connection, params};

use super::engine::Engine;
use super::error::{SqliteRow, db_error, write_error};
use crate::rows::users::{login_key, user_from_row};

fn users_from(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<LocalUser>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(db_error)?;
    let mut rows = statement.query(params).map_err(db_error)?;
    let mut users = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        users.push(user_from_row(&SqliteRow(row))?);
    }
    Ok(users)
}

impl Engine {
    pub(crate) async fn add_user(&self, user: &LocalUser) -> Result<(), StoreError> {
        let user = user.clone();
        self.write(move |conn| {
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

    pub(crate) fn user_by_id(&self, id: &CustomerId) -> Result<Option<LocalUser>, StoreError> {
        self.read(|conn| {
            let users = users_from(
                conn,
                "SELECT id, name, email, phone, created_at FROM users WHERE id = ?1",
                params![id.as_str()],
            )?;
            Ok(users.into_iter().next())
        })
    }

    /// The user whose name or email has this [`login_key`].
    pub(crate) fn user_by_login_key(&self, key: &str) -> Result<Option<LocalUser>, StoreError> {
        self.read(|conn| {
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

    pub(crate) fn users(&self) -> Result<Vec<LocalUser>, StoreError> {
        self.read(|conn| {
            users_from(
                conn,
                "SELECT id, name, email, phone, created_at FROM users ORDER BY name_key, id",
                params![],
            )
        })
    }
}
