//! The template rules (CO101–CO205), each a pure function of the loaded template. CO206 (quotas)
//! and the app rules (CO301–CO303) come from loading and from the app's checks.

use indexmap::IndexMap;

use super::names::{physical_name_properties, SINGLETONS};
use super::silence::template_silence;
use super::values::{across_releases, Across};
use super::{rule, Finding};
use crate::diff::{is_stateful, policy_documents};
use crate::template::{Node, Template};

/// Every finding of the template rules, in template order (resources, then outputs and
/// parameters), silenced where the resource's `Metadata` says so.
pub fn check_template(template: &Template) -> Vec<Finding> {
    let empty = IndexMap::new();
    let resources = template.resources().unwrap_or(&empty);
    let mut out = Findings {
        template,
        findings: Vec::new(),
    };
    for (logical_id, resource) in resources {
        let resource_type = resource.get("Type").and_then(Node::as_str).unwrap_or("");
        let properties = resource.get("Properties");
        let at = |rest: &[&str]| {
            let mut path = vec!["Resources", logical_id.as_str()];
            path.extend_from_slice(rest);
            path.iter().map(|part| part.to_string()).collect::<Vec<_>>()
        };
        let start = out.findings.len();

        for name in physical_name_properties(resource_type) {
            let property = name.property;
            let Some(value) = properties.and_then(|p| p.get(property)) else {
                continue;
            };
            // A name unique within a parent the release creates itself (its own role, API or
            // log group) is new with the parent.
            let parent_varies = name.scope.iter().any(|parent| {
                properties
                    .and_then(|p| p.get(parent))
                    .is_some_and(|value| across_releases(value, resources) == Across::Varies)
            });
            if parent_varies {
                continue;
            }
            if let Across::Fixed(what) = across_releases(value, resources) {
                let within = if name.scope.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (unique within its {}, which is too)",
                        name.scope.join(" and ")
                    )
                };
                out.push(
                    "CO101",
                    logical_id,
                    at(&["Properties", property]),
                    format!(
                        "{resource_type} {property} is {what}: the same in every release{within}"
                    ),
                    format!(
                        "drop {property} (CloudFormation generates a name) or make it per release, e.g. {property}: !Sub \"${{AWS::StackName}}-{}\"",
                        suggested_suffix(value)
                    ),
                );
            }
        }
        dns_records(&mut out, logical_id, resource_type, properties, resources);
        if let Some((_, source)) = SINGLETONS.iter().find(|(kind, _)| *kind == resource_type) {
            out.push(
                "CO104",
                logical_id,
                at(&["Type"]),
                format!("{resource_type}: {source}"),
                rule("CO104").fix.to_string(),
            );
        }
        let keeps = |policy: &str| {
            resource
                .get(policy)
                .and_then(Node::as_str)
                .filter(|value| matches!(*value, "Retain" | "RetainExceptOnCreate" | "Snapshot"))
        };
        if let Some(value) = keeps("DeletionPolicy") {
            let left = if value == "Snapshot" {
                "a snapshot of it"
            } else {
                "it"
            };
            out.push(
                "CO201",
                logical_id,
                at(&["DeletionPolicy"]),
                format!("{resource_type} has DeletionPolicy: {value}: retiring a release leaves {left} in the account"),
                rule("CO201").fix.to_string(),
            );
        }
        if let Some(value) = keeps("UpdateReplacePolicy") {
            out.push(
                "CO207",
                logical_id,
                at(&["UpdateReplacePolicy"]),
                format!("{resource_type} has UpdateReplacePolicy: {value}, which never applies to a release stack"),
                rule("CO207").fix.to_string(),
            );
        }
        if is_stateful(resource_type) {
            out.push(
                "CO202",
                logical_id,
                at(&["Type"]),
                format!("{resource_type} holds data: every release creates it empty"),
                rule("CO202").fix.to_string(),
            );
        }
        wildcards(&mut out, logical_id, resource);
        open_ingress(&mut out, logical_id, resource_type, properties);

        // The resource's own silences apply to what was found on it.
        let silence = template_silence(resource);
        for finding in &mut out.findings[start..] {
            if let Some(reason) = silence.get(finding.rule) {
                finding.silenced = Some(reason.clone());
            }
        }
    }
    export_names(&mut out, resources);
    no_echo_defaults(&mut out);
    out.findings
}

struct Findings<'a> {
    template: &'a Template,
    findings: Vec<Finding>,
}

impl Findings<'_> {
    fn push(
        &mut self,
        id: &'static str,
        subject: &str,
        path: Vec<String>,
        message: String,
        fix: String,
    ) {
        let parts: Vec<&str> = path.iter().map(String::as_str).collect();
        let rule = rule(id);
        self.findings.push(Finding {
            rule: rule.id,
            severity: rule.severity,
            file: self.template.origin.clone(),
            line: self.template.lines().line_of(&parts),
            resource: Some(subject.to_string()),
            path: dotted(&path),
            message,
            fix,
            silenced: None,
        });
    }
}

/// `Resources.Role.Properties.Policies[0].PolicyName`.
fn dotted(path: &[String]) -> String {
    let mut text = String::new();
    for part in path {
        if part.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
            text.push_str(&format!("[{part}]"));
        } else {
            if !text.is_empty() {
                text.push('.');
            }
            text.push_str(part);
        }
    }
    text
}

/// What to keep of a fixed name in the suggestion: the literal, else `name`.
fn suggested_suffix(value: &Node) -> String {
    match value {
        Node::String(text) if !text.contains("${") => text.clone(),
        _ => "name".to_string(),
    }
}

/// CO103: a Route 53 record whose name (and set identifier, if any) is the same in every
/// release: the second release creates it again.
fn dns_records(
    out: &mut Findings<'_>,
    logical_id: &str,
    resource_type: &str,
    properties: Option<&Node>,
    resources: &IndexMap<String, Node>,
) {
    let records: Vec<(Vec<String>, &Node)> = match resource_type {
        "AWS::Route53::RecordSet" => properties
            .map(|record| (vec!["Properties".to_string()], record))
            .into_iter()
            .collect(),
        "AWS::Route53::RecordSetGroup" => properties
            .and_then(|p| p.get("RecordSets"))
            .and_then(Node::as_list)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(index, record)| {
                let path = vec![
                    "Properties".to_string(),
                    "RecordSets".to_string(),
                    index.to_string(),
                ];
                (path, record)
            })
            .collect(),
        _ => return,
    };
    for (path, record) in records {
        let Some(name) = record.get("Name") else {
            continue;
        };
        let Across::Fixed(what) = across_releases(name, resources) else {
            continue;
        };
        let identifier_varies = record
            .get("SetIdentifier")
            .is_some_and(|id| across_releases(id, resources) == Across::Varies);
        if identifier_varies {
            continue;
        }
        let mut at = vec!["Resources".to_string(), logical_id.to_string()];
        at.extend(path);
        at.push("Name".into());
        out.push(
            "CO103",
            logical_id,
            at,
            format!("{resource_type} Name is {what}, with no per-release SetIdentifier: every release creates the same record"),
            rule("CO103").fix.to_string(),
        );
    }
}

/// CO102: an export name that is the same in every release.
fn export_names(out: &mut Findings<'_>, resources: &IndexMap<String, Node>) {
    let Some(outputs) = out.template.outputs() else {
        return;
    };
    for (name, output) in outputs {
        let Some(export) = output.get("Export").and_then(|export| export.get("Name")) else {
            continue;
        };
        if let Across::Fixed(what) = across_releases(export, resources) {
            let path = ["Outputs", name, "Export", "Name"]
                .iter()
                .map(|part| part.to_string())
                .collect();
            let finding_fix = format!(
                "make it per release, e.g. Name: !Sub \"${{AWS::StackName}}-{name}\", or export it from a long-lived stack"
            );
            out.push(
                "CO102",
                name,
                path,
                format!("output {name}'s export name is {what}: the same in every release"),
                finding_fix,
            );
            let silence = template_silence(output);
            if let (Some(last), Some(reason)) = (out.findings.last_mut(), silence.get("CO102")) {
                last.silenced = Some(reason.clone());
            }
        }
    }
}

/// CO205: a NoEcho parameter with a default value.
fn no_echo_defaults(out: &mut Findings<'_>) {
    let Some(parameters) = out.template.parameters() else {
        return;
    };
    let flagged: Vec<String> = parameters
        .iter()
        .filter(|(name, declaration)| {
            out.template.no_echo_parameters().contains(*name)
                && declaration.get("Default").is_some()
        })
        .map(|(name, _)| name.clone())
        .collect();
    for name in flagged {
        let path = ["Parameters", &name, "Default"]
            .iter()
            .map(|part| part.to_string())
            .collect();
        out.push(
            "CO205",
            &name,
            path,
            format!("NoEcho parameter {name} has a Default"),
            rule("CO205").fix.to_string(),
        );
    }
}

/// CO203: an Allow statement for every action or on every resource.
fn wildcards(out: &mut Findings<'_>, logical_id: &str, resource: &Node) {
    for (document_path, document) in policy_documents(resource) {
        let statements: Vec<&Node> = match document.get("Statement") {
            Some(Node::List(items)) => items.iter().collect(),
            Some(single @ Node::Map(_)) => vec![single],
            _ => Vec::new(),
        };
        for (index, statement) in statements.into_iter().enumerate() {
            if statement.get("Effect").and_then(Node::as_str) != Some("Allow") {
                continue;
            }
            let has_star = |key: &str| {
                let values = match statement.get(key) {
                    Some(Node::List(items)) => items.iter().collect(),
                    Some(value) => vec![value],
                    None => Vec::new(),
                };
                values.iter().any(|value| value.as_str() == Some("*"))
            };
            let what = match (has_star("Action"), has_star("Resource")) {
                (true, true) => "every action on every resource",
                (true, false) => "every action",
                (false, true) => "on every resource (Resource: \"*\")",
                (false, false) => continue,
            };
            let mut path = vec!["Resources".to_string(), logical_id.to_string()];
            path.extend(document_path.iter().cloned());
            path.push("Statement".into());
            path.push(index.to_string());
            out.push(
                "CO203",
                logical_id,
                path,
                format!("an Allow statement grants {what}"),
                rule("CO203").fix.to_string(),
            );
        }
    }
}

/// CO204: security group ingress from 0.0.0.0/0 or ::/0.
fn open_ingress(
    out: &mut Findings<'_>,
    logical_id: &str,
    resource_type: &str,
    properties: Option<&Node>,
) {
    let Some(properties) = properties else {
        return;
    };
    let rules: Vec<(Vec<String>, &Node)> = match resource_type {
        "AWS::EC2::SecurityGroup" => properties
            .get("SecurityGroupIngress")
            .and_then(Node::as_list)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let path = vec![
                    "Properties".to_string(),
                    "SecurityGroupIngress".to_string(),
                    index.to_string(),
                ];
                (path, rule)
            })
            .collect(),
        "AWS::EC2::SecurityGroupIngress" => vec![(vec!["Properties".to_string()], properties)],
        _ => return,
    };
    for (path, ingress) in rules {
        let world = [("CidrIp", "0.0.0.0/0"), ("CidrIpv6", "::/0")]
            .into_iter()
            .find(|(key, open)| ingress.get(key).and_then(Node::as_str) == Some(*open));
        let Some((key, cidr)) = world else { continue };
        let ports = match (
            ingress.get("FromPort").and_then(Node::scalar_text),
            ingress.get("ToPort").and_then(Node::scalar_text),
        ) {
            (Some(from), Some(to)) if from == to => format!("port {from}"),
            (Some(from), Some(to)) => format!("ports {from}-{to}"),
            _ => "every port".to_string(),
        };
        let mut at = vec!["Resources".to_string(), logical_id.to_string()];
        at.extend(path);
        at.push(key.to_string());
        out.push(
            "CO204",
            logical_id,
            at,
            format!("{resource_type} opens {ports} to {cidr}"),
            rule("CO204").fix.to_string(),
        );
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
