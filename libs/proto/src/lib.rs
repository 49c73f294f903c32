//! Generated Rust stubs for the `fooddelivery.*` contracts in `proto/`.
//!
//! One module per protobuf package, mirroring the package path
//! (`fooddelivery.order.v1` → [`order::v1`]). Nothing here is written by hand: edit the
//! `.proto` files and rebuild. [`FILE_DESCRIPTOR_SET`] holds the compiled descriptors, served
//! by every service's gRPC reflection endpoint.

#![allow(missing_docs, missing_debug_implementations, clippy::all)]

/// Encoded `google.protobuf.FileDescriptorSet` of every file under `proto/` (with imports).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/fooddelivery.bin"));

macro_rules! package {
    ($name:ident, $pkg:literal) => {
        pub mod $name {
            pub mod v1 {
                tonic::include_proto!($pkg);
            }
        }
    };
}

package!(common, "fooddelivery.common.v1");

/// `fooddelivery.order.v1` and `fooddelivery.order.v2`: one order service serves both.
pub mod order {
    pub mod v1 {
        tonic::include_proto!("fooddelivery.order.v1");
    }
    pub mod v2 {
        tonic::include_proto!("fooddelivery.order.v2");
    }
}
package!(payment, "fooddelivery.payment.v1");
package!(store, "fooddelivery.store.v1");
package!(delivery, "fooddelivery.delivery.v1");
package!(notification, "fooddelivery.notification.v1");
package!(marketing, "fooddelivery.marketing.v1");

/// A generated gRPC server (`OrderServiceServer<T>`, ...): the chassis sets its largest accepted
/// message from `MAX_MESSAGE_BYTES`, the same way for every service.
pub trait GrpcApi: Sized {
    /// The server, refusing requests larger than `limit` bytes.
    fn with_max_message_bytes(self, limit: usize) -> Self;
}

macro_rules! apis {
    ($($path:ident :: $version:ident :: $module:ident :: $server:ident : $service:ident),* $(,)?) => {$(
        impl<T: $path::$version::$module::$service> GrpcApi for $path::$version::$module::$server<T> {
            fn with_max_message_bytes(self, limit: usize) -> Self {
                self.max_decoding_message_size(limit)
            }
        }
    )*};
}

apis!(
    order::v1::order_service_server::OrderServiceServer: OrderService,
    order::v2::order_service_server::OrderServiceServer: OrderService,
    payment::v1::payment_service_server::PaymentServiceServer: PaymentService,
    store::v1::store_service_server::StoreServiceServer: StoreService,
    store::v1::catalog_service_server::CatalogServiceServer: CatalogService,
    delivery::v1::delivery_service_server::DeliveryServiceServer: DeliveryService,
    notification::v1::notification_service_server::NotificationServiceServer: NotificationService,
);

/// A domain event: a message marked with `(fooddelivery.common.v1.event)` in `proto/`.
/// It is published on the subject equal to [`Event::TYPE`], its fully qualified name.
pub trait Event: prost::Message + Default + Send + Sync + 'static {
    /// Fully qualified protobuf name, also the NATS subject and the CloudEvents `ce-type`.
    const TYPE: &'static str;
    /// The event's metadata (field 1).
    fn metadata(&self) -> Option<&common::v1::EventMetadata>;
}

macro_rules! events {
    ($($path:ident :: $ty:ident),* $(,)?) => {$(
        impl Event for $path::v1::$ty {
            const TYPE: &'static str = concat!("fooddelivery.", stringify!($path), ".v1.", stringify!($ty));
            fn metadata(&self) -> Option<&common::v1::EventMetadata> {
                self.metadata.as_ref()
            }
        }
    )*};
}

events!(
    order::OrderPlaced,
    order::OrderCancelled,
    payment::PaymentAuthorized,
    payment::PaymentRefunded,
    store::OrderAccepted,
    store::OrderRejected,
    store::CookingFinished,
    store::StoreCreated,
    store::StoreUpdated,
    store::MenuItemAdded,
    store::MenuItemUpdated,
    store::MenuItemRemoved,
    delivery::DeliveryStarted,
    delivery::Delivered,
    delivery::DeliveryCancelled,
    notification::NotificationSent,
    marketing::CouponIssued,
    marketing::DigestSent,
);
