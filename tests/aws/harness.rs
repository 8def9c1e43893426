//! Tests of the test harness itself: the fault proxy in front of moto.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{ResourceStatus, StackStatus};

use crate::support::{
    fresh_account, moto_endpoint, run_cutover, sdk_config, sdk_env, FailMode, FaultProxy,
};

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
    proxy.only_actions(&["ListStacks"]);
    proxy.set_latency(Duration::from_secs(2));
    let config = sdk_config(proxy.url()).await;
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_millis(100))
        .build();
    let config = config
        .to_builder()
        .timeout_config(timeouts)
        .retry_config(RetryConfig::disabled())
        .build();
    let client = aws_sdk_cloudformation::Client::new(&config);
    let error = client
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
    // Latency is scoped to the listed actions.
    client.describe_stacks().send().await.expect("not delayed");
}

#[tokio::test]
async fn create_failed_shows_in_status_resources_and_events() {
    let proxy = proxy();
    let client = cloudformation(&proxy, 3).await;
    create_stack(&client, "web-r1", GROUP_TEMPLATE).await;
    let reason = "Resource handler returned message: \"Invalid <port>\"";
    proxy.fail_stack(
        "web-r1",
        FailMode::CreateFailed {
            resource: "Group".into(),
            reason: reason.into(),
        },
    );

    let (status, stack_reason) = stack_status(&client, "web-r1").await;
    assert_eq!(status, StackStatus::CreateFailed);
    assert_eq!(
        stack_reason.as_deref(),
        Some("The following resource(s) failed to create: [Group]. ")
    );

    let events = client
        .describe_stack_events()
        .stack_name("web-r1")
        .send()
        .await
        .expect("events");
    let events = events.stack_events();
    let summary: Vec<(String, String)> = events
        .iter()
        .map(|event| {
            let status = event
                .resource_status()
                .map(|status| status.as_str().to_string());
            (
                event.logical_resource_id().unwrap_or_default().to_string(),
                status.unwrap_or_default(),
            )
        })
        .collect();
    let expected = [
        ("web-r1", "CREATE_FAILED"),
        ("Group", "CREATE_FAILED"),
        ("Group", "CREATE_IN_PROGRESS"),
        ("web-r1", "CREATE_IN_PROGRESS"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(id, status)| (id.to_string(), status.to_string()))
        .collect();
    assert_eq!(summary, expected);
    let failed = &events[1];
    assert_eq!(failed.resource_status_reason(), Some(reason));
    assert_eq!(
        failed.resource_type(),
        Some("AWS::ElasticLoadBalancingV2::TargetGroup")
    );
    assert!(
        failed.timestamp() > events[3].timestamp(),
        "the failure comes after the creation started"
    );

    let resources = client
        .describe_stack_resources()
        .stack_name("web-r1")
        .send()
        .await
        .expect("resources");
    let group = resources
        .stack_resources()
        .iter()
        .find(|resource| resource.logical_resource_id() == Some("Group"));
    assert_eq!(
        group.and_then(|group| group.resource_status()),
        Some(&ResourceStatus::CreateFailed)
    );

    proxy.clear_stack_fault("web-r1");
    assert_eq!(
        stack_status(&client, "web-r1").await.0,
        StackStatus::CreateComplete
    );
}

#[tokio::test]
async fn rollback_complete_shows_the_rollback_events() {
    let proxy = proxy();
    let client = cloudformation(&proxy, 3).await;
    create_stack(&client, "web-r2", GROUP_TEMPLATE).await;
    let mode = FailMode::RollbackComplete {
        resource: "Group".into(),
        reason: "quota".into(),
    };
    proxy.fail_stack("web-r2", mode);

    assert_eq!(
        stack_status(&client, "web-r2").await,
        (StackStatus::RollbackComplete, None)
    );
    let events = client
        .describe_stack_events()
        .stack_name("web-r2")
        .send()
        .await
        .expect("events");
    let statuses: Vec<&str> = events
        .stack_events()
        .iter()
        .filter_map(|event| event.resource_status())
        .map(|s| s.as_str())
        .collect();
    assert_eq!(
        statuses,
        [
            "ROLLBACK_COMPLETE",
            "DELETE_COMPLETE",
            "ROLLBACK_IN_PROGRESS",
            "CREATE_FAILED",
            "CREATE_IN_PROGRESS",
            "CREATE_IN_PROGRESS"
        ]
    );
}

#[tokio::test]
async fn delete_failed_keeps_the_stack_until_deleted_with_retained_resources() {
    let proxy = proxy();
    let client = cloudformation(&proxy, 3).await;
    create_stack(&client, "web-r3", GROUP_TEMPLATE).await;
    let reason = "Target group is currently in use by a listener";
    proxy.fail_stack(
        "web-r3",
        FailMode::DeleteFailed {
            resource: "Group".into(),
            reason: reason.into(),
        },
    );
    assert_eq!(
        stack_status(&client, "web-r3").await.0,
        StackStatus::CreateComplete,
        "not failed before a delete"
    );

    client
        .delete_stack()
        .stack_name("web-r3")
        .send()
        .await
        .expect("delete is accepted");
    let (status, stack_reason) = stack_status(&client, "web-r3").await;
    assert_eq!(status, StackStatus::DeleteFailed);
    assert_eq!(
        stack_reason.as_deref(),
        Some("The following resource(s) failed to delete: [Group]. ")
    );
    let resources = client
        .list_stack_resources()
        .stack_name("web-r3")
        .send()
        .await
        .expect("resources");
    let group = resources
        .stack_resource_summaries()
        .iter()
        .find(|resource| resource.logical_resource_id() == Some("Group"));
    let group = group.expect("the group is still listed");
    assert_eq!(group.resource_status(), Some(&ResourceStatus::DeleteFailed));
    assert_eq!(group.resource_status_reason(), Some(reason));
    let events = client
        .describe_stack_events()
        .stack_name("web-r3")
        .send()
        .await
        .expect("events");
    let newest = &events.stack_events()[..2];
    assert_eq!(newest[1].resource_status_reason(), Some(reason));
    assert!(
        newest[1]
            .physical_resource_id()
            .is_some_and(|id| id.contains("targetgroup")),
        "{newest:?}"
    );

    let group = "Group";
    client
        .delete_stack()
        .stack_name("web-r3")
        .retain_resources(group)
        .send()
        .await
        .expect("retaining delete");
    let error = client
        .describe_stacks()
        .stack_name("web-r3")
        .send()
        .await
        .expect_err("deleted");
    assert!(
        error
            .message()
            .unwrap_or_default()
            .contains("does not exist"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_stuck_stack_stays_in_progress_until_cleared_or_deleted() {
    let proxy = proxy();
    let client = cloudformation(&proxy, 3).await;
    for name in ["slow-r1", "slow-r2"] {
        create_stack(&client, name, GROUP_TEMPLATE).await;
        proxy.fail_stack(name, FailMode::StuckCreating);
    }

    let stacks = client
        .describe_stacks()
        .stack_name("slow-r1")
        .send()
        .await
        .expect("describe");
    let stack = &stacks.stacks()[0];
    assert_eq!(stack.stack_status(), Some(&StackStatus::CreateInProgress));
    assert!(
        stack.outputs().is_empty(),
        "no outputs before the end: {stack:?}"
    );
    let events = client
        .describe_stack_events()
        .stack_name("slow-r1")
        .send()
        .await
        .expect("events");
    let statuses: Vec<&str> = events
        .stack_events()
        .iter()
        .filter_map(|event| event.resource_status())
        .map(|status| status.as_str())
        .collect();
    assert_eq!(statuses, ["CREATE_IN_PROGRESS"]);

    client
        .delete_stack()
        .stack_name("slow-r1")
        .send()
        .await
        .expect("delete");
    let error = client
        .describe_stacks()
        .stack_name("slow-r1")
        .send()
        .await
        .expect_err("deleted");
    assert!(
        error
            .message()
            .unwrap_or_default()
            .contains("does not exist"),
        "{error:?}"
    );
    proxy.clear_stack_fault("slow-r2");
    assert_eq!(
        stack_status(&client, "slow-r2").await.0,
        StackStatus::CreateComplete
    );
}

#[tokio::test]
async fn unhealthy_targets_of_a_group_made_by_a_stack() {
    let proxy = proxy();
    let client = cloudformation(&proxy, 3).await;
    create_stack(&client, "fleet", FLEET_TEMPLATE).await;
    let group_arn = output(&client, "fleet", "GroupArn").await;
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config(proxy.url()).await);
    let states = || async {
        let health = elbv2
            .describe_target_health()
            .target_group_arn(&group_arn)
            .send()
            .await
            .expect("health");
        health
            .target_health_descriptions()
            .iter()
            .map(|target| {
                let health = target.target_health().expect("a health");
                let state = health
                    .state()
                    .map(|state| state.as_str().to_string())
                    .unwrap_or_default();
                (
                    state,
                    health.reason().map(|reason| reason.as_str().to_string()),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        states().await,
        [("healthy".to_string(), None)],
        "moto registers the fleet's instance"
    );

    proxy.unhealthy_targets("targetgroup/nothing-like-this/");
    assert_eq!(
        states().await,
        [("healthy".to_string(), None)],
        "another group's fault does not apply"
    );
    proxy.unhealthy_targets("fleet-Group");
    let unhealthy = (
        "unhealthy".to_string(),
        Some("Target.FailedHealthChecks".to_string()),
    );
    assert_eq!(states().await, [unhealthy]);
    proxy.healthy_targets();
    assert_eq!(states().await, [("healthy".to_string(), None)]);
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
