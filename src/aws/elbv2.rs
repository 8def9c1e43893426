//! Elastic Load Balancing v2 behind [`LoadBalancerApi`]: a listener's weighted forward action
//! (the ALB router) and the health of a target group's targets (the target-health gate).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

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

/// The ELBv2 calls the ALB router and the target-health gate make.
pub trait LoadBalancerApi: Sync {
    /// The target groups the listener's default action forwards to, with their weights; empty
    /// when the default action does not forward (a fixed response, a redirect).
    fn listener_forward(
        &self,
        listener_arn: &str,
    ) -> impl Future<Output = Result<Vec<WeightedTargetGroup>, AwsError>> + Send;

    /// Makes the listener's default action forward to exactly `groups`. Authentication actions
    /// before it and the stickiness setting are kept; nothing is written when the listener
    /// already forwards exactly so.
    fn set_listener_forward(
        &self,
        listener_arn: &str,
        groups: &[WeightedTargetGroup],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Every target registered in the group, with its health.
    fn target_health(
        &self,
        target_group_arn: &str,
    ) -> impl Future<Output = Result<Vec<TargetHealthFacts>, AwsError>> + Send;
}

/// [`LoadBalancerApi`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct Elbv2 {
    client: aws_sdk_elasticloadbalancingv2::Client,
    /// Each listener's default actions as last read through this client (and its clones), for
    /// the next write only: the router reads the weights before it changes them, so that write
    /// keeps the authentication actions and stickiness just seen without asking again.
    last_read: Arc<Mutex<HashMap<String, Vec<Action>>>>,
}

impl Elbv2 {
    pub fn new(context: &AwsContext) -> Elbv2 {
        Elbv2 {
            client: context.elbv2(),
            last_read: Arc::default(),
        }
    }

    async fn default_actions(&self, listener_arn: &str) -> Result<Vec<Action>, AwsError> {
        let action = format!("describe listener {listener_arn}");
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
        let actions = listener.default_actions().to_vec();
        self.last_read
            .lock()
            .expect("listener actions lock")
            .insert(listener_arn.to_string(), actions.clone());
        Ok(actions)
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

impl LoadBalancerApi for Elbv2 {
    async fn listener_forward(
        &self,
        listener_arn: &str,
    ) -> Result<Vec<WeightedTargetGroup>, AwsError> {
        Ok(forward_groups(&self.default_actions(listener_arn).await?))
    }

    async fn set_listener_forward(
        &self,
        listener_arn: &str,
        groups: &[WeightedTargetGroup],
    ) -> Result<(), AwsError> {
        let last_read = self
            .last_read
            .lock()
            .expect("listener actions lock")
            .remove(listener_arn);
        let current = match last_read {
            Some(actions) => actions,
            None => {
                let actions = self.default_actions(listener_arn).await?;
                // Read for this write only: the next write must not see the listener as it was
                // before this one.
                self.last_read
                    .lock()
                    .expect("listener actions lock")
                    .remove(listener_arn);
                actions
            }
        };
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
        for group in groups {
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
            .cloned()
            .collect();
        actions.push(forward_action);
        self.client
            .modify_listener()
            .listener_arn(listener_arn)
            .set_default_actions(Some(actions))
            .send()
            .await
            .map_err(|error| classify(format!("modify listener {listener_arn}"), error))?;
        Ok(())
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
