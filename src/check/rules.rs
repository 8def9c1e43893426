//! The template rules (CO101–CO205), each a pure function of the loaded template. CO206 (quotas)
//! and the app rules (CO301–CO303) come from loading and from the app's checks.

use indexmap::IndexMap;

use super::names::{physical_name_properties, NameProperty, SINGLETONS};
use super::silence::template_silence;
use super::values::{across_releases, Across};
use super::{rule, Finding};
use crate::diff::{is_stateful, policy_documents, Scrubber};
use crate::template::{Node, Template};

/// Every finding of the template rules, in template order (resources, then outputs and
/// parameters), silenced where the resource's `Metadata` says so.
///
/// Errors: a `Metadata: {cutover: ...}` silence that cannot be read (an unknown rule id, an
/// unknown key), with the file and line.
pub fn check_template(template: &Template) -> Result<Vec<Finding>, SilenceError> {
    let empty = IndexMap::new();
    let resources = template.resources().unwrap_or(&empty);
    let mut out = Findings {
        template,
        findings: Vec::new(),
    };
    let silence_error = |path: &[&str], message: String| {
        let mut at = path.to_vec();
        at.extend(["Metadata", "cutover"]);
        SilenceError {
            file: template.origin.clone(),
            line: template.lines().line_of(&at),
            message,
        }
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
            fixed_name(
                &mut out,
                logical_id,
                resource_type,
                properties,
                name,
                resources,
            );
        }
        dns_records(&mut out, logical_id, resource_type, properties, resources);
        // An OIDC provider is one per URL: a per-release URL is not the same provider.
        let per_release_url = resource_type == "AWS::IAM::OIDCProvider"
            && properties
                .and_then(|p| p.get("Url"))
                .is_some_and(|url| across_releases(url, resources) == Across::Varies);
        if let Some((_, source)) = SINGLETONS
            .iter()
            .find(|(kind, _)| *kind == resource_type)
            .filter(|_| !per_release_url)
        {
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
        wildcards(&mut out, logical_id, resource_type, resource);
        open_ingress(&mut out, logical_id, resource_type, properties);

        // The resource's own silences apply to what was found on it.
        let silence = template_silence(resource)
            .map_err(|message| silence_error(&["Resources", logical_id], message))?;
        for finding in &mut out.findings[start..] {
            if let Some(reason) = silence.get(finding.rule) {
                finding.silenced = Some(reason.clone());
            }
        }
    }
    export_names(&mut out, resources)?;
    no_echo_defaults(&mut out);
    // The template's own Metadata silences a rule everywhere in it.
    let everywhere =
        template_silence(&template.root).map_err(|message| silence_error(&[], message))?;
    for finding in out.findings.iter_mut().filter(|f| f.silenced.is_none()) {
        if let Some(reason) = everywhere.get(finding.rule) {
            finding.silenced = Some(reason.clone());
        }
    }
    // A NoEcho parameter's default is a secret: a finding may quote it (a literal name, a
    // `Sub` text); it is masked as everywhere else.
    let scrubber = Scrubber::new(no_echo_default_values(template));
    for finding in &mut out.findings {
        scrubber.scrub_string(&mut finding.message);
        scrubber.scrub_string(&mut finding.fix);
    }
    Ok(out.findings)
}

/// The default values of NoEcho parameters, as text.
fn no_echo_default_values(template: &Template) -> Vec<String> {
    let no_echo = template.no_echo_parameters();
    template
        .parameters()
        .into_iter()
        .flatten()
        .filter(|(name, _)| no_echo.contains(*name))
        .filter_map(|(_, declaration)| declaration.get("Default"))
        .flat_map(|default| match default {
            Node::List(items) => items
                .iter()
                .filter_map(|item| item.scalar_text().map(|text| text.into_owned()))
                .collect(),
            scalar => scalar
                .scalar_text()
                .map(|text| text.into_owned())
                .into_iter()
                .collect::<Vec<_>>(),
        })
        .collect()
}

/// A template silence that cannot be read: bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|line| format!(":{line}")).unwrap_or_default())]
pub struct SilenceError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
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
/// CO101: a physical name (`name.property`, a path such as `TableInput.Name`) that is the same
/// in every release, unless it is unique only within a parent the release creates itself.
fn fixed_name(
    out: &mut Findings<'_>,
    logical_id: &str,
    resource_type: &str,
    properties: Option<&Node>,
    name: &NameProperty,
    resources: &IndexMap<String, Node>,
) {
    let path: Vec<&str> = name.property.split('.').collect();
    let Some(value) = path
        .iter()
        .try_fold(properties, |node, key| node.map(|node| node.get(key)))
        .flatten()
    else {
        return;
    };
    // Unique within a parent: the parent's value decides. One the release creates itself (its
    // own role, API, log group) makes the name new with it.
    let scope: Vec<(&str, Option<Across>)> = name
        .scope
        .iter()
        .map(|parent| {
            let value = properties.and_then(|p| p.get(parent));
            (
                *parent,
                value.map(|value| across_releases(value, resources)),
            )
        })
        .collect();
    if scope
        .iter()
        .any(|(_, across)| *across == Some(Across::Varies))
    {
        return;
    }
    let Across::Fixed(what) = across_releases(value, resources) else {
        return;
    };
    let within = match scope.as_slice() {
        [] => String::new(),
        parents => {
            let described: Vec<String> = parents
                .iter()
                .map(|(parent, across)| match across {
                    Some(Across::Fixed(value)) => format!("{parent} ({value})"),
                    _ => format!("{parent} (not set)"),
                })
                .collect();
            format!(
                "; it is unique within its {}, the same in every release too",
                described.join(" and ")
            )
        }
    };
    let property = name.property;
    let fix = match (resource_type, property) {
        ("AWS::ElasticLoadBalancingV2::ListenerRule", "Priority") => "a listener takes each priority once: let cutover's router move traffic on one rule of a long-lived stack (router.rule), or put the listener in the release".to_string(),
        ("AWS::CloudFront::Distribution", _) => "an alternate domain name belongs to one distribution at a time: keep the distribution in a long-lived stack and point its origin at the releases".to_string(),
        _ => format!(
            "drop {property} (CloudFormation generates a name) or make it per release, e.g. {}",
            per_release_example(property, value)
        ),
    };
    out.push(
        "CO101",
        logical_id,
        path_in_properties(logical_id, &path),
        format!("{resource_type} {property} is {what}: the same in every release{within}"),
        fix,
    );
}

fn path_in_properties(logical_id: &str, path: &[&str]) -> Vec<String> {
    ["Resources", logical_id, "Properties"]
        .into_iter()
        .chain(path.iter().copied())
        .map(str::to_string)
        .collect()
}

/// `Name: !Sub "${AWS::StackName}-orders"`, keeping what the name's form requires: a KMS alias
/// starts with `alias/`, an SSM parameter path with `/`, a FIFO queue or topic ends in `.fifo`.
fn per_release_example(property: &str, value: &Node) -> String {
    let last = property.rsplit('.').next().unwrap_or(property);
    let text = match value {
        Node::String(text) if !text.contains("${") => text.as_str(),
        _ => "name",
    };
    let (prefix, rest) = if let Some(rest) = text.strip_prefix("alias/") {
        ("alias/", rest)
    } else if let Some(rest) = text.strip_prefix('/') {
        ("/", rest)
    } else {
        ("", text)
    };
    let joiner = if prefix == "/" { "/" } else { "-" };
    format!("{last}: !Sub \"{prefix}${{AWS::StackName}}{joiner}{rest}\"")
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
        let varies = |node: Option<&Node>| {
            node.is_some_and(|value| across_releases(value, resources) == Across::Varies)
        };
        // A per-release set identifier, or a hosted zone the release creates itself, makes the
        // record new with the release. (A group's zone may be set on the group or the record.)
        let zone = record
            .get("HostedZoneId")
            .or_else(|| properties.and_then(|p| p.get("HostedZoneId")));
        if varies(record.get("SetIdentifier")) || varies(zone) {
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
fn export_names(
    out: &mut Findings<'_>,
    resources: &IndexMap<String, Node>,
) -> Result<(), SilenceError> {
    let Some(outputs) = out.template.outputs() else {
        return Ok(());
    };
    for (name, output) in outputs {
        let silence = template_silence(output).map_err(|message| SilenceError {
            file: out.template.origin.clone(),
            line: out
                .template
                .lines()
                .line_of(&["Outputs", name, "Metadata", "cutover"]),
            message,
        })?;
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
            if let (Some(last), Some(reason)) = (out.findings.last_mut(), silence.get("CO102")) {
                last.silenced = Some(reason.clone());
            }
        }
    }
    Ok(())
}

/// CO205: a NoEcho parameter with a default value.
fn no_echo_defaults(out: &mut Findings<'_>) {
    let Some(parameters) = out.template.parameters() else {
        return;
    };
    let flagged: Vec<String> = parameters
        .iter()
        .filter(|(name, declaration)| {
            // An empty default holds no secret; an SSM parameter type's default is the
            // parameter's path, not its value.
            let default = declaration.get("Default");
            let is_ssm_type = declaration
                .get("Type")
                .and_then(Node::as_str)
                .is_some_and(|kind| kind.starts_with("AWS::SSM::Parameter::"));
            out.template.no_echo_parameters().contains(*name)
                && default
                    .is_some_and(|value| value.scalar_text().is_none_or(|text| !text.is_empty()))
                && !is_ssm_type
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
fn wildcards(out: &mut Findings<'_>, logical_id: &str, resource_type: &str, resource: &Node) {
    for (document_path, document) in policy_documents(resource) {
        // A key policy is about its own key: `Resource: "*"` is the only form it takes (KMS
        // Developer Guide, "Key policies").
        let key_policy = matches!(resource_type, "AWS::KMS::Key" | "AWS::KMS::ReplicaKey")
            && document_path.first().map(String::as_str) == Some("Properties")
            && document_path.get(1).map(String::as_str) == Some("KeyPolicy");
        let statements: Vec<&Node> = match document.get("Statement") {
            Some(Node::List(items)) => items.iter().collect(),
            Some(single @ Node::Map(_)) => vec![single],
            _ => Vec::new(),
        };
        for (index, statement) in statements.into_iter().enumerate() {
            if statement.get("Effect").and_then(Node::as_str) != Some("Allow") {
                continue;
            }
            let values = |key: &str| -> Vec<&Node> {
                match statement.get(key) {
                    Some(Node::List(items)) => items.iter().collect(),
                    Some(value) => vec![value],
                    None => Vec::new(),
                }
            };
            let is_star = |value: &&Node| matches!(value.as_str(), Some("*" | "*:*"));
            let mut grants = Vec::new();
            if values("Action").iter().any(is_star) {
                grants.push("every action".to_string());
            } else if statement.get("NotAction").is_some() {
                grants.push("every action but those NotAction lists".to_string());
            }
            if !key_policy {
                if values("Resource").iter().any(is_star) {
                    grants.push("on every resource (Resource: \"*\")".to_string());
                } else if statement.get("NotResource").is_some() {
                    grants.push("on every resource but those NotResource lists".to_string());
                }
            }
            if everyone(statement.get("Principal")) {
                grants.push("to every principal (Principal: \"*\")".to_string());
            }
            if grants.is_empty() {
                continue;
            }
            let mut path = vec!["Resources".to_string(), logical_id.to_string()];
            path.extend(document_path.iter().cloned());
            path.push("Statement".into());
            path.push(index.to_string());
            out.push(
                "CO203",
                logical_id,
                path,
                format!("an Allow statement grants {}", grants.join(", ")),
                rule("CO203").fix.to_string(),
            );
        }
    }
}

/// `Principal: "*"` or `{AWS: "*"}` (alone or in a list): anyone, even anonymous callers. A
/// `Condition` may narrow it; the finding says what the statement itself grants.
fn everyone(principal: Option<&Node>) -> bool {
    match principal {
        Some(Node::String(text)) => text == "*",
        Some(Node::Map(map)) => map.get("AWS").is_some_and(|aws| match aws {
            Node::String(text) => text == "*",
            Node::List(items) => items.iter().any(|item| item.as_str() == Some("*")),
            _ => false,
        }),
        _ => false,
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
        // Any prefix of length 0 is the whole address space: `0.0.0.0/0`, `::/0`, `::0/0`.
        let world = ["CidrIp", "CidrIpv6"].into_iter().find_map(|key| {
            let cidr = ingress.get(key).and_then(Node::as_str)?;
            let (_, length) = cidr.trim().rsplit_once('/')?;
            (length.trim().parse::<u8>().ok()? == 0).then_some((key, cidr))
        });
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
