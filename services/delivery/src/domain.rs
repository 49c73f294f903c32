//! The Delivery aggregate: a pure state machine.
//!
//! ```text
//! WAITING_FOR_PICKUP ──pick up──▶ IN_TRANSIT ──complete──▶ DELIVERED
//!        └──────────────┴── order cancelled ──▶ CANCELLED
//! ```

/// A delivery of one order (the aggregate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub delivery_id: String,
    pub order_id: String,
    pub store_id: String,
    pub customer_id: String,
    pub rider_id: String,
    pub state: DeliveryState,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Trace context of the saga (the CookingFinished processing), JSON.
    pub trace_context: String,
}

impl Delivery {
    /// True for the CANCELLED placeholder a cancellation leaves when it arrives before the
    /// delivery exists (a late CookingFinished finds it and leaves it alone).
    pub fn is_tombstone(&self) -> bool {
        self.store_id.is_empty()
    }

    /// The delivery's position in its life: the aggregate version of its events.
    pub fn version(&self) -> i64 {
        match self.state {
            DeliveryState::WaitingForPickup => 1,
            DeliveryState::InTransit => 2,
            DeliveryState::Delivered | DeliveryState::Cancelled => 3,
        }
    }

    /// `rider` picks it up: the new delivery, or `None` if that rider already has it.
    pub fn pick_up(&self, rider: &str, now_ms: i64) -> Result<Option<Delivery>, NotAllowed> {
        Ok(
            pick_up(self.state, &self.rider_id, rider)?.then(|| Delivery {
                state: DeliveryState::InTransit,
                rider_id: rider.to_string(),
                updated_at_ms: now_ms,
                ..self.clone()
            }),
        )
    }

    /// The rider hands it over.
    pub fn complete(&self, now_ms: i64) -> Result<Option<Delivery>, NotAllowed> {
        Ok(complete(self.state)?.then(|| self.moved(DeliveryState::Delivered, now_ms)))
    }

    /// The order was cancelled: the cancelled delivery, or `None` if delivered or cancelled.
    pub fn cancel(&self, now_ms: i64) -> Option<Delivery> {
        cancel(self.state).then(|| self.moved(DeliveryState::Cancelled, now_ms))
    }

    fn moved(&self, to: DeliveryState, now_ms: i64) -> Delivery {
        Delivery {
            state: to,
            updated_at_ms: now_ms,
            ..self.clone()
        }
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Cooked food waits for a rider.
    WaitingForPickup,
    /// A rider has it.
    InTransit,
    /// Handed over. Final.
    Delivered,
    /// The order was cancelled. Final.
    Cancelled,
}

impl DeliveryState {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WaitingForPickup => "WAITING_FOR_PICKUP",
            Self::InTransit => "IN_TRANSIT",
            Self::Delivered => "DELIVERED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::WaitingForPickup,
            Self::InTransit,
            Self::Delivered,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// A command the delivery's state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAllowed(pub String);

/// Pick up by `rider`: WAITING → IN_TRANSIT. The same rider again is a no-op.
pub fn pick_up(s: DeliveryState, current_rider: &str, rider: &str) -> Result<bool, NotAllowed> {
    match s {
        DeliveryState::WaitingForPickup => Ok(true),
        DeliveryState::InTransit if current_rider == rider => Ok(false),
        DeliveryState::InTransit => Err(NotAllowed(format!(
            "already picked up by rider {current_rider}"
        ))),
        other => Err(NotAllowed(format!("the delivery is {}", other.as_str()))),
    }
}

/// Complete: IN_TRANSIT → DELIVERED; again is a no-op.
pub fn complete(s: DeliveryState) -> Result<bool, NotAllowed> {
    match s {
        DeliveryState::InTransit => Ok(true),
        DeliveryState::Delivered => Ok(false),
        other => Err(NotAllowed(format!(
            "the delivery is {}; pick it up first",
            other.as_str()
        ))),
    }
}

/// The order was cancelled: cancel unless delivered (or already cancelled).
pub fn cancel(s: DeliveryState) -> bool {
    matches!(
        s,
        DeliveryState::WaitingForPickup | DeliveryState::InTransit
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryState::*;

    #[test]
    fn state_machine() {
        assert_eq!(pick_up(WaitingForPickup, "", "r1"), Ok(true));
        assert_eq!(pick_up(InTransit, "r1", "r1"), Ok(false));
        assert!(pick_up(InTransit, "r1", "r2").is_err());
        assert!(pick_up(Cancelled, "", "r1").is_err());
        assert_eq!(complete(InTransit), Ok(true));
        assert_eq!(complete(Delivered), Ok(false));
        assert!(complete(WaitingForPickup).is_err());
        assert!(cancel(WaitingForPickup) && cancel(InTransit));
        assert!(!cancel(Delivered) && !cancel(Cancelled));
        for s in [WaitingForPickup, InTransit, Delivered, Cancelled] {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
        }
    }
}
