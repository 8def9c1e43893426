//! `cutover deploy` end to end: the real binary against moto through the fault proxy. Each test
//! has its own account (proxy) and its own app under a temporary stacks folder. A deploy goes all
//! the way: create the release stack, wait for it, move the base stack's ALB listener to it (all
//! at once), apply retention. Tests that reach AWS get the long-lived base stack first (created
//! with the SDK from `tests/fixtures/routers/alb-base.yaml`); the listener is read back with the
//! ELBv2 SDK, not through cutover's router.
//!
//! moto never fails a stack by itself, so the failure paths use the proxy's `fail_stack`, which
//! rewrites the stack's status and events as CloudFormation would show them.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::support::{
    fresh_account, moto_endpoint, run_cutover, sdk_config, sdk_env, FailMode, FaultProxy,
};

const TEMPLATE: &str = r#"
Parameters:
  Env: {Type: String}
  Secret: {Type: String, NoEcho: true}
  Cidr: {Type: String, Default: 10.0.0.0/16}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: !Ref Cidr}
  Sg:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: !Sub "web ${Env}", VpcId: !Ref Vpc}
  TargetGroup:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Port: 80, Protocol: HTTP, VpcId: !Ref Vpc}
Outputs:
  VpcId: {Value: !Ref Vpc}
  TargetGroupArn: {Value: !Ref TargetGroup}
"#;

/// The long-lived stack holding the listener every release of the app is weighted into.
const BASE_STACK: &str = "base";

const SPEC: &str = r#"
template = "../templates/app.yaml"
[parameters]
Env = "prod"
Secret = "hunter2-do-not-print"
[tags]
team = "storefront"
[stack]
termination_protection = true
[router]
kind = "alb"
listener = { stack_output = "base", output = "ListenerArn" }
target_group_output = "TargetGroupArn"
[strategy]
kind = "all-at-once"
final_bake = "0s"
[retention]
keep = 1
"#;

const SECRET: &str = "hunter2-do-not-print";

struct App {
    dir: tempfile::TempDir,
    name: String,
    proxy: FaultProxy,
}

impl App {
    /// An app in a fresh account that holds the base stack (ALB and listener).
    async fn new(name: &str) -> App {
        App::with_base_stack(name, SPEC, TEMPLATE).await
    }

    /// The same with its own spec and template.
    async fn with_base_stack(name: &str, spec: &str, template: &str) -> App {
        let app = App::with(name, spec, template);
        let base = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/routers/alb-base.yaml"),
        )
        .unwrap();
        app.client()
            .await
            .create_stack()
            .stack_name(BASE_STACK)
            .template_body(base)
            .send()
            .await
            .expect("create the base stack");
        app
    }

    /// An app in a fresh, empty account: for the runs that must stop before any AWS call.
    fn with(name: &str, spec: &str, template: &str) -> App {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join(format!("stacks/{name}.toml")), spec).unwrap();
        std::fs::write(dir.path().join("templates/app.yaml"), template).unwrap();
        App {
            dir,
            name: name.to_string(),
            proxy: FaultProxy::start(moto_endpoint(), &fresh_account()),
        }
    }

    fn template_path(&self) -> std::path::PathBuf {
        self.dir.path().join("templates/app.yaml")
    }

    fn deploy(&self, extra: &[&str]) -> Output {
        self.deploy_at(self.proxy.url(), extra)
    }

    fn deploy_at(&self, endpoint: &str, extra: &[&str]) -> Output {
        let stacks = self.dir.path().join("stacks");
        let mut args: Vec<&str> = vec![
            "--stacks-dir",
            stacks.to_str().unwrap(),
            "deploy",
            &self.name,
        ];
        args.extend_from_slice(extra);
        run_cutover(args, &sdk_env(endpoint))
    }

    async fn client(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&sdk_config(self.proxy.url()).await)
    }

    async fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config(self.proxy.url()).await)
    }

    /// Live stacks of this account but the base stack: name → status.
    async fn stacks(&self) -> HashMap<String, String> {
        let client = self.client().await;
        let listed = client
            .describe_stacks()
            .send()
            .await
            .expect("describe_stacks");
        listed
            .stacks()
            .iter()
            .filter(|stack| stack.stack_status().map(|s| s.as_str()) != Some("DELETE_COMPLETE"))
            .filter(|stack| stack.stack_name() != Some(BASE_STACK))
            .map(|stack| {
                (
                    stack.stack_name().unwrap_or_default().to_string(),
                    stack
                        .stack_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    async fn describe(&self, stack: &str) -> aws_sdk_cloudformation::types::Stack {
        let client = self.client().await;
        let output = client
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .expect("describe_stacks");
        output.stacks()[0].clone()
    }

    async fn output(&self, stack: &str, key: &str) -> String {
        let stack = self.describe(stack).await;
        stack
            .outputs()
            .iter()
            .find(|output| output.output_key() == Some(key))
            .and_then(|output| output.output_value())
            .unwrap_or_else(|| panic!("{:?} has output {key}", stack.stack_name()))
            .to_string()
    }

    /// The base listener's forward weights as ELBv2 holds them, by release stack (a target
    /// group of no listed stack by its ARN).
    async fn weights(&self, stacks: &[&str]) -> BTreeMap<String, i32> {
        let listener = self.output(BASE_STACK, "ListenerArn").await;
        let mut by_arn = crate::support::listener_weights(&self.elbv2().await, &listener).await;
        let mut by_stack = BTreeMap::new();
        for stack in stacks {
            let arn = self.output(stack, "TargetGroupArn").await;
            if let Some(weight) = by_arn.remove(&arn) {
                by_stack.insert(stack.to_string(), weight);
            }
        }
        by_stack.extend(by_arn);
        by_stack
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

fn tags(stack: &aws_sdk_cloudformation::types::Stack) -> HashMap<String, String> {
    stack
        .tags()
        .iter()
        .map(|tag| {
            (
                tag.key().unwrap_or_default().to_string(),
                tag.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn assert_no_secret(output: &Output) {
    assert!(
        !text(&output.stdout).contains(SECRET) && !text(&output.stderr).contains(SECRET),
        "{}",
        show(output)
    );
}

#[tokio::test]
async fn first_release_creates_a_stack_with_all_tags_and_parameters() {
    let app = App::new("first").await;
    let output = app.deploy(&["--release", "r1", "--yes"]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    assert_no_secret(&output);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("first release: everything is added"),
        "{stdout}"
    );
    assert!(stdout.contains("Stack first-r1 is healthy"), "{stdout}");
    assert!(
        stdout.contains("cutover complete: first-r1 100%"),
        "{stdout}"
    );
    // Events stream on stderr as timestamped lines (not a terminal here).
    assert!(
        text(&output.stderr)
            .contains("first-r1 AWS::CloudFormation::Stack first-r1 CREATE_COMPLETE"),
        "{}",
        show(&output)
    );

    let stack = app.describe("first-r1").await;
    assert_eq!(stack.stack_status().unwrap().as_str(), "CREATE_COMPLETE");
    let tags = tags(&stack);
    let body = std::fs::read(app.template_path()).unwrap();
    let sha: String = Sha256::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(tags["team"], "storefront");
    assert_eq!(tags["cutover:app"], "first");
    assert_eq!(tags["cutover:release"], "r1");
    assert_eq!(tags["cutover:role"], "candidate");
    assert_eq!(tags["cutover:template-sha256"], sha);
    assert_eq!(tags["cutover:tool-version"], env!("CARGO_PKG_VERSION"));
    assert!(
        humantime::parse_rfc3339(&tags["cutover:created"]).is_ok(),
        "{tags:?}"
    );
    let parameters: HashMap<&str, &str> = stack
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap(),
                p.parameter_value().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(parameters["Env"], "prod");
    assert!(parameters.contains_key("Secret"));
    assert_eq!(stack.enable_termination_protection(), Some(true));
    assert_eq!(app.stacks().await.len(), 1);
    assert_eq!(
        app.weights(&["first-r1"]).await,
        BTreeMap::from([("first-r1".to_string(), 100)]),
        "the listener forwards everything to r1's target group"
    );
}

#[tokio::test]
async fn second_release_is_a_second_stack_and_the_first_is_untouched() {
    let app = App::new("second").await;
    let first = app.deploy(&["--release", "r1", "--yes"]);
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    let before = app.describe("second-r1").await;
    assert_eq!(
        app.weights(&["second-r1"]).await,
        BTreeMap::from([("second-r1".to_string(), 100)])
    );

    std::fs::write(
        app.template_path(),
        TEMPLATE.replace("web ${Env}", "web v2 ${Env}"),
    )
    .unwrap();
    let second = app.deploy(&["--release", "r2", "--yes"]);
    assert_eq!(second.status.code(), Some(0), "{}", show(&second));
    let stdout = text(&second.stdout);
    assert!(stdout.contains("changes against second-r1"), "{stdout}");
    assert!(
        stdout.contains("Sg"),
        "the diff names the changed resource: {stdout}"
    );

    let stacks = app.stacks().await;
    assert_eq!(stacks.len(), 2, "{stacks:?}");
    assert_eq!(stacks["second-r2"], "CREATE_COMPLETE");
    let after = app.describe("second-r1").await;
    assert_eq!(after.stack_status(), before.stack_status());
    assert_eq!(tags(&after), tags(&before));
    assert_eq!(after.last_updated_time(), before.last_updated_time());
    // `keep = 1`: r1 stays behind the listener at weight 0, for an instant rollback.
    assert_eq!(
        app.weights(&["second-r1", "second-r2"]).await,
        BTreeMap::from([("second-r1".to_string(), 0), ("second-r2".to_string(), 100)]),
        "{}",
        show(&second)
    );
    let said = format!("{}{}", text(&second.stdout), text(&second.stderr));
    assert!(!said.contains("retired second-r1"), "{}", show(&second));
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let app = App::new("dry").await;
    let first = app.deploy(&["--release", "r1", "--yes"]);
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    let before = app.stacks().await;
    let weights_before = app.weights(&["dry-r1"]).await;
    assert_eq!(
        weights_before,
        BTreeMap::from([("dry-r1".to_string(), 100)])
    );
    let by_action = app.proxy.requests_by_action();
    let changes_before: Vec<Option<usize>> = CHANGING_ACTIONS
        .iter()
        .map(|action| by_action.get(*action).copied())
        .collect();

    let output = app.deploy(&["--release", "r2", "--dry-run", "--output", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    assert_no_secret(&output);
    let plan: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object on stdout");
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["plan"]["stack"], "dry-r2");
    assert_eq!(plan["plan"]["previous"]["stack"], "dry-r1");
    assert_eq!(plan["plan"]["parameters"]["Secret"], "****");

    assert_eq!(app.stacks().await, before);
    assert_eq!(app.weights(&["dry-r1"]).await, weights_before);
    let by_action = app.proxy.requests_by_action();
    let changes_after: Vec<Option<usize>> = CHANGING_ACTIONS
        .iter()
        .map(|action| by_action.get(*action).copied())
        .collect();
    assert_eq!(changes_after, changes_before, "{CHANGING_ACTIONS:?}");
}

/// The calls a deploy makes to change anything: the stack, the listener, tags, the lock.
const CHANGING_ACTIONS: &[&str] = &[
    "CreateStack",
    "UpdateStack",
    "DeleteStack",
    "ModifyListener",
    "PutParameter",
    "DeleteParameter",
];

#[tokio::test]
async fn without_yes_and_without_a_terminal_it_refuses() {
    let app = App::new("noyes").await;
    let output = app.deploy(&["--release", "r1"]);
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(text(&output.stderr).contains("--yes"), "{}", show(&output));
    assert!(app.stacks().await.is_empty());
}

async fn assert_failure_reported_and_cleaned(app: &App, output: &Output, stack: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", show(output));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("stack {stack} failed to create")),
        "{stderr}"
    );
    assert!(
        stderr.contains("Sg (AWS::EC2::SecurityGroup) CREATE_FAILED: quota of groups exceeded"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the failed stack was deleted; traffic was not touched"),
        "{stderr}"
    );
    assert!(app.stacks().await.is_empty(), "{:?}", app.stacks().await);
    assert_eq!(
        app.proxy.requests_by_action().get("DeleteStack").copied(),
        Some(1)
    );
}

#[tokio::test]
async fn create_failed_is_reported_with_its_root_cause_and_deleted() {
    let app = App::new("failing").await;
    app.proxy.fail_stack(
        "failing-r1",
        FailMode::CreateFailed {
            resource: "Sg".into(),
            reason: "quota of groups exceeded".into(),
        },
    );
    let output = app.deploy(&["--release", "r1", "--yes"]);
    assert_failure_reported_and_cleaned(&app, &output, "failing-r1").await;
    assert!(
        text(&output.stderr).contains("(CREATE_FAILED)"),
        "{}",
        show(&output)
    );
}

#[tokio::test]
async fn rollback_complete_is_reported_with_its_root_cause_and_deleted() {
    let app = App::new("rolled").await;
    app.proxy.fail_stack(
        "rolled-r1",
        FailMode::RollbackComplete {
            resource: "Sg".into(),
            reason: "quota of groups exceeded".into(),
        },
    );
    let output = app.deploy(&["--release", "r1", "--yes", "--output", "json"]);
    assert_failure_reported_and_cleaned(&app, &output, "rolled-r1").await;
    let result: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("a final JSON object");
    assert_eq!(result["result"], "failed");
    assert_eq!(result["cleanup"], "deleted");
    assert_eq!(result["traffic_moved"], false);
}

#[tokio::test]
async fn keep_failed_keeps_the_stack() {
    let app = App::new("kept").await;
    app.proxy.fail_stack(
        "kept-r1",
        FailMode::CreateFailed {
            resource: "Sg".into(),
            reason: "quota of groups exceeded".into(),
        },
    );
    let output = app.deploy(&["--release", "r1", "--yes", "--keep-failed"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(
        text(&output.stderr).contains("kept for inspection"),
        "{}",
        show(&output)
    );
    assert_eq!(
        app.stacks().await.get("kept-r1").map(String::as_str),
        Some("CREATE_FAILED")
    );
    assert_eq!(app.proxy.requests_by_action().get("DeleteStack"), None);
}

#[tokio::test]
async fn throttling_and_server_errors_during_the_wait_still_succeed_with_one_stack() {
    let app = App::new("throttled").await;
    // The calls of the create and the wait; the SDK's retries add to them.
    app.proxy
        .only_actions(&["CreateStack", "DescribeStacks", "DescribeStackEvents"]);
    app.proxy.set_throttle_rate(0.2);
    app.proxy.set_server_error_rate(0.25);
    let output = app.deploy(&["--release", "r1", "--yes"]);
    let (throttled, failed) = (app.proxy.throttled(), app.proxy.server_errors());
    app.proxy.set_throttle_rate(0.0);
    app.proxy.set_server_error_rate(0.0);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    assert!(
        throttled > 0,
        "the proxy throttled nothing: {:?}",
        app.proxy.requests_by_action()
    );
    assert!(
        failed > 0,
        "no 5xx injected: {:?}",
        app.proxy.requests_by_action()
    );
    eprintln!(
        "{throttled} throttled, {failed} server errors: {:?}",
        app.proxy.requests_by_action()
    );
    let stacks = app.stacks().await;
    assert_eq!(stacks.len(), 1, "{stacks:?}");
    assert_eq!(stacks["throttled-r1"], "CREATE_COMPLETE");
    assert_eq!(
        app.weights(&["throttled-r1"]).await,
        BTreeMap::from([("throttled-r1".to_string(), 100)])
    );
}

/// moto finishes every stack at once and the proxy cannot hold one in CREATE_IN_PROGRESS, so
/// the status polls are made slower than the timeout: cutover gives up waiting, says so, and
/// deletes the unfinished stack.
#[tokio::test]
async fn a_timeout_is_reported_clearly_and_the_stack_deleted() {
    let app = App::new("slow").await;
    app.proxy.only_actions(&["DescribeStacks"]);
    app.proxy.set_latency(Duration::from_secs(4));
    let output = app.deploy(&["--release", "r1", "--yes", "--timeout", "3s"]);
    app.proxy.set_latency(Duration::ZERO);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("gave up waiting for stack slow-r1 after 3s"),
        "{stderr}"
    );
    assert!(stderr.contains("the failed stack was deleted"), "{stderr}");
    assert!(app.stacks().await.is_empty());
}

fn assert_refused_without_aws(app: &App, output: &Output, needle: &str) {
    assert_eq!(output.status.code(), Some(2), "{}", show(output));
    assert!(
        text(&output.stderr).contains(needle),
        "expected {needle:?}: {}",
        show(output)
    );
    assert_eq!(
        app.proxy.requests_seen(),
        0,
        "no AWS call: {:?}",
        app.proxy.requests_by_action()
    );
}

#[tokio::test]
async fn an_invalid_release_label_is_refused_before_any_call() {
    let app = App::with("badlabel", SPEC, TEMPLATE);
    let output = app.deploy(&["--release", "r_1!", "--yes"]);
    assert_refused_without_aws(&app, &output, "invalid release id \"r_1!\"");
}

#[tokio::test]
async fn a_missing_parameter_is_named_before_any_call() {
    let app = App::with("missing", &SPEC.replace("Env = \"prod\"\n", ""), TEMPLATE);
    let output = app.deploy(&["--release", "r1", "--yes"]);
    assert_refused_without_aws(&app, &output, "Env");
}

#[tokio::test]
async fn a_template_over_the_inline_limit_without_a_bucket_is_refused() {
    let padding = format!("# {}\n", "x".repeat(60_000));
    let app = App::with("large", SPEC, &format!("{TEMPLATE}{padding}"));
    let output = app.deploy(&["--release", "r1", "--yes"]);
    assert_refused_without_aws(&app, &output, "over the 51200 bytes");
}

#[tokio::test]
async fn a_template_over_the_size_quota_is_refused() {
    let padding = format!("# {}\n", "x".repeat(1_100_000));
    let app = App::with("huge", SPEC, &format!("{TEMPLATE}{padding}"));
    let output = app.deploy(&["--release", "r1", "--yes", "--template-bucket", "b"]);
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert_eq!(app.proxy.requests_seen(), 0);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_exit_2_and_creates_nothing() {
    let app = App::with("unreachable", SPEC, TEMPLATE);
    let output = app.deploy_at("http://127.0.0.1:9", &["--release", "r1", "--yes"]);
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(
        text(&output.stderr).contains("could not reach the AWS endpoint"),
        "{}",
        show(&output)
    );
    assert!(app.stacks().await.is_empty());
}

/// A valid template over the 51,200 bytes CloudFormation takes inline: the padding is template
/// metadata, so the body CloudFormation records is the whole file.
fn large_template() -> String {
    let notes: String = (0..700)
        .map(|n| format!("    - \"note {n:03}: {}\"\n", "x".repeat(80)))
        .collect();
    let template = format!("{TEMPLATE}Metadata:\n  Notes:\n{notes}");
    assert!(template.len() > 51_200, "{} bytes", template.len());
    template
}

const TEMPLATE_BUCKET: &str = "cutover-templates";

impl App {
    async fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&sdk_config(self.proxy.url()).await)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    async fn template_objects(&self, bucket: &str) -> Vec<String> {
        let listed = self
            .s3()
            .await
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .expect("list_objects_v2");
        listed
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_string))
            .collect()
    }
}

#[tokio::test]
async fn a_large_template_is_uploaded_to_the_bucket_and_created_from_its_url() {
    let spec = SPEC.replace(
        "termination_protection = true",
        &format!("termination_protection = true\ntemplate_bucket = \"{TEMPLATE_BUCKET}\""),
    );
    let template = large_template();
    let app = App::with_base_stack("big", &spec, &template).await;
    app.s3()
        .await
        .create_bucket()
        .bucket(TEMPLATE_BUCKET)
        .send()
        .await
        .expect("create the template bucket");

    let output = app.deploy(&["--release", "r1", "--yes"]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let sha: String = Sha256::digest(template.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let key = format!("cutover/big/big-r1-{}.yaml", &sha[..16]);
    assert!(
        text(&output.stdout).contains(&format!("uploaded to s3://{TEMPLATE_BUCKET}/{key}")),
        "{}",
        show(&output)
    );

    assert_eq!(
        app.template_objects(TEMPLATE_BUCKET).await,
        vec![key.clone()]
    );
    let object = app
        .s3()
        .await
        .get_object()
        .bucket(TEMPLATE_BUCKET)
        .key(&key)
        .send()
        .await
        .expect("get_object");
    let uploaded = object.body.collect().await.unwrap().into_bytes();
    assert_eq!(text(&uploaded), template, "the exact body is uploaded");
    let recorded = app
        .client()
        .await
        .get_template()
        .stack_name("big-r1")
        .send()
        .await
        .expect("get_template");
    assert_eq!(recorded.template_body(), Some(template.as_str()));
    assert_eq!(app.stacks().await["big-r1"], "CREATE_COMPLETE");
}

#[tokio::test]
async fn a_missing_template_bucket_is_named_and_nothing_is_created() {
    let template = large_template();
    let app = App::with_base_stack("nobucket", SPEC, &template).await;
    let creates_before = app.proxy.requests_by_action().get("CreateStack").copied();
    let output = app.deploy(&[
        "--release",
        "r1",
        "--yes",
        "--template-bucket",
        "no-such-bucket",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(
        text(&output.stderr).contains("S3 bucket no-such-bucket does not exist"),
        "{}",
        show(&output)
    );
    assert!(app.stacks().await.is_empty());
    assert_eq!(
        app.proxy.requests_by_action().get("CreateStack").copied(),
        creates_before,
        "only the base stack was created"
    );
    // The lock was given back: a deploy after the bucket exists is not refused as locked.
    assert_eq!(
        app.proxy
            .requests_by_action()
            .get("DeleteParameter")
            .copied(),
        Some(1),
        "{:?}",
        app.proxy.requests_by_action()
    );
}
