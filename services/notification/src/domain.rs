//! What a customer is told for each visible status change, and the notification's life.
//! Pure: the event types that map to [`Visible`] are named in `policies.rs`.

/// The customer-visible status changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visible {
    /// Placed and paid.
    OrderPlaced,
    /// The store accepted.
    OrderAccepted,
    /// Cooked.
    CookingFinished,
    /// A rider has it.
    DeliveryStarted,
    /// Handed over.
    Delivered,
    /// Cancelled (by the customer or the store).
    OrderCancelled,
}

impl Visible {
    /// Every visible change.
    pub const ALL: [Visible; 6] = [
        Self::OrderPlaced,
        Self::OrderAccepted,
        Self::CookingFinished,
        Self::DeliveryStarted,
        Self::Delivered,
        Self::OrderCancelled,
    ];
}

/// The message for a visible change of `order_id`; `reason` is used for cancellations.
pub fn message(change: Visible, order_id: &str, reason: &str) -> String {
    let short = order_id.get(..8).unwrap_or(order_id);
    match change {
        Visible::OrderPlaced => format!("Order {short} is placed and paid. The store has it."),
        Visible::OrderAccepted => format!("The store accepted order {short} and is cooking."),
        Visible::CookingFinished => format!("Order {short} is ready and waits for a rider."),
        Visible::DeliveryStarted => {
            format!("A rider picked up order {short}; it is on the way.")
        }
        Visible::Delivered => format!("Order {short} was delivered. Enjoy your meal!"),
        Visible::OrderCancelled => {
            format!("Order {short} was cancelled ({reason}). Your payment is being refunded.")
        }
    }
}

/// How a notification reaches the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// The service log.
    Log,
    /// An HTTP(S) webhook.
    Webhook,
}

/// Where a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// The channel took it.
    Sent,
    /// Every attempt failed; given up (kept, with the last error).
    Failed,
}

macro_rules! storage_names {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// Storage name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
            /// Parses a storage name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($name => Some(Self::$variant),)* _ => None }
            }
        }
    };
}
storage_names!(ChannelKind { Log => "LOG", Webhook => "WEBHOOK" });
storage_names!(SendStatus { Pending => "PENDING", Sent => "SENT", Failed => "FAILED" });

/// One notification to one customer about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub notification_id: String,
    pub customer_id: String,
    pub order_id: String,
    pub source_event_type: String,
    pub source_event_id: String,
    pub message: String,
    pub channel: ChannelKind,
    pub status: SendStatus,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_error: String,
    pub created_at_ms: i64,
    pub sent_at_ms: i64,
}

/// What to do after failed attempt number `attempts` (1-based): try again at the returned
/// time, or give up (`None`) once `max_attempts` have failed.
pub fn after_failure(attempts: i64, max_attempts: i64, now_ms: i64) -> Option<i64> {
    (attempts < max_attempts).then(|| now_ms + backoff_ms(attempts))
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
        let msgs: std::collections::HashSet<_> = Visible::ALL
            .iter()
            .map(|v| message(*v, "0123456789", "too late"))
            .collect();
        assert_eq!(msgs.len(), Visible::ALL.len());
        assert!(message(Visible::OrderCancelled, "0123456789", "too late").contains("too late"));
    }

    #[test]
    fn retries_are_bounded() {
        assert_eq!(after_failure(1, 3, 0), Some(1000));
        assert_eq!(after_failure(2, 3, 0), Some(2000));
        assert_eq!(after_failure(3, 3, 0), None, "the third failure gives up");
        for s in [SendStatus::Pending, SendStatus::Sent, SendStatus::Failed] {
            assert_eq!(SendStatus::parse(s.as_str()), Some(s));
        }
        for c in [ChannelKind::Log, ChannelKind::Webhook] {
            assert_eq!(ChannelKind::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(
            [1, 2, 3, 7, 20].map(backoff_ms),
            [1000, 2000, 4000, 60_000, 60_000]
        );
    }
}
