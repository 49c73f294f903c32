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
use crate::domain::{self, ChannelKind, Notification};

/// Most notifications one `send_due` attempts.
const ROUND: usize = 64;

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
    /// Sends what is due; returns how many were sent. The due notifications are claimed in
    /// one statement (claim and read together) and the sent ones marked, with their
    /// NotificationSent events, in one transaction (a sent notification and its event still
    /// commit together).
    pub async fn send_due(&self) -> Result<usize, AppError> {
        let lease = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        // The lease covers one webhook call: a webhook sender claims one notification at a
        // time, while writing to the log takes no time, so it claims many at once.
        let batch: i64 = match self.channel.kind() {
            ChannelKind::Log => 64,
            ChannelKind::Webhook => 1,
        };
        let (mut attempted, mut sent_total) = (0, 0);
        while attempted < ROUND {
            let now = now_ms();
            let claimed =
                db::claim_due(&self.db.pool, now, now.saturating_add(lease), batch).await?;
            if claimed.is_empty() {
                break;
            }
            attempted += claimed.len();
            // Fewer than a batch: nothing else was due. What falls due meanwhile wakes the
            // sender again (the policy's wake-up is kept until the sender waits), so there is no
            // claim to make that would find nothing.
            let last = i64::try_from(claimed.len()).unwrap_or(i64::MAX) < batch;
            let mut sent = Vec::with_capacity(claimed.len());
            for n in claimed {
                match self.channel.send(&n).await {
                    Ok(()) => sent.push(n),
                    Err(e) => self.failed(&n, &e).await?,
                }
            }
            if !sent.is_empty() {
                self.mark_sent(&sent).await?;
                sent_total += sent.len();
            }
            if last {
                break;
            }
        }
        Ok(sent_total)
    }

    /// Records a failed attempt: due again later, or given up.
    async fn failed(&self, n: &Notification, e: &str) -> Result<(), AppError> {
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
        db::mark_failed(&self.db.pool, &n.notification_id, e, next).await?;
        Ok(())
    }

    async fn mark_sent(&self, sent: &[Notification]) -> Result<(), AppError> {
        let mut work = self.db.begin().await?;
        let channel = crate::api::channel_to_proto(self.channel.kind());
        let ids: Vec<&str> = sent.iter().map(|n| n.notification_id.as_str()).collect();
        let marked = db::mark_sent(work.conn(), &ids, now_ms()).await?;
        let events = sent
            .iter()
            .filter(|n| marked.contains(&n.notification_id))
            .map(|n| {
                outbox::Outgoing::new(
                    &pb::NotificationSent {
                        metadata: Some(outbox::metadata(&n.notification_id, 1)),
                        notification_id: n.notification_id.clone(),
                        customer_id: n.customer_id.clone(),
                        order_id: n.order_id.clone(),
                        channel: channel.into(),
                        source_event_type: n.source_event_type.clone(),
                    },
                    "",
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        work.record_all(&events).await?;
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
