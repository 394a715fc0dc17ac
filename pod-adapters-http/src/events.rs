//! Live order events inside one process, for the web app's Server-Sent Events.

use async_trait::async_trait;
use pod_domain::OrderEvent;
use pod_ports::OrderEvents;
use tokio::sync::broadcast;

/// An [`OrderEvents`] adapter that fans events out to every subscriber in
/// this process. A slow subscriber that falls behind misses events and
/// catches up by reloading from the store.
#[derive(Debug, Clone)]
pub struct LiveEvents {
    sender: broadcast::Sender<OrderEvent>,
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

    /// A stream of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<OrderEvent> {
        self.sender.subscribe()
    }
}

#[async_trait]
impl OrderEvents for LiveEvents {
    async fn publish(&self, event: OrderEvent) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.sender.send(event);
    }
}
