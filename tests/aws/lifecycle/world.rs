//! The world of the lifecycle tests: one account behind a fault proxy with a base stack holding
//! an ALB listener, one app in a temporary stacks folder, the `cutover` binary, and direct SDK
//! reads of what AWS holds.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Output;

use crate::support::{fresh_account, moto_endpoint, run_cutover, sdk_config, sdk_env, FaultProxy};

/// A release: its own target group (in its own VPC: moto does not check the listener's VPC).
pub const RELEASE: &str = r#"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  Group:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Port: 80, Protocol: HTTP, VpcId: !Ref Vpc}
Outputs:
  TargetGroupArn: {Value: !Ref Group}
"#;

/// The same with a plain and a NoEcho parameter, for `--rebuild`.
pub const RELEASE_WITH_PARAMETERS: &str = r#"
Parameters:
  Env: {Type: String}
  Secret: {Type: String, NoEcho: true}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  Group:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Port: 80, Protocol: HTTP, VpcId: !Ref Vpc}
Outputs:
  TargetGroupArn: {Value: !Ref Group}
"#;

pub fn spec(keep: u32, extra: &str) -> String {
    format!(
        r#"
template = "../templates/app.yaml"
{extra}
[router]
kind = "alb"
listener = {{ stack_output = "base", output = "ListenerArn" }}
target_group_output = "TargetGroupArn"

[strategy]
kind = "all-at-once"
final_bake = "0s"

[retention]
keep = {keep}
"#
    )
}

pub struct App {
    dir: tempfile::TempDir,
    pub name: String,
    pub proxy: FaultProxy,
    pub sdk: aws_config::SdkConfig,
    pub env: Vec<(String, String)>,
}

impl App {
    /// A fresh account with the base stack (ALB + listener) and the app's spec and template.
    pub async fn new(name: &str, template: &str, spec: &str) -> App {
        App::with_base(name, template, spec, "alb-base.yaml").await
    }

    /// With another base stack from `tests/fixtures/routers` (still named `base`).
    pub async fn with_base(name: &str, template: &str, spec: &str, base: &str) -> App {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("templates/app.yaml"), template).unwrap();
        let proxy = FaultProxy::start(moto_endpoint(), &fresh_account());
        let sdk = sdk_config(proxy.url()).await;
        let app = App {
            dir,
            name: name.to_string(),
            env: sdk_env(proxy.url()),
            proxy,
            sdk,
        };
        app.write_spec(spec);
        let base = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/routers")
                .join(base),
        )
        .unwrap();
        app.cloudformation()
            .create_stack()
            .stack_name("base")
            .template_body(base)
            .send()
            .await
            .expect("create the base stack");
        app
    }

    pub fn write_spec(&self, spec: &str) {
        std::fs::write(
            self.dir.path().join(format!("stacks/{}.toml", self.name)),
            spec,
        )
        .unwrap();
    }

    pub fn stack(&self, release: &str) -> String {
        format!("{}-{release}", self.name)
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    pub fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk)
    }

    pub fn cutover(&self, args: &[&str]) -> Output {
        let stacks = self.dir.path().join("stacks");
        let mut all = vec!["--stacks-dir", stacks.to_str().unwrap()];
        all.extend_from_slice(args);
        run_cutover(all, &self.env)
    }

    /// Starts the binary without waiting for it (for runs that race or get killed).
    pub fn spawn_cutover(&self, args: &[&str]) -> std::process::Child {
        let stacks = self.dir.path().join("stacks");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"));
        command
            .arg("--stacks-dir")
            .arg(stacks)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                command.env_remove(name);
            }
        }
        command.envs(self.env.iter().map(|(name, value)| (name, value)));
        command.spawn().expect("could not start the cutover binary")
    }

    pub fn deploy(&self, release: &str) {
        let output = self.cutover(&["deploy", &self.name, "--release", release, "--yes"]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "deploy {release}: {}",
            show(&output)
        );
    }

    pub async fn output(&self, stack: &str, key: &str) -> String {
        let described = self
            .cloudformation()
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .unwrap_or_else(|error| panic!("describe {stack}: {error:?}"));
        described.stacks()[0]
            .outputs()
            .iter()
            .find(|output| output.output_key() == Some(key))
            .and_then(|output| output.output_value())
            .unwrap_or_else(|| panic!("{stack} has output {key}"))
            .to_string()
    }

    pub async fn listener(&self) -> String {
        self.output("base", "ListenerArn").await
    }

    /// Stack name → status of every stack not deleted.
    pub async fn stacks(&self) -> BTreeMap<String, String> {
        let listed = self
            .cloudformation()
            .describe_stacks()
            .send()
            .await
            .expect("describe_stacks");
        listed
            .stacks()
            .iter()
            .map(|stack| {
                (
                    stack.stack_name().unwrap_or_default().to_string(),
                    stack
                        .stack_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .filter(|(_, status)| status != "DELETE_COMPLETE")
            .collect()
    }

    pub async fn deleted(&self, stack: &str) -> bool {
        let listed = self
            .cloudformation()
            .list_stacks()
            .send()
            .await
            .expect("list_stacks");
        listed.stack_summaries().iter().any(|summary| {
            summary.stack_name() == Some(stack)
                && summary.stack_status().map(|s| s.as_str()) == Some("DELETE_COMPLETE")
        })
    }

    /// What cutover recorded about a release (`/cutover/marks/<app>/<stack>` in SSM), or Null.
    pub async fn mark(&self, stack: &str) -> serde_json::Value {
        let name = format!("/cutover/marks/{}/{stack}", self.name);
        match aws_sdk_ssm::Client::new(&self.sdk)
            .get_parameter()
            .name(&name)
            .send()
            .await
        {
            Ok(found) => serde_json::from_str(
                found
                    .parameter()
                    .and_then(|parameter| parameter.value())
                    .unwrap_or("null"),
            )
            .unwrap(),
            Err(_) => serde_json::Value::Null,
        }
    }

    pub async fn tags(&self, stack: &str) -> HashMap<String, String> {
        let described = self
            .cloudformation()
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .expect("describe_stacks");
        described.stacks()[0]
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

    /// The listener's forward weights as ELBv2 holds them: target group ARN → weight.
    pub async fn listener_weights(&self) -> BTreeMap<String, i32> {
        crate::support::listener_weights(&self.elbv2(), &self.listener().await).await
    }

    /// The listener's weights by release stack (target groups of unknown stacks by ARN).
    pub async fn weights_by_stack(&self, releases: &[&str]) -> BTreeMap<String, i32> {
        let mut by_arn = self.listener_weights().await;
        let mut by_stack = BTreeMap::new();
        for release in releases {
            let stack = self.stack(release);
            if let Some(arn) = self.group_of(&stack).await {
                if let Some(weight) = by_arn.remove(&arn) {
                    by_stack.insert(stack, weight);
                }
            }
        }
        by_stack.extend(by_arn);
        by_stack
    }

    /// The target group of a release stack, also after the stack was deleted.
    pub async fn group_of(&self, stack: &str) -> Option<String> {
        let listed = self.cloudformation().list_stacks().send().await.ok()?;
        let id = listed
            .stack_summaries()
            .iter()
            .find(|summary| summary.stack_name() == Some(stack))?
            .stack_id()?
            .to_string();
        let described = self
            .cloudformation()
            .describe_stacks()
            .stack_name(id)
            .send()
            .await
            .ok()?;
        described.stacks()[0]
            .outputs()
            .iter()
            .find(|output| output.output_key() == Some("TargetGroupArn"))
            .and_then(|output| output.output_value())
            .map(str::to_string)
    }

    /// `cutover status APP --output json`: stack → (role, weight).
    pub fn roles(&self) -> BTreeMap<String, (String, Option<u64>)> {
        let output = self.cutover(&["status", &self.name, "--output", "json"]);
        assert_eq!(output.status.code(), Some(0), "status: {}", show(&output));
        let value: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("status JSON: {error}: {}", show(&output)));
        value["apps"][0]["releases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|release| {
                (
                    release["stack"].as_str().unwrap().to_string(),
                    (
                        release["role"].as_str().unwrap().to_string(),
                        release["weight"].as_u64(),
                    ),
                )
            })
            .collect()
    }

    pub fn creates(&self) -> usize {
        self.proxy
            .requests_by_action()
            .get("CreateStack")
            .copied()
            .unwrap_or(0)
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn show(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

pub fn role(roles: &BTreeMap<String, (String, Option<u64>)>, stack: &str) -> (String, Option<u64>) {
    roles
        .get(stack)
        .cloned()
        .unwrap_or_else(|| panic!("status lists {stack}: {roles:?}"))
}

pub fn role_of(role: &str, weight: u64) -> (String, Option<u64>) {
    (role.to_string(), Some(weight))
}
