//! Tolerant serde helpers for Vantagepoint's loosely typed JSON: booleans as `"Y"`/`"N"`/`"true"`/`true`,
//! numbers as numbers or strings (`"121.00"`), codes as strings or numbers (`Type: 9`), blanks as absent.
//!
//! Amounts never pass through `f64`: a decimal is parsed from its text (a JSON string, or the number's own
//! text kept by [`crate::json::parse_lossless`]); whole numbers are exact anyway; a float is refused.

use std::fmt;

use rust_decimal::Decimal;
use serde::Serializer;
use serde::de::{self, Deserializer, Visitor};

fn parse_flag<E: de::Error>(text: &str) -> Result<bool, E> {
    match text.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "1" | "t" => Ok(true),
        "n" | "no" | "false" | "0" | "f" | "" => Ok(false),
        other => Err(E::custom(format!("expected a Y/N flag, got {other:?}"))),
    }
}

struct FlagVisitor;
impl Visitor<'_> for FlagVisitor {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a flag: Y/N, true/false, 1/0")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        Ok(v != 0)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        Ok(v != 0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        parse_flag(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// A VP `Y`/`N` flag: reads `"Y"`, `"N"`, `"true"`, `true`, `1`, `""`/`null` (= false); writes `"Y"`/`"N"`.
/// Use with `#[serde(default, with = "yn")]`.
pub mod yn {
    use super::*;
    pub fn serialize<S: Serializer>(value: &bool, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if *value { "Y" } else { "N" })
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(FlagVisitor)
    }
}

/// Like [`yn`] but writes JSON booleans (some VP create bodies send `"ExportInd":false`).
pub mod flag_bool {
    use super::*;
    pub fn serialize<S: Serializer>(value: &bool, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(*value)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(FlagVisitor)
    }
}

struct DecimalVisitor;
impl Visitor<'_> for DecimalVisitor {
    type Value = Option<Decimal>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number or a numeric string")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Decimal::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Decimal::from(v)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        Decimal::try_from_i128_with_scale(v, 0)
            .map(Some)
            .map_err(|_| E::custom(format!("number {v} does not fit a decimal")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // An amount is never taken from a float: the JSON must reach the decoder with the number's text
        // (the ERP clients decode bodies with `crate::json::parse_lossless`; fixtures write "1250.10").
        Err(E::custom(format!(
            "the amount {v} arrived as a binary float; amounts are read from their text (write it as \"{v}\", or decode the JSON with ledgerlink_domain::json::parse_lossless)"
        )))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let trimmed = v.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        trimmed
            .parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(trimmed))
            .map(Some)
            .map_err(|_| E::custom(format!("expected a number, got {v:?}")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A decimal amount that may come as a number, a numeric string, `""` or `null` (both read as zero).
/// Writes a JSON number-like string via `rust_decimal` (e.g. `"120.00"`). Use with `#[serde(default, with = "decimal")]`.
pub mod decimal {
    use super::*;
    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(value, serializer)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        Ok(deserializer
            .deserialize_any(DecimalVisitor)?
            .unwrap_or_default())
    }
}

/// An optional decimal: number, numeric string; `""`/`null`/absent read as `None`.
/// Use with `#[serde(default, with = "decimal_opt", skip_serializing_if = "Option::is_none")]`.
pub mod decimal_opt {
    use super::*;
    pub fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serde::Serialize::serialize(v, serializer),
            None => serializer.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        deserializer.deserialize_any(DecimalVisitor)
    }
}

struct TextVisitor;
impl Visitor<'_> for TextVisitor {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let trimmed = v.trim();
        Ok(if trimmed.is_empty() {
            None
        } else {
            Some(trimmed.to_owned())
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// An optional code or text: string or number (`"Type": 9`), trimmed; blank (`""`, `" "`) and `null` read as
/// `None` (VP sends blank WBS2/WBS3 as `" "`). Writes the string or `null`.
/// Use with `#[serde(default, with = "text_opt", skip_serializing_if = "Option::is_none")]`.
pub mod text_opt {
    use super::*;
    pub fn serialize<S: Serializer>(
        value: &Option<String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.serialize_str(v),
            None => serializer.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

/// A required code or text: string or number, trimmed; blank is refused.
pub mod text {
    use super::*;
    pub fn serialize<S: Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        deserializer
            .deserialize_any(TextVisitor)?
            .ok_or_else(|| de::Error::custom("a value is required here"))
    }
}

fn integral<E: de::Error>(value: Option<Decimal>) -> Result<Option<i64>, E> {
    match value {
        None => Ok(None),
        Some(d) if d.fract().is_zero() => i64::try_from(d)
            .map(Some)
            .map_err(|_| E::custom(format!("integer {d} out of range"))),
        Some(d) => Err(E::custom(format!("expected an integer, got {d}"))),
    }
}

/// An optional integer that may come as a number or a string (`"194"`, Exact's Int64 `Timestamp`).
/// `""`/`null` read as `None`; writes a JSON number.
pub mod int_opt {
    use super::*;
    pub fn serialize<S: Serializer>(value: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.serialize_i64(*v),
            None => serializer.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<i64>, D::Error> {
        integral(deserializer.deserialize_any(DecimalVisitor)?)
    }
}

/// A non-negative integer (sequence numbers, `PostSeq`) as number or string; blank reads as 0; writes a number.
pub mod uint {
    use super::*;
    pub fn serialize<S: Serializer>(value: &u32, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(*value)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        let value =
            integral::<D::Error>(deserializer.deserialize_any(DecimalVisitor)?)?.unwrap_or(0);
        u32::try_from(value)
            .map_err(|_| de::Error::custom(format!("expected a non-negative integer, got {value}")))
    }
}

/// A WBS level or other VP key where blank is written as a single space (`" "`, as VP's own examples do)
/// and read back as `None`. Use with `#[serde(default, with = "blank_opt")]`.
pub mod blank_opt {
    use super::*;
    pub fn serialize<S: Serializer>(
        value: &Option<String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value.as_deref().unwrap_or(" "))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

/// An optional currency code where VP writes "no currency" as `""` (GL-offset and payment ledger rows do).
/// Use with `#[serde(default, with = "currency_opt")]`; a non-blank value must be a valid code.
pub mod currency_opt {
    use super::*;
    use crate::money::CurrencyCode;
    pub fn serialize<S: Serializer>(
        value: &Option<CurrencyCode>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(code) => serializer.serialize_str(code.as_str()),
            None => serializer.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<CurrencyCode>, D::Error> {
        let text = <Option<String> as serde::Deserialize>::deserialize(deserializer)?;
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(code) => CurrencyCode::parse(code)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Reads a decimal written as a string by [`decimal`] back; exposed for clients that need it.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let trimmed = text.trim();
    trimmed
        .parse::<Decimal>()
        .ok()
        .or_else(|| Decimal::from_scientific(trimmed).ok())
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Deserialize, Serialize)]
    struct Probe {
        #[serde(default, with = "super::yn")]
        flag: bool,
        #[serde(default, with = "super::decimal")]
        amount: Decimal,
        #[serde(default, with = "super::text_opt")]
        code: Option<String>,
    }

    /// Decodes as the ERP clients do: numbers keep their text on the way to a decimal.
    fn probe(json: &str) -> Probe {
        crate::json::parse_lossless(json)
            .and_then(serde_json::from_value)
            .unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn flags_accept_every_spelling_vantagepoint_uses() {
        assert!(probe(r#"{"flag":"Y"}"#).flag);
        assert!(probe(r#"{"flag":"true"}"#).flag);
        assert!(probe(r#"{"flag":true}"#).flag);
        assert!(!probe(r#"{"flag":"N"}"#).flag);
        assert!(!probe(r#"{"flag":""}"#).flag);
        assert!(serde_json::from_str::<Probe>(r#"{"flag":"maybe"}"#).is_err());
    }

    #[test]
    fn amounts_accept_numbers_and_numeric_strings_without_float_error() {
        assert_eq!(
            probe(r#"{"amount":"121.00"}"#).amount,
            Decimal::new(12100, 2)
        );
        assert_eq!(
            probe(r#"{"amount":-1250.10}"#).amount,
            Decimal::new(-125010, 2)
        );
        assert_eq!(probe(r#"{"amount":0.1}"#).amount, Decimal::new(1, 1));
        assert_eq!(probe(r#"{"amount":""}"#).amount, Decimal::ZERO);
        // The trailing zero and all 19 digits survive: nothing went through a float.
        assert_eq!(
            probe(r#"{"amount":12345678901234567.10}"#)
                .amount
                .to_string(),
            "12345678901234567.10"
        );
    }

    #[test]
    fn an_amount_handed_over_as_a_float_is_refused_not_rounded() {
        let error = serde_json::from_value::<Probe>(serde_json::json!({ "amount": 0.1 }))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("binary float"), "{error}");
    }

    #[test]
    fn codes_accept_numbers_and_blank_reads_as_none() {
        assert_eq!(probe(r#"{"code":9}"#).code.as_deref(), Some("9"));
        assert_eq!(probe(r#"{"code":" "}"#).code, None);
    }
}

#[cfg(test)]
mod currency_opt_tests {
    use crate::money::CurrencyCode;

    #[derive(serde::Deserialize)]
    struct Row {
        #[serde(default, with = "super::currency_opt")]
        currency: Option<CurrencyCode>,
    }

    #[test]
    fn a_blank_currency_reads_as_none_and_a_bad_one_is_refused() {
        let blank: Row =
            serde_json::from_str(r#"{"currency":""}"#).unwrap_or(Row { currency: None });
        assert_eq!(blank.currency, None);
        let eur: Option<Row> = serde_json::from_str(r#"{"currency":"EUR"}"#).ok();
        assert_eq!(
            eur.and_then(|r| r.currency).map(|c| c.as_str().to_owned()),
            Some("EUR".to_owned())
        );
        assert!(serde_json::from_str::<Row>(r#"{"currency":"euro"}"#).is_err());
    }
}
