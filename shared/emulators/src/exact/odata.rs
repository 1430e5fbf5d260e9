//! The OData v2 subset Exact clients use: `$filter` parsing and evaluation (`eq ne gt ge lt le and or not`,
//! parentheses, `guid'..'`, `datetime'..'`, strings with `''` escaping, numbers, Int64 `123L`, `true/false/null`,
//! `trim`, `tolower`, `toupper`, `substringof`, `startswith`, `endswith`, `length`), and the query-string and
//! URL encoding used to build `__next` links.
//!
//! String comparison is case-insensitive (Exact runs on SQL Server with a case-insensitive collation), but
//! leading spaces count, so an unpadded Account `Code` filter finds nothing — as on the real service.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::model::{Ty, parse_any_date, parse_date_ms};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Or(Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    Field(String),
    Lit(Val),
    Func(String, Vec<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Str(String),
    Guid(String),
    Num(Decimal),
    Bool(bool),
    Date(i64),
}

impl Val {
    fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Str(_) => "Edm.String",
            Val::Guid(_) => "Edm.Guid",
            Val::Num(_) => "Edm.Decimal",
            Val::Bool(_) => "Edm.Boolean",
            Val::Date(_) => "Edm.DateTime",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Word(String),
    Str(String),
    Guid(String),
    Date(i64),
    Num(Decimal),
}

/// A `$filter` that could not be parsed or evaluated; the text is the 400 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilterError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(msg.into()))
}

fn tokenize(input: &str) -> Result<Vec<Tok>, FilterError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let quoted = |start: usize| -> Result<(String, usize), FilterError> {
        // `start` is at the opening quote.
        let mut s = String::new();
        let mut j = start + 1;
        loop {
            match chars.get(j) {
                None => return err("Unterminated string literal in $filter."),
                Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                    s.push('\'');
                    j += 2;
                }
                Some('\'') => return Ok((s, j + 1)),
                Some(c) => {
                    s.push(*c);
                    j += 1;
                }
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '\'' => {
                let (s, next) = quoted(i)?;
                out.push(Tok::Str(s));
                i = next;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                if i < chars.len()
                    && matches!(chars[i], 'L' | 'l' | 'M' | 'm' | 'D' | 'd' | 'F' | 'f')
                {
                    i += 1;
                }
                let n = Decimal::from_str(&text)
                    .map_err(|_| FilterError(format!("Invalid number '{text}' in $filter.")))?;
                out.push(Tok::Num(n));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric()
                        || chars[i] == '_'
                        || chars[i] == '/'
                        || chars[i] == '.')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if chars.get(i) == Some(&'\'') {
                    let (s, next) = quoted(i)?;
                    i = next;
                    match word.to_ascii_lowercase().as_str() {
                        "guid" => {
                            let g = uuid::Uuid::parse_str(s.trim()).map_err(|_| {
                                FilterError(format!("Unrecognized 'Edm.Guid' literal 'guid'{s}''."))
                            })?;
                            out.push(Tok::Guid(g.to_string()));
                        }
                        "datetime" | "datetimeoffset" => {
                            let ms = parse_any_date(&s).ok_or_else(|| {
                                FilterError(format!(
                                    "Unrecognized 'Edm.DateTime' literal 'datetime'{s}''."
                                ))
                            })?;
                            out.push(Tok::Date(ms));
                        }
                        other => {
                            return err(format!(
                                "Unrecognized literal prefix '{other}' in $filter."
                            ));
                        }
                    }
                } else {
                    out.push(Tok::Word(word));
                }
            }
            other => {
                return err(format!(
                    "Syntax error at position {i} ('{other}') in $filter."
                ));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<String> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w)) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }
    fn or(&mut self) -> Result<Node, FilterError> {
        let mut left = self.and()?;
        while self.peek_word().as_deref() == Some("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Node::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Node, FilterError> {
        let mut left = self.unary()?;
        while self.peek_word().as_deref() == Some("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Node::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Node, FilterError> {
        if self.peek_word().as_deref() == Some("not") {
            self.pos += 1;
            return Ok(Node::Not(Box::new(self.unary()?)));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> Result<Node, FilterError> {
        let left = self.primary()?;
        let op = match self.peek_word().as_deref() {
            Some("eq") => CmpOp::Eq,
            Some("ne") => CmpOp::Ne,
            Some("gt") => CmpOp::Gt,
            Some("ge") => CmpOp::Ge,
            Some("lt") => CmpOp::Lt,
            Some("le") => CmpOp::Le,
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.primary()?;
        Ok(Node::Cmp(op, Box::new(left), Box::new(right)))
    }
    fn primary(&mut self) -> Result<Node, FilterError> {
        let Some(tok) = self.toks.get(self.pos).cloned() else {
            return err("Expression expected at the end of $filter.");
        };
        self.pos += 1;
        match tok {
            Tok::LParen => {
                let inner = self.or()?;
                if self.toks.get(self.pos) != Some(&Tok::RParen) {
                    return err("')' or operator expected in $filter.");
                }
                self.pos += 1;
                Ok(inner)
            }
            Tok::Str(s) => Ok(Node::Lit(Val::Str(s))),
            Tok::Guid(g) => Ok(Node::Lit(Val::Guid(g))),
            Tok::Date(ms) => Ok(Node::Lit(Val::Date(ms))),
            Tok::Num(n) => Ok(Node::Lit(Val::Num(n))),
            Tok::Word(w) => match w.to_ascii_lowercase().as_str() {
                "true" => Ok(Node::Lit(Val::Bool(true))),
                "false" => Ok(Node::Lit(Val::Bool(false))),
                "null" => Ok(Node::Lit(Val::Null)),
                "and" | "or" | "eq" | "ne" | "gt" | "ge" | "lt" | "le" => {
                    err(format!("Expression expected before '{w}' in $filter."))
                }
                _ if self.toks.get(self.pos) == Some(&Tok::LParen) => {
                    self.pos += 1;
                    let mut args = Vec::new();
                    if self.toks.get(self.pos) == Some(&Tok::RParen) {
                        self.pos += 1;
                    } else {
                        loop {
                            args.push(self.or()?);
                            match self.toks.get(self.pos) {
                                Some(Tok::Comma) => self.pos += 1,
                                Some(Tok::RParen) => {
                                    self.pos += 1;
                                    break;
                                }
                                _ => return err(format!("')' or ',' expected in call to '{w}'.")),
                            }
                        }
                    }
                    Ok(Node::Func(w.to_ascii_lowercase(), args))
                }
                _ => Ok(Node::Field(w)),
            },
            Tok::RParen | Tok::Comma => err("Expression expected in $filter."),
        }
    }
}

/// Parses a `$filter` expression.
pub(crate) fn parse_filter(input: &str) -> Result<Node, FilterError> {
    let toks = tokenize(input)?;
    if toks.is_empty() {
        return err("This $filter parameter is not supported for this resource");
    }
    let mut p = Parser { toks, pos: 0 };
    let node = p.or()?;
    if p.pos != p.toks.len() {
        return err("Syntax error: unexpected text at the end of $filter.");
    }
    Ok(node)
}

/// Every property name a filter mentions.
pub(crate) fn fields_of(node: &Node, out: &mut BTreeSet<String>) {
    match node {
        Node::Or(a, b) | Node::And(a, b) | Node::Cmp(_, a, b) => {
            fields_of(a, out);
            fields_of(b, out);
        }
        Node::Not(a) => fields_of(a, out),
        Node::Field(f) => {
            out.insert(f.clone());
        }
        Node::Func(_, args) => args.iter().for_each(|a| fields_of(a, out)),
        Node::Lit(_) => {}
    }
}

/// The value of a stored (wire-form) property as a filter operand.
pub(crate) fn wire_to_val(ty: Ty, v: Option<&Value>) -> Val {
    match v {
        None | Some(Value::Null) => Val::Null,
        Some(Value::Bool(b)) => Val::Bool(*b),
        Some(Value::Number(n)) => Decimal::from_str(&n.to_string())
            .map(Val::Num)
            .unwrap_or(Val::Null),
        Some(Value::String(s)) => match ty {
            Ty::Date => parse_date_ms(s).map(Val::Date).unwrap_or(Val::Null),
            Ty::Guid => Val::Guid(s.to_ascii_lowercase()),
            _ => Val::Str(s.clone()),
        },
        Some(_) => Val::Null,
    }
}

/// Evaluates `node` against one row; `ty_of` gives a property's type (unknown properties were rejected earlier).
pub(crate) fn eval(
    node: &Node,
    row: &Map<String, Value>,
    ty_of: &dyn Fn(&str) -> Ty,
) -> Result<Val, FilterError> {
    Ok(match node {
        Node::Or(a, b) => Val::Bool(truthy(&eval(a, row, ty_of)?) || truthy(&eval(b, row, ty_of)?)),
        Node::And(a, b) => {
            Val::Bool(truthy(&eval(a, row, ty_of)?) && truthy(&eval(b, row, ty_of)?))
        }
        Node::Not(a) => Val::Bool(!truthy(&eval(a, row, ty_of)?)),
        Node::Field(f) => wire_to_val(ty_of(f), row.get(f.as_str())),
        Node::Lit(v) => v.clone(),
        Node::Cmp(op, a, b) => {
            Val::Bool(compare(*op, &eval(a, row, ty_of)?, &eval(b, row, ty_of)?)?)
        }
        Node::Func(name, args) => {
            let vals = args
                .iter()
                .map(|a| eval(a, row, ty_of))
                .collect::<Result<Vec<_>, _>>()?;
            call(name, &vals)?
        }
    })
}

fn truthy(v: &Val) -> bool {
    matches!(v, Val::Bool(true))
}

fn text(v: &Val) -> Option<String> {
    match v {
        Val::Str(s) | Val::Guid(s) => Some(s.clone()),
        _ => None,
    }
}

fn call(name: &str, args: &[Val]) -> Result<Val, FilterError> {
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            err(format!("Function '{name}' takes {n} argument(s)."))
        }
    };
    let s = |i: usize| args.get(i).map(text).unwrap_or(None);
    Ok(match name {
        "trim" | "tolower" | "toupper" | "length" => {
            arity(1)?;
            let Some(v) = s(0) else { return Ok(Val::Null) };
            match name {
                "trim" => Val::Str(v.trim().to_owned()),
                "tolower" => Val::Str(v.to_lowercase()),
                "toupper" => Val::Str(v.to_uppercase()),
                _ => Val::Num(Decimal::from(v.chars().count())),
            }
        }
        "substringof" => {
            arity(2)?;
            match (s(0), s(1)) {
                (Some(needle), Some(hay)) => {
                    Val::Bool(hay.to_lowercase().contains(&needle.to_lowercase()))
                }
                _ => Val::Bool(false),
            }
        }
        "startswith" | "endswith" => {
            arity(2)?;
            match (s(0), s(1)) {
                (Some(hay), Some(part)) => {
                    let (hay, part) = (hay.to_lowercase(), part.to_lowercase());
                    Val::Bool(if name == "startswith" {
                        hay.starts_with(&part)
                    } else {
                        hay.ends_with(&part)
                    })
                }
                _ => Val::Bool(false),
            }
        }
        other => return err(format!("Unknown function '{other}' in $filter.")),
    })
}

fn compare(op: CmpOp, a: &Val, b: &Val) -> Result<bool, FilterError> {
    let ord: Option<Ordering> = match (a, b) {
        (Val::Null, Val::Null) => {
            return Ok(matches!(op, CmpOp::Eq | CmpOp::Ge | CmpOp::Le));
        }
        (Val::Null, _) | (_, Val::Null) => {
            return Ok(op == CmpOp::Ne);
        }
        (Val::Str(x) | Val::Guid(x), Val::Str(y) | Val::Guid(y)) => {
            Some(x.to_lowercase().cmp(&y.to_lowercase()))
        }
        (Val::Num(x), Val::Num(y)) => Some(x.cmp(y)),
        (Val::Date(x), Val::Date(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    };
    let Some(ord) = ord else {
        return err(format!(
            "Operator '{}' incompatible with operand types '{}' and '{}'.",
            format!("{op:?}").to_lowercase(),
            a.type_name(),
            b.type_name()
        ));
    };
    Ok(match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
    })
}

/// Percent-encodes a query value the way OData clients do (`$`, `'`, `(`, `)`, `,`, `:`, `/` kept literal).
pub(crate) fn encode_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'$'
            | b'\''
            | b'('
            | b')'
            | b','
            | b':'
            | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Parses a query string into ordered pairs (`+` decodes to a space, as browsers and Python send it).
pub(crate) fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn row() -> Map<String, Value> {
        json!({
            "ID": "71b961de-b9f3-49fe-883d-0f46c7e0e89b",
            "Code": "                25",
            "Name": "O'Brien Holding",
            "Status": "C",
            "Timestamp": 1234,
            "Modified": "/Date(1715558400000)/",
            "Amount": 12.5,
            "Blocked": false,
            "Email": null
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn ty(f: &str) -> Ty {
        match f {
            "ID" => Ty::Guid,
            "Modified" => Ty::Date,
            "Timestamp" => Ty::Int64,
            "Amount" => Ty::Dec,
            "Blocked" => Ty::Bool,
            _ => Ty::Str,
        }
    }

    fn matches(filter: &str) -> bool {
        let node = parse_filter(filter).unwrap();
        matches!(eval(&node, &row(), &ty).unwrap(), Val::Bool(true))
    }

    #[test]
    fn the_filter_forms_exact_clients_send_evaluate_as_on_the_real_service() {
        assert!(matches("ID eq guid'71B961DE-B9F3-49FE-883D-0F46C7E0E89B'"));
        assert!(matches("Name eq 'O''Brien Holding'"));
        assert!(matches("trim(Code) eq '25'"));
        assert!(!matches("Code eq '25'"), "unpadded codes must not match");
        assert!(matches("Code eq '                25'"));
        assert!(matches("substringof('brien',Name) eq true"));
        assert!(matches("Timestamp gt 1000L and Timestamp le 1234L"));
        assert!(matches(
            "Modified ge datetime'2024-05-13T00:00:00' and Modified lt datetime'2024-05-14'"
        ));
        assert!(matches(
            "(Status eq 'P' or Status eq 'C') and not (Blocked eq true)"
        ));
        assert!(matches("Amount gt 12 and Amount lt 12.6"));
        assert!(matches("Email eq null"));
        assert!(!matches("Email ne null"));
        assert!(matches("startswith(Name,'o''b') eq true"));
    }

    #[test]
    fn comparing_a_date_with_a_string_is_a_type_error() {
        let node = parse_filter("Modified eq '2024-05-13'").unwrap();
        assert!(eval(&node, &row(), &ty).is_err());
    }

    #[test]
    fn malformed_filters_are_rejected() {
        for bad in ["Name eq", "Name eq 'open", "(Name eq 'x'", "eq 'x'", ""] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_fields_a_filter_mentions_are_collected() {
        let mut out = BTreeSet::new();
        fields_of(
            &parse_filter("trim(Code) eq '1' or Timestamp gt 5L").unwrap(),
            &mut out,
        );
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            vec!["Code".to_owned(), "Timestamp".to_owned()]
        );
    }
}
