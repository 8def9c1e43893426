//! The three routers and the gates against moto, driven by the cutover controller: release 1 takes
//! all traffic (first deploy), then release 2 by canary. After every write the weights are read
//! back twice: through the router and with a direct SDK call, and both must equal what was
//! written. Gate failures mid-canary (an alarm set to ALARM, an HTTP probe answering 500) must
//! shift all traffic back to release 1; unhealthy targets (moto calls every target healthy, so
//! the fault proxy rewrites DescribeTargetHealth) fail the target-health gate.
//!
//! Bakes are a few hundred milliseconds of real time: the SDK's own timeouts run on tokio time,
//! so these tests cannot pause the clock. Nothing here measures time.

mod world;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cutover::cutover::CutoverOutcome;
use cutover::gates::{build_gates, AppGates, GateChecker, GateOutcome};
use cutover::router::{TrafficRouter, Weights};
use cutover::spec::{
    AlbRouteSpec, AppSpec, GatesSpec, HttpGate, HttpTarget, RecordType, RouterSpec, StrategyKind,
    TargetHealthGate, ValueSource,
};

use world::*;

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
            route: AlbRouteSpec::Listener(ValueSource::StackOutput {
                stack: "routers-base".into(),
                output: "ListenerArn".into(),
            }),
            target_group_output: "TargetGroupArn".into(),
            test_traffic: None,
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
        compare: None,
        interval: GATE_INTERVAL,
        warmup: Duration::ZERO,
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
        CutoverOutcome::Completed { .. } | CutoverOutcome::Held { .. } => {
            panic!("expected a shift back, got {outcome}")
        }
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
    // One ModifyListener per step, one DescribeTargetHealth per gate round (shared by two
    // gates), stack outputs read once per release.
    let calls = world.proxy.requests_by_action();
    eprintln!("API calls of the ALB cycle: {calls:?}");
    assert_eq!(calls["ModifyListener"], 3);
    assert_eq!(calls["DescribeTargetHealth"], calls["DescribeAlarms"]);
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

#[tokio::test]
async fn alb_throttling_is_transient_typos_fail_and_foreign_groups_show_by_arn() {
    let (world, listener) = alb_world().await;
    let mut gates_spec = alb_gates(None);
    gates_spec.alarms.push("web-5xx-typo".into());
    let spec = alb_spec(gates_spec);
    let router = world.router(&spec).await;
    let gates = build_gates(&world.ctx, &spec);
    router.set_weights(&Weights::all_on(R1)).await.unwrap();

    // Throttled on every attempt: the router says "try again", the gates "could not check".
    world
        .proxy
        .only_actions(&["DescribeListeners", "DescribeAlarms"]);
    world.proxy.set_throttle_rate(1.0);
    let error = router.read_weights().await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    let error = router.set_weights(&Weights::all_on(R2)).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    let report = gates.check(R1).await;
    let alarm_outcomes: Vec<&GateOutcome> = report
        .results
        .iter()
        .filter(|result| result.gate.starts_with("alarm "))
        .map(|result| &result.outcome)
        .collect();
    assert_eq!(alarm_outcomes.len(), 3, "{report:?}");
    assert!(
        alarm_outcomes.iter().all(
            |outcome| matches!(outcome, GateOutcome::Error(reason) if reason.contains("throttled"))
        ),
        "{report:?}"
    );
    assert!(report.only_errors(), "{report}");
    world.proxy.set_throttle_rate(0.0);

    // Nothing moved while throttled; an alarm name that matches no alarm is a verdict.
    assert_eq!(router.read_weights().await.unwrap(), Weights::all_on(R1));
    let report = gates.check(R1).await;
    assert_eq!(
        report.to_string(),
        "alarm web-5xx-typo failed: no CloudWatch alarm named web-5xx-typo exists"
    );

    // A target group of no release, added by hand, is reported under its ARN.
    let vpc = world.output("routers-base", "VpcId").await;
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&world.sdk);
    let stray = elbv2
        .create_target_group()
        .name("manual")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(vpc)
        .send()
        .await
        .expect("create_target_group");
    let stray = stray.target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    let mut with_stray = Weights::all_on(R1);
    with_stray.set(&stray, 0);
    router.set_weights(&with_stray).await.unwrap();
    let direct = alb_direct(&world, &listener).await;
    assert_eq!(router.read_weights().await.unwrap(), with_stray);
    assert_eq!(direct.weights().await, with_stray);
}
