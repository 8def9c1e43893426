//! Routing in accounts shaped like real ones, through the real binary against moto: a listener,
//! a listener rule, a DNS name and an Elastic IP that already send traffic somewhere no release
//! owns (onboarding with `--adopt`), several apps sharing one load balancer (a rule each), and
//! Route 53 weights at 0. Every route is read back with direct SDK calls, not through cutover.
//!
//! moto limits worked around: it refuses a tag-only UpdateStack on stacks with parameters and
//! the release templates here have none except the Elastic IP one, so a turned-back release is
//! marked failed where moto allows it; nothing below depends on that mark.

pub(crate) mod world;

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::StateValue;

use world::*;

const ALB_LISTENER: &str = "[router]\nkind = \"alb\"\nlistener = { stack_output = \"base\", output = \"ListenerArn\" }\ntarget_group_output = \"TargetGroupArn\"\n";

fn weights(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test]
async fn a_listener_that_already_forwards_is_adopted_and_takes_the_traffic_back_on_alarm() {
    let account = Account::new("onboard-alb.yaml").await;
    let listener = account.output("base", "ListenerArn").await;
    let legacy = account.output("base", "LegacyGroupArn").await;
    account.put_alarm("shop-5xx").await;
    account.write_app(
        "shop",
        ALB_RELEASE,
        &format!("{ALB_LISTENER}\n{}", canary("60s", "shop-5xx")),
    );
    let before = account.listener_forward(&listener).await;
    assert_eq!(before, weights(&[(&legacy, 1)]));

    // Without --adopt: refused before any change, naming what was found and the flag.
    let refused = account.cutover(&["deploy", "shop", "--release", "r1", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains(&legacy) && stderr.contains("which no release of app shop owns"),
        "{stderr}"
    );
    assert!(stderr.contains("cutover deploy shop --adopt"), "{stderr}");
    assert_eq!(account.creates(), 1, "only the base stack");
    assert_eq!(account.stack_names().await, ["base"]);
    assert_eq!(account.listener_forward(&listener).await, before);

    // A dry run with --adopt shows the adoption and changes nothing.
    let dry = account.cutover(&["deploy", "shop", "--release", "r1", "--adopt", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", show(&dry));
    assert!(
        text(&dry.stdout).contains(&format!("{legacy} becomes the app's baseline")),
        "{}",
        show(&dry)
    );
    assert_eq!(account.creates(), 1, "only the base stack");
    assert!(account.status("shop")["baseline"].is_null());

    // With --adopt: baseline 90 / r1 10, then the alarm fires and everything goes back.
    let deploy = account.spawn(&["deploy", "shop", "--release", "r1", "--adopt", "--yes"]);
    let listener_read = listener.clone();
    let legacy_at_90 = legacy.clone();
    let (output, seen) = watch_then(
        deploy,
        async || account.listener_forward(&listener_read).await,
        |forward| forward.get(&legacy_at_90) == Some(&90),
        async || account.set_alarm("shop-5xx", StateValue::Alarm).await,
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let r1 = account.output("shop-r1", "TargetGroupArn").await;
    let canary_step = weights(&[(&legacy, 90), (&r1, 10)]);
    assert!(seen.contains(&canary_step), "{seen:?}");
    let after = account.listener_forward(&listener).await;
    assert_eq!(after.get(&legacy), Some(&100), "{after:?}");
    assert_eq!(after.get(&r1).copied().unwrap_or(0), 0, "{after:?}");
    assert!(
        text(&output.stdout).contains("shifted back"),
        "{}",
        show(&output)
    );
    assert!(account.target_group_exists(&legacy).await);
    let status = account.status("shop");
    assert_eq!(status["live"], "baseline", "{status:#}");
    assert_eq!(status["baseline"]["weight"], 100, "{status:#}");
    assert_eq!(status["baseline"]["target"]["arn"], legacy.as_str());

    // Another app on the same listener cannot adopt what shop adopted.
    account.write_app("evil", ALB_RELEASE, ALB_LISTENER);
    let creates = account.creates();
    let stolen = account.cutover(&["deploy", "evil", "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(stolen.status.code(), Some(2), "{}", show(&stolen));
    assert!(
        text(&stolen.stderr).contains("the baseline of app shop"),
        "{}",
        show(&stolen)
    );
    assert_eq!(account.creates(), creates);
    assert_eq!(account.listener_forward(&listener).await, after);

    // The baseline is recorded in AWS: the next deploy needs no --adopt and moves from it.
    account.set_alarm("shop-5xx", StateValue::Ok).await;
    account.write_app(
        "shop",
        ALB_RELEASE,
        &format!("{ALB_LISTENER}\n{}", canary("2s", "shop-5xx")),
    );
    let deploy = account.spawn(&["deploy", "shop", "--release", "r2", "--yes"]);
    let listener_read = listener.clone();
    let (output, seen) = watch(deploy, async || {
        account.listener_forward(&listener_read).await
    })
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let r2 = account.output("shop-r2", "TargetGroupArn").await;
    assert!(
        seen.contains(&weights(&[(&legacy, 90), (&r2, 10)])),
        "{seen:?}"
    );
    let last = seen.last().unwrap();
    assert_eq!(last.get(&r2), Some(&100), "{seen:?}");
    assert_eq!(last.get(&legacy).copied().unwrap_or(0), 0, "{seen:?}");
    assert!(account.target_group_exists(&legacy).await);
    let status = account.status("shop");
    assert_eq!(status["live"], "shop-r2", "{status:#}");
    assert_eq!(
        status["baseline"]["weight"],
        0,
        "{status:#}\n{}",
        show(&output)
    );

    // Retention lets the baseline go: out of the listener, never deleted, no longer a target.
    account.write_app(
        "shop",
        ALB_RELEASE,
        &format!(
            "{ALB_LISTENER}\n{}\n[retention]\nkeep = 0\n",
            canary("2s", "shop-5xx")
        ),
    );
    let retired = account.cutover(&["retire", "shop", "--yes"]);
    assert_eq!(retired.status.code(), Some(0), "{}", show(&retired));
    assert!(
        text(&retired.stdout).contains("let the baseline go"),
        "{}",
        show(&retired)
    );
    assert_eq!(
        account.listener_forward(&listener).await,
        weights(&[(&r2, 100)])
    );
    assert!(account.target_group_exists(&legacy).await);
    assert!(account.status("shop")["baseline"].is_null());
    let back = account.cutover(&["rollback", "shop", "--to", "baseline", "--yes"]);
    assert_eq!(back.status.code(), Some(2), "{}", show(&back));
    assert_eq!(
        account.listener_forward(&listener).await,
        weights(&[(&r2, 100)])
    );
}

/// The record's state as the tests compare it: set identifier (`None` for the plain record) →
/// (weight, value).
async fn dns_state(
    account: &Account,
    zone: &str,
    name: &str,
) -> BTreeMap<Option<String>, (Option<i64>, String)> {
    account
        .records(zone, name)
        .await
        .into_iter()
        .map(|(id, weight, value)| (id, (weight, value)))
        .collect()
}

#[tokio::test]
async fn a_plain_dns_record_is_adopted_in_one_batch_and_takes_the_traffic_back_on_alarm() {
    let account = Account::new("zone.yaml").await;
    let zone = account.output("base", "ZoneId").await;
    let name = "api.routing.example.com";
    let legacy = "legacy-lb.example.net";
    account.create_plain_cname(&zone, name, legacy).await;
    account.put_alarm("api-5xx").await;
    let spec = |bake: &str| {
        format!(
            "[router]\nkind = \"route53\"\nhosted_zone_id = {{ stack_output = \"base\", output = \"ZoneId\" }}\nrecord_name = \"{name}\"\nttl = 30\nendpoint_output = \"Endpoint\"\n\n{}",
            canary(bake, "api-5xx")
        )
    };
    account.write_app("api", DNS_RELEASE, &spec("60s"));
    let plain = BTreeMap::from([(None, (None, legacy.to_string()))]);
    assert_eq!(dns_state(&account, &zone, name).await, plain);

    let refused = account.cutover(&["deploy", "api", "--release", "r1", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains("plain CNAME record api.routing.example.com"),
        "{}",
        show(&refused)
    );
    assert_eq!(account.creates(), 1, "only the base stack");
    assert_eq!(dns_state(&account, &zone, name).await, plain);

    let deploy = account.spawn(&["deploy", "api", "--release", "r1", "--adopt", "--yes"]);
    let baseline_at_90 = |state: &BTreeMap<Option<String>, (Option<i64>, String)>| {
        state.get(&Some("baseline".to_string())).map(|(w, _)| *w) == Some(Some(90))
    };
    let (output, seen) = watch_then(
        deploy,
        async || dns_state(&account, &zone, name).await,
        baseline_at_90,
        async || account.set_alarm("api-5xx", StateValue::Alarm).await,
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let r1_value = "api-r1.origin.example.com".to_string();
    let canary_step = BTreeMap::from([
        (Some("baseline".to_string()), (Some(90), legacy.to_string())),
        (Some("api-r1".to_string()), (Some(10), r1_value.clone())),
    ]);
    assert!(seen.contains(&canary_step), "{seen:?}");
    // One change batch took the plain record to weighted ones: no state without an answer,
    // never a plain record beside weighted ones.
    for state in &seen {
        assert!(!state.is_empty(), "a moment without an answer: {seen:?}");
        assert!(
            !(state.contains_key(&None) && state.len() > 1),
            "plain beside weighted: {seen:?}"
        );
    }
    let after = dns_state(&account, &zone, name).await;
    assert_eq!(
        after.get(&Some("baseline".to_string())),
        Some(&(Some(100), legacy.to_string())),
        "{after:?}"
    );
    assert!(
        after
            .get(&Some("api-r1".to_string()))
            .is_none_or(|(weight, _)| *weight == Some(0)),
        "{after:?}"
    );
    assert_eq!(account.status("api")["live"], "baseline");

    // The same name written in capitals is the same name, and its records are api's.
    account.write_app(
        "shout",
        DNS_RELEASE,
        &spec("60s").replace(name, &name.to_uppercase()),
    );
    let creates = account.creates();
    let shouting = account.cutover(&["deploy", "shout", "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(shouting.status.code(), Some(2), "{}", show(&shouting));
    assert!(
        text(&shouting.stderr).contains("of app api"),
        "{}",
        show(&shouting)
    );
    assert_eq!(account.creates(), creates);

    account.set_alarm("api-5xx", StateValue::Ok).await;
    account.write_app("api", DNS_RELEASE, &spec("2s"));
    let deploy = account.spawn(&["deploy", "api", "--release", "r2", "--yes"]);
    let (output, seen) = watch(deploy, async || dns_state(&account, &zone, name).await).await;
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let r2_value = "api-r2.origin.example.com".to_string();
    assert!(
        seen.iter()
            .any(|state| state.get(&Some("api-r2".to_string()))
                == Some(&(Some(10), r2_value.clone()))
                && state.get(&Some("baseline".to_string()))
                    == Some(&(Some(90), legacy.to_string()))),
        "{seen:?}"
    );
    let last = seen.last().unwrap();
    assert_eq!(
        last.get(&Some("api-r2".to_string())),
        Some(&(Some(100), r2_value))
    );
    // The baseline's record still exists, still pointing where it pointed, at 0.
    assert_eq!(
        last.get(&Some("baseline".to_string())),
        Some(&(Some(0), legacy.to_string()))
    );

    // Rollback to the baseline: all traffic at once, no release gates.
    let back = account.cutover(&["rollback", "api", "--to", "baseline", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", show(&back));
    let after = dns_state(&account, &zone, name).await;
    assert_eq!(
        after.get(&Some("baseline".to_string())),
        Some(&(Some(100), legacy.to_string())),
        "{after:?}"
    );
    assert_eq!(account.status("api")["live"], "baseline");

    // Two more releases, the second moving from the first: the baseline's record is the
    // operator's and stays in the name at 0, so a rollback to it still works (retention keeps
    // it: keep = 5).
    account.write_app(
        "api",
        DNS_RELEASE,
        &format!("{}\n[retention]\nkeep = 5\n", spec("1s")),
    );
    for release in ["r3", "r4"] {
        let deployed = account.cutover(&["deploy", "api", "--release", release, "--yes"]);
        assert_eq!(deployed.status.code(), Some(0), "{}", show(&deployed));
        let state = dns_state(&account, &zone, name).await;
        assert_eq!(
            state.get(&Some("baseline".to_string())),
            Some(&(Some(0), legacy.to_string())),
            "after {release}: {state:?}"
        );
    }
    assert_eq!(account.status("api")["baseline"]["weight"], 0);
    let back = account.cutover(&["rollback", "api", "--to", "baseline", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", show(&back));
    let after = dns_state(&account, &zone, name).await;
    assert_eq!(
        after.get(&Some("baseline".to_string())),
        Some(&(Some(100), legacy.to_string())),
        "{after:?}"
    );
}

#[tokio::test]
async fn an_elastic_ip_held_by_a_server_is_adopted_and_moves_back_to_it_on_alarm() {
    let account = Account::new("onboard-eip.yaml").await;
    let allocation = account.output("base", "AllocationId").await;
    let server = account.output("base", "LegacyInstanceId").await;
    account
        .ec2()
        .associate_address()
        .allocation_id(&allocation)
        .instance_id(&server)
        .send()
        .await
        .expect("associate_address");
    account.put_alarm("bastion-5xx").await;
    // keep = 2: moto cannot mark the turned-back r1 failed (a tag-only update of a stack with
    // parameters), so r1 would otherwise hold the one place the baseline needs at the end.
    let spec = |final_bake: &str| {
        format!(
            "[parameters]\nSubnetId = {{ stack_output = \"base\", output = \"SubnetId\" }}\n\n[router]\nkind = \"eip\"\nallocation_id = {{ stack_output = \"base\", output = \"AllocationId\" }}\ninstance_output = \"InstanceId\"\n\n[strategy]\nkind = \"all-at-once\"\nfinal_bake = \"{final_bake}\"\n\n[gates]\nalarms = [\"bastion-5xx\"]\ninterval = \"1s\"\nwarmup = \"0s\"\n\n[retention]\nkeep = 2\n"
        )
    };
    account.write_app("bastion", EIP_RELEASE, &spec("60s"));

    let refused = account.cutover(&["deploy", "bastion", "--release", "r1", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains(&server),
        "{}",
        show(&refused)
    );
    assert_eq!(account.creates(), 1, "only the base stack");
    assert_eq!(
        account.address_holder(&allocation).await,
        Some(server.clone())
    );

    let deploy = account.spawn(&["deploy", "bastion", "--release", "r1", "--adopt", "--yes"]);
    let legacy = server.clone();
    let (output, seen) = watch_then(
        deploy,
        async || account.address_holder(&allocation).await,
        |holder| holder.as_ref().is_some_and(|holder| *holder != legacy),
        async || account.set_alarm("bastion-5xx", StateValue::Alarm).await,
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let r1 = account.output("bastion-r1", "InstanceId").await;
    assert_eq!(
        seen,
        [Some(server.clone()), Some(r1.clone()), Some(server.clone())],
        "{}",
        show(&output)
    );
    assert!(account.instance_exists(&server).await);
    // A router that reads back only the holder has what was written: no "changed outside".
    assert!(
        !text(&output.stderr).contains("changed outside"),
        "{}",
        show(&output)
    );

    account.set_alarm("bastion-5xx", StateValue::Ok).await;
    account.write_app("bastion", EIP_RELEASE, &spec("2s"));
    let deployed = account.cutover(&["deploy", "bastion", "--release", "r2", "--yes"]);
    assert_eq!(deployed.status.code(), Some(0), "{}", show(&deployed));
    let r2 = account.output("bastion-r2", "InstanceId").await;
    assert_eq!(account.address_holder(&allocation).await, Some(r2));
    assert!(
        !text(&deployed.stderr).contains("changed outside"),
        "{}",
        show(&deployed)
    );
    assert!(account.instance_exists(&server).await);
    assert_eq!(account.status("bastion")["live"], "bastion-r2");

    // Back to the baseline only while its server runs (or with --force).
    account
        .ec2()
        .stop_instances()
        .instance_ids(&server)
        .send()
        .await
        .expect("stop_instances");
    let r2 = account.output("bastion-r2", "InstanceId").await;
    let refused = account.cutover(&["rollback", "bastion", "--to", "baseline", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains(&format!("instance {server} is stopped")),
        "{}",
        show(&refused)
    );
    assert_eq!(account.address_holder(&allocation).await, Some(r2));
    account
        .ec2()
        .start_instances()
        .instance_ids(&server)
        .send()
        .await
        .expect("start_instances");
    let back = account.cutover(&["rollback", "bastion", "--to", "baseline", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", show(&back));
    assert_eq!(account.address_holder(&allocation).await, Some(server));
}

fn rule_spec(rule_output: &str, strategy: &str) -> String {
    format!(
        "[router]\nkind = \"alb\"\nrule = {{ stack_output = \"base\", output = \"{rule_output}\" }}\ntarget_group_output = \"TargetGroupArn\"\n\n{strategy}\n[retention]\nkeep = 1\n"
    )
}

#[tokio::test]
async fn two_apps_on_one_listener_each_on_its_rule_never_touch_each_other() {
    let account = Account::new("shared-alb.yaml").await;
    let listener = account.output("base", "ListenerArn").await;
    let web_rule = account.output("base", "WebRuleArn").await;
    let api_rule = account.output("base", "ApiRuleArn").await;
    let legacy_web = account.output("base", "LegacyWebGroupArn").await;
    account.put_alarm("web-5xx").await;
    // Bake 0s: the rule's 2 s stickiness decides how long the canary step is held.
    account.write_app(
        "web",
        ALB_RELEASE,
        &rule_spec("WebRuleArn", &canary("0s", "web-5xx")),
    );
    account.write_app(
        "api",
        ALB_RELEASE,
        &rule_spec("ApiRuleArn", "[strategy]\nkind = \"all-at-once\"\n"),
    );
    let default_action = account.listener_forward(&listener).await;
    let web_before = account.rule(&web_rule).await;

    // A rule that redirects carries traffic to no target group: not replaced, not adoptable.
    // (moto cannot create a redirect rule from a template, so the test adds it.)
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, PathPatternConditionConfig, RedirectActionConfig,
        RedirectActionStatusCodeEnum, RuleCondition,
    };
    let created = account
        .elbv2()
        .create_rule()
        .listener_arn(&listener)
        .priority(40)
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .values("/old/*")
                        .build(),
                )
                .build(),
        )
        .actions(
            Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .protocol("HTTPS")
                        .port("443")
                        .path("/new/#{path}")
                        .status_code(RedirectActionStatusCodeEnum::Http301)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("create_rule");
    let redirect_rule = created.rules()[0].rule_arn().unwrap().to_string();
    let redirect_before = account.rule(&redirect_rule).await;
    account.write_app(
        "old",
        ALB_RELEASE,
        &format!("[router]\nkind = \"alb\"\nrule = \"{redirect_rule}\"\ntarget_group_output = \"TargetGroupArn\"\n"),
    );
    for adopt in [&[][..], &["--adopt"][..]] {
        let mut args = vec!["deploy", "old", "--release", "r1", "--yes"];
        args.extend_from_slice(adopt);
        let refused = account.cutover(&args);
        assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
        let stderr = text(&refused.stderr);
        assert!(
            stderr.contains("redirect to https://#{host}:443/new/#{path}")
                && stderr.contains("cannot be adopted as a baseline"),
            "{}",
            show(&refused)
        );
        // With or without --adopt, the hint never sends the user to --adopt.
        assert!(!stderr.contains("--adopt"), "{}", show(&refused));
    }
    assert_eq!(account.rule(&redirect_rule).await, redirect_before);
    assert_eq!(account.creates(), 1, "only the base stack");
    let mut api_now = account.rule(&api_rule).await;
    assert_eq!(web_before.stickiness, Some(2));

    // The plan names the rule and the stickiness; each step is held at least that long.
    let dry = account.cutover(&["deploy", "web", "--release", "r1", "--adopt", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", show(&dry));
    let plan = text(&dry.stdout);
    assert!(
        plan.contains(&format!("listener rule {web_rule}")),
        "{plan}"
    );
    assert!(
        plan.contains(
            "target group stickiness on (2s): each step before 100 % is held 2s instead of 0s"
        ),
        "{plan}"
    );

    let deploy = account.spawn(&[
        "deploy",
        "web",
        "--release",
        "r1",
        "--adopt",
        "--yes",
        "--output",
        "json",
    ]);
    let (output, seen) = watch(deploy, async || account.rule(&web_rule).await.forward).await;
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let started: serde_json::Value = text(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|event| event["event"] == "started")
        .unwrap_or_else(|| panic!("no started event: {}", show(&output)));
    assert_eq!(started["stickiness_secs"], 2, "{started}");
    assert_eq!(
        started["bakes_secs"],
        serde_json::json!([2.0, 0.0]),
        "the canary step is held for the stickiness: {started}"
    );
    let web_r1 = account.output("web-r1", "TargetGroupArn").await;
    assert!(
        seen.contains(&weights(&[(&legacy_web, 90), (&web_r1, 10)])),
        "{seen:?}"
    );
    let web_after = account.rule(&web_rule).await;
    assert_eq!(web_after.forward.get(&web_r1), Some(&100));
    assert_eq!(
        (
            &web_after.conditions,
            &web_after.priority,
            web_after.stickiness
        ),
        (
            &web_before.conditions,
            &web_before.priority,
            web_before.stickiness
        ),
        "only the forward action changes"
    );
    assert_eq!(account.rule(&api_rule).await, api_now);
    assert_eq!(account.listener_forward(&listener).await, default_action);
    let status = account.status("web");
    assert_eq!(status["stickiness_secs"], 2, "{status:#}");

    // The other app onboards on its own rule; the web rule is left alone.
    let api_deploy = account.cutover(&["deploy", "api", "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(api_deploy.status.code(), Some(0), "{}", show(&api_deploy));
    let api_r1 = account.output("api-r1", "TargetGroupArn").await;
    api_now = account.rule(&api_rule).await;
    assert_eq!(api_now.forward.get(&api_r1), Some(&100));
    assert_eq!(account.rule(&web_rule).await, web_after);

    // Deploys and rollbacks of web change only web's rule.
    let web_r2_deploy = account.cutover(&["deploy", "web", "--release", "r2", "--yes"]);
    assert_eq!(
        web_r2_deploy.status.code(),
        Some(0),
        "{}",
        show(&web_r2_deploy)
    );
    assert_eq!(account.rule(&api_rule).await, api_now);
    // With keep = 1, r1 now holds the place the baseline held: the baseline is let go (out of
    // the rule, recorded as released), and its target group stays.
    assert!(
        text(&web_r2_deploy.stderr).contains("let the baseline go"),
        "{}",
        show(&web_r2_deploy)
    );
    assert!(account.status("web")["baseline"].is_null());
    assert!(account.target_group_exists(&legacy_web).await);
    let back = account.cutover(&["rollback", "web", "--to", "r1", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", show(&back));
    assert_eq!(
        account.rule(&web_rule).await.forward.get(&web_r1),
        Some(&100)
    );
    assert_eq!(account.rule(&api_rule).await, api_now);

    // Rolling web back onto api's stack is refused with nothing moved.
    let web_now = account.rule(&web_rule).await;
    let onto_other = account.cutover(&["rollback", "web", "--to", "api-r1", "--yes"]);
    assert_eq!(onto_other.status.code(), Some(2), "{}", show(&onto_other));
    assert!(
        text(&onto_other.stderr).contains("api-r1"),
        "{}",
        show(&onto_other)
    );
    assert_eq!(account.rule(&web_rule).await, web_now);
    assert_eq!(account.rule(&api_rule).await, api_now);

    // A spec that points at another app's rule: refused before anything is created.
    account.write_app(
        "intruder",
        ALB_RELEASE,
        &rule_spec("WebRuleArn", "[strategy]\nkind = \"all-at-once\"\n"),
    );
    let creates = account.creates();
    for args in [
        &["deploy", "intruder", "--release", "r1", "--yes"][..],
        &["deploy", "intruder", "--release", "r1", "--adopt", "--yes"][..],
    ] {
        let intruding = account.cutover(args);
        assert_eq!(intruding.status.code(), Some(2), "{}", show(&intruding));
        let stderr = text(&intruding.stderr);
        assert!(
            stderr.contains("a release of app web") && stderr.contains("web-r1"),
            "{stderr}"
        );
    }
    assert_eq!(account.creates(), creates);
    assert!(!account
        .stack_names()
        .await
        .contains(&"intruder-r1".to_string()));
    assert_eq!(account.rule(&web_rule).await, web_now);

    // A release another rule still forwards to is not retired, and the rule is named. (Someone
    // pointed a debug rule at web-r1.) r3 goes live first, so that keep = 0 lets r1 go.
    let web_r3_deploy = account.cutover(&["deploy", "web", "--release", "r3", "--yes"]);
    assert_eq!(
        web_r3_deploy.status.code(),
        Some(0),
        "{}",
        show(&web_r3_deploy)
    );
    let debug_rule = account
        .elbv2()
        .create_rule()
        .listener_arn(&listener)
        .priority(30)
        .conditions(
            aws_sdk_elasticloadbalancingv2::types::RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    aws_sdk_elasticloadbalancingv2::types::PathPatternConditionConfig::builder()
                        .values("/debug/*")
                        .build(),
                )
                .build(),
        )
        .actions(
            aws_sdk_elasticloadbalancingv2::types::Action::builder()
                .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                .target_group_arn(&web_r1)
                .build(),
        )
        .send()
        .await
        .expect("create_rule");
    let debug_rule = debug_rule.rules()[0].rule_arn().unwrap().to_string();
    account.write_app(
        "web",
        ALB_RELEASE,
        &rule_spec("WebRuleArn", &canary("2s", "web-5xx")).replace("keep = 1", "keep = 0"),
    );
    let retire = account.cutover(&["retire", "web", "--yes"]);
    assert_eq!(retire.status.code(), Some(1), "{}", show(&retire));
    let said = text(&retire.stdout);
    assert!(
        said.contains("kept web-r1: another route still forwards to its target group")
            && said.contains(&debug_rule),
        "{}",
        show(&retire)
    );
    assert!(account.stack_names().await.contains(&"web-r1".to_string()));
    assert_eq!(account.rule(&api_rule).await, api_now);
}

#[tokio::test]
async fn route53_weights_all_at_zero_read_as_equal_shares() {
    let account = Account::new("zone.yaml").await;
    let zone = account.output("base", "ZoneId").await;
    let name = "www.routing.example.com";
    account.put_alarm("www-5xx").await;
    let spec = format!(
        "[router]\nkind = \"route53\"\nhosted_zone_id = {{ stack_output = \"base\", output = \"ZoneId\" }}\nrecord_name = \"{name}\"\nendpoint_output = \"Endpoint\"\n\n{}",
        canary("2s", "www-5xx")
    );
    account.write_app("www", DNS_RELEASE, &spec);
    let first = account.cutover(&["deploy", "www", "--release", "r1", "--yes"]);
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    // Someone sets the only record to weight 0: Route 53 still answers with it.
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
    };
    let zeroed = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Cname)
        .set_identifier("www-r1")
        .weight(0)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value("www-r1.origin.example.com")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    account
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(zeroed)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("zero the weight");
    let status = account.status("www");
    assert_eq!(status["live"], "www-r1", "{status:#}");
    assert_eq!(status["releases"][0]["weight"], 100, "{status:#}");

    let deploy = account.spawn(&["deploy", "www", "--release", "r2", "--yes"]);
    let (output, seen) = watch(deploy, async || dns_state(&account, &zone, name).await).await;
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let step = seen.iter().find(|state| {
        state
            .get(&Some("www-r2".to_string()))
            .map(|(weight, _)| *weight)
            == Some(Some(10))
    });
    let step = step.unwrap_or_else(|| panic!("no canary step seen: {seen:?}"));
    assert_eq!(
        step.get(&Some("www-r1".to_string()))
            .map(|(weight, _)| *weight),
        Some(Some(90)),
        "{seen:?}"
    );
    let last = seen.last().unwrap();
    assert_eq!(
        last.get(&Some("www-r2".to_string()))
            .map(|(weight, _)| *weight),
        Some(Some(100))
    );
    assert_eq!(account.status("www")["live"], "www-r2");

    // A name that already has A records cannot take a CNAME: said before anything is created.
    let mail = "mail.routing.example.com";
    let a_record = ResourceRecordSet::builder()
        .name(mail)
        .r#type(RrType::A)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value("192.0.2.10")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    account
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Create)
                        .resource_record_set(a_record)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create the A record");
    account.write_app("mail", DNS_RELEASE, &spec.replace(name, mail));
    let creates = account.creates();
    let refused = account.cutover(&["deploy", "mail", "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains("already has A records"),
        "{}",
        show(&refused)
    );
    assert_eq!(account.creates(), creates);
}

/// Records an operator made that cutover must not take: a weighted record whose set identifier
/// is the release's stack name (a dark DR record at 0, say), records of another routing policy
/// (failover), and a release name that is another app's stack. Each deploy exits 2 before
/// anything is created or recorded, and the records are read back unchanged.
#[tokio::test]
async fn records_and_stacks_that_are_not_the_releases_are_never_taken() {
    use aws_sdk_route53::types::{
        ResourceRecord, ResourceRecordSet, ResourceRecordSetFailover, RrType,
    };
    let account = Account::new("zone.yaml").await;
    let zone = account.output("base", "ZoneId").await;
    let cname = |name: &str, value: &str| {
        ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::Cname)
            .ttl(60)
            .resource_records(ResourceRecord::builder().value(value).build().unwrap())
    };
    let spec = |name: &str| {
        format!(
            "[router]\nkind = \"route53\"\nhosted_zone_id = {{ stack_output = \"base\", output = \"ZoneId\" }}\nrecord_name = \"{name}\"\nendpoint_output = \"Endpoint\"\n"
        )
    };

    // A weighted record named like the release: refused, not overwritten.
    let img = "img.routing.example.com";
    for (id, weight, value) in [
        ("primary", 100, "fleet.example.net"),
        ("img-r2", 0, "dr-site.example.net"),
    ] {
        account
            .create_record_set(
                &zone,
                cname(img, value)
                    .set_identifier(id)
                    .weight(weight)
                    .build()
                    .unwrap(),
            )
            .await;
    }
    account.write_app("img", DNS_RELEASE, &spec(img));
    let before = dns_state(&account, &zone, img).await;
    for args in [
        &["deploy", "img", "--release", "r2", "--adopt", "--dry-run"][..],
        &["deploy", "img", "--release", "r2", "--adopt", "--yes"][..],
    ] {
        let refused = account.cutover(args);
        assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
        assert!(
            text(&refused.stderr).contains("already has an entry named img-r2"),
            "{}",
            show(&refused)
        );
    }
    assert_eq!(dns_state(&account, &zone, img).await, before);
    assert!(account.status("img")["baseline"].is_null());

    // Failover records: not weighted, so not cutover's to rewrite.
    let geo = "geo.routing.example.com";
    for (id, role, value) in [
        (
            "main",
            ResourceRecordSetFailover::Primary,
            "main.example.net",
        ),
        (
            "backup",
            ResourceRecordSetFailover::Secondary,
            "backup.example.net",
        ),
    ] {
        account
            .create_record_set(
                &zone,
                cname(geo, value)
                    .set_identifier(id)
                    .failover(role)
                    .build()
                    .unwrap(),
            )
            .await;
    }
    account.write_app("geo", DNS_RELEASE, &spec(geo));
    let before = dns_state(&account, &zone, geo).await;
    let refused = account.cutover(&["deploy", "geo", "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains("failover (PRIMARY) record main"),
        "{}",
        show(&refused)
    );
    assert_eq!(dns_state(&account, &zone, geo).await, before);

    // A release name that is another app's stack: refused before the baseline is recorded.
    let www = "www.routing.example.com";
    account
        .create_plain_cname(&zone, www, "legacy-www.example.net")
        .await;
    account.write_app("www", DNS_RELEASE, &spec(www));
    account
        .cloudformation()
        .create_stack()
        .stack_name("www-r9")
        .template_body("Resources:\n  Topic: {Type: AWS::SNS::Topic}\n")
        .tags(
            aws_sdk_cloudformation::types::Tag::builder()
                .key("cutover:app")
                .value("www-admin")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let creates = account.creates();
    let refused = account.cutover(&["deploy", "www", "--release", "r9", "--adopt", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains("stack www-r9 already exists (a release of app www-admin"),
        "{}",
        show(&refused)
    );
    assert_eq!(account.creates(), creates);
    assert!(account.status("www")["baseline"].is_null());
}

/// An adopted weighted record is the operator's own: when retention lets the baseline go, the
/// record stays in the name at 0 (only the app stops counting it as its baseline); a record
/// nobody owns that joined the name takes the group's TTL, keeping its weight and value.
#[tokio::test]
async fn a_weighted_record_let_go_as_baseline_stays_in_the_name() {
    use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
    let account = Account::new("zone.yaml").await;
    let zone = account.output("base", "ZoneId").await;
    let name = "pay.routing.example.com";
    let weighted = |id: &str, weight: i64, value: &str| {
        ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::Cname)
            .ttl(300)
            .set_identifier(id)
            .weight(weight)
            .resource_records(ResourceRecord::builder().value(value).build().unwrap())
            .build()
            .unwrap()
    };
    account
        .create_record_set(&zone, weighted("legacy", 100, "legacy-pay.example.net"))
        .await;
    account
        .create_record_set(&zone, weighted("dr", 0, "dr-pay.example.net"))
        .await;
    account.write_app(
        "pay",
        DNS_RELEASE,
        &format!(
            "[router]\nkind = \"route53\"\nhosted_zone_id = {{ stack_output = \"base\", output = \"ZoneId\" }}\nrecord_name = \"{name}\"\nttl = 60\nendpoint_output = \"Endpoint\"\n\n[strategy]\nkind = \"all-at-once\"\nfinal_bake = \"0s\"\n\n[retention]\nkeep = 0\n"
        ),
    );
    let deployed = account.cutover(&["deploy", "pay", "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(deployed.status.code(), Some(0), "{}", show(&deployed));
    assert!(
        text(&deployed.stderr).contains("let the baseline go (weighted record legacy)"),
        "{}",
        show(&deployed)
    );
    let state = dns_state(&account, &zone, name).await;
    assert_eq!(
        state.get(&Some("legacy".to_string())),
        Some(&(Some(0), "legacy-pay.example.net".to_string())),
        "{state:?}"
    );
    assert_eq!(
        state.get(&Some("dr".to_string())),
        Some(&(Some(0), "dr-pay.example.net".to_string())),
        "{state:?}"
    );
    assert!(account.status("pay")["baseline"].is_null());
    // Every record of the group has the app's TTL now.
    let ttls: Vec<Option<i64>> = account
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .start_record_name(name)
        .send()
        .await
        .unwrap()
        .resource_record_sets()
        .iter()
        .filter(|set| set.name().trim_end_matches('.') == name)
        .map(|set| set.ttl())
        .collect();
    assert_eq!(ttls, vec![Some(60); 3], "{state:?}");
    // A later deploy leaves the let-go record alone (it is nobody's now).
    let next = account.cutover(&["deploy", "pay", "--release", "r2", "--yes"]);
    assert_eq!(next.status.code(), Some(0), "{}", show(&next));
    assert_eq!(
        dns_state(&account, &zone, name)
            .await
            .get(&Some("legacy".to_string())),
        Some(&(Some(0), "legacy-pay.example.net".to_string()))
    );
}

/// A region of the wrong shape from the environment (or a profile) is refused before any call,
/// as `--region` and `[aws] region` are when read.
#[tokio::test]
async fn an_availability_zone_given_as_the_region_is_named_before_any_call() {
    let account = Account::new("zone.yaml").await;
    account.write_app("web", DNS_RELEASE, "[router]\nkind = \"route53\"\nhosted_zone_id = \"Z1\"\nrecord_name = \"a.example.com\"\nendpoint_output = \"Endpoint\"\n");
    for command in [
        &["status", "web"][..],
        &["deploy", "web", "--release", "r1", "--yes"][..],
    ] {
        let refused = account.cutover_with_env(command, &[("AWS_REGION", "us-east-1a")]);
        assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
        assert!(
            text(&refused.stderr).contains(
                "`us-east-1a` is an availability zone, not a region: the region is `us-east-1`"
            ),
            "{}",
            show(&refused)
        );
    }
    assert_eq!(account.creates(), 1, "only the base stack");
}

#[tokio::test]
async fn what_the_router_and_gates_need_is_checked_before_any_stack_is_created() {
    let account = Account::new("onboard-alb.yaml").await;
    let listener = account.output("base", "ListenerArn").await;
    let before = account.listener_forward(&listener).await;
    let missing_rule = listener.replace(":listener/", ":listener-rule/") + "/0123456789abcdef";
    // What DescribeRules lists for the listener's default action: ModifyRule refuses it.
    let default_rule = account
        .elbv2()
        .describe_rules()
        .listener_arn(&listener)
        .send()
        .await
        .unwrap()
        .rules()
        .iter()
        .find(|rule| rule.is_default() == Some(true))
        .and_then(|rule| rule.rule_arn())
        .expect("the listener's default rule")
        .to_string();
    let zone = account
        .route53()
        .create_hosted_zone()
        .name("preflight.example.com")
        .caller_reference("preflight")
        .send()
        .await
        .unwrap()
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    // The output the router needs exists only in production; the spec leaves Env at staging.
    let conditional = ALB_RELEASE
        .replace(
            "Resources:",
            "Parameters:\n  Env: {Type: String, Default: staging}\nConditions:\n  IsProd: !Equals [!Ref Env, prod]\nResources:",
        )
        .replace(
            "TargetGroupArn: {Value: !Ref Group}",
            "TargetGroupArn: {Condition: IsProd, Value: !Ref Group}",
        );
    let cases: Vec<(String, &str, String)> = vec![
        (
            "a release output under a condition that is false".into(),
            &conditional,
            ALB_LISTENER.to_string(),
        ),
        (
            "misspelt listener output".into(),
            ALB_RELEASE,
            ALB_LISTENER.replace("\"ListenerArn\"", "\"ListenerARN\""),
        ),
        (
            "a rule that does not exist".into(),
            ALB_RELEASE,
            format!("[router]\nkind = \"alb\"\nrule = \"{missing_rule}\"\ntarget_group_output = \"TargetGroupArn\"\n"),
        ),
        (
            "the listener's default rule given as a rule".into(),
            ALB_RELEASE,
            format!("[router]\nkind = \"alb\"\nrule = \"{default_rule}\"\ntarget_group_output = \"TargetGroupArn\"\n"),
        ),
        (
            "a listener's ARN given as a rule".into(),
            ALB_RELEASE,
            format!("[router]\nkind = \"alb\"\nrule = \"{listener}\"\ntarget_group_output = \"TargetGroupArn\"\n"),
        ),
        (
            "a stack_output whose stack does not exist".into(),
            ALB_RELEASE,
            "[router]\nkind = \"alb\"\nrule = { stack_output = \"shared-alb-prod\", output = \"RuleArn\" }\ntarget_group_output = \"TargetGroupArn\"\n".into(),
        ),
        (
            "a record name outside its hosted zone".into(),
            DNS_RELEASE,
            format!("[router]\nkind = \"route53\"\nhosted_zone_id = \"{zone}\"\nrecord_name = \"api.example.org\"\nendpoint_output = \"Endpoint\"\n"),
        ),
        (
            "a hosted zone that does not exist".into(),
            DNS_RELEASE,
            "[router]\nkind = \"route53\"\nhosted_zone_id = \"Z0000000000NOPE\"\nrecord_name = \"x.example.com\"\nendpoint_output = \"Endpoint\"\n".into(),
        ),
        (
            "an Elastic IP that does not exist".into(),
            EIP_RELEASE,
            "[parameters]\nSubnetId = \"subnet-1\"\n[router]\nkind = \"eip\"\nallocation_id = \"eipalloc-0123456789abcdef0\"\ninstance_output = \"InstanceId\"\n".into(),
        ),
        (
            "an alarm that does not exist".into(),
            ALB_RELEASE,
            format!("{ALB_LISTENER}\n[gates]\nalarms = [\"no-such-alarm\"]\n"),
        ),
        (
            "a release output the template lacks".into(),
            ALB_RELEASE,
            ALB_LISTENER.replace("\"TargetGroupArn\"", "\"GroupArn\""),
        ),
        (
            "a gate output the template lacks".into(),
            ALB_RELEASE,
            format!("{ALB_LISTENER}\n[gates]\nhttp = {{ url_output = \"HealthUrl\" }}\n"),
        ),
    ];
    let expected = [
        "shop.yaml:14: output TargetGroupArn (router.target_group_output) is declared under Condition IsProd, which is false",
        "ListenerARN",
        "does not exist",
        "give that listener as `router.listener`",
        "that is a listener's ARN: give it as `router.listener`",
        "stack shared-alb-prod, named by router.rule, does not exist",
        "api.example.org is not in hosted zone",
        "does not exist",
        "eipalloc-0123456789abcdef0",
        "shop.toml:8:11: no CloudWatch alarm named no-such-alarm exists (gates.alarms)",
        "no output GroupArn",
        "no output HealthUrl",
    ];
    for ((case, template, spec), expected) in cases.into_iter().zip(expected) {
        account.write_app("shop", template, &spec);
        for extra in [&[][..], &["--adopt"][..]] {
            let mut args = vec!["deploy", "shop", "--release", "r1", "--yes"];
            args.extend_from_slice(extra);
            let refused = account.cutover(&args);
            assert_eq!(refused.status.code(), Some(2), "{case}: {}", show(&refused));
            assert!(
                text(&refused.stderr).contains(expected),
                "{case}: expected {expected:?}: {}",
                show(&refused)
            );
        }
    }
    assert_eq!(account.creates(), 1, "only the base stack");
    assert_eq!(account.stack_names().await, ["base"]);
    assert_eq!(account.listener_forward(&listener).await, before);
}
