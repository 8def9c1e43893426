//! Small conversions between JSON and template nodes, and compact one-line renderings.

use crate::template::Node;

/// Policy documents written as JSON strings are read back into nodes to compare their statements.
pub fn node_from_json(value: &serde_json::Value) -> Node {
    match value {
        serde_json::Value::Null => Node::Null,
        serde_json::Value::Bool(flag) => Node::Bool(*flag),
        serde_json::Value::Number(number) => Node::Number(number.to_string()),
        serde_json::Value::String(text) => Node::String(text.clone()),
        serde_json::Value::Array(items) => Node::List(items.iter().map(node_from_json).collect()),
        serde_json::Value::Object(map) => Node::Map(
            map.iter()
                .map(|(key, value)| (key.clone(), node_from_json(value)))
                .collect(),
        ),
    }
}

/// One line for a value: scalars as their text, `{"Ref": "X"}` as `X`,
/// `{"Fn::GetAtt": ["X", "Arn"]}` as `X.Arn`, anything else as compact JSON.
pub fn short_text(node: &Node) -> String {
    if let Some(text) = node.scalar_text() {
        return text.into_owned();
    }
    if let Some(map) = node.as_map() {
        if map.len() == 1 {
            if let Some(Node::String(target)) = map.get("Ref") {
                return target.clone();
            }
            if let Some(Node::List(parts)) = map.get("Fn::GetAtt") {
                let texts: Vec<String> = parts.iter().map(short_text).collect();
                return texts.join(".");
            }
        }
    }
    compact_json(node)
}

pub fn compact_json(node: &Node) -> String {
    serde_json::to_string(node).unwrap_or_else(|_| String::from("<unprintable>"))
}

/// A scalar or a list of them (IAM's `"Action": "s3:GetObject"` or `["s3:GetObject", ...]`).
pub fn texts_of(node: Option<&Node>) -> Vec<String> {
    match node {
        None => Vec::new(),
        Some(Node::List(items)) => items.iter().map(short_text).collect(),
        Some(other) => vec![short_text(other)],
    }
}
