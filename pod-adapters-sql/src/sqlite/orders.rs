//! Writing orders to SQLite's `orders` table.

use pod_ports::StoreError;
use rusqlite::{Connection, params};

use super::error::{db_error, write_error};
use crate::rows::orders::{OrderRow, upsert_order_query};

/// Inserts the order, or updates the stored order with its id, if that is
/// the same customer's. [`StoreError::Conflict`] when the id is another
/// customer's, or when the write would make a second order awaiting a code
/// for the customer (the partial unique index).
pub(crate) fn upsert(conn: &Connection, order: &OrderRow) -> Result<(), StoreError> {
    let mut statement = conn
        .prepare_cached(upsert_order_query!(
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ))
        .map_err(db_error)?;
    let written = statement
        .execute(params![
            order.id,
            order.customer_id,
            order.size,
            order.toppings,
            order.placed_at,
            order.version,
            order.state,
            order.channel,
            order.masked_destination,
            order.sent_at,
            order.expires_at,
            order.failed_attempts,
            order.confirmed_at,
            order.cancelled_at,
            order.cancel_reason,
        ])
        .map_err(write_error)?;
    if written == 0 {
        // The id belongs to another customer's order.
        return Err(StoreError::Conflict);
    }
    Ok(())
}
