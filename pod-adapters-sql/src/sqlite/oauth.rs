//! The OAuth store on SQLite. Every write is one job of the writer thread
//! (so one savepoint: all of it or nothing, and never interleaved with
//! another write), which is what makes code redemption and refresh-token
//! rotation race-free.

use pod_domain::{CustomerId, Timestamp};
use pod_ports::StoreError;
use pod_ports::oauth::{
    AuthorizationCode, Grant, GrantId, NewGrant, OAuthClient, Redemption, Rotation,
};
use rusqlite::{Connection, OptionalExtension, params};

use super::engine::Engine;
use super::error::{SqliteRow, db_error, write_error};
use crate::rows::oauth::{
    CODE_COLUMNS, CODE_RETENTION_MS, GRANT_COLUMNS, client_from_row, code_from_row, grant_from_row,
    join_uris, spent_retention_ms,
};

fn execute(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute(params))
        .map_err(write_error)
}

fn grants(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<Grant>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(db_error)?;
    let mut rows = statement.query(params).map_err(db_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        out.push(grant_from_row(&SqliteRow(row), 0)?);
    }
    Ok(out)
}

fn revoke(conn: &Connection, id: &str, now: i64) -> Result<usize, StoreError> {
    execute(
        conn,
        "UPDATE oauth_grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )
}

fn insert_refresh(
    conn: &Connection,
    digest: &[u8],
    grant: &str,
    now: i64,
) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO oauth_refresh_tokens (digest, grant_id, created_at) VALUES (?1, ?2, ?3)",
        params![digest, grant, now],
    )?;
    Ok(())
}

impl Engine {
    pub(crate) async fn add_oauth_client(&self, client: &OAuthClient) -> Result<(), StoreError> {
        let client = client.clone();
        self.write(move |conn| {
            execute(
                conn,
                "INSERT INTO oauth_clients (id, name, secret_digest, redirect_uris, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    client.id,
                    client.name,
                    client.secret_digest,
                    join_uris(&client.redirect_uris),
                    client.created_at.unix_millis(),
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub(crate) fn oauth_clients(&self, id: Option<&str>) -> Result<Vec<OAuthClient>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, name, secret_digest, redirect_uris, created_at FROM oauth_clients \
                     WHERE ?1 IS NULL OR id = ?1 ORDER BY id",
                )
                .map_err(db_error)?;
            let mut rows = statement.query(params![id]).map_err(db_error)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(db_error)? {
                out.push(client_from_row(&SqliteRow(row))?);
            }
            Ok(out)
        })
    }

    pub(crate) async fn remove_oauth_client(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            if execute(conn, "DELETE FROM oauth_clients WHERE id = ?1", params![id])? == 0 {
                return Ok(false);
            }
            execute(
                conn,
                "UPDATE oauth_grants SET revoked_at = ?2 WHERE client_id = ?1 AND revoked_at IS NULL",
                params![id, now.unix_millis()],
            )?;
            execute(conn, "DELETE FROM oauth_codes WHERE client_id = ?1", params![id])?;
            Ok(true)
        })
        .await
    }

    pub(crate) async fn save_oauth_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        let code = code.clone();
        self.write(move |conn| {
            execute(
                conn,
                "DELETE FROM oauth_codes WHERE expires_at < ?1",
                params![code.created_at.unix_millis() - CODE_RETENTION_MS],
            )?;
            execute(
                conn,
                "INSERT INTO oauth_codes (digest, client_id, customer_id, redirect_uri, scope, \
                     code_challenge, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    code.digest,
                    code.client_id,
                    code.customer.as_str(),
                    code.redirect_uri,
                    code.scope,
                    code.code_challenge,
                    code.created_at.unix_millis(),
                    code.expires_at.unix_millis(),
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub(crate) fn oauth_code(
        &self,
        digest: &[u8],
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT {CODE_COLUMNS} FROM oauth_codes WHERE digest = ?1"
                ))
                .map_err(db_error)?;
            let mut rows = statement.query(params![digest]).map_err(db_error)?;
            rows.next()
                .map_err(db_error)?
                .map(|row| code_from_row(&SqliteRow(row)))
                .transpose()
        })
    }

    pub(crate) async fn consume_oauth_code(
        &self,
        digest: &[u8],
        grant: Option<&NewGrant>,
        now: Timestamp,
    ) -> Result<Redemption, StoreError> {
        let digest = digest.to_vec();
        let grant = grant.cloned();
        let now = now.unix_millis();
        self.write(move |conn| {
            let used = execute(
                conn,
                "UPDATE oauth_codes SET used_at = ?2, grant_id = ?3 \
                 WHERE digest = ?1 AND used_at IS NULL",
                params![digest, now, grant.as_ref().map(|g| g.grant.id.as_str())],
            )?;
            if used == 1 {
                if let Some(new) = &grant {
                    let g = &new.grant;
                    execute(
                        conn,
                        "INSERT INTO oauth_grants (id, client_id, customer_id, scope, created_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![
                            g.id.as_str(),
                            g.client_id,
                            g.customer.as_str(),
                            g.scope,
                            g.created_at.unix_millis(),
                        ],
                    )?;
                    insert_refresh(conn, &new.refresh_digest, g.id.as_str(), now)?;
                }
                return Ok(Redemption::Redeemed);
            }
            let made: Option<Option<String>> = conn
                .prepare_cached("SELECT grant_id FROM oauth_codes WHERE digest = ?1")
                .and_then(|mut s| s.query_row(params![digest], |row| row.get(0)).optional())
                .map_err(db_error)?;
            match made {
                None => Ok(Redemption::Unknown),
                Some(made) => {
                    if let Some(id) = made {
                        revoke(conn, &id, now)?;
                    }
                    Ok(Redemption::Reused)
                }
            }
        })
        .await
    }

    pub(crate) fn oauth_refresh_grant(&self, digest: &[u8]) -> Result<Option<Grant>, StoreError> {
        self.read(|conn| {
            Ok(grants(
                conn,
                &format!(
                    "SELECT {GRANT_COLUMNS} FROM oauth_refresh_tokens r \
                     JOIN oauth_grants g ON g.id = r.grant_id WHERE r.digest = ?1"
                ),
                params![digest],
            )?
            .into_iter()
            .next())
        })
    }

    pub(crate) async fn rotate_oauth_refresh(
        &self,
        old: &[u8],
        new: &[u8],
        now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let old = old.to_vec();
        let new = new.to_vec();
        let now = now.unix_millis();
        self.write(move |conn| {
            let found: Option<(Option<i64>, Grant)> = {
                let mut statement = conn
                    .prepare_cached(&format!(
                        "SELECT {GRANT_COLUMNS}, r.spent_at FROM oauth_refresh_tokens r \
                         JOIN oauth_grants g ON g.id = r.grant_id WHERE r.digest = ?1"
                    ))
                    .map_err(db_error)?;
                let mut rows = statement.query(params![old]).map_err(db_error)?;
                match rows.next().map_err(db_error)? {
                    None => None,
                    Some(row) => {
                        let grant = grant_from_row(&SqliteRow(row), 0)?;
                        let spent: Option<i64> = row.get(6).map_err(db_error)?;
                        Some((spent, grant))
                    }
                }
            };
            let Some((spent, grant)) = found else {
                return Ok(Rotation::Unknown);
            };
            if !grant.is_active() {
                return Ok(Rotation::Revoked);
            }
            if spent.is_some() {
                revoke(conn, grant.id.as_str(), now)?;
                return Ok(Rotation::Reused);
            }
            execute(
                conn,
                "UPDATE oauth_refresh_tokens SET spent_at = ?2 WHERE digest = ?1",
                params![old, now],
            )?;
            execute(
                conn,
                "DELETE FROM oauth_refresh_tokens WHERE grant_id = ?1 AND spent_at < ?2",
                params![grant.id.as_str(), now - spent_retention_ms()],
            )?;
            insert_refresh(conn, &new, grant.id.as_str(), now)?;
            Ok(Rotation::Rotated(grant))
        })
        .await
    }

    pub(crate) fn oauth_grant(&self, id: &GrantId) -> Result<Option<Grant>, StoreError> {
        self.read(|conn| {
            Ok(grants(
                conn,
                &format!("SELECT {GRANT_COLUMNS} FROM oauth_grants g WHERE g.id = ?1"),
                params![id.as_str()],
            )?
            .into_iter()
            .next())
        })
    }

    pub(crate) fn oauth_grants_of(&self, customer: &CustomerId) -> Result<Vec<Grant>, StoreError> {
        self.read(|conn| {
            grants(
                conn,
                &format!(
                    "SELECT {GRANT_COLUMNS} FROM oauth_grants g \
                     WHERE g.customer_id = ?1 AND g.revoked_at IS NULL \
                     ORDER BY g.created_at DESC, g.id DESC"
                ),
                params![customer.as_str()],
            )
        })
    }

    pub(crate) async fn revoke_oauth_grants(
        &self,
        client: Option<&str>,
        customer: Option<&CustomerId>,
        grant: Option<&GrantId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let client = client.map(str::to_owned);
        let customer = customer.map(|c| c.as_str().to_owned());
        let grant = grant.map(|g| g.as_str().to_owned());
        self.write(move |conn| {
            let n = execute(
                conn,
                "UPDATE oauth_grants SET revoked_at = ?4 WHERE revoked_at IS NULL \
                 AND (?1 IS NULL OR client_id = ?1) AND (?2 IS NULL OR customer_id = ?2) \
                 AND (?3 IS NULL OR id = ?3)",
                params![client, customer, grant, now.unix_millis()],
            )?;
            Ok(n as u64)
        })
        .await
    }
}
