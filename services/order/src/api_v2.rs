//! The v2 contract (`fooddelivery.order.v2`) over the same operations and the same orders as
//! v1 ([`crate::api`]): clients send menu item ids and quantities, the menu prices them.
//! Only the messages differ; everything an order goes through is shared.

use std::pin::Pin;

use fd_proto::order::v2 as pb;
use futures::Stream;
use tonic::{Request, Response, Status};

use crate::api::OrderApi;
use crate::domain::{Cart, DeliveryStatus, Order, OrderState, PaymentStatus, RawLine, StoreStatus};
use fd_chassis::auth::caller;
use fd_chassis::errors::invalid_argument;
use fd_chassis::time::timestamp;

/// The v2 OrderService: a view of [`OrderApi`].
#[derive(Debug, Clone)]
pub struct OrderApiV2 {
    api: OrderApi,
}

impl OrderApiV2 {
    /// v2 over `api`.
    pub fn new(api: OrderApi) -> Self {
        Self { api }
    }
}

fn state(s: OrderState) -> pb::OrderState {
    match s {
        OrderState::Placed => pb::OrderState::Placed,
        OrderState::Accepted => pb::OrderState::Accepted,
        OrderState::ReadyForPickup => pb::OrderState::ReadyForPickup,
        OrderState::OutForDelivery => pb::OrderState::OutForDelivery,
        OrderState::Delivered => pb::OrderState::Delivered,
        OrderState::Cancelled => pb::OrderState::Cancelled,
    }
}

fn line(i: &crate::domain::LineItem) -> pb::PricedLine {
    pb::PricedLine {
        menu_item_id: i.menu_item_id.clone(),
        name: i.name.clone(),
        quantity: i.quantity,
        unit_price: Some(i.unit_price.to_proto()),
        // Cannot overflow: the order's total, a sum of these, was computed when it was placed.
        line_total: i
            .unit_price
            .times(i64::from(i.quantity))
            .map(|m| m.to_proto()),
    }
}

/// The v2 wire form of an order and its status view.
pub fn to_proto(o: &Order) -> pb::Order {
    let payment_status = match o.payment_status {
        PaymentStatus::Authorized => pb::PaymentStatus::Authorized,
        PaymentStatus::Refunded => pb::PaymentStatus::Refunded,
    };
    let store_status = match o.store_status {
        None => pb::StoreStatus::Waiting,
        Some(StoreStatus::Accepted) => pb::StoreStatus::Accepted,
        Some(StoreStatus::Rejected) => pb::StoreStatus::Rejected,
        Some(StoreStatus::CookingFinished) => pb::StoreStatus::CookingFinished,
    };
    let delivery_status = match o.delivery_status {
        None => pb::DeliveryStatus::NotStarted,
        Some(DeliveryStatus::WaitingForPickup) => pb::DeliveryStatus::WaitingForPickup,
        Some(DeliveryStatus::InTransit) => pb::DeliveryStatus::InTransit,
        Some(DeliveryStatus::Delivered) => pb::DeliveryStatus::Delivered,
        Some(DeliveryStatus::Cancelled) => pb::DeliveryStatus::Cancelled,
    };
    pb::Order {
        order_id: o.order_id.clone(),
        customer_id: o.request.customer_id.clone(),
        store_id: o.request.store_id.clone(),
        lines: o.request.items.iter().map(line).collect(),
        total: Some(o.request.total.to_proto()),
        delivery_address: o.request.delivery_address.clone(),
        state: state(o.state).into(),
        payment_id: o.payment_id.clone(),
        payment_status: payment_status.into(),
        store_status: store_status.into(),
        delivery_status: delivery_status.into(),
        timeline: o
            .timeline
            .iter()
            .filter_map(|t| {
                Some(pb::TimelineEntry {
                    state: state(t.fact.state()?).into(),
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

fn raw_lines(lines: &[pb::OrderLine]) -> Vec<RawLine<'_>> {
    lines
        .iter()
        .map(|l| RawLine {
            menu_item_id: &l.menu_item_id,
            quantity: l.quantity,
        })
        .collect()
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchOrderResponse, Status>> + Send>>;

#[tonic::async_trait]
impl pb::order_service_server::OrderService for OrderApiV2 {
    async fn quote_order(
        &self,
        req: Request<pb::QuoteOrderRequest>,
    ) -> Result<Response<pb::QuoteOrderResponse>, Status> {
        caller(&req)?; // any signed-in caller may price a cart
        let r = req.get_ref();
        let cart = Cart::parse_quote(&r.store_id, &raw_lines(&r.lines))
            .map_err(|v| invalid_argument(&v))?;
        let priced = self.api.price(&cart).await?;
        Ok(Response::new(pb::QuoteOrderResponse {
            lines: priced.items.iter().map(line).collect(),
            total: Some(priced.total.to_proto()),
        }))
    }

    #[tracing::instrument(skip_all, fields(customer_id = %req.get_ref().customer_id, order_id))]
    async fn place_order(
        &self,
        req: Request<pb::PlaceOrderRequest>,
    ) -> Result<Response<pb::PlaceOrderResponse>, Status> {
        let caller = caller(&req)?;
        let r = req.get_ref();
        // The customer is the caller; a request may leave customer_id empty.
        let customer_id = if r.customer_id.is_empty() {
            caller.subject.as_str()
        } else {
            r.customer_id.as_str()
        };
        let cart = Cart::parse(
            &r.idempotency_key,
            customer_id,
            &r.store_id,
            &raw_lines(&r.lines),
            &r.delivery_address,
        )
        .map_err(|v| invalid_argument(&v))?;
        let order = self.api.place(&caller, cart).await?;
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
        let order = self.api.cancel(&caller, &r.order_id, &r.reason).await?;
        Ok(Response::new(pb::CancelOrderResponse {
            order: Some(to_proto(&order)),
        }))
    }

    async fn get_order(
        &self,
        req: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let order = self
            .api
            .get(&caller(&req)?, &req.get_ref().order_id)
            .await?;
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
            .api
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
            .api
            .watch(&caller(&req)?, &req.get_ref().order_id, |o| {
                pb::WatchOrderResponse {
                    order: Some(to_proto(o)),
                }
            })
            .await?;
        Ok(Response::new(Box::pin(stream)))
    }
}
