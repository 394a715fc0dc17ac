//! The Alexa links on PostgreSQL's `alexa_links` table (SQL shared with
//! SQLite, see [`crate::rows::links`]). Each operation is one statement.

use pod_domain::{CustomerId, Timestamp};
use pod_ports::{AlexaUserId, StoreError};

use super::Postgres;
use super::error::{db_error, write_error};
use crate::rows::links::{CUSTOMER_OF, FORGET, LINK, customer};

impl Postgres {
    pub(crate) async fn link(
        &self,
        alexa_user: &AlexaUserId,
        customer_id: &CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(LINK)
            .bind(alexa_user.as_str())
            .bind(customer_id.as_str())
            .bind(at.unix_millis())
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    pub(crate) async fn forget(
        &self,
        alexa_user: &AlexaUserId,
    ) -> Result<Option<CustomerId>, StoreError> {
        let raw: Option<String> = sqlx::query_scalar(FORGET)
            .bind(alexa_user.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(write_error)?;
        raw.map(customer).transpose()
    }

    pub(crate) async fn customer_of(
        &self,
        alexa_user: &AlexaUserId,
    ) -> Result<Option<CustomerId>, StoreError> {
        let raw: Option<String> = sqlx::query_scalar(CUSTOMER_OF)
            .bind(alexa_user.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        raw.map(customer).transpose()
    }
}
