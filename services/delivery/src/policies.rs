//! CookingFinished → a delivery waits for a rider; OrderCancelled → the delivery is cancelled
//! (DeliveryCancelled) unless it was delivered. The two come from different streams, so each
//! handles the other arriving first: a cancellation with no delivery yet leaves a CANCELLED
//! tombstone (no event: there was nothing to cancel) that a late CookingFinished leaves alone.

use fd_chassis::consumer::{ConsumerSpec, Incoming, Policy, PolicyError};
use fd_chassis::outbox;
use fd_chassis::time::now_ms;
use fd_proto::{order, store, Event};
use sqlx::AnyConnection;

use crate::db;
use crate::domain::{Delivery, DeliveryState};
use crate::events;

/// CookingFinished → a delivery.
#[derive(Debug, Clone, Copy)]
pub struct CreateOnCookingFinished;

/// OrderCancelled → cancel the delivery.
#[derive(Debug, Clone, Copy)]
pub struct CancelOnOrderCancelled;

impl CreateOnCookingFinished {
    /// Its consumer.
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new(
            crate::SERVICE.name,
            "create-on-cooking-finished",
            &[store::v1::CookingFinished::TYPE],
        )
    }
}

impl CancelOnOrderCancelled {
    /// Its consumer.
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new(
            crate::SERVICE.name,
            "cancel-on-order-cancelled",
            &[order::v1::OrderCancelled::TYPE],
        )
    }
}

fn new_delivery(
    order_id: String,
    store_id: String,
    customer_id: String,
    state: DeliveryState,
) -> Delivery {
    let now = now_ms();
    Delivery {
        delivery_id: uuid::Uuid::now_v7().to_string(),
        order_id,
        store_id,
        customer_id,
        rider_id: String::new(),
        state,
        created_at_ms: now,
        updated_at_ms: now,
        trace_context: fd_chassis::telemetry::current_context_json(),
    }
}

#[async_trait::async_trait]
impl Policy for CreateOnCookingFinished {
    async fn handle(&self, tx: &mut AnyConnection, msg: &Incoming) -> Result<(), PolicyError> {
        let e: store::v1::CookingFinished = msg.decode()?;
        if db::by_order(&mut *tx, &e.order_id).await?.is_none() {
            let d = new_delivery(
                e.order_id,
                e.store_id,
                e.customer_id,
                DeliveryState::WaitingForPickup,
            );
            db::insert(&mut *tx, &d).await?;
            tracing::info!(order_id = %d.order_id, "delivery waits for a rider");
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Policy for CancelOnOrderCancelled {
    async fn handle(&self, tx: &mut AnyConnection, msg: &Incoming) -> Result<(), PolicyError> {
        let e: order::v1::OrderCancelled = msg.decode()?;
        match db::by_order(&mut *tx, &e.order_id).await? {
            None => {
                let tombstone = new_delivery(
                    e.order_id,
                    String::new(),
                    e.customer_id,
                    DeliveryState::Cancelled,
                );
                db::insert(&mut *tx, &tombstone).await?;
            }
            Some(d) => {
                let Some(cancelled) = d.cancel(now_ms()) else {
                    return Ok(()); // delivered or already cancelled
                };
                if !db::transition(&mut *tx, &cancelled, d.state).await? {
                    return Err(PolicyError::Transient(
                        "delivery changed concurrently".into(),
                    ));
                }
                outbox::record(tx, &events::cancelled(&cancelled)).await?;
                tracing::info!(order_id = %d.order_id, "delivery cancelled");
            }
        }
        Ok(())
    }
}
