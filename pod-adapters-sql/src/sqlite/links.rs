//! The Alexa links on SQLite's `alexa_links` table (SQL shared with
//! PostgreSQL, see [`crate::rows::links`]).

use pod_domain::{CustomerId, Timestamp};
use pod_ports::{AlexaUserId, StoreError};
use rusqlite::{OptionalExtension, params};

use super::engine::Engine;
use super::error::{db_error, write_error};
use crate::rows::links::{CUSTOMER_OF, FORGET, LINK, customer};

impl Engine {
    pub(crate) async fn link(
        &self,
        alexa_user: &AlexaUserId,
        customer_id: &CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let (user, customer_id) = (alexa_user.as_str().to_owned(), customer_id.to_string());
        self.write(move |conn| {
            conn.prepare_cached(LINK)
                .and_then(|mut s| s.execute(params![user, customer_id, at.unix_millis()]))
                .map_err(write_error)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn forget(
        &self,
        alexa_user: &AlexaUserId,
    ) -> Result<Option<CustomerId>, StoreError> {
        let user = alexa_user.as_str().to_owned();
        let raw: Option<String> = self
            .write(move |conn| {
                conn.prepare_cached(FORGET)
                    .and_then(|mut s| s.query_row(params![user], |row| row.get(0)).optional())
                    .map_err(write_error)
            })
            .await?;
        raw.map(customer).transpose()
    }

    pub(crate) fn customer_of(
        &self,
        alexa_user: &AlexaUserId,
    ) -> Result<Option<CustomerId>, StoreError> {
        let raw: Option<String> = self.read(|conn| {
            conn.prepare_cached(CUSTOMER_OF)
                .and_then(|mut s| {
                    s.query_row(params![alexa_user.as_str()], |row| row.get(0))
                        .optional()
                })
                .map_err(db_error)
        })?;
        raw.map(customer).transpose()
    }
}
