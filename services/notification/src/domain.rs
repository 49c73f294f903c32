//! What a customer is told for each visible status change. Pure.

use fd_proto::{delivery, order, store, Event};

/// The customer-visible status events, with what to tell the customer.
pub const VISIBLE: [&str; 6] = [
    order::v1::OrderPlaced::TYPE,
    store::v1::OrderAccepted::TYPE,
    store::v1::CookingFinished::TYPE,
    delivery::v1::DeliveryStarted::TYPE,
    delivery::v1::Delivered::TYPE,
    order::v1::OrderCancelled::TYPE,
];

/// The message for an event of type `event_type`; `reason` is used for cancellations.
pub fn message(event_type: &str, order_id: &str, reason: &str) -> String {
    let short = order_id.get(..8).unwrap_or(order_id);
    match event_type {
        order::v1::OrderPlaced::TYPE => {
            format!("Order {short} is placed and paid. The store has it.")
        }
        store::v1::OrderAccepted::TYPE => {
            format!("The store accepted order {short} and is cooking.")
        }
        store::v1::CookingFinished::TYPE => {
            format!("Order {short} is ready and waits for a rider.")
        }
        delivery::v1::DeliveryStarted::TYPE => {
            format!("A rider picked up order {short}; it is on the way.")
        }
        delivery::v1::Delivered::TYPE => format!("Order {short} was delivered. Enjoy your meal!"),
        order::v1::OrderCancelled::TYPE => {
            format!("Order {short} was cancelled ({reason}). Your payment is being refunded.")
        }
        other => format!("Order {short}: {other}"),
    }
}

/// Delay before retry `attempt` (1-based): 1 s, 2 s, 4 s, ... capped at 60 s.
pub fn backoff_ms(attempt: i64) -> i64 {
    1000i64
        .saturating_mul(1i64 << attempt.clamp(1, 7).saturating_sub(1))
        .min(60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_event_has_its_own_message() {
        let msgs: std::collections::HashSet<_> = VISIBLE
            .iter()
            .map(|t| message(t, "0123456789", "too late"))
            .collect();
        assert_eq!(msgs.len(), VISIBLE.len());
        assert!(message(VISIBLE[5], "0123456789", "too late").contains("too late"));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(
            [1, 2, 3, 7, 20].map(backoff_ms),
            [1000, 2000, 4000, 60_000, 60_000]
        );
    }
}
