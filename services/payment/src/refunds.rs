//! Refunds, shared by the Refund RPC and the saga policies (OrderCancelled, OrderRejected →
//! refund). The state change and PaymentRefunded commit together.

use fd_chassis::consumer::{ConsumerSpec, Incoming, Policy, PolicyError};
use fd_chassis::outbox;
use fd_chassis::time::now_ms;
use fd_proto::payment::v1 as pb;
use fd_proto::{order, store, Event};
use sqlx::AnyConnection;

use fd_chassis::errors::AppError;

use crate::db;
use crate::domain::Payment;
use crate::domain::{self, RefundError};

/// Refunds the payment of `order_id` on `conn` (inside the caller's unit of work;
/// idempotent). Returns the payment as it is afterwards, and the PaymentRefunded event to
/// record when this call changed it. NOT_FOUND without a payment; FAILED_PRECONDITION for a
/// declined one (nothing was charged).
pub async fn refund(
    conn: &mut AnyConnection,
    order_id: &str,
    reason: &str,
) -> Result<(Payment, Option<pb::PaymentRefunded>), AppError> {
    let not_found = || AppError::NotFound(format!("no payment for order {order_id}"));
    let p = db::by_order(&mut *conn, order_id)
        .await
        .map_err(storage)?
        .ok_or_else(not_found)?;
    match domain::refund(p.state) {
        Ok(false) => return Ok((p, None)),
        Err(RefundError::Declined) => {
            return Err(AppError::NotAllowed(format!(
                "payment {} was declined; there is nothing to refund",
                p.payment_id
            )))
        }
        Ok(true) => {}
    }
    let changed = db::mark_refunded(&mut *conn, &p.payment_id, reason, now_ms()).await?;
    let event = changed.then(|| pb::PaymentRefunded {
        metadata: Some(outbox::metadata(&p.payment_id, 2)),
        payment_id: p.payment_id.clone(),
        order_id: p.order_id.clone(),
        amount: Some(p.amount.to_proto()),
        reason: reason.to_string(),
    });
    if changed {
        tracing::info!(payment_id = %p.payment_id, order_id, "payment refunded");
    }
    let now = db::by_order(&mut *conn, order_id)
        .await
        .map_err(storage)?
        .ok_or_else(not_found)?;
    Ok((now, event))
}

fn storage(e: db::DbError) -> AppError {
    match e {
        db::DbError::Sqlx(e) => AppError::Storage(e),
        corrupt => AppError::Storage(sqlx::Error::Decode(corrupt.into())),
    }
}

/// The saga compensation: a cancelled or rejected order is refunded.
#[derive(Debug, Clone, Copy)]
pub struct RefundOnCancel;

impl RefundOnCancel {
    /// Its consumers: one per source stream.
    pub fn specs() -> Vec<ConsumerSpec> {
        vec![
            ConsumerSpec::new(
                crate::SERVICE.name,
                "refund-on-cancelled",
                &[order::v1::OrderCancelled::TYPE],
            ),
            ConsumerSpec::new(
                crate::SERVICE.name,
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
            Ok((_, Some(event))) => Ok(outbox::record(tx, &event).await?),
            Ok((_, None)) => Ok(()),
            // Nothing was ever charged: nothing to compensate.
            Err(AppError::NotFound(_) | AppError::NotAllowed(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
