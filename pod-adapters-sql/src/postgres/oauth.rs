//! The OAuth store on PostgreSQL. Code redemption and refresh rotation are
//! one transaction each, decided by a conditional `UPDATE` (`… WHERE
//! used_at IS NULL`): of two at once, the second waits for the first's row
//! lock, then finds the row used and takes the reuse path, which under READ
//! COMMITTED sees what the first committed.

use pod_domain::{CustomerId, Timestamp};
use pod_ports::StoreError;
use pod_ports::oauth::{
    AuthorizationCode, Grant, GrantId, NewGrant, OAuthClient, Redemption, Rotation,
};
use sqlx::{PgConnection, Row};

use super::Postgres;
use super::error::{PgColumns, db_error, write_error};
use crate::rows::oauth::{
    CODE_COLUMNS, CODE_RETENTION_MS, GRANT_COLUMNS, client_from_row, code_from_row, grant_from_row,
    join_uris, spent_retention_ms,
};

async fn revoke(conn: &mut PgConnection, id: &str, now: i64) -> Result<u64, StoreError> {
    let done =
        sqlx::query("UPDATE oauth_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(conn)
            .await
            .map_err(db_error)?;
    Ok(done.rows_affected())
}

async fn insert_refresh(
    conn: &mut PgConnection,
    digest: &[u8],
    grant: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oauth_refresh_tokens (digest, grant_id, created_at) VALUES ($1, $2, $3)",
    )
    .bind(digest)
    .bind(grant)
    .bind(now)
    .execute(conn)
    .await
    .map_err(write_error)?;
    Ok(())
}

impl Postgres {
    pub(crate) async fn add_oauth_client(&self, client: &OAuthClient) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_clients (id, name, secret_digest, redirect_uris, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&client.id)
        .bind(&client.name)
        .bind(&client.secret_digest)
        .bind(join_uris(&client.redirect_uris))
        .bind(client.created_at.unix_millis())
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    pub(crate) async fn oauth_clients(
        &self,
        id: Option<&str>,
    ) -> Result<Vec<OAuthClient>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, secret_digest, redirect_uris, created_at FROM oauth_clients \
             WHERE $1::text IS NULL OR id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| client_from_row(&PgColumns(r)))
            .collect()
    }

    pub(crate) async fn remove_oauth_client(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let deleted = sqlx::query("DELETE FROM oauth_clients WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if deleted.rows_affected() == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE oauth_grants SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query("DELETE FROM oauth_codes WHERE client_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    pub(crate) async fn save_oauth_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        sqlx::query(
            "WITH pruned AS (DELETE FROM oauth_codes WHERE expires_at < $9) \
             INSERT INTO oauth_codes (digest, client_id, customer_id, redirect_uri, scope, \
                 code_challenge, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&code.digest)
        .bind(&code.client_id)
        .bind(code.customer.as_str())
        .bind(&code.redirect_uri)
        .bind(&code.scope)
        .bind(code.code_challenge.as_deref())
        .bind(code.created_at.unix_millis())
        .bind(code.expires_at.unix_millis())
        .bind(code.created_at.unix_millis() - CODE_RETENTION_MS)
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    pub(crate) async fn oauth_code(
        &self,
        digest: &[u8],
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM oauth_codes WHERE digest = $1"
        ))
        .bind(digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|r| code_from_row(&PgColumns(&r))).transpose()
    }

    pub(crate) async fn consume_oauth_code(
        &self,
        digest: &[u8],
        grant: Option<&NewGrant>,
        now: Timestamp,
    ) -> Result<Redemption, StoreError> {
        let now = now.unix_millis();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let used = sqlx::query(
            "UPDATE oauth_codes SET used_at = $2, grant_id = $3 \
             WHERE digest = $1 AND used_at IS NULL",
        )
        .bind(digest)
        .bind(now)
        .bind(grant.map(|g| g.grant.id.as_str()))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let outcome = if used.rows_affected() == 1 {
            if let Some(new) = grant {
                let g = &new.grant;
                sqlx::query(
                    "INSERT INTO oauth_grants (id, client_id, customer_id, scope, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(g.id.as_str())
                .bind(&g.client_id)
                .bind(g.customer.as_str())
                .bind(&g.scope)
                .bind(g.created_at.unix_millis())
                .execute(&mut *tx)
                .await
                .map_err(write_error)?;
                insert_refresh(&mut tx, &new.refresh_digest, g.id.as_str(), now).await?;
            }
            Redemption::Redeemed
        } else {
            let row = sqlx::query("SELECT grant_id FROM oauth_codes WHERE digest = $1")
                .bind(digest)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
            match row {
                None => Redemption::Unknown,
                Some(row) => {
                    let made: Option<String> = row.try_get(0).map_err(db_error)?;
                    if let Some(id) = made {
                        revoke(&mut tx, &id, now).await?;
                    }
                    Redemption::Reused
                }
            }
        };
        tx.commit().await.map_err(write_error)?;
        Ok(outcome)
    }

    pub(crate) async fn oauth_refresh_grant(
        &self,
        digest: &[u8],
    ) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM oauth_refresh_tokens r \
             JOIN oauth_grants g ON g.id = r.grant_id WHERE r.digest = $1"
        ))
        .bind(digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|r| grant_from_row(&PgColumns(&r), 0)).transpose()
    }

    pub(crate) async fn rotate_oauth_refresh(
        &self,
        old: &[u8],
        new: &[u8],
        now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let now = now.unix_millis();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let spent = sqlx::query(
            "UPDATE oauth_refresh_tokens r SET spent_at = $2 \
             WHERE r.digest = $1 AND r.spent_at IS NULL AND EXISTS \
                 (SELECT 1 FROM oauth_grants g WHERE g.id = r.grant_id AND g.revoked_at IS NULL) \
             RETURNING r.grant_id",
        )
        .bind(old)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let outcome = match spent {
            Some(row) => {
                let id: String = row.try_get(0).map_err(db_error)?;
                insert_refresh(&mut tx, new, &id, now).await?;
                sqlx::query(
                    "DELETE FROM oauth_refresh_tokens WHERE grant_id = $1 AND spent_at < $2",
                )
                .bind(&id)
                .bind(now - spent_retention_ms())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                let row = sqlx::query(&format!(
                    "SELECT {GRANT_COLUMNS} FROM oauth_grants g WHERE g.id = $1"
                ))
                .bind(&id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
                Rotation::Rotated(grant_from_row(&PgColumns(&row), 0)?)
            }
            None => {
                let row = sqlx::query(&format!(
                    "SELECT {GRANT_COLUMNS}, r.spent_at FROM oauth_refresh_tokens r \
                     JOIN oauth_grants g ON g.id = r.grant_id WHERE r.digest = $1"
                ))
                .bind(old)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
                match row {
                    None => Rotation::Unknown,
                    Some(row) => {
                        let grant = grant_from_row(&PgColumns(&row), 0)?;
                        if !grant.is_active() {
                            Rotation::Revoked
                        } else {
                            revoke(&mut tx, grant.id.as_str(), now).await?;
                            Rotation::Reused
                        }
                    }
                }
            }
        };
        tx.commit().await.map_err(write_error)?;
        Ok(outcome)
    }

    pub(crate) async fn oauth_grant(&self, id: &GrantId) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM oauth_grants g WHERE g.id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|r| grant_from_row(&PgColumns(&r), 0)).transpose()
    }

    pub(crate) async fn oauth_grants_of(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<Grant>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM oauth_grants g \
             WHERE g.customer_id = $1 AND g.revoked_at IS NULL \
             ORDER BY g.created_at DESC, g.id DESC"
        ))
        .bind(customer.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| grant_from_row(&PgColumns(r), 0))
            .collect()
    }

    pub(crate) async fn revoke_oauth_grants(
        &self,
        client: Option<&str>,
        customer: Option<&CustomerId>,
        grant: Option<&GrantId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE oauth_grants SET revoked_at = $4 WHERE revoked_at IS NULL \
             AND ($1::text IS NULL OR client_id = $1) AND ($2::text IS NULL OR customer_id = $2) \
             AND ($3::text IS NULL OR id = $3)",
        )
        .bind(client)
        .bind(customer.map(CustomerId::as_str))
        .bind(grant.map(GrantId::as_str))
        .bind(now.unix_millis())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}
