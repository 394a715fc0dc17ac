use async_trait::async_trait;
use pod_domain::{OrderEvent, OrderId, Timestamp};

/// The current time. Only adapters read a real clock.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// [`Clock`] reading the system's wall clock: the one real clock, shared by
/// every adapter and wired in by the server. The services never read it
/// themselves; they are given a [`Clock`], so tests and the domain stay
/// free of real time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one permitted clock read in the pure crates: this is an adapter
    // that lives here only so that all adapters share one.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        let millis = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
            // A clock set before 1970: count backwards.
            Err(before) => i64::try_from(before.duration().as_millis())
                .map(|m| -m)
                .unwrap_or(i64::MIN),
        };
        Timestamp::from_unix_millis(millis)
    }
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
