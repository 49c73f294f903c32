//! The Payment aggregate: pure rules, no I/O.

use fd_chassis::errors::Violation;
use fd_chassis::money::Money;

/// Longest id accepted for orders and customers.
pub const MAX_ID_LEN: usize = 64;
/// Longest refund reason.
pub const MAX_REASON_LEN: usize = 500;

/// Where a payment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentState {
    /// Approved; the amount is held.
    Authorized,
    /// Refused; nothing held. Final.
    Declined,
    /// Given back. Final.
    Refunded,
}

impl PaymentState {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorized => "AUTHORIZED",
            Self::Declined => "DECLINED",
            Self::Refunded => "REFUNDED",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "AUTHORIZED" => Some(Self::Authorized),
            "DECLINED" => Some(Self::Declined),
            "REFUNDED" => Some(Self::Refunded),
            _ => None,
        }
    }
}

/// A payment for one order (the aggregate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub payment_id: String,
    pub order_id: String,
    pub customer_id: String,
    pub amount: Money,
    pub state: PaymentState,
    pub decline_reason: String,
    pub refund_reason: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A validated Authorize command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorize {
    /// The order paid for (also the idempotency key).
    pub order_id: String,
    /// The customer charged.
    pub customer_id: String,
    /// The amount.
    pub amount: Money,
}

/// Checks an id field: present and at most [`MAX_ID_LEN`] characters.
pub fn check_id(value: &str, field: &str, errors: &mut Vec<Violation>) {
    fd_chassis::errors::require_text(value, field, MAX_ID_LEN, errors);
}

impl Authorize {
    /// Validates the raw fields of an Authorize request.
    pub fn parse(
        order_id: &str,
        customer_id: &str,
        amount: Result<Money, Vec<Violation>>,
    ) -> Result<Self, Vec<Violation>> {
        let mut errors = Vec::new();
        check_id(order_id, "order_id", &mut errors);
        check_id(customer_id, "customer_id", &mut errors);
        let amount = amount.map_err(|e| errors.extend(e));
        match amount {
            Ok(amount) if errors.is_empty() => Ok(Self {
                order_id: order_id.to_string(),
                customer_id: customer_id.to_string(),
                amount,
            }),
            _ => Err(errors),
        }
    }
}

/// The deterministic decline rule: amounts above `limit_minor` are declined, so declines can be
/// produced on purpose in tests and demos (a stand-in for the card network).
#[derive(Debug, Clone, Copy)]
pub struct DeclineRule {
    /// Largest amount approved, in minor units.
    pub limit_minor: i64,
}

/// The outcome of an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The amount is held.
    Approved,
    /// Refused, with the reason shown to the customer.
    Declined(String),
}

impl DeclineRule {
    /// Decides on `amount`.
    pub fn decide(&self, amount: &Money) -> Decision {
        if amount.minor() > self.limit_minor {
            Decision::Declined(format!(
                "amount {} exceeds the limit of {} (minor units of {})",
                amount.minor(),
                self.limit_minor,
                amount.currency()
            ))
        } else {
            Decision::Approved
        }
    }
}

/// Why a refund is not possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundError {
    /// A declined payment holds nothing to refund.
    Declined,
}

/// What a refund does to a payment in `state`: `Ok(true)` changes it to Refunded, `Ok(false)`
/// means it already is (refunds are idempotent).
pub fn refund(state: PaymentState) -> Result<bool, RefundError> {
    match state {
        PaymentState::Authorized => Ok(true),
        PaymentState::Refunded => Ok(false),
        PaymentState::Declined => Err(RefundError::Declined),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Result<Money, Vec<Violation>> {
        Money::parse(minor, "EUR", "amount")
    }

    #[test]
    fn decline_rule_is_a_strict_limit() {
        let rule = DeclineRule { limit_minor: 100 };
        let ok = Authorize::parse("o", "c", eur(100)).expect("valid");
        assert_eq!(rule.decide(&ok.amount), Decision::Approved);
        let big = Authorize::parse("o", "c", eur(101)).expect("valid");
        assert!(matches!(rule.decide(&big.amount), Decision::Declined(r) if r.contains("limit")));
    }

    #[test]
    fn authorize_reports_every_bad_field() {
        let long = "x".repeat(MAX_ID_LEN + 1);
        let e = Authorize::parse("", &long, Err(vec![Violation::new("amount", "required")]))
            .expect_err("bad");
        let fields: Vec<_> = e.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["order_id", "customer_id", "amount"]);
    }

    #[test]
    fn refund_state_machine() {
        assert_eq!(refund(PaymentState::Authorized), Ok(true));
        assert_eq!(refund(PaymentState::Refunded), Ok(false));
        assert_eq!(refund(PaymentState::Declined), Err(RefundError::Declined));
    }

    #[test]
    fn state_names_round_trip() {
        for s in [
            PaymentState::Authorized,
            PaymentState::Declined,
            PaymentState::Refunded,
        ] {
            assert_eq!(PaymentState::parse(s.as_str()), Some(s));
        }
    }

    mod hostile {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any Authorize request is rejected with field violations or parsed into one with
            /// bounded ids and a positive amount in an ISO-shaped currency.
            #[test]
            fn any_authorize_is_rejected_or_valid(
                order in "\\PC{0,80}",
                customer in ".{0,70}",
                minor in any::<i64>(),
                currency in "[A-Za-z]{0,4}",
            ) {
                match Authorize::parse(&order, &customer, Money::parse(minor, &currency, "amount")) {
                    Err(v) => prop_assert!(!v.is_empty()),
                    Ok(a) => {
                        prop_assert!(!a.order_id.trim().is_empty() && a.order_id.chars().count() <= MAX_ID_LEN);
                        prop_assert!(a.amount.minor() > 0 && a.amount.minor() <= fd_chassis::money::MAX_MINOR);
                    }
                }
            }
        }
    }
}
