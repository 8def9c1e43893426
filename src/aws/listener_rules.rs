//! Listener rules with their conditions, behind [`ListenerRulesApi`]: what the test route needs
//! to find a free priority, copy an app rule's conditions, and add or remove its own rule.
//! Conditions stay opaque ([`Condition`]) outside this module: cutover copies them as written
//! and adds one header condition, nothing more.

use std::future::Future;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, HttpHeaderConditionConfig, RuleCondition,
    TargetGroupTuple,
};

use super::elbv2::{AlbRoute, Elbv2};
use super::{classify, AwsError};

/// One condition of a listener rule, as ELBv2 holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition(RuleCondition);

impl Condition {
    /// `http-header` `name` matching any of `values` (ELBv2 compares names case-insensitively).
    pub fn http_header(name: &str, values: &[&str]) -> Condition {
        Condition(
            RuleCondition::builder()
                .field("http-header")
                .http_header_config(
                    HttpHeaderConditionConfig::builder()
                        .http_header_name(name)
                        .set_values(Some(values.iter().map(|value| value.to_string()).collect()))
                        .build(),
                )
                .build(),
        )
    }

    /// The header name and values of an `http-header` condition.
    pub fn header(&self) -> Option<(&str, Vec<&str>)> {
        let config = self.0.http_header_config()?;
        Some((
            config.http_header_name()?,
            config.values().iter().map(String::as_str).collect(),
        ))
    }

    /// How many values it matches: ELBv2 allows five in all per rule (Elastic Load Balancing
    /// User Guide, "Listener rules", condition types).
    pub fn value_count(&self) -> usize {
        let condition = &self.0;
        let counted = condition
            .host_header_config()
            .map(|c| c.values().len())
            .or_else(|| condition.path_pattern_config().map(|c| c.values().len()))
            .or_else(|| condition.http_header_config().map(|c| c.values().len()))
            .or_else(|| {
                condition
                    .http_request_method_config()
                    .map(|c| c.values().len())
            })
            .or_else(|| condition.source_ip_config().map(|c| c.values().len()))
            .or_else(|| condition.query_string_config().map(|c| c.values().len()));
        counted.unwrap_or(condition.values().len()).max(1)
    }

    /// `host-header shop.example.com`, `http-header X-Release=r42`.
    pub fn describe(&self) -> String {
        if let Some((name, values)) = self.header() {
            return format!("http-header {name}={}", values.join("|"));
        }
        let condition = &self.0;
        let values: Vec<String> = condition
            .host_header_config()
            .map(|c| c.values().to_vec())
            .or_else(|| condition.path_pattern_config().map(|c| c.values().to_vec()))
            .or_else(|| {
                condition
                    .http_request_method_config()
                    .map(|c| c.values().to_vec())
            })
            .or_else(|| condition.source_ip_config().map(|c| c.values().to_vec()))
            .or_else(|| {
                condition.query_string_config().map(|c| {
                    c.values()
                        .iter()
                        .map(|pair| {
                            format!(
                                "{}={}",
                                pair.key().unwrap_or("*"),
                                pair.value().unwrap_or("")
                            )
                        })
                        .collect()
                })
            })
            .unwrap_or_else(|| condition.values().to_vec());
        format!(
            "{} {}",
            condition.field().unwrap_or("condition"),
            values.join("|")
        )
    }

    /// The condition to send in CreateRule: DescribeRules returns both the old `Values` and the
    /// typed config for some fields, and CreateRule takes one of the two.
    fn for_create(&self) -> RuleCondition {
        let condition = &self.0;
        let has_config = condition.host_header_config().is_some()
            || condition.path_pattern_config().is_some()
            || condition.http_header_config().is_some()
            || condition.http_request_method_config().is_some()
            || condition.source_ip_config().is_some()
            || condition.query_string_config().is_some();
        RuleCondition::builder()
            .set_field(condition.field().map(str::to_string))
            .set_values((!has_config).then(|| condition.values().to_vec()))
            .set_host_header_config(condition.host_header_config().cloned())
            .set_path_pattern_config(condition.path_pattern_config().cloned())
            .set_http_header_config(condition.http_header_config().cloned())
            .set_http_request_method_config(condition.http_request_method_config().cloned())
            .set_source_ip_config(condition.source_ip_config().cloned())
            .set_query_string_config(condition.query_string_config().cloned())
            .build()
    }
}

/// One rule of a listener (the default action is not one).
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerRule {
    pub arn: String,
    pub priority: u32,
    pub conditions: Vec<Condition>,
    /// The target groups its forward action lists.
    pub target_groups: Vec<String>,
    /// Its tags, read for rules with an `http-header` condition only (cutover's test rules are
    /// tagged `cutover:app` and `cutover:test-route`).
    pub tags: Vec<(String, String)>,
}

impl ListenerRule {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// DescribeTags takes at most 20 resource ARNs per call (Elastic Load Balancing API reference).
const TAGS_PER_CALL: usize = 20;

/// The listener a route belongs to: the listener itself, or (for a rule) the listener in the
/// rule's ARN (`…:listener-rule/app/<lb>/<lb id>/<listener id>/<rule id>`).
pub fn listener_of(route: &AlbRoute) -> Option<String> {
    match route {
        AlbRoute::DefaultAction { listener_arn } => Some(listener_arn.clone()),
        AlbRoute::Rule { rule_arn } => {
            let (base, _rule_id) = rule_arn.rsplit_once('/')?;
            base.contains(":listener-rule/")
                .then(|| base.replacen(":listener-rule/", ":listener/", 1))
        }
    }
}

pub trait ListenerRulesApi: Sync {
    /// Every rule of the listener, by priority (the default action left out).
    fn rules_of_listener(
        &self,
        listener_arn: &str,
    ) -> impl Future<Output = Result<Vec<ListenerRule>, AwsError>> + Send;

    /// Adds a rule forwarding what matches `conditions` to `target_group`, with `tags`; its ARN.
    fn create_forward_rule(
        &self,
        listener_arn: &str,
        priority: u32,
        conditions: &[Condition],
        target_group: &str,
        tags: &[(String, String)],
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    /// Deletes a rule; one already gone is no error.
    fn delete_rule(&self, rule_arn: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
}

impl ListenerRulesApi for Elbv2 {
    async fn rules_of_listener(&self, listener_arn: &str) -> Result<Vec<ListenerRule>, AwsError> {
        let action = format!("describe the rules of listener {listener_arn}");
        let mut rules = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let output = self
                .client
                .describe_rules()
                .listener_arn(listener_arn)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|error| classify(&action, error))?;
            for rule in output.rules() {
                let Some(priority) = rule.priority().and_then(|p| p.parse::<u32>().ok()) else {
                    continue;
                };
                rules.push(ListenerRule {
                    arn: rule.rule_arn().unwrap_or_default().to_string(),
                    priority,
                    conditions: rule.conditions().iter().cloned().map(Condition).collect(),
                    target_groups: forward_targets(rule.actions()),
                    tags: Vec::new(),
                });
            }
            match output.next_marker() {
                Some(next) if !next.is_empty() && marker.as_deref() != Some(next) => {
                    marker = Some(next.to_string())
                }
                _ => break,
            }
        }
        rules.sort_by_key(|rule| rule.priority);
        // Tags only where a test rule can be: rules with a header condition.
        let with_header: Vec<String> = rules
            .iter()
            .filter(|rule| {
                rule.conditions
                    .iter()
                    .any(|condition| condition.header().is_some())
            })
            .map(|rule| rule.arn.clone())
            .collect();
        for chunk in with_header.chunks(TAGS_PER_CALL) {
            let output = self
                .client
                .describe_tags()
                .set_resource_arns(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|error| {
                    classify(
                        format!("read the tags of the rules of listener {listener_arn}"),
                        error,
                    )
                })?;
            for description in output.tag_descriptions() {
                let Some(rule) = rules
                    .iter_mut()
                    .find(|rule| Some(rule.arn.as_str()) == description.resource_arn())
                else {
                    continue;
                };
                rule.tags = description
                    .tags()
                    .iter()
                    .map(|tag| {
                        (
                            tag.key().unwrap_or_default().to_string(),
                            tag.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
            }
        }
        Ok(rules)
    }

    async fn create_forward_rule(
        &self,
        listener_arn: &str,
        priority: u32,
        conditions: &[Condition],
        target_group: &str,
        tags: &[(String, String)],
    ) -> Result<String, AwsError> {
        let action = format!("add a rule at priority {priority} to listener {listener_arn}");
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(
                ForwardActionConfig::builder()
                    .target_groups(
                        TargetGroupTuple::builder()
                            .target_group_arn(target_group)
                            .weight(1)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let output = self
            .client
            .create_rule()
            .listener_arn(listener_arn)
            .priority(priority as i32)
            .set_conditions(Some(conditions.iter().map(Condition::for_create).collect()))
            .actions(forward)
            .set_tags(Some(
                tags.iter()
                    .map(|(key, value)| {
                        aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                            .key(key)
                            .value(value)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .map_err(|error| classify(&action, error))?;
        Ok(output
            .rules()
            .first()
            .and_then(|rule| rule.rule_arn())
            .unwrap_or_default()
            .to_string())
    }

    async fn delete_rule(&self, rule_arn: &str) -> Result<(), AwsError> {
        match self.client.delete_rule().rule_arn(rule_arn).send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                let error = classify(format!("delete listener rule {rule_arn}"), error);
                if error.is_not_found() {
                    Ok(())
                } else {
                    Err(error)
                }
            }
        }
    }
}

/// The target groups of a rule's forward action (weighted or plain).
fn forward_targets(actions: &[Action]) -> Vec<String> {
    let mut groups = Vec::new();
    for action in actions {
        if let Some(arn) = action.target_group_arn() {
            groups.push(arn.to_string());
        }
        if let Some(config) = action.forward_config() {
            for tuple in config.target_groups() {
                if let Some(arn) = tuple.target_group_arn() {
                    if !groups.iter().any(|known| known == arn) {
                        groups.push(arn.to_string());
                    }
                }
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_arn_names_its_listener() {
        let rule = AlbRoute::Rule {
            rule_arn:
                "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/shared/50dc/f2f7/9683"
                    .into(),
        };
        assert_eq!(
            listener_of(&rule).as_deref(),
            Some("arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shared/50dc/f2f7")
        );
        let listener = AlbRoute::DefaultAction {
            listener_arn: "arn:l".into(),
        };
        assert_eq!(listener_of(&listener).as_deref(), Some("arn:l"));
        assert_eq!(
            listener_of(&AlbRoute::Rule {
                rule_arn: "arn:not-a-rule".into()
            }),
            None
        );
    }

    #[test]
    fn a_header_condition_says_what_it_matches() {
        let condition = Condition::http_header("X-Release", &["r42"]);
        assert_eq!(condition.header(), Some(("X-Release", vec!["r42"])));
        assert_eq!(condition.value_count(), 1);
        assert_eq!(condition.describe(), "http-header X-Release=r42");
        let created = condition.for_create();
        assert_eq!(created.field(), Some("http-header"));
        assert!(created.values().is_empty());
    }
}
