//! The OAuth server's clients, codes and grants as rows, and back.

use pod_domain::{CustomerId, Timestamp};
use pod_ports::StoreError;
use pod_ports::oauth::{AuthorizationCode, Grant, GrantId, OAuthClient};

use super::{Columns, corrupt};

/// The redirect URIs column: one per line.
pub(crate) fn join_uris(uris: &[String]) -> String {
    uris.join("\n")
}

fn customer(raw: String, table: &str) -> Result<CustomerId, StoreError> {
    CustomerId::parse(raw)
        .map_err(|_| corrupt(table, "(oauth)", "customer_id", "not a customer id"))
}

fn bytes(row: &impl Columns, i: usize, table: &str, column: &str) -> Result<Vec<u8>, StoreError> {
    row.opt_bytes(i, table, column)?
        .ok_or_else(|| corrupt(table, "(oauth)", column, "NULL"))
}

/// A client from `id, name, secret_digest, redirect_uris, created_at`.
pub(crate) fn client_from_row(row: &impl Columns) -> Result<OAuthClient, StoreError> {
    const T: &str = "oauth_clients";
    Ok(OAuthClient {
        id: row.text(0, T, "id")?,
        name: row.text(1, T, "name")?,
        secret_digest: bytes(row, 2, T, "secret_digest")?,
        redirect_uris: row
            .text(3, T, "redirect_uris")?
            .lines()
            .map(str::to_owned)
            .collect(),
        created_at: Timestamp::from_unix_millis(row.int(4, T, "created_at")?),
    })
}

/// The columns [`code_from_row`] reads.
pub(crate) const CODE_COLUMNS: &str = "digest, client_id, customer_id, redirect_uri, scope, \
     code_challenge, created_at, expires_at";

/// A code from [`CODE_COLUMNS`].
pub(crate) fn code_from_row(row: &impl Columns) -> Result<AuthorizationCode, StoreError> {
    const T: &str = "oauth_codes";
    Ok(AuthorizationCode {
        digest: bytes(row, 0, T, "digest")?,
        client_id: row.text(1, T, "client_id")?,
        customer: customer(row.text(2, T, "customer_id")?, T)?,
        redirect_uri: row.text(3, T, "redirect_uri")?,
        scope: row.text(4, T, "scope")?,
        code_challenge: row.opt_text(5, T, "code_challenge")?,
        created_at: Timestamp::from_unix_millis(row.int(6, T, "created_at")?),
        expires_at: Timestamp::from_unix_millis(row.int(7, T, "expires_at")?),
    })
}

/// The columns [`grant_from_row`] reads (of `oauth_grants g`).
pub(crate) const GRANT_COLUMNS: &str =
    "g.id, g.client_id, g.customer_id, g.scope, g.created_at, g.revoked_at";

/// A grant from [`GRANT_COLUMNS`], starting at column `at`.
pub(crate) fn grant_from_row(row: &impl Columns, at: usize) -> Result<Grant, StoreError> {
    const T: &str = "oauth_grants";
    Ok(Grant {
        id: GrantId::parse(row.text(at, T, "id")?)
            .ok_or_else(|| corrupt(T, "(oauth)", "id", "not a grant id"))?,
        client_id: row.text(at + 1, T, "client_id")?,
        customer: customer(row.text(at + 2, T, "customer_id")?, T)?,
        scope: row.text(at + 3, T, "scope")?,
        created_at: Timestamp::from_unix_millis(row.int(at + 4, T, "created_at")?),
        revoked_at: row
            .opt_int(at + 5, T, "revoked_at")?
            .map(Timestamp::from_unix_millis),
    })
}

/// How long a code is kept after it expired, for reuse detection.
pub(crate) const CODE_RETENTION_MS: i64 = 86_400_000;

/// [`pod_ports::oauth::SPENT_REFRESH_RETENTION`] in milliseconds.
pub(crate) fn spent_retention_ms() -> i64 {
    i64::try_from(pod_ports::oauth::SPENT_REFRESH_RETENTION.as_millis()).unwrap_or(i64::MAX)
}
