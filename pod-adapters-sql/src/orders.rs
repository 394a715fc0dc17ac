//! Orders as rows of the `orders` table, and back.

use pod_domain::{
    AwaitingCode, CancelReason, Channel, CustomerId, Order, OrderId, OrderState, Pizza, PizzaSize,
    Timestamp, Topping,
};
use pod_ports::StoreError;
use rusqlite::{Connection, Row, params};

use crate::error::{column, corrupt, db_error, non_negative, to_bigint, write_error};

/// The columns of an order, in the order [`order_from_row`] reads them (a
/// macro, so that queries are built with `concat!` at compile time).
macro_rules! order_columns {
    () => {
        "id, customer_id, size, toppings, placed_at, version, state, channel, \
         masked_destination, sent_at, expires_at, failed_attempts, confirmed_at, \
         cancelled_at, cancel_reason"
    };
    ($alias:literal) => {
        concat!(
            $alias,
            ".id, ",
            $alias,
            ".customer_id, ",
            $alias,
            ".size, ",
            $alias,
            ".toppings, ",
            $alias,
            ".placed_at, ",
            $alias,
            ".version, ",
            $alias,
            ".state, ",
            $alias,
            ".channel, ",
            $alias,
            ".masked_destination, ",
            $alias,
            ".sent_at, ",
            $alias,
            ".expires_at, ",
            $alias,
            ".failed_attempts, ",
            $alias,
            ".confirmed_at, ",
            $alias,
            ".cancelled_at, ",
            $alias,
            ".cancel_reason"
        )
    };
}
pub(crate) use order_columns;

/// Separates topping names in the `toppings` column; no name contains it.
const TOPPING_SEPARATOR: char = ',';

/// An order as column values, owned, ready to bind on the writer thread.
#[derive(Debug, Clone)]
pub(crate) struct OrderRow {
    id: String,
    customer_id: String,
    size: &'static str,
    toppings: String,
    placed_at: i64,
    version: i64,
    state: &'static str,
    channel: Option<&'static str>,
    masked_destination: Option<String>,
    sent_at: Option<i64>,
    expires_at: Option<i64>,
    failed_attempts: Option<i64>,
    confirmed_at: Option<i64>,
    cancelled_at: Option<i64>,
    cancel_reason: Option<&'static str>,
}

impl OrderRow {
    pub(crate) fn of(order: &Order) -> Result<Self, StoreError> {
        let toppings: Vec<&str> = order.pizza().toppings().iter().map(|t| t.name()).collect();
        let mut row = OrderRow {
            id: order.id().as_str().to_owned(),
            customer_id: order.customer().as_str().to_owned(),
            size: order.pizza().size().name(),
            toppings: toppings.join(&TOPPING_SEPARATOR.to_string()),
            placed_at: order.placed_at().unix_millis(),
            version: to_bigint(order.version(), "order version")?,
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
                row.channel = Some(waiting.channel().as_str());
                row.masked_destination = Some(waiting.masked_destination().to_owned());
                row.sent_at = Some(waiting.sent_at().unix_millis());
                row.expires_at = Some(waiting.expires_at().unix_millis());
                row.failed_attempts = Some(i64::from(waiting.failed_attempts()));
            }
            OrderState::Confirmed { at } => row.confirmed_at = Some(at.unix_millis()),
            OrderState::Cancelled { at, reason } => {
                row.cancelled_at = Some(at.unix_millis());
                row.cancel_reason = Some(reason.as_str());
            }
        }
        Ok(row)
    }

    pub(crate) fn customer_id(&self) -> &str {
        &self.customer_id
    }

    /// Inserts the order, or updates the stored order with its id, if that
    /// is the same customer's. [`StoreError::Conflict`] when the id is
    /// another customer's, or when the write would make a second order
    /// awaiting a code for the customer (the partial unique index).
    pub(crate) fn upsert(&self, conn: &Connection) -> Result<(), StoreError> {
        let mut statement = conn
            .prepare_cached(
                "INSERT INTO orders (id, customer_id, size, toppings, placed_at, version, state, \
                     channel, masked_destination, sent_at, expires_at, failed_attempts, \
                     confirmed_at, cancelled_at, cancel_reason) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
                 ON CONFLICT (id) DO UPDATE SET \
                     size = excluded.size, toppings = excluded.toppings, \
                     placed_at = excluded.placed_at, version = excluded.version, \
                     state = excluded.state, channel = excluded.channel, \
                     masked_destination = excluded.masked_destination, \
                     sent_at = excluded.sent_at, expires_at = excluded.expires_at, \
                     failed_attempts = excluded.failed_attempts, \
                     confirmed_at = excluded.confirmed_at, cancelled_at = excluded.cancelled_at, \
                     cancel_reason = excluded.cancel_reason \
                 WHERE orders.customer_id = excluded.customer_id",
            )
            .map_err(db_error)?;
        let written = statement
            .execute(params![
                self.id,
                self.customer_id,
                self.size,
                self.toppings,
                self.placed_at,
                self.version,
                self.state,
                self.channel,
                self.masked_destination,
                self.sent_at,
                self.expires_at,
                self.failed_attempts,
                self.confirmed_at,
                self.cancelled_at,
                self.cancel_reason,
            ])
            .map_err(write_error)?;
        if written == 0 {
            // The id belongs to another customer's order.
            return Err(StoreError::Conflict);
        }
        Ok(())
    }
}

/// Rebuilds an order from the [`order_columns!`] starting at column `base`
/// of `row`; any value the domain would not produce is
/// [`StoreError::Corrupt`].
pub(crate) fn order_from_row(row: &Row<'_>, base: usize) -> Result<Order, StoreError> {
    const T: &str = "orders";
    let get_text = |offset: usize, name: &str| column::<String>(row, base + offset, T, name);
    let get_int = |offset: usize, name: &str| column::<Option<i64>>(row, base + offset, T, name);

    let raw_id = get_text(0, "id")?;
    let key = raw_id.as_str();
    let bad = |col: &str, problem: &str| corrupt(T, key, col, problem);
    let required = |value: Option<i64>, col: &str| value.ok_or_else(|| bad(col, "missing"));

    let id = OrderId::parse(raw_id.clone()).map_err(|_| bad("id", "not an order id"))?;
    let customer = CustomerId::parse(get_text(1, "customer_id")?)
        .map_err(|_| bad("customer_id", "not a customer id"))?;

    let size_name = get_text(2, "size")?;
    // Exactly the canonical name: storage never holds a synonym, so anything
    // else means the row was written by something other than pod.
    let size = PizzaSize::ALL
        .into_iter()
        .find(|s| s.name() == size_name)
        .ok_or_else(|| bad("size", "unknown size"))?;
    let topping_names = get_text(3, "toppings")?;
    let toppings = if topping_names.is_empty() {
        Vec::new()
    } else {
        topping_names
            .split(TOPPING_SEPARATOR)
            .map(|name| Topping::from_name(name).ok_or_else(|| bad("toppings", "unknown topping")))
            .collect::<Result<Vec<_>, _>>()?
    };
    let pizza = Pizza::new(size, toppings).map_err(|_| bad("toppings", "too many toppings"))?;

    let placed_at = Timestamp::from_unix_millis(required(get_int(4, "placed_at")?, "placed_at")?);
    let version = non_negative(
        required(get_int(5, "version")?, "version")?,
        T,
        key,
        "version",
    )?;

    let state_name = get_text(6, "state")?;
    let state = match state_name.as_str() {
        "awaiting_code" => {
            let channel_name = column::<Option<String>>(row, base + 7, T, "channel")?;
            let channel = channel_name
                .as_deref()
                .and_then(Channel::from_name)
                .ok_or_else(|| bad("channel", "missing or unknown channel"))?;
            let masked = column::<Option<String>>(row, base + 8, T, "masked_destination")?
                .ok_or_else(|| bad("masked_destination", "missing"))?;
            let sent_at = required(get_int(9, "sent_at")?, "sent_at")?;
            let expires_at = required(get_int(10, "expires_at")?, "expires_at")?;
            let failed = required(get_int(11, "failed_attempts")?, "failed_attempts")?;
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
                get_int(12, "confirmed_at")?,
                "confirmed_at",
            )?),
        },
        "cancelled" => {
            let at = required(get_int(13, "cancelled_at")?, "cancelled_at")?;
            let reason = column::<Option<String>>(row, base + 14, T, "cancel_reason")?;
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
