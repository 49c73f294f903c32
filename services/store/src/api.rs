//! The store owner's gRPC API. Each command changes the ticket and records its event in one
//! transaction.

use fd_chassis::errors::{internal, invalid_argument, Violation};
use fd_chassis::outbox::{self, OutboxSignal};
use fd_chassis::time::{now_ms, timestamp};
use fd_proto::common::v1::Money;
use fd_proto::store::v1 as pb;
use sqlx::{AnyConnection, AnyPool};
use tonic::{Request, Response, Status};

use crate::db::{self, Ticket};
use crate::domain::{self, NotAllowed, TicketState};

/// The StoreService implementation.
#[derive(Debug, Clone)]
pub struct StoreApi {
    pool: AnyPool,
    outbox: OutboxSignal,
}

impl StoreApi {
    /// An API over `pool`.
    pub fn new(pool: AnyPool, outbox: OutboxSignal) -> Self {
        Self { pool, outbox }
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
        state: pb::TicketState::from_str_name(&format!("TICKET_STATE_{}", t.state.as_str()))
            .unwrap_or_default()
            .into(),
        reject_reason: t.reject_reason.clone(),
        create_time: Some(timestamp(t.created_at_ms)),
        update_time: Some(timestamp(t.updated_at_ms)),
    }
}

fn require_id(value: &str, field: &str, errors: &mut Vec<Violation>) {
    fd_chassis::errors::require_text(value, field, 64, errors);
}

/// INVALID_ARGUMENT unless `order_id` is a plausible id (commands that take only that).
fn valid_order_id(order_id: &str) -> Result<(), Status> {
    let mut bad = Vec::new();
    require_id(order_id, "order_id", &mut bad);
    if bad.is_empty() {
        Ok(())
    } else {
        Err(invalid_argument(&bad))
    }
}

/// Why a command failed.
enum CommandError {
    NotFound(String),
    NotAllowed(NotAllowed),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for CommandError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}

impl From<CommandError> for Status {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::NotFound(id) => Status::not_found(format!("no ticket for order {id}")),
            CommandError::NotAllowed(n) => Status::failed_precondition(n.to_string()),
            CommandError::Db(e) => internal("store storage failed", &e),
        }
    }
}

/// What a command does: the transition, and the event to publish when it happens.
type Decide = fn(TicketState) -> Result<Option<TicketState>, NotAllowed>;

impl StoreApi {
    async fn command<E: fd_proto::Event>(
        &self,
        order_id: &str,
        reason: &str,
        decide: Decide,
        event: impl FnOnce(&Ticket) -> E,
    ) -> Result<Ticket, CommandError> {
        let mut tx = fd_chassis::db::begin(&self.pool).await?;
        let conn: &mut AnyConnection = &mut tx;
        let t = db::get(&mut *conn, order_id)
            .await?
            .filter(|t| !t.store_id.is_empty()) // a tombstone is not a ticket the owner saw
            .ok_or_else(|| CommandError::NotFound(order_id.to_string()))?;
        let Some(to) = decide(t.state).map_err(CommandError::NotAllowed)? else {
            return Ok(t); // already done: idempotent
        };
        if !db::transition(&mut *conn, order_id, t.state, to, reason, now_ms()).await? {
            return Err(CommandError::Db(sqlx::Error::Protocol(
                "ticket changed concurrently; retry".into(),
            )));
        }
        let changed = db::get(&mut *conn, order_id)
            .await?
            .ok_or_else(|| CommandError::NotFound(order_id.to_string()))?;
        // The owner's command has a trace of its own; the event continues the order's trace
        // (the saga) and the command's span links to it, so both are found from either side.
        link_to_saga(&t.trace_context);
        outbox::record_with_context(conn, &event(&changed), &t.trace_context)
            .await
            .map_err(|e| CommandError::Db(sqlx::Error::Protocol(e.to_string())))?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(order_id, state = changed.state.as_str(), "ticket changed");
        Ok(changed)
    }
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

/// Event metadata; the ticket's position in its life is its aggregate version.
fn meta(t: &Ticket) -> Option<fd_proto::common::v1::EventMetadata> {
    let version = match t.state {
        TicketState::New => 1,
        TicketState::Accepted | TicketState::Rejected => 2,
        TicketState::CookingFinished => 3,
        TicketState::Voided => 4,
    };
    Some(outbox::metadata(&t.order_id, version))
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
        let state = match r.state() {
            pb::TicketState::Unspecified => None,
            s => TicketState::parse(s.as_str_name().trim_start_matches("TICKET_STATE_")),
        };
        let page = fd_chassis::page::parse(r.page_size, &r.page_token, &mut bad);
        if !bad.is_empty() {
            return Err(invalid_argument(&bad));
        }
        let (tickets, next_page_token) = db::list(&self.pool, &r.store_id, state, &page)
            .await
            .map_err(|e| internal("listing tickets failed", &e))?;
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
            .command(&r.order_id, "", domain::accept, |t| pb::OrderAccepted {
                metadata: meta(t),
                order_id: t.order_id.clone(),
                store_id: t.store_id.clone(),
                customer_id: t.customer_id.clone(),
            })
            .await?;
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
        fd_chassis::errors::require_text(&r.reason, "reason", 500, &mut bad);
        if !bad.is_empty() {
            return Err(invalid_argument(&bad));
        }
        let t = self
            .command(&r.order_id, &r.reason, domain::reject, |t| {
                pb::OrderRejected {
                    metadata: meta(t),
                    order_id: t.order_id.clone(),
                    store_id: t.store_id.clone(),
                    reason: t.reject_reason.clone(),
                    customer_id: t.customer_id.clone(),
                }
            })
            .await?;
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
            .command(&r.order_id, "", domain::finish, |t| pb::CookingFinished {
                metadata: meta(t),
                order_id: t.order_id.clone(),
                store_id: t.store_id.clone(),
                customer_id: t.customer_id.clone(),
            })
            .await?;
        Ok(Response::new(pb::FinishCookingResponse {
            order: Some(to_proto(&t)),
        }))
    }
}
