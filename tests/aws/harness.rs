//! Tests of the test harness itself: the fault proxy in front of moto. Injected faults here,
//! rewritten stacks and targets in `stacks`.

mod stacks;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::StackStatus;

use crate::support::{fresh_account, moto_endpoint, run_cutover, sdk_config, sdk_env, FaultProxy};

/// A target group only: the quickest stack that has a resource to fail.
const GROUP_TEMPLATE: &str = r#"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  Group:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Port: 80, Protocol: HTTP, VpcId: !Ref Vpc}
Outputs:
  GroupArn: {Value: !Ref Group}
"#;

/// An auto scaling group that registers one instance in its target group, as a release does.
const FLEET_TEMPLATE: &str = r#"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.1.0/24, AvailabilityZone: us-east-1a}
  Group:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Port: 80, Protocol: HTTP, VpcId: !Ref Vpc}
  Launch:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData: {ImageId: ami-12c6146b, InstanceType: t3.micro}
  Fleet:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      MinSize: "1"
      MaxSize: "1"
      DesiredCapacity: "1"
      VPCZoneIdentifier: [!Ref Subnet]
      LaunchTemplate: {LaunchTemplateId: !Ref Launch, Version: !GetAtt Launch.LatestVersionNumber}
      TargetGroupARNs: [!Ref Group]
Outputs:
  GroupArn: {Value: !Ref Group}
"#;

fn proxy() -> FaultProxy {
    FaultProxy::start(moto_endpoint(), &fresh_account())
}

async fn cloudformation(proxy: &FaultProxy, attempts: u32) -> aws_sdk_cloudformation::Client {
    let config = sdk_config(proxy.url()).await;
    let retry = RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(20));
    aws_sdk_cloudformation::Client::new(&config.to_builder().retry_config(retry).build())
}

async fn create_stack(client: &aws_sdk_cloudformation::Client, name: &str, template: &str) {
    client
        .create_stack()
        .stack_name(name)
        .template_body(template)
        .send()
        .await
        .unwrap_or_else(|error| panic!("create {name}: {:?}", error.into_service_error()));
}

async fn stack_status(
    client: &aws_sdk_cloudformation::Client,
    name: &str,
) -> (StackStatus, Option<String>) {
    let stacks = client
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .expect("describe_stacks");
    let stack = &stacks.stacks()[0];
    (
        stack.stack_status().expect("a status").clone(),
        stack.stack_status_reason().map(str::to_string),
    )
}

async fn output(client: &aws_sdk_cloudformation::Client, stack: &str, key: &str) -> String {
    let stacks = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .expect("describe_stacks");
    let outputs = stacks.stacks()[0].outputs();
    let found = outputs
        .iter()
        .find(|output| output.output_key() == Some(key));
    found
        .and_then(|output| output.output_value())
        .expect("the output")
        .to_string()
}

#[tokio::test]
async fn two_proxies_are_two_isolated_accounts() {
    let (first, second) = (proxy(), proxy());
    assert_ne!(first.account_id(), second.account_id());
    let in_first = cloudformation(&first, 3).await;
    let in_second = cloudformation(&second, 3).await;
    create_stack(&in_first, "isolated", GROUP_TEMPLATE).await;

    let (status, _) = stack_status(&in_first, "isolated").await;
    assert_eq!(status, StackStatus::CreateComplete);
    let error = in_second
        .describe_stacks()
        .stack_name("isolated")
        .send()
        .await
        .expect_err("other account");
    assert!(
        error
            .message()
            .unwrap_or_default()
            .contains("does not exist"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_fifth_of_describe_stacks_throttled_is_retried_and_counted() {
    let proxy = proxy();
    let client = cloudformation(&proxy, 10).await;
    create_stack(&client, "throttled", GROUP_TEMPLATE).await;
    proxy.only_actions(&["DescribeStacks"]);
    proxy.set_throttle_rate(0.2);

    for _ in 0..10 {
        let (status, _) = stack_status(&client, "throttled").await;
        assert_eq!(status, StackStatus::CreateComplete);
    }
    // 10 answered calls plus t retries: t = floor((10 + t) * 0.2) = 2.
    assert_eq!(proxy.throttled(), 2);
    assert_eq!(proxy.requests_by_action()["DescribeStacks"], 12);
    assert_eq!(proxy.requests_by_action()["CreateStack"], 1);
}

#[tokio::test]
async fn every_service_reads_the_injected_throttling_as_retryable() {
    let proxy = proxy();
    proxy.set_throttle_rate(1.0);
    let config = sdk_config(proxy.url()).await;
    let config = config
        .to_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build();

    let cloudformation = aws_sdk_cloudformation::Client::new(&config)
        .list_stacks()
        .send()
        .await;
    let ec2 = aws_sdk_ec2::Client::new(&config)
        .describe_vpcs()
        .send()
        .await;
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&config)
        .describe_load_balancers()
        .send()
        .await;
    let route53 = aws_sdk_route53::Client::new(&config)
        .list_hosted_zones()
        .send()
        .await;
    let ssm = aws_sdk_ssm::Client::new(&config)
        .get_parameter()
        .name("/x")
        .send()
        .await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config)
        .describe_alarms()
        .send()
        .await;
    let codes = [
        cloudformation
            .expect_err("throttled")
            .code()
            .map(str::to_string),
        ec2.expect_err("throttled").code().map(str::to_string),
        elbv2.expect_err("throttled").code().map(str::to_string),
        route53.expect_err("throttled").code().map(str::to_string),
        ssm.expect_err("throttled").code().map(str::to_string),
        cloudwatch
            .expect_err("throttled")
            .code()
            .map(str::to_string),
    ];
    let codes: Vec<&str> = codes
        .iter()
        .map(|code| code.as_deref().unwrap_or("none"))
        .collect();
    assert_eq!(
        codes,
        [
            "Throttling",
            "RequestLimitExceeded",
            "Throttling",
            "Throttling",
            "ThrottlingException",
            "Throttling"
        ]
    );
    // Two attempts each: the SDK classified every answer as retryable throttling.
    assert_eq!(proxy.throttled(), 12);
    let by_action = proxy.requests_by_action();
    for action in [
        "ListStacks",
        "DescribeVpcs",
        "DescribeLoadBalancers",
        "ListHostedZones",
        "GetParameter",
        "DescribeAlarms",
    ] {
        assert_eq!(by_action.get(action), Some(&2), "{action} in {by_action:?}");
    }
}

#[tokio::test]
async fn server_errors_and_resets_are_retried() {
    let proxy = proxy();
    let client = cloudformation(&proxy, 5).await;
    proxy.set_server_error_rate(0.5);
    for index in 0..3 {
        create_stack(&client, &format!("flaky-{index}"), GROUP_TEMPLATE).await;
    }
    // Requests 2 and 4 of 1 ok, 2 fail, 3 (retry) ok, 4 fail, 5 (retry) ok.
    assert_eq!(proxy.server_errors(), 2);
    assert_eq!(proxy.requests_by_action()["CreateStack"], 5);
    proxy.set_server_error_rate(0.0);
    proxy.set_reset_rate(0.5);
    for _ in 0..2 {
        let stacks = client
            .list_stacks()
            .send()
            .await
            .expect("list despite resets");
        assert_eq!(stacks.stack_summaries().len(), 3);
    }
    // Request 2 (the second call's first attempt) is dropped and retried.
    assert_eq!(proxy.resets(), 1);
    assert_eq!(proxy.requests_by_action()["ListStacks"], 3);
}

#[tokio::test]
async fn latency_beyond_the_attempt_timeout_fails_the_call() {
    let proxy = proxy();
    let config = sdk_config(proxy.url()).await;
    // Loads moto's CloudFormation back end (over a second when cold) before timing anything.
    let warm = aws_sdk_cloudformation::Client::new(&config);
    warm.describe_stacks().send().await.expect("warm-up");
    proxy.only_actions(&["ListStacks"]);
    proxy.set_latency(Duration::from_secs(3));
    let client_with_timeout = |timeout| {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(timeout)
            .build();
        let config = config
            .to_builder()
            .timeout_config(timeouts)
            .retry_config(RetryConfig::disabled())
            .build();
        aws_sdk_cloudformation::Client::new(&config)
    };

    let error = client_with_timeout(Duration::from_millis(500))
        .list_stacks()
        .send()
        .await
        .expect_err("slower than the timeout");
    assert!(
        matches!(
            error,
            aws_sdk_cloudformation::error::SdkError::TimeoutError(_)
        ),
        "{error:?}"
    );
    // Latency is scoped to the listed actions: this one answers well within the 3 s.
    client_with_timeout(Duration::from_millis(2500))
        .describe_stacks()
        .send()
        .await
        .expect("not delayed");
}

#[test]
fn the_cutover_binary_runs_with_the_proxy_environment() {
    let proxy = proxy();
    let output = run_cutover(["--version"], &sdk_env(proxy.url()));
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("cutover "),
        "{output:?}"
    );
}
