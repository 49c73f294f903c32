//! The rider's gRPC API: requests are validated here, the delivery decides in
//! [`crate::domain`], and each command is one unit of work (`Db::change`) that records its
//! event. Proto types stop in this file.

use fd_chassis::db::Db;
use fd_chassis::errors::{check, require_text, AppError, Violation};
use fd_chassis::time::{now_ms, timestamp};
use fd_proto::delivery::v1 as pb;
use tonic::{Request, Response, Status};

use crate::db;
use crate::domain::{Delivery, DeliveryState};
use crate::events;

/// The DeliveryService implementation.
#[derive(Debug, Clone)]
pub struct DeliveryApi {
    db: Db,
}

impl DeliveryApi {
    /// An API over `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

impl From<DeliveryState> for pb::DeliveryState {
    fn from(s: DeliveryState) -> Self {
        match s {
            DeliveryState::WaitingForPickup => Self::WaitingForPickup,
            DeliveryState::InTransit => Self::InTransit,
            DeliveryState::Delivered => Self::Delivered,
            DeliveryState::Cancelled => Self::Cancelled,
        }
    }
}

fn to_proto(d: &Delivery) -> pb::Delivery {
    pb::Delivery {
        delivery_id: d.delivery_id.clone(),
        order_id: d.order_id.clone(),
        store_id: d.store_id.clone(),
        rider_id: d.rider_id.clone(),
        state: pb::DeliveryState::from(d.state).into(),
        create_time: Some(timestamp(d.created_at_ms)),
        update_time: Some(timestamp(d.updated_at_ms)),
    }
}

fn check_id(value: &str, field: &str, bad: &mut Vec<Violation>) {
    require_text(value, field, 64, bad);
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
        check(bad)?;
        let d = db::by_order(&self.db.pool, &r.order_id)
            .await
            .map_err(AppError::from)?
            .filter(|d| !d.is_tombstone())
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
        check(bad)?;
        let d = self
            .db
            .change(
                r.order_id.as_str(),
                |d| d.pick_up(&r.rider_id, now_ms()),
                events::started,
            )
            .await?
            .state;
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
        check(bad)?;
        let d = self
            .db
            .change(
                r.order_id.as_str(),
                |d| d.complete(now_ms()),
                events::delivered,
            )
            .await?
            .state;
        Ok(Response::new(pb::CompleteDeliveryResponse {
            delivery: Some(to_proto(&d)),
        }))
    }
}
