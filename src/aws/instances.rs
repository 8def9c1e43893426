//! EC2 instances behind [`InstanceApi`]: which instances a release stack runs and their status
//! checks (the instance-status gate).

use std::future::Future;

use aws_sdk_ec2::types::Filter;

use super::{classify, AwsContext, AwsError};

/// What DescribeInstanceStatus says about one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStatusFacts {
    pub instance_id: String,
    /// `pending`, `running`, `stopping`, ...
    pub state: String,
    /// The instance status check: `ok`, `impaired`, `initializing`, `insufficient-data`, ...
    pub instance_check: String,
    /// The system (host) status check, same values.
    pub system_check: String,
}

/// The EC2 instance calls the instance-status gate makes.
pub trait InstanceApi: Sync {
    /// Pending and running instances tagged `aws:cloudformation:stack-name = stack_name`.
    /// CloudFormation tags the instances it creates, and auto scaling groups it creates pass the
    /// tag on to the instances they launch.
    fn stack_instances(
        &self,
        stack_name: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// The status of each instance, stopped ones included (they fail the gate).
    fn instance_statuses(
        &self,
        instance_ids: &[String],
    ) -> impl Future<Output = Result<Vec<InstanceStatusFacts>, AwsError>> + Send;
}

/// [`InstanceApi`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct Ec2Instances {
    client: aws_sdk_ec2::Client,
}

impl Ec2Instances {
    pub fn new(context: &AwsContext) -> Ec2Instances {
        Ec2Instances {
            client: context.ec2(),
        }
    }
}

impl InstanceApi for Ec2Instances {
    async fn stack_instances(&self, stack_name: &str) -> Result<Vec<String>, AwsError> {
        let action = format!("list the instances of stack {stack_name}");
        let mut ids = Vec::new();
        let mut pages = self
            .client
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("tag:aws:cloudformation:stack-name")
                    .values(stack_name)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .values("pending")
                    .values("running")
                    .build(),
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| classify(&action, error))?;
            for reservation in page.reservations() {
                ids.extend(
                    reservation
                        .instances()
                        .iter()
                        .filter_map(|instance| instance.instance_id().map(str::to_string)),
                );
            }
        }
        Ok(ids)
    }

    async fn instance_statuses(
        &self,
        instance_ids: &[String],
    ) -> Result<Vec<InstanceStatusFacts>, AwsError> {
        let action = format!(
            "describe the status of instances {}",
            instance_ids.join(", ")
        );
        let mut statuses = Vec::new();
        let mut pages = self
            .client
            .describe_instance_status()
            .set_instance_ids(Some(instance_ids.to_vec()))
            .include_all_instances(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| classify(&action, error))?;
            for status in page.instance_statuses() {
                let summary = |summary: Option<&aws_sdk_ec2::types::InstanceStatusSummary>| {
                    summary.and_then(|summary| summary.status()).map_or_else(
                        || "unknown".to_string(),
                        |status| status.as_str().to_string(),
                    )
                };
                statuses.push(InstanceStatusFacts {
                    instance_id: status.instance_id().unwrap_or_default().to_string(),
                    state: status
                        .instance_state()
                        .and_then(|state| state.name())
                        .map_or_else(|| "unknown".to_string(), |name| name.as_str().to_string()),
                    instance_check: summary(status.instance_status()),
                    system_check: summary(status.system_status()),
                });
            }
        }
        Ok(statuses)
    }
}
