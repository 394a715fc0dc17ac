//! [`OrderStore`] on the `orders`, `code_sends` and `lockouts` tables.

use std::time::Duration;

use async_trait::async_trait;
use pod_domain::{
    AwaitingCode, CancelReason, Channel, CustomerId, CustomerLockout, Order, OrderId, OrderState,
    Pizza, PizzaSize, Timestamp, Topping,
};
use pod_ports::{OrderStore, StoreError};
use sqlx::sqlite::SqliteRow;

use crate::SqlStore;
use crate::error::{column, corrupt, count_u32, db_error, non_negative, write_error};

/// How long code sends are kept. Far longer than the policy's one-hour send
/// window, so pruning can never change a count the service asks for.
const CODE_SEND_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// The columns of an order, in the order [`order_from_row`] reads them.
const ORDER_COLUMNS: &str = "id, customer_id, size, toppings, placed_at, version, state, \
     channel, masked_destination, sent_at, expires_at, failed_attempts, \
     confirmed_at, cancelled_at, cancel_reason";

/// Separates topping names in the `toppings` column; no name contains it.
const TOPPING_SEPARATOR: char = ',';

/// An order as column values, ready to bind.
struct OrderColumns<'a> {
    id: &'a str,
    customer_id: &'a str,
    size: &'static str,
    toppings: String,
    placed_at: i64,
    version: i64,
    state: &'static str,
    channel: Option<&'static str>,
    masked_destination: Option<&'a str>,
    sent_at: Option<i64>,
    expires_at: Option<i64>,
    failed_attempts: Option<i64>,
    confirmed_at: Option<i64>,
    cancelled_at: Option<i64>,
    cancel_reason: Option<&'static str>,
}

impl<'a> OrderColumns<'a> {
    /// Binds the columns as `$1` to `$15`, in the order of the table.
    fn bind_all(
        self,
        query: sqlx::query::Query<'a, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'a>>,
    ) -> sqlx::query::Query<'a, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'a>> {
        query
            .bind(self.id)
            .bind(self.customer_id)
            .bind(self.size)
            .bind(self.toppings)
            .bind(self.placed_at)
            .bind(self.version)
            .bind(self.state)
            .bind(self.channel)
            .bind(self.masked_destination)
            .bind(self.sent_at)
            .bind(self.expires_at)
            .bind(self.failed_attempts)
            .bind(self.confirmed_at)
            .bind(self.cancelled_at)
            .bind(self.cancel_reason)
    }

    fn of(order: &'a Order) -> Result<Self, StoreError> {
        let toppings: Vec<&str> = order.pizza().toppings().iter().map(|t| t.name()).collect();
        let mut columns = OrderColumns {
            id: order.id().as_str(),
            customer_id: order.customer().as_str(),
            size: order.pizza().size().name(),
            toppings: toppings.join(&TOPPING_SEPARATOR.to_string()),
            placed_at: order.placed_at().unix_millis(),
            version: version_column(order.version())?,
            state: order.state().name(),
            channel: None,
            masked_destination: None,
            sent_at: None,
            expires_at: None,
            failed_attempts: None,
            confirmed_at: None,
            cancelled_at: None,
            cancel_reason: None,
        };
        match order.state() {
            OrderState::AwaitingCode(waiting) => {
                columns.channel = Some(waiting.channel().as_str());
                columns.masked_destination = Some(waiting.masked_destination());
                columns.sent_at = Some(waiting.sent_at().unix_millis());
                columns.expires_at = Some(waiting.expires_at().unix_millis());
                columns.failed_attempts = Some(i64::from(waiting.failed_attempts()));
            }
            OrderState::Confirmed { at } => columns.confirmed_at = Some(at.unix_millis()),
            OrderState::Cancelled { at, reason } => {
                columns.cancelled_at = Some(at.unix_millis());
                columns.cancel_reason = Some(reason.as_str());
            }
        }
        Ok(columns)
    }
}

/// A version as the BIGINT column keeps it. Versions grow by one per
/// transition, so one beyond `i64::MAX` cannot happen short of a bug.
fn version_column(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version)
        .map_err(|_| StoreError::Unavailable("order version too large to store".to_owned()))
}

/// Rebuilds an order from a row of [`ORDER_COLUMNS`]; any value the domain
/// would not produce is [`StoreError::Corrupt`].
fn order_from_row(row: &SqliteRow) -> Result<Order, StoreError> {
    const T: &str = "orders";
    let raw_id: String = column(row, T, "id")?;
    let key = raw_id.as_str();
    let bad = |col: &str, problem: &str| corrupt(T, key, col, problem);

    let id = OrderId::parse(raw_id.clone()).map_err(|_| bad("id", "not an order id"))?;
    let customer = CustomerId::parse(column::<String>(row, T, "customer_id")?)
        .map_err(|_| bad("customer_id", "not a customer id"))?;

    let size_name: String = column(row, T, "size")?;
    // Exactly the canonical name: storage never holds a synonym, so anything
    // else means the row was written by something other than pod.
    let size = PizzaSize::ALL
        .into_iter()
        .find(|s| s.name() == size_name)
        .ok_or_else(|| bad("size", "unknown size"))?;
    let topping_names: String = column(row, T, "toppings")?;
    let toppings = if topping_names.is_empty() {
        Vec::new()
    } else {
        topping_names
            .split(TOPPING_SEPARATOR)
            .map(|name| Topping::from_name(name).ok_or_else(|| bad("toppings", "unknown topping")))
            .collect::<Result<Vec<_>, _>>()?
    };
    let pizza = Pizza::new(size, toppings).map_err(|_| bad("toppings", "too many toppings"))?;

    let placed_at = Timestamp::from_unix_millis(column(row, T, "placed_at")?);
    let version = non_negative(column(row, T, "version")?, T, key, "version")?;

    let state_name: String = column(row, T, "state")?;
    let required = |value: Option<i64>, col: &str| value.ok_or_else(|| bad(col, "missing"));
    let state = match state_name.as_str() {
        "awaiting_code" => {
            let channel_name: Option<String> = column(row, T, "channel")?;
            let channel = channel_name
                .as_deref()
                .and_then(Channel::from_name)
                .ok_or_else(|| bad("channel", "missing or unknown channel"))?;
            let masked: Option<String> = column(row, T, "masked_destination")?;
            let masked = masked.ok_or_else(|| bad("masked_destination", "missing"))?;
            let sent_at = required(column(row, T, "sent_at")?, "sent_at")?;
            let expires_at = required(column(row, T, "expires_at")?, "expires_at")?;
            let failed = required(column(row, T, "failed_attempts")?, "failed_attempts")?;
            let failed =
                u32::try_from(failed).map_err(|_| bad("failed_attempts", "out of range"))?;
            OrderState::AwaitingCode(AwaitingCode::new(
                channel,
                masked,
                Timestamp::from_unix_millis(sent_at),
                Timestamp::from_unix_millis(expires_at),
                failed,
            ))
        }
        "confirmed" => OrderState::Confirmed {
            at: Timestamp::from_unix_millis(required(
                column(row, T, "confirmed_at")?,
                "confirmed_at",
            )?),
        },
        "cancelled" => {
            let at = required(column(row, T, "cancelled_at")?, "cancelled_at")?;
            let reason: Option<String> = column(row, T, "cancel_reason")?;
            let reason = reason
                .as_deref()
                .and_then(CancelReason::from_name)
                .ok_or_else(|| bad("cancel_reason", "missing or unknown reason"))?;
            OrderState::Cancelled {
                at: Timestamp::from_unix_millis(at),
                reason,
            }
        }
        _ => return Err(bad("state", "unknown state")),
    };
    Order::restore(id, customer, pizza, placed_at, version, state)
        .map_err(|e| bad("version", &e.to_string()))
}

fn orders_from_rows(rows: &[SqliteRow]) -> Result<Vec<Order>, StoreError> {
    rows.iter().map(order_from_row).collect()
}

#[async_trait]
impl OrderStore for SqlStore {
    async fn insert_order(&self, order: &Order) -> Result<(), StoreError> {
        let c = OrderColumns::of(order)?;
        // A duplicate id or a second pending order for the customer violates
        // the primary key or the partial unique index: a conflict.
        c.bind_all(sqlx::query(
            "INSERT INTO orders (id, customer_id, size, toppings, placed_at, version, state, \
                 channel, masked_destination, sent_at, expires_at, failed_attempts, \
                 confirmed_at, cancelled_at, cancel_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        ))
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn update_order(&self, order: &Order, expected_version: u64) -> Result<(), StoreError> {
        let c = OrderColumns::of(order)?;
        let Ok(expected) = i64::try_from(expected_version) else {
            // No stored version is that large, so none matches.
            return Err(StoreError::Conflict);
        };
        // Compare-and-swap on the version: of two updates made from the same
        // read exactly one matches the row.
        let done = c
            .bind_all(sqlx::query(
                "UPDATE orders SET customer_id = $2, size = $3, toppings = $4, placed_at = $5, \
                 version = $6, state = $7, channel = $8, masked_destination = $9, sent_at = $10, \
                 expires_at = $11, failed_attempts = $12, confirmed_at = $13, \
                 cancelled_at = $14, cancel_reason = $15 \
             WHERE id = $1 AND version = $16",
            ))
            .bind(expected)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    async fn order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(order_from_row).transpose()
    }

    async fn pending_order(&self, customer: &CustomerId) -> Result<Option<Order>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders \
             WHERE customer_id = $1 AND state = 'awaiting_code'"
        ))
        .bind(customer.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(order_from_row).transpose()
    }

    async fn orders_of(&self, customer: &CustomerId) -> Result<Vec<Order>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE customer_id = $1 \
             ORDER BY placed_at DESC, id ASC"
        ))
        .bind(customer.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        orders_from_rows(&rows)
    }

    async fn clear_confirmed(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM orders WHERE customer_id = $1 AND state = 'confirmed'")
            .bind(customer.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn record_code_sent(
        &self,
        customer: &CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Pruning the customer's old rows here keeps the table small without
        // a background job.
        sqlx::query("DELETE FROM code_sends WHERE customer_id = $1 AND sent_at < $2")
            .bind(customer.as_str())
            .bind(at.minus(CODE_SEND_RETENTION).unix_millis())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query("INSERT INTO code_sends (customer_id, sent_at) VALUES ($1, $2)")
            .bind(customer.as_str())
            .bind(at.unix_millis())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn codes_sent_since(
        &self,
        customer: &CustomerId,
        since: Timestamp,
    ) -> Result<u32, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM code_sends WHERE customer_id = $1 AND sent_at >= $2",
        )
        .bind(customer.as_str())
        .bind(since.unix_millis())
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        count_u32(count, "code_sends", customer.as_str(), "count")
    }

    async fn lockout(&self, customer: &CustomerId) -> Result<CustomerLockout, StoreError> {
        let failures: Option<i64> =
            sqlx::query_scalar("SELECT consecutive_failures FROM lockouts WHERE customer_id = $1")
                .bind(customer.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(lockout_read_error)?;
        let failures = match failures {
            Some(n) => count_u32(n, "lockouts", customer.as_str(), "consecutive_failures")?,
            None => 0,
        };
        Ok(CustomerLockout::with_failures(failures))
    }

    async fn record_failed_attempt(
        &self,
        customer: &CustomerId,
    ) -> Result<CustomerLockout, StoreError> {
        // One statement, so concurrent wrong codes each count: the database
        // serialises the increments, no read-modify-write in between.
        let failures: i64 = sqlx::query_scalar(
            "INSERT INTO lockouts (customer_id, consecutive_failures) VALUES ($1, 1) \
             ON CONFLICT (customer_id) \
             DO UPDATE SET consecutive_failures = lockouts.consecutive_failures + 1 \
             RETURNING consecutive_failures",
        )
        .bind(customer.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(lockout_read_error)?;
        let failures = count_u32(
            failures,
            "lockouts",
            customer.as_str(),
            "consecutive_failures",
        )?;
        Ok(CustomerLockout::with_failures(failures))
    }

    async fn clear_lockout(&self, customer: &CustomerId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM lockouts WHERE customer_id = $1")
            .bind(customer.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

/// A scalar read of the lockout counter: a stored value of the wrong type is
/// corrupt data, not an unavailable database.
fn lockout_read_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::ColumnDecode { source, .. } => {
            StoreError::Corrupt(format!("lockouts: column consecutive_failures: {source}"))
        }
        other => db_error(other),
    }
}
