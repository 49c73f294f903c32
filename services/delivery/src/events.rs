//! The delivery context's published events, built from the aggregate.

use fd_chassis::outbox::metadata;
use fd_proto::delivery::v1 as pb;

use crate::domain::Delivery;

/// DeliveryStarted.
pub fn started(d: &Delivery) -> pb::DeliveryStarted {
    pb::DeliveryStarted {
        metadata: Some(metadata(&d.delivery_id, d.version())),
        delivery_id: d.delivery_id.clone(),
        order_id: d.order_id.clone(),
        rider_id: d.rider_id.clone(),
        customer_id: d.customer_id.clone(),
    }
}

/// Delivered.
pub fn delivered(d: &Delivery) -> pb::Delivered {
    pb::Delivered {
        metadata: Some(metadata(&d.delivery_id, d.version())),
        delivery_id: d.delivery_id.clone(),
        order_id: d.order_id.clone(),
        rider_id: d.rider_id.clone(),
        customer_id: d.customer_id.clone(),
    }
}

/// DeliveryCancelled.
pub fn cancelled(d: &Delivery) -> pb::DeliveryCancelled {
    pb::DeliveryCancelled {
        metadata: Some(metadata(&d.delivery_id, d.version())),
        delivery_id: d.delivery_id.clone(),
        order_id: d.order_id.clone(),
        customer_id: d.customer_id.clone(),
    }
}
