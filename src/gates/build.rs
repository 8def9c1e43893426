//! The app's gates from its spec: [`AppGates`] runs every configured gate against a release,
//! concurrently, and reports in a fixed order: target_health, instance_status, one `alarm NAME`
//! per alarm, http, command.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures_util::future::join_all;
use tokio::sync::OnceCell;

use super::command::{self, CommandContext};
use super::compare::{self, Comparison};
use super::http::{self, HttpProbe};
use super::{
    alarms, instance_status, target_health, GateChecker, GateContext, GateOutcome, GateReport,
    GateResult,
};
use crate::aws::cloudformation::{CloudFormation, StackApi, StackFacts};
use crate::aws::cloudwatch::{CloudWatch, MetricsApi};
use crate::aws::elbv2::{Elbv2, LoadBalancerApi, TargetHealthFacts};
use crate::aws::instances::Ec2Instances;
use crate::aws::{AwsContext, AwsError};
use crate::release::parse_stack_name;
use crate::spec::{AppSpec, CompareGate, GatesSpec, HttpTarget, RouterSpec};

type Outputs = Arc<Vec<(String, String)>>;
type GateFuture<'a> = Pin<Box<dyn Future<Output = Vec<GateResult>> + Send + 'a>>;
type TargetsAnswer = Result<Vec<TargetHealthFacts>, AwsError>;

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
    /// Built only when the spec has an HTTP gate (it loads the system's root certificates).
    http: Option<HttpProbe>,
    /// A finished release stack is never updated, so its outputs are read once.
    outputs: Mutex<HashMap<String, Outputs>>,
    /// While the candidate has a test route: the header (name, value) that reaches it. HTTP
    /// probes send it; commands get it in their environment.
    test_header: Option<(String, String)>,
    /// What the comparison gate compares the candidate with; `None` without a live release.
    comparison: Option<Comparison>,
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
        http: app.gates.http.as_ref().map(|_| HttpProbe::new()),
        outputs: Mutex::new(HashMap::new()),
        test_header: None,
        comparison: None,
    }
}

impl AppGates {
    pub fn spec(&self) -> &GatesSpec {
        &self.gates
    }

    /// Release stacks the caller has just read (a deploy's candidate from its wait, the live
    /// release): the outputs of the finished ones are not read again.
    pub fn knowing<'a>(self, stacks: impl IntoIterator<Item = &'a StackFacts>) -> AppGates {
        {
            let mut cache = self.outputs.lock().expect("outputs cache");
            for stack in stacks {
                if is_finished(&stack.status) {
                    cache.insert(stack.name.clone(), Arc::new(stack.outputs.clone()));
                }
            }
        }
        self
    }

    /// Requests carrying `name: value` reach the candidate (its test route is up).
    pub fn with_test_header(mut self, name: &str, value: &str) -> AppGates {
        self.test_header = Some((name.to_string(), value.to_string()));
        self
    }

    /// The comparison gate compares the candidate with this live release.
    pub fn comparing_with(mut self, comparison: Comparison) -> AppGates {
        self.comparison = Some(comparison);
        self
    }

    /// The comparison gate's result for `release` (its target group `group`).
    async fn compare(
        &self,
        gate: &CompareGate,
        release: &str,
        group: Option<&str>,
        context: GateContext,
    ) -> GateResult {
        let Some(comparison) = &self.comparison else {
            return GateResult::pass(compare::GATE)
                .with_note("nothing to compare with: no release has traffic before this one");
        };
        let Some(group) = group else {
            let key = self
                .target_group_output
                .as_deref()
                .unwrap_or("TargetGroupArn");
            return no_output(compare::GATE, release, key);
        };
        let queries = compare::queries(gate, comparison, group);
        let end = SystemTime::now();
        // On a minute, so that every endpoint stamps the one-minute points on minutes.
        let start = compare::start_of_minute(end - compare::lookback(gate));
        match self
            .alarms
            .series(&queries, start, end, compare::PERIOD)
            .await
        {
            Ok(series) => compare::judge(gate, comparison, &series, end, context),
            Err(error) => GateResult::error(compare::GATE, error.to_string()),
        }
    }

    fn instance_status_needs_outputs(&self) -> bool {
        self.gates.instance_status
            && (self.instance_output.is_some() || self.target_group_output.is_some())
    }

    fn needs_outputs(&self) -> bool {
        let gates = &self.gates;
        gates.target_health.is_some()
            || gates.compare.is_some()
            || !gates.alarm_outputs.is_empty()
            || matches!(&gates.http, Some(http) if matches!(http.url, HttpTarget::Output(_)))
            || gates.command.is_some()
            || self.instance_status_needs_outputs()
    }

    /// The release's outputs, or the outcome every gate that needs them reports.
    async fn release_outputs(&self, stack: &str) -> Result<Outputs, GateOutcome> {
        if let Some(outputs) = self.outputs.lock().expect("outputs cache").get(stack) {
            return Ok(outputs.clone());
        }
        match self.stacks.describe_stack(stack).await {
            Ok(Some(facts)) => {
                let outputs = Arc::new(facts.outputs);
                // A stack still being created has no outputs yet: read it again next time.
                if is_finished(&facts.status) {
                    self.outputs
                        .lock()
                        .expect("outputs cache")
                        .insert(stack.to_string(), outputs.clone());
                }
                Ok(outputs)
            }
            Ok(None) => Err(GateOutcome::Fail(format!("stack {stack} does not exist"))),
            Err(error) => Err(GateOutcome::Error(error.to_string())),
        }
    }

    /// DescribeTargetHealth once per round, shared by the target-health and instance-status
    /// gates.
    async fn targets<'a>(&self, cell: &'a OnceCell<TargetsAnswer>, arn: &str) -> &'a TargetsAnswer {
        cell.get_or_init(|| self.load_balancers.target_health(arn))
            .await
    }
}

fn is_finished(status: &str) -> bool {
    matches!(status, "CREATE_COMPLETE" | "UPDATE_COMPLETE")
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
    /// Checked as if the candidate had all the traffic (a rollback target, a resumed release).
    async fn check(&self, release: &str) -> GateReport {
        self.check_with(
            release,
            GateContext {
                candidate_weight: 100,
                production_for: None,
            },
        )
        .await
    }

    async fn check_with(&self, release: &str, context: GateContext) -> GateReport {
        let outputs = if self.needs_outputs() {
            self.release_outputs(release).await
        } else {
            Ok(Arc::new(Vec::new()))
        };
        // Gates that need the outputs report why they could not get them instead of running.
        if let Err(outcome) = &outputs {
            let mut results = Vec::new();
            let mut skipped = |gate: &str, needs_outputs: bool| {
                if needs_outputs {
                    results.push(GateResult::new(gate, outcome.clone()));
                }
            };
            let gates = &self.gates;
            skipped(target_health::GATE, gates.target_health.is_some());
            skipped(instance_status::GATE, self.instance_status_needs_outputs());
            skipped("alarms", !gates.alarm_outputs.is_empty());
            skipped(
                http::GATE,
                matches!(&gates.http, Some(http) if matches!(http.url, HttpTarget::Output(_))),
            );
            skipped(command::GATE, gates.command.is_some());
            skipped(compare::GATE, gates.compare.is_some());
            return GateReport::new(results);
        }
        let outputs = outputs.unwrap_or_default();
        let gates = &self.gates;
        let group = self
            .target_group_output
            .as_deref()
            .and_then(|key| output(&outputs, key));
        let targets = OnceCell::new();
        let mut checks: Vec<GateFuture<'_>> = Vec::new();

        if let Some(health) = &gates.target_health {
            let (targets, outputs) = (&targets, &outputs);
            checks.push(Box::pin(async move {
                let key = &health.target_group_output;
                match output(outputs, key) {
                    Some(arn) => {
                        let answer = self.targets(targets, arn).await;
                        vec![target_health::result_of(arn, answer, health.min_healthy)]
                    }
                    None => vec![no_output(target_health::GATE, release, key)],
                }
            }));
        }
        if gates.instance_status {
            let (targets, outputs) = (&targets, &outputs);
            checks.push(Box::pin(async move {
                let mut extra = Vec::new();
                let instance = self.instance_output.as_deref();
                if let Some(id) = instance.and_then(|key| output(outputs, key)) {
                    extra.push(id.to_string());
                }
                if let Some(arn) = group {
                    match self.targets(targets, arn).await {
                        // Instance targets only: IP and Lambda targets have no EC2 status.
                        Ok(found) => extra.extend(
                            found
                                .iter()
                                .map(|target| target.id.clone())
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
            let outputs = &outputs;
            checks.push(Box::pin(async move {
                let mut names: Vec<String> = gates.alarms.clone();
                let mut missing = Vec::new();
                for key in &gates.alarm_outputs {
                    match output(outputs, key) {
                        Some(name) => names.push(name.to_string()),
                        None => {
                            missing.push(no_output(&format!("alarm output {key}"), release, key))
                        }
                    }
                }
                let mut seen = HashSet::new();
                names.retain(|name| seen.insert(name.clone()));
                let mut results = alarms::check(&self.alarms, &names).await;
                results.extend(missing);
                results
            }));
        }
        if let (Some(gate), Some(probe)) = (&gates.http, &self.http) {
            let outputs = &outputs;
            checks.push(Box::pin(async move {
                let url = match &gate.url {
                    HttpTarget::Url(url) => url.as_str(),
                    HttpTarget::Output(key) => match output(outputs, key) {
                        Some(url) => url,
                        None => return vec![no_output(http::GATE, release, key)],
                    },
                };
                let headers: Vec<(String, String)> = self.test_header.iter().cloned().collect();
                vec![probe.check(gate, url, &headers).await]
            }));
        }
        if let Some(script) = &gates.command {
            let outputs = &outputs;
            checks.push(Box::pin(async move {
                let release_id = parse_stack_name(&self.app, release);
                let context = CommandContext {
                    app: &self.app,
                    stack_name: release,
                    release: release_id.as_ref().map_or(release, |id| id.as_str()),
                    outputs,
                    dir: self.spec_dir.as_deref(),
                    test_header: self.test_header.as_ref(),
                };
                vec![command::check(script, &context, command::TIMEOUT).await]
            }));
        }
        if let Some(gate) = &gates.compare {
            checks.push(Box::pin(async move {
                vec![self.compare(gate, release, group, context).await]
            }));
        }
        GateReport::new(join_all(checks).await.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::aws::{connect, ConnectOptions};

    fn stack(name: &str, status: &str) -> StackFacts {
        StackFacts {
            name: name.into(),
            id: format!("arn:stack/{name}"),
            status: status.into(),
            status_reason: None,
            created: None,
            tags: Vec::new(),
            parameters: Vec::new(),
            outputs: vec![("TargetGroupArn".into(), format!("arn:tg/{name}"))],
            termination_protection: false,
            exports: Vec::new(),
        }
    }

    #[tokio::test]
    async fn outputs_of_known_finished_stacks_are_not_read_again() {
        // Nothing listens on port 1: a read would fail.
        let options = ConnectOptions {
            region: Some("us-east-1".into()),
            profile: None,
            endpoint_url: Some("http://127.0.0.1:1".into()),
            role: None,
        };
        let ctx = connect(&options).await.expect("a context needs no call");
        let spec = crate::spec::parse(
            "web".into(),
            Path::new("stacks/web.toml"),
            "template = \"../templates/web.yaml\"\n\
             [router]\nkind = \"alb\"\nlistener = \"arn:listener\"\n\
             target_group_output = \"TargetGroupArn\"\n\
             [gates]\ntarget_health = { min_healthy = 1 }\n",
        )
        .expect("a valid spec");
        let gates = build_gates(&ctx, &spec).knowing(&[
            stack("web-r2", "CREATE_COMPLETE"),
            stack("web-r3", "CREATE_IN_PROGRESS"),
        ]);
        let outputs = gates
            .release_outputs("web-r2")
            .await
            .expect("known outputs");
        assert_eq!(output(&outputs, "TargetGroupArn"), Some("arn:tg/web-r2"));
        let cache = gates.outputs.lock().expect("outputs cache");
        assert!(
            !cache.contains_key("web-r3"),
            "an unfinished stack's outputs may still come"
        );
    }
}
