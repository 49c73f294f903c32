//! The Order aggregate: validation of new orders, the state machine, pure and I/O-free.
//!
//! Field paths in violations (`items[2].quantity`) are the request's, so that the gRPC adapter
//! can pass them to clients as they are.

use fd_chassis::errors::Violation;
// `Order` keeps its facts; everything shown to customers is derived from them.
use fd_chassis::money::Money;
use serde::{Deserialize, Serialize};

/// Longest customer, store and menu item id.
pub const MAX_ID_LEN: usize = 64;
/// Longest idempotency key.
pub const MAX_KEY_LEN: usize = 128;
/// Longest item name.
pub const MAX_NAME_LEN: usize = 200;
/// Longest delivery address and cancellation reason.
pub const MAX_TEXT_LEN: usize = 500;
/// Most items in one order.
pub const MAX_ITEMS: usize = 50;
/// Most of one item.
pub const MAX_QUANTITY: i32 = 100;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderState {
    /// Paid and sent to the store.
    Placed,
    /// The store is cooking.
    Accepted,
    /// Cooked, waiting for a rider.
    ReadyForPickup,
    /// On the way.
    OutForDelivery,
    /// Delivered. Final.
    Delivered,
    /// Cancelled or rejected. Final.
    Cancelled,
}

impl OrderState {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Placed => "PLACED",
            Self::Accepted => "ACCEPTED",
            Self::ReadyForPickup => "READY_FOR_PICKUP",
            Self::OutForDelivery => "OUT_FOR_DELIVERY",
            Self::Delivered => "DELIVERED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Placed,
            Self::Accepted,
            Self::ReadyForPickup,
            Self::OutForDelivery,
            Self::Delivered,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// No further change is possible.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Cancelled)
    }
}

/// One ordered item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    /// The store's menu item id.
    pub menu_item_id: String,
    /// Display name.
    pub name: String,
    /// How many (1..=[`MAX_QUANTITY`]).
    pub quantity: i32,
    /// Price of one.
    pub unit_price: Money,
}

/// An item as it arrives, before validation.
#[derive(Debug, Clone)]
pub struct RawItem<'a> {
    /// `menu_item_id`.
    pub menu_item_id: &'a str,
    /// `name`.
    pub name: &'a str,
    /// `quantity`.
    pub quantity: i32,
    /// `unit_price`, already checked by `Money::from_proto` at the API edge.
    pub unit_price: Result<Money, Vec<Violation>>,
}

/// A PlaceOrder request as it arrives, before validation.
#[derive(Debug, Clone)]
pub struct RawPlaceOrder<'a> {
    /// `idempotency_key`.
    pub idempotency_key: &'a str,
    /// `customer_id`.
    pub customer_id: &'a str,
    /// `store_id`.
    pub store_id: &'a str,
    /// `items`.
    pub items: Vec<RawItem<'a>>,
    /// `delivery_address`.
    pub delivery_address: &'a str,
}

/// A valid order to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// Client's idempotency key.
    pub idempotency_key: String,
    /// Customer.
    pub customer_id: String,
    /// Store.
    pub store_id: String,
    /// Items, at least one.
    pub items: Vec<LineItem>,
    /// Delivery address.
    pub delivery_address: String,
    /// Sum of the items.
    pub total: Money,
}

fn text(value: &str, field: &str, max: usize, errors: &mut Vec<Violation>) -> String {
    if value.trim().is_empty() {
        errors.push(Violation::new(field, "required"));
    } else if value.chars().count() > max {
        errors.push(Violation::new(field, format!("at most {max} characters")));
    } else if value.chars().any(char::is_control) {
        errors.push(Violation::new(field, "must not contain control characters"));
    }
    value.to_string()
}

impl NewOrder {
    /// Validates a request, reporting every bad field.
    pub fn parse(raw: RawPlaceOrder<'_>) -> Result<Self, Vec<Violation>> {
        let mut errors = Vec::new();
        let idempotency_key = text(
            raw.idempotency_key,
            "idempotency_key",
            MAX_KEY_LEN,
            &mut errors,
        );
        let customer_id = text(raw.customer_id, "customer_id", MAX_ID_LEN, &mut errors);
        let store_id = text(raw.store_id, "store_id", MAX_ID_LEN, &mut errors);
        let delivery_address = text(
            raw.delivery_address,
            "delivery_address",
            MAX_TEXT_LEN,
            &mut errors,
        );
        if raw.items.is_empty() {
            errors.push(Violation::new("items", "at least one item is required"));
        } else if raw.items.len() > MAX_ITEMS {
            errors.push(Violation::new(
                "items",
                format!("at most {MAX_ITEMS} items"),
            ));
        }
        let mut items = Vec::with_capacity(raw.items.len().min(MAX_ITEMS));
        for (i, item) in raw.items.into_iter().enumerate().take(MAX_ITEMS) {
            let f = |name: &str| format!("items[{i}].{name}");
            let menu_item_id = text(
                item.menu_item_id,
                &f("menu_item_id"),
                MAX_ID_LEN,
                &mut errors,
            );
            let name = text(item.name, &f("name"), MAX_NAME_LEN, &mut errors);
            if !(1..=MAX_QUANTITY).contains(&item.quantity) {
                errors.push(Violation::new(
                    f("quantity"),
                    format!("must be between 1 and {MAX_QUANTITY}"),
                ));
            }
            match item.unit_price {
                Ok(unit_price) => items.push(LineItem {
                    menu_item_id,
                    name,
                    quantity: item.quantity,
                    unit_price,
                }),
                Err(v) => errors.extend(v),
            }
        }
        let total = if errors.is_empty() {
            total(&items).map_err(|v| errors.push(v)).ok()
        } else {
            None
        };
        match total {
            Some(total) if errors.is_empty() => Ok(Self {
                idempotency_key,
                customer_id,
                store_id,
                items,
                delivery_address,
                total,
            }),
            _ => Err(errors),
        }
    }
}

/// A line of a v2 request as it arrives.
#[derive(Debug, Clone, Copy)]
pub struct RawLine<'a> {
    /// `menu_item_id`.
    pub menu_item_id: &'a str,
    /// `quantity`.
    pub quantity: i32,
}

/// What a customer asks for, before the menu prices it: from a v2 request, or from a v1
/// request whose claimed unit prices the menu must confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart {
    /// Client's idempotency key (empty for a quote).
    pub idempotency_key: String,
    /// Customer (empty for a quote).
    pub customer_id: String,
    /// Store.
    pub store_id: String,
    /// Lines, at least one.
    pub lines: Vec<crate::menu::Wanted>,
    /// Delivery address (empty for a quote).
    pub delivery_address: String,
}

fn parse_lines(lines: &[RawLine<'_>], errors: &mut Vec<Violation>) -> Vec<crate::menu::Wanted> {
    if lines.is_empty() {
        errors.push(Violation::new("lines", "at least one line is required"));
    } else if lines.len() > MAX_ITEMS {
        errors.push(Violation::new(
            "lines",
            format!("at most {MAX_ITEMS} lines"),
        ));
    }
    let mut wanted = Vec::with_capacity(lines.len().min(MAX_ITEMS));
    for (i, line) in lines.iter().enumerate().take(MAX_ITEMS) {
        let menu_item_id = text(
            line.menu_item_id,
            &format!("lines[{i}].menu_item_id"),
            MAX_ID_LEN,
            errors,
        );
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            errors.push(Violation::new(
                format!("lines[{i}].quantity"),
                format!("must be between 1 and {MAX_QUANTITY}"),
            ));
        }
        wanted.push(crate::menu::Wanted {
            menu_item_id,
            quantity: line.quantity,
            claimed: None,
        });
    }
    wanted
}

impl Cart {
    /// Validates a v2 PlaceOrder, reporting every bad field.
    pub fn parse(
        idempotency_key: &str,
        customer_id: &str,
        store_id: &str,
        lines: &[RawLine<'_>],
        delivery_address: &str,
    ) -> Result<Self, Vec<Violation>> {
        let mut errors = Vec::new();
        let cart = Cart {
            idempotency_key: text(idempotency_key, "idempotency_key", MAX_KEY_LEN, &mut errors),
            customer_id: text(customer_id, "customer_id", MAX_ID_LEN, &mut errors),
            store_id: text(store_id, "store_id", MAX_ID_LEN, &mut errors),
            lines: parse_lines(lines, &mut errors),
            delivery_address: text(
                delivery_address,
                "delivery_address",
                MAX_TEXT_LEN,
                &mut errors,
            ),
        };
        if errors.is_empty() {
            Ok(cart)
        } else {
            Err(errors)
        }
    }

    /// Validates a v2 QuoteOrder (a store and lines only).
    pub fn parse_quote(store_id: &str, lines: &[RawLine<'_>]) -> Result<Self, Vec<Violation>> {
        let mut errors = Vec::new();
        let cart = Cart {
            idempotency_key: String::new(),
            customer_id: String::new(),
            store_id: text(store_id, "store_id", MAX_ID_LEN, &mut errors),
            lines: parse_lines(lines, &mut errors),
            delivery_address: String::new(),
        };
        if errors.is_empty() {
            Ok(cart)
        } else {
            Err(errors)
        }
    }

    /// A valid v1 request: its unit prices are claims the menu must confirm.
    pub fn from_v1(claimed: &NewOrder) -> Self {
        Cart {
            idempotency_key: claimed.idempotency_key.clone(),
            customer_id: claimed.customer_id.clone(),
            store_id: claimed.store_id.clone(),
            lines: claimed
                .items
                .iter()
                .map(|i| crate::menu::Wanted {
                    menu_item_id: i.menu_item_id.clone(),
                    quantity: i.quantity,
                    claimed: Some(i.unit_price),
                })
                .collect(),
            delivery_address: claimed.delivery_address.clone(),
        }
    }

    /// The request's list field, as violations name it.
    pub fn list_field(&self) -> &'static str {
        if self.lines.iter().any(|l| l.claimed.is_some()) {
            "items"
        } else {
            "lines"
        }
    }

    /// The order to pay for, priced by the menu.
    pub fn priced(self, priced: crate::menu::Priced) -> NewOrder {
        NewOrder {
            idempotency_key: self.idempotency_key,
            customer_id: self.customer_id,
            store_id: self.store_id,
            items: priced.items,
            delivery_address: self.delivery_address,
            total: priced.total,
        }
    }
}

/// Sum of quantity × unit price; all items must share the first item's currency.
fn total(items: &[LineItem]) -> Result<Money, Violation> {
    let mut sum: Option<Money> = None;
    for (i, item) in items.iter().enumerate() {
        let line = item
            .unit_price
            .times(i64::from(item.quantity))
            .ok_or_else(|| Violation::new(format!("items[{i}].unit_price"), "amount too large"))?;
        sum = Some(match sum {
            None => line,
            Some(s) if s.currency() != line.currency() => {
                return Err(Violation::new(
                    format!("items[{i}].unit_price.currency_code"),
                    format!("all items must be priced in {}", s.currency()),
                ))
            }
            Some(s) => s
                .plus(&line)
                .ok_or_else(|| Violation::new("items", "order total too large"))?,
        });
    }
    sum.ok_or_else(|| Violation::new("items", "at least one item is required"))
}

/// The id of the order a customer's idempotency key creates. Deriving it (UUID v5) instead of
/// drawing it makes a retried PlaceOrder name the same order, so Payment.Authorize, which is
/// idempotent per order, charges once even if the first attempt died after paying.
pub fn order_id_for(customer_id: &str, idempotency_key: &str) -> uuid::Uuid {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f72_6465_722e_7631_8000_0000_0000_0001);
    let name = format!("{}:{customer_id}:{idempotency_key}", customer_id.len());
    uuid::Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

/// Something that happened to an order, as the order context learns it: from its own
/// commands (placed, cancelled) or from other contexts' events. The order's state, sub-statuses
/// and timeline are derived from the *set* of facts, so the view converges to the same result
/// whatever order events arrive in and however often they are redelivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Fact {
    /// Placed and paid.
    Placed,
    /// The store accepted it (OrderAccepted).
    Accepted,
    /// The store rejected it (OrderRejected).
    Rejected,
    /// Cooked (CookingFinished); a delivery now waits for a rider.
    CookingFinished,
    /// A rider picked it up (DeliveryStarted).
    DeliveryStarted,
    /// Delivered (Delivered).
    Delivered,
    /// Its delivery was cancelled (DeliveryCancelled).
    DeliveryCancelled,
    /// Its payment was refunded (PaymentRefunded).
    PaymentRefunded,
    /// Cancelled by the customer or because the store rejected it.
    Cancelled,
}

impl Fact {
    /// The order state this fact moves the order to, if it is a state change.
    pub fn state(self) -> Option<OrderState> {
        match self {
            Self::Placed => Some(OrderState::Placed),
            Self::Accepted => Some(OrderState::Accepted),
            Self::CookingFinished => Some(OrderState::ReadyForPickup),
            Self::DeliveryStarted => Some(OrderState::OutForDelivery),
            Self::Delivered => Some(OrderState::Delivered),
            Self::Cancelled => Some(OrderState::Cancelled),
            Self::Rejected | Self::DeliveryCancelled | Self::PaymentRefunded => None,
        }
    }
}

/// One fact with when it happened (the event's `occurred_at`) and a detail such as a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// What happened.
    pub fact: Fact,
    /// When, in ms since the epoch.
    pub at_ms: i64,
    /// Detail such as a reason.
    pub detail: String,
}

/// An order and its status view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Id (UUID).
    pub order_id: String,
    /// What was ordered, by whom, where to.
    pub request: NewOrder,
    /// Payment that authorized the total.
    pub payment_id: String,
    /// Every fact known, in the order of [`Order::apply`]'s canonical sort.
    pub timeline: Vec<TimelineEntry>,
    /// Optimistic-concurrency version, +1 per change.
    pub version: i64,
    /// Placed at, ms.
    pub created_at_ms: i64,
    /// Derived: current state.
    pub state: OrderState,
    /// Derived: authorized or refunded.
    pub payment_status: PaymentStatus,
    /// Derived: the owner's latest decision, if any.
    pub store_status: Option<StoreStatus>,
    /// Derived: where the delivery is, once there is one.
    pub delivery_status: Option<DeliveryStatus>,
    /// Derived: why it was cancelled.
    pub cancel_reason: String,
    /// Derived: time of the latest fact, ms.
    pub updated_at_ms: i64,
}

/// What the payment context last said (derived from the facts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// The total is authorized (every order starts so: an unpaid order never exists).
    Authorized,
    /// The payment was refunded after a cancellation.
    Refunded,
}

/// What the store last said (derived); `None` on an order until the owner acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreStatus {
    /// The owner accepted and is cooking.
    Accepted,
    /// The owner refused.
    Rejected,
    /// Cooked.
    CookingFinished,
}

/// What delivery last said (derived); `None` until the food is cooked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Cooked food waits for a rider.
    WaitingForPickup,
    /// A rider has it.
    InTransit,
    /// Handed over.
    Delivered,
    /// Cancelled with the order.
    Cancelled,
}

impl PaymentStatus {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorized => "AUTHORIZED",
            Self::Refunded => "REFUNDED",
        }
    }
}

impl StoreStatus {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "ACCEPTED",
            Self::Rejected => "REJECTED",
            Self::CookingFinished => "COOKING_FINISHED",
        }
    }
}

impl DeliveryStatus {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WaitingForPickup => "WAITING_FOR_PICKUP",
            Self::InTransit => "IN_TRANSIT",
            Self::Delivered => "DELIVERED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// Why an order cannot be cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CancelError {
    /// It was delivered; the customer has the food.
    #[error("the order was delivered and can no longer be cancelled")]
    Delivered,
}

impl Order {
    /// Whether `cart` is a repeat of the request that placed this order (same store, address,
    /// items and quantities, and the same unit prices where the client sent them; names are
    /// the menu's and not compared).
    pub fn answers(&self, cart: &Cart) -> bool {
        let r = &self.request;
        r.store_id == cart.store_id
            && r.delivery_address == cart.delivery_address
            && r.items.len() == cart.lines.len()
            && r.items.iter().zip(&cart.lines).all(|(i, l)| {
                i.menu_item_id == l.menu_item_id
                    && i.quantity == l.quantity
                    && l.claimed.is_none_or(|c| c == i.unit_price)
            })
    }

    /// A new order, paid by `payment_id`.
    pub fn place(order_id: String, request: NewOrder, payment_id: String, now_ms: i64) -> Self {
        let mut o = Self {
            order_id,
            request,
            payment_id,
            timeline: Vec::new(),
            version: 0,
            created_at_ms: now_ms,
            state: OrderState::Placed,
            payment_status: PaymentStatus::Authorized,
            store_status: None,
            delivery_status: None,
            cancel_reason: String::new(),
            updated_at_ms: now_ms,
        };
        o.apply(Fact::Placed, now_ms, "order placed and payment authorized");
        o
    }

    fn has(&self, fact: Fact) -> bool {
        self.timeline.iter().any(|t| t.fact == fact)
    }

    /// Adds a fact. Returns false (and changes nothing) if the order already knew it: applying
    /// the same event twice is a no-op.
    pub fn apply(&mut self, fact: Fact, at_ms: i64, detail: &str) -> bool {
        if self.has(fact) {
            return false;
        }
        self.timeline.push(TimelineEntry {
            fact,
            at_ms,
            detail: detail.to_string(),
        });
        // A canonical order, independent of arrival order.
        self.timeline.sort_by_key(|t| (t.at_ms, t.fact));
        self.version += 1;
        self.derive();
        true
    }

    /// Recomputes the derived fields from the set of facts.
    fn derive(&mut self) {
        use Fact::*;
        // A cancellation that was accepted wins over a later delivery report: it was only
        // accepted because the order did not know of a delivery at the time.
        self.state = [
            Cancelled,
            Delivered,
            DeliveryStarted,
            CookingFinished,
            Accepted,
        ]
        .into_iter()
        .find(|f| self.has(*f))
        .and_then(Fact::state)
        .unwrap_or(OrderState::Placed);
        self.payment_status = if self.has(PaymentRefunded) {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::Authorized
        };
        self.store_status = [
            (Rejected, StoreStatus::Rejected),
            (CookingFinished, StoreStatus::CookingFinished),
            (Accepted, StoreStatus::Accepted),
        ]
        .into_iter()
        .find(|(f, _)| self.has(*f))
        .map(|(_, s)| s);
        self.delivery_status = [
            (DeliveryCancelled, DeliveryStatus::Cancelled),
            (Delivered, DeliveryStatus::Delivered),
            (DeliveryStarted, DeliveryStatus::InTransit),
            (CookingFinished, DeliveryStatus::WaitingForPickup),
        ]
        .into_iter()
        .find(|(f, _)| self.has(*f))
        .map(|(_, s)| s);
        self.cancel_reason = self
            .timeline
            .iter()
            .find(|t| t.fact == Cancelled)
            .map(|t| t.detail.clone())
            .unwrap_or_default();
        self.updated_at_ms = self
            .timeline
            .iter()
            .map(|t| t.at_ms)
            .max()
            .unwrap_or(self.created_at_ms);
    }

    /// Rebuilds derived fields after loading from storage.
    pub fn from_stored(mut self) -> Self {
        self.derive();
        self
    }

    /// Cancels the order. `Ok(true)` if it changed, `Ok(false)` if it was already cancelled.
    pub fn cancel(&mut self, reason: &str, now_ms: i64) -> Result<bool, CancelError> {
        match self.state {
            OrderState::Cancelled => Ok(false),
            OrderState::Delivered => Err(CancelError::Delivered),
            _ => {
                let reason = if reason.trim().is_empty() {
                    "cancelled by the customer"
                } else {
                    reason
                };
                Ok(self.apply(Fact::Cancelled, now_ms, reason))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Result<Money, Vec<Violation>> {
        Money::parse(minor, "EUR", "unit_price")
    }

    fn item(q: i32, price: i64) -> RawItem<'static> {
        RawItem {
            menu_item_id: "pizza",
            name: "Pizza",
            quantity: q,
            unit_price: eur(price),
        }
    }

    fn raw(items: Vec<RawItem<'static>>) -> RawPlaceOrder<'static> {
        RawPlaceOrder {
            idempotency_key: "k1",
            customer_id: "alice",
            store_id: "store-1",
            items,
            delivery_address: "1 Main St",
        }
    }

    fn fields(e: &[Violation]) -> Vec<&str> {
        e.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn valid_order_totals_its_items() {
        let o = NewOrder::parse(raw(vec![item(2, 450), item(1, 300)])).expect("valid");
        assert_eq!(o.total.minor(), 1200);
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut r = raw(vec![item(0, 100), item(101, -1)]);
        r.customer_id = "";
        r.store_id = "  ";
        let e = NewOrder::parse(r).expect_err("bad");
        assert_eq!(
            fields(&e),
            [
                "customer_id",
                "store_id",
                "items[0].quantity",
                "items[1].quantity",
                "unit_price.amount_minor"
            ]
        );
    }

    #[test]
    fn empty_and_oversized_lists_are_rejected() {
        assert_eq!(
            fields(&NewOrder::parse(raw(vec![])).expect_err("empty")),
            ["items"]
        );
        let many = (0..=MAX_ITEMS).map(|_| item(1, 1)).collect();
        assert_eq!(
            fields(&NewOrder::parse(raw(many)).expect_err("many")),
            ["items"]
        );
    }

    #[test]
    fn mixed_currencies_are_rejected() {
        let mut usd = item(1, 100);
        usd.unit_price = Money::parse(100, "USD", "items[1].unit_price");
        let e = NewOrder::parse(raw(vec![item(1, 100), usd])).expect_err("mixed");
        assert_eq!(fields(&e), ["items[1].unit_price.currency_code"]);
    }

    #[test]
    fn huge_text_and_control_characters_are_rejected() {
        let long = "x".repeat(MAX_TEXT_LEN + 1);
        let mut r = raw(vec![item(1, 1)]);
        r.delivery_address = &long;
        r.idempotency_key = "a\u{0}b";
        let e = NewOrder::parse(r).expect_err("bad");
        assert_eq!(fields(&e), ["idempotency_key", "delivery_address"]);
    }

    #[test]
    fn a_v2_cart_names_every_bad_line() {
        let lines = [
            RawLine {
                menu_item_id: "pizza",
                quantity: 1,
            },
            RawLine {
                menu_item_id: "",
                quantity: 0,
            },
        ];
        let e = Cart::parse("k", "alice", "s", &lines, "").expect_err("bad");
        assert_eq!(
            fields(&e),
            [
                "lines[1].menu_item_id",
                "lines[1].quantity",
                "delivery_address"
            ]
        );
        let e = Cart::parse_quote("s", &[]).expect_err("empty");
        assert_eq!(fields(&e), ["lines"]);
        let ok = Cart::parse_quote("s", &lines[..1]).expect("valid");
        assert_eq!(ok.list_field(), "lines");
    }

    #[test]
    fn a_repeat_must_ask_for_the_same_items_at_the_same_prices() {
        let claimed = NewOrder::parse(raw(vec![item(2, 450)])).expect("valid");
        let cart = Cart::from_v1(&claimed);
        assert_eq!(cart.list_field(), "items");
        let order = Order::place("o".into(), claimed.clone(), "p".into(), 1);
        assert!(order.answers(&cart));
        let mut v2 = cart.clone();
        v2.lines[0].claimed = None;
        assert!(order.answers(&v2), "a v2 retry of a v1 order");
        let mut cheaper = cart.clone();
        cheaper.lines[0].claimed = eur(1).ok();
        assert!(!order.answers(&cheaper));
        let mut more = cart;
        more.lines[0].quantity = 3;
        assert!(!order.answers(&more));
    }

    #[test]
    fn order_id_is_stable_per_customer_and_key() {
        assert_eq!(order_id_for("alice", "k"), order_id_for("alice", "k"));
        assert_ne!(order_id_for("alice", "k"), order_id_for("bob", "k"));
        // The length prefix keeps ("a:b", "c") and ("a", "b:c") apart.
        assert_ne!(order_id_for("a:b", "c"), order_id_for("a", "b:c"));
    }

    #[test]
    fn cancel_state_machine() {
        let req = NewOrder::parse(raw(vec![item(1, 100)])).expect("valid");
        let mut o = Order::place("o1".into(), req, "p1".into(), 10);
        assert_eq!(o.cancel("changed my mind", 20), Ok(true));
        assert_eq!(o.state, OrderState::Cancelled);
        assert_eq!(o.version, 2);
        assert_eq!(
            o.cancel("again", 30),
            Ok(false),
            "second cancel is harmless"
        );
        assert_eq!(o.timeline.len(), 2, "no second timeline entry");
        o.state = OrderState::Delivered;
        assert_eq!(o.cancel("too late", 40), Err(CancelError::Delivered));
    }

    #[test]
    fn every_non_final_state_can_be_cancelled() {
        for (fact, s) in [
            (Fact::Placed, OrderState::Placed),
            (Fact::Accepted, OrderState::Accepted),
            (Fact::CookingFinished, OrderState::ReadyForPickup),
            (Fact::DeliveryStarted, OrderState::OutForDelivery),
        ] {
            let req = NewOrder::parse(raw(vec![item(1, 100)])).expect("valid");
            let mut o = Order::place("o".into(), req, "p".into(), 1);
            o.apply(fact, 2, "");
            assert_eq!(o.state, s);
            assert_eq!(o.cancel("", 3), Ok(true), "{s:?}");
            assert_eq!(o.cancel_reason, "cancelled by the customer");
            assert_eq!(OrderState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn sub_statuses_follow_the_facts() {
        let req = NewOrder::parse(raw(vec![item(1, 100)])).expect("valid");
        let mut o = Order::place("o".into(), req, "p".into(), 1);
        assert_eq!(
            (o.payment_status, o.store_status, o.delivery_status),
            (PaymentStatus::Authorized, None, None)
        );
        o.apply(Fact::Accepted, 2, "");
        o.apply(Fact::CookingFinished, 3, "");
        assert_eq!(
            (o.store_status, o.delivery_status),
            (
                Some(StoreStatus::CookingFinished),
                Some(DeliveryStatus::WaitingForPickup)
            )
        );
        o.apply(Fact::Cancelled, 4, "bye");
        o.apply(Fact::DeliveryCancelled, 5, "");
        o.apply(Fact::PaymentRefunded, 6, "");
        assert_eq!(
            (o.state, o.payment_status, o.delivery_status),
            (
                OrderState::Cancelled,
                PaymentStatus::Refunded,
                Some(DeliveryStatus::Cancelled)
            )
        );
        assert!(
            !o.apply(Fact::PaymentRefunded, 7, ""),
            "a second refund report is a no-op"
        );
    }

    mod convergence {
        use super::*;
        use proptest::prelude::*;

        const FACTS: [Fact; 8] = [
            Fact::Accepted,
            Fact::Rejected,
            Fact::CookingFinished,
            Fact::DeliveryStarted,
            Fact::Delivered,
            Fact::DeliveryCancelled,
            Fact::PaymentRefunded,
            Fact::Cancelled,
        ];

        fn base() -> Order {
            let req = NewOrder::parse(raw(vec![item(1, 100)])).expect("valid");
            Order::place("o".into(), req, "p".into(), 1_000)
        }

        proptest! {
            /// Any set of events, delivered in any order and any number of times, gives the
            /// same view as delivering each once in time order.
            #[test]
            fn view_converges_whatever_the_arrival_order(
                picked in proptest::sample::subsequence(FACTS.to_vec(), 0..=FACTS.len()),
                times in proptest::collection::vec(1_000i64..2_000, FACTS.len()),
                deliveries in proptest::collection::vec(0usize..64, 0..40),
            ) {
                let events: Vec<(Fact, i64)> = picked.iter().zip(&times).map(|(f, t)| (*f, *t)).collect();
                let mut in_order = base();
                let mut sorted = events.clone();
                sorted.sort_by_key(|(f, t)| (*t, *f));
                for (f, t) in &sorted {
                    in_order.apply(*f, *t, "detail");
                }
                // Shuffled, with redeliveries: every event at least once, some many times.
                let mut shuffled = base();
                let mut arrivals: Vec<(Fact, i64)> = events.clone();
                for d in &deliveries {
                    if !events.is_empty() {
                        arrivals.insert(d % (arrivals.len() + 1), events[d % events.len()]);
                    }
                }
                let turn = deliveries.len() % arrivals.len().max(1);
                arrivals.rotate_left(turn);
                for (f, t) in arrivals.iter().rev() {
                    shuffled.apply(*f, *t, "detail");
                }
                prop_assert_eq!(shuffled, in_order);
            }
        }
    }

    mod hostile {
        use super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                Just(String::new()),
                "[a-z0-9-]{1,10}",
                "\\PC{0,80}", // any printable unicode
                ".{0,20}",    // includes control characters
                (0usize..3).prop_map(|k| "é".repeat(MAX_TEXT_LEN + k)), // multi-byte, at the bound
            ]
        }

        fn money() -> impl Strategy<Value = (i64, String)> {
            (
                prop_oneof![
                    Just(i64::MIN),
                    Just(i64::MAX),
                    Just(0i64),
                    Just(-1i64),
                    Just(fd_chassis::money::MAX_MINOR),
                    1i64..5000
                ],
                prop_oneof![
                    Just("EUR".to_string()),
                    Just("USD".to_string()),
                    "[A-Za-z]{0,4}"
                ],
            )
        }

        proptest! {
            /// Whatever arrives, parsing either rejects it with field violations or yields an
            /// order that keeps every rule: bounded sizes, positive prices, one currency, and a
            /// total that is exactly the sum (no overflow).
            #[test]
            fn any_request_is_rejected_or_valid(
                key in text(), customer in text(), store in text(), address in text(),
                items in proptest::collection::vec((text(), text(), any::<i32>(), money()), 0..60),
            ) {
                let raw = RawPlaceOrder {
                    idempotency_key: &key,
                    customer_id: &customer,
                    store_id: &store,
                    delivery_address: &address,
                    items: items.iter().enumerate().map(|(i, (id, name, q, (minor, cur)))| RawItem {
                        menu_item_id: id,
                        name,
                        quantity: *q,
                        unit_price: Money::parse(*minor, cur, &format!("items[{i}].unit_price")),
                    }).collect(),
                };
                match NewOrder::parse(raw) {
                    Err(violations) => prop_assert!(!violations.is_empty()),
                    Ok(o) => {
                        prop_assert!((1..=MAX_ITEMS).contains(&o.items.len()));
                        prop_assert!(o.customer_id.chars().count() <= MAX_ID_LEN && !o.customer_id.trim().is_empty());
                        prop_assert!(o.delivery_address.chars().count() <= MAX_TEXT_LEN);
                        let mut sum = 0i128;
                        for i in &o.items {
                            prop_assert!((1..=MAX_QUANTITY).contains(&i.quantity));
                            prop_assert!(i.unit_price.minor() > 0);
                            prop_assert_eq!(i.unit_price.currency(), o.total.currency());
                            sum += i128::from(i.unit_price.minor()) * i128::from(i.quantity);
                        }
                        prop_assert_eq!(sum, i128::from(o.total.minor()));
                    }
                }
            }
        }
    }
}
