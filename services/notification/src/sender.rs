//! Sends stored notifications through the channel, retrying failures with backoff. A sent
//! notification and its NotificationSent event commit together.

use std::sync::Arc;
use std::time::Duration;

use fd_chassis::outbox::{self, OutboxSignal};
use fd_chassis::shutdown::Shutdown;
use fd_chassis::time::now_ms;
use fd_proto::notification::v1 as pb;
use sqlx::AnyPool;
use tokio::sync::Notify;

use crate::channel::Channel;
use crate::db::{self, Notification};
use crate::domain;

/// The sender task.
#[derive(Debug, Clone)]
pub struct Sender {
    /// Database.
    pub pool: AnyPool,
    /// How to send.
    pub channel: Channel,
    /// Woken by the policy after it stored something.
    pub wake: Arc<Notify>,
    /// Wakes the relay after NotificationSent is recorded.
    pub outbox: OutboxSignal,
}

impl Sender {
    /// Sends what is due; returns how many were sent.
    pub async fn send_due(&self) -> Result<usize, sqlx::Error> {
        let mut sent = 0;
        for n in db::due(&self.pool, now_ms(), 64).await? {
            match self.channel.send(&n).await {
                Ok(()) => {
                    self.mark_sent(&n).await?;
                    sent += 1;
                }
                Err(e) => {
                    let next = now_ms() + domain::backoff_ms(n.attempts + 1);
                    tracing::warn!(notification_id = %n.notification_id, error = %e, attempts = n.attempts + 1, "sending failed; will retry");
                    db::mark_failed(&self.pool, &n.notification_id, &e, next).await?;
                }
            }
        }
        Ok(sent)
    }

    async fn mark_sent(&self, n: &Notification) -> Result<(), sqlx::Error> {
        let mut tx = fd_chassis::db::begin(&self.pool).await?;
        if db::mark_sent(&mut *tx, &n.notification_id, now_ms()).await? {
            let channel = match self.channel {
                Channel::Log => pb::Channel::Log,
                Channel::Webhook { .. } => pb::Channel::Webhook,
            };
            let event = pb::NotificationSent {
                metadata: Some(outbox::metadata(&n.notification_id, 1)),
                notification_id: n.notification_id.clone(),
                customer_id: n.customer_id.clone(),
                order_id: n.order_id.clone(),
                channel: channel.into(),
                source_event_type: n.source_event_type.clone(),
            };
            outbox::record(&mut tx, &event)
                .await
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        }
        tx.commit().await?;
        self.outbox.wake();
        Ok(())
    }

    /// Runs until shutdown.
    pub async fn run(self, shutdown: Shutdown) {
        loop {
            if let Err(e) = self.send_due().await {
                tracing::warn!(error = %e, "notification sender failed; retrying");
            }
            tokio::select! {
                () = self.wake.notified() => {}
                // Retries fall due on their own schedule.
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                () = shutdown.wait() => break,
            }
        }
        tracing::info!("notification sender stopped");
    }
}
