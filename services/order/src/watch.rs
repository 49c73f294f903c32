//! Change notifications for WatchOrder: every write to an order announces its id here, and
//! each watcher re-reads the order it follows when its id goes by.

use tokio::sync::broadcast;

/// A fan-out of changed order ids, shared by the API and (later) the event projections.
#[derive(Debug, Clone)]
pub struct Changes {
    tx: broadcast::Sender<String>,
}

impl Default for Changes {
    fn default() -> Self {
        Self::new()
    }
}

impl Changes {
    /// A hub with room for 1024 unread ids per watcher (a slower watcher re-reads its order).
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(1024).0,
        }
    }

    /// Announces that `order_id` changed.
    pub fn changed(&self, order_id: &str) {
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(order_id.to_string());
    }

    /// Starts listening; subscribe before reading the current state so nothing is missed.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.tx.subscribe()
    }
}
