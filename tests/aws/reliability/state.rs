//! The AWS state of one test account as one comparable value: every stack (status, parameters,
//! outputs, tags), every listener's default actions and rules, every Route 53 record, every
//! Elastic IP and its association, and every SSM parameter with its value and version. Two
//! snapshots are equal when nothing a cutover run can change has changed.

use std::collections::BTreeMap;

use crate::routing::world::Account;

/// `kind id` → what it holds, in a stable order.
pub type Snapshot = BTreeMap<String, String>;

pub async fn snapshot(account: &Account) -> Snapshot {
    let mut state = Snapshot::new();
    stacks(account, &mut state).await;
    listeners(account, &mut state).await;
    records(account, &mut state).await;
    addresses(account, &mut state).await;
    parameters(account, &mut state).await;
    state
}

async fn stacks(account: &Account, state: &mut Snapshot) {
    let described = account
        .cloudformation()
        .describe_stacks()
        .send()
        .await
        .expect("describe_stacks");
    for stack in described.stacks() {
        let mut parameters: Vec<String> = stack
            .parameters()
            .iter()
            .map(|p| {
                format!(
                    "{}={}",
                    p.parameter_key().unwrap_or_default(),
                    p.parameter_value().unwrap_or_default()
                )
            })
            .collect();
        parameters.sort();
        let mut outputs: Vec<String> = stack
            .outputs()
            .iter()
            .map(|o| {
                format!(
                    "{}={}",
                    o.output_key().unwrap_or_default(),
                    o.output_value().unwrap_or_default()
                )
            })
            .collect();
        outputs.sort();
        let mut tags: Vec<String> = stack
            .tags()
            .iter()
            .map(|t| {
                format!(
                    "{}={}",
                    t.key().unwrap_or_default(),
                    t.value().unwrap_or_default()
                )
            })
            .collect();
        tags.sort();
        state.insert(
            format!("stack {}", stack.stack_id().unwrap_or_default()),
            format!(
                "{} {:?} params {parameters:?} outputs {outputs:?} tags {tags:?}",
                stack.stack_name().unwrap_or_default(),
                stack.stack_status(),
            ),
        );
    }
}

async fn listeners(account: &Account, state: &mut Snapshot) {
    let elbv2 = account.elbv2();
    let Ok(balancers) = elbv2.describe_load_balancers().send().await else {
        return;
    };
    for balancer in balancers.load_balancers() {
        let arn = balancer.load_balancer_arn().unwrap_or_default();
        let listeners = elbv2
            .describe_listeners()
            .load_balancer_arn(arn)
            .send()
            .await
            .expect("describe_listeners");
        for listener in listeners.listeners() {
            let listener_arn = listener.listener_arn().unwrap_or_default();
            state.insert(
                format!("listener {listener_arn}"),
                format!("{:?}", listener.default_actions()),
            );
            let rules = elbv2
                .describe_rules()
                .listener_arn(listener_arn)
                .send()
                .await
                .expect("describe_rules");
            for rule in rules.rules() {
                state.insert(
                    format!("rule {}", rule.rule_arn().unwrap_or_default()),
                    format!(
                        "priority {:?} conditions {:?} actions {:?}",
                        rule.priority(),
                        rule.conditions(),
                        rule.actions()
                    ),
                );
            }
        }
    }
}

async fn records(account: &Account, state: &mut Snapshot) {
    let route53 = account.route53();
    let Ok(zones) = route53.list_hosted_zones().send().await else {
        return;
    };
    for zone in zones.hosted_zones() {
        let sets = route53
            .list_resource_record_sets()
            .hosted_zone_id(zone.id())
            .send()
            .await
            .expect("list_resource_record_sets");
        for set in sets.resource_record_sets() {
            state.insert(
                format!(
                    "record {} {} {:?} {}",
                    zone.id(),
                    set.name(),
                    set.r#type(),
                    set.set_identifier().unwrap_or_default()
                ),
                format!(
                    "weight {:?} ttl {:?} values {:?}",
                    set.weight(),
                    set.ttl(),
                    set.resource_records()
                ),
            );
        }
    }
}

async fn addresses(account: &Account, state: &mut Snapshot) {
    let Ok(described) = account.ec2().describe_addresses().send().await else {
        return;
    };
    for address in described.addresses() {
        state.insert(
            format!("address {}", address.allocation_id().unwrap_or_default()),
            format!(
                "{} instance {:?} association {:?}",
                address.public_ip().unwrap_or_default(),
                address.instance_id(),
                address.association_id()
            ),
        );
    }
}

async fn parameters(account: &Account, state: &mut Snapshot) {
    let ssm = aws_sdk_ssm::Client::new(&account.sdk);
    let mut token: Option<String> = None;
    loop {
        let page = ssm
            .get_parameters_by_path()
            .path("/")
            .recursive(true)
            .with_decryption(true)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("get_parameters_by_path");
        for parameter in page.parameters() {
            state.insert(
                format!("parameter {}", parameter.name().unwrap_or_default()),
                format!(
                    "v{} {:?} {}",
                    parameter.version(),
                    parameter.r#type(),
                    parameter.value().unwrap_or_default()
                ),
            );
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
}

/// What differs between two snapshots, one line per key, for assertion messages.
pub fn differences(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, value) in before {
        match after.get(key) {
            None => lines.push(format!("gone: {key}: {value}")),
            Some(now) if now != value => lines.push(format!("changed: {key}: {value} → {now}")),
            Some(_) => {}
        }
    }
    for (key, value) in after {
        if !before.contains_key(key) {
            lines.push(format!("new: {key}: {value}"));
        }
    }
    lines
}
