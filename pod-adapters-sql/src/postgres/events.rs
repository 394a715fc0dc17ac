//! Order events across pod servers through PostgreSQL's `LISTEN`/`NOTIFY`.
//!
//! Publishing ([`NotifyEvents`]) is one `SELECT pg_notify(…)` on a pooled
//! connection, outside any transaction, so it is sent at once. Every server
//! (the publisher included) keeps one connection of its own listening on
//! [`CHANNEL`] ([`start`]); for each notification it loads the order from
//! the store and hands the event to its local sink. The payload names the
//! event, the order and the customer, nothing else:
//! `{"event":"placed","order":"<order id>","customer":"<customer id>"}`.
//!
//! Notifications sent while a listener is not connected are lost, so when
//! its connection goes (the server restarted, the backend was terminated,
//! or a liveness check got no answer) the listener connects and listens
//! again with a bounded backoff, then calls `resync`: whoever shows orders
//! must reload them from the store.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pod_domain::{CustomerId, Order, OrderEvent, OrderId};
use pod_ports::{OrderEvents, StoreError};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::Postgres;
use super::error::describe;

/// The notification channel of order events. Channels are per database:
/// every pod server on the database listens on it.
pub const CHANNEL: &str = "pod_order_events";

/// PostgreSQL refuses a `NOTIFY` payload of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7999;

/// How often a quiet listener checks that its connection still answers
/// (a connection lost without a word, such as a network partition, would
/// otherwise wait forever).
const LIVENESS_INTERVAL: Duration = Duration::from_secs(30);

/// How long a liveness check may take before the connection counts as lost.
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait before the first attempt to listen again; doubled after each
/// failed attempt, up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(100);

/// The longest wait between two attempts to listen again.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The `NOTIFY` payload of an event: its name, the order's id and the
/// customer's id, as JSON. Never the order's details, a destination, a code
/// or a token. At most about 600 bytes (an order id is at most 64 ASCII
/// bytes, a customer id at most 255 bytes without control characters, each
/// byte escaped to at most two).
pub(crate) fn payload_of(event: &OrderEvent) -> String {
    let order = event.order();
    // Written field by field so that the order of the keys is fixed.
    format!(
        r#"{{"event":{},"order":{},"customer":{}}}"#,
        json_string(event.name()),
        json_string(order.id().as_str()),
        json_string(order.customer().as_str()),
    )
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// What a notification says.
#[derive(Debug, PartialEq, Eq)]
struct Notice {
    event: &'static str,
    order: OrderId,
    customer: CustomerId,
}

impl Notice {
    /// `None` for anything [`payload_of`] does not write.
    fn parse(payload: &str) -> Option<Notice> {
        let value: serde_json::Value = serde_json::from_str(payload).ok()?;
        let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
        let event = ["placed", "confirmed", "cancelled"]
            .into_iter()
            .find(|name| Some(*name) == text("event"))?;
        Some(Notice {
            event,
            order: OrderId::parse(text("order")?).ok()?,
            customer: CustomerId::parse(text("customer")?).ok()?,
        })
    }

    /// The event, around the order as it is stored now.
    fn event(&self, order: Order) -> OrderEvent {
        match self.event {
            "placed" => OrderEvent::Placed(order),
            "confirmed" => OrderEvent::Confirmed(order),
            _ => OrderEvent::Cancelled(order),
        }
    }
}

/// Publishes order events with `pg_notify` to every server's listener.
pub(crate) struct NotifyEvents {
    db: Arc<Postgres>,
    /// Where an event goes when it cannot be sent through the database, so
    /// that at least this server's pages see it.
    local: Arc<dyn OrderEvents>,
}

#[async_trait]
impl OrderEvents for NotifyEvents {
    async fn publish(&self, event: OrderEvent) {
        let payload = payload_of(&event);
        if payload.len() > MAX_PAYLOAD {
            // Cannot happen with the ids' limits; never fails an order.
            warn!(
                event = event.name(),
                "order event too long for NOTIFY; published in this server only"
            );
            self.local.publish(event).await;
            return;
        }
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&payload)
            .execute(&self.db.pool)
            .await;
        if let Err(error) = sent {
            warn!(
                error = %describe(&error),
                event = event.name(),
                "cannot send an order event to the other servers; published in this server only"
            );
            self.local.publish(event).await;
        }
    }
}

/// Stops a running listener: [`ListenerHandle::stop`], or dropping it.
pub(crate) struct ListenerHandle {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ListenerHandle {
    /// Stops the listener and waits until its connection is closed.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl fmt::Debug for ListenerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerHandle")
            .field("channel", &CHANNEL)
            .field("running", &!self.task.is_finished())
            .finish()
    }
}

/// What the listener task works with.
struct Relay {
    db: Arc<Postgres>,
    local: Arc<dyn OrderEvents>,
    resync: Arc<dyn Fn() + Send + Sync>,
    /// The store's connect options, with the listener's application name.
    options: PgConnectOptions,
}

/// Listens on [`CHANNEL`] (returning once `LISTEN` is in effect, so that
/// nothing published afterwards is missed) and starts the task that hands
/// every notification's event to `local`; returns the publisher and the
/// listener's handle.
///
/// Errors: [`StoreError::Unavailable`] when the first `LISTEN` fails.
pub(crate) async fn start(
    db: Arc<Postgres>,
    local: Arc<dyn OrderEvents>,
    resync: Arc<dyn Fn() + Send + Sync>,
) -> Result<(Arc<dyn OrderEvents>, ListenerHandle), StoreError> {
    let name = format!(
        "{}-listener",
        db.options.get_application_name().unwrap_or("pod")
    );
    let relay = Relay {
        options: db.options.clone().application_name(&name),
        db: db.clone(),
        local: local.clone(),
        resync,
    };
    let listener = relay
        .listen()
        .await
        .map_err(|why| StoreError::Unavailable(format!("cannot listen for order events: {why}")))?;
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(relay.run(listener, stopped));
    let publisher = Arc::new(NotifyEvents { db, local });
    Ok((publisher, ListenerHandle { stop, task }))
}

impl Relay {
    /// Follows notifications until told to stop (or the handle is dropped),
    /// listening again whenever the connection is lost.
    async fn run(self, mut listener: PgListener, mut stop: oneshot::Receiver<()>) {
        loop {
            let why = tokio::select! {
                biased;
                _ = &mut stop => return,
                why = self.follow(&mut listener) => why,
            };
            drop(listener);
            warn!(
                reason = %why,
                "the order events listener lost its database connection; listening again"
            );
            listener = tokio::select! {
                biased;
                _ = &mut stop => return,
                listener = self.listen_again() => listener,
            };
            info!("listening for order events again; every live page reloads its orders");
            (self.resync)();
        }
    }

    /// Hands on every notification until the connection is lost; returns
    /// why it was.
    async fn follow(&self, listener: &mut PgListener) -> String {
        let start = tokio::time::Instant::now() + LIVENESS_INTERVAL;
        let mut liveness = tokio::time::interval_at(start, LIVENESS_INTERVAL);
        liveness.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // `try_recv` is cancel-safe: a message half read stays buffered.
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(notification)) => self.deliver(notification.payload()).await,
                    Ok(None) => return "the connection closed".to_owned(),
                    Err(error) => return describe(&error),
                },
                _ = liveness.tick() => {
                    let check = sqlx::query("SELECT 1").execute(&mut *listener);
                    match tokio::time::timeout(LIVENESS_TIMEOUT, check).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(error)) => return describe(&error),
                        Err(_) => return "no answer to a liveness check".to_owned(),
                    }
                }
            }
        }
    }

    /// Loads the order a notification names and hands its event to the
    /// local sink. When that cannot be done, the event is lost: resync.
    async fn deliver(&self, payload: &str) {
        let Some(notice) = Notice::parse(payload) else {
            warn!("ignored a notification on {CHANNEL} that pod did not write");
            return;
        };
        match self.db.order(&notice.order).await {
            Ok(Some(order)) if *order.customer() == notice.customer => {
                self.local.publish(notice.event(order)).await;
            }
            Ok(Some(_)) => warn!("ignored an order event whose customer is not the stored order's"),
            Ok(None) => {
                // Cleared since; whoever shows it reloads.
                debug!("an order event's order is gone; every live page reloads its orders");
                (self.resync)();
            }
            Err(error) => {
                warn!(
                    %error,
                    "cannot load the order of an order event; every live page reloads its orders"
                );
                (self.resync)();
            }
        }
    }

    /// Listens again, after a backoff that grows after each failure.
    async fn listen_again(&self) -> PgListener {
        let mut backoff = BACKOFF_FIRST;
        loop {
            tokio::time::sleep(backoff).await;
            match self.listen().await {
                Ok(listener) => return listener,
                Err(why) => {
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    warn!(
                        reason = %why,
                        retry_in_ms = backoff.as_millis() as u64,
                        "cannot listen for order events yet"
                    );
                }
            }
        }
    }

    /// A new connection of its own (a pool of one, which `PgListener`
    /// takes its connection from) with `LISTEN` in effect. The whole
    /// attempt is bounded by twice the store's acquire timeout.
    async fn listen(&self) -> Result<PgListener, String> {
        let acquire_timeout = self.db.limits.acquire_timeout;
        let attempt = async {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .acquire_timeout(acquire_timeout)
                .max_lifetime(None)
                .idle_timeout(None)
                .connect_lazy_with(self.options.clone());
            let mut listener = PgListener::connect_with(&pool).await?;
            // A lost connection ends `try_recv` at once; this task listens
            // again itself, with backoff, and then asks for a resync.
            listener.eager_reconnect(false);
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match tokio::time::timeout(acquire_timeout * 2, attempt).await {
            Ok(Ok(listener)) => Ok(listener),
            Ok(Err(error)) => Err(describe(&error)),
            Err(_) => Err("timed out".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pod_domain::{
        Account, CodeDigest, ConfirmationPolicy, Destination, Pizza, PizzaSize, Timestamp, Topping,
    };

    fn placed(customer: &str, order: &str) -> OrderEvent {
        Account::new(CustomerId::parse(customer).unwrap())
            .place_order(
                OrderId::parse(order).unwrap(),
                Pizza::new(PizzaSize::Large, [Topping::Pepperoni]).unwrap(),
                &Destination::sms("+15550100123"),
                Some(CodeDigest::new(vec![0xab; 32])),
                Timestamp::from_unix_seconds(1_700_000_000),
                &ConfirmationPolicy::default(),
            )
            .unwrap()
            .change
            .into_events()
            .remove(0)
    }

    #[test]
    fn the_payload_names_the_event_the_order_and_the_customer_only() {
        let event = placed("auth0|a\"b\\c", "o-1");
        let payload = payload_of(&event);
        assert_eq!(
            payload,
            r#"{"event":"placed","order":"o-1","customer":"auth0|a\"b\\c"}"#
        );
        assert_eq!(
            Notice::parse(&payload),
            Some(Notice {
                event: "placed",
                order: OrderId::parse("o-1").unwrap(),
                customer: CustomerId::parse("auth0|a\"b\\c").unwrap(),
            })
        );
    }

    #[test]
    fn the_longest_ids_stay_far_below_the_limit() {
        let customer = "\"".repeat(CustomerId::MAX_LEN);
        let order = "o".repeat(64);
        let payload = payload_of(&placed(&customer, &order));
        assert!(payload.len() < 1000, "{}", payload.len());
        assert!(payload.len() <= MAX_PAYLOAD);
        let notice = Notice::parse(&payload).unwrap();
        assert_eq!(notice.customer.as_str(), customer);
        assert_eq!(notice.order.as_str(), order);
    }

    #[test]
    fn payloads_pod_did_not_write_are_not_notices() {
        for payload in [
            "",
            "hello",
            "{}",
            "[]",
            r#"{"event":"placed","order":"o1"}"#,
            r#"{"event":"eaten","order":"o1","customer":"local|a"}"#,
            r#"{"event":"placed","order":"not an id","customer":"local|a"}"#,
            r#"{"event":"placed","order":"o1","customer":""}"#,
            r#"{"event":"placed","order":1,"customer":"local|a"}"#,
        ] {
            assert_eq!(Notice::parse(payload), None, "{payload}");
        }
    }
}
