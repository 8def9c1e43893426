//! JSON templates, read straight into a `Node` so that duplicate keys (which CloudFormation
//! silently resolves to the last, and a plain `serde_json::Value` would drop without a word)
//! are reported with their line.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::error::{Location, TemplateError};
use super::{Format, Node};

pub fn parse(body: &str, origin: &str) -> Result<Node, TemplateError> {
    match serde_json::from_str::<JsonNode>(body) {
        Ok(JsonNode(node)) => Ok(node),
        Err(error) => {
            let at = if error.line() > 0 {
                Location::at(origin, error.line(), error.column())
            } else {
                Location::file(origin)
            };
            Err(TemplateError::Syntax {
                at,
                format: Format::Json,
                message: message_without_position(&error),
            })
        }
    }
}

/// serde_json appends " at line L column C" to its messages; the location is printed first
/// instead, in `file:line:column` form.
fn message_without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

struct JsonNode(Node);

impl<'de> Deserialize<'de> for JsonNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<JsonNode, D::Error> {
        deserializer.deserialize_any(NodeVisitor).map(JsonNode)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Node, E> {
        Ok(Node::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Node, E> {
        Ok(Node::Number(serde_json::Number::from(value).to_string()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Node, E> {
        Ok(Node::Number(serde_json::Number::from(value).to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Node, E> {
        serde_json::Number::from_f64(value)
            .map(|number| Node::Number(number.to_string()))
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Node, E> {
        Ok(Node::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Node, E> {
        Ok(Node::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonNode(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Node, A::Error> {
        let mut map = IndexMap::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "key `{key}` appears twice in the same object; CloudFormation rejects duplicate keys"
                )));
            }
            let JsonNode(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Node::Map(map))
    }
}
