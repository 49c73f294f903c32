//! The rider's gRPC API. Each command changes the delivery and records its event in one
//! transaction.

use fd_chassis::errors::{internal, invalid_argument, Violation};
use fd_chassis::outbox::{self, OutboxSignal};
use fd_chassis::time::{now_ms, timestamp};
use fd_proto::delivery::v1 as pb;
use sqlx::AnyPool;
use tonic::{Request, Response, Status};

use crate::db::{self, Delivery};
use crate::domain::{self, DeliveryState};
use crate::events;

/// The DeliveryService implementation.
#[derive(Debug, Clone)]
pub struct DeliveryApi {
    pool: AnyPool,
    outbox: OutboxSignal,
}

impl DeliveryApi {
    /// An API over `pool`.
    pub fn new(pool: AnyPool, outbox: OutboxSignal) -> Self {
        Self { pool, outbox }
    }
}

fn to_proto(d: &Delivery) -> pb::Delivery {
    pb::Delivery {
        delivery_id: d.delivery_id.clone(),
        order_id: d.order_id.clone(),
        store_id: d.store_id.clone(),
        rider_id: d.rider_id.clone(),
        state: pb::DeliveryState::from_str_name(&format!("DELIVERY_STATE_{}", d.state.as_str()))
            .unwrap_or_default()
            .into(),
        create_time: Some(timestamp(d.created_at_ms)),
        update_time: Some(timestamp(d.updated_at_ms)),
    }
}

fn check_id(value: &str, field: &str, bad: &mut Vec<Violation>) {
    fd_chassis::errors::require_text(value, field, 64, bad);
}

/// Links the current span to the saga whose trace context is `json`.
fn link_to_saga(json: &str) {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if json.is_empty() {
        return;
    }
    let cx = fd_chassis::telemetry::context_from_json(json);
    tracing::Span::current().add_link(cx.span().span_context().clone());
}

fn storage(e: impl std::fmt::Display) -> Status {
    internal("delivery storage failed", &e)
}

impl DeliveryApi {
    /// Loads, decides with `decide` (true = change), writes and records the event.
    async fn command<E: fd_proto::Event>(
        &self,
        order_id: &str,
        decide: impl FnOnce(&mut Delivery) -> Result<bool, domain::NotAllowed>,
        event: fn(&Delivery) -> E,
    ) -> Result<Delivery, Status> {
        let mut tx = fd_chassis::db::begin(&self.pool).await.map_err(storage)?;
        let mut d = db::by_order(&mut *tx, order_id)
            .await
            .map_err(storage)?
            .filter(|d| !d.store_id.is_empty()) // a tombstone is no delivery
            .ok_or_else(|| Status::not_found(format!("no delivery for order {order_id}")))?;
        let from = d.state;
        if !decide(&mut d).map_err(|e| Status::failed_precondition(e.0))? {
            return Ok(d);
        }
        d.updated_at_ms = now_ms();
        if !db::transition(&mut *tx, &d, from).await.map_err(storage)? {
            return Err(Status::aborted("the delivery changed concurrently; retry"));
        }
        // The rider's command has a trace of its own; the event continues the order's trace
        // (the saga) and the command's span links to it.
        link_to_saga(&d.trace_context);
        outbox::record_with_context(&mut tx, &event(&d), &d.trace_context)
            .await
            .map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        self.outbox.wake();
        tracing::info!(order_id, state = d.state.as_str(), "delivery changed");
        Ok(d)
    }
}

#[tonic::async_trait]
impl pb::delivery_service_server::DeliveryService for DeliveryApi {
    async fn get_delivery(
        &self,
        req: Request<pb::GetDeliveryRequest>,
    ) -> Result<Response<pb::GetDeliveryResponse>, Status> {
        let r = req.into_inner();
        let mut bad = Vec::new();
        check_id(&r.order_id, "order_id", &mut bad);
        if !bad.is_empty() {
            return Err(invalid_argument(&bad));
        }
        let d = db::by_order(&self.pool, &r.order_id)
            .await
            .map_err(storage)?
            .filter(|d| !d.store_id.is_empty())
            .ok_or_else(|| Status::not_found(format!("no delivery for order {}", r.order_id)))?;
        Ok(Response::new(pb::GetDeliveryResponse {
            delivery: Some(to_proto(&d)),
        }))
    }

    async fn pick_up(
        &self,
        req: Request<pb::PickUpRequest>,
    ) -> Result<Response<pb::PickUpResponse>, Status> {
        let r = req.into_inner();
        let mut bad = Vec::new();
        check_id(&r.order_id, "order_id", &mut bad);
        check_id(&r.rider_id, "rider_id", &mut bad);
        if !bad.is_empty() {
            return Err(invalid_argument(&bad));
        }
        let rider = r.rider_id.clone();
        let d = self
            .command(
                &r.order_id,
                |d| {
                    let change = domain::pick_up(d.state, &d.rider_id, &rider)?;
                    if change {
                        d.state = DeliveryState::InTransit;
                        d.rider_id = rider;
                    }
                    Ok(change)
                },
                events::started,
            )
            .await?;
        Ok(Response::new(pb::PickUpResponse {
            delivery: Some(to_proto(&d)),
        }))
    }

    async fn complete_delivery(
        &self,
        req: Request<pb::CompleteDeliveryRequest>,
    ) -> Result<Response<pb::CompleteDeliveryResponse>, Status> {
        let r = req.into_inner();
        let mut bad = Vec::new();
        check_id(&r.order_id, "order_id", &mut bad);
        if !bad.is_empty() {
            return Err(invalid_argument(&bad));
        }
        let d = self
            .command(
                &r.order_id,
                |d| {
                    let change = domain::complete(d.state)?;
                    if change {
                        d.state = DeliveryState::Delivered;
                    }
                    Ok(change)
                },
                events::delivered,
            )
            .await?;
        Ok(Response::new(pb::CompleteDeliveryResponse {
            delivery: Some(to_proto(&d)),
        }))
    }
}
