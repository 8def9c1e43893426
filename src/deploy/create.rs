//! Creating the release stack and waiting for it; a stack that fails is explained and deleted
//! (unless kept for inspection). Traffic is never touched here.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use super::plan::Plan;
use super::wait::{Operation, Outcome, StackWatch, WaitDisplay, WaitError};
use super::DeployError;
use crate::aws::cloudformation::{StackApi, StackFacts, TemplateSource};
use crate::aws::AwsErrorKind;

/// A candidate stack in CREATE_COMPLETE: what the cutover controller starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthy {
    pub stack: StackFacts,
    pub waited: Duration,
}

/// What became of a stack that failed to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    Deleted,
    /// `--keep-failed`.
    Kept,
    DeleteFailed {
        reason: String,
    },
    DeleteTimedOut,
    DeleteError {
        reason: String,
    },
}

impl fmt::Display for Cleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cleanup::Deleted => write!(f, "the failed stack was deleted"),
            Cleanup::Kept => write!(f, "the failed stack was kept for inspection (--keep-failed); delete it with `aws cloudformation delete-stack` when done"),
            Cleanup::DeleteFailed { reason } => {
                write!(f, "deleting the failed stack failed too ({reason}); delete it by hand")
            }
            Cleanup::DeleteTimedOut => {
                write!(f, "the failed stack is still being deleted; check it in CloudFormation")
            }
            Cleanup::DeleteError { reason } => {
                write!(f, "the failed stack could not be deleted ({reason}); delete it by hand")
            }
        }
    }
}

/// Whether `stack` carries every tag `request` gives (the release's creation time among them,
/// to the second): it is the stack this request created.
fn created_by_this_request(
    stack: &crate::aws::cloudformation::StackFacts,
    request: &crate::aws::cloudformation::CreateStackRequest,
) -> bool {
    request
        .tags
        .iter()
        .all(|(key, value)| stack.tag(key) == Some(value.as_str()))
}

/// How long the deletion of a failed stack may take.
const DELETE_TIMEOUT_FLOOR: Duration = Duration::from_secs(5 * 60);

/// Creates the stack of `plan` and waits until it is healthy, or explains why it is not and
/// cleans it up. `delete_timeout` bounds the clean-up (default: the create timeout, at least
/// 5 minutes).
pub async fn create_and_wait(
    api: &impl StackApi,
    plan: &Plan,
    template: TemplateSource,
    keep_failed: bool,
    display: &mut dyn WaitDisplay,
) -> Result<Healthy, DeployError> {
    let request = plan.create_request(template);
    let stack_name = request.name.clone();
    let started = Instant::now();
    let stack_id = match api.create_stack(&request).await {
        Ok(id) => id,
        Err(source) => match &source.kind {
            AwsErrorKind::Rejected { code, .. } if code == "AlreadyExistsException" => {
                // An attempt of this very call that timed out on our side may have created it
                // (the SDK then retried): the stack carries this run's own tags, creation time
                // included. Anything else is another run's.
                match api.describe_stack(&stack_name).await {
                    Ok(Some(stack)) if created_by_this_request(&stack, &request) => stack.id,
                    _ => {
                        return Err(DeployError::StackExists {
                            stack: stack_name.clone(),
                            status: "created by another run".into(),
                        })
                    }
                }
            }
            _ => {
                return Err(DeployError::Create {
                    stack: stack_name.clone(),
                    source,
                })
            }
        },
    };
    tracing::debug!(stack = %stack_name, id = %stack_id, "create requested");
    let mut watch = StackWatch::new(api, &stack_id, &stack_name);
    let timeout = plan.candidate.timeout;
    match watch.wait(Operation::Create, timeout, display).await {
        Ok(Outcome::Succeeded(stack)) => Ok(Healthy {
            stack,
            waited: started.elapsed(),
        }),
        Ok(Outcome::Failed(failure)) => {
            let cleanup = clean_up(
                &mut watch,
                api,
                &failure.stack,
                keep_failed,
                timeout,
                display,
            )
            .await;
            Err(DeployError::CreateFailed {
                stack: stack_name,
                status: failure.stack.status.clone(),
                cause: failure.explanation(),
                cleanup,
            })
        }
        Err(WaitError::TimedOut { status, waited, .. }) => {
            // The stack may have ended in the meantime; describe it for the clean-up's benefit.
            let facts = api.describe_stack(&stack_id).await.ok().flatten();
            let cleanup = match facts {
                Some(facts) => {
                    clean_up(&mut watch, api, &facts, keep_failed, timeout, display).await
                }
                None => Cleanup::DeleteError {
                    reason: "CloudFormation did not describe it".into(),
                },
            };
            Err(DeployError::TimedOut {
                stack: stack_name,
                status,
                waited,
                cleanup,
            })
        }
        Err(source) => Err(DeployError::Follow {
            stack: stack_name,
            source,
        }),
    }
}

async fn clean_up<A: StackApi>(
    watch: &mut StackWatch<'_, A>,
    api: &A,
    stack: &StackFacts,
    keep_failed: bool,
    timeout: Duration,
    display: &mut dyn WaitDisplay,
) -> Cleanup {
    if keep_failed {
        return Cleanup::Kept;
    }
    if stack.status == "DELETE_COMPLETE" {
        return Cleanup::Deleted;
    }
    if stack.termination_protection {
        // Best effort: some endpoints (moto) cannot lift it but do not enforce it either; a
        // protection that really holds shows up as a failed delete below.
        if let Err(error) = api.set_termination_protection(&stack.id, false).await {
            tracing::warn!("{error}; trying to delete stack {} anyway", stack.name);
        }
    }
    if let Err(error) = api.delete_stack(&stack.id).await {
        return Cleanup::DeleteError {
            reason: error.to_string(),
        };
    }
    match watch
        .wait(
            Operation::Delete,
            timeout.max(DELETE_TIMEOUT_FLOOR),
            display,
        )
        .await
    {
        Ok(Outcome::Succeeded(_)) => Cleanup::Deleted,
        Ok(Outcome::Failed(failure)) => Cleanup::DeleteFailed {
            reason: failure.explanation(),
        },
        Err(WaitError::TimedOut { .. }) => Cleanup::DeleteTimedOut,
        Err(error) => Cleanup::DeleteError {
            reason: error.to_string(),
        },
    }
}

#[cfg(test)]
#[path = "create_tests.rs"]
mod tests;
