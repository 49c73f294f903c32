//! The store owner's ticket: a pure state machine.
//!
//! ```text
//! NEW ──accept──▶ ACCEPTED ──finish──▶ COOKING_FINISHED
//!  │                 │                      │
//!  └─reject─▶ REJECTED   (any but REJECTED) ─void─▶ VOIDED
//! ```
//! Repeating a command that already took effect is a no-op (`Ok(None)`).

use serde::{Deserialize, Serialize};

/// An item to cook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Menu item id.
    pub menu_item_id: String,
    /// Display name.
    pub name: String,
    /// How many.
    pub quantity: i32,
}

/// The store owner's ticket for one order (the aggregate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub order_id: String,
    pub store_id: String,
    pub customer_id: String,
    pub items: Vec<Item>,
    pub total_minor: i64,
    pub currency_code: String,
    pub state: TicketState,
    pub reject_reason: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Trace context of the saga (the OrderPlaced processing), JSON.
    pub trace_context: String,
}

impl Ticket {
    /// The VOIDED placeholder left by a cancellation that arrived before its order: the late
    /// OrderPlaced finds it and leaves it alone. The owner never sees it.
    pub fn tombstone(order_id: String, customer_id: String, now_ms: i64) -> Self {
        Ticket {
            order_id,
            store_id: String::new(),
            customer_id,
            items: Vec::new(),
            total_minor: 0,
            currency_code: String::new(),
            state: TicketState::Voided,
            reject_reason: String::new(),
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            trace_context: String::new(),
        }
    }

    /// True for a [`Ticket::tombstone`].
    pub fn is_tombstone(&self) -> bool {
        self.store_id.is_empty()
    }

    /// The ticket's position in its life: the aggregate version of its events.
    pub fn version(&self) -> i64 {
        match self.state {
            TicketState::New => 1,
            TicketState::Accepted | TicketState::Rejected => 2,
            TicketState::CookingFinished => 3,
            TicketState::Voided => 4,
        }
    }

    /// The owner accepts: the new ticket, or `None` if already accepted.
    pub fn accept(&self, now_ms: i64) -> Result<Option<Ticket>, NotAllowed> {
        Ok(accept(self.state)?.map(|to| self.moved(to, "", now_ms)))
    }

    /// The owner rejects, saying why.
    pub fn reject(&self, reason: &str, now_ms: i64) -> Result<Option<Ticket>, NotAllowed> {
        Ok(reject(self.state)?.map(|to| self.moved(to, reason, now_ms)))
    }

    /// The food is cooked.
    pub fn finish_cooking(&self, now_ms: i64) -> Result<Option<Ticket>, NotAllowed> {
        Ok(finish(self.state)?.map(|to| self.moved(to, "", now_ms)))
    }

    /// The order was cancelled.
    pub fn void(&self, now_ms: i64) -> Option<Ticket> {
        void(self.state).map(|to| self.moved(to, &self.reject_reason, now_ms))
    }

    fn moved(&self, to: TicketState, reason: &str, now_ms: i64) -> Ticket {
        Ticket {
            state: to,
            reject_reason: reason.to_string(),
            updated_at_ms: now_ms,
            ..self.clone()
        }
    }
}

/// Where a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketState {
    /// Waiting for the owner.
    New,
    /// Cooking.
    Accepted,
    /// Refused. Final.
    Rejected,
    /// Cooked. Final for the store.
    CookingFinished,
    /// The order was cancelled. Final.
    Voided,
}

impl TicketState {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::Accepted => "ACCEPTED",
            Self::Rejected => "REJECTED",
            Self::CookingFinished => "COOKING_FINISHED",
            Self::Voided => "VOIDED",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::New,
            Self::Accepted,
            Self::Rejected,
            Self::CookingFinished,
            Self::Voided,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// A command the ticket's state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the ticket is {state}; cannot {action}")]
pub struct NotAllowed {
    /// Current state.
    pub state: &'static str,
    /// What was asked.
    pub action: &'static str,
}

fn not_allowed(state: TicketState, action: &'static str) -> NotAllowed {
    NotAllowed {
        state: state.as_str(),
        action,
    }
}

/// Accept: NEW → ACCEPTED.
pub fn accept(s: TicketState) -> Result<Option<TicketState>, NotAllowed> {
    match s {
        TicketState::New => Ok(Some(TicketState::Accepted)),
        TicketState::Accepted => Ok(None),
        other => Err(not_allowed(other, "accept")),
    }
}

/// Reject: NEW → REJECTED.
pub fn reject(s: TicketState) -> Result<Option<TicketState>, NotAllowed> {
    match s {
        TicketState::New => Ok(Some(TicketState::Rejected)),
        TicketState::Rejected => Ok(None),
        other => Err(not_allowed(other, "reject")),
    }
}

/// Finish cooking: ACCEPTED → COOKING_FINISHED.
pub fn finish(s: TicketState) -> Result<Option<TicketState>, NotAllowed> {
    match s {
        TicketState::Accepted => Ok(Some(TicketState::CookingFinished)),
        TicketState::CookingFinished => Ok(None),
        other => Err(not_allowed(other, "finish cooking")),
    }
}

/// Void because the order was cancelled: anything but REJECTED → VOIDED.
pub fn void(s: TicketState) -> Option<TicketState> {
    match s {
        TicketState::Rejected | TicketState::Voided => None,
        _ => Some(TicketState::Voided),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketState::*;

    #[test]
    fn happy_path_and_repeats() {
        assert_eq!(accept(New), Ok(Some(Accepted)));
        assert_eq!(accept(Accepted), Ok(None));
        assert_eq!(finish(Accepted), Ok(Some(CookingFinished)));
        assert_eq!(finish(CookingFinished), Ok(None));
        assert_eq!(reject(New), Ok(Some(Rejected)));
        assert_eq!(reject(Rejected), Ok(None));
    }

    #[test]
    fn forbidden_moves() {
        assert!(accept(Voided).is_err());
        assert!(accept(Rejected).is_err());
        assert!(reject(Accepted).is_err());
        assert!(finish(New).is_err());
        assert!(finish(Voided).is_err());
        assert_eq!(void(Rejected), None);
        assert_eq!(void(CookingFinished), Some(Voided));
        for s in [New, Accepted, Rejected, CookingFinished, Voided] {
            assert_eq!(TicketState::parse(s.as_str()), Some(s));
        }
    }
}
