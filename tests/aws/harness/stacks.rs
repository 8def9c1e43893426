//! The proxy's rewrites: failed and stuck stacks, unhealthy targets.

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{ResourceStatus, StackStatus};

use super::{
    cloudformation, create_stack, output, proxy, stack_status, FLEET_TEMPLATE, GROUP_TEMPLATE,
};
use crate::support::{sdk_config, FailMode};

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
