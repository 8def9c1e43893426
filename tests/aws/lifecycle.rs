//! After the cutover: `status`, `rollback`, `retire` end to end, the real binary against moto
//! through the fault proxy. Each test has its own account (its own proxy), its own base stack
//! with an ALB listener, and its own app in a temporary stacks folder.
//!
//! Releases are deployed with the real `cutover deploy` (all at once, no bake, no gates). The
//! spec keeps 5 releases while deploying and is rewritten to the retention under test before
//! `cutover retire`, so these tests hold whether or not deploy applies retention itself.
//! The listener is read back with the ELBv2 SDK, not through cutover's router.
//!
//! moto limits worked around: it never fails a deletion (DELETE_FAILED comes from the proxy's
//! `fail_stack`), and it refuses a tag-only UpdateStack on stacks with parameters, so the
//! templates that test the "rolled away from" mark have no parameters.

pub(crate) mod world;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};

use crate::support::FailMode;
use world::{role, role_of, show, spec, text, App, RELEASE, RELEASE_WITH_PARAMETERS};

/// Retention as `cutover deploy` applies it at the end of every deploy.
#[tokio::test]
async fn three_deploys_with_keep_one_leave_r3_live_r2_retained_and_r1_retired() {
    let app = App::new("life-deploys", RELEASE, &spec(1, "")).await;
    let (r1, r2, r3) = (app.stack("r1"), app.stack("r2"), app.stack("r3"));
    app.deploy("r1");
    app.deploy("r2");
    assert!(
        !app.deleted(&r1).await,
        "keep = 1 keeps r1 while r2 is live"
    );
    let third = app.cutover(&["deploy", &app.name, "--release", "r3", "--yes"]);
    assert_eq!(third.status.code(), Some(0), "{}", show(&third));
    let said = format!("{}{}", text(&third.stdout), text(&third.stderr));
    assert!(said.contains(&format!("retired {r1}")), "{}", show(&third));
    assert!(app.deleted(&r1).await);
    assert_eq!(
        app.weights_by_stack(&["r1", "r2", "r3"]).await,
        BTreeMap::from([(r2.clone(), 0), (r3.clone(), 100)]),
        "r1 is out of the listener"
    );
    let roles = app.roles();
    assert_eq!(roles.len(), 2, "{roles:?}");
    assert_eq!(role(&roles, &r3), role_of("live", 100));
    assert_eq!(role(&roles, &r2), role_of("retained", 0));
}

#[tokio::test]
async fn keep_one_after_three_releases_retires_only_the_oldest_after_unrouting_it() {
    let protected = "[stack]\ntermination_protection = true\n";
    let app = App::new("life-keep", RELEASE, &spec(5, protected)).await;
    for release in ["r1", "r2", "r3"] {
        app.deploy(release);
    }
    let (r1, r2, r3) = (app.stack("r1"), app.stack("r2"), app.stack("r3"));
    // As a crashed run could leave it: r1 still in the forward config, at weight 0.
    let groups = [
        (app.group_of(&r3).await.unwrap(), 100),
        (app.group_of(&r2).await.unwrap(), 0),
        (app.group_of(&r1).await.unwrap(), 0),
    ];
    let forward = aws_sdk_elasticloadbalancingv2::types::ForwardActionConfig::builder()
        .set_target_groups(Some(
            groups
                .iter()
                .map(|(arn, weight)| {
                    aws_sdk_elasticloadbalancingv2::types::TargetGroupTuple::builder()
                        .target_group_arn(arn)
                        .weight(*weight)
                        .build()
                })
                .collect(),
        ))
        .build();
    app.elbv2()
        .modify_listener()
        .listener_arn(app.listener().await)
        .default_actions(
            aws_sdk_elasticloadbalancingv2::types::Action::builder()
                .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                .forward_config(forward)
                .build(),
        )
        .send()
        .await
        .expect("modify_listener");
    let roles = app.roles();
    assert_eq!(role(&roles, &r3), role_of("live", 100));
    assert_eq!(role(&roles, &r2), role_of("retained", 0));
    assert_eq!(role(&roles, &r1), role_of("retained", 0));

    app.write_spec(&spec(1, protected));
    let dry = app.cutover(&["retire", &app.name, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", show(&dry));
    let dry_text = text(&dry.stdout);
    assert!(
        dry_text.contains(&format!("retire  {r1}")),
        "{}",
        show(&dry)
    );
    assert!(dry_text.contains("beyond keep = 1"), "{}", show(&dry));
    assert!(!app.deleted(&r1).await, "a dry run deletes nothing");
    assert_eq!(app.weights_by_stack(&["r1", "r2", "r3"]).await.len(), 3);

    let retired = app.cutover(&["retire", &app.name, "--yes", "--output", "json"]);
    assert_eq!(retired.status.code(), Some(0), "{}", show(&retired));
    let report: serde_json::Value = serde_json::from_slice(&retired.stdout).unwrap();
    assert_eq!(
        report["outcomes"],
        serde_json::json!([{ "result": "deleted", "stack": r1, "unrouted": true }]),
        "{}",
        show(&retired)
    );
    assert!(app.deleted(&r1).await);
    // moto answers UpdateTerminationProtection with a 500 page: a warning, not a failure.
    let stderr = text(&retired.stderr);
    assert!(
        stderr.contains("warning:") && stderr.contains(&format!("deleting stack {r1} anyway")),
        "{}",
        show(&retired)
    );
    let stacks = app.stacks().await;
    assert_eq!(stacks.get(&r2).map(String::as_str), Some("CREATE_COMPLETE"));
    assert_eq!(stacks.get(&r3).map(String::as_str), Some("CREATE_COMPLETE"));
    let weights = app.weights_by_stack(&["r1", "r2", "r3"]).await;
    assert_eq!(
        weights,
        BTreeMap::from([(r2.clone(), 0), (r3.clone(), 100)]),
        "r1 is out of the listener, r2 stays registered for rollback"
    );
    let roles = app.roles();
    assert_eq!(roles.len(), 2, "{roles:?}");
    assert_eq!(role(&roles, &r3), role_of("live", 100));
    assert_eq!(role(&roles, &r2), role_of("retained", 0));

    // Nothing left to retire: a second run changes nothing.
    let again = app.cutover(&["retire", &app.name, "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    assert!(
        text(&again.stdout).contains("Nothing to retire"),
        "{}",
        show(&again)
    );
}

#[tokio::test]
async fn rollback_to_r2_moves_all_traffic_creates_nothing_and_marks_r3() {
    let app = App::new("life-back", RELEASE, &spec(5, "")).await;
    for release in ["r1", "r2", "r3"] {
        app.deploy(release);
    }
    let (r2, r3) = (app.stack("r2"), app.stack("r3"));
    let stacks_before = app.stacks().await;
    let creates_before = app.creates();

    let dry = app.cutover(&["rollback", &app.name, "--to", &r2, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", show(&dry));
    assert!(
        text(&dry.stdout).contains(&format!("target            {r2}")),
        "{}",
        show(&dry)
    );
    assert_eq!(
        app.weights_by_stack(&["r2", "r3"]).await.get(&r3),
        Some(&100)
    );

    let output = app.cutover(&["rollback", &app.name, "--to", &r2, "--yes"]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    assert!(
        text(&output.stdout).contains(&format!("Rolled app {} back to {r2}", app.name)),
        "{}",
        show(&output)
    );
    let weights = app.weights_by_stack(&["r1", "r2", "r3"]).await;
    assert_eq!(
        weights.iter().filter(|(_, w)| **w > 0).collect::<Vec<_>>(),
        [(&r2, &100)],
        "all traffic on r2, read back from the listener: {weights:?}"
    );
    assert_eq!(app.creates(), creates_before, "no stack created");
    assert_eq!(
        app.stacks().await.keys().collect::<Vec<_>>(),
        stacks_before.keys().collect::<Vec<_>>(),
        "no stack created or deleted"
    );
    // Recorded beside the lock; the release stack itself is never updated.
    let mark = app.mark(&r3).await;
    assert_eq!(mark["role"], "failed", "{mark}");
    assert_eq!(
        mark["failed_reason"],
        format!("rolled back to {r2}"),
        "{mark}"
    );
    assert_eq!(mark["ending"], "rolled_back_from", "{mark}");
    assert_eq!(
        app.tags(&r3).await.get("cutover:role").map(String::as_str),
        Some("candidate"),
        "the stack's tags are as they were created"
    );
    let roles = app.roles();
    assert_eq!(role(&roles, &r2), role_of("live", 100));
    assert_eq!(role(&roles, &r3), role_of("failed", 0));
    assert_eq!(role(&roles, &app.stack("r1")), role_of("retained", 0));

    // Back to r3 by release id: marked failed, so only without the gates.
    let refused = app.cutover(&["rollback", &app.name, "--to", "r3", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains(&format!(
            "cutover marked it failed (rolled back to {r2}); nothing was changed"
        )),
        "{}",
        show(&refused)
    );
    assert_eq!(
        app.weights_by_stack(&["r2", "r3"]).await.get(&r2),
        Some(&100)
    );
    let forced = app.cutover(&["rollback", &app.name, "--to", "r3", "--force", "--yes"]);
    assert_eq!(forced.status.code(), Some(0), "{}", show(&forced));
    assert_eq!(
        app.weights_by_stack(&["r2", "r3"]).await.get(&r3),
        Some(&100)
    );
}

#[tokio::test]
async fn a_rollback_over_a_release_that_served_leaves_it_retained() {
    let app = App::new("life-skip", RELEASE, &spec(5, "")).await;
    for release in ["r1", "r2", "r3"] {
        app.deploy(release);
    }
    let (r1, r2, r3) = (app.stack("r1"), app.stack("r2"), app.stack("r3"));
    let skipping = app.cutover(&["rollback", &app.name, "--to", "r1", "--yes"]);
    assert_eq!(skipping.status.code(), Some(0), "{}", show(&skipping));
    // r2 is newer than the live release and has no traffic, but it served: a retained
    // release (a rollback target), not a candidate that never took over.
    let roles = app.roles();
    assert_eq!(role(&roles, &r1), role_of("live", 100));
    assert_eq!(role(&roles, &r2), role_of("retained", 0));
    assert_eq!(role(&roles, &r3), role_of("failed", 0));
    let back = app.cutover(&["rollback", &app.name, "--to", "r2", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", show(&back));
    assert_eq!(role(&app.roles(), &r2), role_of("live", 100));
}

#[tokio::test]
async fn refused_targets_exit_2_and_change_nothing() {
    let app = App::new("life-refuse", RELEASE, &spec(5, "")).await;
    for release in ["r1", "r2", "r3"] {
        app.deploy(release);
    }
    // Another app's release stack, found by its tag, not its name.
    app.cloudformation()
        .create_stack()
        .stack_name("other-r1")
        .template_body(RELEASE)
        .tags(
            aws_sdk_cloudformation::types::Tag::builder()
                .key("cutover:app")
                .value("other")
                .build(),
        )
        .send()
        .await
        .expect("create other-r1");
    app.write_spec(&spec(0, ""));
    let retired = app.cutover(&["retire", &app.name, "--yes"]);
    assert_eq!(retired.status.code(), Some(0), "{}", show(&retired));
    let r1 = app.stack("r1");
    assert!(app.deleted(&r1).await);

    // A release of this app whose creation failed, and a stack claiming to be one without the
    // rest of cutover's tags.
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let tag = |key: &str, value: &str| {
        aws_sdk_cloudformation::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
    };
    app.cloudformation()
        .create_stack()
        .stack_name(app.stack("r9"))
        .template_body(RELEASE)
        .tags(tag("cutover:app", &app.name))
        .tags(tag("cutover:release", "r9"))
        .tags(tag("cutover:created", &now))
        .tags(tag("cutover:template-sha256", "00"))
        .send()
        .await
        .expect("create r9");
    app.proxy.fail_stack(
        &app.stack("r9"),
        FailMode::RollbackComplete {
            resource: "Group".into(),
            reason: "Resource creation cancelled".into(),
        },
    );
    app.cloudformation()
        .create_stack()
        .stack_name(app.stack("hand-made"))
        .template_body(RELEASE)
        .tags(tag("cutover:app", &app.name))
        .send()
        .await
        .expect("create hand-made");

    let stacks_before = app.stacks().await;
    let weights_before = app.listener_weights().await;
    let creates_before = app.creates();
    for (to, needle) in [
        (
            "r9".to_string(),
            "it is ROLLBACK_COMPLETE, not CREATE_COMPLETE or UPDATE_COMPLETE".to_string(),
        ),
        (
            app.stack("hand-made"),
            "its cutover tags cannot be read".to_string(),
        ),
        (
            "other-r1".to_string(),
            "its cutover:app tag says other".to_string(),
        ),
        ("base".to_string(), "it has no cutover:app tag".to_string()),
        (r1.clone(), "it was retired".to_string()),
        ("r1".to_string(), "it was retired".to_string()),
        ("nope".to_string(), "has no such stack".to_string()),
    ] {
        let output = app.cutover(&["rollback", &app.name, "--to", &to, "--yes"]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "--to {to}: {}",
            show(&output)
        );
        let stderr = text(&output.stderr);
        assert!(stderr.contains(&needle), "--to {to}: {}", show(&output));
        assert!(
            stderr.contains("nothing was changed"),
            "--to {to}: {}",
            show(&output)
        );
        if needle.contains("retired") {
            assert!(stderr.contains("--rebuild"), "--to {to}: {}", show(&output));
        }
    }
    assert_eq!(app.stacks().await, stacks_before);
    assert_eq!(app.listener_weights().await, weights_before);
    assert_eq!(app.creates(), creates_before);
}

#[tokio::test]
async fn rebuild_recreates_a_retired_release_from_its_recorded_template_and_parameters() {
    let with_parameters = |env: &str, keep: u32| {
        spec(
            keep,
            &format!("[parameters]\nEnv = \"{env}\"\nSecret = {{ env = \"LIFE_SECRET\" }}\n"),
        )
    };
    let mut app = App::new(
        "life-rebuild",
        RELEASE_WITH_PARAMETERS,
        &with_parameters("first", 5),
    )
    .await;
    app.env
        .push(("LIFE_SECRET".into(), "first-secret-do-not-print".into()));
    app.deploy("r1");
    app.deploy("r2");
    app.write_spec(&with_parameters("second", 0));
    let retired = app.cutover(&["retire", &app.name, "--yes"]);
    assert_eq!(retired.status.code(), Some(0), "{}", show(&retired));
    let r1 = app.stack("r1");
    assert!(app.deleted(&r1).await);

    let refused = app.cutover(&["rollback", &app.name, "--to", "r1", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains("--rebuild"),
        "{}",
        show(&refused)
    );

    app.env.retain(|(name, _)| name != "LIFE_SECRET");
    app.env
        .push(("LIFE_SECRET".into(), "second-secret-do-not-print".into()));
    let output = app.cutover(&[
        "rollback",
        &app.name,
        "--to",
        "r1",
        "--rebuild",
        "--yes",
        "--output",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(
        !all.contains("secret-do-not-print"),
        "a NoEcho value was printed: {all}"
    );
    // JSON lines: the controller's events, then the result.
    let stdout = text(&output.stdout);
    let last = stdout.lines().last().expect("a result line");
    let result: serde_json::Value = serde_json::from_str(last).unwrap();
    let rebuilt = result["rebuilt"]
        .as_str()
        .expect("the rebuilt stack")
        .to_string();
    assert_ne!(rebuilt, r1);
    assert_eq!(result["rebuilt_from"], r1.as_str());

    let described = app
        .cloudformation()
        .describe_stacks()
        .stack_name(&rebuilt)
        .send()
        .await
        .expect("the rebuilt stack exists");
    let stack = &described.stacks()[0];
    assert_eq!(
        stack.stack_status().map(|s| s.as_str()),
        Some("CREATE_COMPLETE")
    );
    let parameters: HashMap<&str, &str> = stack
        .parameters()
        .iter()
        .map(|p| (p.parameter_key().unwrap(), p.parameter_value().unwrap()))
        .collect();
    // The plain value as r1 recorded it (the spec says "second" now); the NoEcho one resolved
    // again from the spec (moto returns it unmasked, so the test can see which one it got).
    assert_eq!(parameters.get("Env"), Some(&"first"));
    assert_eq!(
        parameters.get("Secret"),
        Some(&"second-secret-do-not-print")
    );
    let tags = app.tags(&rebuilt).await;
    assert_eq!(
        tags.get("cutover:app").map(String::as_str),
        Some(app.name.as_str())
    );
    assert_eq!(tags.get("cutover:rebuilt-from"), Some(&r1));

    let rebuilt_group = app.group_of(&rebuilt).await.unwrap();
    let weights = app.listener_weights().await;
    assert_eq!(
        weights.iter().filter(|(_, w)| **w > 0).collect::<Vec<_>>(),
        [(&rebuilt_group, &100)],
        "{weights:?}"
    );
    assert_eq!(role(&app.roles(), &rebuilt), role_of("live", 100));
}

#[tokio::test]
async fn delete_failed_is_reported_with_its_reasons_and_kept_for_attention() {
    let app = App::new("life-stuck", RELEASE, &spec(5, "")).await;
    app.deploy("r1");
    app.deploy("r2");
    let r1 = app.stack("r1");
    app.proxy.fail_stack(
        &r1,
        FailMode::DeleteFailed {
            resource: "Group".into(),
            reason: "Target group is currently in use by a listener or a rule".into(),
        },
    );
    app.write_spec(&spec(0, ""));
    let output = app.cutover(&["retire", &app.name, "--yes"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(&format!("could not retire {r1}: DELETE_FAILED")),
        "{}",
        show(&output)
    );
    assert!(
        stdout.contains(
            "Group (AWS::ElasticLoadBalancingV2::TargetGroup): Target group is currently in use"
        ),
        "{}",
        show(&output)
    );
    assert!(
        stdout.contains("marked for an operator's attention"),
        "{}",
        show(&output)
    );
    assert_eq!(
        app.stacks().await.get(&r1).map(String::as_str),
        Some("DELETE_FAILED")
    );
    let mark = app.mark(&r1).await;
    assert!(
        mark["attention"]
            .as_str()
            .is_some_and(|reason| reason.contains("in use")),
        "{mark}"
    );
    let roles = app.roles();
    assert_eq!(role(&roles, &r1), role_of("retiring", 0));
    assert_eq!(role(&roles, &app.stack("r2")), role_of("live", 100));
}

#[tokio::test]
async fn a_failing_gate_leaves_traffic_where_it_was_unless_forced() {
    let app = App::new(
        "life-gated",
        RELEASE,
        &spec(
            5,
            "[gates]\nalarms = [\"life-gated-5xx\"]\ninterval = \"1s\"\n",
        ),
    )
    .await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&app.sdk);
    cloudwatch
        .put_metric_alarm()
        .alarm_name("life-gated-5xx")
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
    let set_alarm = |state: StateValue| {
        cloudwatch
            .set_alarm_state()
            .alarm_name("life-gated-5xx")
            .state_value(state)
            .state_reason("test")
            .send()
    };
    set_alarm(StateValue::Ok).await.expect("set_alarm_state");
    app.deploy("r1");
    app.deploy("r2");
    set_alarm(StateValue::Alarm).await.expect("set_alarm_state");
    let before = app.listener_weights().await;

    let gated = app.cutover(&["rollback", &app.name, "--yes"]);
    assert_eq!(gated.status.code(), Some(1), "{}", show(&gated));
    assert_eq!(
        app.listener_weights().await,
        before,
        "traffic stays where it was"
    );
    assert!(
        text(&gated.stdout).contains("did not complete"),
        "{}",
        show(&gated)
    );

    let forced = app.cutover(&["rollback", &app.name, "--force", "--yes"]);
    assert_eq!(forced.status.code(), Some(0), "{}", show(&forced));
    let weights = app.weights_by_stack(&["r1", "r2"]).await;
    assert_eq!(weights.get(&app.stack("r1")), Some(&100), "{weights:?}");
    assert_eq!(weights.get(&app.stack("r2")), Some(&0), "{weights:?}");
}

#[tokio::test]
async fn rollback_and_retire_exit_3_naming_the_holder_while_another_run_holds_the_lock() {
    use cutover::aws::ssm::Ssm;
    use cutover::aws::AwsContext;
    use cutover::release::lock::{AppLocks, Holder};

    let app = App::new("life-locked", RELEASE, &spec(5, "")).await;
    app.deploy("r1");
    app.deploy("r2");
    app.write_spec(&spec(0, ""));
    let locks = AppLocks::new(Ssm::new(&AwsContext::from_sdk_config(app.sdk.clone())));
    let holder = Holder {
        user: "alice".into(),
        host: "ci-runner-7".into(),
        pid: 4242,
        command: "deploy life-locked".into(),
    };
    let guard = locks
        .acquire(&app.name, &holder)
        .await
        .expect("take the lock");
    let weights_before = app.listener_weights().await;

    let rollback = app.cutover(&["rollback", &app.name, "--yes"]);
    assert_eq!(rollback.status.code(), Some(3), "{}", show(&rollback));
    assert!(
        text(&rollback.stderr).contains("alice@ci-runner-7 (pid 4242"),
        "{}",
        show(&rollback)
    );
    let retire = app.cutover(&["retire", &app.name, "--yes"]);
    assert_eq!(retire.status.code(), Some(3), "{}", show(&retire));
    assert_eq!(app.listener_weights().await, weights_before);
    assert!(!app.deleted(&app.stack("r1")).await);

    // Status reads without the lock, for every app in the folder and every app AWS knows by
    // its stacks' tags.
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let mut ghost = app
        .cloudformation()
        .create_stack()
        .stack_name("ghost-r1")
        .template_body(RELEASE);
    for (key, value) in [
        ("cutover:app", "ghost"),
        ("cutover:release", "r1"),
        ("cutover:created", now.as_str()),
        ("cutover:template-sha256", "00"),
        ("cutover:role", "live"),
    ] {
        ghost = ghost.tags(
            aws_sdk_cloudformation::types::Tag::builder()
                .key(key)
                .value(value)
                .build(),
        );
    }
    ghost.send().await.expect("create ghost-r1");
    let status = app.cutover(&["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", show(&status));
    let table = text(&status.stdout);
    assert!(table.starts_with("life-locked"), "{}", show(&status));
    assert!(
        table.lines().any(|line| line.contains(&app.stack("r2"))
            && line.split_whitespace().rev().take(2).eq(["live", "100%"])),
        "{}",
        show(&status)
    );

    let ghost_at = table
        .find("ghost  (no spec in ")
        .expect("the app without a spec is listed");
    assert!(
        table[ghost_at..].lines().any(|line| {
            line.trim_start().starts_with("ghost-r1 ")
                && line.split_whitespace().rev().take(2).eq(["live", "?"])
        }),
        "{}",
        show(&status)
    );
    let json = app.cutover(&["status", "--output", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["apps"][1]["app"], "ghost");
    assert_eq!(value["apps"][1]["spec"], false);
    assert_eq!(
        value["apps"][1]["releases"][0]["weight"],
        serde_json::Value::Null
    );

    guard.release().await.expect("release the lock");
    let retire = app.cutover(&["retire", &app.name, "--yes"]);
    assert_eq!(retire.status.code(), Some(0), "{}", show(&retire));
    assert!(app.deleted(&app.stack("r1")).await);
}

#[tokio::test]
async fn retiring_behind_route53_deletes_the_releases_weighted_record_first() {
    let release = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/routers/dns-release.yaml"),
    )
    .unwrap();
    let dns_spec = |keep: u32| {
        format!(
            r#"
template = "../templates/app.yaml"
[router]
kind = "route53"
hosted_zone_id = {{ stack_output = "base", output = "ZoneId" }}
record_name = "api.routers.example.com"
record_type = "CNAME"
ttl = 30
endpoint_output = "Endpoint"
[strategy]
kind = "all-at-once"
[retention]
keep = {keep}
"#
        )
    };
    let app = App::with_base("life-dns", &release, &dns_spec(5), "dns-base.yaml").await;
    app.deploy("r1");
    app.deploy("r2");
    let route53 = aws_sdk_route53::Client::new(&app.sdk);
    let zone = app.output("base", "ZoneId").await;
    let records = || async {
        let listed = route53
            .list_resource_record_sets()
            .hosted_zone_id(&zone)
            .send()
            .await
            .expect("list_resource_record_sets");
        listed
            .resource_record_sets()
            .iter()
            .filter(|set| set.name().trim_end_matches('.') == "api.routers.example.com")
            .map(|set| {
                (
                    set.set_identifier().unwrap_or_default().to_string(),
                    set.weight().unwrap_or_default(),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let (r1, r2) = (app.stack("r1"), app.stack("r2"));
    assert_eq!(
        records().await,
        BTreeMap::from([(r1.clone(), 0), (r2.clone(), 100)]),
        "after the cutover r1 keeps a weight-0 record for rollback"
    );

    app.write_spec(&dns_spec(0));
    let output = app.cutover(&["retire", &app.name, "--yes"]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    assert!(
        text(&output.stdout).contains(&format!("retired {r1}: taken out of the router")),
        "{}",
        show(&output)
    );
    assert_eq!(records().await, BTreeMap::from([(r2.clone(), 100)]));
    assert!(app.deleted(&r1).await);
    assert_eq!(role(&app.roles(), &r2), role_of("live", 100));
}

/// Two deploys of one app at once: the lock lets exactly one through; the other exits 3 naming
/// the holder and leaves no stack behind. The winner holds the lock through a 3 s final bake,
/// so the loser's attempt falls inside it whichever process gets there first.
#[tokio::test]
async fn two_concurrent_deploys_one_proceeds_the_other_exits_3_and_creates_nothing() {
    let baking = spec(5, "").replace("final_bake = \"0s\"", "final_bake = \"3s\"");
    let app = App::new("life-race", RELEASE, &baking).await;
    app.deploy("r1");
    let creates_before = app.creates();
    let first = app.spawn_cutover(&["deploy", &app.name, "--release", "ra", "--yes"]);
    let second = app.spawn_cutover(&["deploy", &app.name, "--release", "rb", "--yes"]);
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    let codes = [first.status.code(), second.status.code()];
    let (winner, loser, loser_release, winner_release) = match codes {
        [Some(0), Some(3)] => (&first, &second, "rb", "ra"),
        [Some(3), Some(0)] => (&second, &first, "ra", "rb"),
        _ => panic!(
            "expected one success and one exit 3:\n{}\n{}",
            show(&first),
            show(&second)
        ),
    };
    let stderr = text(&loser.stderr);
    assert!(
        stderr.contains(&format!("deploy {} --release {winner_release}", app.name)),
        "the loser names the holder's command: {}",
        show(loser)
    );
    let stacks = app.stacks().await;
    assert!(
        !stacks.contains_key(&app.stack(loser_release)),
        "the loser created nothing: {stacks:?}"
    );
    assert!(
        stacks.contains_key(&app.stack(winner_release)),
        "{}",
        show(winner)
    );
    assert_eq!(
        app.creates(),
        creates_before + 1,
        "only the winner created a stack"
    );
}

/// A run killed while it holds the lock blocks the next one (exit 3) until `cutover unlock`
/// breaks the lock; then deploys go on.
#[tokio::test]
async fn a_lock_left_by_a_killed_run_blocks_until_unlock_breaks_it() {
    let baking = spec(5, "").replace("final_bake = \"0s\"", "final_bake = \"60s\"");
    let app = App::new("life-killed", RELEASE, &spec(5, "")).await;
    app.deploy("r1");
    app.write_spec(&baking);
    let mut doomed = app.spawn_cutover(&["deploy", &app.name, "--release", "r2", "--yes"]);
    // Wait until it holds the lock and bakes (the listener moved to r2), then kill it hard.
    let mut moved = false;
    for _ in 0..100 {
        let weights = app.weights_by_stack(&["r2"]).await;
        if weights.get(&app.stack("r2")) == Some(&100) {
            moved = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(moved, "the deploy never moved traffic to r2");
    doomed.kill().unwrap();
    doomed.wait().unwrap();

    app.write_spec(&spec(5, ""));
    let blocked = app.cutover(&["deploy", &app.name, "--release", "r3", "--yes"]);
    assert_eq!(blocked.status.code(), Some(3), "{}", show(&blocked));
    assert!(
        text(&blocked.stderr).contains(&format!("deploy {} --release r2", app.name)),
        "{}",
        show(&blocked)
    );
    assert!(!app.stacks().await.contains_key(&app.stack("r3")));

    let unlock = app.cutover(&["unlock", &app.name, "--yes"]);
    assert_eq!(unlock.status.code(), Some(0), "{}", show(&unlock));
    app.deploy("r3");
    let weights = app.weights_by_stack(&["r3"]).await;
    assert_eq!(weights.get(&app.stack("r3")), Some(&100), "{weights:?}");
}

/// A deploy whose lock is broken mid-canary (`unlock --force`) stops at its next traffic move
/// with exit 3 and moves nothing more, not even back; `resume` then finishes the cutover.
#[tokio::test]
async fn a_deploy_whose_lock_is_broken_mid_canary_stops_at_its_next_move() {
    let canary = |bake: &str| {
        spec(5, "").replace(
            "kind = \"all-at-once\"",
            &format!("kind = \"canary\"\npercent = 30\nbake = \"{bake}\""),
        )
    };
    let app = App::new("life-broken", RELEASE, &canary("0s")).await;
    app.deploy("r1");
    app.write_spec(&canary("6s"));
    let running = app.spawn_cutover(&["deploy", &app.name, "--release", "r2", "--yes"]);
    let mut split = BTreeMap::new();
    for _ in 0..100 {
        split = app.weights_by_stack(&["r1", "r2"]).await;
        if split.get(&app.stack("r2")) == Some(&30) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(split.get(&app.stack("r2")), Some(&30), "{split:?}");
    let unlock = app.cutover(&["unlock", &app.name, "--force", "--yes"]);
    assert_eq!(unlock.status.code(), Some(0), "{}", show(&unlock));

    let stopped = running.wait_with_output().unwrap();
    assert_eq!(stopped.status.code(), Some(3), "{}", show(&stopped));
    let stderr = text(&stopped.stderr);
    assert!(
        stderr.contains("the app's lock was taken from this run"),
        "{}",
        show(&stopped)
    );
    assert_eq!(
        app.weights_by_stack(&["r1", "r2"]).await,
        split,
        "the split stays as it was: {}",
        show(&stopped)
    );

    app.write_spec(&canary("0s"));
    let resume = app.cutover(&["resume", &app.name, "--yes"]);
    assert_eq!(resume.status.code(), Some(0), "{}", show(&resume));
    let weights = app.weights_by_stack(&["r2"]).await;
    assert_eq!(weights.get(&app.stack("r2")), Some(&100), "{weights:?}");
}

/// A deploy killed mid-canary leaves traffic split; after the lock is broken, `cutover resume`
/// picks up from the weights the listener holds and finishes the cutover.
#[tokio::test]
async fn resume_finishes_a_cutover_killed_mid_canary() {
    let canary = |bake: &str| {
        spec(5, "").replace(
            "kind = \"all-at-once\"",
            &format!("kind = \"canary\"\npercent = 30\nbake = \"{bake}\""),
        )
    };
    let app = App::new("life-resume", RELEASE, &canary("0s")).await;
    app.deploy("r1");
    app.write_spec(&canary("60s"));
    let mut doomed = app.spawn_cutover(&["deploy", &app.name, "--release", "r2", "--yes"]);
    let mut split = BTreeMap::new();
    for _ in 0..100 {
        split = app.weights_by_stack(&["r1", "r2"]).await;
        if split.get(&app.stack("r2")) == Some(&30) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(split.get(&app.stack("r2")), Some(&30), "{split:?}");
    doomed.kill().unwrap();
    doomed.wait().unwrap();

    let status = app.cutover(&["status", &app.name]);
    let table = text(&status.stdout);
    assert!(
        table
            .lines()
            .any(|line| line.contains(&app.stack("r2")) && line.contains("30%")),
        "{}",
        show(&status)
    );
    let unlock = app.cutover(&["unlock", &app.name, "--yes"]);
    assert_eq!(unlock.status.code(), Some(0), "{}", show(&unlock));
    app.write_spec(&canary("0s"));
    let resume = app.cutover(&["resume", &app.name, "--yes"]);
    assert_eq!(resume.status.code(), Some(0), "{}", show(&resume));
    let weights = app.weights_by_stack(&["r1", "r2"]).await;
    assert_eq!(weights.get(&app.stack("r2")), Some(&100), "{weights:?}");
    assert_eq!(
        weights.get(&app.stack("r1")).copied().unwrap_or(0),
        0,
        "{weights:?}"
    );
    // Nothing is left to resume.
    let again = app.cutover(&["resume", &app.name, "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    assert!(
        text(&again.stderr).contains("nothing to resume"),
        "{}",
        show(&again)
    );
}

/// Ctrl-C during a bake, with no terminal to ask on, turns the cutover back: all traffic returns
/// to the previous release at once and the deploy exits 1.
#[tokio::test]
async fn interrupt_during_a_bake_shifts_traffic_back() {
    let canary = spec(5, "").replace(
        "kind = \"all-at-once\"",
        "kind = \"canary\"\npercent = 30\nbake = \"60s\"",
    );
    let app = App::new("life-sigint", RELEASE, &spec(5, "")).await;
    app.deploy("r1");
    app.write_spec(&canary);
    let deploy = app.spawn_cutover(&["deploy", &app.name, "--release", "r2", "--yes"]);
    let mut split = BTreeMap::new();
    for _ in 0..100 {
        split = app.weights_by_stack(&["r1", "r2"]).await;
        if split.get(&app.stack("r2")) == Some(&30) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(split.get(&app.stack("r2")), Some(&30), "{split:?}");
    let sent = std::process::Command::new("kill")
        .args(["-INT", &deploy.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = deploy.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(
        text(&output.stderr).contains("shifted back"),
        "{}",
        show(&output)
    );
    let weights = app.weights_by_stack(&["r1", "r2"]).await;
    assert_eq!(weights.get(&app.stack("r1")), Some(&100), "{weights:?}");
    assert_eq!(
        weights.get(&app.stack("r2")).copied().unwrap_or(0),
        0,
        "{weights:?}"
    );
}

/// A deploy that finds a cutover a killed run left half way finishes it first, then deploys the
/// release it was asked for (it does not stop with exit 0 and no new release).
#[tokio::test]
async fn a_deploy_after_a_killed_one_finishes_that_cutover_then_deploys_its_own_release() {
    let canary = |bake: &str| {
        spec(5, "").replace(
            "kind = \"all-at-once\"",
            &format!("kind = \"canary\"\npercent = 30\nbake = \"{bake}\""),
        )
    };
    let app = App::new("life-resume-deploy", RELEASE, &canary("0s")).await;
    app.deploy("r1");
    app.write_spec(&canary("60s"));
    let mut doomed = app.spawn_cutover(&["deploy", &app.name, "--release", "r2", "--yes"]);
    let mut split = BTreeMap::new();
    for _ in 0..100 {
        split = app.weights_by_stack(&["r1", "r2"]).await;
        if split.get(&app.stack("r2")) == Some(&30) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(split.get(&app.stack("r2")), Some(&30), "{split:?}");
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    let unlock = app.cutover(&["unlock", &app.name, "--yes"]);
    assert_eq!(unlock.status.code(), Some(0), "{}", show(&unlock));

    app.write_spec(&canary("0s"));
    let next = app.cutover(&["deploy", &app.name, "--release", "r3", "--yes"]);
    assert_eq!(next.status.code(), Some(0), "{}", show(&next));
    assert!(
        text(&next.stderr).contains(&format!(
            "the unfinished cutover to {} ended",
            app.stack("r2")
        )),
        "{}",
        show(&next)
    );
    let weights = app.weights_by_stack(&["r1", "r2", "r3"]).await;
    assert_eq!(weights.get(&app.stack("r3")), Some(&100), "{weights:?}");
    let roles = app.roles();
    assert_eq!(role(&roles, &app.stack("r3")), role_of("live", 100));
    assert_eq!(role(&roles, &app.stack("r2")), role_of("retained", 0));
}
