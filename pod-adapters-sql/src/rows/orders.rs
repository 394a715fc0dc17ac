//! Orders as rows of the `orders` table, and back.

use pod_domain::{
    AwaitingCode, CancelReason, Channel, CustomerId, Order, OrderId, OrderState, Pizza, PizzaSize,
    Timestamp, Topping,
};
use pod_ports::StoreError;

use super::{Columns, corrupt, non_negative, to_bigint};

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

/// One order by id; `$id` is the backend's placeholder (`?1`, `$1`).
macro_rules! order_by_id_query {
    ($id:literal) => {
        concat!(
            "SELECT ",
            $crate::rows::orders::order_columns!(),
            " FROM orders WHERE id = ",
            $id
        )
    };
}
pub(crate) use order_by_id_query;

/// A customer's orders, newest first (the index on (customer_id,
/// placed_at, id) read backwards); `$customer` is the backend's
/// placeholder.
macro_rules! orders_of_query {
    ($customer:literal) => {
        concat!(
            "SELECT ",
            $crate::rows::orders::order_columns!(),
            " FROM orders WHERE customer_id = ",
            $customer,
            " ORDER BY placed_at DESC, id DESC"
        )
    };
}
pub(crate) use orders_of_query;

/// Inserts an [`OrderRow`], or updates the stored order with its id if that
/// is the same customer's: an id of another customer's order writes no row,
/// which the backends report as a conflict. `$values` is the backend's
/// `VALUES` clause, its placeholders in [`order_columns!`] order.
macro_rules! upsert_order_query {
    ($values:literal) => {
        concat!(
            "INSERT INTO orders (",
            $crate::rows::orders::order_columns!(),
            ") ",
            $values,
            " ON CONFLICT (id) DO UPDATE SET \
                 size = excluded.size, toppings = excluded.toppings, \
                 placed_at = excluded.placed_at, version = excluded.version, \
                 state = excluded.state, channel = excluded.channel, \
                 masked_destination = excluded.masked_destination, \
                 sent_at = excluded.sent_at, expires_at = excluded.expires_at, \
                 failed_attempts = excluded.failed_attempts, \
                 confirmed_at = excluded.confirmed_at, cancelled_at = excluded.cancelled_at, \
                 cancel_reason = excluded.cancel_reason \
             WHERE orders.customer_id = excluded.customer_id"
        )
    };
}
pub(crate) use upsert_order_query;

/// Separates topping names in the `toppings` column; no name contains it.
const TOPPING_SEPARATOR: char = ',';

/// An order as column values, owned, ready to bind (on SQLite's writer
/// thread, or in a PostgreSQL transaction), in [`order_columns!`] order.
#[derive(Debug, Clone)]
pub(crate) struct OrderRow {
    pub(crate) id: String,
    pub(crate) customer_id: String,
    pub(crate) size: &'static str,
    pub(crate) toppings: String,
    pub(crate) placed_at: i64,
    pub(crate) version: i64,
    pub(crate) state: &'static str,
    pub(crate) channel: Option<&'static str>,
    pub(crate) masked_destination: Option<String>,
    pub(crate) sent_at: Option<i64>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) failed_attempts: Option<i64>,
    pub(crate) confirmed_at: Option<i64>,
    pub(crate) cancelled_at: Option<i64>,
    pub(crate) cancel_reason: Option<&'static str>,
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
}

/// Rebuilds an order from the [`order_columns!`] starting at column `base`
/// of `row`; any value the domain would not produce is
/// [`StoreError::Corrupt`].
pub(crate) fn order_from_row(row: &impl Columns, base: usize) -> Result<Order, StoreError> {
    const T: &str = "orders";
    let get_text = |offset: usize, name: &str| row.text(base + offset, T, name);
    let get_int = |offset: usize, name: &str| row.opt_int(base + offset, T, name);

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
            let channel_name = row.opt_text(base + 7, T, "channel")?;
            let channel = channel_name
                .as_deref()
                .and_then(Channel::from_name)
                .ok_or_else(|| bad("channel", "missing or unknown channel"))?;
            let masked = row
                .opt_text(base + 8, T, "masked_destination")?
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
            let reason = row.opt_text(base + 14, T, "cancel_reason")?;
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
