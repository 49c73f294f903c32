//! Money, the one value type every context shares (it mirrors `fooddelivery.common.v1.Money`).
//! Amounts are integer minor units; arithmetic is checked so that no total can overflow.

use std::fmt;

use crate::errors::Violation;

/// Most a single amount may be: 10^12 minor units (10 billion in a two-decimal currency),
/// far above any order and far below `i64::MAX`, so sums of bounded lists cannot overflow.
pub const MAX_MINOR: i64 = 1_000_000_000_000;

/// An ISO 4217 alphabetic currency code: three ASCII upper-case letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses `EUR`, `USD`, ...
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        (b.len() == 3 && b.iter().all(u8::is_ascii_uppercase)).then(|| Self([b[0], b[1], b[2]]))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A positive amount of money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Validates an amount; `field` is the request path used in violations (the wire form is
    /// read by [`Money::from_proto`] at the API edge).
    pub fn parse(minor: i64, currency_code: &str, field: &str) -> Result<Self, Vec<Violation>> {
        let mut errors = Vec::new();
        if minor <= 0 || minor > MAX_MINOR {
            errors.push(Violation::new(
                format!("{field}.amount_minor"),
                format!("must be between 1 and {MAX_MINOR}"),
            ));
        }
        let currency = Currency::parse(currency_code);
        if currency.is_none() {
            errors.push(Violation::new(
                format!("{field}.currency_code"),
                "must be an ISO 4217 code of three upper-case letters, e.g. EUR",
            ));
        }
        match currency {
            Some(currency) if errors.is_empty() => Ok(Self { minor, currency }),
            _ => Err(errors),
        }
    }

    /// Builds an amount read back from storage (already validated when written).
    pub fn from_stored(minor: i64, currency: &str) -> Option<Self> {
        Some(Self {
            minor,
            currency: Currency::parse(currency)?,
        })
    }

    /// The amount as people read it, e.g. "12.50 EUR" (no minor unit for JPY, KRW, ...).
    pub fn human(&self) -> String {
        const NO_MINOR_UNIT: [&str; 8] = ["JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"];
        if NO_MINOR_UNIT.contains(&self.currency.as_str()) {
            format!("{} {}", self.minor, self.currency)
        } else {
            format!(
                "{}.{:02} {}",
                self.minor / 100,
                self.minor % 100,
                self.currency
            )
        }
    }

    /// Amount in minor units.
    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// Currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// `self × n`, or `None` on overflow.
    pub fn times(&self, n: i64) -> Option<Self> {
        Some(Self {
            minor: self.minor.checked_mul(n)?,
            currency: self.currency,
        })
    }

    /// `self + other`, or `None` on overflow or a currency mismatch.
    pub fn plus(&self, other: &Self) -> Option<Self> {
        (self.currency == other.currency).then_some(())?;
        Some(Self {
            minor: self.minor.checked_add(other.minor)?,
            currency: self.currency,
        })
    }
}

/// The wire form, `fooddelivery.common.v1.Money`: used by API and event adapters only.
impl Money {
    /// Validates an amount from a request (`None`: the field is missing).
    pub fn from_proto(
        proto: Option<&fd_proto::common::v1::Money>,
        field: &str,
    ) -> Result<Self, Vec<Violation>> {
        match proto {
            Some(m) => Self::parse(m.amount_minor, &m.currency_code, field),
            None => Err(vec![Violation::new(field, "required")]),
        }
    }

    /// The wire form.
    pub fn to_proto(&self) -> fd_proto::common::v1::Money {
        fd_proto::common::v1::Money {
            amount_minor: self.minor,
            currency_code: self.currency.to_string(),
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (minor units)", self.minor, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fd_proto::common::v1::Money as P;

    fn p(minor: i64, cur: &str) -> P {
        P {
            amount_minor: minor,
            currency_code: cur.into(),
        }
    }

    #[test]
    fn human_form() {
        let m = |minor, cur| Money::parse(minor, cur, "price").expect("valid");
        assert_eq!(m(1250, "EUR").human(), "12.50 EUR");
        assert_eq!(m(7, "USD").human(), "0.07 USD");
        assert_eq!(m(500, "JPY").human(), "500 JPY");
    }

    #[test]
    fn valid_money_parses() {
        let m = Money::from_proto(Some(&p(1250, "EUR")), "total").expect("valid");
        assert_eq!((m.minor(), m.currency().as_str()), (1250, "EUR"));
    }

    #[test]
    fn bad_amount_and_currency_are_both_reported() {
        let e = Money::from_proto(Some(&p(0, "eur")), "items[1].unit_price").expect_err("bad");
        let fields: Vec<_> = e.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "items[1].unit_price.amount_minor",
                "items[1].unit_price.currency_code"
            ]
        );
        assert!(Money::from_proto(Some(&p(-5, "EUR")), "x").is_err());
        assert!(Money::from_proto(Some(&p(MAX_MINOR + 1, "EUR")), "x").is_err());
        assert!(Money::from_proto(None, "x").is_err());
        assert!(Money::from_proto(Some(&p(1, "EURO")), "x").is_err());
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Money::from_proto(Some(&p(MAX_MINOR, "EUR")), "a").expect("valid");
        assert!(a.times(i64::MAX).is_none());
        let usd = Money::from_proto(Some(&p(1, "USD")), "b").expect("valid");
        assert!(a.plus(&usd).is_none(), "currencies differ");
        assert_eq!(a.plus(&a).map(|m| m.minor()), Some(2 * MAX_MINOR));
    }
}
