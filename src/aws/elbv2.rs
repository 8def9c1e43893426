//! Elastic Load Balancing v2 behind [`LoadBalancerApi`]: the weighted forward action of a
//! listener's default action or of one listener rule (the ALB router), the rules that still
//! forward to a target group (retirement), and the health of a target group's targets (the
//! target-health gate).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
};

use super::{classify, AwsContext, AwsError, AwsErrorKind};

/// One target group of a weighted forward action. ALB weights are 0–999.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedTargetGroup {
    pub arn: String,
    pub weight: u16,
}

/// One registered target and what the load balancer thinks of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealthFacts {
    /// Instance id, IP address or Lambda ARN.
    pub id: String,
    pub port: Option<i32>,
    /// `healthy`, `unhealthy`, `initial`, `draining`, `unused`, `unavailable`.
    pub state: String,
    /// e.g. `Target.FailedHealthChecks`.
    pub reason: Option<String>,
    pub description: Option<String>,
}

/// Where an ALB router's weights live: a listener's default action, or one listener rule (an
/// app sharing a load balancer with others routes through its own rule, with host or path
/// conditions that cutover never changes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AlbRoute {
    DefaultAction { listener_arn: String },
    Rule { rule_arn: String },
}

impl AlbRoute {
    /// The listener or rule ARN.
    pub fn arn(&self) -> &str {
        match self {
            AlbRoute::DefaultAction { listener_arn } => listener_arn,
            AlbRoute::Rule { rule_arn } => rule_arn,
        }
    }

    /// Whether `rule` (as DescribeRules lists it) is this route.
    pub fn is(&self, rule: &RuleFacts) -> bool {
        match self {
            AlbRoute::DefaultAction { listener_arn } => {
                rule.is_default && rule.listener_arn == *listener_arn
            }
            AlbRoute::Rule { rule_arn } => rule.arn == *rule_arn,
        }
    }
}

/// `listener arn:…` or `listener rule arn:…`.
impl std::fmt::Display for AlbRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AlbRoute::DefaultAction { listener_arn } => write!(f, "listener {listener_arn}"),
            AlbRoute::Rule { rule_arn } => write!(f, "listener rule {rule_arn}"),
        }
    }
}

/// What a route's forward action holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardAction {
    /// Empty when the route does not forward (a fixed response, a redirect).
    pub groups: Vec<WeightedTargetGroup>,
    /// Target group stickiness: how long a client keeps going to the group it was first sent
    /// to, whatever the weights say (1 s to 7 days); `None` when off.
    pub stickiness: Option<Duration>,
    /// A redirect that answers instead of a forward (`redirect to https://#{host}:443/#{path}`):
    /// it is traffic going somewhere, which a forward would replace. A fixed response is not.
    pub redirect: Option<String>,
}

/// One listener rule (the default action counts as a rule, as DescribeRules lists it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFacts {
    pub arn: String,
    pub listener_arn: String,
    /// `default` for the default action, else the rule's priority.
    pub priority: String,
    pub is_default: bool,
    /// The target groups its forward action lists (at any weight).
    pub target_groups: Vec<String>,
}

/// `default action of listener arn:…` or `rule arn:… (priority 10)`.
impl std::fmt::Display for RuleFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_default {
            write!(f, "the default action of listener {}", self.listener_arn)
        } else {
            write!(f, "rule {} (priority {})", self.arn, self.priority)
        }
    }
}

/// The codes of the refusals cutover makes itself on reading a route (not the service's).
pub const OWN_REFUSALS: [&str; 2] = ["DefaultRule", "WrongArnKind"];

/// An ARN of the other kind than the spec key says (ELBv2 ARNs name their kind:
/// `…:listener/…` or `…:listener-rule/…`).
fn wrong_key(action: &str, kind: &str, key: &str) -> AwsError {
    AwsError::new(
        action,
        AwsErrorKind::Rejected {
            code: "WrongArnKind".into(),
            message: format!("that is {kind} ARN: give it as `{key}`"),
        },
    )
}

/// The listener a rule belongs to, from the rule's ARN
/// (`…:listener-rule/app/<lb>/<lb id>/<listener id>/<rule id>` →
/// `…:listener/app/<lb>/<lb id>/<listener id>`, as the ELBv2 API reference gives both).
pub fn listener_of_rule(rule_arn: &str) -> String {
    match rule_arn.rsplit_once('/') {
        Some((listener_part, _rule_id)) if listener_part.contains(":listener-rule/") => {
            listener_part.replacen(":listener-rule/", ":listener/", 1)
        }
        _ => rule_arn.to_string(),
    }
}

/// The ELBv2 calls the ALB router, retirement and the target-health gate make.
pub trait LoadBalancerApi: Sync {
    /// The target groups the route forwards to, with their weights and stickiness.
    fn forward(
        &self,
        route: &AlbRoute,
    ) -> impl Future<Output = Result<ForwardAction, AwsError>> + Send;

    /// Makes the route forward to `groups`. A group the route forwards to now that is neither in
    /// `groups` nor in `known` (the caller's releases and baseline) is kept, at weight 0: what
    /// cutover does not own it never removes. Authentication actions before the forward, the
    /// stickiness setting and (for a rule) its conditions and priority are kept; nothing is
    /// written when the route already forwards exactly so.
    fn set_forward(
        &self,
        route: &AlbRoute,
        groups: &[WeightedTargetGroup],
        known: &[&str],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Every rule (default actions included) of every listener of every load balancer the target
    /// group is attached to, that forwards to it.
    fn rules_forwarding_to(
        &self,
        target_group_arn: &str,
    ) -> impl Future<Output = Result<Vec<RuleFacts>, AwsError>> + Send;

    /// Every target registered in the group, with its health.
    fn target_health(
        &self,
        target_group_arn: &str,
    ) -> impl Future<Output = Result<Vec<TargetHealthFacts>, AwsError>> + Send;
}

/// [`LoadBalancerApi`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct Elbv2 {
    pub(super) client: aws_sdk_elasticloadbalancingv2::Client,
    /// Each route's actions as last read through this client (and its clones), for the next
    /// write only: the router reads the weights before it changes them, so that write keeps the
    /// authentication actions and stickiness just seen without asking again.
    last_read: Arc<Mutex<HashMap<AlbRoute, Vec<Action>>>>,
}

impl Elbv2 {
    pub fn new(context: &AwsContext) -> Elbv2 {
        Elbv2 {
            client: context.elbv2(),
            last_read: Arc::default(),
        }
    }

    async fn actions(&self, route: &AlbRoute) -> Result<Vec<Action>, AwsError> {
        let actions = match route {
            AlbRoute::DefaultAction { listener_arn } => {
                self.listener_default_actions(listener_arn).await?
            }
            AlbRoute::Rule { rule_arn } => self.rule_actions(rule_arn).await?,
        };
        self.last_read
            .lock()
            .expect("route actions lock")
            .insert(route.clone(), actions.clone());
        Ok(actions)
    }

    async fn listener_default_actions(&self, listener_arn: &str) -> Result<Vec<Action>, AwsError> {
        let action = format!("describe listener {listener_arn}");
        if listener_arn.contains(":listener-rule/") {
            return Err(wrong_key(&action, "a listener rule's", "router.rule"));
        }
        let output = self
            .client
            .describe_listeners()
            .listener_arns(listener_arn)
            .send()
            .await
            .map_err(|error| classify(&action, error))?;
        let listener = output.listeners().first().ok_or_else(|| {
            AwsError::new(
                &action,
                AwsErrorKind::NotFound {
                    message: format!("no listener {listener_arn}"),
                },
            )
        })?;
        Ok(listener.default_actions().to_vec())
    }

    async fn rule_actions(&self, rule_arn: &str) -> Result<Vec<Action>, AwsError> {
        let action = format!("describe listener rule {rule_arn}");
        if rule_arn.contains(":listener/") {
            return Err(wrong_key(&action, "a listener's", "router.listener"));
        }
        let output = self
            .client
            .describe_rules()
            .rule_arns(rule_arn)
            .send()
            .await
            .map_err(|error| classify(&action, error))?;
        let rule = output.rules().first().ok_or_else(|| {
            AwsError::new(
                &action,
                AwsErrorKind::NotFound {
                    message: format!("no listener rule {rule_arn}"),
                },
            )
        })?;
        // A listener's default action is listed as its default rule, but ModifyRule refuses it
        // ("OperationNotPermitted"): only ModifyListener changes it. Refused here, on the first
        // read, so a deploy stops before anything is created.
        if rule.is_default().unwrap_or(false) {
            return Err(AwsError::new(
                &action,
                AwsErrorKind::Rejected {
                    code: "DefaultRule".into(),
                    message: format!(
                        "it is the default rule of listener {}, which only the listener's default action changes: give that listener as `router.listener` instead of `router.rule`",
                        listener_of_rule(rule_arn)
                    ),
                },
            ));
        }
        Ok(rule.actions().to_vec())
    }

    /// Every rule of one listener, default action included, following DescribeRules' pages.
    async fn listener_rules(&self, listener_arn: &str) -> Result<Vec<RuleFacts>, AwsError> {
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
                rules.push(RuleFacts {
                    arn: rule.rule_arn().unwrap_or_default().to_string(),
                    listener_arn: listener_arn.to_string(),
                    priority: rule.priority().unwrap_or("default").to_string(),
                    is_default: rule.is_default().unwrap_or(false),
                    target_groups: referenced_groups(rule.actions()),
                });
            }
            match output.next_marker() {
                Some(next) if !next.is_empty() && marker.as_deref() != Some(next) => {
                    marker = Some(next.to_string())
                }
                _ => return Ok(rules),
            }
        }
    }

    async fn load_balancers_of(&self, target_group_arn: &str) -> Result<Vec<String>, AwsError> {
        let action = format!("describe target group {target_group_arn}");
        let output = self
            .client
            .describe_target_groups()
            .target_group_arns(target_group_arn)
            .send()
            .await
            .map_err(|error| classify(&action, error))?;
        let mut arns: Vec<String> = output
            .target_groups()
            .iter()
            .flat_map(|group| group.load_balancer_arns().iter().cloned())
            .collect();
        arns.sort();
        arns.dedup();
        Ok(arns)
    }

    async fn listeners_of(&self, load_balancer_arn: &str) -> Result<Vec<String>, AwsError> {
        let action = format!("describe the listeners of load balancer {load_balancer_arn}");
        let mut pages = self
            .client
            .describe_listeners()
            .load_balancer_arn(load_balancer_arn)
            .into_paginator()
            .send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| classify(&action, error))?;
            arns.extend(
                page.listeners()
                    .iter()
                    .filter_map(|listener| listener.listener_arn().map(str::to_string)),
            );
        }
        Ok(arns)
    }
}

/// The action that decides where a request goes: the last one (authentication comes first).
fn terminal_action(actions: &[Action]) -> Option<&Action> {
    actions
        .iter()
        .filter(|action| !is_authentication(action))
        .max_by_key(|action| action.order().unwrap_or(i32::MAX))
}

fn is_authentication(action: &Action) -> bool {
    matches!(
        action.r#type(),
        Some(ActionTypeEnum::AuthenticateCognito | ActionTypeEnum::AuthenticateOidc)
    )
}

/// An authentication action to write back as it is. DescribeListeners and DescribeRules do not
/// return an OIDC client secret, and a ModifyListener or ModifyRule without one fails unless
/// it asks to keep the existing secret (`UseExistingClientSecret`, Elastic Load Balancing API
/// reference, `AuthenticateOidcActionConfig`).
fn keeping_client_secret(action: &Action) -> Action {
    let Some(config) = action.authenticate_oidc_config() else {
        return action.clone();
    };
    let mut config = config.clone();
    config.client_secret = None;
    config.use_existing_client_secret = Some(true);
    let mut action = action.clone();
    action.authenticate_oidc_config = Some(config);
    action
}

fn forward_groups(actions: &[Action]) -> Vec<WeightedTargetGroup> {
    let Some(action) = terminal_action(actions) else {
        return Vec::new();
    };
    if action.r#type() != Some(&ActionTypeEnum::Forward) {
        return Vec::new();
    }
    let tuples = action
        .forward_config()
        .map(|config| config.target_groups())
        .unwrap_or_default();
    if tuples.is_empty() {
        // A plain forward to one group, without a ForwardConfig.
        return action
            .target_group_arn()
            .map(|arn| WeightedTargetGroup {
                arn: arn.to_string(),
                weight: 1,
            })
            .into_iter()
            .collect();
    }
    tuples
        .iter()
        .filter_map(|tuple| {
            Some(WeightedTargetGroup {
                arn: tuple.target_group_arn()?.to_string(),
                // ALB's documented default for a group listed without a weight.
                weight: tuple.weight().unwrap_or(1).clamp(0, 999) as u16,
            })
        })
        .collect()
}

/// Every target group any forward action of a rule names, at any weight.
fn referenced_groups(actions: &[Action]) -> Vec<String> {
    let mut groups = Vec::new();
    for action in actions {
        if action.r#type() != Some(&ActionTypeEnum::Forward) {
            continue;
        }
        groups.extend(action.target_group_arn().map(str::to_string));
        if let Some(config) = action.forward_config() {
            groups.extend(
                config
                    .target_groups()
                    .iter()
                    .filter_map(|tuple| tuple.target_group_arn().map(str::to_string)),
            );
        }
    }
    groups.sort();
    groups.dedup();
    groups
}

fn redirect_of(actions: &[Action]) -> Option<String> {
    let action = terminal_action(actions)?;
    if action.r#type() != Some(&ActionTypeEnum::Redirect) {
        return None;
    }
    let config = action.redirect_config();
    let part = |value: Option<&str>, default: &str| value.unwrap_or(default).to_string();
    Some(format!(
        "redirect to {}://{}:{}{}",
        part(config.and_then(|c| c.protocol()), "#{protocol}").to_lowercase(),
        part(config.and_then(|c| c.host()), "#{host}"),
        part(config.and_then(|c| c.port()), "#{port}"),
        part(config.and_then(|c| c.path()), "/#{path}"),
    ))
}

fn stickiness(actions: &[Action]) -> Option<Duration> {
    let config = terminal_action(actions)?
        .forward_config()?
        .target_group_stickiness_config()?;
    match (config.enabled(), config.duration_seconds()) {
        (Some(true), Some(seconds)) if seconds > 0 => Some(Duration::from_secs(seconds as u64)),
        _ => None,
    }
}

impl LoadBalancerApi for Elbv2 {
    async fn forward(&self, route: &AlbRoute) -> Result<ForwardAction, AwsError> {
        let actions = self.actions(route).await?;
        Ok(ForwardAction {
            groups: forward_groups(&actions),
            stickiness: stickiness(&actions),
            redirect: redirect_of(&actions),
        })
    }

    async fn set_forward(
        &self,
        route: &AlbRoute,
        groups: &[WeightedTargetGroup],
        known: &[&str],
    ) -> Result<(), AwsError> {
        let last_read = self
            .last_read
            .lock()
            .expect("route actions lock")
            .remove(route);
        let current = match last_read {
            Some(actions) => actions,
            None => {
                let actions = self.actions(route).await?;
                // Read for this write only: the next write must not see the route as it was
                // before this one.
                self.last_read
                    .lock()
                    .expect("route actions lock")
                    .remove(route);
                actions
            }
        };
        let mut groups = groups.to_vec();
        for kept in forward_groups(&current) {
            let listed = groups.iter().any(|group| group.arn == kept.arn);
            if !listed && !known.contains(&kept.arn.as_str()) {
                groups.push(WeightedTargetGroup {
                    arn: kept.arn,
                    weight: 0,
                });
            }
        }
        if forward_groups(&current) == groups {
            return Ok(());
        }
        let terminal = terminal_action(&current);
        let mut forward = ForwardActionConfig::builder().set_target_group_stickiness_config(
            terminal
                .and_then(|action| action.forward_config())
                .and_then(|config| config.target_group_stickiness_config())
                .cloned(),
        );
        for group in &groups {
            forward = forward.target_groups(
                TargetGroupTuple::builder()
                    .target_group_arn(&group.arn)
                    .weight(i32::from(group.weight))
                    .build(),
            );
        }
        let forward_action = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .set_order(terminal.and_then(|action| action.order()))
            .forward_config(forward.build())
            .build();
        let mut actions: Vec<Action> = current
            .iter()
            .filter(|action| is_authentication(action))
            .map(keeping_client_secret)
            .collect();
        actions.push(forward_action);
        match route {
            AlbRoute::DefaultAction { listener_arn } => {
                self.client
                    .modify_listener()
                    .listener_arn(listener_arn)
                    .set_default_actions(Some(actions))
                    .send()
                    .await
                    .map_err(|error| classify(format!("modify listener {listener_arn}"), error))?;
            }
            AlbRoute::Rule { rule_arn } => {
                // Without Conditions, ModifyRule keeps the rule's conditions as they are.
                self.client
                    .modify_rule()
                    .rule_arn(rule_arn)
                    .set_actions(Some(actions))
                    .send()
                    .await
                    .map_err(|error| classify(format!("modify listener rule {rule_arn}"), error))?;
            }
        }
        Ok(())
    }

    async fn rules_forwarding_to(
        &self,
        target_group_arn: &str,
    ) -> Result<Vec<RuleFacts>, AwsError> {
        let mut found = Vec::new();
        for load_balancer in self.load_balancers_of(target_group_arn).await? {
            for listener in self.listeners_of(&load_balancer).await? {
                found.extend(
                    self.listener_rules(&listener)
                        .await?
                        .into_iter()
                        .filter(|rule| {
                            rule.target_groups.iter().any(|arn| arn == target_group_arn)
                        }),
                );
            }
        }
        Ok(found)
    }

    async fn target_health(
        &self,
        target_group_arn: &str,
    ) -> Result<Vec<TargetHealthFacts>, AwsError> {
        let output = self
            .client
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(|error| {
                classify(
                    format!("describe target health of {target_group_arn}"),
                    error,
                )
            })?;
        Ok(output
            .target_health_descriptions()
            .iter()
            .map(|description| {
                let target = description.target();
                let health = description.target_health();
                TargetHealthFacts {
                    id: target
                        .and_then(|target| target.id())
                        .unwrap_or_default()
                        .to_string(),
                    port: target.and_then(|target| target.port()),
                    state: health
                        .and_then(|health| health.state())
                        .map(|state| state.as_str().to_string())
                        .unwrap_or_else(|| "unknown".to_string()),
                    reason: health
                        .and_then(|health| health.reason())
                        .map(|reason| reason.as_str().to_string()),
                    description: health
                        .and_then(|health| health.description())
                        .map(str::to_string),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticloadbalancingv2::types::{
        AuthenticateOidcActionConfig, RedirectActionConfig, RedirectActionStatusCodeEnum,
    };

    use super::*;

    #[test]
    fn a_rules_listener_comes_from_its_arn() {
        assert_eq!(
            listener_of_rule("arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"),
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2"
        );
        assert_eq!(listener_of_rule("not-an-arn"), "not-an-arn");
    }

    #[test]
    fn an_oidc_action_is_written_back_keeping_its_secret_without_sending_it() {
        let config = AuthenticateOidcActionConfig::builder()
            .issuer("https://idp.example.com")
            .authorization_endpoint("https://idp.example.com/auth")
            .token_endpoint("https://idp.example.com/token")
            .user_info_endpoint("https://idp.example.com/user")
            .client_id("app")
            .client_secret("s3cr3t")
            .build();
        let action = Action::builder()
            .r#type(ActionTypeEnum::AuthenticateOidc)
            .order(1)
            .authenticate_oidc_config(config)
            .build();
        let kept = keeping_client_secret(&action);
        let config = kept.authenticate_oidc_config().unwrap();
        assert_eq!(config.client_secret(), None);
        assert_eq!(config.use_existing_client_secret(), Some(true));
        assert_eq!(config.client_id(), Some("app"));
        assert_eq!(kept.order(), Some(1));
    }

    #[test]
    fn a_redirect_is_named_and_a_fixed_response_is_no_traffic() {
        let redirect = Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build();
        assert_eq!(
            redirect_of(&[redirect]).as_deref(),
            Some("redirect to https://#{host}:443/#{path}")
        );
        let fixed = Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .build();
        assert_eq!(redirect_of(&[fixed]), None);
    }
}
