//! The diff for people: `+` added, `-` removed, `~` modified, grouped by section, with the
//! security summary and the stateful warning last. Readable without colour.

use std::fmt::Write;

use similar::{ChangeTag, TextDiff};

use super::convert::compact_json;
use super::model::{
    ChangeKind, Direction, EntryChange, PathSegment, PropertyChange, ResourceChange, RuleChange,
    StackDiff, Statement, StatementChange, ValueChange, LONG_STRING,
};
use crate::output::Palette;
use crate::template::Node;

/// Whole values longer than this (added or removed entries) are cut; the JSON output has them.
const MAX_VALUE_WIDTH: usize = 160;
/// Unchanged lines shown around each change in a long-string diff.
const CONTEXT_LINES: usize = 3;

pub const STATEFUL_HINT: &str = "every release stack creates these empty: keep data-bearing \
resources in a long-lived stack and pass their names or ARNs to releases as parameters or exports";

pub fn render_text(diff: &StackDiff, palette: Palette) -> String {
    let mut out = Text {
        out: String::new(),
        palette,
    };
    if diff.has_differences() {
        out.resources(&diff.resources);
        for section in &diff.sections {
            out.heading(&section.name);
            for entry in &section.entries {
                out.entry(entry);
            }
        }
        if !diff.template.is_empty() {
            out.heading("Template");
            for change in &diff.template {
                out.property(change, 0);
            }
        }
        out.values("Parameter values", &diff.parameter_values);
        out.values("Stack tags", &diff.tags);
        out.security(diff);
    } else {
        out.line("no differences");
    }
    out.stateful(diff);
    if diff.has_differences() {
        out.summary(diff);
    }
    out.out
}

struct Text {
    out: String,
    palette: Palette,
}

impl Text {
    fn line(&mut self, text: &str) {
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn heading(&mut self, title: &str) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        let title = self.palette.bold(title);
        self.line(&title);
    }

    fn marker(&self, kind: ChangeKind) -> String {
        match kind {
            ChangeKind::Added => self.palette.added("+"),
            ChangeKind::Removed => self.palette.removed("-"),
            ChangeKind::Modified => self.palette.changed("~"),
        }
    }

    fn resources(&mut self, resources: &[ResourceChange]) {
        if resources.is_empty() {
            return;
        }
        self.heading("Resources");
        for resource in resources {
            let type_text = match &resource.old_type {
                Some(old_type) => format!("{old_type} -> {}", resource.resource_type),
                None => resource.resource_type.clone(),
            };
            let replacement = if resource.replacement() {
                format!(" {}", self.palette.warning("[replacement]"))
            } else {
                String::new()
            };
            let line = format!(
                "{} {} ({type_text}){replacement}",
                self.marker(resource.kind),
                resource.logical_id
            );
            self.line(&line);
            for change in &resource.changes {
                self.property(change, 1);
            }
        }
    }

    fn entry(&mut self, entry: &EntryChange) {
        let marker = self.marker(entry.kind);
        match entry.kind {
            ChangeKind::Added | ChangeKind::Removed => {
                let value = entry.new.as_ref().or(entry.old.as_ref());
                let value = value.map(value_text).unwrap_or_default();
                self.line(&format!("{marker} {}: {}", entry.name, truncate(&value)));
            }
            ChangeKind::Modified => {
                self.line(&format!("{marker} {}", entry.name));
                for change in &entry.changes {
                    self.property(change, 1);
                }
            }
        }
    }

    fn property(&mut self, change: &PropertyChange, depth: usize) {
        let indent = "    ".repeat(depth);
        let marker = self.marker(change.kind);
        let replacement = if change.replacement {
            format!(" {}", self.palette.warning("[replacement]"))
        } else {
            String::new()
        };
        let path = if change.path.0.is_empty() {
            "(value)".to_string()
        } else {
            change.path.to_string()
        };
        if let Some(parts) = split_around_long_strings(change) {
            for part in &parts {
                self.property(part, depth);
            }
            return;
        }
        if let Some((old, new)) = change.long_text() {
            self.line(&format!("{indent}{marker} {path}:{replacement}"));
            self.line_diff(old, new, &format!("{indent}    "));
            return;
        }
        let text = match (&change.old, &change.new) {
            (Some(old), Some(new)) => format!("{} -> {}", value_text(old), value_text(new)),
            (Some(value), None) | (None, Some(value)) => truncate(&value_text(value)),
            (None, None) => String::new(),
        };
        self.line(&format!("{indent}{marker} {path}: {text}{replacement}"));
    }

    fn line_diff(&mut self, old: &str, new: &str, indent: &str) {
        let lines = TextDiff::from_lines(old, new);
        for (group_index, group) in lines.grouped_ops(CONTEXT_LINES).iter().enumerate() {
            if group_index > 0 {
                self.line(&format!("{indent}  ..."));
            }
            for op in group {
                for change in lines.iter_changes(op) {
                    let text = change.value().trim_end_matches(['\n', '\r']);
                    let line = match change.tag() {
                        ChangeTag::Equal => format!("{indent}  {text}"),
                        ChangeTag::Delete => self.palette.removed(&format!("{indent}- {text}")),
                        ChangeTag::Insert => self.palette.added(&format!("{indent}+ {text}")),
                    };
                    self.line(&line);
                    // Otherwise a value that only lost (or gained) its final newline shows
                    // the same line removed and added.
                    if change.missing_newline() && change.tag() != ChangeTag::Equal {
                        self.line(&format!("{indent}  \\ no newline at the end"));
                    }
                }
            }
        }
    }

    fn values(&mut self, title: &str, changes: &[ValueChange]) {
        if changes.is_empty() {
            return;
        }
        self.heading(title);
        for change in changes {
            let quoted = |text: &Option<String>| {
                serde_json::Value::String(text.clone().unwrap_or_default()).to_string()
            };
            let text = match change.kind {
                ChangeKind::Added => quoted(&change.new),
                ChangeKind::Removed => quoted(&change.old),
                ChangeKind::Modified => {
                    format!("{} -> {}", quoted(&change.old), quoted(&change.new))
                }
            };
            let line = format!("{} {}: {text}", self.marker(change.kind), change.name);
            self.line(&line);
        }
    }

    fn security(&mut self, diff: &StackDiff) {
        let security = &diff.security;
        if security.statements.is_empty() && security.rules.is_empty() {
            return;
        }
        self.heading("Security");
        if !security.statements.is_empty() {
            self.line("  IAM statements");
            for change in &security.statements {
                self.statement(change);
            }
        }
        if !security.rules.is_empty() {
            self.line("  Security group rules");
            for rule in &security.rules {
                self.rule(rule);
            }
        }
    }

    fn statement(&mut self, change: &StatementChange) {
        let marker = self.marker(change.kind);
        self.line(&format!(
            "    {marker} {} {} ({})",
            change.logical_id, change.location, change.resource_type
        ));
        self.line(&format!("        {}", describe(&change.statement)));
        if let Some(old) = &change.old {
            for delta in statement_deltas(old, &change.statement) {
                self.line(&format!("        {delta}"));
            }
        }
        self.broadening(&change.broadening, "        ");
    }

    fn rule(&mut self, rule: &RuleChange) {
        let (marker, verb) = match rule.kind {
            ChangeKind::Removed => (self.palette.removed("-"), "closed"),
            _ => (self.palette.added("+"), "opened"),
        };
        let owner = if rule.group == rule.logical_id {
            rule.logical_id.clone()
        } else {
            format!("{} (group {})", rule.logical_id, rule.group)
        };
        let peer = match rule.direction {
            Direction::Ingress => format!("from {}", rule.peer),
            Direction::Egress => format!("to {}", rule.peer),
        };
        let traffic = match (rule.protocol.as_str(), rule.ports.as_str()) {
            ("all", _) => "all traffic".to_string(),
            (protocol, "all") => format!("{protocol} all ports"),
            (protocol, ports) if ports.contains('-') => format!("{protocol} ports {ports}"),
            (protocol, port) => format!("{protocol} port {port}"),
        };
        self.line(&format!(
            "    {marker} {verb} {owner}: {} {traffic} {peer}",
            rule.direction.as_str()
        ));
        self.broadening(&rule.broadening, "        ");
    }

    fn broadening(&mut self, reasons: &[String], indent: &str) {
        if !reasons.is_empty() {
            let text = format!("{indent}! broadening: {}", reasons.join("; "));
            let text = self.palette.warning(&text);
            self.line(&text);
        }
    }

    fn stateful(&mut self, diff: &StackDiff) {
        if diff.stateful.is_empty() {
            return;
        }
        self.heading("Stateful resources in the new release");
        for resource in &diff.stateful {
            let marker = self.palette.warning("!");
            self.line(&format!(
                "{marker} {} ({})",
                resource.logical_id, resource.resource_type
            ));
        }
        let hint = format!("{} {STATEFUL_HINT}", self.palette.hint("hint:"));
        self.line(&hint);
    }

    fn summary(&mut self, diff: &StackDiff) {
        let broadening = diff.broadening_changes();
        let mut text = format!(
            "Resources: {} added, {} removed, {} modified. Other changes: {}.",
            diff.count_resources(ChangeKind::Added),
            diff.count_resources(ChangeKind::Removed),
            diff.count_resources(ChangeKind::Modified),
            diff.count_other_changes()
        );
        if broadening > 0 {
            let _ = write!(text, " Broadening security changes: {broadening}.");
        }
        self.out.push('\n');
        let text = self.palette.bold(&text);
        self.line(&text);
    }
}

/// An added or removed map holding a long string (a function's `Code.ZipFile`) reads better
/// key by key, the long string as lines.
fn split_around_long_strings(change: &PropertyChange) -> Option<Vec<PropertyChange>> {
    let value = match change.kind {
        ChangeKind::Added => change.new.as_ref()?,
        ChangeKind::Removed => change.old.as_ref()?,
        ChangeKind::Modified => return None,
    };
    let map = value.as_map()?;
    if !has_long_string(value) {
        return None;
    }
    let parts = map
        .iter()
        .map(|(key, child)| {
            let mut path = change.path.clone();
            path.0.push(PathSegment::Key(key.clone()));
            let (old, new) = match change.kind {
                ChangeKind::Added => (None, Some(child.clone())),
                _ => (Some(child.clone()), None),
            };
            PropertyChange {
                path,
                kind: change.kind,
                old,
                new,
                replacement: change.replacement,
            }
        })
        .collect();
    Some(parts)
}

fn has_long_string(node: &Node) -> bool {
    match node {
        Node::String(text) => text.contains('\n') || text.chars().count() > LONG_STRING,
        Node::Map(map) => map.values().any(has_long_string),
        _ => false,
    }
}

fn value_text(node: &Node) -> String {
    compact_json(node)
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_VALUE_WIDTH {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX_VALUE_WIDTH).collect();
    format!("{cut} …")
}

/// `Allow s3:GetObject, s3:PutObject on arn:... for Service:ec2.amazonaws.com when {...}`
fn describe(statement: &Statement) -> String {
    let mut text = String::new();
    if let Some(sid) = &statement.sid {
        let _ = write!(text, "{sid}: ");
    }
    text.push_str(if statement.effect.is_empty() {
        "(no Effect)"
    } else {
        &statement.effect
    });
    let mut part = |label: &str, values: &[String]| {
        if !values.is_empty() {
            let _ = write!(text, "{label}{}", values.join(", "));
        }
    };
    part(" ", &statement.actions);
    part(" NotAction ", &statement.not_actions);
    part(" on ", &statement.resources);
    part(" NotResource ", &statement.not_resources);
    part(" for ", &statement.principals);
    part(" NotPrincipal ", &statement.not_principals);
    if let Some(condition) = &statement.condition {
        let _ = write!(text, " when {condition}");
    }
    text
}

fn statement_deltas(old: &Statement, new: &Statement) -> Vec<String> {
    let mut deltas = Vec::new();
    if old.effect != new.effect {
        deltas.push(format!("effect {} -> {}", old.effect, new.effect));
    }
    for (label, before, after) in [
        ("actions", &old.actions, &new.actions),
        ("NotAction", &old.not_actions, &new.not_actions),
        ("resources", &old.resources, &new.resources),
        ("NotResource", &old.not_resources, &new.not_resources),
        ("principals", &old.principals, &new.principals),
        ("NotPrincipal", &old.not_principals, &new.not_principals),
    ] {
        let mut parts: Vec<String> = after
            .iter()
            .filter(|value| !before.contains(value))
            .map(|value| format!("+{value}"))
            .collect();
        parts.extend(
            before
                .iter()
                .filter(|value| !after.contains(value))
                .map(|value| format!("-{value}")),
        );
        if !parts.is_empty() {
            deltas.push(format!("{label} {}", parts.join(" ")));
        }
    }
    if old.condition != new.condition {
        deltas.push(match &new.condition {
            Some(condition) => format!("condition now {condition}"),
            None => "condition removed".to_string(),
        });
    }
    deltas
}
