//! How the order context reacts to other contexts' events.
//!
//! - [`StatusProjection`]: every status event (store, delivery, payment) becomes a fact of the
//!   order's status view. Facts form a set, so redeliveries and any arrival order converge.
//! - [`CancelOnRejected`]: the second saga. A store's OrderRejected cancels the order and
//!   publishes OrderCancelled, which makes payment refund it.
//! - [`MenuReplica`]: the store's menu events become order's own copy of every menu, which
//!   PlaceOrder prices from (so orders are placed while the store service is down).

use fd_chassis::consumer::{ConsumerSpec, Incoming, Policy, PolicyError};
use fd_chassis::time::now_ms;
use fd_proto::common::v1::EventMetadata;
use fd_proto::{delivery, payment, store, Event};
use sqlx::AnyConnection;

use crate::db;
use crate::domain::{Fact, Order};
use crate::events;
use crate::menu::{MenuEntry, MenuStore};
use crate::watch::Changes;

fn occurred_ms(meta: Option<&EventMetadata>) -> i64 {
    meta.and_then(|m| m.occurred_at.as_ref())
        .map_or_else(now_ms, |t| {
            t.seconds * 1000 + i64::from(t.nanos / 1_000_000)
        })
}

/// The order an event is about, if it is stored.
async fn find_order(tx: &mut AnyConnection, order_id: &str) -> Result<Option<Order>, PolicyError> {
    db::get(&mut *tx, order_id)
        .await
        .map_err(|e| PolicyError::Transient(e.to_string()))
}

/// Loads the order an event is about, applies `change`, saves. `change` returns whether it
/// changed anything.
async fn update_order(
    tx: &mut AnyConnection,
    order_id: &str,
    change: impl FnOnce(&mut Order) -> bool,
) -> Result<Option<Order>, PolicyError> {
    let order = find_order(tx, order_id)
        .await?
        .ok_or_else(|| PolicyError::Permanent(format!("unknown order {order_id}")))?;
    save_changed(tx, order, change).await
}

/// Applies `change` to a loaded `order` and writes it back by version (a lost race is retried).
async fn save_changed(
    tx: &mut AnyConnection,
    mut order: Order,
    change: impl FnOnce(&mut Order) -> bool,
) -> Result<Option<Order>, PolicyError> {
    let loaded = order.version;
    if !change(&mut order) {
        return Ok(None);
    }
    if !db::update(&mut *tx, &order, loaded).await? {
        return Err(PolicyError::Transient(
            "order changed concurrently; retrying".into(),
        ));
    }
    crate::watch::announce(tx, &order.order_id).await?;
    Ok(Some(order))
}

/// Status events of other contexts → facts of the status view.
#[derive(Debug, Clone)]
pub struct StatusProjection {
    /// Wakes WatchOrder streams.
    pub changes: Changes,
}

impl StatusProjection {
    /// The consumers this policy needs: one per source stream.
    pub fn specs() -> Vec<ConsumerSpec> {
        vec![
            ConsumerSpec::new(
                crate::SERVICE.name,
                "status-from-store",
                &[
                    store::v1::OrderAccepted::TYPE,
                    store::v1::CookingFinished::TYPE,
                ],
            ),
            ConsumerSpec::new(
                crate::SERVICE.name,
                "status-from-delivery",
                &[
                    delivery::v1::DeliveryStarted::TYPE,
                    delivery::v1::Delivered::TYPE,
                    delivery::v1::DeliveryCancelled::TYPE,
                ],
            ),
            ConsumerSpec::new(
                crate::SERVICE.name,
                "status-from-payment",
                &[payment::v1::PaymentRefunded::TYPE],
            ),
        ]
    }
}

fn fact_of(msg: &Incoming) -> Result<(Fact, String, i64, String), PolicyError> {
    macro_rules! fact {
        ($ty:ty, $fact:expr, $detail:expr) => {{
            let e: $ty = msg.decode()?;
            let detail: fn(&$ty) -> String = $detail;
            (
                $fact,
                e.order_id.clone(),
                occurred_ms(e.metadata.as_ref()),
                detail(&e),
            )
        }};
    }
    Ok(match msg.subject.as_str() {
        store::v1::OrderAccepted::TYPE => fact!(store::v1::OrderAccepted, Fact::Accepted, |_| {
            "the store accepted the order".into()
        }),
        store::v1::CookingFinished::TYPE => {
            fact!(store::v1::CookingFinished, Fact::CookingFinished, |_| {
                "cooked; waiting for a rider".into()
            })
        }
        delivery::v1::DeliveryStarted::TYPE => fact!(
            delivery::v1::DeliveryStarted,
            Fact::DeliveryStarted,
            |e| format!("rider {} is on the way", e.rider_id)
        ),
        delivery::v1::Delivered::TYPE => {
            fact!(delivery::v1::Delivered, Fact::Delivered, |_| "delivered"
                .into())
        }
        delivery::v1::DeliveryCancelled::TYPE => fact!(
            delivery::v1::DeliveryCancelled,
            Fact::DeliveryCancelled,
            |_| "delivery cancelled".into()
        ),
        payment::v1::PaymentRefunded::TYPE => fact!(
            payment::v1::PaymentRefunded,
            Fact::PaymentRefunded,
            |e| format!("refunded: {}", e.reason)
        ),
        other => return Err(PolicyError::Permanent(format!("unexpected event {other}"))),
    })
}

#[async_trait::async_trait]
impl Policy for StatusProjection {
    async fn handle(&self, tx: &mut AnyConnection, msg: &Incoming) -> Result<(), PolicyError> {
        let (fact, order_id, at, detail) = fact_of(msg)?;
        let Some(order) = find_order(tx, &order_id).await? else {
            if fact == Fact::PaymentRefunded {
                // The release of an authorization whose order was never stored (orphans.rs):
                // there is no order to show it on, and nothing is wrong.
                tracing::debug!(order_id, "refund of an authorization without an order");
                return Ok(());
            }
            return Err(PolicyError::Permanent(format!("unknown order {order_id}")));
        };
        save_changed(tx, order, |o| o.apply(fact, at, &detail)).await?;
        Ok(())
    }

    fn after_commit(&self, msg: &Incoming) {
        if let Ok((_, order_id, _, _)) = fact_of(msg) {
            self.changes.changed(&order_id);
        }
    }
}

/// OrderRejected → the order is cancelled (and OrderCancelled published, in the same
/// transaction).
#[derive(Debug, Clone)]
pub struct CancelOnRejected {
    /// Wakes WatchOrder streams.
    pub changes: Changes,
}

impl CancelOnRejected {
    /// Its consumer.
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new(
            crate::SERVICE.name,
            "cancel-on-rejected",
            &[store::v1::OrderRejected::TYPE],
        )
    }
}

#[async_trait::async_trait]
impl Policy for CancelOnRejected {
    async fn handle(&self, tx: &mut AnyConnection, msg: &Incoming) -> Result<(), PolicyError> {
        let e: store::v1::OrderRejected = msg.decode()?;
        let at = occurred_ms(e.metadata.as_ref());
        let reason = format!("rejected by the store: {}", e.reason);
        let mut newly_cancelled = false;
        let updated = update_order(tx, &e.order_id, |o| {
            let rejected = o.apply(Fact::Rejected, at, &e.reason);
            newly_cancelled = o.cancel(&reason, at) == Ok(true);
            rejected || newly_cancelled
        })
        .await?;
        if let (Some(order), true) = (updated, newly_cancelled) {
            let event = events::order_cancelled(&order, fd_proto::order::v1::CancelledBy::Store);
            fd_chassis::outbox::record(tx, &event)
                .await
                .map_err(|e| PolicyError::Transient(e.to_string()))?;
        }
        Ok(())
    }

    fn after_commit(&self, msg: &Incoming) {
        if let Ok(e) = msg.decode::<store::v1::OrderRejected>() {
            self.changes.changed(&e.order_id);
        }
    }
}

/// The store's menu events → the order context's menu replica ([`crate::menu`]). Every event
/// carries the whole store or item with its version; older versions than the replica's are
/// ignored, so redeliveries and replays converge.
#[derive(Debug, Clone, Copy)]
pub struct MenuReplica;

impl MenuReplica {
    /// Its consumer.
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new(
            crate::SERVICE.name,
            "menu-replica",
            &[
                store::v1::StoreCreated::TYPE,
                store::v1::StoreUpdated::TYPE,
                store::v1::MenuItemAdded::TYPE,
                store::v1::MenuItemUpdated::TYPE,
                store::v1::MenuItemRemoved::TYPE,
            ],
        )
    }
}

fn replica_store(s: Option<store::v1::Store>) -> Result<MenuStore, PolicyError> {
    let s = s.ok_or_else(|| PolicyError::Permanent("the event carries no store".into()))?;
    Ok(MenuStore {
        store_id: s.store_id,
        name: s.name,
        open: s.open,
        version: s.version,
    })
}

fn replica_item(i: Option<store::v1::MenuItem>) -> Result<(String, MenuEntry), PolicyError> {
    let i = i.ok_or_else(|| PolicyError::Permanent("the event carries no item".into()))?;
    let price = fd_chassis::money::Money::from_proto(i.price.as_ref(), "price")
        .map_err(|v| PolicyError::Permanent(format!("the item's price is not valid: {v:?}")))?;
    Ok((
        i.store_id,
        MenuEntry {
            menu_item_id: i.menu_item_id,
            name: i.name,
            price: Some(price),
            available: i.available,
            removed: false,
            version: i.version,
        },
    ))
}

#[async_trait::async_trait]
impl Policy for MenuReplica {
    async fn handle(&self, tx: &mut AnyConnection, msg: &Incoming) -> Result<(), PolicyError> {
        let applied = match msg.subject.as_str() {
            store::v1::StoreCreated::TYPE => {
                let e: store::v1::StoreCreated = msg.decode()?;
                db::apply_store(&mut *tx, &replica_store(e.store)?).await?
            }
            store::v1::StoreUpdated::TYPE => {
                let e: store::v1::StoreUpdated = msg.decode()?;
                db::apply_store(&mut *tx, &replica_store(e.store)?).await?
            }
            store::v1::MenuItemAdded::TYPE => {
                let e: store::v1::MenuItemAdded = msg.decode()?;
                let (store_id, entry) = replica_item(e.item)?;
                db::apply_item(&mut *tx, &store_id, &entry).await?
            }
            store::v1::MenuItemUpdated::TYPE => {
                let e: store::v1::MenuItemUpdated = msg.decode()?;
                let (store_id, entry) = replica_item(e.item)?;
                db::apply_item(&mut *tx, &store_id, &entry).await?
            }
            store::v1::MenuItemRemoved::TYPE => {
                let e: store::v1::MenuItemRemoved = msg.decode()?;
                let version = e.metadata.as_ref().map_or(0, |m| m.aggregate_version);
                let entry = MenuEntry {
                    menu_item_id: e.menu_item_id,
                    name: String::new(),
                    price: None,
                    available: false,
                    removed: true,
                    version,
                };
                db::apply_item(&mut *tx, &e.store_id, &entry).await?
            }
            other => return Err(PolicyError::Permanent(format!("unexpected event {other}"))),
        };
        tracing::debug!(event = %msg.subject, applied, "menu replica");
        Ok(())
    }
}
