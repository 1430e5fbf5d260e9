//! Reading the ERPs' JSON without losing an amount to binary floating point.
//!
//! `serde_json` turns a JSON number with a fraction (`1250.10`) into an `f64` when it builds a `Value`;
//! [`parse_lossless`] keeps such a number's own text instead, as a JSON string, so the domain's lenient
//! decimal readers ([`crate::lenient`]) parse the digits that were on the wire. Whole numbers stay numbers
//! (they are exact in a `Value`). The ERP clients decode every response body with it.

use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// Parses JSON text into a [`Value`] whose fractional and exponent numbers are strings of their own text.
pub fn parse_lossless(text: &str) -> Result<Value, serde_json::Error> {
    let raw: Box<RawValue> = serde_json::from_str(text)?;
    convert(&raw)
}

fn convert(raw: &RawValue) -> Result<Value, serde_json::Error> {
    let text = raw.get().trim();
    match text.as_bytes().first() {
        Some(b'{') => {
            let fields: Vec<(String, Box<RawValue>)> =
                serde_json::from_str::<indexmap_free::Fields>(text)?.0;
            let mut map = Map::new();
            for (key, value) in fields {
                map.insert(key, convert(&value)?);
            }
            Ok(Value::Object(map))
        }
        Some(b'[') => {
            let items: Vec<Box<RawValue>> = serde_json::from_str(text)?;
            items
                .iter()
                .map(|i| convert(i))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        Some(b'-' | b'0'..=b'9') => {
            if text.contains(['.', 'e', 'E']) {
                Ok(Value::String(text.to_owned()))
            } else {
                match text.parse::<i64>() {
                    Ok(i) => Ok(Value::Number(Number::from(i))),
                    // Beyond i64 (u64 or larger): kept as text too, never rounded.
                    Err(_) => match text.parse::<u64>() {
                        Ok(u) => Ok(Value::Number(Number::from(u))),
                        Err(_) => Ok(Value::String(text.to_owned())),
                    },
                }
            }
        }
        _ => serde_json::from_str(text),
    }
}

mod indexmap_free {
    //! An object's members in document order, each value still raw.
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use serde_json::value::RawValue;

    pub(super) struct Fields(pub Vec<(String, Box<RawValue>)>);

    impl<'de> Deserialize<'de> for Fields {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct FieldsVisitor;
            impl<'de> Visitor<'de> for FieldsVisitor {
                type Value = Fields;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = map.next_entry::<String, Box<RawValue>>()? {
                        out.push((k, v));
                    }
                    Ok(Fields(out))
                }
            }
            deserializer.deserialize_map(FieldsVisitor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_keep_their_text_and_whole_numbers_stay_numbers() {
        let value = parse_lossless(
            r#"{"Amount": -1250.10, "Big": 12345678901234567.89, "Period": 202606, "Rate": 2.1e1,
                "Rows": [{"TaxAmount": 0.1}], "Name": "Acme", "Paid": false, "Memo": null}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value["Amount"], Value::String("-1250.10".into()));
        assert_eq!(value["Big"], Value::String("12345678901234567.89".into()));
        assert_eq!(value["Period"], Value::Number(202606.into()));
        assert_eq!(value["Rate"], Value::String("2.1e1".into()));
        assert_eq!(value["Rows"][0]["TaxAmount"], Value::String("0.1".into()));
        assert_eq!(value["Name"], Value::String("Acme".into()));
        assert_eq!(value["Paid"], Value::Bool(false));
        assert_eq!(value["Memo"], Value::Null);
    }

    #[test]
    fn an_amount_beyond_a_float_decodes_exactly() {
        #[derive(serde::Deserialize)]
        struct Row {
            #[serde(rename = "Amount", with = "crate::lenient::decimal")]
            amount: rust_decimal::Decimal,
        }
        let value = parse_lossless(r#"{"Amount": 12345678901234567.89}"#).unwrap_or_default();
        let row: Row = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(row.amount.to_string(), "12345678901234567.89");
    }
}
