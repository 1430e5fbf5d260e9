//! Money: a decimal amount with its ISO 4217 currency. Never floating point.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// An ISO 4217 currency code: exactly three ASCII upper-case letters (`EUR`, `USD`).
///
/// Parsing trims surrounding blanks and upper-cases, because both systems pad or lower-case codes in places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CurrencyCode([u8; 3]);

impl CurrencyCode {
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let trimmed = value.trim();
        let bytes = trimmed.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(ParseError::new(
                "currency code",
                value,
                "expected three letters",
            ));
        }
        Ok(Self([
            bytes[0].to_ascii_uppercase(),
            bytes[1].to_ascii_uppercase(),
            bytes[2].to_ascii_uppercase(),
        ]))
    }
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl TryFrom<String> for CurrencyCode {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<CurrencyCode> for String {
    fn from(value: CurrencyCode) -> Self {
        value.as_str().to_owned()
    }
}
impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl FromStr for CurrencyCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The number of decimals both ledgers book amounts in. Exact and Vantagepoint both keep two decimals for
/// the currencies this integration supports (NL/BE tenants: EUR, GBP, USD, ...).
pub const MINOR_UNIT_DECIMALS: u32 = 2;

/// Rounds an amount to two decimals, half away from zero (commercial rounding, what both ERPs show).
pub fn round_money(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(MINOR_UNIT_DECIMALS, RoundingStrategy::MidpointAwayFromZero)
}

/// An amount in a currency. Arithmetic between different currencies is refused, not converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount: Decimal,
    currency: CurrencyCode,
}

/// Two amounts in different currencies were combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot combine {left} with {right}")]
pub struct CurrencyMismatch {
    pub left: CurrencyCode,
    pub right: CurrencyCode,
}

impl Money {
    pub fn new(amount: Decimal, currency: CurrencyCode) -> Self {
        Self { amount, currency }
    }
    pub fn zero(currency: CurrencyCode) -> Self {
        Self {
            amount: Decimal::ZERO,
            currency,
        }
    }
    pub fn amount(&self) -> Decimal {
        self.amount
    }
    pub fn currency(&self) -> CurrencyCode {
        self.currency
    }
    /// The same money rounded to two decimals (see [`round_money`]).
    pub fn rounded(&self) -> Self {
        Self {
            amount: round_money(self.amount),
            currency: self.currency,
        }
    }
    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }
    pub fn abs(&self) -> Self {
        Self {
            amount: self.amount.abs(),
            currency: self.currency,
        }
    }
    pub fn checked_add(&self, other: &Money) -> Result<Money, CurrencyMismatch> {
        if self.currency != other.currency {
            return Err(CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            });
        }
        Ok(Money {
            amount: self.amount + other.amount,
            currency: self.currency,
        })
    }
    pub fn checked_sub(&self, other: &Money) -> Result<Money, CurrencyMismatch> {
        if self.currency != other.currency {
            return Err(CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            });
        }
        Ok(Money {
            amount: self.amount - other.amount,
            currency: self.currency,
        })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.currency, self.amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn currency_codes_are_trimmed_and_upper_cased() {
        assert_eq!(
            CurrencyCode::parse(" eur ").map(|c| c.to_string()),
            Ok("EUR".to_owned())
        );
        assert!(CurrencyCode::parse("EURO").is_err());
        assert!(CurrencyCode::parse("E1R").is_err());
    }

    #[test]
    fn money_refuses_to_add_different_currencies() {
        let eur = CurrencyCode::parse("EUR").unwrap_or_else(|e| panic!("{e}"));
        let usd = CurrencyCode::parse("USD").unwrap_or_else(|e| panic!("{e}"));
        let sum = Money::new(Decimal::ONE, eur).checked_add(&Money::new(Decimal::ONE, usd));
        assert!(sum.is_err());
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round_money(Decimal::new(1005, 3)), Decimal::new(101, 2));
        assert_eq!(round_money(Decimal::new(-1005, 3)), Decimal::new(-101, 2));
    }
}
