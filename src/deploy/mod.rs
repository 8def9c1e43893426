//! `cutover deploy` up to a healthy candidate: the plan, the creation of the release stack, the
//! wait with live events, and the clean-up of a stack that failed. Traffic is never touched here;
//! the cutover controller takes over from a [`create::Healthy`] candidate.

pub mod create;
#[cfg(test)]
mod fake;
pub mod handover;
pub mod plan;
pub mod preflight;
pub mod progress;
pub mod render;
pub mod test_route;
pub mod unfinished;
pub mod upload;
pub mod wait;

use std::time::Duration;

use crate::aws::AwsError;
use crate::error::{Diagnostic, Exit};
use crate::release::discovery::DiscoveryError;
use crate::release::lock::LockError;
use crate::release::params::ParamError;
use crate::release::{NamingError, TagError};
use crate::route::RouteError;
use crate::spec::SpecError;
use crate::template::{TemplateError, INLINE_BODY_LIMIT};

pub use create::{create_and_wait, Cleanup, Healthy};
pub use plan::{Candidate, CandidateOptions, Delivery, Plan, Previous};

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Naming(#[from] NamingError),
    #[error(transparent)]
    Tags(#[from] TagError),
    #[error(transparent)]
    Params(#[from] ParamError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Handover(#[from] handover::HandoverError),
    #[error(transparent)]
    Route(#[from] RouteError),

    #[error(transparent)]
    Check(#[from] crate::check::CheckError),
    #[error("the test route cannot be placed")]
    TestRoute(#[from] test_route::TestRouteDriveError),
    #[error("app {app} has no test route to hold on: --hold needs [router.test_traffic]")]
    HoldNeedsTestRoute { app: String },
    #[error("{candidate} of app {app} is held on its test route")]
    AlreadyHeld { app: String, candidate: String },
    #[error("{template} cannot be a release stack: {first}{}", if *more > 0 { format!(" (and {more} more error(s), listed above)") } else { String::new() })]
    ReleaseChecks {
        template: String,
        app: String,
        /// The first error finding, as one line.
        first: String,
        more: usize,
    },
    #[error("{template} has no output {output}, which {key} names")]
    MissingOutput {
        template: String,
        output: String,
        key: &'static str,
        /// The outputs the template declares, comma-separated.
        declared: String,
    },
    /// The router's own error says what it tried (`could not set up the alb router of app web:
    /// router.listener (…) does not exist`, `could not read the weights of listener …`).
    #[error("{reason}")]
    RouterUnavailable {
        reason: String,
        hint: Option<String>,
    },
    #[error("could not check that the gates' CloudWatch alarms exist")]
    Alarms {
        #[source]
        source: AwsError,
    },
    #[error("{spec}: no CloudWatch alarm named {alarms} exists (gates.alarms)")]
    MissingAlarms { spec: String, alarms: String },

    #[error("template {template} is {bytes} bytes, over the {INLINE_BODY_LIMIT} bytes CloudFormation accepts inline, and no S3 bucket is set to upload it to")]
    TemplateNeedsBucket { template: String, bytes: usize },
    #[error("could not upload template {template}: S3 bucket {bucket} does not exist")]
    TemplateBucketMissing { template: String, bucket: String },
    #[error("could not upload template {template}")]
    Upload {
        template: String,
        #[source]
        source: AwsError,
    },
    #[error("could not read the recorded template of stack {stack}")]
    PreviousTemplate {
        stack: String,
        #[source]
        source: TemplateError,
    },
    #[error("{spec}: rollback alarm {alarm:?} must be an alarm ARN (CloudFormation rollback triggers take ARNs)")]
    AlarmNotArn { spec: String, alarm: String },
    #[error("{at}: output {output} ({key}) is declared under Condition {condition}, which is false for this release's parameters: the release would have no {output}")]
    OutputConditionFalse {
        at: String,
        output: String,
        key: &'static str,
        condition: String,
    },
    #[error("stack {stack} already exists ({status})")]
    StackExists { stack: String, status: String },
    #[error("the {route} already has an entry named {stack} that is not this release's (a weighted record with that set identifier, say): the release's own would overwrite it")]
    RouteEntryTaken { stack: String, route: String },
    #[error("not creating stack {stack} without confirmation: not on a terminal")]
    NeedsConfirmation { stack: String },
    #[error("could not ask for confirmation")]
    Prompt(#[source] std::io::Error),
    #[error("could not write the output")]
    Write(#[source] std::io::Error),
    #[error("{at}: {function} to {name}, which the template does not declare (no parameter or resource of that name)")]
    UndeclaredReference {
        at: String,
        function: &'static str,
        name: String,
    },
    #[error("could not write the deploy report to {path}")]
    Report {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not create stack {stack}")]
    Create {
        stack: String,
        #[source]
        source: AwsError,
    },
    #[error("stack {stack} failed to create ({status}): {cause}")]
    CreateFailed {
        stack: String,
        status: String,
        cause: String,
        cleanup: Cleanup,
    },
    #[error("gave up waiting for stack {stack} after {}: it was still {status}", humantime::format_duration(*.waited))]
    TimedOut {
        stack: String,
        status: String,
        waited: Duration,
        cleanup: Cleanup,
    },
    #[error("lost track of stack {stack} while it was being created")]
    Follow {
        stack: String,
        #[source]
        source: wait::WaitError,
    },
}

impl Diagnostic for DeployError {
    fn exit(&self) -> Exit {
        match self {
            DeployError::Spec(error) => error.exit(),
            DeployError::Template(error) => error.exit(),
            DeployError::Naming(error) => error.exit(),
            DeployError::Tags(error) => error.exit(),
            DeployError::Params(error) => error.exit(),
            DeployError::Discovery(error) => error.exit(),
            DeployError::Aws(error) => error.exit(),
            DeployError::Lock(error) => error.exit(),
            DeployError::Handover(error) => error.exit(),
            DeployError::Route(error) => error.exit(),
            DeployError::Upload { source, .. } => source.exit(),
            // A deploy that failed and was cleaned up: the documented "rolled back" exit.
            DeployError::CreateFailed { .. } | DeployError::TimedOut { .. } => Exit::Changes,
            _ => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            DeployError::Spec(error) => error.hint(),
            DeployError::Template(error) => error.hint(),
            DeployError::Naming(error) => error.hint(),
            DeployError::Tags(error) => error.hint(),
            DeployError::Params(error) => error.hint(),
            DeployError::Discovery(error) => error.hint(),
            DeployError::Aws(error) => error.hint(),
            DeployError::Lock(error) => error.hint(),
            DeployError::Handover(error) => error.hint(),
            DeployError::Route(error) => error.hint(),
            DeployError::MissingOutput { declared, .. } => Some(if declared.is_empty() {
                "the template declares no Outputs: add the output (e.g. `Outputs: {TargetGroupArn: {Value: !Ref TargetGroup}}`) or fix the key in the spec".into()
            } else {
                format!("the template declares: {declared}; add the output or fix the key in the spec")
            }),
            DeployError::RouterUnavailable { hint, .. } => hint.clone(),
            DeployError::Check(error) => error.hint(),
            DeployError::TestRoute(error) => error.hint(),
            DeployError::HoldNeedsTestRoute { .. } => Some(
                "add [router.test_traffic] with a header (e.g. header = \"X-Release\") to the spec, or deploy without --hold".into(),
            ),
            DeployError::AlreadyHeld { app, .. } => Some(format!(
                "`cutover promote {app}` or `cutover abort {app}` first"
            )),
            DeployError::ReleaseChecks { app, .. } => Some(format!(
                "`cutover check {app}` lists every finding with its fix; to accept one, silence it with a reason (Metadata: {{cutover: {{ignore: {{RULE: \"why\"}}}}}} on the resource, or [check] ignore in the spec)"
            )),
            DeployError::Alarms { source } => source.hint(),
            DeployError::MissingAlarms { .. } => Some(
                "create the alarm, fix its name under [gates] alarms, or name an alarm a release creates with `alarm_outputs`".into(),
            ),
            DeployError::TemplateNeedsBucket { .. } => Some(
                "pass --template-bucket BUCKET or set `template_bucket` under [stack] in the spec"
                    .into(),
            ),
            DeployError::TemplateBucketMissing { .. } => Some(
                "create the bucket in the stack's region, or name another one with --template-bucket or `template_bucket` under [stack]"
                    .into(),
            ),
            DeployError::Upload { source, .. } => source.hint(),
            DeployError::AlarmNotArn { .. } => Some(
                "write it as arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME under [stack] rollback_alarms"
                    .into(),
            ),
            DeployError::StackExists { .. } => {
                Some("pick another release id with --release, or retire the old stack".into())
            }
            DeployError::OutputConditionFalse { condition, .. } => Some(format!(
                "set the parameters so that {condition} holds, or declare the output without the condition"
            )),
            DeployError::RouteEntryTaken { .. } => Some(
                "pick another release id with --release, or give that entry another name".into(),
            ),
            DeployError::NeedsConfirmation { .. } => {
                Some("pass --yes to create it without asking, or --dry-run to see the plan".into())
            }
            DeployError::Create { source, .. } => source.hint(),
            DeployError::CreateFailed { cleanup, .. } | DeployError::TimedOut { cleanup, .. } => {
                Some(format!("{cleanup}; traffic was not touched"))
            }
            DeployError::Follow { stack, source } => Some(
                source
                    .hint()
                    .unwrap_or_else(|| format!("check stack {stack} in CloudFormation; it may still be creating")),
            ),
            _ => None,
        }
    }
}
