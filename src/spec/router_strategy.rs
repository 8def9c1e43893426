//! `[router]` and `[strategy]`: one `kind` selects which other keys apply. Keys of another kind
//! are rejected with the kind they belong to, so a user who mixed up two examples learns why.

use std::time::Duration;

use super::error::{KeyPath, SpecError};
use super::raw::{RawRouter, RawStrategy, RawTestTraffic, RouterKind, StrategyName};
use super::types::{
    AlbRouteSpec, RecordType, RouterSpec, StrategyKind, StrategySpec, TestTrafficSpec,
};
use super::validate::Checker;

const ROUTER_KEYS: &[(&str, RouterKind)] = &[
    ("listener", RouterKind::Alb),
    ("rule", RouterKind::Alb),
    ("target_group_output", RouterKind::Alb),
    ("test_traffic", RouterKind::Alb),
    ("hosted_zone_id", RouterKind::Route53),
    ("record_name", RouterKind::Route53),
    ("record_type", RouterKind::Route53),
    ("ttl", RouterKind::Route53),
    ("endpoint_output", RouterKind::Route53),
    ("alias_zone_output", RouterKind::Route53),
    ("allocation_id", RouterKind::Eip),
    ("instance_output", RouterKind::Eip),
];

const STRATEGY_KEYS: &[(&str, StrategyName)] = &[
    ("percent", StrategyName::Canary),
    ("bake", StrategyName::Canary),
    ("step", StrategyName::Linear),
    ("interval", StrategyName::Linear),
    ("weights", StrategyName::Steps),
    ("pause", StrategyName::Steps),
];

fn router_kind_name(kind: RouterKind) -> &'static str {
    match kind {
        RouterKind::Alb => "alb",
        RouterKind::Route53 => "route53",
        RouterKind::Eip => "eip",
    }
}

fn strategy_kind_name(kind: StrategyName) -> &'static str {
    match kind {
        StrategyName::AllAtOnce => "all-at-once",
        StrategyName::Canary => "canary",
        StrategyName::Linear => "linear",
        StrategyName::Steps => "steps",
    }
}

/// Rejects the first present key that belongs to another kind.
fn reject_foreign_keys<K: Copy + PartialEq>(
    check: &Checker<'_>,
    table: &str,
    present: &[(&str, bool)],
    owners: &[(&str, K)],
    kind: K,
    name_of: fn(K) -> &'static str,
) -> Result<(), SpecError> {
    let own: Vec<&str> = owners
        .iter()
        .filter(|(_, owner)| *owner == kind)
        .map(|(key, _)| *key)
        .collect();
    for (key, is_present) in present {
        let Some((_, owner)) = owners.iter().find(|(name, _)| name == key) else {
            continue;
        };
        if *is_present && *owner != kind {
            let takes = if own.is_empty() {
                format!("{table} kind `{}` takes no other keys", name_of(kind))
            } else {
                format!("{table} kind `{}` takes: {}", name_of(kind), own.join(", "))
            };
            return Err(check.invalid_with_hint(
                KeyPath::root().key(table).key(key),
                format!(
                    "`{key}` belongs to {table} kind `{}`, but this {table} is `{}`",
                    name_of(*owner),
                    name_of(kind)
                ),
                takes,
            ));
        }
    }
    Ok(())
}

fn required<T>(
    check: &Checker<'_>,
    table: &str,
    kind: &str,
    key: &str,
    value: Option<T>,
) -> Result<T, SpecError> {
    value.ok_or_else(|| {
        check.invalid(
            KeyPath::root().key(table),
            format!("{table} kind `{kind}` needs `{key}`"),
        )
    })
}

/// ALB listener rule limits (Elastic Load Balancing User Guide, "Listener rules"): priorities
/// 1–50000, an HTTP header condition's name at most 40 characters.
const MAX_RULE_PRIORITY: u32 = 50_000;
const MAX_HEADER_NAME: usize = 40;

fn test_traffic(check: &Checker<'_>, raw: RawTestTraffic) -> Result<TestTrafficSpec, SpecError> {
    let key = KeyPath::root().key("router").key("test_traffic");
    let header = raw.header.trim().to_string();
    // RFC 9110 field names are tokens: visible ASCII without separators.
    let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if header.is_empty() || header.len() > MAX_HEADER_NAME || !header.chars().all(is_token) {
        return Err(check.invalid_with_hint(
            key.key("header"),
            format!(
                "`{}` is not an HTTP header name of 1 to {MAX_HEADER_NAME} characters",
                raw.header
            ),
            "letters, digits and - _ . are usual, e.g. header = \"X-Release\"",
        ));
    }
    if header.eq_ignore_ascii_case("host") {
        return Err(check.invalid(
            key.key("header"),
            "ALB header conditions cannot match the Host header (it is matched by host-header conditions)",
        ));
    }
    if let Some(priority) = raw.priority {
        if !(1..=MAX_RULE_PRIORITY).contains(&priority) {
            return Err(check.invalid(
                key.key("priority"),
                format!("{priority} is not a listener rule priority (1 to {MAX_RULE_PRIORITY})"),
            ));
        }
    }
    Ok(TestTrafficSpec {
        header,
        priority: raw.priority,
    })
}

pub(crate) fn router(check: &Checker<'_>, raw: RawRouter) -> Result<RouterSpec, SpecError> {
    let present = [
        ("listener", raw.listener.is_some()),
        ("rule", raw.rule.is_some()),
        ("target_group_output", raw.target_group_output.is_some()),
        ("hosted_zone_id", raw.hosted_zone_id.is_some()),
        ("record_name", raw.record_name.is_some()),
        ("record_type", raw.record_type.is_some()),
        ("ttl", raw.ttl.is_some()),
        ("endpoint_output", raw.endpoint_output.is_some()),
        ("alias_zone_output", raw.alias_zone_output.is_some()),
        ("allocation_id", raw.allocation_id.is_some()),
        ("instance_output", raw.instance_output.is_some()),
        ("test_traffic", raw.test_traffic.is_some()),
    ];
    reject_foreign_keys(
        check,
        "router",
        &present,
        ROUTER_KEYS,
        raw.kind,
        router_kind_name,
    )?;
    let key = KeyPath::root().key("router");
    let kind = router_kind_name(raw.kind);
    match raw.kind {
        RouterKind::Alb => {
            let route = match (raw.listener, raw.rule) {
                (Some(listener), None) => {
                    AlbRouteSpec::Listener(check.router_value(key.key("listener"), listener)?)
                }
                (None, Some(rule)) => AlbRouteSpec::Rule(check.router_value(key.key("rule"), rule)?),
                (Some(_), Some(_)) => {
                    return Err(check.invalid_with_hint(
                        key.key("rule"),
                        "`listener` and `rule` are both set; the router writes one of them",
                        "keep `rule` to route through one listener rule (a load balancer shared with other apps), or `listener` to route through the listener's default action",
                    ))
                }
                (None, None) => {
                    return Err(check.invalid_with_hint(
                        key.clone(),
                        "router kind `alb` needs `listener` or `rule`",
                        "`listener` routes through the listener's default action; `rule` through one listener rule",
                    ))
                }
            };
            let output = required(
                check,
                "router",
                kind,
                "target_group_output",
                raw.target_group_output,
            )?;
            let test_traffic = raw
                .test_traffic
                .map(|raw| test_traffic(check, raw))
                .transpose()?;
            Ok(RouterSpec::Alb {
                route,
                target_group_output: check.output_name(key.key("target_group_output"), &output)?,
                test_traffic,
            })
        }
        RouterKind::Route53 => {
            let zone = required(check, "router", kind, "hosted_zone_id", raw.hosted_zone_id)?;
            let record_name = required(check, "router", kind, "record_name", raw.record_name)?;
            let endpoint = required(
                check,
                "router",
                kind,
                "endpoint_output",
                raw.endpoint_output,
            )?;
            validate_dns_name(&record_name).map_err(|reason| {
                check.invalid(
                    key.key("record_name"),
                    format!("invalid record name `{record_name}`: {reason}"),
                )
            })?;
            let record_type = raw.record_type.unwrap_or(RecordType::Cname);
            let alias_zone_output = match raw.alias_zone_output {
                None => None,
                Some(_) if record_type == RecordType::Cname => {
                    return Err(check.invalid_with_hint(
                        key.key("alias_zone_output"),
                        "alias records point at a load balancer or distribution by A or AAAA records, not CNAME",
                        "set record_type = \"A\" (or \"AAAA\") with `alias_zone_output`",
                    ))
                }
                Some(output) => Some(check.output_name(key.key("alias_zone_output"), &output)?),
            };
            let ttl = raw.ttl.unwrap_or(60);
            if ttl > i32::MAX as u32 {
                return Err(check.invalid(
                    key.key("ttl"),
                    format!("{ttl} is over Route 53's maximum TTL of {}", i32::MAX),
                ));
            }
            Ok(RouterSpec::Route53 {
                hosted_zone_id: check.router_value(key.key("hosted_zone_id"), zone)?,
                // DNS names are case-insensitive (RFC 4343) and Route 53 keeps them in lower
                // case: `API.example.com` is the same name, and must be found as such.
                record_name: record_name.to_ascii_lowercase(),
                record_type,
                ttl,
                endpoint_output: check.output_name(key.key("endpoint_output"), &endpoint)?,
                alias_zone_output,
            })
        }
        RouterKind::Eip => {
            let allocation = required(check, "router", kind, "allocation_id", raw.allocation_id)?;
            let instance = required(
                check,
                "router",
                kind,
                "instance_output",
                raw.instance_output,
            )?;
            Ok(RouterSpec::Eip {
                allocation_id: check.router_value(key.key("allocation_id"), allocation)?,
                instance_output: check.output_name(key.key("instance_output"), &instance)?,
            })
        }
    }
}

/// Route 53 names: at most 255 characters, labels of 1 to 63 letters, digits, `-`, `_` or a
/// leading `*`; a trailing dot is allowed.
fn validate_dns_name(name: &str) -> Result<(), String> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() || name.len() > 255 {
        return Err("a DNS name is 1 to 255 characters".to_owned());
    }
    for (index, label) in trimmed.split('.').enumerate() {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("label `{label}` must be 1 to 63 characters"));
        }
        let wildcard = index == 0 && label == "*";
        if !wildcard {
            if let Some(bad) = label
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
            {
                return Err(format!("`{bad}` is not allowed in a DNS label"));
            }
        }
    }
    Ok(())
}

pub(crate) fn strategy(
    check: &Checker<'_>,
    raw: Option<RawStrategy>,
    router: &RouterSpec,
) -> Result<StrategySpec, SpecError> {
    let key = KeyPath::root().key("strategy");
    let Some(raw) = raw else {
        return Ok(StrategySpec {
            kind: StrategyKind::AllAtOnce,
            final_bake: Duration::ZERO,
            hold_for_stickiness: true,
        });
    };
    let present = [
        ("percent", raw.percent.is_some()),
        ("bake", raw.bake.is_some()),
        ("step", raw.step.is_some()),
        ("interval", raw.interval.is_some()),
        ("weights", raw.weights.is_some()),
        ("pause", raw.pause.is_some()),
    ];
    reject_foreign_keys(
        check,
        "strategy",
        &present,
        STRATEGY_KEYS,
        raw.kind,
        strategy_kind_name,
    )?;
    let name = strategy_kind_name(raw.kind);
    if raw.hold_for_stickiness.is_some() && !matches!(router, RouterSpec::Alb { .. }) {
        return Err(check.invalid_with_hint(
            key.key("hold_for_stickiness"),
            format!(
                "`hold_for_stickiness` is about ALB target group stickiness, and this router is `{}`",
                router.kind()
            ),
            "remove it: only the alb router has stickiness",
        ));
    }
    if matches!(router, RouterSpec::Eip { .. }) && raw.kind != StrategyName::AllAtOnce {
        return Err(check.invalid_with_hint(
            key.key("kind"),
            format!("the eip router moves one Elastic IP, so it can only switch all at once, not `{name}`"),
            "set kind = \"all-at-once\" in [strategy]",
        ));
    }
    let percentage = |field: &str, value: u32| {
        if (1..=99).contains(&value) {
            Ok(value)
        } else {
            Err(check.invalid(
                key.key(field),
                format!("{field} is {value}; it must be from 1 to 99"),
            ))
        }
    };
    let kind = match raw.kind {
        StrategyName::AllAtOnce => StrategyKind::AllAtOnce,
        StrategyName::Canary => StrategyKind::Canary {
            percent: percentage(
                "percent",
                required(check, "strategy", name, "percent", raw.percent)?,
            )?,
            bake: required(check, "strategy", name, "bake", raw.bake)?.0,
        },
        StrategyName::Linear => StrategyKind::Linear {
            step: percentage("step", required(check, "strategy", name, "step", raw.step)?)?,
            interval: required(check, "strategy", name, "interval", raw.interval)?.0,
        },
        StrategyName::Steps => {
            let weights = required(check, "strategy", name, "weights", raw.weights)?;
            let pause = required(check, "strategy", name, "pause", raw.pause)?.0;
            validate_weights(check, &key.key("weights"), &weights)?;
            StrategyKind::Steps { weights, pause }
        }
    };
    Ok(StrategySpec {
        kind,
        final_bake: raw.final_bake.map_or(Duration::ZERO, |bake| bake.0),
        hold_for_stickiness: raw.hold_for_stickiness.unwrap_or(true),
    })
}

fn validate_weights(check: &Checker<'_>, key: &KeyPath, weights: &[u32]) -> Result<(), SpecError> {
    let hint = "weights are the candidate's traffic percentages, strictly increasing, ending at 100, e.g. [5, 25, 50, 100]";
    if weights.is_empty() {
        return Err(check.invalid_with_hint(key.clone(), "`weights` is empty", hint));
    }
    for (index, weight) in weights.iter().enumerate() {
        if !(1..=100).contains(weight) {
            return Err(check.invalid_with_hint(
                key.index(index),
                format!("weight {weight} is not from 1 to 100"),
                hint,
            ));
        }
        if index > 0 && *weight <= weights[index - 1] {
            return Err(check.invalid_with_hint(
                key.index(index),
                format!(
                    "weight {weight} does not increase on {}",
                    weights[index - 1]
                ),
                hint,
            ));
        }
    }
    if weights.last() != Some(&100) {
        return Err(check.invalid_with_hint(
            key.index(weights.len() - 1),
            "the last weight must be 100",
            hint,
        ));
    }
    Ok(())
}
