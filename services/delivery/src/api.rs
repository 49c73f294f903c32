//! The rider's gRPC API: requests are validated here, the delivery decides in
//! [`crate::domain`], and each command is one unit of work (`Db::change`) that records its
//! event. Proto types stop in this file.

use fd_chassis::auth::{caller, Caller, Role};
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

impl DeliveryApi {
    /// The delivery of `order_id` if the caller may see it: the order's customer, any rider
    /// while it waits for pickup (to choose one), the rider who holds it, or an operator. For
    /// anyone else it does not exist (NOT_FOUND): its id is an order id.
    async fn visible(&self, who: &Caller, order_id: &str) -> Result<Delivery, Status> {
        let d = self.delivery(order_id).await?;
        let sees = who.is(Role::Operator)
            || (who.is(Role::Customer) && d.customer_id == who.subject)
            || (who.is(Role::Rider)
                && (d.rider_id == who.subject || d.state == DeliveryState::WaitingForPickup));
        if sees {
            Ok(d)
        } else {
            Err(not_found(order_id))
        }
    }

    /// The delivery of `order_id` (tombstones are none), or NOT_FOUND.
    async fn delivery(&self, order_id: &str) -> Result<Delivery, Status> {
        db::by_order(&self.db.pool, order_id)
            .await
            .map_err(AppError::from)?
            .filter(|d| !d.is_tombstone())
            .ok_or_else(|| not_found(order_id))
    }
}

fn not_found(order_id: &str) -> Status {
    Status::not_found(format!("no delivery for order {order_id}"))
}

#[tonic::async_trait]
impl pb::delivery_service_server::DeliveryService for DeliveryApi {
    async fn get_delivery(
        &self,
        req: Request<pb::GetDeliveryRequest>,
    ) -> Result<Response<pb::GetDeliveryResponse>, Status> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let mut bad = Vec::new();
        check_id(&r.order_id, "order_id", &mut bad);
        check(bad)?;
        let d = self.visible(&who, &r.order_id).await?;
        Ok(Response::new(pb::GetDeliveryResponse {
            delivery: Some(to_proto(&d)),
        }))
    }

    async fn list_deliveries(
        &self,
        req: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let who = caller(&req)?;
        who.require(&[Role::Rider, Role::Operator], "listing deliveries")?;
        let r = req.into_inner();
        let mut bad = Vec::new();
        let state = match r.state() {
            pb::DeliveryState::Unspecified => None,
            pb::DeliveryState::WaitingForPickup => Some(DeliveryState::WaitingForPickup),
            pb::DeliveryState::InTransit => Some(DeliveryState::InTransit),
            pb::DeliveryState::Delivered => Some(DeliveryState::Delivered),
            pb::DeliveryState::Cancelled => Some(DeliveryState::Cancelled),
        };
        let page = fd_chassis::page::parse(r.page_size, &r.page_token, &mut bad);
        check(bad)?;
        // An operator sees every delivery; a rider the waiting ones and their own.
        let rider = (!who.is(Role::Operator)).then_some(who.subject.as_str());
        let (deliveries, next_page_token) = db::list(&self.db.pool, rider, state, &page)
            .await
            .map_err(AppError::from)?;
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: deliveries.iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    async fn pick_up(
        &self,
        req: Request<pb::PickUpRequest>,
    ) -> Result<Response<pb::PickUpResponse>, Status> {
        let who = caller(&req)?;
        who.require(&[Role::Rider], "picking up a delivery")?;
        let r = req.into_inner();
        let mut bad = Vec::new();
        check_id(&r.order_id, "order_id", &mut bad);
        check_id(&r.rider_id, "rider_id", &mut bad);
        check(bad)?;
        if r.rider_id != who.subject {
            return Err(Status::permission_denied(format!(
                "rider_id must be the caller ({}); nobody picks up for another rider",
                who.subject
            )));
        }
        // Riders saw it waiting: a lost race is told as such (FAILED_PRECONDITION naming the
        // rider who has it), not hidden.
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
        let who = caller(&req)?;
        who.require(&[Role::Rider], "completing a delivery")?;
        let r = req.into_inner();
        let mut bad = Vec::new();
        check_id(&r.order_id, "order_id", &mut bad);
        check(bad)?;
        let held = self.delivery(&r.order_id).await?;
        // Not picked up yet: the state machine says so (FAILED_PRECONDITION).
        if !held.rider_id.is_empty() && held.rider_id != who.subject {
            return Err(Status::permission_denied(format!(
                "only the rider who picked it up completes a delivery; {} does not hold it",
                who.subject
            )));
        }
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
