//! The three routers and the gates against moto, driven by the cutover controller: release 1 takes
//! all traffic (first deploy), then release 2 by canary. After every write the weights are read
//! back twice: through the router and with a direct SDK call, and both must equal what was
//! written. Gate failures mid-canary (an alarm set to ALARM, an HTTP probe answering 500) must
//! shift all traffic back to release 1; unhealthy targets (moto calls every target healthy, so
//! the fault proxy rewrites DescribeTargetHealth) fail the target-health gate.
//!
//! Bakes are a few hundred milliseconds of real time: the SDK's own timeouts run on tokio time,
//! so these tests cannot pause the clock. Nothing here measures time.

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
use cutover::gates::{build_gates, AppGates, GateChecker, GateOutcome};
use cutover::router::{build_router, AnyRouter, RouterError, TrafficRouter, Weights};
use cutover::spec::{
    AppSpec, GatesSpec, HttpGate, HttpTarget, RecordType, RetentionSpec, RotationSpec, RouterSpec,
    StackSettings, StrategyKind, StrategySpec, TargetHealthGate, ValueSource,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{fresh_account, moto_endpoint, sdk_config, FaultProxy};

const APP: &str = "web";
const R1: &str = "web-r1";
const R2: &str = "web-r2";
const BAKE: Duration = Duration::from_millis(300);
const GATE_INTERVAL: Duration = Duration::from_millis(100);

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/routers")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// One isolated moto account behind a fault proxy, with SDK clients for the direct checks.
struct World {
    proxy: FaultProxy,
    ctx: AwsContext,
    sdk: aws_config::SdkConfig,
}

impl World {
    async fn new() -> World {
        let proxy = FaultProxy::start(moto_endpoint(), &fresh_account());
        let sdk = sdk_config(proxy.url()).await;
        World {
            ctx: AwsContext::from_sdk_config(sdk.clone()),
            proxy,
            sdk,
        }
    }

    fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    async fn create_stack(&self, name: &str, template: &str, parameters: &[(&str, &str)]) {
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

    async fn stack(&self, name: &str) -> StackFacts {
        CloudFormation::new(&self.ctx)
            .describe_stack(name)
            .await
            .expect("describe_stack")
            .unwrap_or_else(|| panic!("stack {name} exists"))
    }

    async fn output(&self, stack: &str, key: &str) -> String {
        let facts = self.stack(stack).await;
        facts
            .output(key)
            .unwrap_or_else(|| panic!("{stack} has output {key}: {:?}", facts.outputs))
            .to_string()
    }

    async fn put_alarm(&self, name: &str) {
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

    async fn router(&self, app: &AppSpec) -> AnyRouter {
        let releases = [self.stack(R1).await, self.stack(R2).await];
        build_router(&self.ctx, app, releases.iter())
            .await
            .expect("build_router")
    }
}

fn app(router: RouterSpec, gates: GatesSpec) -> AppSpec {
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
        },
        gates,
        retention: RetentionSpec::default(),
        rotation: RotationSpec::default(),
    }
}

fn canary() -> Plan {
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

fn all_at_once() -> Plan {
    Plan::from_strategy(&Strategy::AllAtOnce, BAKE, GATE_INTERVAL).expect("plan")
}

/// Release stack states from DescribeStacks, as the controller needs them.
struct Stacks(CloudFormation);

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
enum DirectRead {
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
    async fn weights(&self) -> Weights {
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
enum BreakAtCanary {
    Nothing,
    Alarm(aws_sdk_cloudwatch::Client, String),
    Http(Arc<AtomicBool>),
}

/// The app's router, observed: every write is read back through the router and directly.
struct Observed {
    inner: AnyRouter,
    direct: DirectRead,
    candidate: Mutex<String>,
    on_canary: BreakAtCanary,
    /// (written, read through the router, read directly) per write.
    writes: Mutex<Vec<(Weights, Weights, Weights)>>,
}

impl Observed {
    fn new(inner: AnyRouter, direct: DirectRead, on_canary: BreakAtCanary) -> Observed {
        Observed {
            inner,
            direct,
            candidate: Mutex::new(String::new()),
            on_canary,
            writes: Mutex::new(Vec::new()),
        }
    }

    fn writes(&self) -> Vec<(Weights, Weights, Weights)> {
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
async fn drive(
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
fn assert_read_back(writes: &[(Weights, Weights, Weights)], zeros_dropped: bool) {
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

fn candidate_shares(writes: &[(Weights, Weights, Weights)], candidate: &str) -> Vec<u8> {
    writes
        .iter()
        .map(|(written, _, _)| written.get(candidate))
        .collect()
}

/// A base stack with the ALB and two releases; alarm `web-5xx` exists and is OK.
async fn alb_world() -> (World, String) {
    let world = World::new().await;
    world
        .create_stack("routers-base", "alb-base.yaml", &[])
        .await;
    let vpc = world.output("routers-base", "VpcId").await;
    let subnet = world.output("routers-base", "SubnetId").await;
    for stack in [R1, R2] {
        let alarm = format!("{stack}-latency");
        let parameters = [
            ("VpcId", vpc.as_str()),
            ("SubnetId", subnet.as_str()),
            ("AlarmName", &alarm),
        ];
        world
            .create_stack(stack, "alb-release.yaml", &parameters)
            .await;
        world.put_alarm(&alarm).await;
    }
    world.put_alarm("web-5xx").await;
    let listener = world.output("routers-base", "ListenerArn").await;
    (world, listener)
}

fn alb_spec(gates: GatesSpec) -> AppSpec {
    app(
        RouterSpec::Alb {
            listener: ValueSource::StackOutput {
                stack: "routers-base".into(),
                output: "ListenerArn".into(),
            },
            target_group_output: "TargetGroupArn".into(),
        },
        gates,
    )
}

fn alb_gates(http_url: Option<String>) -> GatesSpec {
    GatesSpec {
        target_health: Some(TargetHealthGate {
            min_healthy: 1,
            target_group_output: "TargetGroupArn".into(),
        }),
        instance_status: true,
        alarms: vec!["web-5xx".into()],
        alarm_outputs: vec!["AlarmName".into()],
        http: http_url.map(|url| HttpGate {
            url: HttpTarget::Url(url),
            expect_status: 200,
            body_contains: Some("ok".into()),
            timeout: Duration::from_secs(2),
            retries: 1,
        }),
        command: Some(
            r#"test -n "$CUTOVER_OUTPUT_TargetGroupArn" && test "$CUTOVER_APP" = web"#.into(),
        ),
        interval: GATE_INTERVAL,
    }
}

async fn alb_direct(world: &World, listener: &str) -> DirectRead {
    let mut stacks = BTreeMap::new();
    for stack in [R1, R2] {
        stacks.insert(
            world.output(stack, "TargetGroupArn").await,
            stack.to_string(),
        );
    }
    DirectRead::Alb {
        client: aws_sdk_elasticloadbalancingv2::Client::new(&world.sdk),
        listener: listener.to_string(),
        stacks,
    }
}

fn gates_reason(outcome: &CutoverOutcome) -> String {
    match outcome {
        CutoverOutcome::ShiftedBack { reason, .. } | CutoverOutcome::Abandoned { reason } => {
            reason.to_string()
        }
        CutoverOutcome::Completed { .. } => panic!("expected a shift back, got {outcome}"),
    }
}

#[tokio::test]
async fn alb_full_cycle_r1_then_r2_by_canary_with_every_gate() {
    let (world, listener) = alb_world().await;
    let spec = alb_spec(alb_gates(None));
    let router = Observed::new(
        world.router(&spec).await,
        alb_direct(&world, &listener).await,
        BreakAtCanary::Nothing,
    );
    let gates = build_gates(&world.ctx, &spec);

    let report = gates.check(R1).await;
    assert!(report.passed(), "{report}: {report:?}");
    let names: Vec<&str> = report
        .results
        .iter()
        .map(|result| result.gate.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "target_health",
            "instance_status",
            "alarm web-5xx",
            "alarm web-r1-latency",
            "command"
        ]
    );

    let (outcome, _) = drive(&world, &router, &gates, &canary().first_deploy(), R1, None).await;
    assert_eq!(
        outcome,
        CutoverOutcome::Completed {
            weights: Weights::all_on(R1)
        }
    );
    let (outcome, _) = drive(&world, &router, &gates, &canary(), R2, Some(R1)).await;
    assert_eq!(
        outcome,
        CutoverOutcome::Completed {
            weights: Weights::split(R2, Some(R1), 100)
        }
    );

    let writes = router.writes();
    assert_eq!(candidate_shares(&writes, R1)[0], 100);
    assert_eq!(candidate_shares(&writes[1..], R2), [10, 100]);
    assert_read_back(&writes, false);
}

#[tokio::test]
async fn alb_alarm_in_alarm_mid_canary_shifts_back_to_r1() {
    let (world, listener) = alb_world().await;
    let spec = alb_spec(alb_gates(None));
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&world.sdk);
    let on_canary = BreakAtCanary::Alarm(cloudwatch, "web-5xx".into());
    let router = Observed::new(
        world.router(&spec).await,
        alb_direct(&world, &listener).await,
        on_canary,
    );
    let gates = build_gates(&world.ctx, &spec);

    drive(&world, &router, &gates, &canary().first_deploy(), R1, None).await;
    let (outcome, _) = drive(&world, &router, &gates, &canary(), R2, Some(R1)).await;

    let reason = gates_reason(&outcome);
    assert!(
        matches!(outcome, CutoverOutcome::ShiftedBack { .. }),
        "{outcome}"
    );
    assert!(
        reason.contains("alarm web-5xx") && reason.contains("5xx above 10 (set by the test)"),
        "{reason}"
    );
    let writes = router.writes();
    assert_eq!(candidate_shares(&writes[1..], R2), [10, 0]);
    assert_read_back(&writes, false);
    let (_, _, last_direct) = writes.last().unwrap();
    assert_eq!(last_direct.share_of(R1), 100);
}

/// Answers `200 ok` until `failing` is set, then `500`.
async fn test_server(failing: Arc<AtomicBool>, served: Arc<AtomicUsize>) -> String {
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

#[tokio::test]
async fn alb_http_probe_failing_mid_canary_shifts_back_to_r1() {
    let (world, listener) = alb_world().await;
    let failing = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let url = test_server(failing.clone(), served.clone()).await;
    let spec = alb_spec(alb_gates(Some(url.clone())));
    let router = Observed::new(
        world.router(&spec).await,
        alb_direct(&world, &listener).await,
        BreakAtCanary::Http(failing),
    );
    let gates = build_gates(&world.ctx, &spec);

    drive(&world, &router, &gates, &canary().first_deploy(), R1, None).await;
    let before = served.load(Ordering::SeqCst);
    assert!(before > 0, "the probe reached the test server");
    let (outcome, _) = drive(&world, &router, &gates, &canary(), R2, Some(R1)).await;

    let reason = gates_reason(&outcome);
    assert!(
        matches!(outcome, CutoverOutcome::ShiftedBack { .. }),
        "{outcome}"
    );
    assert!(
        reason.contains(&format!(
            "http failed: GET {url}: status 500, expected 200 (2 attempts)"
        )),
        "{reason}"
    );
    let writes = router.writes();
    assert_eq!(candidate_shares(&writes[1..], R2), [10, 0]);
    assert_read_back(&writes, false);
}

#[tokio::test]
async fn alb_unhealthy_targets_fail_the_gate_and_r2_never_gets_traffic() {
    let (world, listener) = alb_world().await;
    let spec = alb_spec(alb_gates(None));
    let router = Observed::new(
        world.router(&spec).await,
        alb_direct(&world, &listener).await,
        BreakAtCanary::Nothing,
    );
    let gates: AppGates = build_gates(&world.ctx, &spec);
    drive(&world, &router, &gates, &canary().first_deploy(), R1, None).await;

    let r2_group = world.output(R2, "TargetGroupArn").await;
    let r2_name = r2_group.split("targetgroup/").nth(1).unwrap().to_string();
    world.proxy.unhealthy_targets(&r2_name);
    let report = gates.check(R2).await;
    let health = &report.results[0];
    assert_eq!(health.gate, "target_health");
    assert!(
        matches!(&health.outcome, GateOutcome::Fail(reason)
            if reason.starts_with("0 of 1 targets healthy") && reason.contains("unhealthy (Target.FailedHealthChecks)")),
        "{health}"
    );
    assert!(gates.check(R1).await.passed(), "r1's group is not affected");

    let (outcome, _) = drive(&world, &router, &gates, &canary(), R2, Some(R1)).await;
    assert!(
        gates_reason(&outcome).contains("target_health failed"),
        "{outcome}"
    );
    assert_eq!(router.writes().len(), 1, "no write after r1's first deploy");
    assert_eq!(router.direct.weights().await, Weights::all_on(R1));
}

#[tokio::test]
async fn route53_full_cycle_and_alarm_shift_back() {
    let world = World::new().await;
    world
        .create_stack("routers-dns", "dns-base.yaml", &[])
        .await;
    for stack in [R1, R2] {
        world.create_stack(stack, "dns-release.yaml", &[]).await;
    }
    world.put_alarm("web-5xx").await;
    let zone = world.output("routers-dns", "ZoneId").await;
    let spec = app(
        RouterSpec::Route53 {
            hosted_zone_id: ValueSource::StackOutput {
                stack: "routers-dns".into(),
                output: "ZoneId".into(),
            },
            record_name: "api.routers.example.com".into(),
            record_type: RecordType::Cname,
            ttl: 30,
            endpoint_output: "Endpoint".into(),
            alias_zone_output: None,
        },
        GatesSpec {
            alarms: vec!["web-5xx".into()],
            interval: GATE_INTERVAL,
            ..GatesSpec::default()
        },
    );
    let direct = || DirectRead::Route53 {
        client: aws_sdk_route53::Client::new(&world.sdk),
        zone: zone.clone(),
        name: "api.routers.example.com".into(),
    };
    let gates = build_gates(&world.ctx, &spec);

    let router = Observed::new(world.router(&spec).await, direct(), BreakAtCanary::Nothing);
    drive(&world, &router, &gates, &canary().first_deploy(), R1, None).await;
    let (outcome, _) = drive(&world, &router, &gates, &canary(), R2, Some(R1)).await;
    assert!(
        matches!(outcome, CutoverOutcome::Completed { .. }),
        "{outcome}"
    );
    let writes = router.writes();
    assert_eq!(candidate_shares(&writes[1..], R2), [10, 100]);
    assert_read_back(&writes, false);

    // Back from r2 to r1 by canary, with the alarm firing once r1 takes its 10 %.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&world.sdk);
    let on_canary = BreakAtCanary::Alarm(cloudwatch, "web-5xx".into());
    let router = Observed::new(world.router(&spec).await, direct(), on_canary);
    let (outcome, _) = drive(&world, &router, &gates, &canary(), R1, Some(R2)).await;
    assert!(
        gates_reason(&outcome).contains("alarm web-5xx failed"),
        "{outcome}"
    );
    let writes = router.writes();
    assert_eq!(candidate_shares(&writes, R1), [10, 0]);
    assert_read_back(&writes, false);
    assert_eq!(router.direct.weights().await.share_of(R2), 100);
}

#[tokio::test]
async fn eip_full_cycle_moves_the_address_and_refuses_a_split() {
    let world = World::new().await;
    world
        .create_stack("routers-eip", "eip-base.yaml", &[])
        .await;
    let subnet = world.output("routers-eip", "SubnetId").await;
    let mut instances = BTreeMap::new();
    for stack in [R1, R2] {
        world
            .create_stack(stack, "eip-release.yaml", &[("SubnetId", &subnet)])
            .await;
        instances.insert(world.output(stack, "InstanceId").await, stack.to_string());
    }
    let allocation = world.output("routers-eip", "AllocationId").await;
    let mut spec = app(
        RouterSpec::Eip {
            allocation_id: ValueSource::Literal(allocation.clone()),
            instance_output: "InstanceId".into(),
        },
        GatesSpec {
            instance_status: true,
            interval: GATE_INTERVAL,
            ..GatesSpec::default()
        },
    );
    spec.strategy.kind = StrategyKind::AllAtOnce;
    let direct = DirectRead::Eip {
        client: aws_sdk_ec2::Client::new(&world.sdk),
        allocation,
        stacks: instances,
    };
    let router = Observed::new(world.router(&spec).await, direct, BreakAtCanary::Nothing);
    assert!(!router.supports_gradual());
    let gates = build_gates(&world.ctx, &spec);
    let report = gates.check(R1).await;
    assert!(report.passed(), "{report}");

    assert_eq!(
        router.read_weights().await.unwrap(),
        Weights::new(),
        "not associated yet"
    );
    drive(
        &world,
        &router,
        &gates,
        &all_at_once().first_deploy(),
        R1,
        None,
    )
    .await;
    let (outcome, _) = drive(&world, &router, &gates, &all_at_once(), R2, Some(R1)).await;
    assert!(
        matches!(outcome, CutoverOutcome::Completed { .. }),
        "{outcome}"
    );
    // And back: the address moves again (describe_instances would still show it on r2).
    let (outcome, _) = drive(&world, &router, &gates, &all_at_once(), R1, Some(R2)).await;
    assert!(
        matches!(outcome, CutoverOutcome::Completed { .. }),
        "{outcome}"
    );

    let writes = router.writes();
    let holders: Vec<Option<&str>> = writes
        .iter()
        .map(|(_, _, direct)| direct.holder_of_all())
        .collect();
    assert_eq!(holders, [Some(R1), Some(R2), Some(R1)]);
    assert_read_back(&writes, true);

    let error = router
        .set_weights(&Weights::split(R2, Some(R1), 10))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("all traffic at once"), "{error}");
    assert_eq!(router.writes().len(), 3, "nothing written");
}
