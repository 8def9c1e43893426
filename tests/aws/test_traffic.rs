//! Proving the candidate before production traffic (`[router.test_traffic]`, `deploy --hold`,
//! `promote`, `abort`) and judging it against the live release (`[gates.compare]`), the real
//! binary against moto, on a load balancer two apps share (the routing tests' `shared-alb`
//! world: `web` on a host rule at priority 10, `api` on a path rule at 20, a 404 default).
//!
//! What the listener holds at the moment the gates run before the first step is recorded by the
//! gate itself: its command is a small boto3 script that appends the listener's rules to a file.
//! The comparison gate reads CloudWatch metrics the test seeds with PutMetricData (moto serves
//! GetMetricData over them; it has no percentile statistics, so the seeded metric is a 5xx rate).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};

use crate::routing::world::{show, text, watch_then, Account, ALB_RELEASE};

/// One listener rule: priority, its header conditions (name=values), the groups it forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SeenRule {
    priority: String,
    headers: Vec<String>,
    forward: BTreeMap<String, i32>,
}

async fn rules(account: &Account, listener: &str) -> Vec<SeenRule> {
    let described = account
        .elbv2()
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .expect("describe_rules");
    described
        .rules()
        .iter()
        .map(|rule| SeenRule {
            priority: rule.priority().unwrap_or_default().to_string(),
            headers: rule
                .conditions()
                .iter()
                .filter_map(|condition| condition.http_header_config())
                .map(|config| {
                    format!(
                        "{}={}",
                        config.http_header_name().unwrap_or_default(),
                        config.values().join("|")
                    )
                })
                .collect(),
            forward: rule
                .actions()
                .iter()
                .flat_map(|action| {
                    let mut groups: Vec<(String, i32)> = action
                        .forward_config()
                        .map(|config| {
                            config
                                .target_groups()
                                .iter()
                                .map(|group| {
                                    (
                                        group.target_group_arn().unwrap_or_default().to_string(),
                                        group.weight().unwrap_or(1),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    if let Some(arn) = action.target_group_arn() {
                        groups.push((arn.to_string(), 1));
                    }
                    groups
                })
                .collect(),
        })
        .collect()
}

fn test_rules(rules: &[SeenRule]) -> Vec<&SeenRule> {
    rules
        .iter()
        .filter(|rule| {
            rule.headers
                .iter()
                .any(|header| header.starts_with("X-Release="))
        })
        .collect()
}

/// A gate command that records the listener's rules (one JSON line per check) and passes.
fn recorder(dir: &Path, listener: &str) -> (String, PathBuf) {
    let script = dir.join("record.py");
    let log = dir.join("rules.jsonl");
    std::fs::write(
        &script,
        format!(
            "import boto3, json, os\n\
             rules = boto3.client('elbv2', region_name=os.environ.get('AWS_REGION', 'us-east-1')).describe_rules(ListenerArn='{listener}')['Rules']\n\
             seen = [{{'priority': r['Priority'], 'headers': [c['HttpHeaderConfig']['HttpHeaderName'] + '=' + '|'.join(c['HttpHeaderConfig']['Values']) for c in r.get('Conditions', []) if 'HttpHeaderConfig' in c]}} for r in rules]\n\
             open('{log}', 'a').write(json.dumps({{'header': os.environ.get('CUTOVER_TEST_HEADER'), 'rules': seen}}) + '\\n')\n",
            log = log.display()
        ),
    )
    .unwrap();
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    (format!("{} {}", python.display(), script.display()), log)
}

fn web_spec(strategy_and_gates: &str, test_traffic: &str) -> String {
    format!(
        "[router]\nkind = \"alb\"\nrule = {{ stack_output = \"base\", output = \"WebRuleArn\" }}\ntarget_group_output = \"TargetGroupArn\"\n{test_traffic}\n{strategy_and_gates}\n[retention]\nkeep = 1\n"
    )
}

const TEST_TRAFFIC: &str = "[router.test_traffic]\nheader = \"X-Release\"\n";

fn canary_with(command: &str) -> String {
    format!(
        "[strategy]\nkind = \"canary\"\npercent = 10\nbake = \"1s\"\nfinal_bake = \"0s\"\n\n[gates]\ncommand = \"{command}\"\ninterval = \"1s\"\nwarmup = \"0s\"\n"
    )
}

/// The shared world with web's first release r1 live (adopted from the legacy service).
async fn with_web_r1(strategy_and_gates: &str) -> (Account, String) {
    let account = Account::new("shared-alb.yaml").await;
    let listener = account.output("base", "ListenerArn").await;
    account.write_app(
        "web",
        ALB_RELEASE,
        &web_spec("[strategy]\nkind = \"all-at-once\"\n", ""),
    );
    let first = account.cutover(&["deploy", "web", "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    account.write_app(
        "web",
        ALB_RELEASE,
        &web_spec(strategy_and_gates, TEST_TRAFFIC),
    );
    (account, listener)
}

#[tokio::test]
async fn the_test_rule_is_up_before_the_first_step_and_gone_when_the_cutover_completes() {
    let scratch = tempfile::tempdir().unwrap();
    let account = Account::new("shared-alb.yaml").await;
    let listener = account.output("base", "ListenerArn").await;
    let (command, log) = recorder(scratch.path(), &listener);
    account.write_app(
        "web",
        ALB_RELEASE,
        &web_spec("[strategy]\nkind = \"all-at-once\"\n", ""),
    );
    let first = account.cutover(&["deploy", "web", "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    account.write_app(
        "web",
        ALB_RELEASE,
        &web_spec(&canary_with(&command), TEST_TRAFFIC),
    );
    let web_rule = account.output("base", "WebRuleArn").await;
    let api_rule = account.output("base", "ApiRuleArn").await;
    let api_before = account.rule(&api_rule).await;
    let web_before = account.rule(&web_rule).await;

    let deployed = account.cutover(&["deploy", "web", "--release", "r2", "--yes"]);
    assert_eq!(deployed.status.code(), Some(0), "{}", show(&deployed));
    let said = text(&deployed.stderr);
    assert!(
        said.contains("test route up: requests with `X-Release: r2` reach web-r2"),
        "{}",
        show(&deployed)
    );
    assert!(said.contains("test route down"), "{}", show(&deployed));

    // The first check (before any production traffic): the test rule at priority 9 (just above
    // web's rule at 10), with the header, and the gate got the header.
    let first_check: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first_check["header"], "X-Release: r2", "{first_check}");
    let test_rule = first_check["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["headers"] == serde_json::json!(["X-Release=r2"]))
        .unwrap_or_else(|| panic!("no test rule: {first_check}"));
    assert_eq!(test_rule["priority"], "9");

    // After: no test rule, web's rule on r2 alone, api's rule untouched.
    let after = rules(&account, &listener).await;
    assert!(test_rules(&after).is_empty(), "{after:?}");
    let r2_group = account.output("web-r2", "TargetGroupArn").await;
    let web_after = account.rule(&web_rule).await;
    assert_eq!(
        web_after.forward.get(&r2_group),
        Some(&100),
        "{web_after:?}"
    );
    assert_eq!(web_after.conditions, web_before.conditions);
    assert_eq!(web_after.priority, web_before.priority);
    assert_eq!(account.rule(&api_rule).await, api_before);
}

#[tokio::test]
async fn hold_leaves_production_untouched_with_the_test_rule_up_then_promote_completes() {
    let (account, listener) = with_web_r1(&canary_with("true")).await;
    let web_rule = account.output("base", "WebRuleArn").await;
    let production = account.rule(&web_rule).await;

    let held = account.cutover(&["deploy", "web", "--release", "r2", "--hold", "--yes"]);
    assert_eq!(held.status.code(), Some(0), "{}", show(&held));
    assert!(
        text(&held.stderr).contains("cutover promote web"),
        "{}",
        show(&held)
    );
    let r2_group = account.output("web-r2", "TargetGroupArn").await;
    let now = rules(&account, &listener).await;
    let up = test_rules(&now);
    assert_eq!(up.len(), 1, "{now:?}");
    assert_eq!(
        up[0].forward,
        BTreeMap::from([(r2_group.clone(), 1)]),
        "to the candidate only"
    );
    assert_eq!(up[0].headers, ["X-Release=r2"]);
    assert_eq!(
        account.rule(&web_rule).await,
        production,
        "production untouched"
    );
    // A second deploy while one is held is refused before anything is created.
    let creates = account.creates();
    let refused = account.cutover(&["deploy", "web", "--release", "r3", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains("web-r2 of app web is held"),
        "{}",
        show(&refused)
    );
    assert_eq!(account.creates(), creates);
    let status = account.cutover(&["status", "web"]);
    assert!(
        text(&status.stdout).contains("held: web-r2 on its test route (`X-Release: r2`)"),
        "{}",
        show(&status)
    );
    assert_eq!(account.status("web")["held"]["candidate"], "web-r2");
    // resume says what is held and changes nothing.
    let resume = account.cutover(&["resume", "web", "--yes"]);
    assert_eq!(resume.status.code(), Some(0), "{}", show(&resume));
    assert!(
        text(&resume.stderr).contains("is held on its test route"),
        "{}",
        show(&resume)
    );

    let promoted = account.cutover(&["promote", "web", "--yes"]);
    assert_eq!(promoted.status.code(), Some(0), "{}", show(&promoted));
    assert!(
        text(&promoted.stdout).contains("cutover complete"),
        "{}",
        show(&promoted)
    );
    assert!(test_rules(&rules(&account, &listener).await).is_empty());
    assert_eq!(
        account.rule(&web_rule).await.forward.get(&r2_group),
        Some(&100)
    );
    let again = account.cutover(&["promote", "web", "--yes"]);
    assert_eq!(again.status.code(), Some(2), "{}", show(&again));
    assert!(text(&again.stderr).contains("no release of app web is held"));
}

#[tokio::test]
async fn hold_then_abort_takes_the_test_rule_down_and_never_moves_production() {
    let (account, listener) = with_web_r1(&canary_with("true")).await;
    let web_rule = account.output("base", "WebRuleArn").await;
    let production = account.rule(&web_rule).await;
    let held = account.cutover(&["deploy", "web", "--release", "r2", "--hold", "--yes"]);
    assert_eq!(held.status.code(), Some(0), "{}", show(&held));
    assert_eq!(test_rules(&rules(&account, &listener).await).len(), 1);

    let aborted = account.cutover(&["abort", "web", "--yes"]);
    assert_eq!(aborted.status.code(), Some(0), "{}", show(&aborted));
    assert!(
        text(&aborted.stdout).contains("aborted web-r2"),
        "{}",
        show(&aborted)
    );
    assert!(test_rules(&rules(&account, &listener).await).is_empty());
    assert_eq!(
        account.rule(&web_rule).await,
        production,
        "production never moved"
    );
    let status = account.status("web");
    let r2 = status["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|release| release["stack"] == "web-r2")
        .cloned()
        .unwrap_or_default();
    assert!(
        r2.is_null() || r2["role"] == "failed",
        "aborted release is failed or retired: {status}"
    );
}

#[tokio::test]
async fn a_failing_gate_on_the_test_route_abandons_with_no_production_traffic_and_takes_it_down() {
    let (account, listener) = with_web_r1(&canary_with("exit 1")).await;
    let web_rule = account.output("base", "WebRuleArn").await;
    let production = account.rule(&web_rule).await;
    let deployed = account.cutover(&["deploy", "web", "--release", "r2", "--yes"]);
    assert_eq!(deployed.status.code(), Some(1), "{}", show(&deployed));
    assert!(
        text(&deployed.stdout).contains("candidate abandoned before taking traffic"),
        "{}",
        show(&deployed)
    );
    assert!(test_rules(&rules(&account, &listener).await).is_empty());
    assert_eq!(account.rule(&web_rule).await, production);
}

#[tokio::test]
async fn a_run_killed_with_the_test_rule_up_is_finished_by_resume_and_the_rule_goes() {
    let (account, listener) = with_web_r1(&canary_with("sleep 60")).await;
    let web_rule = account.output("base", "WebRuleArn").await;
    let mut doomed = account.spawn(&["deploy", "web", "--release", "r2", "--yes"]);
    let deadline = SystemTime::now() + Duration::from_secs(60);
    while test_rules(&rules(&account, &listener).await).is_empty() {
        assert!(SystemTime::now() < deadline, "the test rule never came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    doomed.kill().unwrap();
    let _ = doomed.wait();
    assert_eq!(test_rules(&rules(&account, &listener).await).len(), 1);

    let unlock = account.cutover(&["unlock", "web", "--yes"]);
    assert_eq!(unlock.status.code(), Some(0), "{}", show(&unlock));
    account.write_app(
        "web",
        ALB_RELEASE,
        &web_spec(&canary_with("true"), TEST_TRAFFIC),
    );
    let resumed = account.cutover(&["resume", "web", "--yes"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", show(&resumed));
    assert!(test_rules(&rules(&account, &listener).await).is_empty());
    // Consistent: all of web's traffic on one release, r2.
    let r2_group = account.output("web-r2", "TargetGroupArn").await;
    let forward = account.rule(&web_rule).await.forward;
    let with_traffic: Vec<&String> = forward
        .iter()
        .filter(|(_, weight)| **weight > 0)
        .map(|(group, _)| group)
        .collect();
    assert_eq!(with_traffic, [&r2_group], "{forward:?}");
}

#[tokio::test]
async fn bad_test_traffic_input_is_refused_before_anything_is_created() {
    let (account, _) = with_web_r1(&canary_with("true")).await;
    let creates = account.creates();
    // api's rule holds priority 20.
    account.write_app(
        "web",
        ALB_RELEASE,
        &web_spec(
            &canary_with("true"),
            "[router.test_traffic]\nheader = \"X-Release\"\npriority = 20\n",
        ),
    );
    let taken = account.cutover(&["deploy", "web", "--release", "r2", "--yes"]);
    assert_eq!(taken.status.code(), Some(2), "{}", show(&taken));
    assert!(
        text(&taken.stderr).contains("priority 20 is taken"),
        "{}",
        show(&taken)
    );
    // --hold without a test route.
    account.write_app("web", ALB_RELEASE, &web_spec(&canary_with("true"), ""));
    let hold = account.cutover(&["deploy", "web", "--release", "r2", "--hold", "--yes"]);
    assert_eq!(hold.status.code(), Some(2), "{}", show(&hold));
    assert!(text(&hold.stderr).contains("--hold needs [router.test_traffic]"));
    assert_eq!(account.creates(), creates, "nothing created");
}

/// Records one datapoint of a target group's metric, now (CloudWatch stamps it on the minute).
async fn seed(account: &Account, group: &str, load_balancer: &str, metric: &str, value: f64) {
    let client = aws_sdk_cloudwatch::Client::new(&account.sdk);
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let group = group[group.find("targetgroup/").unwrap()..].to_string();
    client
        .put_metric_data()
        .namespace("AWS/ApplicationELB")
        .metric_data(
            MetricDatum::builder()
                .metric_name(metric)
                .dimensions(dimension("TargetGroup", &group))
                .dimensions(dimension("LoadBalancer", load_balancer))
                .timestamp(DateTime::from(SystemTime::now()))
                .value(value)
                .build(),
        )
        .send()
        .await
        .expect("put_metric_data");
}

const COMPARE: &str = "[strategy]\nkind = \"canary\"\npercent = 10\nbake = \"8s\"\nfinal_bake = \"0s\"\n\n[gates]\ninterval = \"1s\"\nwarmup = \"0s\"\n\n[gates.compare]\nwindow = \"10m\"\nmetrics = [{ name = \"HTTPCode_Target_5XX_Count\", tolerance = 0.005 }]\n";

/// web-r1 live, web-r2 held then promoted; once the canary step is on the listener (production
/// traffic), the requests and 5xx of that minute are recorded for both, as ALB would publish
/// them.
async fn compared(
    candidate_5xx: f64,
    live_5xx: f64,
    requests: f64,
) -> (Account, std::process::Output) {
    let (account, listener) = with_web_r1(COMPARE).await;
    let held = account.cutover(&["deploy", "web", "--release", "r2", "--hold", "--yes"]);
    assert_eq!(held.status.code(), Some(0), "{}", show(&held));
    let load_balancer = {
        let start = listener.find("/app/").unwrap() + 1;
        listener[start..]
            .split('/')
            .take(3)
            .collect::<Vec<_>>()
            .join("/")
    };
    let web_rule = account.output("base", "WebRuleArn").await;
    let r1 = account.output("web-r1", "TargetGroupArn").await;
    let r2 = account.output("web-r2", "TargetGroupArn").await;
    let promote = account.spawn(&["promote", "web", "--yes"]);
    let candidate_group = r2.clone();
    let (promoted, _) = watch_then(
        promote,
        async || account.rule(&web_rule).await.forward,
        |forward| forward.get(&candidate_group) == Some(&10),
        async || {
            for (group, errors, count) in [
                (&r2, candidate_5xx, requests),
                (&r1, live_5xx, requests * 9.0),
            ] {
                seed(&account, group, &load_balancer, "RequestCount", count).await;
                seed(
                    &account,
                    group,
                    &load_balancer,
                    "HTTPCode_Target_5XX_Count",
                    errors,
                )
                .await;
            }
        },
    )
    .await;
    (account, promoted)
}

#[tokio::test]
async fn a_candidate_with_a_clearly_higher_5xx_rate_is_shifted_back_and_the_verdict_says_why() {
    let (account, promoted) = compared(60.0, 90.0, 1000.0).await;
    assert_eq!(promoted.status.code(), Some(1), "{}", show(&promoted));
    let said = format!("{}{}", text(&promoted.stdout), text(&promoted.stderr));
    assert!(said.contains("shifted back"), "{}", show(&promoted));
    for part in [
        "compare failed: worse than web-r1",
        "HTTPCode_Target_5XX_Count per request: candidate 6.00% (1000 requests) vs live 1.00% (9000 requests)",
        "one-sided two-proportion z-test p = ",
        "over the last ",
    ] {
        assert!(said.contains(part), "{part}: {}", show(&promoted));
    }
    // Before the first step the gate waited for production traffic.
    assert!(
        said.contains("no production traffic yet"),
        "{}",
        show(&promoted)
    );
    let r1 = account.output("web-r1", "TargetGroupArn").await;
    let web_rule = account.output("base", "WebRuleArn").await;
    assert_eq!(account.rule(&web_rule).await.forward.get(&r1), Some(&100));
}

#[tokio::test]
async fn an_equal_candidate_proceeds_and_the_pass_explains_itself() {
    let (_account, promoted) = compared(10.0, 90.0, 1000.0).await;
    assert_eq!(promoted.status.code(), Some(0), "{}", show(&promoted));
    let said = text(&promoted.stderr);
    assert!(
        said.contains("compare: vs web-r1: HTTPCode_Target_5XX_Count per request: candidate 1.00%"),
        "{said}"
    );
    assert!(
        said.contains("not worse: one-sided two-proportion z-test"),
        "{said}"
    );
}

#[tokio::test]
async fn too_few_requests_say_so_and_pass_within_the_warm_up() {
    let (_account, promoted) = compared(1.0, 0.0, 10.0).await;
    assert_eq!(promoted.status.code(), Some(0), "{}", show(&promoted));
    let said = text(&promoted.stderr);
    assert!(said.contains("not enough data yet"), "{said}");
    assert!(
        said.contains("needs at least 100 requests on each side"),
        "{said}"
    );
}
