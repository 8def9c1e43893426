//! `cutover deploy` end to end: the real binary against moto through the fault proxy. Each test
//! has its own account (proxy) and its own app under a temporary stacks folder.
//!
//! moto never fails a stack by itself, so the failure paths use the proxy's `fail_stack`, which
//! rewrites the stack's status and events as CloudFormation would show them.

use std::collections::HashMap;
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
Outputs:
  VpcId: {Value: !Ref Vpc}
"#;

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
listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/base/1/2"
target_group_output = "TargetGroupArn"
"#;

const SECRET: &str = "hunter2-do-not-print";

struct App {
    dir: tempfile::TempDir,
    name: String,
    proxy: FaultProxy,
}

impl App {
    fn new(name: &str) -> App {
        App::with(name, SPEC, TEMPLATE)
    }

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

    /// Live stacks of this account: name → status.
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
    let app = App::new("first");
    let output = app.deploy(&["--release", "r1", "--yes"]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    assert_no_secret(&output);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("first release: everything is added"),
        "{stdout}"
    );
    assert!(stdout.contains("Stack first-r1 is healthy"), "{stdout}");
    assert!(stdout.contains("Traffic was not moved"), "{stdout}");
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
}

#[tokio::test]
async fn second_release_is_a_second_stack_and_the_first_is_untouched() {
    let app = App::new("second");
    let first = app.deploy(&["--release", "r1", "--yes"]);
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    let before = app.describe("second-r1").await;

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
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let app = App::new("dry");
    assert_eq!(
        app.deploy(&["--release", "r1", "--yes"]).status.code(),
        Some(0)
    );
    let before = app.stacks().await;
    let creates_before = app.proxy.requests_by_action().get("CreateStack").copied();

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
    assert_eq!(
        app.proxy.requests_by_action().get("CreateStack").copied(),
        creates_before
    );
}

#[tokio::test]
async fn without_yes_and_without_a_terminal_it_refuses() {
    let app = App::new("noyes");
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
    let app = App::new("failing");
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
    let app = App::new("rolled");
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
    let app = App::new("kept");
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
    let app = App::new("throttled");
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
}

/// moto finishes every stack at once and the proxy cannot hold one in CREATE_IN_PROGRESS, so
/// the status polls are made slower than the timeout: cutover gives up waiting, says so, and
/// deletes the unfinished stack.
#[tokio::test]
async fn a_timeout_is_reported_clearly_and_the_stack_deleted() {
    let app = App::new("slow");
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
    let app = App::new("badlabel");
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
    let app = App::new("unreachable");
    let output = app.deploy_at("http://127.0.0.1:9", &["--release", "r1", "--yes"]);
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(
        text(&output.stderr).contains("could not reach the AWS endpoint"),
        "{}",
        show(&output)
    );
    assert!(app.stacks().await.is_empty());
}
