//! Query strings for VP list reads: the native `filterHash` search syntax, paging (`limit`/`offset`, or
//! `q.maxrows` for PSALedger/DataEntry which reject `limit`), `fieldFilter` and `order`.
//!
//! Pairs are kept raw here and URL-encoded once when the request URL is built, so operators such as `>=`
//! go out as `%3E%3D` and brackets as `%5B%5D`.

use chrono::{DateTime, Utc};

use crate::decode::format_datetime;

/// The comparison of one filter term (`opp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    /// `==` (used by Unionpoint for flags, e.g. `ClientInd == Y`).
    EqEq,
    Ne,
    Ge,
    Gt,
    Le,
    Lt,
    Like,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::EqEq => "==",
            Self::Ne => "<>",
            Self::Ge => ">=",
            Self::Gt => ">",
            Self::Le => "<=",
            Self::Lt => "<",
            Self::Like => "like",
        }
    }
}

/// The value type of one filter term (`type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterType {
    String,
    Int,
    DateTime,
    Dropdown,
}

impl FilterType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::DateTime => "datetime",
            Self::Dropdown => "dropdown",
        }
    }
}

/// One filter term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterTerm {
    pub name: String,
    pub value: String,
    pub op: Op,
    pub kind: FilterType,
    /// Optional table qualifier (e.g. `PR` on project searches).
    pub table: Option<String>,
}

/// A conjunction of filter terms (VP's `condition` joins a term to the next; this client only needs AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterHash {
    terms: Vec<FilterTerm>,
}

impl FilterHash {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn term(mut self, name: &str, op: Op, value: impl Into<String>, kind: FilterType) -> Self {
        self.terms.push(FilterTerm {
            name: name.to_owned(),
            value: value.into(),
            op,
            kind,
            table: None,
        });
        self
    }

    /// `name = value` on a string column.
    pub fn eq(self, name: &str, value: impl Into<String>) -> Self {
        self.term(name, Op::Eq, value, FilterType::String)
    }

    /// `name = value` on an integer column (Period, PostSeq).
    pub fn eq_int(self, name: &str, value: i64) -> Self {
        self.term(name, Op::Eq, value.to_string(), FilterType::Int)
    }

    /// `name == 'Y'` on a Y/N flag column.
    pub fn flag(self, name: &str, on: bool) -> Self {
        self.term(
            name,
            Op::EqEq,
            if on { "Y" } else { "N" },
            FilterType::String,
        )
    }

    /// The half-open window `from <= name < to` on a datetime column.
    pub fn window(self, name: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        self.term(name, Op::Ge, format_datetime(from), FilterType::DateTime)
            .term(name, Op::Lt, format_datetime(to), FilterType::DateTime)
    }

    pub fn with_table(mut self, table: &str) -> Self {
        if let Some(last) = self.terms.last_mut() {
            last.table = Some(table.to_owned());
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn terms(&self) -> &[FilterTerm] {
        &self.terms
    }

    /// The `filterHash[i][...]` pairs, raw (not yet URL-encoded).
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(self.terms.len() * 6);
        for (i, t) in self.terms.iter().enumerate() {
            let key = |k: &str| format!("filterHash[{i}][{k}]");
            out.push((key("name"), t.name.clone()));
            out.push((key("value"), t.value.clone()));
            out.push((key("opp"), t.op.as_str().to_owned()));
            out.push((key("type"), t.kind.as_str().to_owned()));
            out.push((key("condition"), "AND".to_owned()));
            out.push((key("seq"), i.to_string()));
            if let Some(table) = &t.table {
                out.push((key("tablename"), table.clone()));
            }
        }
        out
    }
}

/// How a list endpoint pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// Hubs and code tables: `limit` + `offset` (0-based).
    LimitOffset { limit: u32 },
    /// PSALedger / DataEntry: only a row cap, `q.maxrows`; no offset.
    MaxRows { max_rows: u32 },
    /// No paging parameters.
    None,
}

/// The full query of one list read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub filter: FilterHash,
    pub field_filter: Vec<String>,
    pub order: Option<String>,
    pub extra: Vec<(String, String)>,
}

impl ListQuery {
    pub fn filtered(filter: FilterHash) -> Self {
        Self {
            filter,
            ..Self::default()
        }
    }

    pub fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.extra.push((key.to_owned(), value.into()));
        self
    }

    /// The raw pairs of this query with the paging parameters of one page (`offset` ignored for MaxRows).
    pub fn pairs(&self, paging: Paging, offset: u32) -> Vec<(String, String)> {
        let mut out = self.filter.pairs();
        if !self.field_filter.is_empty() {
            out.push(("fieldFilter".to_owned(), self.field_filter.join(",")));
        }
        if let Some(order) = &self.order {
            out.push(("order".to_owned(), order.clone()));
        }
        match paging {
            Paging::LimitOffset { limit } => {
                out.push(("limit".to_owned(), limit.to_string()));
                out.push(("offset".to_owned(), offset.to_string()));
            }
            Paging::MaxRows { max_rows } => {
                out.push(("q.maxrows".to_owned(), max_rows.to_string()))
            }
            Paging::None => {}
        }
        out.extend(self.extra.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_post_date_window_becomes_two_half_open_filter_terms() {
        let f = FilterHash::new().window(
            "PostDate",
            at("2026-06-01T00:00:00Z"),
            at("2026-06-02T00:00:00Z"),
        );
        let pairs = f.pairs();
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("filterHash[0][name]"), Some("PostDate"));
        assert_eq!(get("filterHash[0][opp]"), Some(">="));
        assert_eq!(get("filterHash[0][value]"), Some("2026-06-01T00:00:00.000"));
        assert_eq!(get("filterHash[0][type]"), Some("datetime"));
        assert_eq!(get("filterHash[0][condition]"), Some("AND"));
        assert_eq!(get("filterHash[0][seq]"), Some("0"));
        assert_eq!(get("filterHash[1][opp]"), Some("<"));
        assert_eq!(get("filterHash[1][value]"), Some("2026-06-02T00:00:00.000"));
        assert_eq!(get("filterHash[1][seq]"), Some("1"));
    }

    #[test]
    fn operators_are_url_encoded_when_the_url_is_built() {
        let q = ListQuery::filtered(FilterHash::new().term(
            "ModDate",
            Op::Ge,
            "2026-01-01",
            FilterType::DateTime,
        ));
        let mut url = url::Url::parse("https://vp.example.com/X/api/firm").unwrap();
        url.query_pairs_mut().extend_pairs(q.pairs(Paging::None, 0));
        let query = url.query().unwrap();
        assert!(
            query.contains("filterHash%5B0%5D%5Bopp%5D=%3E%3D"),
            "{query}"
        );
        assert!(!query.contains(">="));
    }

    #[test]
    fn flag_terms_use_double_equals_and_y() {
        let pairs = FilterHash::new().flag("ClientInd", true).pairs();
        assert!(pairs.contains(&("filterHash[0][opp]".into(), "==".into())));
        assert!(pairs.contains(&("filterHash[0][value]".into(), "Y".into())));
    }

    #[test]
    fn ledger_reads_page_with_maxrows_and_never_send_limit() {
        let pairs = ListQuery::filtered(FilterHash::new().eq("Batch", "B1"))
            .pairs(Paging::MaxRows { max_rows: 100 }, 7);
        assert!(pairs.contains(&("q.maxrows".into(), "100".into())));
        assert!(!pairs.iter().any(|(k, _)| k == "limit" || k == "offset"));
    }

    #[test]
    fn hub_reads_page_with_limit_and_offset() {
        let pairs = ListQuery::default().pairs(Paging::LimitOffset { limit: 50 }, 100);
        assert!(pairs.contains(&("limit".into(), "50".into())));
        assert!(pairs.contains(&("offset".into(), "100".into())));
    }

    #[test]
    fn a_table_qualifier_is_sent_as_tablename() {
        let pairs = FilterHash::new()
            .term("Name", Op::Like, "Acme%", FilterType::String)
            .with_table("PR")
            .pairs();
        assert!(pairs.contains(&("filterHash[0][tablename]".into(), "PR".into())));
        assert!(pairs.contains(&("filterHash[0][opp]".into(), "like".into())));
    }
}
