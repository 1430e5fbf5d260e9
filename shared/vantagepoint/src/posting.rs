//! `PUT /DataEntry/PostTransFile`: posting a batch, and decoding its answer — a JSON document encoded as a
//! JSON *string* with `|`-separated lists (`typeList`, `batchList`, `retList`, `periodList`, `postseqList`)
//! and a human `msg`. VP's own example even lacks a comma between two members, so the decoder falls back to
//! reading `"key": "value"` pairs when the inner text is not valid JSON.

use serde_json::Value;

use crate::error::VpError;

/// What posting reported for one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedBatch {
    pub trans_type: String,
    pub batch: String,
    /// `retList` entry `1`.
    pub succeeded: bool,
    pub period: Option<i64>,
    pub post_seq: Option<i64>,
}

/// The decoded PostTransFile answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingReport {
    pub batches: Vec<PostedBatch>,
    pub message: String,
}

impl PostingReport {
    /// The entry of `batch`, or — when VP did not list batch ids — the only entry.
    pub fn for_batch(&self, batch: &str) -> Option<&PostedBatch> {
        self.batches
            .iter()
            .find(|b| b.batch.eq_ignore_ascii_case(batch))
            .or_else(|| {
                if self.batches.len() == 1 {
                    self.batches.first()
                } else {
                    None
                }
            })
    }
}

/// Decodes the PostTransFile answer (object, JSON string, or broken-JSON string).
pub fn parse_posting_report(value: &Value) -> Result<PostingReport, VpError> {
    let fields: Vec<(String, String)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), crate::decode::text(v).unwrap_or_default()))
            .collect(),
        Value::String(text) => match serde_json::from_str::<Value>(text.trim()) {
            Ok(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (k.clone(), crate::decode::text(v).unwrap_or_default()))
                .collect(),
            Ok(Value::String(inner)) => return parse_posting_report(&Value::String(inner)),
            _ => loose_pairs(text),
        },
        Value::Array(items) if items.len() == 1 => return parse_posting_report(&items[0]),
        other => {
            return Err(VpError::decode_msg(
                "PostTransFile",
                format!("unexpected answer shape: {other}"),
            ));
        }
    };
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    let split = |key: &str| -> Vec<String> {
        get(key)
            .map(|v| v.split('|').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default()
    };
    let rets = split("retList");
    if rets.is_empty() || rets.iter().all(String::is_empty) {
        return Err(VpError::decode_msg(
            "PostTransFile",
            "the answer has no retList",
        ));
    }
    let types = split("typeList");
    let batches = split("batchList");
    let periods = split("periodList");
    let seqs = split("postseqList");
    let at = |list: &Vec<String>, i: usize| list.get(i).cloned().unwrap_or_default();
    let entries = (0..rets.len())
        .map(|i| PostedBatch {
            trans_type: at(&types, i),
            batch: at(&batches, i),
            succeeded: rets[i] == "1",
            period: at(&periods, i).parse().ok(),
            post_seq: at(&seqs, i).parse().ok(),
        })
        .collect();
    Ok(PostingReport {
        batches: entries,
        message: get("msg").unwrap_or_default().replace("[CRLF]", "\n"),
    })
}

/// `"key": "value"` pairs from text that is almost JSON.
fn loose_pairs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let read_string = |start: usize| -> Option<(String, usize)> {
        // `start` is at the opening quote.
        let mut s = String::new();
        let mut j = start + 1;
        while j < chars.len() {
            match chars[j] {
                '\\' if j + 1 < chars.len() => {
                    let c = chars[j + 1];
                    s.push(match c {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        other => other,
                    });
                    j += 2;
                }
                '"' => return Some((s, j + 1)),
                c => {
                    s.push(c);
                    j += 1;
                }
            }
        }
        None
    };
    while i < chars.len() {
        if chars[i] != '"' {
            i += 1;
            continue;
        }
        let Some((key, after_key)) = read_string(i) else {
            break;
        };
        let mut j = after_key;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if j < chars.len() && chars[j] == ':' {
            j += 1;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if j < chars.len() && chars[j] == '"' {
                if let Some((value, after_value)) = read_string(j) {
                    out.push((key, value));
                    i = after_value;
                    continue;
                }
                break;
            }
            // A bare number / literal value.
            let start = j;
            while j < chars.len() && !matches!(chars[j], ',' | '}' | '\r' | '\n') {
                j += 1;
            }
            out.push((
                key,
                chars[start..j].iter().collect::<String>().trim().to_owned(),
            ));
            i = j;
            continue;
        }
        i = after_key;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// The example of Deltek's Postman collection, missing comma included.
    const PM_EXAMPLE: &str = "{\r\n \"typeList\": \"CR|JE\"\r\n \"batchList\": \"48aed4940d014a319758a9921362510f|5778aa\",\r\n \"retList\": \"1|1\",\r\n \"periodList\": \"201305|201305\",\r\n \"postseqList\": \"194|195\",\r\n \"msg\": \"Cash Receipts file DP Test CR Post 1; 1 of 1 records posted; Posting sequence 194[CRLF]\"\r\n}";

    #[test]
    fn the_postman_example_string_is_decoded_despite_its_missing_comma() {
        let report = parse_posting_report(&Value::String(PM_EXAMPLE.into())).unwrap();
        assert_eq!(report.batches.len(), 2);
        let cr = report
            .for_batch("48aed4940d014a319758a9921362510f")
            .unwrap();
        assert!(cr.succeeded);
        assert_eq!(cr.trans_type, "CR");
        assert_eq!(cr.period, Some(201305));
        assert_eq!(cr.post_seq, Some(194));
        assert!(report.message.contains("1 of 1 records posted"));
    }

    #[test]
    fn a_well_formed_json_string_and_a_plain_object_decode_alike() {
        let inner = json!({"typeList":"CR","batchList":"B1","retList":"1","periodList":"202606","postseqList":"7","msg":"ok"});
        let from_string = parse_posting_report(&Value::String(inner.to_string())).unwrap();
        let from_object = parse_posting_report(&inner).unwrap();
        assert_eq!(from_string, from_object);
        assert_eq!(from_object.for_batch("B1").unwrap().post_seq, Some(7));
    }

    #[test]
    fn a_failed_post_is_reported_as_not_succeeded() {
        let inner = json!({"typeList":"CR","batchList":"B1","retList":"0","periodList":"202606","postseqList":"","msg":"Batch is out of balance"});
        let report = parse_posting_report(&Value::String(inner.to_string())).unwrap();
        let b = report.for_batch("B1").unwrap();
        assert!(!b.succeeded);
        assert_eq!(b.post_seq, None);
    }

    #[test]
    fn an_answer_without_ret_list_is_a_decode_error() {
        assert!(parse_posting_report(&Value::String("\"hello\"".into())).is_err());
        assert!(parse_posting_report(&json!(42)).is_err());
    }
}
