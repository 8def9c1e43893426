//! The CloudFormation calls of a release's later life, which [`super::cloudformation::StackApi`]
//! does not cover: finding stacks that were deleted (to tell "retired" from "never existed", and
//! for `history`) and listing the apps the account knows. Release stacks are never updated: what
//! cutover learns about a release later is a mark in SSM (`crate::release::marks`).

use std::collections::BTreeSet;
use std::future::Future;
use std::time::SystemTime;

use aws_sdk_cloudformation::types::StackStatus;

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

pub trait StackLifecycleApi: Sync {
    /// Deleted stacks named `name`, newest deletion first.
    fn deleted_stacks(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<DeletedStack>, AwsError>> + Send;

    /// Deleted stacks whose name starts with `prefix` (`web-` for app web's releases), newest
    /// deletion first.
    fn deleted_stacks_with_prefix(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<DeletedStack>, AwsError>> + Send;

    /// The values of tag `key` across every stack that is not deleted (the apps cutover knows
    /// in this account and region, for `key = cutover:app`).
    fn tag_values(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<BTreeSet<String>, AwsError>> + Send;
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

impl StackLifecycle {
    /// Deleted stacks whose name `wanted` accepts, newest deletion first.
    async fn deleted_stacks_matching(
        &self,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<DeletedStack>, AwsError> {
        let mut pages = self
            .client
            .list_stacks()
            .stack_status_filter(StackStatus::DeleteComplete)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| classify("list deleted stacks", error))?;
            for summary in page.stack_summaries() {
                let Some(name) = summary.stack_name() else {
                    continue;
                };
                if wanted(name) && summary.stack_status() == Some(&StackStatus::DeleteComplete) {
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
}

impl StackLifecycleApi for StackLifecycle {
    async fn deleted_stacks(&self, name: &str) -> Result<Vec<DeletedStack>, AwsError> {
        let found = self.deleted_stacks_matching(|stack| stack == name).await?;
        Ok(found)
    }

    async fn deleted_stacks_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<DeletedStack>, AwsError> {
        self.deleted_stacks_matching(|stack| stack.starts_with(prefix))
            .await
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
}
