//! Sends stored notifications through the channel, retrying failures with backoff. A sent
//! notification and its NotificationSent event commit together. Replicas share the work: each
//! attempt first claims its notification for a lease, so no two replicas send the same one.

use std::sync::Arc;
use std::time::Duration;

use fd_chassis::db::Db;
use fd_chassis::errors::AppError;
use fd_chassis::outbox;
use fd_chassis::shutdown::Shutdown;
use fd_chassis::time::now_ms;
use fd_proto::notification::v1 as pb;
use tokio::sync::Notify;

use crate::channel::Channel;
use crate::db;
use crate::domain::{self, Notification};

/// The sender task.
#[derive(Debug, Clone)]
pub struct Sender {
    /// Database.
    pub db: Db,
    /// How to send.
    pub channel: Channel,
    /// Woken by the policy after it stored something.
    pub wake: Arc<Notify>,
    /// Attempts before a notification is given up (FAILED).
    pub max_attempts: i64,
    /// How long an attempt holds a notification against the other replicas: longer than a
    /// send can take (the channel's timeout).
    pub lease: Duration,
}

impl Sender {
    /// Sends what is due; returns how many were sent.
    pub async fn send_due(&self) -> Result<usize, AppError> {
        let mut sent = 0;
        let lease = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        for n in db::due(&self.db.pool, now_ms(), 64).await? {
            // Replicas share the table: only the one that claims it sends it.
            let now = now_ms();
            if !db::claim(
                &self.db.pool,
                &n.notification_id,
                now,
                now.saturating_add(lease),
            )
            .await?
            {
                continue;
            }
            match self.channel.send(&n).await {
                Ok(()) => {
                    self.mark_sent(&n).await?;
                    sent += 1;
                }
                Err(e) => {
                    let attempts = n.attempts + 1;
                    let next = domain::after_failure(attempts, self.max_attempts, now_ms());
                    match next {
                        Some(_) => {
                            tracing::warn!(notification_id = %n.notification_id, error = %e, attempts, "sending failed; will retry")
                        }
                        None => {
                            tracing::error!(notification_id = %n.notification_id, error = %e, attempts, "sending failed; giving up")
                        }
                    }
                    db::mark_failed(&self.db.pool, &n.notification_id, &e, next).await?;
                }
            }
        }
        Ok(sent)
    }

    async fn mark_sent(&self, n: &Notification) -> Result<(), AppError> {
        let mut work = self.db.begin().await?;
        if db::mark_sent(work.conn(), &n.notification_id, now_ms()).await? {
            let channel = crate::api::channel_to_proto(self.channel.kind());
            work.record(&pb::NotificationSent {
                metadata: Some(outbox::metadata(&n.notification_id, 1)),
                notification_id: n.notification_id.clone(),
                customer_id: n.customer_id.clone(),
                order_id: n.order_id.clone(),
                channel: channel.into(),
                source_event_type: n.source_event_type.clone(),
            })
            .await?;
        }
        work.commit().await
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
