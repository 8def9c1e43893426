//! The canonical tree every template is loaded into, whatever its format.

use indexmap::IndexMap;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// One value of a CloudFormation template after loading.
///
/// JSON and YAML templates, short-form and long-form intrinsics all become the same tree:
/// `!Ref X` and `{"Ref": "X"}` are both `Map{"Ref": String("X")}`.
///
/// Scalars keep the text CloudFormation would read (`Number("1.10")` keeps its trailing zero)
/// so that version-like values are not silently rounded.
#[derive(Debug, Clone)]
pub enum Node {
    Null,
    Bool(bool),
    /// The number exactly as written in the source.
    Number(String),
    String(String),
    List(Vec<Node>),
    /// Keys in source order; equality ignores the order.
    Map(IndexMap<String, Node>),
}

impl Node {
    /// The text CloudFormation sees for a scalar: `80` and `"80"` are both "80", `true` and
    /// `"true"` are both "true". `None` for lists and maps.
    pub fn scalar_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        match self {
            Node::Null => Some(Cow::Borrowed("")),
            Node::Bool(true) => Some(Cow::Borrowed("true")),
            Node::Bool(false) => Some(Cow::Borrowed("false")),
            Node::Number(text) | Node::String(text) => Some(Cow::Borrowed(text.as_str())),
            Node::List(_) | Node::Map(_) => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&IndexMap<String, Node>> {
        match self {
            Node::Map(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Node]> {
        match self {
            Node::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|map| map.get(key))
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "boolean",
            Node::Number(_) => "number",
            Node::String(_) => "string",
            Node::List(_) => "list",
            Node::Map(_) => "map",
        }
    }
}

/// Semantic equality, as CloudFormation reads values: scalars compare by their text
/// (`"80" == 80`, `"true" == true`), maps ignore key order, lists keep order.
impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::List(a), Node::List(b)) => a == b,
            (Node::Map(a), Node::Map(b)) => a == b,
            (Node::Null, Node::Null) => true,
            (Node::List(_) | Node::Map(_), _) | (_, Node::List(_) | Node::Map(_)) => false,
            (Node::Null, _) | (_, Node::Null) => false,
            (a, b) => a.scalar_text() == b.scalar_text(),
        }
    }
}

impl Eq for Node {}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => serializer.serialize_unit(),
            Node::Bool(b) => serializer.serialize_bool(*b),
            Node::Number(text) => match json_number(text) {
                Some(number) => number.serialize(serializer),
                None => serializer.serialize_str(text),
            },
            Node::String(s) => serializer.serialize_str(s),
            Node::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    out.serialize_entry(key, value)?;
                }
                out.end()
            }
        }
    }
}

/// The number as JSON if its text is a JSON number (YAML allows forms JSON does not, like `0x1F`).
fn json_number(text: &str) -> Option<serde_json::Number> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Number(number)) => Some(number),
        _ => None,
    }
}
