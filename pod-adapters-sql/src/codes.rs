//! [`CodeStore`] on the `one_time_codes` table.

use async_trait::async_trait;
use pod_domain::{CustomerId, Timestamp};
use pod_ports::{CodeRecord, CodeStore, StoreError};
use sqlx::sqlite::SqliteRow;

use crate::SqlStore;
use crate::error::{column, corrupt, count_u32, db_error};

fn code_from_row(row: &SqliteRow) -> Result<CodeRecord, StoreError> {
    const T: &str = "one_time_codes";
    let raw_customer: String = column(row, T, "customer_id")?;
    let customer = CustomerId::parse(raw_customer.clone())
        .map_err(|_| corrupt(T, &raw_customer, "customer_id", "not a customer id"))?;
    let failed: i64 = column(row, T, "failed_attempts")?;
    Ok(CodeRecord {
        failed_attempts: count_u32(failed, T, &raw_customer, "failed_attempts")?,
        customer,
        purpose: column(row, T, "purpose")?,
        hash: column(row, T, "hash")?,
        issued_at: Timestamp::from_unix_millis(column(row, T, "issued_at")?),
        expires_at: Timestamp::from_unix_millis(column(row, T, "expires_at")?),
    })
}

/// A scalar read of the failure count: a stored value of the wrong type is
/// corrupt data, not an unavailable database.
fn count_read_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::ColumnDecode { source, .. } => {
            StoreError::Corrupt(format!("one_time_codes: column failed_attempts: {source}"))
        }
        other => db_error(other),
    }
}

#[async_trait]
impl CodeStore for SqlStore {
    async fn put_code(&self, record: &CodeRecord) -> Result<(), StoreError> {
        // An upsert: the new code replaces the old one (and its failures) in
        // one statement, so there is never a moment with no code or two.
        sqlx::query(
            "INSERT INTO one_time_codes \
                 (customer_id, purpose, hash, issued_at, expires_at, failed_attempts) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (customer_id, purpose) DO UPDATE SET \
                 hash = excluded.hash, issued_at = excluded.issued_at, \
                 expires_at = excluded.expires_at, failed_attempts = excluded.failed_attempts",
        )
        .bind(record.customer.as_str())
        .bind(&record.purpose)
        .bind(record.hash.as_slice())
        .bind(record.issued_at.unix_millis())
        .bind(record.expires_at.unix_millis())
        .bind(i64::from(record.failed_attempts))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn code_for(
        &self,
        customer: &CustomerId,
        purpose: &str,
    ) -> Result<Option<CodeRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT customer_id, purpose, hash, issued_at, expires_at, failed_attempts \
             FROM one_time_codes WHERE customer_id = $1 AND purpose = $2",
        )
        .bind(customer.as_str())
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(code_from_row).transpose()
    }

    async fn record_code_failure(
        &self,
        customer: &CustomerId,
        purpose: &str,
    ) -> Result<Option<u32>, StoreError> {
        // Increment and read back in one statement, so concurrent wrong
        // guesses each count.
        let failed: Option<i64> = sqlx::query_scalar(
            "UPDATE one_time_codes SET failed_attempts = failed_attempts + 1 \
             WHERE customer_id = $1 AND purpose = $2 RETURNING failed_attempts",
        )
        .bind(customer.as_str())
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await
        .map_err(count_read_error)?;
        failed
            .map(|n| count_u32(n, "one_time_codes", customer.as_str(), "failed_attempts"))
            .transpose()
    }

    async fn delete_code(&self, customer: &CustomerId, purpose: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM one_time_codes WHERE customer_id = $1 AND purpose = $2")
            .bind(customer.as_str())
            .bind(purpose)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn consume_code(
        &self,
        customer: &CustomerId,
        purpose: &str,
        hash: &[u8],
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM one_time_codes WHERE customer_id = $1 AND purpose = $2 AND hash = $3",
        )
        .bind(customer.as_str())
        .bind(purpose)
        .bind(hash)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}
