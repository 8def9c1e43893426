//! Helpers of the router tests: an isolated moto account with the fixture stacks, the
//! controller's stack watch over DescribeStacks, a router wrapper that reads every write back
//! through the router and with a direct SDK call, and a tiny HTTP server for the probe.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use cutover::aws::cloudformation::{CloudFormation, StackApi, StackFacts};
use cutover::aws::AwsContext;
use cutover::cutover::{
    AbortSignal, Controller, CutoverEvent, CutoverOutcome, Plan, Releases, RetryPolicy, StackState,
    StackWatch, Strategy, WatchError,
};
use cutover::gates::GateChecker;
use cutover::router::{build_router, AnyRouter, RouterError, TrafficRouter, Weights};
use cutover::spec::{
    AppSpec, GatesSpec, RetentionSpec, RotationSpec, RouterSpec, StackSettings, StrategyKind,
    StrategySpec,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{fresh_account, moto_endpoint, sdk_config, FaultProxy};

pub(super) const APP: &str = "web";
pub(super) const R1: &str = "web-r1";
pub(super) const R2: &str = "web-r2";
pub(super) const BAKE: Duration = Duration::from_millis(300);
pub(super) const GATE_INTERVAL: Duration = Duration::from_millis(100);

pub(super) fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/routers")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// One isolated moto account behind a fault proxy, with SDK clients for the direct checks.
pub(super) struct World {
    pub(super) proxy: FaultProxy,
    pub(super) ctx: AwsContext,
    pub(super) sdk: aws_config::SdkConfig,
}

impl World {
    pub(super) async fn new() -> World {
        let proxy = FaultProxy::start(moto_endpoint(), &fresh_account());
        let sdk = sdk_config(proxy.url()).await;
        World {
            ctx: AwsContext::from_sdk_config(sdk.clone()),
            proxy,
            sdk,
        }
    }

    pub(super) fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    pub(super) async fn create_stack(
        &self,
        name: &str,
        template: &str,
        parameters: &[(&str, &str)],
    ) {
        let mut call = self
            .cloudformation()
            .create_stack()
            .stack_name(name)
            .template_body(fixture(template));
        for (key, value) in parameters {
            call = call.parameters(
                aws_sdk_cloudformation::types::Parameter::builder()
                    .parameter_key(*key)
                    .parameter_value(*value)
                    .build(),
            );
        }
        call.send()
            .await
            .unwrap_or_else(|error| panic!("create {name}: {:?}", error.into_service_error()));
    }

    pub(super) async fn stack(&self, name: &str) -> StackFacts {
        CloudFormation::new(&self.ctx)
            .describe_stack(name)
            .await
            .expect("describe_stack")
            .unwrap_or_else(|| panic!("stack {name} exists"))
    }

    pub(super) async fn output(&self, stack: &str, key: &str) -> String {
        let facts = self.stack(stack).await;
        facts
            .output(key)
            .unwrap_or_else(|| panic!("{stack} has output {key}: {:?}", facts.outputs))
            .to_string()
    }

    pub(super) async fn put_alarm(&self, name: &str) {
        aws_sdk_cloudwatch::Client::new(&self.sdk)
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("AWS/ApplicationELB")
            .metric_name("HTTPCode_Target_5XX_Count")
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(10.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .expect("put_metric_alarm");
    }

    pub(super) async fn router(&self, app: &AppSpec) -> AnyRouter {
        let releases = [self.stack(R1).await, self.stack(R2).await];
        build_router(&self.ctx, app, releases.iter(), None)
            .await
            .expect("build_router")
    }
}

pub(super) fn app(router: RouterSpec, gates: GatesSpec) -> AppSpec {
    AppSpec {
        name: APP.into(),
        path: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/routers/web.toml"),
        template: PathBuf::from("unused.yaml"),
        description: None,
        parameters: Default::default(),
        tags: Default::default(),
        stack: StackSettings::default(),
        router,
        strategy: StrategySpec {
            kind: StrategyKind::Canary {
                percent: 10,
                bake: BAKE,
            },
            final_bake: BAKE,
            hold_for_stickiness: true,
        },
        gates,
        retention: RetentionSpec::default(),
        rotation: RotationSpec::default(),
        check: Default::default(),
        aws: Default::default(),
        notify: Default::default(),
    }
}

pub(super) fn canary() -> Plan {
    Plan::from_strategy(
        &Strategy::Canary {
            percent: 10,
            bake: BAKE,
        },
        BAKE,
        GATE_INTERVAL,
    )
    .expect("plan")
}

pub(super) fn all_at_once() -> Plan {
    Plan::from_strategy(&Strategy::AllAtOnce, BAKE, GATE_INTERVAL).expect("plan")
}

/// Release stack states from DescribeStacks, as the controller needs them.
pub(super) struct Stacks(CloudFormation);

impl StackWatch for Stacks {
    async fn stack_state(&self, stack_name: &str) -> Result<StackState, WatchError> {
        let facts = self
            .0
            .describe_stack(stack_name)
            .await
            .map_err(|error| WatchError {
                stack: stack_name.into(),
                transient: error.is_transient(),
                source: Some(Box::new(error)),
            })?;
        Ok(match facts.as_ref().map(|facts| facts.status.as_str()) {
            None | Some("DELETE_COMPLETE" | "DELETE_IN_PROGRESS") => StackState::Gone,
            Some("CREATE_COMPLETE" | "UPDATE_COMPLETE") => StackState::Healthy,
            Some(status) if status.ends_with("_IN_PROGRESS") => StackState::InProgress,
            Some(status) => StackState::Failed(status.into()),
        })
    }
}

/// Where the service says traffic goes, read with the SDK and not through the router.
pub(super) enum DirectRead {
    Alb {
        client: aws_sdk_elasticloadbalancingv2::Client,
        listener: String,
        /// Target group ARN → release stack.
        stacks: BTreeMap<String, String>,
    },
    Route53 {
        client: aws_sdk_route53::Client,
        zone: String,
        name: String,
    },
    Eip {
        client: aws_sdk_ec2::Client,
        allocation: String,
        /// Instance id → release stack.
        stacks: BTreeMap<String, String>,
    },
}

impl DirectRead {
    pub(super) async fn weights(&self) -> Weights {
        match self {
            DirectRead::Alb {
                client,
                listener,
                stacks,
            } => {
                let answer = client
                    .describe_listeners()
                    .listener_arns(listener)
                    .send()
                    .await
                    .expect("describe_listeners");
                let action = &answer.listeners()[0].default_actions()[0];
                let groups = action
                    .forward_config()
                    .map(|c| c.target_groups())
                    .unwrap_or_default();
                groups
                    .iter()
                    .map(|group| {
                        let arn = group.target_group_arn().unwrap();
                        let weight = group.weight().expect("a weight") as u8;
                        (
                            stacks.get(arn).cloned().unwrap_or_else(|| arn.to_string()),
                            weight,
                        )
                    })
                    .collect()
            }
            DirectRead::Route53 { client, zone, name } => {
                let answer = client
                    .list_resource_record_sets()
                    .hosted_zone_id(zone)
                    .send()
                    .await
                    .expect("list_resource_record_sets");
                answer
                    .resource_record_sets()
                    .iter()
                    .filter(|set| set.name().trim_end_matches('.') == name)
                    .filter_map(|set| {
                        assert_eq!(set.r#type().as_str(), "CNAME");
                        let stack = set.set_identifier()?.to_string();
                        let value = set.resource_records()[0].value();
                        assert_eq!(value, format!("{stack}.origin.example.com"), "{set:?}");
                        Some((stack, set.weight().expect("a weight") as u8))
                    })
                    .collect()
            }
            DirectRead::Eip {
                client,
                allocation,
                stacks,
            } => {
                let answer = client
                    .describe_addresses()
                    .allocation_ids(allocation)
                    .send()
                    .await
                    .expect("describe_addresses");
                match answer.addresses()[0].instance_id() {
                    Some(instance) => Weights::all_on(&stacks[instance]),
                    None => Weights::new(),
                }
            }
        }
    }
}

/// What to break once the canary carries traffic.
pub(super) enum BreakAtCanary {
    Nothing,
    Alarm(aws_sdk_cloudwatch::Client, String),
    Http(Arc<AtomicBool>),
}

/// The app's router, observed: every write is read back through the router and directly.
pub(super) struct Observed {
    pub(super) inner: AnyRouter,
    pub(super) direct: DirectRead,
    candidate: Mutex<String>,
    on_canary: BreakAtCanary,
    /// (written, read through the router, read directly) per write.
    writes: Mutex<Vec<(Weights, Weights, Weights)>>,
}

impl Observed {
    pub(super) fn new(inner: AnyRouter, direct: DirectRead, on_canary: BreakAtCanary) -> Observed {
        Observed {
            inner,
            direct,
            candidate: Mutex::new(String::new()),
            on_canary,
            writes: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn writes(&self) -> Vec<(Weights, Weights, Weights)> {
        self.writes.lock().unwrap().clone()
    }
}

impl TrafficRouter for Observed {
    async fn read_weights(&self) -> Result<Weights, RouterError> {
        self.inner.read_weights().await
    }

    async fn set_weights(&self, weights: &Weights) -> Result<(), RouterError> {
        self.inner.set_weights(weights).await?;
        let through_router = self.inner.read_weights().await?;
        let direct = self.direct.weights().await;
        self.writes
            .lock()
            .unwrap()
            .push((weights.clone(), through_router, direct));
        let candidate = self.candidate.lock().unwrap().clone();
        if (1..100).contains(&weights.get(&candidate)) {
            match &self.on_canary {
                BreakAtCanary::Nothing => {}
                BreakAtCanary::Alarm(client, name) => {
                    client
                        .set_alarm_state()
                        .alarm_name(name)
                        .state_value(StateValue::Alarm)
                        .state_reason("5xx above 10 (set by the test)")
                        .send()
                        .await
                        .expect("set_alarm_state");
                }
                BreakAtCanary::Http(failing) => failing.store(true, Ordering::SeqCst),
            }
        }
        Ok(())
    }

    fn supports_gradual(&self) -> bool {
        self.inner.supports_gradual()
    }
}

/// Runs one cutover through the controller; returns the outcome and the events.
pub(super) async fn drive(
    world: &World,
    router: &Observed,
    gates: &impl GateChecker,
    plan: &Plan,
    candidate: &str,
    previous: Option<&str>,
) -> (CutoverOutcome, Vec<CutoverEvent>) {
    *router.candidate.lock().unwrap() = candidate.to_string();
    let stacks = Stacks(CloudFormation::new(&world.ctx));
    let controller = Controller {
        router,
        gates,
        stacks: &stacks,
        retry: RetryPolicy {
            attempts: 2,
            first_delay: Duration::from_millis(20),
        },
        abort: AbortSignal::new(),
        before_turning_back: None,
        lock_lost_to: None,
    };
    let releases = Releases {
        candidate: candidate.to_string(),
        previous: previous.map(str::to_string),
    };
    let mut events = Vec::new();
    let outcome = controller
        .drive(plan, &releases, |event| events.push(event))
        .await
        .unwrap_or_else(|error| panic!("drive to {candidate}: {error:?}\nevents: {events:#?}"));
    (outcome, events)
}

/// Every write read back equal through the router and directly. `zeros_dropped` for the Elastic
/// IP, which has no "registered at 0": the stack at 0 simply does not hold the address.
pub(super) fn assert_read_back(writes: &[(Weights, Weights, Weights)], zeros_dropped: bool) {
    for (written, through_router, direct) in writes {
        let expected: Weights = if zeros_dropped {
            written
                .with_traffic()
                .map(|(stack, weight)| (stack.to_string(), weight))
                .collect()
        } else {
            written.clone()
        };
        assert_eq!(
            through_router, &expected,
            "read through the router after writing {written}"
        );
        assert_eq!(
            direct, &expected,
            "read from the service after writing {written}"
        );
    }
}

pub(super) fn candidate_shares(writes: &[(Weights, Weights, Weights)], candidate: &str) -> Vec<u8> {
    writes
        .iter()
        .map(|(written, _, _)| written.get(candidate))
        .collect()
}

/// Answers `200 ok` until `failing` is set, then `500`.
pub(super) async fn test_server(failing: Arc<AtomicBool>, served: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let failing = failing.clone();
            let served = served.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                served.fetch_add(1, Ordering::SeqCst);
                let (status, body) = if failing.load(Ordering::SeqCst) {
                    ("500 Internal Server Error", "broken")
                } else {
                    ("200 OK", "ok")
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/health")
}
