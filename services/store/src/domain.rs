//! The store owner's ticket: a pure state machine.
//!
//! ```text
//! NEW ──accept──▶ ACCEPTED ──finish──▶ COOKING_FINISHED
//!  │                 │                      │
//!  └─reject─▶ REJECTED   (any but REJECTED) ─void─▶ VOIDED
//! ```
//! Repeating a command that already took effect is a no-op (`Ok(false)`).

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
    /// Storage name (also the proto enum suffix).
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
