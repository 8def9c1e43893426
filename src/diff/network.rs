//! Security-group rules opened and closed, from `AWS::EC2::SecurityGroup` and the standalone
//! `AWS::EC2::SecurityGroupIngress` / `Egress` resources.

use std::collections::{HashMap, VecDeque};

use indexmap::IndexMap;

use super::convert::short_text;
use super::model::{ChangeKind, Direction, RuleChange};
use super::tree::{canonical_key, normalized_protocol, PEER_FIELDS};
use crate::template::Node;

struct Rule {
    /// Identity across releases: declaring resource, direction, protocol, ports, peer.
    key: String,
    change: RuleChange,
}

pub fn rule_changes(
    old_resources: &IndexMap<String, Node>,
    new_resources: &IndexMap<String, Node>,
) -> Vec<RuleChange> {
    let old_rules = rules(old_resources, ChangeKind::Removed);
    let new_rules = rules(new_resources, ChangeKind::Added);
    let mut old_by_key: HashMap<&str, VecDeque<usize>> = HashMap::new();
    for (index, rule) in old_rules.iter().enumerate() {
        old_by_key.entry(&rule.key).or_default().push_back(index);
    }
    let mut old_kept = vec![false; old_rules.len()];
    let mut changes = Vec::new();
    for rule in &new_rules {
        match old_by_key
            .get_mut(rule.key.as_str())
            .and_then(VecDeque::pop_front)
        {
            Some(old_index) => old_kept[old_index] = true,
            None => changes.push(rule.change.clone()),
        }
    }
    let closed = old_rules
        .into_iter()
        .zip(old_kept)
        .filter(|(_, kept)| !kept)
        .map(|(rule, _)| rule.change);
    // Closed rules first, like removed lines in a diff.
    closed.chain(changes).collect()
}

fn rules(resources: &IndexMap<String, Node>, kind: ChangeKind) -> Vec<Rule> {
    let mut found = Vec::new();
    for (logical_id, resource) in resources {
        let properties = resource.get("Properties");
        match resource.get("Type").and_then(Node::as_str) {
            Some("AWS::EC2::SecurityGroup") => {
                for (field, direction) in [
                    ("SecurityGroupIngress", Direction::Ingress),
                    ("SecurityGroupEgress", Direction::Egress),
                ] {
                    let declared = properties
                        .and_then(|properties| properties.get(field))
                        .and_then(Node::as_list)
                        .unwrap_or_default();
                    for rule in declared {
                        found.push(rule_of(logical_id, logical_id, direction, rule, kind));
                    }
                }
            }
            Some(
                kind_name @ ("AWS::EC2::SecurityGroupIngress" | "AWS::EC2::SecurityGroupEgress"),
            ) => {
                let Some(rule) = properties else { continue };
                let direction = if kind_name.ends_with("Ingress") {
                    Direction::Ingress
                } else {
                    Direction::Egress
                };
                let group = rule
                    .get("GroupId")
                    .or_else(|| rule.get("GroupName"))
                    .map(short_text)
                    .unwrap_or_default();
                found.push(rule_of(logical_id, &group, direction, rule, kind));
            }
            _ => {}
        }
    }
    found
}

fn rule_of(
    logical_id: &str,
    group: &str,
    direction: Direction,
    rule: &Node,
    kind: ChangeKind,
) -> Rule {
    let protocol = match normalized_protocol(rule).as_str() {
        "-1" => "all".to_string(),
        other => other.trim_matches('"').to_string(),
    };
    let port = |field: &str| rule.get(field).map(short_text);
    let ports = match (port("FromPort"), port("ToPort")) {
        _ if protocol == "all" => "all".to_string(),
        (Some(from), Some(to)) if from == "-1" || (from == "0" && to == "65535") => {
            "all".to_string()
        }
        (Some(from), Some(to)) if from == to => from,
        (Some(from), Some(to)) => format!("{from}-{to}"),
        (Some(from), None) => from,
        (None, Some(to)) => to,
        (None, None) => "all".to_string(),
    };
    let peer = PEER_FIELDS
        .iter()
        .filter_map(|field| rule.get(field).map(|value| peer_text(field, value)))
        .collect::<Vec<_>>()
        .join(" ");
    let mut key = format!("{logical_id}|{}|{group}|", direction.as_str());
    key.push_str(&canonical_key(&Node::String(protocol.clone())));
    key.push_str(&format!("|{ports}|"));
    for field in PEER_FIELDS {
        if let Some(value) = rule.get(field) {
            key.push_str(field);
            key.push_str(&canonical_key(value));
        }
    }
    let mut broadening = Vec::new();
    if kind == ChangeKind::Added && direction == Direction::Ingress {
        broadening.push("opens ingress".to_string());
        if peer == "0.0.0.0/0" || peer == "::/0" {
            broadening.push(format!("from anywhere ({peer})"));
        }
        if ports == "all" {
            broadening.push("on all ports".to_string());
        }
    }
    Rule {
        key,
        change: RuleChange {
            kind,
            logical_id: logical_id.to_string(),
            group: group.to_string(),
            direction,
            protocol,
            ports,
            peer: if peer.is_empty() {
                "(none)".to_string()
            } else {
                peer
            },
            broadening,
        },
    }
}

fn peer_text(field: &str, value: &Node) -> String {
    let text = short_text(value);
    match field {
        "CidrIp" | "CidrIpv6" => text,
        "SourcePrefixListId" | "DestinationPrefixListId" => format!("prefix-list {text}"),
        "SourceSecurityGroupOwnerId" => format!("owner {text}"),
        _ => format!("group {text}"),
    }
}
