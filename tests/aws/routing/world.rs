//! The world of the routing tests: one account (its own proxy) shaped like a real one (a base
//! stack from `tests/fixtures/routing`, traffic already going somewhere), a stacks folder for
//! one or more apps, the `cutover` binary, and direct SDK reads of what each route holds.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Output};
use std::time::Duration;

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};

use crate::support::{fresh_account, moto_endpoint, run_cutover, sdk_config, sdk_env, FaultProxy};

/// A release behind an ALB: its own target group (in its own VPC: moto does not check that the
/// group is in the load balancer's).
pub const ALB_RELEASE: &str = r#"
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

/// A release behind Route 53: the name its weighted record points to.
pub const DNS_RELEASE: &str = r#"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
Outputs:
  Endpoint: {Value: !Sub "${AWS::StackName}.origin.example.com"}
"#;

/// A release behind an Elastic IP: one server.
pub const EIP_RELEASE: &str = r#"
Parameters:
  SubnetId: {Type: String}
Resources:
  Server:
    Type: AWS::EC2::Instance
    Properties: {ImageId: ami-12c6146b, InstanceType: t3.micro, SubnetId: !Ref SubnetId}
Outputs:
  InstanceId: {Value: !Ref Server}
"#;

/// A canary of 10 % behind one CloudWatch alarm, checked every second, with no warm-up.
pub fn canary(bake: &str, alarm: &str) -> String {
    format!(
        "[strategy]\nkind = \"canary\"\npercent = 10\nbake = \"{bake}\"\nfinal_bake = \"0s\"\n\n[gates]\nalarms = [\"{alarm}\"]\ninterval = \"1s\"\nwarmup = \"0s\"\n"
    )
}

/// A base stack of one load balancer shared by `apps`: a 404 default action and, per app, a host
/// rule (`<app>.example.com`, priorities 10, 20, …) forwarding to the target group the app ran on
/// before cutover. Outputs `Rule<NN>Arn`, NN the app's index in two digits.
pub fn host_rules_base(apps: &[String]) -> String {
    let mut resources = String::new();
    let mut outputs = String::new();
    for (i, app) in apps.iter().enumerate() {
        resources.push_str(&format!(
            "  Legacy{i:02}:\n    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n    Properties: {{Port: 80, Protocol: HTTP, VpcId: !Ref Vpc}}\n  Rule{i:02}:\n    Type: AWS::ElasticLoadBalancingV2::ListenerRule\n    Properties:\n      ListenerArn: !Ref Listener\n      Priority: {}\n      Conditions: [{{Field: host-header, HostHeaderConfig: {{Values: [{app}.example.com]}}}}]\n      Actions: [{{Type: forward, TargetGroupArn: !Ref Legacy{i:02}}}]\n",
            10 * (i + 1)
        ));
        outputs.push_str(&format!("  Rule{i:02}Arn: {{Value: !Ref Rule{i:02}}}\n"));
    }
    format!(
        r#"Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {{CidrBlock: 10.60.0.0/16}}
  SubnetA:
    Type: AWS::EC2::Subnet
    Properties: {{VpcId: !Ref Vpc, CidrBlock: 10.60.0.0/24, AvailabilityZone: us-east-1a}}
  SubnetB:
    Type: AWS::EC2::Subnet
    Properties: {{VpcId: !Ref Vpc, CidrBlock: 10.60.1.0/24, AvailabilityZone: us-east-1b}}
  LoadBalancer:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {{Subnets: [!Ref SubnetA, !Ref SubnetB]}}
  Listener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref LoadBalancer
      Port: 80
      Protocol: HTTP
      DefaultActions:
        - Type: fixed-response
          FixedResponseConfig: {{StatusCode: "404", ContentType: text/plain, MessageBody: unknown host}}
{resources}Outputs:
{outputs}"#
    )
}

pub struct Account {
    dir: tempfile::TempDir,
    pub proxy: FaultProxy,
    pub sdk: aws_config::SdkConfig,
    env: Vec<(String, String)>,
}

impl Account {
    /// A fresh account with the base stack `base` from `tests/fixtures/routing/<fixture>`.
    pub async fn new(fixture: &str) -> Account {
        let body = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/routing")
                .join(fixture),
        )
        .unwrap();
        Account::with_base(&body).await
    }

    /// A fresh account with the base stack `base` made from `body`.
    pub async fn with_base(body: &str) -> Account {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        let proxy = FaultProxy::start(moto_endpoint(), &fresh_account());
        let sdk = sdk_config(proxy.url()).await;
        let account = Account {
            dir,
            env: sdk_env(proxy.url()),
            proxy,
            sdk,
        };
        account
            .cloudformation()
            .create_stack()
            .stack_name("base")
            .template_body(body)
            .send()
            .await
            .expect("create the base stack");
        account
    }

    /// Writes `stacks/<app>.toml` (its template is `templates/<app>.yaml`).
    pub fn write_app(&self, app: &str, template: &str, spec: &str) {
        std::fs::write(
            self.dir.path().join(format!("templates/{app}.yaml")),
            template,
        )
        .unwrap();
        std::fs::write(
            self.dir.path().join(format!("stacks/{app}.toml")),
            format!("template = \"../templates/{app}.yaml\"\n{spec}"),
        )
        .unwrap();
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<String> {
        let stacks = self.dir.path().join("stacks");
        let mut all = vec![
            "--stacks-dir".to_string(),
            stacks.to_str().unwrap().to_string(),
        ];
        all.extend(args.iter().map(|arg| arg.to_string()));
        all
    }

    pub fn cutover(&self, args: &[&str]) -> Output {
        run_cutover(self.args(args), &self.env)
    }

    /// Like [`Account::cutover`], with extra environment variables.
    pub fn cutover_with_env(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let mut env = self.env.clone();
        env.extend(
            extra
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string())),
        );
        run_cutover(self.args(args), &env)
    }

    /// Starts the binary without waiting (for runs watched or interfered with while they go).
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"));
        command
            .args(self.args(args))
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

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    pub fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk)
    }

    pub fn route53(&self) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&self.sdk)
    }

    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk)
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

    /// Names of the stacks that exist (not deleted).
    pub async fn stack_names(&self) -> Vec<String> {
        let listed = self
            .cloudformation()
            .describe_stacks()
            .send()
            .await
            .expect("describe_stacks");
        listed
            .stacks()
            .iter()
            .filter(|stack| {
                stack.stack_status().map(|status| status.as_str()) != Some("DELETE_COMPLETE")
            })
            .map(|stack| stack.stack_name().unwrap_or_default().to_string())
            .collect()
    }

    pub fn creates(&self) -> usize {
        self.proxy
            .requests_by_action()
            .get("CreateStack")
            .copied()
            .unwrap_or(0)
    }

    /// A listener's default action forwards: target group ARN → weight (a plain forward is 1).
    pub async fn listener_forward(&self, listener: &str) -> BTreeMap<String, i32> {
        let described = self
            .elbv2()
            .describe_listeners()
            .listener_arns(listener)
            .send()
            .await
            .expect("describe_listeners");
        forwards(described.listeners()[0].default_actions())
    }

    /// A listener rule's forwards: target group ARN → weight, and its conditions and priority
    /// (which cutover must never change).
    pub async fn rule(&self, rule: &str) -> Rule {
        let described = self
            .elbv2()
            .describe_rules()
            .rule_arns(rule)
            .send()
            .await
            .expect("describe_rules");
        let rule = &described.rules()[0];
        Rule {
            forward: forwards(rule.actions()),
            conditions: format!("{:?}", rule.conditions()),
            priority: rule.priority().unwrap_or_default().to_string(),
            stickiness: rule
                .actions()
                .iter()
                .find_map(|action| action.forward_config())
                .and_then(|config| config.target_group_stickiness_config())
                .and_then(|config| config.duration_seconds()),
        }
    }

    pub async fn target_group_exists(&self, arn: &str) -> bool {
        self.elbv2()
            .describe_target_groups()
            .target_group_arns(arn)
            .send()
            .await
            .is_ok_and(|described| !described.target_groups().is_empty())
    }

    /// The records of a name: (set identifier, weight, value), plain records without the first two.
    pub async fn records(
        &self,
        zone: &str,
        name: &str,
    ) -> Vec<(Option<String>, Option<i64>, String)> {
        let listed = self
            .route53()
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(name)
            .start_record_type(aws_sdk_route53::types::RrType::Cname)
            .send()
            .await
            .expect("list_resource_record_sets");
        listed
            .resource_record_sets()
            .iter()
            .filter(|set| set.name().trim_end_matches('.') == name)
            .map(|set| {
                (
                    set.set_identifier().map(str::to_string),
                    set.weight(),
                    set.resource_records()
                        .first()
                        .map(|record| record.value().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Creates one record set as an operator would, outside cutover.
    pub async fn create_record_set(
        &self,
        zone: &str,
        set: aws_sdk_route53::types::ResourceRecordSet,
    ) {
        use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};
        self.route53()
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(
                ChangeBatch::builder()
                    .changes(
                        Change::builder()
                            .action(ChangeAction::Create)
                            .resource_record_set(set)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("create the record set");
    }

    pub async fn create_plain_cname(&self, zone: &str, name: &str, value: &str) {
        use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
        let set = ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::Cname)
            .ttl(300)
            .resource_records(ResourceRecord::builder().value(value).build().unwrap())
            .build()
            .unwrap();
        self.create_record_set(zone, set).await;
    }

    /// The instance the Elastic IP is associated with, as DescribeAddresses says.
    pub async fn address_holder(&self, allocation: &str) -> Option<String> {
        let described = self
            .ec2()
            .describe_addresses()
            .allocation_ids(allocation)
            .send()
            .await
            .expect("describe_addresses");
        described.addresses()[0]
            .instance_id()
            .filter(|id| !id.is_empty())
            .map(str::to_string)
    }

    pub async fn instance_exists(&self, id: &str) -> bool {
        self.ec2()
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .is_ok_and(|described| !described.reservations().is_empty())
    }

    pub async fn put_alarm(&self, name: &str) {
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
        self.set_alarm(name, StateValue::Ok).await;
    }

    pub async fn set_alarm(&self, name: &str, state: StateValue) {
        aws_sdk_cloudwatch::Client::new(&self.sdk)
            .set_alarm_state()
            .alarm_name(name)
            .state_value(state)
            .state_reason("set by the test")
            .send()
            .await
            .expect("set_alarm_state");
    }

    /// `cutover status APP --output json`.
    pub fn status(&self, app: &str) -> serde_json::Value {
        let output = self.cutover(&["status", app, "--output", "json"]);
        assert_eq!(output.status.code(), Some(0), "status: {}", show(&output));
        let value: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("status JSON: {error}: {}", show(&output)));
        value["apps"][0].clone()
    }
}

/// One listener rule as the tests compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub forward: BTreeMap<String, i32>,
    pub conditions: String,
    pub priority: String,
    pub stickiness: Option<i32>,
}

fn forwards(actions: &[aws_sdk_elasticloadbalancingv2::types::Action]) -> BTreeMap<String, i32> {
    let mut weights = BTreeMap::new();
    for action in actions {
        if let Some(forward) = action.forward_config() {
            for group in forward.target_groups() {
                weights.insert(
                    group.target_group_arn().unwrap_or_default().to_string(),
                    group.weight().unwrap_or(1),
                );
            }
        } else if let Some(arn) = action.target_group_arn() {
            weights.insert(arn.to_string(), 1);
        }
    }
    weights
}

/// Runs `child` to its end while reading a route every 50 ms; returns its output and every
/// distinct state seen, in order.
pub async fn watch<T: PartialEq + Clone>(
    child: Child,
    read: impl AsyncFnMut() -> T,
) -> (Output, Vec<T>) {
    watch_then(child, read, |_| false, async || {}).await
}

/// [`watch`], and runs `act` once, the first time a state satisfies `when` (flip an alarm
/// mid-canary).
pub async fn watch_then<T: PartialEq + Clone>(
    mut child: Child,
    mut read: impl AsyncFnMut() -> T,
    when: impl Fn(&T) -> bool,
    act: impl AsyncFnOnce(),
) -> (Output, Vec<T>) {
    let mut seen: Vec<T> = Vec::new();
    let mut act = Some(act);
    loop {
        let state = read().await;
        if when(&state) {
            if let Some(act) = act.take() {
                act().await;
            }
        }
        if seen.last() != Some(&state) {
            seen.push(state);
        }
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = read().await;
    if seen.last() != Some(&last) {
        seen.push(last);
    }
    (child.wait_with_output().expect("wait_with_output"), seen)
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
