//! The account store on SQLite's `accounts` and `orders` tables.

use pod_domain::{Account, Change, CustomerId, Order, OrderId};
use pod_ports::StoreError;
use rusqlite::{Connection, ToSql, params};

use super::engine::Engine;
use super::error::{SqliteRow, db_error};
use super::orders::upsert;
use crate::rows::accounts::{AccountRow, ChangeRows, account_from_row, load_account_query};
use crate::rows::orders::{order_by_id_query, order_from_row, orders_of_query};

const LOAD_ACCOUNT: &str = load_account_query!("?1");

const ORDER_BY_ID: &str = order_by_id_query!("?1");

const ORDERS_OF: &str = orders_of_query!("?1");

/// Writes the row if the stored version is the expected one (or, for a
/// first change, if there is no row yet); [`StoreError::Conflict`] if not.
fn write_account(conn: &Connection, row: &AccountRow) -> Result<(), StoreError> {
    let written = match row.expected {
        None => conn
            .prepare_cached(
                "INSERT INTO accounts (customer_id, version, consecutive_failures, \
                     locked_at, order_sends, sign_in_sends, order_code_digest, \
                     sign_in_digest, sign_in_issued_at, sign_in_expires_at, \
                     sign_in_failed_attempts) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 ON CONFLICT (customer_id) DO NOTHING",
            )
            .and_then(|mut s| s.execute(&*account_params(row, None)))
            .map_err(db_error)?,
        Some(expected) => conn
            .prepare_cached(
                "UPDATE accounts SET version = ?2, consecutive_failures = ?3, \
                     locked_at = ?4, order_sends = ?5, sign_in_sends = ?6, \
                     order_code_digest = ?7, sign_in_digest = ?8, sign_in_issued_at = ?9, \
                     sign_in_expires_at = ?10, sign_in_failed_attempts = ?11 \
                 WHERE customer_id = ?1 AND version = ?12",
            )
            .and_then(|mut s| s.execute(&*account_params(row, Some(&expected))))
            .map_err(db_error)?,
    };
    if written == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// `?1` to `?11`, and `?12` when `expected` is given.
fn account_params<'a>(row: &'a AccountRow, expected: Option<&'a i64>) -> Vec<&'a dyn ToSql> {
    let mut values: Vec<&dyn ToSql> = params![
        row.customer_id,
        row.version,
        row.consecutive_failures,
        row.locked_at,
        row.order_sends,
        row.sign_in_sends,
        row.order_code_digest,
        row.sign_in_digest,
        row.sign_in_issued_at,
        row.sign_in_expires_at,
        row.sign_in_failed_attempts,
    ]
    .to_vec();
    if let Some(expected) = expected {
        values.push(expected);
    }
    values
}

fn orders_from(conn: &Connection, sql: &str, param: &str) -> Result<Vec<Order>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(db_error)?;
    let mut rows = statement.query([param]).map_err(db_error)?;
    let mut orders = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        orders.push(order_from_row(&SqliteRow(row), 0)?);
    }
    Ok(orders)
}

/// The account store: reads inline on a reader connection, writes as jobs
/// of the writer's next batch.
impl Engine {
    pub(crate) fn load_account(&self, customer: &CustomerId) -> Result<Account, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(LOAD_ACCOUNT).map_err(db_error)?;
            let mut rows = statement.query([customer.as_str()]).map_err(db_error)?;
            match rows.next().map_err(db_error)? {
                Some(row) => account_from_row(customer, &SqliteRow(row)),
                None => Ok(Account::new(customer.clone())),
            }
        })
    }

    pub(crate) async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        let rows = ChangeRows::of(change)?;
        self.write(move |conn| {
            write_account(conn, &rows.account)?;
            for order in &rows.orders {
                upsert(conn, order)?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) fn order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.read(|conn| {
            let orders = orders_from(conn, ORDER_BY_ID, id.as_str())?;
            Ok(orders.into_iter().next())
        })
    }

    pub(crate) fn orders_of(&self, customer: &CustomerId) -> Result<Vec<Order>, StoreError> {
        self.read(|conn| orders_from(conn, ORDERS_OF, customer.as_str()))
    }

    pub(crate) async fn clear_confirmed(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        let customer = customer.as_str().to_owned();
        self.write(move |conn| {
            let deleted = conn
                .prepare_cached("DELETE FROM orders WHERE customer_id = ?1 AND state = 'confirmed'")
                .and_then(|mut s| s.execute([&customer]))
                .map_err(db_error)?;
            Ok(deleted as u64)
        })
        .await
    }
}
