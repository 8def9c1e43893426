//! The CloudFormation calls of a release's later life, which [`super::cloudformation::StackApi`]
//! does not cover: finding stacks that were deleted (to tell "retired" from "never existed") and
//! rewriting a stack's tags in place (to mark a release rolled away from, or one that needs an
//! operator's attention).

use std::collections::BTreeSet;
use std::future::Future;
use std::time::SystemTime;

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus, Tag};

use super::{classify, AwsContext, AwsError};

/// One deleted stack, as ListStacks remembers it (CloudFormation keeps them about 90 days).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedStack {
    pub name: String,
    /// The stack ARN: GetTemplate and DescribeStacks still answer for it after deletion.
    pub id: String,
    pub created: Option<SystemTime>,
    pub deleted: Option<SystemTime>,
}

/// What rewriting the tags of a stack needs: the stack, its parameter names (each kept at its
/// previous value), the capabilities its template needs, and the complete new tag list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagUpdate {
    pub stack: String,
    pub parameter_names: Vec<String>,
    pub capabilities: Vec<String>,
    pub tags: Vec<(String, String)>,
}

pub trait StackLifecycleApi: Sync {
    /// Deleted stacks named `name`, newest deletion first.
    fn deleted_stacks(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<DeletedStack>, AwsError>> + Send;

    /// The values of tag `key` across every stack that is not deleted (the apps cutover knows
    /// in this account and region, for `key = cutover:app`).
    fn tag_values(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<BTreeSet<String>, AwsError>> + Send;

    /// Starts an UpdateStack that keeps the template and every parameter and sets the tags.
    fn update_tags(&self, update: &TagUpdate) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// [`StackLifecycleApi`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct StackLifecycle {
    client: aws_sdk_cloudformation::Client,
}

impl StackLifecycle {
    pub fn new(context: &AwsContext) -> StackLifecycle {
        StackLifecycle {
            client: context.cloudformation(),
        }
    }
}

fn to_system_time(
    time: Option<&aws_sdk_cloudformation::primitives::DateTime>,
) -> Option<SystemTime> {
    time.and_then(|time| SystemTime::try_from(*time).ok())
}

impl StackLifecycleApi for StackLifecycle {
    async fn deleted_stacks(&self, name: &str) -> Result<Vec<DeletedStack>, AwsError> {
        let mut pages = self
            .client
            .list_stacks()
            .stack_status_filter(StackStatus::DeleteComplete)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|error| classify(format!("list deleted stacks named {name}"), error))?;
            for summary in page.stack_summaries() {
                if summary.stack_name() == Some(name)
                    && summary.stack_status() == Some(&StackStatus::DeleteComplete)
                {
                    found.push(DeletedStack {
                        name: name.to_string(),
                        id: summary.stack_id().unwrap_or_default().to_string(),
                        created: to_system_time(summary.creation_time()),
                        deleted: to_system_time(summary.deletion_time()),
                    });
                }
            }
        }
        found.sort_by(|a, b| b.deleted.cmp(&a.deleted).then(b.created.cmp(&a.created)));
        Ok(found)
    }

    async fn tag_values(&self, key: &str) -> Result<BTreeSet<String>, AwsError> {
        let mut pages = self.client.describe_stacks().into_paginator().send();
        let mut values = BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|error| classify(format!("list stacks tagged {key}"), error))?;
            for stack in page.stacks() {
                if stack.stack_status() == Some(&StackStatus::DeleteComplete) {
                    continue;
                }
                values.extend(
                    stack
                        .tags()
                        .iter()
                        .filter(|tag| tag.key() == Some(key))
                        .filter_map(|tag| tag.value())
                        .map(str::to_string),
                );
            }
        }
        Ok(values)
    }

    async fn update_tags(&self, update: &TagUpdate) -> Result<(), AwsError> {
        let mut call = self
            .client
            .update_stack()
            .stack_name(&update.stack)
            .use_previous_template(true);
        for name in &update.parameter_names {
            call = call.parameters(
                Parameter::builder()
                    .parameter_key(name)
                    .use_previous_value(true)
                    .build(),
            );
        }
        for capability in &update.capabilities {
            call = call.capabilities(Capability::from(capability.as_str()));
        }
        for (key, value) in &update.tags {
            call = call.tags(Tag::builder().key(key).value(value).build());
        }
        call.send().await.map_err(|error| {
            classify(format!("update the tags of stack {}", update.stack), error)
        })?;
        Ok(())
    }
}
