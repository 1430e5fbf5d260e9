//! Exact Online's space-padded codes: normalised (trimmed) when read, padded when written.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ParseError;

fn check_code(what: &'static str, value: &str, max: usize) -> Result<String, ParseError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ParseError::new(what, value, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(ParseError::new(what, value, "too long for the field"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ParseError::new(what, value, "contains a control character"));
    }
    Ok(trimmed.to_owned())
}

/// The code (account number) of an Exact Online CRM account: `String(18)`, right-aligned with leading
/// spaces on the wire (`"                 8"`), compared and displayed trimmed (`"8"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExactAccountCode(String);

impl ExactAccountCode {
    /// The field width on the wire.
    pub const WIDTH: usize = 18;

    /// Parses a code as read (padded or not). At most 18 characters once trimmed.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        check_code("Exact account code", value, Self::WIDTH).map(Self)
    }
    /// The trimmed code, `"8"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The wire form, right-aligned in 18 characters: `"                 8"`.
    pub fn padded(&self) -> String {
        format!("{:>width$}", self.0, width = Self::WIDTH)
    }
}

impl fmt::Display for ExactAccountCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl FromStr for ExactAccountCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
impl Serialize for ExactAccountCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.padded())
    }
}
impl<'de> Deserialize<'de> for ExactAccountCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An Exact Online VAT code: up to 3 characters, left-aligned and space padded on the wire (`"2  "`),
/// compared and displayed trimmed (`"2"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VatCode(String);

impl VatCode {
    /// The field width on the wire.
    pub const WIDTH: usize = 3;

    pub fn parse(value: &str) -> Result<Self, ParseError> {
        check_code("Exact VAT code", value, Self::WIDTH).map(Self)
    }
    /// The trimmed code, `"2"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The wire form, left-aligned in 3 characters: `"2  "`.
    pub fn padded(&self) -> String {
        format!("{:<width$}", self.0, width = Self::WIDTH)
    }
}

impl fmt::Display for VatCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl FromStr for VatCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
impl Serialize for VatCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.padded())
    }
}
impl<'de> Deserialize<'de> for VatCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_codes_are_trimmed_on_read_and_right_aligned_on_write() {
        let code: ExactAccountCode =
            serde_json::from_str("\"                 8\"").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code.as_str(), "8");
        assert_eq!(
            serde_json::to_string(&code).ok(),
            Some("\"                 8\"".to_owned())
        );
        assert!(ExactAccountCode::parse("1234567890123456789").is_err());
        assert!(ExactAccountCode::parse("   ").is_err());
    }

    #[test]
    fn vat_codes_are_trimmed_on_read_and_left_aligned_on_write() {
        let code: VatCode = serde_json::from_str("\"2  \"").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code.as_str(), "2");
        assert_eq!(code.padded(), "2  ");
        assert!(VatCode::parse("1234").is_err());
    }
}

/// Serde helper for an optional Exact account code: `null`, `""` and all-blank read as `None`.
/// Use with `#[serde(default, with = "account_code_opt", skip_serializing_if = "Option::is_none")]`.
pub mod account_code_opt {
    use super::*;
    pub fn serialize<S: Serializer>(
        value: &Option<ExactAccountCode>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(code) => serializer.serialize_str(&code.padded()),
            None => serializer.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<ExactAccountCode>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            Some(text) if !text.trim().is_empty() => ExactAccountCode::parse(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
            _ => Ok(None),
        }
    }
}

/// Serde helper for an optional Exact VAT code: `null`, `""` and all-blank read as `None`.
/// Use with `#[serde(default, with = "vat_code_opt", skip_serializing_if = "Option::is_none")]`.
pub mod vat_code_opt {
    use super::*;
    pub fn serialize<S: Serializer>(
        value: &Option<VatCode>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(code) => serializer.serialize_str(&code.padded()),
            None => serializer.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<VatCode>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            Some(text) if !text.trim().is_empty() => VatCode::parse(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
            _ => Ok(None),
        }
    }
}
