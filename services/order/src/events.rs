//! The order context's published events, built from the aggregate (domain → contract).

use fd_chassis::outbox::metadata;
use fd_proto::order::v1 as pb;

use crate::domain::Order;

/// OrderPlaced for a freshly placed order.
pub fn order_placed(o: &Order) -> pb::OrderPlaced {
    let wire = crate::api::to_proto(o);
    pb::OrderPlaced {
        metadata: Some(metadata(&o.order_id, o.version)),
        order_id: o.order_id.clone(),
        customer_id: o.request.customer_id.clone(),
        store_id: o.request.store_id.clone(),
        items: wire.items,
        total: wire.total,
        payment_id: o.payment_id.clone(),
        delivery_address: o.request.delivery_address.clone(),
    }
}

/// OrderCancelled for an order that just became cancelled.
pub fn order_cancelled(o: &Order, by: pb::CancelledBy) -> pb::OrderCancelled {
    pb::OrderCancelled {
        metadata: Some(metadata(&o.order_id, o.version)),
        order_id: o.order_id.clone(),
        customer_id: o.request.customer_id.clone(),
        reason: o.cancel_reason.clone(),
        cancelled_by: by.into(),
        payment_id: o.payment_id.clone(),
    }
}
