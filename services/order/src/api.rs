//! The gRPC adapter of the order context: prost types stop here. Requests are parsed into
//! domain types, each operation's errors are mapped to `tonic::Status` once.

use std::pin::Pin;

use fd_chassis::db::Db;
use fd_chassis::errors::{
    internal, invalid_argument, unavailable_retry, with_reason, AppError, Violation,
};
use fd_chassis::money::Money;
use fd_chassis::shutdown::Shutdown;
use fd_chassis::time::{now_ms, timestamp};
use fd_proto::order::v1 as pb;
use fd_proto::payment::v1::PaymentState;
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use tonic::{Code, Request, Response, Status};

use crate::db;
use crate::domain::{
    self, Cart, DeliveryStatus, NewOrder, Order, OrderState, PaymentStatus, RawItem, RawPlaceOrder,
    StoreStatus,
};
use crate::events;
use crate::menu::{Priced, Refusal};
use crate::payment::{PaymentError, PaymentGateway};
use crate::placement::{Intent, Outcome, Placed, Placements};
use crate::watch::Changes;
use fd_chassis::auth::{caller, Caller, Role};
use fd_chassis::outbox::Outgoing;
use tonic_types::{ErrorDetails, StatusExt};

/// Error domain in `google.rpc.ErrorInfo`.
pub(crate) const DOMAIN: &str = "order.fooddelivery";

/// The OrderService implementation.
#[derive(Debug, Clone)]
pub struct OrderApi {
    db: Db,
    payment: PaymentGateway,
    changes: Changes,
    shutdown: Shutdown,
    /// PlaceOrder's menu reads and writes, together with concurrent calls' (group commit).
    placements: Placements,
    /// Open WatchOrder streams this replica still accepts (`MAX_WATCHES`).
    watches: std::sync::Arc<tokio::sync::Semaphore>,
}

impl OrderApi {
    /// An API storing in `db`, paying through `payment`, serving at most `max_watches`
    /// WatchOrder streams at once.
    pub fn new(
        db: Db,
        payment: PaymentGateway,
        changes: Changes,
        shutdown: Shutdown,
        max_watches: usize,
    ) -> Self {
        Self {
            placements: Placements::start(&db),
            db,
            payment,
            changes,
            shutdown,
            watches: std::sync::Arc::new(tokio::sync::Semaphore::new(max_watches)),
        }
    }

    async fn load(&self, order_id: &str) -> Result<Order, Status> {
        db::get(&self.db.pool, order_id)
            .await
            .map_err(|e| internal("reading the order failed", &e))?
            .ok_or_else(|| Status::not_found(format!("order {order_id} not found")))
    }

    /// The stored order for a repeated request, or ALREADY_EXISTS if the idempotency key was
    /// used for a different order.
    fn replay(existing: Order, cart: &Cart) -> Result<Order, Status> {
        if existing.answers(cart) {
            Ok(existing)
        } else {
            Err(with_reason(
                Code::AlreadyExists,
                "this idempotency_key was already used for a different order; use a new key",
                "IDEMPOTENCY_KEY_REUSED",
                DOMAIN,
            ))
        }
    }

    /// Prices `cart` from the menu replica: FAILED_PRECONDITION naming every problem if the
    /// store or an item cannot be ordered (or, in v1, a sent price is not the menu's).
    pub(crate) async fn price(&self, cart: &Cart) -> Result<Priced, Status> {
        let ids: Vec<&str> = cart.lines.iter().map(|l| l.menu_item_id.as_str()).collect();
        // Read together with the other calls' menus (placement.rs).
        let menu = self
            .placements
            .menu(&cart.store_id, &ids)
            .await
            .map_err(|e| internal("reading the menu failed", &e))?;
        menu.price(&cart.store_id, cart.list_field(), &cart.lines)
            .map_err(|r| refused(&r))
    }

    /// PlaceOrder, of either version: replay a repeat, price from the menu, pay, store.
    pub(crate) async fn place(&self, caller: &Caller, cart: Cart) -> Result<Order, Status> {
        caller.require(&[Role::Customer], "placing an order")?;
        if cart.customer_id != caller.subject {
            return Err(Status::permission_denied(format!(
                "customer_id must be the caller ({}); nobody orders for someone else",
                caller.subject
            )));
        }
        let order_id = domain::order_id_for(&cart.customer_id, &cart.idempotency_key).to_string();
        tracing::Span::current().record("order_id", order_id.as_str());

        // A retry of a request that already succeeded is answered from storage and pays
        // nothing, even if the menu changed since: a cart the menu refuses is looked up
        // before the refusal is reported, and recording the intent finds a stored order.
        let priced = match self.price(&cart).await {
            Ok(priced) => priced,
            Err(refused) => {
                return match db::get(&self.db.pool, &order_id)
                    .await
                    .map_err(|e| internal("reading the order failed", &e))?
                {
                    Some(existing) => Self::replay(existing, &cart),
                    None => Err(refused),
                }
            }
        };
        let cmd = cart.clone().priced(priced);

        // Before anything is authorized: if the order is never stored (a crash, a failed
        // insert), order's recovery finds this and releases the authorization (orphans.rs).
        match self.placements.intend(&order_id).await? {
            Intent::Live => {}
            Intent::Stored => return Self::replay(self.load(&order_id).await?, &cart),
            Intent::Released => return Err(released()),
        }
        let payment = match self
            .payment
            .authorize(&order_id, &cmd.customer_id, cmd.total)
            .await
        {
            Ok(p) => p,
            Err(PaymentError::Unavailable {
                reason,
                retry_after,
            }) => {
                tracing::warn!(%reason, "payment unavailable; order not placed");
                return Err(unavailable_retry(
                    format!(
                        "payment is temporarily unavailable; nothing was charged or stored. \
                         Please retry the payment in {} s with the same idempotency_key",
                        retry_after.as_secs_f64().ceil()
                    ),
                    retry_after,
                ));
            }
            Err(PaymentError::Conflict(msg)) => {
                return Err(with_reason(
                    Code::AlreadyExists,
                    msg,
                    "IDEMPOTENCY_KEY_REUSED",
                    DOMAIN,
                ))
            }
            Err(PaymentError::Unexpected(s)) => {
                return Err(internal("payment rejected the authorization", &s))
            }
        };
        match payment.state() {
            PaymentState::Authorized => {}
            PaymentState::Declined => {
                // Nothing to release later.
                let _ = db::forget_intent(&self.db.pool, &order_id).await;
                return Err(with_reason(
                    Code::FailedPrecondition,
                    format!(
                        "payment declined: {}; no order was placed",
                        payment.decline_reason
                    ),
                    "PAYMENT_DECLINED",
                    DOMAIN,
                ));
            }
            other => {
                return Err(with_reason(
                    Code::FailedPrecondition,
                    format!(
                        "the payment for this idempotency_key is {}; use a new key",
                        other.as_str_name()
                    ),
                    "PAYMENT_NOT_USABLE",
                    DOMAIN,
                ))
            }
        }

        let order = Order::place(order_id.clone(), cmd, payment.payment_id, now_ms());
        // The order and its OrderPlaced event commit together (transactional outbox), with
        // the orders of the calls that arrive meanwhile (placement.rs). Only while its intent
        // is live: if recovery claimed it meanwhile (this request took longer than
        // ORPHAN_AFTER_MS), the authorization is being released and the order is not stored.
        let event = Outgoing::new(&events::order_placed(&order), "").map_err(AppError::from)?;
        let placed = Placed {
            order: order.clone(),
            event,
        };
        match self.placements.store(placed).await {
            Ok(Outcome::Released) => Err(released()),
            Ok(Outcome::Stored) => {
                tracing::info!(total = %order.request.total, "order placed");
                self.changes.changed(&order_id);
                Ok(order)
            }
            // A concurrent retry of the same request stored it first.
            Ok(Outcome::Existing) => Self::replay(self.load(&order_id).await?, &cart),
            Err(AppError::Storage(e)) if fd_chassis::db::is_unique_violation(&e) => {
                Self::replay(self.load(&order_id).await?, &cart)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// CancelOrder, of either version.
    pub(crate) async fn cancel(
        &self,
        caller: &Caller,
        order_id: &str,
        reason: &str,
    ) -> Result<Order, Status> {
        let mut bad = Vec::new();
        let order_id = parse_order_id(order_id, "order_id");
        if order_id.is_err() {
            bad.push(Violation::new("order_id", "must be an order id (a UUID)"));
        }
        if reason.chars().count() > domain::MAX_TEXT_LEN {
            bad.push(Violation::new(
                "reason",
                format!("at most {} characters", domain::MAX_TEXT_LEN),
            ));
        }
        let order_id = match order_id {
            Ok(id) if bad.is_empty() => id,
            _ => return Err(invalid_argument(&bad)),
        };
        self.get(caller, &order_id).await?; // someone else's order: NOT_FOUND
        let done = self
            .db
            .change(
                order_id.as_str(),
                |o: &Order| {
                    let mut cancelled = o.clone();
                    let changed = cancelled.cancel(reason, now_ms())?;
                    Ok::<_, domain::CancelError>(changed.then_some(cancelled))
                },
                |o| events::order_cancelled(o, pb::CancelledBy::Customer),
            )
            .await?;
        if done.changed {
            self.changes.changed(&order_id);
        }
        Ok(done.state)
    }

    /// GetOrder, of either version.
    /// The order, if the caller may see it: its customer or an operator. Anyone else gets the
    /// same NOT_FOUND as for an order that does not exist: order ids derive from a customer
    /// and their key, so telling "exists" from "not yours" would leak other customers' orders.
    pub(crate) async fn get(&self, caller: &Caller, order_id: &str) -> Result<Order, Status> {
        let order_id = parse_order_id(order_id, "order_id")?;
        let order = self.load(&order_id).await?;
        let mine = caller.is(Role::Customer) && order.request.customer_id == caller.subject;
        if mine || caller.is(Role::Operator) {
            Ok(order)
        } else {
            Err(Status::not_found(format!("order {order_id} not found")))
        }
    }

    /// ListOrders, of either version.
    pub(crate) async fn list(
        &self,
        caller: &Caller,
        customer_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Order>, String), Status> {
        let mut bad = Vec::new();
        if customer_id.trim().is_empty() {
            bad.push(Violation::new("customer_id", "required"));
        }
        let page = fd_chassis::page::parse(page_size, page_token, &mut bad);
        if !bad.is_empty() {
            return Err(invalid_argument(&bad));
        }
        if customer_id != caller.subject && !caller.is(Role::Operator) {
            return Err(Status::permission_denied(format!(
                "{} may list only their own orders",
                caller.subject
            )));
        }
        db::list(&self.db.pool, customer_id, &page)
            .await
            .map_err(|e| internal("listing orders failed", &e))
    }

    /// WatchOrder, of either version: the order now, then at each change, as `wire` makes it.
    pub(crate) async fn watch<T: Send + 'static>(
        &self,
        caller: &Caller,
        order_id: &str,
        wire: fn(&Order) -> T,
    ) -> Result<tokio_stream::wrappers::ReceiverStream<Result<T, Status>>, Status> {
        let order_id = parse_order_id(order_id, "order_id")?;
        // Each stream holds a permit until it ends: a replica serves a bounded number.
        let permit = self.watches.clone().try_acquire_owned().map_err(|_| {
            fd_chassis::errors::resource_exhausted_retry(
                "this server follows as many orders as it may (MAX_WATCHES); watch again shortly or read with GetOrder",
                std::time::Duration::from_secs(5),
            )
        })?;
        // Subscribe before the first read, so a change between the two is not missed.
        let mut changes = self.changes.subscribe();
        let first = self.get(caller, &order_id).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let api = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut last = first.version;
            let mut done = first.state.is_final();
            if tx.send(Ok(wire(&first))).await.is_err() {
                return;
            }
            while !done {
                let event = tokio::select! {
                    e = changes.recv() => e,
                    () = tx.closed() => return,
                    () = api.shutdown.wait() => {
                        let _ = tx.send(Err(Status::unavailable("server shutting down; watch again"))).await;
                        return;
                    }
                };
                match event {
                    Ok(id) if !crate::watch::concerns(&id, &order_id) => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
                let order = match api.load(&order_id).await {
                    Ok(o) => o,
                    Err(s) => {
                        let _ = tx.send(Err(s)).await;
                        return;
                    }
                };
                if order.version != last {
                    last = order.version;
                    done = order.state.is_final();
                    if tx.send(Ok(wire(&order))).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(tokio_stream::wrappers::ReceiverStream::new(rx))
    }
}

/// FAILED_PRECONDITION `AUTHORIZATION_RELEASED`: the request took so long (a database outage,
/// a crash) that recovery released its authorization; nothing is charged or stored.
fn released() -> Status {
    with_reason(
        Code::FailedPrecondition,
        "this order was not completed in time and its payment authorization has been released; \
         nothing was charged or stored: place it again with a new idempotency_key",
        "AUTHORIZATION_RELEASED",
        DOMAIN,
    )
}

/// FAILED_PRECONDITION for an order the menu refuses: an `ErrorInfo` with the first problem's
/// reason and a `PreconditionFailure` with every problem (type, request field, description).
pub(crate) fn refused(r: &Refusal) -> Status {
    let mut details =
        ErrorDetails::with_error_info(r.reason(), DOMAIN, std::collections::HashMap::new());
    for p in &r.problems {
        details.add_precondition_failure_violation(p.kind, &p.subject, &p.description);
    }
    Status::with_error_details(Code::FailedPrecondition, r.message(), details)
}

pub(crate) fn parse_order_id(id: &str, field: &str) -> Result<String, Status> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| invalid_argument(&[Violation::new(field, "must be an order id (a UUID)")]))
}

fn state_to_proto(s: OrderState) -> pb::OrderState {
    match s {
        OrderState::Placed => pb::OrderState::Placed,
        OrderState::Accepted => pb::OrderState::Accepted,
        OrderState::ReadyForPickup => pb::OrderState::ReadyForPickup,
        OrderState::OutForDelivery => pb::OrderState::OutForDelivery,
        OrderState::Delivered => pb::OrderState::Delivered,
        OrderState::Cancelled => pb::OrderState::Cancelled,
    }
}

/// The wire form of an order and its status view.
pub fn to_proto(o: &Order) -> pb::Order {
    let payment_status = match o.payment_status {
        PaymentStatus::Authorized => pb::PaymentStatus::Authorized,
        PaymentStatus::Refunded => pb::PaymentStatus::Refunded,
    };
    let store_status = match o.store_status {
        None => pb::StoreStatus::Unspecified,
        Some(StoreStatus::Accepted) => pb::StoreStatus::Accepted,
        Some(StoreStatus::Rejected) => pb::StoreStatus::Rejected,
        Some(StoreStatus::CookingFinished) => pb::StoreStatus::CookingFinished,
    };
    let delivery_status = match o.delivery_status {
        None => pb::DeliveryStatus::Unspecified,
        Some(DeliveryStatus::WaitingForPickup) => pb::DeliveryStatus::WaitingForPickup,
        Some(DeliveryStatus::InTransit) => pb::DeliveryStatus::InTransit,
        Some(DeliveryStatus::Delivered) => pb::DeliveryStatus::Delivered,
        Some(DeliveryStatus::Cancelled) => pb::DeliveryStatus::Cancelled,
    };
    pb::Order {
        order_id: o.order_id.clone(),
        customer_id: o.request.customer_id.clone(),
        store_id: o.request.store_id.clone(),
        items: o
            .request
            .items
            .iter()
            .map(|i| pb::LineItem {
                menu_item_id: i.menu_item_id.clone(),
                name: i.name.clone(),
                quantity: i.quantity,
                unit_price: Some(i.unit_price.to_proto()),
            })
            .collect(),
        total: Some(o.request.total.to_proto()),
        delivery_address: o.request.delivery_address.clone(),
        state: state_to_proto(o.state).into(),
        payment_id: o.payment_id.clone(),
        payment_status: payment_status.into(),
        store_status: store_status.into(),
        delivery_status: delivery_status.into(),
        timeline: o
            .timeline
            .iter()
            .filter_map(|t| {
                Some(pb::TimelineEntry {
                    state: state_to_proto(t.fact.state()?).into(),
                    time: Some(timestamp(t.at_ms)),
                    detail: t.detail.clone(),
                })
            })
            .collect(),
        create_time: Some(timestamp(o.created_at_ms)),
        update_time: Some(timestamp(o.updated_at_ms)),
        cancel_reason: o.cancel_reason.clone(),
    }
}

fn parse_place(r: &pb::PlaceOrderRequest) -> Result<NewOrder, Status> {
    let items = r
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| RawItem {
            menu_item_id: &it.menu_item_id,
            name: &it.name,
            quantity: it.quantity,
            unit_price: Money::from_proto(
                it.unit_price.as_ref(),
                &format!("items[{i}].unit_price"),
            ),
        })
        .collect();
    NewOrder::parse(RawPlaceOrder {
        idempotency_key: &r.idempotency_key,
        customer_id: &r.customer_id,
        store_id: &r.store_id,
        items,
        delivery_address: &r.delivery_address,
    })
    .map_err(|v| invalid_argument(&v))
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchOrderResponse, Status>> + Send>>;

/// The v1 contract: the same operations, with v1's messages. v1 clients send a unit price per
/// item; it must be the menu's (PRICE_CHANGED otherwise), never silently repriced.
#[tonic::async_trait]
impl pb::order_service_server::OrderService for OrderApi {
    #[tracing::instrument(skip_all, fields(customer_id = %req.get_ref().customer_id, order_id))]
    async fn place_order(
        &self,
        req: Request<pb::PlaceOrderRequest>,
    ) -> Result<Response<pb::PlaceOrderResponse>, Status> {
        let caller = caller(&req)?;
        let claimed = parse_place(req.get_ref())?;
        let order = self.place(&caller, Cart::from_v1(&claimed)).await?;
        Ok(Response::new(pb::PlaceOrderResponse {
            order: Some(to_proto(&order)),
        }))
    }

    #[tracing::instrument(skip_all, fields(order_id = %req.get_ref().order_id))]
    async fn cancel_order(
        &self,
        req: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let caller = caller(&req)?;
        let r = req.into_inner();
        let order = self.cancel(&caller, &r.order_id, &r.reason).await?;
        Ok(Response::new(pb::CancelOrderResponse {
            order: Some(to_proto(&order)),
        }))
    }

    async fn get_order(
        &self,
        req: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let order = self.get(&caller(&req)?, &req.get_ref().order_id).await?;
        Ok(Response::new(pb::GetOrderResponse {
            order: Some(to_proto(&order)),
        }))
    }

    async fn list_orders(
        &self,
        req: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let caller = caller(&req)?;
        let r = req.into_inner();
        let (orders, next_page_token) = self
            .list(&caller, &r.customer_id, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListOrdersResponse {
            orders: orders.iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    type WatchOrderStream = WatchStream;

    async fn watch_order(
        &self,
        req: Request<pb::WatchOrderRequest>,
    ) -> Result<Response<Self::WatchOrderStream>, Status> {
        let stream = self
            .watch(&caller(&req)?, &req.get_ref().order_id, |o| {
                pb::WatchOrderResponse {
                    order: Some(to_proto(o)),
                }
            })
            .await?;
        Ok(Response::new(Box::pin(stream)))
    }
}
