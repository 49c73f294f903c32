//! Every customer-visible status event → exactly one stored notification (unique per source
//! event), sent afterwards by the [`crate::sender`].

use fd_chassis::consumer::{ConsumerSpec, Incoming, Policy, PolicyError};
use fd_chassis::time::now_ms;
use fd_proto::{delivery, order, store, Event};
use sqlx::AnyConnection;
use tokio::sync::Notify;

use crate::db;
use crate::domain::{self, ChannelKind, Notification, SendStatus, Visible};

/// The notify policy.
#[derive(Debug, Clone)]
pub struct NotifyCustomer {
    /// Stored with each notification.
    pub channel: ChannelKind,
    /// Wakes the sender after a commit.
    pub wake: std::sync::Arc<Notify>,
}

impl NotifyCustomer {
    /// Its consumers: one per source stream.
    pub fn specs() -> Vec<ConsumerSpec> {
        vec![
            ConsumerSpec::new(
                crate::SERVICE.name,
                "notify-order",
                &[
                    order::v1::OrderPlaced::TYPE,
                    order::v1::OrderCancelled::TYPE,
                ],
            ),
            ConsumerSpec::new(
                crate::SERVICE.name,
                "notify-store",
                &[
                    store::v1::OrderAccepted::TYPE,
                    store::v1::CookingFinished::TYPE,
                ],
            ),
            ConsumerSpec::new(
                crate::SERVICE.name,
                "notify-delivery",
                &[
                    delivery::v1::DeliveryStarted::TYPE,
                    delivery::v1::Delivered::TYPE,
                ],
            ),
        ]
    }
}

/// (change, customer, order, reason) of a visible event.
fn addressee(msg: &Incoming) -> Result<(Visible, String, String, String), PolicyError> {
    macro_rules! who {
        ($change:ident, $ty:ty) => {{
            let e: $ty = msg.decode()?;
            (Visible::$change, e.customer_id, e.order_id, String::new())
        }};
    }
    Ok(match msg.subject.as_str() {
        order::v1::OrderPlaced::TYPE => who!(OrderPlaced, order::v1::OrderPlaced),
        order::v1::OrderCancelled::TYPE => {
            let e: order::v1::OrderCancelled = msg.decode()?;
            (Visible::OrderCancelled, e.customer_id, e.order_id, e.reason)
        }
        store::v1::OrderAccepted::TYPE => who!(OrderAccepted, store::v1::OrderAccepted),
        store::v1::CookingFinished::TYPE => who!(CookingFinished, store::v1::CookingFinished),
        delivery::v1::DeliveryStarted::TYPE => {
            who!(DeliveryStarted, delivery::v1::DeliveryStarted)
        }
        delivery::v1::Delivered::TYPE => who!(Delivered, delivery::v1::Delivered),
        other => return Err(PolicyError::Permanent(format!("unexpected event {other}"))),
    })
}

impl NotifyCustomer {
    /// The notification an event asks for (PERMANENT if it names no customer).
    fn notification_for(&self, msg: &Incoming) -> Result<Notification, PolicyError> {
        let (change, customer_id, order_id, reason) = addressee(msg)?;
        if customer_id.is_empty() {
            return Err(PolicyError::Permanent(format!(
                "{} has no customer_id",
                msg.subject
            )));
        }
        let now = now_ms();
        Ok(Notification {
            notification_id: uuid::Uuid::now_v7().to_string(),
            message: domain::message(change, &order_id, &reason),
            customer_id,
            order_id,
            source_event_type: msg.subject.clone(),
            source_event_id: msg.event_id.clone(),
            channel: self.channel,
            status: SendStatus::Pending,
            attempts: 0,
            next_attempt_at_ms: now,
            last_error: String::new(),
            created_at_ms: now,
            sent_at_ms: 0,
        })
    }
}

#[async_trait::async_trait]
impl Policy for NotifyCustomer {
    async fn handle(&self, tx: &mut AnyConnection, msg: &Incoming) -> Result<(), PolicyError> {
        db::insert_once(tx, &[self.notification_for(msg)?]).await?;
        Ok(())
    }

    /// Every event is one notification of its own: a batch is one insert.
    async fn handle_batch(
        &self,
        tx: &mut AnyConnection,
        msgs: &[&Incoming],
        _spans: &[tracing::Span],
    ) -> Result<(), PolicyError> {
        let all = msgs
            .iter()
            .map(|m| self.notification_for(m))
            .collect::<Result<Vec<_>, _>>()?;
        db::insert_once(tx, &all).await?;
        Ok(())
    }

    fn after_commit(&self, _msg: &Incoming) {
        self.wake.notify_one();
    }
}
