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
package!(order, "fooddelivery.order.v1");
package!(payment, "fooddelivery.payment.v1");
package!(store, "fooddelivery.store.v1");
package!(delivery, "fooddelivery.delivery.v1");
package!(notification, "fooddelivery.notification.v1");

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
    delivery::DeliveryStarted,
    delivery::Delivered,
    delivery::DeliveryCancelled,
    notification::NotificationSent,
);
