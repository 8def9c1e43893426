//! The app's gates from its spec: [`AppGates`] runs every configured gate against a release,
//! concurrently, and reports in a fixed order.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures_util::future::join_all;

use super::command::{self, CommandContext};
use super::http::HttpProbe;
use super::{
    alarms, instance_status, target_health, GateChecker, GateOutcome, GateReport, GateResult,
};
use crate::aws::cloudformation::{CloudFormation, StackApi};
use crate::aws::cloudwatch::CloudWatch;
use crate::aws::elbv2::{Elbv2, LoadBalancerApi};
use crate::aws::instances::Ec2Instances;
use crate::aws::AwsContext;
use crate::release::parse_stack_name;
use crate::spec::{AppSpec, GatesSpec, HttpTarget, RouterSpec};

type Outputs = Arc<Vec<(String, String)>>;
type GateFuture<'a> = Pin<Box<dyn Future<Output = Vec<GateResult>> + Send + 'a>>;

/// Every gate of one app, against AWS.
#[derive(Debug)]
pub struct AppGates {
    app: String,
    spec_dir: Option<PathBuf>,
    gates: GatesSpec,
    /// The EIP router's instance output: that instance is checked by the instance-status gate
    /// even without the CloudFormation tag.
    instance_output: Option<String>,
    /// The release output holding its target group (target-health gate or ALB router): its
    /// instance targets are checked by the instance-status gate too.
    target_group_output: Option<String>,
    stacks: CloudFormation,
    load_balancers: Elbv2,
    instances: Ec2Instances,
    alarms: CloudWatch,
    http: HttpProbe,
    /// Release stacks are never updated, so their outputs are read once per stack.
    outputs: Mutex<HashMap<String, Outputs>>,
}

pub fn build_gates(ctx: &AwsContext, app: &AppSpec) -> AppGates {
    AppGates {
        app: app.name.clone(),
        spec_dir: app.path.parent().map(PathBuf::from),
        gates: app.gates.clone(),
        instance_output: match &app.router {
            RouterSpec::Eip {
                instance_output, ..
            } => Some(instance_output.clone()),
            _ => None,
        },
        target_group_output: match (&app.gates.target_health, &app.router) {
            (Some(health), _) => Some(health.target_group_output.clone()),
            (
                None,
                RouterSpec::Alb {
                    target_group_output,
                    ..
                },
            ) => Some(target_group_output.clone()),
            _ => None,
        },
        stacks: CloudFormation::new(ctx),
        load_balancers: Elbv2::new(ctx),
        instances: Ec2Instances::new(ctx),
        alarms: CloudWatch::new(ctx),
        http: HttpProbe::new(),
        outputs: Mutex::new(HashMap::new()),
    }
}

impl AppGates {
    pub fn spec(&self) -> &GatesSpec {
        &self.gates
    }

    fn needs_outputs(&self) -> bool {
        let gates = &self.gates;
        gates.target_health.is_some()
            || !gates.alarm_outputs.is_empty()
            || matches!(&gates.http, Some(http) if matches!(http.url, HttpTarget::Output(_)))
            || gates.command.is_some()
            || (gates.instance_status
                && (self.instance_output.is_some() || self.target_group_output.is_some()))
    }

    /// The release's outputs, or the outcome every gate that needs them reports.
    async fn release_outputs(&self, stack: &str) -> Result<Outputs, GateOutcome> {
        if let Some(outputs) = self.outputs.lock().expect("outputs cache").get(stack) {
            return Ok(outputs.clone());
        }
        match self.stacks.describe_stack(stack).await {
            Ok(Some(facts)) => {
                let outputs = Arc::new(facts.outputs);
                self.outputs
                    .lock()
                    .expect("outputs cache")
                    .insert(stack.to_string(), outputs.clone());
                Ok(outputs)
            }
            Ok(None) => Err(GateOutcome::Fail(format!("stack {stack} does not exist"))),
            Err(error) => Err(GateOutcome::Error(error.to_string())),
        }
    }
}

fn output<'a>(outputs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    outputs
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

fn no_output(gate: &str, stack: &str, key: &str) -> GateResult {
    GateResult::fail(gate, format!("stack {stack} has no output {key}"))
}

impl GateChecker for AppGates {
    async fn check(&self, release: &str) -> GateReport {
        let outputs = if self.needs_outputs() {
            self.release_outputs(release).await
        } else {
            Ok(Arc::new(Vec::new()))
        };
        let gates = &self.gates;
        let mut checks: Vec<GateFuture<'_>> = Vec::new();
        // Gates that need the outputs report why they could not get them instead of running.
        let unavailable = |gate: &str| match &outputs {
            Ok(_) => None,
            Err(outcome) => Some(vec![GateResult {
                gate: gate.to_string(),
                outcome: outcome.clone(),
            }]),
        };
        let outputs = outputs.clone().unwrap_or_default();

        if let Some(health) = &gates.target_health {
            let outputs = outputs.clone();
            let failed = unavailable(target_health::GATE);
            checks.push(Box::pin(async move {
                if let Some(failed) = failed {
                    return failed;
                }
                let key = &health.target_group_output;
                match output(&outputs, key) {
                    Some(arn) => {
                        vec![
                            target_health::check(&self.load_balancers, arn, health.min_healthy)
                                .await,
                        ]
                    }
                    None => vec![no_output(target_health::GATE, release, key)],
                }
            }));
        }
        if gates.instance_status {
            let outputs = outputs.clone();
            let failed = (self.instance_output.is_some() || self.target_group_output.is_some())
                .then(|| unavailable(instance_status::GATE))
                .flatten();
            checks.push(Box::pin(async move {
                if let Some(failed) = failed {
                    return failed;
                }
                let mut extra = Vec::new();
                if let Some(id) = self
                    .instance_output
                    .as_deref()
                    .and_then(|key| output(&outputs, key))
                {
                    extra.push(id.to_string());
                }
                let group = self
                    .target_group_output
                    .as_deref()
                    .and_then(|key| output(&outputs, key));
                if let Some(arn) = group {
                    match self.load_balancers.target_health(arn).await {
                        // Instance targets only: IP and Lambda targets have no EC2 status.
                        Ok(targets) => extra.extend(
                            targets
                                .into_iter()
                                .map(|target| target.id)
                                .filter(|id| id.starts_with("i-")),
                        ),
                        Err(error) if error.is_not_found() => {}
                        Err(error) => {
                            return vec![GateResult::error(
                                instance_status::GATE,
                                error.to_string(),
                            )]
                        }
                    }
                }
                vec![instance_status::check(&self.instances, release, &extra).await]
            }));
        }
        if !gates.alarms.is_empty() || !gates.alarm_outputs.is_empty() {
            let outputs = outputs.clone();
            let failed = (!gates.alarm_outputs.is_empty())
                .then(|| unavailable("alarms"))
                .flatten();
            checks.push(Box::pin(async move {
                if let Some(failed) = failed {
                    return failed;
                }
                let mut names: Vec<String> = gates.alarms.clone();
                let mut missing = Vec::new();
                for key in &gates.alarm_outputs {
                    match output(&outputs, key) {
                        Some(name) => names.push(name.to_string()),
                        None => {
                            missing.push(no_output(&format!("alarm output {key}"), release, key))
                        }
                    }
                }
                let mut seen = std::collections::HashSet::new();
                names.retain(|name| seen.insert(name.clone()));
                let mut results = alarms::check(&self.alarms, &names).await;
                results.extend(missing);
                results
            }));
        }
        if let Some(http) = &gates.http {
            let outputs = outputs.clone();
            let failed = matches!(http.url, HttpTarget::Output(_))
                .then(|| unavailable(super::http::GATE))
                .flatten();
            checks.push(Box::pin(async move {
                if let Some(failed) = failed {
                    return failed;
                }
                let url = match &http.url {
                    HttpTarget::Url(url) => url.as_str(),
                    HttpTarget::Output(key) => match output(&outputs, key) {
                        Some(url) => url,
                        None => return vec![no_output(super::http::GATE, release, key)],
                    },
                };
                vec![self.http.check(http, url).await]
            }));
        }
        if let Some(script) = &gates.command {
            let failed = unavailable(command::GATE);
            checks.push(Box::pin(async move {
                if let Some(failed) = failed {
                    return failed;
                }
                let release_id = parse_stack_name(&self.app, release);
                let context = CommandContext {
                    app: &self.app,
                    stack_name: release,
                    release: release_id.as_ref().map_or(release, |id| id.as_str()),
                    outputs: &outputs,
                    dir: self.spec_dir.as_deref(),
                };
                vec![command::check(script, &context, command::TIMEOUT).await]
            }));
        }
        GateReport::new(join_all(checks).await.into_iter().flatten().collect())
    }
}
