//! The diff for programs. The schema is documented in docs/diff-json.md; every key is always
//! present (null or empty when it does not apply) so that consumers need no guessing.

use serde_json::{json, Map, Value};
use similar::TextDiff;

use super::model::{
    ChangeKind, EntryChange, PathSegment, PropertyChange, ResourceChange, RuleChange, StackDiff,
    Statement, StatementChange, ValueChange,
};
use crate::template::Node;

/// Bumped only on incompatible changes; new keys may appear within a version.
pub const SCHEMA_VERSION: u32 = 1;

pub fn render_json(diff: &StackDiff) -> Value {
    let broadening_changes = diff.broadening_changes();
    let sections: Map<String, Value> = diff
        .sections
        .iter()
        .map(|section| {
            let entries = section.entries.iter().map(entry_json).collect();
            (section.name.clone(), Value::Array(entries))
        })
        .collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "differences": diff.has_differences(),
        "broadening": diff.is_broadening(),
        "summary": {
            "resources_added": diff.count_resources(ChangeKind::Added),
            "resources_removed": diff.count_resources(ChangeKind::Removed),
            "resources_modified": diff.count_resources(ChangeKind::Modified),
            "other_changes": diff.count_other_changes(),
            "broadening_changes": broadening_changes,
            "stateful_resources": diff.stateful.len(),
        },
        "resources": diff.resources.iter().map(resource_json).collect::<Vec<_>>(),
        "sections": sections,
        "template": diff.template.iter().map(change_json).collect::<Vec<_>>(),
        "parameter_values": diff.parameter_values.iter().map(value_json).collect::<Vec<_>>(),
        "tags": diff.tags.iter().map(value_json).collect::<Vec<_>>(),
        "security": {
            "statements": diff.security.statements.iter().map(statement_change_json).collect::<Vec<_>>(),
            "rules": diff.security.rules.iter().map(rule_json).collect::<Vec<_>>(),
        },
        "stateful": diff.stateful.iter().map(|resource| json!({
            "logical_id": resource.logical_id,
            "type": resource.resource_type,
        })).collect::<Vec<_>>(),
    })
}

fn node_json(node: Option<&Node>) -> Value {
    node.and_then(|node| serde_json::to_value(node).ok())
        .unwrap_or(Value::Null)
}

fn resource_json(resource: &ResourceChange) -> Value {
    json!({
        "logical_id": resource.logical_id,
        "change": resource.kind.as_str(),
        "type": resource.resource_type,
        "old_type": resource.old_type,
        "replacement": resource.replacement(),
        "changes": resource.changes.iter().map(change_json).collect::<Vec<_>>(),
    })
}

fn change_json(change: &PropertyChange) -> Value {
    let parts: Vec<Value> = change
        .path
        .0
        .iter()
        .map(|segment| match segment {
            PathSegment::Key(key) => Value::String(key.clone()),
            PathSegment::Index(index) => Value::from(*index),
        })
        .collect();
    let line_diff = change.long_text().map(|(old, new)| {
        TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .to_string()
    });
    json!({
        "path": change.path.to_string(),
        "path_parts": parts,
        "change": change.kind.as_str(),
        "old": node_json(change.old.as_ref()),
        "new": node_json(change.new.as_ref()),
        "replacement": change.replacement,
        "line_diff": line_diff,
    })
}

fn entry_json(entry: &EntryChange) -> Value {
    json!({
        "name": entry.name,
        "change": entry.kind.as_str(),
        "old": node_json(entry.old.as_ref()),
        "new": node_json(entry.new.as_ref()),
        "changes": entry.changes.iter().map(change_json).collect::<Vec<_>>(),
    })
}

fn value_json(change: &ValueChange) -> Value {
    json!({
        "name": change.name,
        "change": change.kind.as_str(),
        "old": change.old,
        "new": change.new,
    })
}

fn statement_json(statement: &Statement) -> Value {
    json!({
        "sid": statement.sid,
        "effect": statement.effect,
        "actions": statement.actions,
        "not_actions": statement.not_actions,
        "resources": statement.resources,
        "not_resources": statement.not_resources,
        "principals": statement.principals,
        "not_principals": statement.not_principals,
        "condition": statement.condition,
    })
}

fn statement_change_json(change: &StatementChange) -> Value {
    json!({
        "change": change.kind.as_str(),
        "logical_id": change.logical_id,
        "resource_type": change.resource_type,
        "location": change.location,
        "statement": statement_json(&change.statement),
        "old_statement": change.old.as_ref().map(statement_json),
        "broadening": change.broadening,
    })
}

fn rule_json(rule: &RuleChange) -> Value {
    json!({
        "change": if rule.kind == ChangeKind::Removed { "closed" } else { "opened" },
        "logical_id": rule.logical_id,
        "group": rule.group,
        "direction": rule.direction.as_str(),
        "protocol": rule.protocol,
        "ports": rule.ports,
        "peer": rule.peer,
        "broadening": rule.broadening,
    })
}
