//! The result of a diff: plain values, no rendering. NoEcho values are already masked here.

use std::fmt;

use crate::template::Node;

/// What happened to one thing between the old and the new release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Modified => "modified",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// Where a change sits inside a resource or entry, e.g. `Properties.SecurityGroupIngress[2].CidrIp`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(pub Vec<PathSegment>);

impl Path {
    pub fn key(&self, at: usize) -> Option<&str> {
        match self.0.get(at) {
            Some(PathSegment::Key(key)) => Some(key),
            _ => None,
        }
    }

    pub fn last_key(&self) -> Option<&str> {
        self.0.iter().rev().find_map(|segment| match segment {
            PathSegment::Key(key) => Some(key.as_str()),
            PathSegment::Index(_) => None,
        })
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Index(index) => write!(f, "[{index}]")?,
                PathSegment::Key(key) if needs_quoting(key) => {
                    write!(f, "[{}]", serde_json::Value::String(key.clone()))?
                }
                PathSegment::Key(key) if position == 0 => f.write_str(key)?,
                PathSegment::Key(key) => write!(f, ".{key}")?,
            }
        }
        Ok(())
    }
}

/// Keys that would make the dotted form ambiguous are written as `["a.b"]`.
fn needs_quoting(key: &str) -> bool {
    key.is_empty()
        || key
            .chars()
            .any(|c| c == '.' || c == '[' || c == ']' || c == '"' || c.is_whitespace())
}

/// Strings longer than this, or with a line break, are shown as line diffs.
pub const LONG_STRING: usize = 80;

/// One value that was added, removed or changed at a path.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyChange {
    pub path: Path,
    pub kind: ChangeKind,
    pub old: Option<Node>,
    pub new: Option<Node>,
    /// CloudFormation replaces the resource when this property changes.
    pub replacement: bool,
}

impl PropertyChange {
    /// Both sides as text when this change reads best as a line diff (UserData, inline code,
    /// policies written as strings).
    pub fn long_text(&self) -> Option<(&str, &str)> {
        let old = self.old.as_ref().map_or(Some(""), long_text_of)?;
        let new = self.new.as_ref().map_or(Some(""), long_text_of)?;
        let is_long = |text: &str| text.contains('\n') || text.chars().count() > LONG_STRING;
        (is_long(old) || is_long(new)).then_some((old, new))
    }
}

fn long_text_of(node: &Node) -> Option<&str> {
    match node {
        Node::String(text) => Some(text),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceChange {
    pub logical_id: String,
    pub kind: ChangeKind,
    /// The new type, or the old one for a removed resource.
    pub resource_type: String,
    /// Set when the type itself changed (always a replacement).
    pub old_type: Option<String>,
    /// Property changes of a modified resource (empty for added and removed ones).
    pub changes: Vec<PropertyChange>,
}

impl ResourceChange {
    pub fn replacement(&self) -> bool {
        self.old_type.is_some() || self.changes.iter().any(|change| change.replacement)
    }
}

/// One named entry of a map section (a parameter, an output, a condition, a mapping, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct EntryChange {
    pub name: String,
    pub kind: ChangeKind,
    /// The whole value, for added (`new`) and removed (`old`) entries.
    pub old: Option<Node>,
    pub new: Option<Node>,
    /// Paths inside the entry, for a modified one.
    pub changes: Vec<PropertyChange>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SectionChange {
    /// The top-level template key: `Parameters`, `Outputs`, `Conditions`, `Mappings`, ...
    pub name: String,
    pub entries: Vec<EntryChange>,
}

/// A named string value: a resolved parameter value or a stack tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueChange {
    pub name: String,
    pub kind: ChangeKind,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// The parts of one IAM policy statement a reviewer reads. Values that are intrinsic functions
/// are shown as compact JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: String,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub resources: Vec<String>,
    pub not_resources: Vec<String>,
    pub principals: Vec<String>,
    pub not_principals: Vec<String>,
    /// The Condition block as compact JSON.
    pub condition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementChange {
    pub kind: ChangeKind,
    pub logical_id: String,
    pub resource_type: String,
    /// Where the policy document sits in the resource, e.g. `Properties.Policies[app].PolicyDocument`.
    pub location: String,
    /// The statement as it is now (as it was, for a removed one).
    pub statement: Statement,
    /// The statement before, for a modified one.
    pub old: Option<Statement>,
    /// Why this change widens access; empty when it does not.
    pub broadening: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// A security-group rule that exists in one release and not the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleChange {
    /// `Added` means opened, `Removed` means closed.
    pub kind: ChangeKind,
    /// The resource that declares the rule (a security group or a standalone rule resource).
    pub logical_id: String,
    /// The group the rule belongs to: the declaring group, or the rule resource's GroupId.
    pub group: String,
    pub direction: Direction,
    pub protocol: String,
    pub ports: String,
    pub peer: String,
    pub broadening: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecuritySummary {
    pub statements: Vec<StatementChange>,
    pub rules: Vec<RuleChange>,
}

/// A data-bearing resource in the new release: it starts empty in every new release stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatefulResource {
    pub logical_id: String,
    pub resource_type: String,
}

/// Everything that differs between two releases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StackDiff {
    pub resources: Vec<ResourceChange>,
    pub sections: Vec<SectionChange>,
    /// Top-level values that are not sections: `AWSTemplateFormatVersion`, `Description`,
    /// `Transform`.
    pub template: Vec<PropertyChange>,
    pub parameter_values: Vec<ValueChange>,
    pub tags: Vec<ValueChange>,
    pub security: SecuritySummary,
    /// Reported whether or not anything changed: it is a property of the new release.
    pub stateful: Vec<StatefulResource>,
}

impl StackDiff {
    pub fn has_differences(&self) -> bool {
        !(self.resources.is_empty()
            && self.sections.is_empty()
            && self.template.is_empty()
            && self.parameter_values.is_empty()
            && self.tags.is_empty())
    }

    pub fn is_broadening(&self) -> bool {
        self.broadening_changes() > 0
    }

    /// IAM statement and security-group rule changes that widen access.
    pub fn broadening_changes(&self) -> usize {
        let statements = self
            .security
            .statements
            .iter()
            .filter(|change| !change.broadening.is_empty())
            .count();
        let rules = self
            .security
            .rules
            .iter()
            .filter(|change| !change.broadening.is_empty())
            .count();
        statements + rules
    }

    pub fn count_resources(&self, kind: ChangeKind) -> usize {
        self.resources
            .iter()
            .filter(|change| change.kind == kind)
            .count()
    }

    /// Changes outside Resources: section entries, top-level values, parameter values, tags.
    pub fn count_other_changes(&self) -> usize {
        self.sections
            .iter()
            .map(|section| section.entries.len())
            .sum::<usize>()
            + self.template.len()
            + self.parameter_values.len()
            + self.tags.len()
    }
}
