//! IAM statements added, removed or changed, from identity policies, trust policies and resource
//! policies, with the changes that widen access marked.

use std::collections::{HashMap, VecDeque};

use indexmap::IndexMap;

use super::convert::{compact_json, node_from_json, short_text, texts_of};
use super::model::{ChangeKind, Statement, StatementChange};
use super::policy::policy_fields;
use crate::template::Node;

/// One policy document's statements, found in one resource.
struct Document {
    logical_id: String,
    resource_type: String,
    location: String,
    statements: Vec<Statement>,
}

pub fn statement_changes(
    old_resources: &IndexMap<String, Node>,
    new_resources: &IndexMap<String, Node>,
) -> Vec<StatementChange> {
    let old_documents = documents(old_resources);
    let new_documents = documents(new_resources);
    let mut old_by_place: HashMap<(&str, &str), &Document> = old_documents
        .iter()
        .map(|doc| ((doc.logical_id.as_str(), doc.location.as_str()), doc))
        .collect();
    let mut changes = Vec::new();
    for new_doc in &new_documents {
        let old_doc =
            old_by_place.remove(&(new_doc.logical_id.as_str(), new_doc.location.as_str()));
        let old_statements = old_doc.map_or(&[][..], |doc| &doc.statements[..]);
        compare_statements(new_doc, old_statements, &new_doc.statements, &mut changes);
    }
    for old_doc in &old_documents {
        if old_by_place.contains_key(&(old_doc.logical_id.as_str(), old_doc.location.as_str())) {
            compare_statements(old_doc, &old_doc.statements, &[], &mut changes);
        }
    }
    changes
}

/// Statements match by Sid; statements without one match by content, and leftovers with the
/// same effect pair up as modified (an action appended to the only statement).
fn compare_statements(
    place: &Document,
    old: &[Statement],
    new: &[Statement],
    out: &mut Vec<StatementChange>,
) {
    let strict = |statement: &Statement| match &statement.sid {
        Some(sid) => format!("sid:{sid}"),
        None => format!("content:{statement:?}"),
    };
    let loose = |statement: &Statement| statement.sid.is_none().then(|| statement.effect.clone());
    let mut old_used = vec![false; old.len()];
    let mut pairs: Vec<(Option<usize>, usize)> = Vec::with_capacity(new.len());
    let mut by_strict: HashMap<String, VecDeque<usize>> = HashMap::new();
    for (index, statement) in old.iter().enumerate() {
        by_strict
            .entry(strict(statement))
            .or_default()
            .push_back(index);
    }
    for (index, statement) in new.iter().enumerate() {
        let found = by_strict
            .get_mut(&strict(statement))
            .and_then(VecDeque::pop_front);
        if let Some(old_index) = found {
            old_used[old_index] = true;
        }
        pairs.push((found, index));
    }
    let mut by_loose: HashMap<String, VecDeque<usize>> = HashMap::new();
    for (index, statement) in old.iter().enumerate() {
        if let (false, Some(key)) = (old_used[index], loose(statement)) {
            by_loose.entry(key).or_default().push_back(index);
        }
    }
    for pair in pairs.iter_mut().filter(|pair| pair.0.is_none()) {
        let found = loose(&new[pair.1])
            .and_then(|key| by_loose.get_mut(&key))
            .and_then(VecDeque::pop_front);
        if let Some(old_index) = found {
            old_used[old_index] = true;
            pair.0 = Some(old_index);
        }
    }
    let change = |kind, statement: &Statement, before: Option<&Statement>| {
        let broadening = broadening_reasons(kind, statement, before);
        StatementChange {
            kind,
            logical_id: place.logical_id.clone(),
            resource_type: place.resource_type.clone(),
            location: place.location.clone(),
            statement: statement.clone(),
            old: before.cloned(),
            broadening,
        }
    };
    for (index, statement) in old.iter().enumerate() {
        if !old_used[index] {
            out.push(change(ChangeKind::Removed, statement, None));
        }
    }
    for (old_index, new_index) in pairs {
        let statement = &new[new_index];
        match old_index {
            None => out.push(change(ChangeKind::Added, statement, None)),
            Some(old_index) if old[old_index] != *statement => out.push(change(
                ChangeKind::Modified,
                statement,
                Some(&old[old_index]),
            )),
            Some(_) => {}
        }
    }
}

fn broadening_reasons(
    kind: ChangeKind,
    statement: &Statement,
    before: Option<&Statement>,
) -> Vec<String> {
    let allow = statement.effect == "Allow";
    let mut reasons = Vec::new();
    match (kind, before) {
        (ChangeKind::Added, _) if allow => {
            reasons.push("new Allow statement".to_string());
            if !statement.not_actions.is_empty() {
                reasons.push("Allow with NotAction".to_string());
            }
            wildcard_reasons(
                &statement.actions,
                &statement.resources,
                &statement.principals,
                &mut reasons,
            );
        }
        (ChangeKind::Removed, _) if statement.effect == "Deny" => {
            reasons.push("Deny statement removed".to_string())
        }
        (ChangeKind::Modified, Some(old)) if allow => {
            if old.effect != "Allow" {
                reasons.push("Deny became Allow".to_string());
            }
            let actions = gained(&old.actions, &statement.actions, Case::Insensitive);
            let resources = gained(&old.resources, &statement.resources, Case::Sensitive);
            let principals = gained(&old.principals, &statement.principals, Case::Sensitive);
            for (what, gained) in [
                ("actions", &actions),
                ("resources", &resources),
                ("principals", &principals),
            ] {
                if !gained.is_empty() {
                    reasons.push(format!("adds {what} {}", gained.join(", ")));
                }
            }
            if old.condition.is_some() && statement.condition.is_none() {
                reasons.push("Condition removed".to_string());
            }
            wildcard_reasons(&actions, &resources, &principals, &mut reasons);
        }
        (ChangeKind::Modified, Some(old)) if old.effect == "Deny" => {
            let actions = gained(&statement.actions, &old.actions, Case::Insensitive);
            if !actions.is_empty() {
                reasons.push(format!("Deny no longer covers {}", actions.join(", ")));
            }
        }
        _ => {}
    }
    reasons
}

/// IAM action names are case-insensitive; resources and principals are not (IAM JSON policy
/// element reference).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    Sensitive,
    Insensitive,
}

/// Values in `new` that no value of `old` covers. A value covers another when it is the same or
/// matches it as an IAM wildcard pattern (`*` any run of characters, `?` one): `s3:*` covers
/// `s3:GetObject`. The principal `*` (everyone) covers every principal, `AWS:*` included: going
/// from `"Principal": "*"` to `{"AWS": "*"}` grants nothing new.
fn gained(old: &[String], new: &[String], case: Case) -> Vec<String> {
    let fold = |text: &str| match case {
        Case::Sensitive => text.to_string(),
        Case::Insensitive => text.to_ascii_lowercase(),
    };
    let before: Vec<String> = old.iter().map(|value| fold(value)).collect();
    new.iter()
        .filter(|value| {
            let value = fold(value);
            !before
                .iter()
                .any(|pattern| pattern == "*" || wildcard_match(pattern, &value))
        })
        .cloned()
        .collect()
}

/// IAM wildcard matching: `*` matches any run of characters (also none), `?` one character.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    t = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

fn wildcard_reasons(
    actions: &[String],
    resources: &[String],
    principals: &[String],
    reasons: &mut Vec<String>,
) {
    for action in actions {
        if action == "*" || action.ends_with(":*") {
            reasons.push(format!("wildcard action `{action}`"));
        }
    }
    if resources.iter().any(|resource| resource == "*") {
        reasons.push("wildcard resource `*`".to_string());
    }
    for principal in principals {
        if principal == "*" || principal.ends_with(":*") {
            reasons.push(format!("wildcard principal `{principal}`"));
        }
    }
}

fn documents(resources: &IndexMap<String, Node>) -> Vec<Document> {
    let mut found = Vec::new();
    for (logical_id, resource) in resources {
        let Some(resource_type) = resource.get("Type").and_then(Node::as_str) else {
            continue;
        };
        let properties = resource.get("Properties");
        let mut push = |location: String, statements: Vec<Statement>| {
            found.push(Document {
                logical_id: logical_id.clone(),
                resource_type: resource_type.to_string(),
                location,
                statements,
            })
        };
        if resource_type == "AWS::Lambda::Permission" {
            if let Some(properties) = properties {
                push("Properties".into(), vec![lambda_permission(properties)]);
            }
            continue;
        }
        for (location, document) in policy_documents(resource_type, properties) {
            push(location, statements_of(&document));
        }
    }
    found
}

/// Where each resource type keeps its policy documents (see [`policy_fields`]).
fn policy_documents(resource_type: &str, properties: Option<&Node>) -> Vec<(String, Node)> {
    let Some(properties) = properties else {
        return Vec::new();
    };
    let (fields, inline) = policy_fields(resource_type);
    let mut documents: Vec<(String, Node)> = fields
        .iter()
        .filter_map(|name| {
            properties
                .get(name)
                .map(|document| (format!("Properties.{name}"), document.clone()))
        })
        .collect();
    if inline {
        for (index, policy) in properties
            .get("Policies")
            .and_then(Node::as_list)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let name = policy
                .get("PolicyName")
                .map(short_text)
                .unwrap_or_else(|| index.to_string());
            if let Some(document) = policy.get("PolicyDocument") {
                documents.push((
                    format!("Properties.Policies[{name}].PolicyDocument"),
                    document.clone(),
                ));
            }
        }
    }
    documents
}

/// The statements of a document given as a tree, a JSON string, or `Fn::Sub` over a JSON string.
fn statements_of(document: &Node) -> Vec<Statement> {
    let parsed;
    let document = match document_text(document) {
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => {
                parsed = node_from_json(&value);
                &parsed
            }
            Err(_) => return Vec::new(),
        },
        None => document,
    };
    match document.get("Statement").unwrap_or(document) {
        Node::List(items) => items.iter().map(statement_of).collect(),
        statement @ Node::Map(map) if map.contains_key("Effect") => vec![statement_of(statement)],
        _ => Vec::new(),
    }
}

fn document_text(document: &Node) -> Option<&str> {
    match document {
        Node::String(text) => Some(text),
        _ => match document.get("Fn::Sub")? {
            Node::String(text) => Some(text),
            Node::List(parts) => parts.first()?.as_str(),
            _ => None,
        },
    }
}

fn statement_of(node: &Node) -> Statement {
    Statement {
        sid: node.get("Sid").map(short_text),
        effect: node.get("Effect").map(short_text).unwrap_or_default(),
        actions: set_of(texts_of(node.get("Action"))),
        not_actions: set_of(texts_of(node.get("NotAction"))),
        resources: set_of(texts_of(node.get("Resource"))),
        not_resources: set_of(texts_of(node.get("NotResource"))),
        principals: set_of(principals_of(node.get("Principal"))),
        not_principals: set_of(principals_of(node.get("NotPrincipal"))),
        // Key order must not make two equal conditions look different.
        condition: node
            .get("Condition")
            .map(|condition| compact_json(&sorted(condition))),
    }
}

/// IAM reads these lists as sets.
fn set_of(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values.dedup();
    values
}

fn sorted(node: &Node) -> Node {
    match node {
        Node::Map(map) => {
            let mut entries: Vec<(String, Node)> = map
                .iter()
                .map(|(key, value)| (key.clone(), sorted(value)))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Node::Map(entries.into_iter().collect())
        }
        Node::List(items) => Node::List(items.iter().map(sorted).collect()),
        scalar => scalar.clone(),
    }
}

/// `"*"` stays `*`; `{"AWS": [a, b], "Service": s}` becomes `AWS:a`, `AWS:b`, `Service:s`.
fn principals_of(node: Option<&Node>) -> Vec<String> {
    match node {
        None => Vec::new(),
        Some(Node::Map(map))
            if !map
                .keys()
                .any(|key| key.starts_with("Fn::") || key == "Ref") =>
        {
            let mut principals = Vec::new();
            for (kind, values) in map {
                for value in texts_of(Some(values)) {
                    principals.push(format!("{kind}:{value}"));
                }
            }
            principals
        }
        Some(other) => texts_of(Some(other)),
    }
}

/// A Lambda permission is a one-statement resource policy on the function.
fn lambda_permission(properties: &Node) -> Statement {
    let mut condition: IndexMap<String, Node> = IndexMap::new();
    for field in [
        "SourceArn",
        "SourceAccount",
        "PrincipalOrgID",
        "FunctionUrlAuthType",
    ] {
        if let Some(value) = properties.get(field) {
            condition.insert(field.to_string(), value.clone());
        }
    }
    Statement {
        sid: None,
        effect: "Allow".to_string(),
        actions: texts_of(properties.get("Action")),
        resources: texts_of(properties.get("FunctionName")),
        principals: texts_of(properties.get("Principal")),
        condition: (!condition.is_empty()).then(|| compact_json(&sorted(&Node::Map(condition)))),
        ..Statement::default()
    }
}

#[cfg(test)]
#[path = "iam_tests.rs"]
mod tests;
