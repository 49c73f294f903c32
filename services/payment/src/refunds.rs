//! Refunds, shared by the Refund RPC and the saga policies (OrderCancelled, OrderRejected →
//! refund). The state change and PaymentRefunded commit together.

use fd_chassis::consumer::{ConsumerSpec, Incoming, Policy, PolicyError};
use fd_chassis::outbox;
use fd_chassis::time::now_ms;
use fd_proto::payment::v1 as pb;
use fd_proto::{order, store, Event};
use sqlx::AnyConnection;

use crate::db::{self, PaymentRow};
use crate::domain::{self, RefundError};

/// Why a refund did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RefundFailure {
    /// No payment for that order.
    #[error("no payment for order {0}")]
    NotFound(String),
    /// The payment was declined; nothing to give back.
    #[error("payment {0} was declined; there is nothing to refund")]
    Declined(String),
    /// Storage failed.
    #[error("payment storage failed: {0}")]
    Db(String),
}

fn db_err(e: impl std::fmt::Display) -> RefundFailure {
    RefundFailure::Db(e.to_string())
}

/// Refunds the payment of `order_id` on `tx` (idempotent) and returns it as it is afterwards.
/// Writes PaymentRefunded to the outbox when it changes the payment.
pub async fn refund(
    tx: &mut AnyConnection,
    order_id: &str,
    reason: &str,
) -> Result<PaymentRow, RefundFailure> {
    let p = db::by_order(&mut *tx, order_id)
        .await
        .map_err(db_err)?
        .ok_or_else(|| RefundFailure::NotFound(order_id.to_string()))?;
    match domain::refund(p.state) {
        Ok(false) => return Ok(p),
        Err(RefundError::Declined) => return Err(RefundFailure::Declined(p.payment_id)),
        Ok(true) => {}
    }
    if db::mark_refunded(&mut *tx, &p.payment_id, reason, now_ms())
        .await
        .map_err(db_err)?
    {
        let event = pb::PaymentRefunded {
            metadata: Some(outbox::metadata(&p.payment_id, 2)),
            payment_id: p.payment_id.clone(),
            order_id: p.order_id.clone(),
            amount: Some(p.amount.to_proto()),
            reason: reason.to_string(),
        };
        outbox::record(tx, &event).await.map_err(db_err)?;
        tracing::info!(payment_id = %p.payment_id, order_id, "payment refunded");
    }
    db::by_order(&mut *tx, order_id)
        .await
        .map_err(db_err)?
        .ok_or_else(|| RefundFailure::NotFound(order_id.to_string()))
}

/// The saga compensation: a cancelled or rejected order is refunded.
#[derive(Debug, Clone, Copy)]
pub struct RefundOnCancel;

impl RefundOnCancel {
    /// Its consumers: one per source stream.
    pub fn specs() -> Vec<ConsumerSpec> {
        vec![
            ConsumerSpec::new(
                "payment",
                "refund-on-cancelled",
                &[order::v1::OrderCancelled::TYPE],
            ),
            ConsumerSpec::new(
                "payment",
                "refund-on-rejected",
                &[store::v1::OrderRejected::TYPE],
            ),
        ]
    }
}

#[async_trait::async_trait]
impl Policy for RefundOnCancel {
    async fn handle(&self, tx: &mut AnyConnection, msg: &Incoming) -> Result<(), PolicyError> {
        let (order_id, reason) = match msg.subject.as_str() {
            order::v1::OrderCancelled::TYPE => {
                let e: order::v1::OrderCancelled = msg.decode()?;
                (e.order_id, format!("order cancelled: {}", e.reason))
            }
            store::v1::OrderRejected::TYPE => {
                let e: store::v1::OrderRejected = msg.decode()?;
                (e.order_id, format!("rejected by the store: {}", e.reason))
            }
            other => return Err(PolicyError::Permanent(format!("unexpected event {other}"))),
        };
        match refund(tx, &order_id, &reason).await {
            Ok(_) => Ok(()),
            // Nothing was ever charged: nothing to compensate.
            Err(RefundFailure::NotFound(_) | RefundFailure::Declined(_)) => Ok(()),
            Err(RefundFailure::Db(e)) => Err(PolicyError::Transient(e)),
        }
    }
}
