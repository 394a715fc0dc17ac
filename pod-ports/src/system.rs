use async_trait::async_trait;
use pod_domain::{OrderEvent, OrderId, Timestamp};

/// The current time. Only adapters read a real clock.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// New order ids.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait OrderIds: Send + Sync {
    /// An id no other order has.
    fn new_order_id(&self) -> OrderId;
}

/// Tells whoever watches (the live web page, other servers) what happened to
/// orders.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OrderEvents: Send + Sync {
    /// Publishes an event. Best effort: a watcher that missed it catches up
    /// from the store, so publishing never fails an order.
    async fn publish(&self, event: OrderEvent);
}

/// Where a store reports how its writes went, for metrics. Implemented by
/// whoever exports metrics (the HTTP adapter's Prometheus registry).
pub trait StoreTelemetry: Send + Sync {
    /// One transaction was committed (fsynced) holding `commits` account
    /// changes (refused ones included), after `duration`.
    fn commit_batch(&self, commits: usize, duration: std::time::Duration);
}
