//! CloudFormation behind [`StackApi`]: the calls deploy, status and retirement make, with plain
//! value types in and out so the logic above can run against an in-memory fake.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_sdk_cloudformation::types::{
    Capability, OnFailure, Parameter, RollbackConfiguration, RollbackTrigger, Tag, TemplateStage,
};

use indexmap::IndexMap;

use super::{classify, AwsContext, AwsError};
use crate::release::params::StackOutputs;

/// Where CreateStack reads the template from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// Sent inline (up to 51,200 bytes).
    Body(String),
    /// An S3 URL CloudFormation reads the template from.
    Url(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateStackRequest {
    pub name: String,
    pub template: TemplateSource,
    pub parameters: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    /// CloudFormation capability names (`CAPABILITY_IAM`, ...).
    pub capabilities: Vec<String>,
    pub termination_protection: bool,
    /// CloudWatch alarm ARNs CloudFormation watches during and after the creation.
    pub rollback_alarm_arns: Vec<String>,
    pub rollback_monitoring_minutes: Option<i32>,
    /// The same token for the same stack and template, so a retried call cannot create two stacks.
    pub client_request_token: String,
    /// CloudFormation's own creation timeout; it fails and rolls back the stack after it.
    pub timeout_minutes: Option<i32>,
}

/// What DescribeStacks says about one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFacts {
    pub name: String,
    /// The stack ARN: stays valid after deletion, unlike the name.
    pub id: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub created: Option<SystemTime>,
    pub tags: Vec<(String, String)>,
    pub parameters: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
    pub termination_protection: bool,
    /// The names its outputs export (`Export: Name`).
    pub exports: Vec<String>,
}

impl StackFacts {
    pub fn tag(&self, key: &str) -> Option<&str> {
        find(&self.tags, key)
    }

    pub fn output(&self, key: &str) -> Option<&str> {
        find(&self.outputs, key)
    }
}

fn find<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

/// One entry of a stack's event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    pub id: String,
    pub timestamp: Option<SystemTime>,
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

/// One resource of a stack, as DescribeStackResources lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResourceFacts {
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

/// The CloudFormation calls cutover makes. Every error names the stack in its action.
pub trait StackApi: Sync {
    /// Starts the creation; returns the stack id.
    fn create_stack(
        &self,
        request: &CreateStackRequest,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    /// `None` when no such stack exists (a deleted stack asked for by name).
    fn describe_stack(
        &self,
        name_or_id: &str,
    ) -> impl Future<Output = Result<Option<StackFacts>, AwsError>> + Send;

    /// Every live stack (not DELETE_COMPLETE) carrying the tag `key`, whatever its value (one
    /// listing of the account's stacks serves an app and tells which other apps own what).
    fn list_stacks_tagged(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Vec<StackFacts>, AwsError>> + Send;

    /// The stack's events newest first, as AWS returns them, stopping before `until_event_id`
    /// (the newest event the caller has already seen) so a long log is not read again each poll.
    fn stack_events(
        &self,
        name_or_id: &str,
        until_event_id: Option<&str>,
    ) -> impl Future<Output = Result<Vec<StackEvent>, AwsError>> + Send;

    /// The template as it was submitted (also readable by stack id after deletion).
    fn template_body(
        &self,
        name_or_id: &str,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    fn delete_stack(&self, name_or_id: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn set_termination_protection(
        &self,
        name_or_id: &str,
        enabled: bool,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn stack_resources(
        &self,
        name_or_id: &str,
    ) -> impl Future<Output = Result<Vec<StackResourceFacts>, AwsError>> + Send;

    /// The stacks that import `export_name` (`Fn::ImportValue`); empty when none does.
    fn list_imports(
        &self,
        export_name: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
}

/// [`StackApi`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct CloudFormation {
    client: aws_sdk_cloudformation::Client,
    outputs_memo: OutputsMemo,
}

/// Outputs of long-lived stacks by stack name, as first read in this run.
pub(crate) type OutputsMemo = Arc<Mutex<HashMap<String, IndexMap<String, String>>>>;

impl CloudFormation {
    pub fn new(context: &AwsContext) -> CloudFormation {
        CloudFormation {
            client: context.cloudformation(),
            outputs_memo: context.outputs_memo.clone(),
        }
    }
}

fn to_system_time(
    time: Option<&aws_sdk_cloudformation::primitives::DateTime>,
) -> Option<SystemTime> {
    time.and_then(|time| SystemTime::try_from(*time).ok())
}

fn stack_facts(stack: &aws_sdk_cloudformation::types::Stack) -> StackFacts {
    StackFacts {
        name: stack.stack_name().unwrap_or_default().to_string(),
        id: stack.stack_id().unwrap_or_default().to_string(),
        status: stack
            .stack_status()
            .map(|status| status.as_str().to_string())
            .unwrap_or_default(),
        status_reason: stack.stack_status_reason().map(str::to_string),
        created: to_system_time(stack.creation_time()),
        tags: stack
            .tags()
            .iter()
            .map(|tag| {
                (
                    tag.key().unwrap_or_default().to_string(),
                    tag.value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        parameters: stack
            .parameters()
            .iter()
            .map(|parameter| {
                (
                    parameter.parameter_key().unwrap_or_default().to_string(),
                    comma_joined(parameter.parameter_value().unwrap_or_default()),
                )
            })
            .collect(),
        outputs: stack
            .outputs()
            .iter()
            .map(|output| {
                (
                    output.output_key().unwrap_or_default().to_string(),
                    output.output_value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        termination_protection: stack.enable_termination_protection().unwrap_or(false),
        exports: stack
            .outputs()
            .iter()
            .filter_map(|output| output.export_name().map(str::to_string))
            .collect(),
    }
}

impl StackApi for CloudFormation {
    async fn create_stack(&self, request: &CreateStackRequest) -> Result<String, AwsError> {
        let mut call = self
            .client
            .create_stack()
            .stack_name(&request.name)
            .client_request_token(&request.client_request_token)
            .enable_termination_protection(request.termination_protection)
            // A failed creation is deleted by cutover itself after reading its events.
            .on_failure(OnFailure::Rollback)
            .set_timeout_in_minutes(request.timeout_minutes);
        call = match &request.template {
            TemplateSource::Body(body) => call.template_body(body),
            TemplateSource::Url(url) => call.template_url(url),
        };
        for (key, value) in &request.parameters {
            call = call.parameters(
                Parameter::builder()
                    .parameter_key(key)
                    .parameter_value(value)
                    .build(),
            );
        }
        for (key, value) in &request.tags {
            call = call.tags(Tag::builder().key(key).value(value).build());
        }
        for capability in &request.capabilities {
            call = call.capabilities(Capability::from(capability.as_str()));
        }
        if !request.rollback_alarm_arns.is_empty() {
            let mut rollback = RollbackConfiguration::builder()
                .set_monitoring_time_in_minutes(request.rollback_monitoring_minutes);
            for arn in &request.rollback_alarm_arns {
                rollback = rollback.rollback_triggers(
                    RollbackTrigger::builder()
                        .arn(arn)
                        .r#type("AWS::CloudWatch::Alarm")
                        .build(),
                );
            }
            call = call.rollback_configuration(rollback.build());
        }
        let output = call
            .send()
            .await
            .map_err(|error| classify(format!("create stack {}", request.name), error))?;
        Ok(output.stack_id().unwrap_or(&request.name).to_string())
    }

    async fn describe_stack(&self, name_or_id: &str) -> Result<Option<StackFacts>, AwsError> {
        let result = self
            .client
            .describe_stacks()
            .stack_name(name_or_id)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.stacks().first().map(stack_facts)),
            Err(error) => {
                let error = classify(format!("describe stack {name_or_id}"), error);
                if error.is_not_found() {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    async fn list_stacks_tagged(&self, key: &str) -> Result<Vec<StackFacts>, AwsError> {
        let mut pages = self.client.describe_stacks().into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|error| classify(format!("list stacks tagged {key}"), error))?;
            for stack in page.stacks() {
                let facts = stack_facts(stack);
                if facts.status != "DELETE_COMPLETE" && facts.tag(key).is_some() {
                    found.push(facts);
                }
            }
        }
        Ok(found)
    }

    async fn stack_events(
        &self,
        name_or_id: &str,
        until_event_id: Option<&str>,
    ) -> Result<Vec<StackEvent>, AwsError> {
        let mut pages = self
            .client
            .describe_stack_events()
            .stack_name(name_or_id)
            .into_paginator()
            .send();
        let mut events = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| {
                classify(format!("read the events of stack {name_or_id}"), error)
            })?;
            for event in page.stack_events() {
                let id = event.event_id().unwrap_or_default();
                if Some(id) == until_event_id {
                    return Ok(events);
                }
                events.push(StackEvent {
                    id: id.to_string(),
                    timestamp: to_system_time(event.timestamp()),
                    logical_id: event.logical_resource_id().unwrap_or_default().to_string(),
                    physical_id: event.physical_resource_id().map(str::to_string),
                    resource_type: event.resource_type().unwrap_or_default().to_string(),
                    status: event
                        .resource_status()
                        .map(|status| status.as_str().to_string())
                        .unwrap_or_default(),
                    reason: event.resource_status_reason().map(str::to_string),
                });
            }
        }
        Ok(events)
    }

    async fn template_body(&self, name_or_id: &str) -> Result<String, AwsError> {
        let output = self
            .client
            .get_template()
            .stack_name(name_or_id)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|error| classify(format!("read the template of stack {name_or_id}"), error))?;
        Ok(output.template_body().unwrap_or_default().to_string())
    }

    async fn delete_stack(&self, name_or_id: &str) -> Result<(), AwsError> {
        self.client
            .delete_stack()
            .stack_name(name_or_id)
            .send()
            .await
            .map_err(|error| classify(format!("delete stack {name_or_id}"), error))?;
        Ok(())
    }

    async fn set_termination_protection(
        &self,
        name_or_id: &str,
        enabled: bool,
    ) -> Result<(), AwsError> {
        self.client
            .update_termination_protection()
            .stack_name(name_or_id)
            .enable_termination_protection(enabled)
            .customize()
            // Some endpoints (moto) answer this call with an HTML 500 page, which the SDK would
            // retry for the full 8 attempts; callers treat a failure here as a warning.
            .config_override(
                aws_sdk_cloudformation::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2)),
            )
            .send()
            .await
            .map_err(|error| {
                let verb = if enabled { "enable" } else { "lift" };
                classify(
                    format!("{verb} the termination protection of stack {name_or_id}"),
                    error,
                )
            })?;
        Ok(())
    }

    async fn stack_resources(&self, name_or_id: &str) -> Result<Vec<StackResourceFacts>, AwsError> {
        let output = self
            .client
            .describe_stack_resources()
            .stack_name(name_or_id)
            .send()
            .await
            .map_err(|error| {
                classify(format!("list the resources of stack {name_or_id}"), error)
            })?;
        Ok(output
            .stack_resources()
            .iter()
            .map(|resource| StackResourceFacts {
                logical_id: resource
                    .logical_resource_id()
                    .unwrap_or_default()
                    .to_string(),
                physical_id: resource.physical_resource_id().map(str::to_string),
                resource_type: resource.resource_type().unwrap_or_default().to_string(),
                status: resource
                    .resource_status()
                    .map(|status| status.as_str().to_string())
                    .unwrap_or_default(),
                reason: resource.resource_status_reason().map(str::to_string),
            })
            .collect())
    }

    async fn list_imports(&self, export_name: &str) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .client
            .list_imports()
            .export_name(export_name)
            .into_paginator()
            .send();
        let mut importers = Vec::new();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => importers.extend(page.imports().iter().cloned()),
                Err(error) => {
                    let error =
                        classify(format!("list the imports of export {export_name}"), error);
                    if is_not_imported(&error) {
                        return Ok(Vec::new());
                    }
                    return Err(error);
                }
            }
        }
        Ok(importers)
    }
}

/// ListImports answers a ValidationError for an export nobody imports ("Export 'x' is not
/// imported by any stack.").
fn is_not_imported(error: &AwsError) -> bool {
    matches!(&error.kind, crate::aws::AwsErrorKind::Rejected { message, .. } if message.contains("not imported"))
}

/// Parameters and router settings read from long-lived stacks (`{ stack_output = .. }`). These
/// stacks outlive a run, so each is read once per run; a missing one is asked again (it may be
/// created meanwhile).
impl StackOutputs for CloudFormation {
    async fn stack_outputs(
        &self,
        stack: &str,
    ) -> Result<Option<IndexMap<String, String>>, AwsError> {
        if let Some(outputs) = self.outputs_memo.lock().expect("memo lock").get(stack) {
            return Ok(Some(outputs.clone()));
        }
        let outputs: Option<IndexMap<String, String>> = self
            .describe_stack(stack)
            .await?
            .map(|facts| facts.outputs.into_iter().collect());
        if let Some(outputs) = &outputs {
            self.outputs_memo
                .lock()
                .expect("memo lock")
                .insert(stack.to_string(), outputs.clone());
        }
        Ok(outputs)
    }
}

/// CloudFormation reports a list parameter as `a,b`; moto 5.2.5 reports it as Python's
/// `['a', 'b']`. Reading both as `a,b` keeps diffs against the live stack free of that noise.
fn comma_joined(value: &str) -> String {
    match value
        .strip_prefix("['")
        .and_then(|rest| rest.strip_suffix("']"))
    {
        Some(items) => items.split("', '").collect::<Vec<_>>().join(","),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod list_parameter_tests {
    use super::comma_joined;

    #[test]
    fn python_list_text_reads_as_comma_joined() {
        assert_eq!(
            comma_joined("['subnet-1', 'subnet-2']"),
            "subnet-1,subnet-2"
        );
        assert_eq!(comma_joined("['one']"), "one");
        assert_eq!(comma_joined("subnet-1,subnet-2"), "subnet-1,subnet-2");
        assert_eq!(comma_joined("[not a list"), "[not a list");
    }
}
