//! OData v2 as Exact speaks it: query options with correctly escaped literals, and the JSON envelopes.
//!
//! Literals: strings are quoted with `'` doubled, GUIDs are `guid'…'`, dates `datetime'YYYY-MM-DDTHH:MM:SS'`
//! (no zone; Exact reads them as CET like every date it stores), Int64 `123L`. Account codes are stored
//! right-aligned in 18 characters, so an equality filter on `Code` must pad (or use `trim(Code)`).
//! Envelopes: `{"d":{"results":[…],"__next":"…"}}` for lists, `{"d":{…}}` for one entity, and some servers
//! answer `{"d":[…]}` — all three decode.

use std::fmt::Write as _;

use chrono::NaiveDateTime;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ExactError, ExactResult};

/// Width of Exact's right-aligned account codes (`Code` on `crm/Accounts`).
pub const ACCOUNT_CODE_WIDTH: usize = 18;

/// An OData literal, rendered with the escaping its type needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Guid(Uuid),
    DateTime(NaiveDateTime),
    Int64(i64),
    Int(i64),
    Bool(bool),
}

impl Literal {
    pub fn str(value: impl Into<String>) -> Self {
        Self::Str(value.into())
    }

    fn render(&self, out: &mut String) {
        match self {
            Self::Str(s) => {
                out.push('\'');
                out.push_str(&s.replace('\'', "''"));
                out.push('\'');
            }
            Self::Guid(g) => {
                let _ = write!(out, "guid'{}'", g.hyphenated());
            }
            Self::DateTime(d) => {
                let _ = write!(out, "datetime'{}'", d.format("%Y-%m-%dT%H:%M:%S"));
            }
            Self::Int64(n) => {
                let _ = write!(out, "{n}L");
            }
            Self::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }
}

/// A `$filter` expression built from field names we control and literals we escape.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(String);

impl Filter {
    fn compare(field: &str, op: &str, value: &Literal) -> Self {
        let mut s = String::with_capacity(field.len() + 16);
        s.push_str(field);
        s.push(' ');
        s.push_str(op);
        s.push(' ');
        value.render(&mut s);
        Self(s)
    }
    pub fn eq(field: &str, value: Literal) -> Self {
        Self::compare(field, "eq", &value)
    }
    pub fn gt(field: &str, value: Literal) -> Self {
        Self::compare(field, "gt", &value)
    }
    pub fn ge(field: &str, value: Literal) -> Self {
        Self::compare(field, "ge", &value)
    }
    /// `trim(field) eq 'value'`: matches a padded code without knowing its width.
    pub fn trimmed_eq(field: &str, value: &str) -> Self {
        Self::compare(&format!("trim({field})"), "eq", &Literal::str(value.trim()))
    }
    /// `Code eq '              42'`: an account code padded to Exact's 18 characters (cheaper for Exact
    /// than `trim()`, which defeats its index).
    pub fn account_code_eq(value: &str) -> Self {
        Self::eq("Code", Literal::Str(pad_account_code(value)))
    }
    pub fn and(self, other: Filter) -> Self {
        Self(format!("{} and {}", self.0, other.0))
    }
    pub fn or(self, other: Filter) -> Self {
        Self(format!("({}) or ({})", self.0, other.0))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Right-aligns an account code to Exact's 18 characters (longer codes are left as they are; Exact would
/// refuse them on write anyway).
pub fn pad_account_code(code: &str) -> String {
    format!("{:>width$}", code.trim(), width = ACCOUNT_CODE_WIDTH)
}

/// The query options of one request. Built in a fixed order so URLs are reproducible in tests and logs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    select: Vec<String>,
    filter: Option<Filter>,
    top: Option<u32>,
    expand: Vec<String>,
}

impl Query {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn select(mut self, fields: &[&str]) -> Self {
        self.select = fields.iter().map(|f| (*f).to_owned()).collect();
        self
    }
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }
    pub fn top(mut self, top: u32) -> Self {
        self.top = Some(top);
        self
    }
    pub fn expand(mut self, navigation: &[&str]) -> Self {
        self.expand = navigation.iter().map(|f| (*f).to_owned()).collect();
        self
    }
    pub fn has_select(&self) -> bool {
        !self.select.is_empty()
    }

    /// The encoded query string (without `?`); empty when there are no options.
    pub fn encode(&self) -> String {
        let mut parts: Vec<(&str, String)> = Vec::new();
        if !self.select.is_empty() {
            parts.push(("$select", self.select.join(",")));
        }
        if let Some(f) = &self.filter {
            parts.push(("$filter", f.0.clone()));
        }
        if let Some(t) = self.top {
            parts.push(("$top", t.to_string()));
        }
        if !self.expand.is_empty() {
            parts.push(("$expand", self.expand.join(",")));
        }
        let mut out = String::new();
        for (i, (k, v)) in parts.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(k);
            out.push('=');
            percent_encode_into(v, &mut out);
        }
        out
    }

    /// `url` with this query appended.
    pub fn apply(&self, url: &str) -> String {
        let q = self.encode();
        if q.is_empty() {
            url.to_owned()
        } else {
            format!("{url}?{q}")
        }
    }
}

/// Percent-encodes a query value. Spaces become `%20` (not `+`, which some OData servers keep literally);
/// characters OData needs readable (`'`, `(`, `)`, `,`, `:`, `/`, `$`) stay as they are.
fn percent_encode_into(value: &str, out: &mut String) {
    for b in value.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~'(),:/$".contains(&b);
        if keep {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// One page of a list: its rows and the full URL of the next page, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

fn envelope_d(body: &Value) -> ExactResult<&Value> {
    body.get("d")
        .ok_or_else(|| ExactError::decode("response has no `d` envelope", None))
}

fn decode_value<T: DeserializeOwned>(value: Value) -> ExactResult<T> {
    serde_json::from_value(value)
        .map_err(|e| ExactError::decode(format!("unexpected entity shape: {e}"), Some(Box::new(e))))
}

/// Decodes a list response: `d.results` (+ `d.__next`), or `d` as a bare array, or `d` as one object.
pub fn decode_list<T: DeserializeOwned>(body: Value) -> ExactResult<ListPage<T>> {
    let mut body = body;
    let d = envelope_d(&body)?;
    let (rows, next) = match d {
        Value::Array(_) => (
            body.get_mut("d").map(Value::take).unwrap_or(Value::Null),
            None,
        ),
        Value::Object(map) => {
            let next = map
                .get("__next")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            if map.contains_key("results") {
                let rows = body
                    .get_mut("d")
                    .and_then(|d| d.get_mut("results"))
                    .map(Value::take)
                    .unwrap_or(Value::Null);
                (rows, next)
            } else {
                (
                    Value::Array(vec![
                        body.get_mut("d").map(Value::take).unwrap_or(Value::Null),
                    ]),
                    next,
                )
            }
        }
        other => {
            return Err(ExactError::decode(
                format!("`d` is neither a list nor an object: {}", kind(other)),
                None,
            ));
        }
    };
    let Value::Array(rows) = rows else {
        return Err(ExactError::decode("`d.results` is not an array", None));
    };
    let items = rows
        .into_iter()
        .map(decode_value)
        .collect::<ExactResult<Vec<T>>>()?;
    Ok(ListPage { items, next })
}

/// Decodes a single-entity response: `d` as an object, or the first row of a list form (`current/Me`
/// answers `{"d":{"results":[…]}}`). `None` when the list form is empty.
pub fn decode_single<T: DeserializeOwned>(body: Value) -> ExactResult<Option<T>> {
    let d = envelope_d(&body)?;
    let is_list = d.is_array() || d.get("results").is_some();
    if is_list {
        let page = decode_list::<T>(body)?;
        return Ok(page.items.into_iter().next());
    }
    let mut body = body;
    let d = body.get_mut("d").map(Value::take).unwrap_or(Value::Null);
    decode_value(d).map(Some)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The messages of an OData error envelope (`error.message.value` split on line breaks), if the body is one.
pub fn error_messages(body: &str) -> Option<Vec<String>> {
    let v: Value = serde_json::from_str(body).ok()?;
    let err = v.get("error")?;
    let message = err.get("message")?;
    let text = match message {
        Value::String(s) => s.clone(),
        other => other.get("value")?.as_str()?.to_owned(),
    };
    let messages: Vec<String> = text
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if messages.is_empty() {
        None
    } else {
        Some(messages)
    }
}

/// Reads an Int64 that may be a JSON number or a numeric string (OData v2 serialises Int64 as a string;
/// Exact's sync endpoints have been seen sending numbers).
pub fn int64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Row {
        #[serde(rename = "ID")]
        id: String,
    }

    #[test]
    fn string_literals_double_their_quotes() {
        let f = Filter::eq("YourRef", Literal::str("O'Brien's INV-1"));
        assert_eq!(f.as_str(), "YourRef eq 'O''Brien''s INV-1'");
    }

    #[test]
    fn guid_datetime_and_int64_literals_use_odata_v2_syntax() {
        let g = Uuid::parse_str("71B961DE-B9F3-49FE-883D-0F46C7E0E89B").unwrap();
        assert_eq!(
            Filter::eq("ID", Literal::Guid(g)).as_str(),
            "ID eq guid'71b961de-b9f3-49fe-883d-0f46c7e0e89b'"
        );
        let d = NaiveDateTime::parse_from_str("2017-05-31 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            Filter::ge("Modified", Literal::DateTime(d)).as_str(),
            "Modified ge datetime'2017-05-31T00:00:00'"
        );
        assert_eq!(
            Filter::gt("Timestamp", Literal::Int64(123)).as_str(),
            "Timestamp gt 123L"
        );
    }

    #[test]
    fn account_codes_are_right_aligned_to_eighteen_characters() {
        assert_eq!(pad_account_code("25"), "                25");
        assert_eq!(
            Filter::account_code_eq(" 25").as_str(),
            "Code eq '                25'"
        );
        assert_eq!(
            Filter::trimmed_eq("Code", "25 ").as_str(),
            "trim(Code) eq '25'"
        );
    }

    #[test]
    fn queries_encode_spaces_and_ampersands_but_keep_odata_punctuation() {
        let q = Query::new()
            .select(&["ID", "Code"])
            .filter(Filter::eq("Name", Literal::str("A&B = C+D")))
            .top(1);
        assert_eq!(
            q.encode(),
            "$select=ID,Code&$filter=Name%20eq%20'A%26B%20%3D%20C%2BD'&$top=1"
        );
        assert_eq!(Query::new().apply("http://x/y"), "http://x/y");
    }

    #[test]
    fn a_list_envelope_decodes_rows_and_the_next_link() {
        let page: ListPage<Row> =
            decode_list(json!({"d":{"results":[{"ID":"a"},{"ID":"b"}],"__next":"http://x/next"}}))
                .unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next.as_deref(), Some("http://x/next"));
    }

    #[test]
    fn a_bare_array_and_a_single_object_also_decode_as_lists() {
        let page: ListPage<Row> = decode_list(json!({"d":[{"ID":"a"}]})).unwrap();
        assert_eq!(page.items, vec![Row { id: "a".into() }]);
        let page: ListPage<Row> = decode_list(json!({"d":{"ID":"b"}})).unwrap();
        assert_eq!(page.items, vec![Row { id: "b".into() }]);
        assert_eq!(page.next, None);
    }

    #[test]
    fn a_single_entity_decodes_from_an_object_or_the_first_row_of_a_list() {
        let one: Option<Row> = decode_single(json!({"d":{"ID":"a"}})).unwrap();
        assert_eq!(one, Some(Row { id: "a".into() }));
        let me: Option<Row> = decode_single(json!({"d":{"results":[{"ID":"m"}]}})).unwrap();
        assert_eq!(me, Some(Row { id: "m".into() }));
        let none: Option<Row> = decode_single(json!({"d":{"results":[]}})).unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn a_body_without_d_is_a_decode_error() {
        let r = decode_list::<Row>(json!({"value":[]}));
        assert!(matches!(r, Err(ExactError::Decode { .. })));
    }

    #[test]
    fn error_envelopes_split_into_one_message_per_line() {
        let body = r#"{"error":{"code":"","message":{"lang":"","value":"Verplicht: Factuur voor\r\nVerplicht: Besteld door"}}}"#;
        assert_eq!(
            error_messages(body).unwrap(),
            vec![
                "Verplicht: Factuur voor".to_owned(),
                "Verplicht: Besteld door".to_owned()
            ]
        );
        assert_eq!(error_messages("Service Temporarily Unavailable"), None);
        assert_eq!(
            error_messages(r#"{"error":{"code":"","message":{"lang":"","value":""}}}"#),
            None
        );
    }

    #[test]
    fn int64_reads_numbers_and_numeric_strings() {
        assert_eq!(int64(&json!(42)), Some(42));
        assert_eq!(int64(&json!("9000000000")), Some(9_000_000_000));
        assert_eq!(int64(&json!("x")), None);
    }
}
