//! XML request bodies (reference §1.3: "XML bodies also accepted (`application/xml`)"): an OData v2 Atom
//! `<entry>` whose `<content><m:properties>` hold the properties (`<d:Name>value</d:Name>`, `m:type` for the
//! Edm type, `m:null="true"` for null) and whose inline navigations
//! (`<link rel="…/related/SalesEntryLines"><m:inline><feed><entry>…`) hold child entries. It becomes the same JSON
//! object a JSON body gives, so one handler serves both.

use quick_xml::Reader;
use quick_xml::encoding::Decoder;
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Number, Value};

/// One element: local name, attributes by local name, child elements and text.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
}

fn local(qname: &[u8]) -> String {
    let s = String::from_utf8_lossy(qname);
    s.rsplit(':').next().unwrap_or_default().to_owned()
}

/// `decode_and_unescape_value` works whether or not another crate turned on quick-xml's `encoding` feature
/// (`unescape_value` exists only without it).
fn open(e: &BytesStart<'_>, decoder: Decoder) -> Result<Node, String> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let v = a
            .decode_and_unescape_value(decoder)
            .map_err(|e| e.to_string())?;
        attrs.push((local(a.key.as_ref()), v.into_owned()));
    }
    Ok(Node {
        name: local(e.name().as_ref()),
        attrs,
        ..Node::default()
    })
}

fn parse_tree(xml: &str) -> Result<Node, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => stack.push(open(&e, reader.decoder())?),
            Event::Empty(e) => {
                let node = open(&e, reader.decoder())?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.unescape().map_err(|e| e.to_string())?);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Eof => return Err("unexpected end of document".into()),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

/// A property element as JSON, by its `m:type`.
fn value(p: &Node) -> Result<Value, String> {
    if p.attr("null") == Some("true") {
        return Ok(Value::Null);
    }
    let text = p.text.trim();
    Ok(match p.attr("type").unwrap_or("Edm.String") {
        "Edm.Boolean" => match text {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(format!("'{text}' is not an Edm.Boolean ({})", p.name)),
        },
        "Edm.Int16" | "Edm.Int32" | "Edm.Int64" | "Edm.Byte" | "Edm.SByte" | "Edm.Double"
        | "Edm.Decimal" | "Edm.Single" => text
            .parse::<Number>()
            .map(Value::Number)
            .map_err(|_| format!("'{text}' is not a number ({})", p.name))?,
        _ => Value::String(p.text.clone()),
    })
}

/// The properties and inline navigations of an Atom `<entry>`.
fn entry(node: &Node) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let props = node
        .child("content")
        .and_then(|c| c.child("properties"))
        .or_else(|| node.child("properties"))
        .ok_or("the entry has no m:properties")?;
    for p in &props.children {
        out.insert(p.name.clone(), value(p)?);
    }
    for link in node.children.iter().filter(|c| c.name == "link") {
        let Some(inline) = link.child("inline") else {
            continue;
        };
        let name = link
            .attr("title")
            .map(str::to_owned)
            .or_else(|| {
                link.attr("rel")
                    .and_then(|r| r.rsplit('/').next())
                    .map(str::to_owned)
            })
            .ok_or("an inline link without a name")?;
        let rows = match inline.child("feed") {
            Some(feed) => feed
                .children
                .iter()
                .filter(|c| c.name == "entry")
                .map(|e| entry(e).map(Value::Object))
                .collect::<Result<Vec<_>, _>>()?,
            None => inline
                .children
                .iter()
                .filter(|c| c.name == "entry")
                .map(|e| entry(e).map(Value::Object))
                .collect::<Result<Vec<_>, _>>()?,
        };
        out.insert(name, Value::Array(rows));
    }
    Ok(out)
}

/// Parses an Atom entry request body into the JSON object a JSON body would be.
pub(crate) fn parse_entry(xml: &str) -> Result<Map<String, Value>, String> {
    let root = parse_tree(xml)?;
    if root.name != "entry" {
        return Err(format!("expected an Atom entry, found <{}>", root.name));
    }
    entry(&root)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn an_atom_entry_becomes_the_json_object_with_types_nulls_and_inline_lines() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<entry xmlns="http://www.w3.org/2005/Atom" xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">
  <link rel="http://schemas.microsoft.com/ado/2007/08/dataservices/related/SalesEntryLines" type="application/atom+xml;type=feed" title="SalesEntryLines">
    <m:inline><feed><entry><content type="application/xml"><m:properties>
      <d:AmountFC m:type="Edm.Double">100.5</d:AmountFC><d:Description>R&amp;D</d:Description>
    </m:properties></content></entry></feed></m:inline>
  </link>
  <content type="application/xml"><m:properties>
    <d:Journal>70</d:Journal>
    <d:Customer m:type="Edm.Guid">0c2f3d6e-3b1a-4c57-9d0a-8f9b8c1e2d3f</d:Customer>
    <d:EntryNumber m:type="Edm.Int32">42</d:EntryNumber>
    <d:Reversal m:type="Edm.Boolean">false</d:Reversal>
    <d:YourRef m:null="true" />
  </m:properties></content>
</entry>"#;
        let parsed = parse_entry(xml).unwrap();
        assert_eq!(
            Value::Object(parsed),
            json!({"Journal": "70", "Customer": "0c2f3d6e-3b1a-4c57-9d0a-8f9b8c1e2d3f", "EntryNumber": 42,
                   "Reversal": false, "YourRef": null,
                   "SalesEntryLines": [{"AmountFC": 100.5, "Description": "R&D"}]})
        );
    }

    #[test]
    fn anything_but_an_entry_is_refused() {
        assert!(parse_entry("<feed/>").is_err());
        assert!(parse_entry("<entry><content>").is_err());
        assert!(
            parse_entry(
                "<entry><content><properties><A type=\"Edm.Int32\">x</A></properties></content></entry>"
            )
            .is_err()
        );
    }
}
