//! (old release, new release) → StackDiff.

use std::collections::BTreeSet;

use indexmap::IndexMap;

use super::catalog::{is_stateful, requires_replacement};
use super::iam::statement_changes;
use super::mask::{mask_no_echo, Scrubber};
use super::model::{
    ChangeKind, EntryChange, Path, PathSegment, ResourceChange, SectionChange, SecuritySummary,
    StackDiff, StatefulResource, ValueChange,
};
use super::network::rule_changes;
use super::policy::canonical_resource;
use super::tree::{added, diff_nodes, removed};
use super::ReleaseView;
use crate::template::Node;

/// Top-level keys that are single values rather than maps of named entries.
const TEMPLATE_VALUES: [&str; 3] = ["AWSTemplateFormatVersion", "Description", "Transform"];

/// The order sections are reported in; other map-valued keys (SAM `Globals`, ...) follow.
const SECTION_ORDER: [&str; 7] = [
    "Parameters",
    "Mappings",
    "Conditions",
    "Rules",
    "Metadata",
    "Hooks",
    "Outputs",
];

/// What changes from `old` to `new`. With no old release, everything in `new` is added.
pub fn diff(old: Option<&ReleaseView>, new: &ReleaseView) -> StackDiff {
    let empty_view = ReleaseView::default();
    let old = old.unwrap_or(&empty_view);
    let empty = IndexMap::new();
    let old_root = old.template.as_map().unwrap_or(&empty);
    let new_root = new.template.as_map().unwrap_or(&empty);
    let old_resources = section(old_root, "Resources");
    let new_resources = section(new_root, "Resources");

    let mut result = StackDiff {
        resources: resource_changes(old_resources, new_resources),
        sections: section_changes(old_root, new_root),
        template: Vec::new(),
        parameter_values: value_changes(&old.parameters, &new.parameters),
        tags: value_changes(&old.tags, &new.tags),
        security: SecuritySummary {
            statements: statement_changes(old_resources, new_resources),
            rules: rule_changes(old_resources, new_resources),
        },
        stateful: stateful_resources(new_resources),
    };
    for key in TEMPLATE_VALUES {
        let mut path = Path(vec![PathSegment::Key(key.to_string())]);
        match (old_root.get(key), new_root.get(key)) {
            (Some(before), Some(after)) => {
                diff_nodes(&mut path, before, after, &mut result.template)
            }
            (Some(before), None) => result.template.push(removed(&path, before)),
            (None, Some(after)) => result.template.push(added(&path, after)),
            (None, None) => {}
        }
    }

    // The templates' own NoEcho flags count too, whatever the caller filled in.
    let no_echo: BTreeSet<String> = [old, new]
        .iter()
        .flat_map(|view| {
            view.no_echo
                .iter()
                .cloned()
                .chain(declared_no_echo(&view.template))
        })
        .collect();
    mask_no_echo(&mut result, &no_echo);
    secrets_scrubber(&[old, new], &no_echo).scrub_diff(&mut result);
    tracing::debug!(
        resources = result.resources.len(),
        other = result.count_other_changes(),
        "diff computed"
    );
    result
}

fn section<'a>(root: &'a IndexMap<String, Node>, name: &str) -> &'a IndexMap<String, Node> {
    static EMPTY: std::sync::OnceLock<IndexMap<String, Node>> = std::sync::OnceLock::new();
    root.get(name)
        .and_then(Node::as_map)
        .unwrap_or_else(|| EMPTY.get_or_init(IndexMap::new))
}

fn resource_type(resource: &Node) -> String {
    resource
        .get("Type")
        .and_then(Node::scalar_text)
        .map(|text| text.into_owned())
        .unwrap_or_default()
}

/// In the new template's order, removed resources last.
fn resource_changes(
    old: &IndexMap<String, Node>,
    new: &IndexMap<String, Node>,
) -> Vec<ResourceChange> {
    let mut changes = Vec::new();
    for (logical_id, after) in new {
        let new_type = resource_type(after);
        let Some(before) = old.get(logical_id) else {
            changes.push(ResourceChange {
                logical_id: logical_id.clone(),
                kind: ChangeKind::Added,
                resource_type: new_type,
                old_type: None,
                changes: Vec::new(),
            });
            continue;
        };
        if before == after {
            continue;
        }
        // Policy documents compare as IAM reads them (a string is a one-element list, …).
        let (before, after) = (canonical_resource(before), canonical_resource(after));
        let (before, after) = (before.as_ref(), after.as_ref());
        if before == after {
            continue;
        }
        let old_type = resource_type(before);
        let mut property_changes = Vec::new();
        let mut path = Path::default();
        let without_type = |resource: &Node| match resource {
            Node::Map(map) => {
                let mut rest = map.clone();
                rest.shift_remove("Type");
                Node::Map(rest)
            }
            other => other.clone(),
        };
        diff_nodes(
            &mut path,
            &without_type(before),
            &without_type(after),
            &mut property_changes,
        );
        // Unequal as trees but equal as CloudFormation reads them (reordered tags, say).
        if property_changes.is_empty() && old_type == new_type {
            continue;
        }
        for change in &mut property_changes {
            if let (Some("Properties"), Some(property)) = (change.path.key(0), change.path.key(1)) {
                change.replacement = requires_replacement(&new_type, property);
            }
        }
        changes.push(ResourceChange {
            logical_id: logical_id.clone(),
            kind: ChangeKind::Modified,
            old_type: (old_type != new_type).then_some(old_type),
            resource_type: new_type,
            changes: property_changes,
        });
    }
    for (logical_id, before) in old {
        if !new.contains_key(logical_id) {
            changes.push(ResourceChange {
                logical_id: logical_id.clone(),
                kind: ChangeKind::Removed,
                resource_type: resource_type(before),
                old_type: None,
                changes: Vec::new(),
            });
        }
    }
    changes
}

fn section_changes(
    old_root: &IndexMap<String, Node>,
    new_root: &IndexMap<String, Node>,
) -> Vec<SectionChange> {
    let mut names: Vec<&str> = SECTION_ORDER.to_vec();
    for key in old_root.keys().chain(new_root.keys()) {
        let known = key == "Resources" || TEMPLATE_VALUES.contains(&key.as_str());
        if !known && !names.contains(&key.as_str()) {
            names.push(key);
        }
    }
    let mut sections = Vec::new();
    for name in names {
        let (before, after) = (old_root.get(name), new_root.get(name));
        let entries = match (before, after) {
            (None, None) => continue,
            (Some(Node::Map(old_map)), Some(Node::Map(new_map))) => entry_changes(old_map, new_map),
            (Some(Node::Map(old_map)), None) => entry_changes(old_map, &IndexMap::new()),
            (None, Some(Node::Map(new_map))) => entry_changes(&IndexMap::new(), new_map),
            // A section that is not a map is invalid CloudFormation; still show it as one value.
            (before, after) => {
                let mut changes = Vec::new();
                let null = Node::Null;
                diff_nodes(
                    &mut Path::default(),
                    before.unwrap_or(&null),
                    after.unwrap_or(&null),
                    &mut changes,
                );
                if changes.is_empty() {
                    continue;
                }
                vec![EntryChange {
                    name: name.to_string(),
                    kind: ChangeKind::Modified,
                    old: None,
                    new: None,
                    changes,
                }]
            }
        };
        if !entries.is_empty() {
            sections.push(SectionChange {
                name: name.to_string(),
                entries,
            });
        }
    }
    sections
}

fn entry_changes(old: &IndexMap<String, Node>, new: &IndexMap<String, Node>) -> Vec<EntryChange> {
    let mut entries = Vec::new();
    for (name, after) in new {
        match old.get(name) {
            None => entries.push(EntryChange {
                name: name.clone(),
                kind: ChangeKind::Added,
                old: None,
                new: Some(after.clone()),
                changes: Vec::new(),
            }),
            Some(before) if before != after => {
                let mut changes = Vec::new();
                diff_nodes(&mut Path::default(), before, after, &mut changes);
                if changes.is_empty() {
                    continue;
                }
                entries.push(EntryChange {
                    name: name.clone(),
                    kind: ChangeKind::Modified,
                    old: None,
                    new: None,
                    changes,
                });
            }
            Some(_) => {}
        }
    }
    for (name, before) in old {
        if !new.contains_key(name) {
            entries.push(EntryChange {
                name: name.clone(),
                kind: ChangeKind::Removed,
                old: Some(before.clone()),
                new: None,
                changes: Vec::new(),
            });
        }
    }
    entries
}

fn value_changes(
    old: &IndexMap<String, String>,
    new: &IndexMap<String, String>,
) -> Vec<ValueChange> {
    let mut changes = Vec::new();
    for (name, after) in new {
        let kind = match old.get(name) {
            None => ChangeKind::Added,
            Some(before) if before != after => ChangeKind::Modified,
            Some(_) => continue,
        };
        changes.push(ValueChange {
            name: name.clone(),
            kind,
            old: old.get(name).cloned(),
            new: Some(after.clone()),
        });
    }
    for (name, before) in old {
        if !new.contains_key(name) {
            changes.push(ValueChange {
                name: name.clone(),
                kind: ChangeKind::Removed,
                old: Some(before.clone()),
                new: None,
            });
        }
    }
    changes
}

fn stateful_resources(resources: &IndexMap<String, Node>) -> Vec<StatefulResource> {
    resources
        .iter()
        .filter_map(|(logical_id, resource)| {
            let resource_type = resource_type(resource);
            is_stateful(&resource_type).then(|| StatefulResource {
                logical_id: logical_id.clone(),
                resource_type,
            })
        })
        .collect()
}

/// Every text a NoEcho parameter could reveal: resolved values and template defaults.
fn secrets_scrubber(views: &[&ReleaseView], no_echo: &BTreeSet<String>) -> Scrubber {
    let mut secrets = Vec::new();
    for view in views {
        for name in no_echo {
            if let Some(value) = view.parameters.get(name) {
                secrets.push(value.clone());
            }
            let default = view
                .template
                .get("Parameters")
                .and_then(|parameters| parameters.get(name))
                .and_then(|declaration| declaration.get("Default"));
            match default {
                Some(Node::List(items)) => secrets.extend(
                    items
                        .iter()
                        .filter_map(|item| item.scalar_text().map(|text| text.into_owned())),
                ),
                Some(scalar) => secrets.extend(scalar.scalar_text().map(|text| text.into_owned())),
                None => {}
            }
        }
    }
    Scrubber::new(secrets)
}

fn declared_no_echo(template: &Node) -> Vec<String> {
    let Some(parameters) = template.get("Parameters").and_then(Node::as_map) else {
        return Vec::new();
    };
    parameters
        .iter()
        .filter(|(_, declaration)| {
            declaration
                .get("NoEcho")
                .and_then(Node::scalar_text)
                .is_some_and(|flag| flag.eq_ignore_ascii_case("true"))
        })
        .map(|(name, _)| name.clone())
        .collect()
}
