//! The gRPC adapter of the payment context: prost types stop here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fd_chassis::auth::{caller, Role};
use fd_chassis::db::Db;
use fd_chassis::errors::{check, internal, invalid_argument, AppError, Violation};
use fd_chassis::money::Money;
use fd_chassis::outbox::Outgoing;
use fd_chassis::time::{now_ms, timestamp};
use fd_proto::payment::v1 as pb;
use tonic::{Request, Response, Status};

use crate::authorizations::{self, NewAuthorization, Stored, Writer};
use crate::db;
use crate::domain::{self, Authorize, Decision, DeclineRule, Payment, PaymentState};
use crate::refunds;

/// Artificial latency and failures for drills (never set in production).
#[derive(Debug, Clone, Copy, Default)]
pub struct Drill {
    /// Added before every Authorize.
    pub latency: Duration,
    /// Fraction of Authorize calls, 0.0 to 1.0, answered UNAVAILABLE, spread evenly and
    /// deterministically (0.25 fails every 4th call).
    pub failure_rate: f64,
}

/// The PaymentService implementation.
#[derive(Debug, Clone)]
pub struct PaymentApi {
    db: Db,
    writer: Writer,
    rule: DeclineRule,
    drill: Drill,
    calls: Arc<AtomicU64>,
}

impl PaymentApi {
    /// An API over `db`.
    pub fn new(db: Db, rule: DeclineRule, drill: Drill) -> Self {
        Self {
            writer: authorizations::writer(db.clone()),
            db,
            rule,
            drill,
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    async fn apply_drill(&self) -> Result<(), Status> {
        if !self.drill.latency.is_zero() {
            tokio::time::sleep(self.drill.latency).await;
        }
        let n = self.calls.fetch_add(1, Ordering::Relaxed) as f64;
        let rate = self.drill.failure_rate;
        if ((n + 1.0) * rate).floor() > (n * rate).floor() {
            return Err(Status::unavailable("drill: injected payment failure"));
        }
        Ok(())
    }
}

fn state_to_proto(s: PaymentState) -> pb::PaymentState {
    match s {
        PaymentState::Authorized => pb::PaymentState::Authorized,
        PaymentState::Declined => pb::PaymentState::Declined,
        PaymentState::Refunded => pb::PaymentState::Refunded,
    }
}

fn to_proto(p: &Payment) -> pb::Payment {
    pb::Payment {
        payment_id: p.payment_id.clone(),
        order_id: p.order_id.clone(),
        customer_id: p.customer_id.clone(),
        amount: Some(p.amount.to_proto()),
        state: state_to_proto(p.state).into(),
        decline_reason: p.decline_reason.clone(),
        refund_reason: p.refund_reason.clone(),
        create_time: Some(timestamp(p.created_at_ms)),
        update_time: Some(timestamp(p.updated_at_ms)),
    }
}

fn db_error(e: impl std::fmt::Display) -> Status {
    internal("payment storage failed", &e)
}

/// An existing payment answers a repeated Authorize only if it is the same request.
fn replay(existing: Payment, cmd: &Authorize) -> Result<Response<pb::AuthorizeResponse>, Status> {
    if existing.customer_id != cmd.customer_id || existing.amount != cmd.amount {
        return Err(Status::already_exists(format!(
            "order {} was already authorized for {} (customer {}); a different amount or \
             customer needs a new order",
            existing.order_id, existing.amount, existing.customer_id
        )));
    }
    Ok(Response::new(pb::AuthorizeResponse {
        payment: Some(to_proto(&existing)),
    }))
}

#[tonic::async_trait]
impl pb::payment_service_server::PaymentService for PaymentApi {
    #[tracing::instrument(skip_all, fields(order_id = %req.get_ref().order_id))]
    async fn authorize(
        &self,
        req: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        // Only the order service authorizes payments (its own service token).
        let who = caller(&req)?;
        if !who.is_service("order") {
            return Err(Status::permission_denied(format!(
                "only the order service may authorize payments, not {}",
                who.subject
            )));
        }
        self.apply_drill().await?;
        let r = req.into_inner();
        let amount = Money::from_proto(r.amount.as_ref(), "amount");
        let cmd = Authorize::parse(&r.order_id, &r.customer_id, amount)
            .map_err(|v| invalid_argument(&v))?;

        let (state, decline_reason) = match self.rule.decide(&cmd.amount) {
            Decision::Approved => (PaymentState::Authorized, String::new()),
            Decision::Declined(reason) => (PaymentState::Declined, reason),
        };
        let now = now_ms();
        let row = Payment {
            payment_id: uuid::Uuid::now_v7().to_string(),
            order_id: cmd.order_id.clone(),
            customer_id: cmd.customer_id.clone(),
            amount: cmd.amount,
            state,
            decline_reason,
            refund_reason: String::new(),
            created_at_ms: now,
            updated_at_ms: now,
        };
        let event = if row.state == PaymentState::Authorized {
            let event = pb::PaymentAuthorized {
                metadata: Some(fd_chassis::outbox::metadata(&row.payment_id, 1)),
                payment_id: row.payment_id.clone(),
                order_id: row.order_id.clone(),
                amount: Some(row.amount.to_proto()),
            };
            // In this request's span: the event continues its trace.
            Some(Outgoing::new(&event, "").map_err(AppError::from)?)
        } else {
            None
        };
        // Written together with the calls that arrive meanwhile (authorizations.rs); a
        // repeated call finds the payment stored before and is answered from it.
        let stored = self
            .writer
            .call(NewAuthorization {
                payment: row,
                event,
            })
            .await
            .map_err(|e| internal("storing the authorization failed", &e))?;
        match stored {
            Ok(Stored::New(row)) => {
                tracing::info!(payment_id = %row.payment_id, state = row.state.as_str(), amount = %row.amount, "payment decided");
                Ok(Response::new(pb::AuthorizeResponse {
                    payment: Some(to_proto(&row)),
                }))
            }
            Ok(Stored::Existing(existing)) => replay(existing, &cmd),
            // A replica stored a payment for the same order first: answer with its result.
            Err(AppError::Storage(e)) if fd_chassis::db::is_unique_violation(&e) => {
                let existing = db::by_order(&self.db.pool, &cmd.order_id)
                    .await
                    .map_err(db_error)?
                    .ok_or_else(|| Status::aborted("concurrent authorization; retry"))?;
                replay(existing, &cmd)
            }
            Err(e) => Err(e.into()),
        }
    }

    #[tracing::instrument(skip_all, fields(order_id = %req.get_ref().order_id))]
    async fn refund(
        &self,
        req: Request<pb::RefundRequest>,
    ) -> Result<Response<pb::RefundResponse>, Status> {
        // Refunds follow cancellations by saga; by hand only an operator refunds, and order
        // releases an authorization whose order it never stored (order's orphans.rs).
        let who = caller(&req)?;
        if !who.is_service("order") {
            who.require(&[Role::Operator], "refunding a payment by hand")?;
        }
        let r = req.into_inner();
        let mut errors = Vec::new();
        domain::check_id(&r.order_id, "order_id", &mut errors);
        if r.reason.chars().count() > domain::MAX_REASON_LEN {
            errors.push(Violation::new(
                "reason",
                format!("at most {} characters", domain::MAX_REASON_LEN),
            ));
        }
        check(errors)?;
        let mut work = self.db.begin().await?;
        let (p, event) = refunds::refund(work.conn(), &r.order_id, &r.reason).await?;
        if let Some(event) = event {
            work.record(&event).await?;
        }
        work.commit().await?;
        Ok(Response::new(pb::RefundResponse {
            payment: Some(to_proto(&p)),
        }))
    }

    async fn get_payment(
        &self,
        req: Request<pb::GetPaymentRequest>,
    ) -> Result<Response<pb::GetPaymentResponse>, Status> {
        use pb::get_payment_request::Lookup;
        let who = caller(&req)?;
        let found = match req.into_inner().lookup {
            Some(Lookup::PaymentId(id)) if !id.is_empty() => db::by_id(&self.db.pool, &id).await,
            Some(Lookup::OrderId(id)) if !id.is_empty() => db::by_order(&self.db.pool, &id).await,
            _ => {
                return Err(invalid_argument(&[Violation::new(
                    "lookup",
                    "set payment_id or order_id",
                )]))
            }
        };
        // The customer's own payment, or anyone's for an operator or the order service. For
        // anyone else it does not exist: payments are looked up by order id.
        let p = found
            .map_err(db_error)?
            .filter(|p| {
                (who.is(Role::Customer) && p.customer_id == who.subject)
                    || who.is(Role::Operator)
                    || who.is_service("order")
            })
            .ok_or_else(|| Status::not_found("no such payment"))?;
        Ok(Response::new(pb::GetPaymentResponse {
            payment: Some(to_proto(&p)),
        }))
    }
}
