//! The account store on PostgreSQL's `accounts` and `orders` tables.
//!
//! # Why READ COMMITTED is enough
//!
//! A commit runs at PostgreSQL's default isolation, READ COMMITTED, and
//! still cannot lose an update or break a rule, because every write of a
//! change is decided by the account row's version, on the server, in the
//! same transaction:
//!
//! - the first statement is `UPDATE accounts … WHERE customer_id = $1 AND
//!   version = $12` (or, for an account never stored, `INSERT … ON CONFLICT
//!   DO NOTHING`). It takes the row's lock. A concurrent commit to the same
//!   account waits for that lock, and when the holder commits, PostgreSQL
//!   re-checks the `WHERE` against the new row version: the version moved
//!   on, no row matches, nothing is written, and the loser is told
//!   [`StoreError::Conflict`]. Two first inserts meet on the primary key in
//!   the same way (the second sees the first's row once it committed, and
//!   does nothing);
//! - the orders are written only after that, under the account's row lock,
//!   and only for the account's own customer: no other transaction can be
//!   writing them (an order id of another customer is refused by the
//!   upsert's `WHERE`, a second pending order by the partial unique index);
//! - nothing read outside the transaction is trusted: the caller decided on
//!   a loaded account, and the version check proves that account is still
//!   the stored one.
//!
//! So no snapshot beyond the row lock is needed; SERIALIZABLE would only add
//! retries.

use pod_domain::{Account, Change, CustomerId, Order, OrderId};
use pod_ports::StoreError;
use sqlx::Postgres as Pg;
use sqlx::postgres::{PgArguments, PgConnection};
use sqlx::query::Query;

use super::Postgres;
use super::error::{PgColumns, db_error, write_error};
use crate::rows::accounts::{AccountRow, ChangeRows, account_from_row, load_account_query};
use crate::rows::orders::{
    OrderRow, order_by_id_query, order_from_row, orders_of_query, upsert_order_query,
};

/// One round trip (`$1` needs its type here: nothing else in the query
/// gives it one).
const LOAD_ACCOUNT: &str = load_account_query!("$1::text");

const ORDER_BY_ID: &str = order_by_id_query!("$1");

const ORDERS_OF: &str = orders_of_query!("$1");

const INSERT_ACCOUNT: &str = "INSERT INTO accounts (customer_id, version, consecutive_failures, \
         locked_at, order_sends, sign_in_sends, order_code_digest, sign_in_digest, \
         sign_in_issued_at, sign_in_expires_at, sign_in_failed_attempts) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
     ON CONFLICT (customer_id) DO NOTHING";

const UPDATE_ACCOUNT: &str = "UPDATE accounts SET version = $2, consecutive_failures = $3, \
         locked_at = $4, order_sends = $5, sign_in_sends = $6, order_code_digest = $7, \
         sign_in_digest = $8, sign_in_issued_at = $9, sign_in_expires_at = $10, \
         sign_in_failed_attempts = $11 \
     WHERE customer_id = $1 AND version = $12";

const UPSERT_ORDER: &str = upsert_order_query!(
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);

/// `$1` to `$11`.
fn bind_account<'q>(
    query: Query<'q, Pg, PgArguments>,
    row: &'q AccountRow,
) -> Query<'q, Pg, PgArguments> {
    query
        .bind(&row.customer_id)
        .bind(row.version)
        .bind(row.consecutive_failures)
        .bind(row.locked_at)
        .bind(&row.order_sends)
        .bind(&row.sign_in_sends)
        .bind(row.order_code_digest.as_deref())
        .bind(row.sign_in_digest.as_deref())
        .bind(row.sign_in_issued_at)
        .bind(row.sign_in_expires_at)
        .bind(row.sign_in_failed_attempts)
}

/// Writes the account row if the stored version is the expected one (or,
/// for a first change, if there is no row yet); [`StoreError::Conflict`]
/// if not.
async fn write_account(conn: &mut PgConnection, row: &AccountRow) -> Result<(), StoreError> {
    let query = match row.expected {
        None => bind_account(sqlx::query(INSERT_ACCOUNT), row),
        Some(expected) => bind_account(sqlx::query(UPDATE_ACCOUNT), row).bind(expected),
    };
    let written = query.execute(conn).await.map_err(write_error)?;
    if written.rows_affected() == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// Inserts the order, or updates the stored order with its id if that is
/// the same customer's. [`StoreError::Conflict`] when the id is another
/// customer's, or when the write would make a second order awaiting a code
/// for the customer (the partial unique index).
async fn upsert_order(conn: &mut PgConnection, order: &OrderRow) -> Result<(), StoreError> {
    let written = sqlx::query(UPSERT_ORDER)
        .bind(&order.id)
        .bind(&order.customer_id)
        .bind(order.size)
        .bind(&order.toppings)
        .bind(order.placed_at)
        .bind(order.version)
        .bind(order.state)
        .bind(order.channel)
        .bind(order.masked_destination.as_deref())
        .bind(order.sent_at)
        .bind(order.expires_at)
        .bind(order.failed_attempts)
        .bind(order.confirmed_at)
        .bind(order.cancelled_at)
        .bind(order.cancel_reason)
        .execute(conn)
        .await
        .map_err(write_error)?;
    if written.rows_affected() == 0 {
        // The id belongs to another customer's order.
        return Err(StoreError::Conflict);
    }
    Ok(())
}

impl Postgres {
    pub(crate) async fn load_account(&self, customer: &CustomerId) -> Result<Account, StoreError> {
        let row = sqlx::query(LOAD_ACCOUNT)
            .bind(customer.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        match row {
            Some(row) => account_from_row(customer, &PgColumns(&row)),
            None => Ok(Account::new(customer.clone())),
        }
    }

    /// One transaction: the version-checked account write, then the
    /// change's orders, then `COMMIT` (see the module's documentation for
    /// why READ COMMITTED is enough). Any refusal rolls back everything.
    pub(crate) async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        let rows = ChangeRows::of(change)?;
        let started = std::time::Instant::now();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let mut written = write_account(&mut tx, &rows.account).await;
        for order in &rows.orders {
            if written.is_err() {
                break;
            }
            written = upsert_order(&mut tx, order).await;
        }
        let result = match written {
            // A unique violation at COMMIT is impossible without deferred
            // constraints; mapped like any write all the same.
            Ok(()) => tx.commit().await.map_err(write_error),
            Err(refused) => {
                // Rolled back explicitly, so the connection goes back to the
                // pool clean (dropping the transaction would only queue it).
                tx.rollback().await.map_err(db_error)?;
                Err(refused)
            }
        };
        if matches!(result, Ok(()) | Err(StoreError::Conflict)) {
            self.report_commit(started);
        }
        result
    }

    pub(crate) async fn order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let row = sqlx::query(ORDER_BY_ID)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(|row| order_from_row(&PgColumns(&row), 0))
            .transpose()
    }

    pub(crate) async fn orders_of(&self, customer: &CustomerId) -> Result<Vec<Order>, StoreError> {
        let rows = sqlx::query(ORDERS_OF)
            .bind(customer.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| order_from_row(&PgColumns(row), 0))
            .collect()
    }

    pub(crate) async fn clear_confirmed(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        let deleted =
            sqlx::query("DELETE FROM orders WHERE customer_id = $1 AND state = 'confirmed'")
                .bind(customer.as_str())
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
        Ok(deleted.rows_affected())
    }
}
