//! List parameters of the VP REST API: `limit|pageSize`, `offset|page`, `q.maxrows`, `fieldFilter`,
//! `order=Col_D` and the native `filterHash[i][name|value|opp|type|condition|seq]` search syntax.
//!
//! Comparison follows SQL Server's defaults, because that is what VP runs on: strings compare
//! case-insensitively and ignoring trailing spaces (so a blank WBS2 of `" "` equals `""`).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::error::VpError;
use super::model::{Row, decimal_of, get_ci, parse_vp_datetime, text_of};

/// How a list endpoint treats the `limit` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitPolicy {
    /// Hubs: `limit` is a page size.
    Accept,
    /// PSALedger / DataEntry: `limit` fails with a 500 (only `q.maxrows` / `pageSize` work).
    Reject500,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Ge,
    Gt,
    Lt,
    Le,
    Like,
    In,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Int,
    DateTime,
}

#[derive(Debug, Clone)]
struct Term {
    name: String,
    value: String,
    op: Op,
    kind: Option<Kind>,
    or_next: bool,
    seq: i64,
    index: usize,
}

/// Parsed list parameters.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListQuery {
    terms: Vec<Term>,
    page_size: Option<usize>,
    offset: usize,
    max_rows: Option<usize>,
    fields: Option<Vec<String>>,
    order: Vec<(String, bool)>,
    /// Every parameter with a lower-cased key (for endpoint-specific ones such as `wbstype` or `company`).
    pub(crate) params: BTreeMap<String, String>,
}

impl ListQuery {
    /// Parses a raw query string.
    pub(crate) fn parse(raw: Option<&str>, policy: LimitPolicy) -> Result<Self, VpError> {
        let mut q = ListQuery::default();
        let mut hash: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
        let mut limit = None;
        let mut page = None;
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let key = key.to_ascii_lowercase();
            if let Some(rest) = key.strip_prefix("filterhash[") {
                let Some((index, tail)) = rest.split_once(']') else {
                    continue;
                };
                let Ok(index) = index.parse::<usize>() else {
                    return Err(VpError::bad_request(format!(
                        "Invalid filterHash index in '{key}'."
                    )));
                };
                let attr = tail
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned();
                hash.entry(index)
                    .or_default()
                    .insert(attr, value.into_owned());
                continue;
            }
            match key.as_str() {
                "limit" => {
                    if policy == LimitPolicy::Reject500 {
                        return Err(VpError::Internal("An error has occurred.".into()));
                    }
                    limit = Some(parse_count(&key, &value)?);
                }
                "pagesize" => q.page_size = Some(parse_count(&key, &value)?),
                "offset" => q.offset = parse_count(&key, &value)?,
                "page" => page = Some(parse_count(&key, &value)?),
                "q.maxrows" => q.max_rows = Some(parse_count(&key, &value)?),
                "fieldfilter" => {
                    q.fields = Some(
                        value
                            .split(',')
                            .map(|f| f.trim().to_owned())
                            .filter(|f| !f.is_empty())
                            .collect(),
                    );
                }
                "order" => {
                    q.order = value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(
                            |s| match s.strip_suffix("_D").or_else(|| s.strip_suffix("_d")) {
                                Some(col) => (col.to_owned(), true),
                                None => (s.strip_suffix("_A").unwrap_or(s).to_owned(), false),
                            },
                        )
                        .collect();
                }
                _ => {}
            }
            q.params.insert(key, value.into_owned());
        }
        if q.page_size.is_none() {
            q.page_size = limit;
        }
        if let (Some(page), Some(size)) = (page, q.page_size) {
            q.offset = page.saturating_sub(1).saturating_mul(size);
        }
        for (index, attrs) in hash {
            let name = attrs.get("name").cloned().unwrap_or_default();
            if name.trim().is_empty() {
                return Err(VpError::bad_request(format!(
                    "filterHash[{index}] has no name."
                )));
            }
            let op = match attrs
                .get("opp")
                .map(|o| o.trim().to_ascii_lowercase())
                .as_deref()
            {
                None | Some("=") | Some("==") | Some("eq") => Op::Eq,
                Some("!=") | Some("<>") | Some("ne") => Op::Ne,
                Some(">=") | Some("ge") => Op::Ge,
                Some(">") | Some("gt") => Op::Gt,
                Some("<") | Some("lt") => Op::Lt,
                Some("<=") | Some("le") => Op::Le,
                Some("like") => Op::Like,
                Some("in") => Op::In,
                Some(other) => {
                    return Err(VpError::bad_request(format!(
                        "Unsupported filterHash operator '{other}'."
                    )));
                }
            };
            let kind = match attrs
                .get("type")
                .map(|t| t.trim().to_ascii_lowercase())
                .as_deref()
            {
                None | Some("") => None,
                Some("string") | Some("dropdown") | Some("text") => Some(Kind::String),
                Some("int") | Some("numeric") | Some("number") | Some("decimal") => Some(Kind::Int),
                Some("datetime") | Some("date") => Some(Kind::DateTime),
                Some(other) => {
                    return Err(VpError::bad_request(format!(
                        "Unsupported filterHash type '{other}'."
                    )));
                }
            };
            let seq = attrs
                .get("seq")
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(i64::try_from(index).unwrap_or(0));
            let or_next = attrs
                .get("condition")
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("or"));
            let value = attrs.get("value").cloned().unwrap_or_default();
            if kind == Some(Kind::DateTime) && op != Op::Like && parse_vp_datetime(&value).is_none()
            {
                return Err(VpError::bad_request(format!(
                    "'{value}' is not a valid date for filter on {name}."
                )));
            }
            q.terms.push(Term {
                name,
                value,
                op,
                kind,
                or_next,
                seq,
                index,
            });
        }
        q.terms.sort_by_key(|t| (t.seq, t.index));
        Ok(q)
    }

    /// A parameter by lower-cased name.
    pub(crate) fn param(&self, key: &str) -> Option<&str> {
        self.params
            .get(&key.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Filters, sorts, pages and trims `rows`.
    pub(crate) fn apply(&self, rows: Vec<Row>) -> Result<Vec<Row>, VpError> {
        if !rows.is_empty() {
            for term in &self.terms {
                if !rows.iter().any(|r| get_ci(r, &term.name).is_some()) {
                    return Err(VpError::bad_request(format!(
                        "Invalid column name '{}'.",
                        term.name
                    )));
                }
            }
        }
        let mut rows: Vec<Row> = rows.into_iter().filter(|r| self.matches(r)).collect();
        if !self.order.is_empty() {
            rows.sort_by(|a, b| {
                for (col, desc) in &self.order {
                    let ord = compare_values(a, b, col);
                    if ord != Ordering::Equal {
                        return if *desc { ord.reverse() } else { ord };
                    }
                }
                Ordering::Equal
            });
        }
        let take = match (self.page_size, self.max_rows) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(usize::MAX),
        };
        let rows = rows.into_iter().skip(self.offset).take(take);
        Ok(match &self.fields {
            None => rows.collect(),
            Some(fields) => rows
                .map(|r| {
                    let mut out = Row::new();
                    for f in fields {
                        if let Some((k, v)) = r.iter().find(|(k, _)| k.eq_ignore_ascii_case(f)) {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                    out
                })
                .collect(),
        })
    }

    fn matches(&self, row: &Row) -> bool {
        let mut result: Option<bool> = None;
        let mut joiner_is_or = false;
        for term in &self.terms {
            let hit = term_matches(term, row);
            result = Some(match result {
                None => hit,
                Some(acc) if joiner_is_or => acc || hit,
                Some(acc) => acc && hit,
            });
            joiner_is_or = term.or_next;
        }
        result.unwrap_or(true)
    }
}

fn parse_count(key: &str, value: &str) -> Result<usize, VpError> {
    value
        .trim()
        .parse()
        .map_err(|_| VpError::bad_request(format!("The value '{value}' is not valid for {key}.")))
}

fn sql_text(s: &str) -> String {
    s.trim_end().to_lowercase()
}

fn term_matches(term: &Term, row: &Row) -> bool {
    let Some(cell) = get_ci(row, &term.name) else {
        return false;
    };
    let cell_text = text_of(cell);
    // Without a `type`, numbers compare as numbers and date columns as dates (as SQL Server would convert).
    let kind = term.kind.unwrap_or(if cell.is_number() {
        Kind::Int
    } else if term.name.to_ascii_lowercase().contains("date")
        && parse_vp_datetime(&cell_text).is_some()
        && parse_vp_datetime(&term.value).is_some()
    {
        Kind::DateTime
    } else {
        Kind::String
    });
    if term.op == Op::Like {
        return like(&sql_text(&cell_text), &sql_text(&term.value));
    }
    if term.op == Op::In {
        return term
            .value
            .split(',')
            .any(|v| compare(kind, &cell_text, v.trim()) == Some(Ordering::Equal));
    }
    let Some(ord) = compare(kind, &cell_text, &term.value) else {
        return false;
    };
    match term.op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Ge => ord != Ordering::Less,
        Op::Gt => ord == Ordering::Greater,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Like | Op::In => false,
    }
}

fn compare(kind: Kind, cell: &str, value: &str) -> Option<Ordering> {
    match kind {
        Kind::Int => {
            let a = decimal_of(&serde_json::Value::from(cell))?;
            let b = decimal_of(&serde_json::Value::from(value))?;
            Some(a.cmp(&b))
        }
        Kind::DateTime => Some(parse_vp_datetime(cell)?.cmp(&parse_vp_datetime(value)?)),
        Kind::String => Some(sql_text(cell).cmp(&sql_text(value))),
    }
}

/// SQL `LIKE` with `%` and `_`; a pattern without wildcards matches as "contains" (VP's search boxes).
fn like(text: &str, pattern: &str) -> bool {
    if !pattern.contains(['%', '_']) {
        return text.contains(pattern);
    }
    fn go(t: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(&t[i..], rest)),
            Some(('_', rest)) => !t.is_empty() && go(&t[1..], rest),
            Some((c, rest)) => t.first() == Some(c) && go(&t[1..], rest),
        }
    }
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    go(&t, &p)
}

fn compare_values(a: &Row, b: &Row, col: &str) -> Ordering {
    let (Some(x), Some(y)) = (get_ci(a, col), get_ci(b, col)) else {
        return get_ci(a, col).is_some().cmp(&get_ci(b, col).is_some());
    };
    if let (Some(p), Some(q)) = (
        x.as_number().and(decimal_of(x)),
        y.as_number().and(decimal_of(y)),
    ) {
        return p.cmp(&q);
    }
    let (p, q) = (text_of(x), text_of(y));
    if let (Some(p), Some(q)) = (parse_vp_datetime(&p), parse_vp_datetime(&q)) {
        return p.cmp(&q);
    }
    if let (Ok(p), Ok(q)) = (p.trim().parse::<Decimal>(), q.trim().parse::<Decimal>()) {
        return p.cmp(&q);
    }
    sql_text(&p).cmp(&sql_text(&q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows() -> Vec<Row> {
        [
            json!({"Batch":"B1","PostSeq":1,"PostDate":"2026-05-01T10:00:00.000","WBS2":" ","Name":"Acme"}),
            json!({"Batch":"B2","PostSeq":2,"PostDate":"2026-05-02T10:00:00.000","WBS2":"01","Name":"Beta"}),
            json!({"Batch":"B3","PostSeq":3,"PostDate":"2026-05-03T10:00:00.000","WBS2":"","Name":"acme two"}),
        ]
        .into_iter()
        .filter_map(|v| v.as_object().cloned())
        .collect()
    }

    fn batches(q: &str, policy: LimitPolicy) -> Vec<String> {
        let parsed = ListQuery::parse(Some(q), policy).unwrap_or_default();
        parsed
            .apply(rows())
            .unwrap_or_default()
            .iter()
            .map(|r| text_of(&r["Batch"]))
            .collect()
    }

    #[test]
    fn a_half_open_post_date_window_excludes_its_upper_bound() {
        let q = "filterHash[0][name]=PostDate&filterHash[0][value]=2026-05-01T10:00:00.000Z&filterHash[0][type]=datetime&filterHash[0][opp]=%3E%3D&filterHash[1][name]=PostDate&filterHash[1][value]=2026-05-03T10:00:00.000Z&filterHash[1][type]=datetime&filterHash[1][opp]=%3C";
        assert_eq!(batches(q, LimitPolicy::Accept), vec!["B1", "B2"]);
    }

    #[test]
    fn blank_wbs_compares_equal_to_a_single_space_like_sql_server() {
        let q = "filterHash[0][name]=WBS2&filterHash[0][value]=&filterHash[0][opp]==";
        assert_eq!(batches(q, LimitPolicy::Accept), vec!["B1", "B3"]);
    }

    #[test]
    fn or_conditions_join_terms_and_like_is_case_insensitive() {
        let q = "filterHash[0][name]=Name&filterHash[0][value]=ACME%25&filterHash[0][opp]=like&filterHash[0][condition]=OR&filterHash[1][name]=PostSeq&filterHash[1][value]=2&filterHash[1][type]=int";
        assert_eq!(batches(q, LimitPolicy::Accept), vec!["B1", "B2", "B3"]);
    }

    #[test]
    fn paging_ordering_and_max_rows_combine() {
        assert_eq!(
            batches("order=PostSeq_D&pageSize=1&page=2", LimitPolicy::Accept),
            vec!["B2"]
        );
        assert_eq!(
            batches("q.maxrows=2&offset=1", LimitPolicy::Reject500),
            vec!["B2", "B3"]
        );
    }

    #[test]
    fn date_columns_compare_as_dates_even_without_a_type() {
        let q = "filterHash[0][name]=PostDate&filterHash[0][value]=2026-05-02T10:00:00Z&filterHash[0][opp]=%3E%3D";
        assert_eq!(batches(q, LimitPolicy::Accept), vec!["B2", "B3"]);
    }

    #[test]
    fn limit_is_a_server_error_where_vp_rejects_it() {
        assert!(matches!(
            ListQuery::parse(Some("limit=5"), LimitPolicy::Reject500),
            Err(VpError::Internal(_))
        ));
    }

    #[test]
    fn an_unknown_filter_column_is_refused() {
        let parsed = ListQuery::parse(
            Some("filterHash[0][name]=Nope&filterHash[0][value]=1"),
            LimitPolicy::Accept,
        );
        assert!(parsed.and_then(|q| q.apply(rows())).is_err());
    }
}
