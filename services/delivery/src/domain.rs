//! The Delivery aggregate: a pure state machine.
//!
//! ```text
//! WAITING_FOR_PICKUP ──pick up──▶ IN_TRANSIT ──complete──▶ DELIVERED
//!        └──────────────┴── order cancelled ──▶ CANCELLED
//! ```

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
    /// Storage name (also the proto enum suffix).
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
