//! Structural diff of two template trees into path-level changes.
//!
//! Lists whose items have an identity (tags by Key, statements by Sid, security-group rules by
//! protocol/ports/peer, ...) are matched by it and their order is ignored, as CloudFormation
//! ignores it. Other lists are aligned by a longest common subsequence over semantic equality.

use std::collections::{HashMap, VecDeque};

use similar::algorithms::{myers, Capture, Replace};
use similar::DiffOp;

use super::model::{ChangeKind, Path, PathSegment, PropertyChange};
use crate::template::Node;

/// Appends the changes that turn `old` into `new` at `path` to `out`.
pub fn diff_nodes(path: &mut Path, old: &Node, new: &Node, out: &mut Vec<PropertyChange>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Node::Map(old_map), Node::Map(new_map)) if !different_intrinsics(old, new) => {
            for (key, old_value) in old_map {
                path.0.push(PathSegment::Key(key.clone()));
                match new_map.get(key) {
                    Some(new_value) => diff_nodes(path, old_value, new_value, out),
                    None => out.push(removed(path, old_value)),
                }
                path.0.pop();
            }
            for (key, new_value) in new_map {
                if !old_map.contains_key(key) {
                    path.0.push(PathSegment::Key(key.clone()));
                    out.push(added(path, new_value));
                    path.0.pop();
                }
            }
        }
        (Node::List(old_items), Node::List(new_items)) => {
            diff_lists(path, old_items, new_items, out)
        }
        // IAM reads a string as a one-element list (and one statement as a list of one).
        _ if iam_list_valued(path) && (old.as_list().is_some() != new.as_list().is_some()) => {
            let (old_items, new_items) = (as_items(old), as_items(new));
            diff_lists(path, &old_items, &new_items, out)
        }
        _ => out.push(PropertyChange {
            path: path.clone(),
            kind: ChangeKind::Modified,
            old: Some(old.clone()),
            new: Some(new.clone()),
            replacement: false,
        }),
    }
}

pub fn added(path: &Path, value: &Node) -> PropertyChange {
    PropertyChange {
        path: path.clone(),
        kind: ChangeKind::Added,
        old: None,
        new: Some(value.clone()),
        replacement: false,
    }
}

pub fn removed(path: &Path, value: &Node) -> PropertyChange {
    PropertyChange {
        path: path.clone(),
        kind: ChangeKind::Removed,
        old: Some(value.clone()),
        new: None,
        replacement: false,
    }
}

/// `{"Fn::Sub": ..}` against `{"Fn::Join": ..}` is one changed value, not a removed and an added key.
fn different_intrinsics(old: &Node, new: &Node) -> bool {
    match (intrinsic_name(old), intrinsic_name(new)) {
        (Some(a), Some(b)) => a != b,
        (Some(_), None) | (None, Some(_)) => true,
        (None, None) => false,
    }
}

fn intrinsic_name(node: &Node) -> Option<&str> {
    let map = node.as_map()?;
    if map.len() != 1 {
        return None;
    }
    let key = map.keys().next()?;
    (key == "Ref" || key == "Condition" || key.starts_with("Fn::")).then_some(key.as_str())
}

/// Whether the value at `path` is one IAM reads as a list that may be written as one item:
/// `Action`, `NotAction`, `Resource`, `NotResource`, a principal type's value (`AWS`, `Service`,
/// `Federated`, `CanonicalUser`), a condition key's value (`Condition.<operator>.<key>`), and
/// `Statement` (IAM User Guide, "IAM JSON policy element reference").
fn iam_list_valued(path: &Path) -> bool {
    let last = path.0.last();
    matches!(last, Some(PathSegment::Key(key)) if IAM_LIST_KEYS.contains(&key.as_str()))
        || is_condition_value(path)
}

/// `…Condition.<operator>.<key>`: the values a condition key is compared with, a set.
fn is_condition_value(path: &Path) -> bool {
    let mut keys = path.0.iter().rev().take(3);
    matches!(
        (keys.next(), keys.next(), keys.next()),
        (
            Some(PathSegment::Key(_)),
            Some(PathSegment::Key(_)),
            Some(PathSegment::Key(condition))
        ) if condition == "Condition"
    )
}

const IAM_LIST_KEYS: [&str; 9] = [
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "AWS",
    "Service",
    "Federated",
    "CanonicalUser",
    "Statement",
];

/// A list's items, or the one value as a list of one. An intrinsic that yields a list
/// (`Fn::If`, a `Ref` to a list parameter) is one item: what it yields is not known here.
fn as_items(node: &Node) -> Vec<Node> {
    match node {
        Node::List(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// How the items of one list are told apart.
struct Identity {
    /// Items with the same key are the same item.
    key: fn(&Node) -> Option<String>,
    /// Unmatched items with the same loose key are the same item, modified (a rule whose CIDR
    /// changed); `None` never pairs.
    loose_key: Option<fn(&Node) -> Option<String>>,
}

/// Lists that CloudFormation and IAM read as sets: their order is noise.
const UNORDERED_SCALAR_LISTS: [&str; 12] = [
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "AWS",
    "Service",
    "Federated",
    "CanonicalUser",
    "ManagedPolicyArns",
    "SecurityGroupIds",
    "SecurityGroups",
    "VPCZoneIdentifier",
];

const IDENTITY_FIELDS: [&str; 5] = ["Key", "Sid", "PolicyName", "Name", "Id"];

fn identity_for(path: &Path, old: &[Node], new: &[Node]) -> Option<Identity> {
    match path.last_key() {
        Some("SecurityGroupIngress" | "SecurityGroupEgress") => {
            return Some(Identity {
                key: |rule| Some(security_rule_key(rule)),
                loose_key: Some(|rule| Some(security_rule_ports(rule))),
            })
        }
        Some("Statement") => {
            return Some(Identity {
                key: |statement| {
                    Some(match statement.get("Sid").and_then(Node::scalar_text) {
                        Some(sid) => format!("sid:{sid}"),
                        // The content as IAM reads it: `Action: a` is `Action: [a]`.
                        None => format!(
                            "content:{}",
                            canonical_key(&super::policy::canonical_statement(statement))
                        ),
                    })
                },
                loose_key: Some(|statement| {
                    let has_sid = statement.get("Sid").is_some();
                    let effect = statement.get("Effect").map(canonical_key);
                    (!has_sid).then(|| effect.unwrap_or_default())
                }),
            });
        }
        _ if is_condition_value(path) => {
            return Some(Identity {
                key: |item| Some(canonical_key(item)),
                loose_key: None,
            })
        }
        Some(key) if UNORDERED_SCALAR_LISTS.contains(&key) => {
            return Some(Identity {
                key: |item| Some(canonical_key(item)),
                loose_key: None,
            })
        }
        _ => {}
    }
    let field = IDENTITY_FIELDS
        .into_iter()
        .find(|field| unique_scalar_field(old, field) && unique_scalar_field(new, field))?;
    let key: fn(&Node) -> Option<String> = match field {
        "Key" => |item| field_text(item, "Key"),
        "Sid" => |item| field_text(item, "Sid"),
        "PolicyName" => |item| field_text(item, "PolicyName"),
        "Name" => |item| field_text(item, "Name"),
        _ => |item| field_text(item, "Id"),
    };
    Some(Identity {
        key,
        loose_key: None,
    })
}

fn field_text(item: &Node, field: &str) -> Option<String> {
    match item.get(field)? {
        Node::List(_) | Node::Map(_) => None,
        scalar => scalar.scalar_text().map(|text| text.into_owned()),
    }
}

/// Every item is a map holding `field` as a scalar, and no two items share it.
fn unique_scalar_field(items: &[Node], field: &str) -> bool {
    let mut seen = std::collections::HashSet::new();
    !items.is_empty()
        && items
            .iter()
            .all(|item| field_text(item, field).is_some_and(|text| seen.insert(text)))
}

fn diff_lists(path: &mut Path, old: &[Node], new: &[Node], out: &mut Vec<PropertyChange>) {
    match identity_for(path, old, new) {
        Some(identity) => diff_by_identity(path, old, new, &identity, out),
        None => diff_by_sequence(path, old, new, out),
    }
}

fn diff_by_identity(
    path: &mut Path,
    old: &[Node],
    new: &[Node],
    identity: &Identity,
    out: &mut Vec<PropertyChange>,
) {
    let mut old_by_key: HashMap<String, VecDeque<usize>> = HashMap::new();
    for (index, item) in old.iter().enumerate() {
        if let Some(key) = (identity.key)(item) {
            old_by_key.entry(key).or_default().push_back(index);
        }
    }
    let mut old_match: Vec<Option<usize>> = vec![None; old.len()];
    let mut new_match: Vec<Option<usize>> = vec![None; new.len()];
    for (new_index, item) in new.iter().enumerate() {
        let found = (identity.key)(item)
            .and_then(|key| old_by_key.get_mut(&key))
            .and_then(VecDeque::pop_front);
        if let Some(old_index) = found {
            old_match[old_index] = Some(new_index);
            new_match[new_index] = Some(old_index);
        }
    }
    if let Some(loose_key) = identity.loose_key {
        let mut loose: HashMap<String, VecDeque<usize>> = HashMap::new();
        for (index, item) in old.iter().enumerate() {
            if old_match[index].is_none() {
                if let Some(key) = loose_key(item) {
                    loose.entry(key).or_default().push_back(index);
                }
            }
        }
        for (new_index, item) in new.iter().enumerate() {
            if new_match[new_index].is_some() {
                continue;
            }
            let found = loose_key(item)
                .and_then(|key| loose.get_mut(&key))
                .and_then(VecDeque::pop_front);
            if let Some(old_index) = found {
                old_match[old_index] = Some(new_index);
                new_match[new_index] = Some(old_index);
            }
        }
    }
    for (old_index, item) in old.iter().enumerate() {
        if old_match[old_index].is_none() {
            path.0.push(PathSegment::Index(old_index));
            out.push(removed(path, item));
            path.0.pop();
        }
    }
    for (new_index, item) in new.iter().enumerate() {
        path.0.push(PathSegment::Index(new_index));
        match new_match[new_index] {
            Some(old_index) => diff_nodes(path, &old[old_index], item, out),
            None => out.push(added(path, item)),
        }
        path.0.pop();
    }
}

fn diff_by_sequence(path: &mut Path, old: &[Node], new: &[Node], out: &mut Vec<PropertyChange>) {
    let mut hook = Replace::new(Capture::new());
    // The hook cannot fail: Capture's error type is Infallible.
    let _ = myers::diff(&mut hook, old, 0..old.len(), new, 0..new.len());
    for op in hook.into_inner().into_ops() {
        match op {
            DiffOp::Equal { .. } => {}
            DiffOp::Delete {
                old_index, old_len, ..
            } => push_removed(path, old, old_index..old_index + old_len, out),
            DiffOp::Insert {
                new_index, new_len, ..
            } => push_added(path, new, new_index..new_index + new_len, out),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                // A replaced run pairs item by item: a list entry that changed reads as its paths.
                let paired = old_len.min(new_len);
                for offset in 0..paired {
                    path.0.push(PathSegment::Index(new_index + offset));
                    diff_nodes(
                        path,
                        &old[old_index + offset],
                        &new[new_index + offset],
                        out,
                    );
                    path.0.pop();
                }
                push_removed(path, old, old_index + paired..old_index + old_len, out);
                push_added(path, new, new_index + paired..new_index + new_len, out);
            }
        }
    }
}

fn push_removed(
    path: &mut Path,
    items: &[Node],
    range: std::ops::Range<usize>,
    out: &mut Vec<PropertyChange>,
) {
    for index in range {
        path.0.push(PathSegment::Index(index));
        out.push(removed(path, &items[index]));
        path.0.pop();
    }
}

fn push_added(
    path: &mut Path,
    items: &[Node],
    range: std::ops::Range<usize>,
    out: &mut Vec<PropertyChange>,
) {
    for index in range {
        path.0.push(PathSegment::Index(index));
        out.push(added(path, &items[index]));
        path.0.pop();
    }
}

/// A text that two nodes share exactly when they are semantically equal: map keys sorted,
/// scalars by their CloudFormation text.
pub fn canonical_key(node: &Node) -> String {
    let mut out = String::new();
    write_canonical(node, &mut out);
    out
}

fn write_canonical(node: &Node, out: &mut String) {
    match node {
        Node::Null => out.push('~'),
        Node::List(items) => {
            out.push('[');
            for item in items {
                write_canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Node::Map(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for key in keys {
                push_quoted(key, out);
                out.push(':');
                write_canonical(&map[key], out);
                out.push(',');
            }
            out.push('}');
        }
        scalar => push_quoted(&scalar.scalar_text().unwrap_or_default(), out),
    }
}

fn push_quoted(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Protocol as CloudFormation reads it: `6` is `tcp`, `-1` is every protocol.
pub fn normalized_protocol(rule: &Node) -> String {
    let text = rule
        .get("IpProtocol")
        .map(canonical_key)
        .unwrap_or_default();
    match text.trim_matches('"').to_ascii_lowercase().as_str() {
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "58" => "icmpv6".into(),
        "all" => "-1".into(),
        other if text.starts_with('"') => other.to_string(),
        _ => text,
    }
}

pub const PEER_FIELDS: [&str; 8] = [
    "CidrIp",
    "CidrIpv6",
    "SourceSecurityGroupId",
    "SourceSecurityGroupName",
    "SourcePrefixListId",
    "DestinationSecurityGroupId",
    "DestinationPrefixListId",
    "SourceSecurityGroupOwnerId",
];

fn security_rule_ports(rule: &Node) -> String {
    let port = |field: &str| rule.get(field).map(canonical_key).unwrap_or_default();
    format!(
        "{}|{}|{}",
        normalized_protocol(rule),
        port("FromPort"),
        port("ToPort")
    )
}

fn security_rule_key(rule: &Node) -> String {
    let mut key = security_rule_ports(rule);
    for field in PEER_FIELDS {
        if let Some(peer) = rule.get(field) {
            key.push('|');
            key.push_str(field);
            key.push('=');
            key.push_str(&canonical_key(peer));
        }
    }
    key
}

#[cfg(test)]
mod tests;
