//! The store owner's gRPC API: requests are validated here, the ticket decides in
//! [`crate::domain`], and each command is one unit of work (`Db::change`) that records its
//! event. Proto types stop in this file.

use fd_chassis::db::Db;
use fd_chassis::errors::{check, require_text, AppError, Violation};
use fd_chassis::outbox;
use fd_chassis::time::{now_ms, timestamp};
use fd_proto::common::v1::Money;
use fd_proto::store::v1 as pb;
use tonic::{Request, Response, Status};

use crate::db;
use crate::domain::{Ticket, TicketState};

/// The StoreService implementation.
#[derive(Debug, Clone)]
pub struct StoreApi {
    db: Db,
}

impl StoreApi {
    /// An API over `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

impl From<TicketState> for pb::TicketState {
    fn from(s: TicketState) -> Self {
        match s {
            TicketState::New => Self::New,
            TicketState::Accepted => Self::Accepted,
            TicketState::Rejected => Self::Rejected,
            TicketState::CookingFinished => Self::CookingFinished,
            TicketState::Voided => Self::Voided,
        }
    }
}

/// The state a list is filtered by (`None`: every state).
fn state_filter(s: pb::TicketState) -> Option<TicketState> {
    match s {
        pb::TicketState::Unspecified => None,
        pb::TicketState::New => Some(TicketState::New),
        pb::TicketState::Accepted => Some(TicketState::Accepted),
        pb::TicketState::Rejected => Some(TicketState::Rejected),
        pb::TicketState::CookingFinished => Some(TicketState::CookingFinished),
        pb::TicketState::Voided => Some(TicketState::Voided),
    }
}

fn to_proto(t: &Ticket) -> pb::StoreOrder {
    pb::StoreOrder {
        order_id: t.order_id.clone(),
        store_id: t.store_id.clone(),
        items: t
            .items
            .iter()
            .map(|i| pb::TicketItem {
                menu_item_id: i.menu_item_id.clone(),
                name: i.name.clone(),
                quantity: i.quantity,
            })
            .collect(),
        total: Some(Money {
            amount_minor: t.total_minor,
            currency_code: t.currency_code.clone(),
        }),
        state: pb::TicketState::from(t.state).into(),
        reject_reason: t.reject_reason.clone(),
        create_time: Some(timestamp(t.created_at_ms)),
        update_time: Some(timestamp(t.updated_at_ms)),
    }
}

fn require_id(value: &str, field: &str, errors: &mut Vec<Violation>) {
    require_text(value, field, 64, errors);
}

/// INVALID_ARGUMENT unless `order_id` is a plausible id (commands that take only that).
fn valid_order_id(order_id: &str) -> Result<(), AppError> {
    let mut bad = Vec::new();
    require_id(order_id, "order_id", &mut bad);
    check(bad)
}

/// Event metadata; the ticket's position in its life is its aggregate version.
fn meta(t: &Ticket) -> Option<fd_proto::common::v1::EventMetadata> {
    Some(outbox::metadata(&t.order_id, t.version()))
}

#[tonic::async_trait]
impl pb::store_service_server::StoreService for StoreApi {
    async fn list_store_orders(
        &self,
        req: Request<pb::ListStoreOrdersRequest>,
    ) -> Result<Response<pb::ListStoreOrdersResponse>, Status> {
        let r = req.into_inner();
        let mut bad = Vec::new();
        require_id(&r.store_id, "store_id", &mut bad);
        let state = state_filter(r.state());
        let page = fd_chassis::page::parse(r.page_size, &r.page_token, &mut bad);
        check(bad)?;
        let (tickets, next_page_token) = db::list(&self.db.pool, &r.store_id, state, &page)
            .await
            .map_err(AppError::from)?;
        Ok(Response::new(pb::ListStoreOrdersResponse {
            orders: tickets.iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    async fn accept_order(
        &self,
        req: Request<pb::AcceptOrderRequest>,
    ) -> Result<Response<pb::AcceptOrderResponse>, Status> {
        let r = req.into_inner();
        valid_order_id(&r.order_id)?;
        let t = self
            .db
            .change(
                r.order_id.as_str(),
                |t: &Ticket| t.accept(now_ms()),
                |t| pb::OrderAccepted {
                    metadata: meta(t),
                    order_id: t.order_id.clone(),
                    store_id: t.store_id.clone(),
                    customer_id: t.customer_id.clone(),
                },
            )
            .await?
            .state;
        Ok(Response::new(pb::AcceptOrderResponse {
            order: Some(to_proto(&t)),
        }))
    }

    async fn reject_order(
        &self,
        req: Request<pb::RejectOrderRequest>,
    ) -> Result<Response<pb::RejectOrderResponse>, Status> {
        let r = req.into_inner();
        let mut bad = Vec::new();
        require_id(&r.order_id, "order_id", &mut bad);
        // Required: the customer is told why.
        require_text(&r.reason, "reason", 500, &mut bad);
        check(bad)?;
        let t = self
            .db
            .change(
                r.order_id.as_str(),
                |t: &Ticket| t.reject(&r.reason, now_ms()),
                |t| pb::OrderRejected {
                    metadata: meta(t),
                    order_id: t.order_id.clone(),
                    store_id: t.store_id.clone(),
                    reason: t.reject_reason.clone(),
                    customer_id: t.customer_id.clone(),
                },
            )
            .await?
            .state;
        Ok(Response::new(pb::RejectOrderResponse {
            order: Some(to_proto(&t)),
        }))
    }

    async fn finish_cooking(
        &self,
        req: Request<pb::FinishCookingRequest>,
    ) -> Result<Response<pb::FinishCookingResponse>, Status> {
        let r = req.into_inner();
        valid_order_id(&r.order_id)?;
        let t = self
            .db
            .change(
                r.order_id.as_str(),
                |t: &Ticket| t.finish_cooking(now_ms()),
                |t| pb::CookingFinished {
                    metadata: meta(t),
                    order_id: t.order_id.clone(),
                    store_id: t.store_id.clone(),
                    customer_id: t.customer_id.clone(),
                },
            )
            .await?
            .state;
        Ok(Response::new(pb::FinishCookingResponse {
            order: Some(to_proto(&t)),
        }))
    }
}
