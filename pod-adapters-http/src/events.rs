//! Live order events inside one process, for the web app's Server-Sent Events.

use async_trait::async_trait;
use pod_domain::OrderEvent;
use pod_ports::OrderEvents;
use tokio::sync::broadcast;

/// What a subscriber of [`LiveEvents`] hears.
#[derive(Debug, Clone)]
pub enum Live {
    /// An order was placed, confirmed or cancelled.
    Event(OrderEvent),
    /// Events may have been missed (another server's events could not
    /// reach this one for a while): reload whatever is shown from the
    /// store.
    Resync,
    /// The server is shutting down: end every live stream, so that the
    /// graceful shutdown does not wait on streams that never end.
    Shutdown,
}

/// An [`OrderEvents`] adapter that fans events out to every subscriber in
/// this process. A slow subscriber that falls behind misses events and
/// catches up by reloading from the store, as every subscriber does on
/// [`LiveEvents::resync`].
#[derive(Debug, Clone)]
pub struct LiveEvents {
    sender: broadcast::Sender<Live>,
}

impl Default for LiveEvents {
    fn default() -> Self {
        Self::new(256)
    }
}

impl LiveEvents {
    /// A hub that buffers up to `capacity` events per subscriber.
    pub fn new(capacity: usize) -> Self {
        LiveEvents {
            sender: broadcast::channel(capacity.max(1)).0,
        }
    }

    /// A stream of every event (and resync) published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Live> {
        self.sender.subscribe()
    }

    /// Asks every subscriber to reload from the store: for when events may
    /// have been lost, such as while the PostgreSQL listener that brings
    /// other servers' events was reconnecting.
    pub fn resync(&self) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.sender.send(Live::Resync);
    }

    /// Ends every open live stream (the browser reconnects, to another
    /// server or to this one once it is back). For the graceful shutdown.
    pub fn shutdown(&self) {
        let _ = self.sender.send(Live::Shutdown);
    }
}

#[async_trait]
impl OrderEvents for LiveEvents {
    async fn publish(&self, event: OrderEvent) {
        let _ = self.sender.send(Live::Event(event));
    }
}
