//! Waiting for a stack operation: an adaptive poll loop that streams new events as they appear
//! and, on failure, names the first resource that failed rather than the last event.
//!
//! CloudFormation's SDK waiters poll every 30–120 s and give up after a fixed number of attempts;
//! a deploy wants the opposite: quick feedback while things move, patience while they do not,
//! and no ceiling other than the user's timeout.

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;

use crate::aws::cloudformation::{StackApi, StackEvent, StackFacts};
use crate::aws::{AwsError, AwsErrorKind};
use crate::error::{Diagnostic, Exit};

/// Polling cadence: quick at first and after every change, slower while nothing happens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollPolicy {
    pub quick: Duration,
    pub slowest: Duration,
    pub backoff: f64,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            quick: Duration::from_secs(1),
            slowest: Duration::from_secs(15),
            backoff: 1.5,
        }
    }
}

impl PollPolicy {
    fn slower(&self, interval: Duration) -> Duration {
        interval.mul_f64(self.backoff).min(self.slowest)
    }
}

/// What the wait is for; decides which statuses end it and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Delete,
}

impl Operation {
    fn verb(self) -> &'static str {
        match self {
            Operation::Create => "creation",
            Operation::Delete => "deletion",
        }
    }

    /// `Some(true)` when `status` ends the wait successfully, `Some(false)` when it ends it as a
    /// failure, `None` while the operation is still under way (rollbacks included: their events
    /// are worth streaming and the stack cannot be deleted before they end).
    fn settled(self, status: &str) -> Option<bool> {
        match self {
            Operation::Create => match status {
                "CREATE_COMPLETE" => Some(true),
                "CREATE_FAILED" | "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "DELETE_COMPLETE"
                | "DELETE_FAILED" => Some(false),
                // Someone deleted the stack under us: no point waiting for CREATE_COMPLETE.
                "DELETE_IN_PROGRESS" => Some(false),
                _ => None,
            },
            Operation::Delete => match status {
                "DELETE_COMPLETE" => Some(true),
                "DELETE_FAILED" => Some(false),
                _ => None,
            },
        }
    }
}

/// How a wait ended, when it ended on its own (not on a timeout or an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded(StackFacts),
    Failed(Failure),
}

/// A stack operation that failed, with the event that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub stack: StackFacts,
    /// The first failed resource event since the wait began; `None` when the log has none (the
    /// stack's own status reason is then the best explanation there is).
    pub root_cause: Option<StackEvent>,
}

impl Failure {
    /// One line for the user: the failed resource and its reason, or the stack's status reason.
    pub fn explanation(&self) -> String {
        match &self.root_cause {
            Some(event) => format!(
                "{} ({}) {}: {}",
                event.logical_id,
                event.resource_type,
                event.status,
                event.reason.as_deref().unwrap_or("no reason given")
            ),
            None => format!(
                "stack {} is {}: {}",
                self.stack.name,
                self.stack.status,
                self.stack
                    .status_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("gave up waiting for the {operation} of stack {stack} after {waited}: it is still {status}", waited = humantime::format_duration(*.waited))]
    TimedOut {
        operation: &'static str,
        stack: String,
        status: String,
        waited: Duration,
    },
    #[error("stack {stack} disappeared during its {operation}")]
    Vanished {
        operation: &'static str,
        stack: String,
    },
    #[error("could not follow stack {stack}")]
    Aws {
        stack: String,
        #[source]
        source: AwsError,
    },
}

impl Diagnostic for WaitError {
    fn exit(&self) -> Exit {
        Exit::Error
    }

    fn hint(&self) -> Option<String> {
        match self {
            WaitError::TimedOut { stack, .. } => Some(format!(
                "the operation goes on in CloudFormation: follow it with `aws cloudformation describe-stack-events --stack-name {stack}`, or raise --timeout / `stack.timeout`"
            )),
            WaitError::Aws { source, .. } => source.hint(),
            WaitError::Vanished { .. } => None,
        }
    }
}

/// Where a wait reports what it sees: new events oldest first, and the stack's status.
pub trait WaitDisplay {
    fn event(&mut self, stack: &str, event: &StackEvent);
    fn status(&mut self, stack: &str, status: &str);
    /// The wait is over; take any live display off the screen.
    fn finish(&mut self);
}

/// Follows one stack (by id, which stays valid through deletion) across successive waits,
/// remembering the events already shown.
pub struct StackWatch<'a, A: StackApi> {
    api: &'a A,
    stack_id: String,
    stack_name: String,
    policy: PollPolicy,
    seen: HashSet<String>,
    newest_seen: Option<String>,
}

impl<'a, A: StackApi> StackWatch<'a, A> {
    pub fn new(api: &'a A, stack_id: &str, stack_name: &str) -> StackWatch<'a, A> {
        StackWatch {
            api,
            stack_id: stack_id.to_string(),
            stack_name: stack_name.to_string(),
            policy: PollPolicy::default(),
            seen: HashSet::new(),
            newest_seen: None,
        }
    }

    pub fn with_policy(mut self, policy: PollPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Polls until `operation` settles or `timeout` passes. Throttling and transient errors only
    /// slow the polling down; they never end the wait.
    pub async fn wait(
        &mut self,
        operation: Operation,
        timeout: Duration,
        display: &mut dyn WaitDisplay,
    ) -> Result<Outcome, WaitError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut interval = self.policy.quick;
        let mut last_status = String::new();
        let mut failures_in_this_wait: Vec<StackEvent> = Vec::new();
        let result = loop {
            let poll = tokio::time::timeout_at(deadline, self.poll()).await;
            let changed = match poll {
                Err(_elapsed) => {
                    break Err(self.timed_out(operation, &last_status, started));
                }
                Ok(Err(error)) if keeps_waiting(&error) => {
                    tracing::debug!(stack = %self.stack_name, error = %error, "poll failed; waiting longer");
                    false
                }
                Ok(Err(error)) => {
                    break Err(WaitError::Aws {
                        stack: self.stack_name.clone(),
                        source: error,
                    })
                }
                Ok(Ok(None)) => {
                    break match operation {
                        // A deleted stack asked for by id is DELETE_COMPLETE; by name it is gone.
                        Operation::Delete => Ok(Outcome::Succeeded(StackFacts {
                            name: self.stack_name.clone(),
                            id: self.stack_id.clone(),
                            status: "DELETE_COMPLETE".into(),
                            status_reason: None,
                            created: None,
                            tags: Vec::new(),
                            parameters: Vec::new(),
                            outputs: Vec::new(),
                            termination_protection: false,
                            exports: Vec::new(),
                        })),
                        Operation::Create => Err(WaitError::Vanished {
                            operation: operation.verb(),
                            stack: self.stack_name.clone(),
                        }),
                    };
                }
                Ok(Ok(Some((facts, new_events)))) => {
                    for event in &new_events {
                        display.event(&self.stack_name, event);
                        if is_failure(event) {
                            failures_in_this_wait.push(event.clone());
                        }
                    }
                    let status_changed = facts.status != last_status;
                    if status_changed {
                        display.status(&self.stack_name, &facts.status);
                        last_status = facts.status.clone();
                    }
                    match operation.settled(&facts.status) {
                        Some(true) => break Ok(Outcome::Succeeded(facts)),
                        Some(false) => {
                            break Ok(Outcome::Failed(Failure {
                                root_cause: self.root_cause(&failures_in_this_wait),
                                stack: facts,
                            }))
                        }
                        None => {}
                    }
                    status_changed || !new_events.is_empty()
                }
            };
            interval = if changed {
                self.policy.quick
            } else {
                self.policy.slower(interval)
            };
            let now = Instant::now();
            if now >= deadline {
                break Err(self.timed_out(operation, &last_status, started));
            }
            tokio::time::sleep_until((now + interval).min(deadline)).await;
        };
        display.finish();
        result
    }

    /// The first failure of a resource explains the rest (the stack's own CREATE_FAILED and the
    /// cancellations follow from it); the stack-level failure only when no resource failed.
    fn root_cause(&self, failures_oldest_first: &[StackEvent]) -> Option<StackEvent> {
        let is_stack_itself = |event: &StackEvent| {
            event.physical_id.as_deref() == Some(self.stack_id.as_str())
                || event.logical_id == self.stack_name
        };
        failures_oldest_first
            .iter()
            .find(|event| !is_stack_itself(event))
            .or_else(|| failures_oldest_first.first())
            .cloned()
    }

    fn timed_out(&self, operation: Operation, status: &str, started: Instant) -> WaitError {
        WaitError::TimedOut {
            operation: operation.verb(),
            stack: self.stack_name.clone(),
            status: if status.is_empty() {
                "in an unknown state (no answer from CloudFormation)".into()
            } else {
                status.to_string()
            },
            waited: round_to_seconds(started.elapsed()),
        }
    }

    /// One look at the stack: its facts, then the events not seen yet, oldest first. Events are
    /// read after the status so every event that led to the status is in hand.
    async fn poll(&mut self) -> Result<Option<(StackFacts, Vec<StackEvent>)>, AwsError> {
        let Some(facts) = self.api.describe_stack(&self.stack_id).await? else {
            return Ok(None);
        };
        let mut events = self
            .api
            .stack_events(&self.stack_id, self.newest_seen.as_deref())
            .await?;
        if let Some(newest) = events.first() {
            self.newest_seen = Some(newest.id.clone());
        }
        events.retain(|event| self.seen.insert(event.id.clone()));
        events.reverse();
        Ok(Some((facts, events)))
    }
}

fn round_to_seconds(duration: Duration) -> Duration {
    Duration::from_secs(duration.as_secs_f64().round() as u64)
}

/// Errors that only mean "ask again later": throttling, transport trouble, a server that failed
/// or answered something unreadable. Refusals (permissions, validation) end the wait.
fn keeps_waiting(error: &AwsError) -> bool {
    error.is_transient() || matches!(error.kind, AwsErrorKind::Other { .. })
}

const CANCELLED: &str = "Resource creation cancelled";

fn is_failure(event: &StackEvent) -> bool {
    event.status.ends_with("_FAILED")
        && !event
            .reason
            .as_deref()
            .is_some_and(|reason| reason.contains(CANCELLED))
}

#[cfg(test)]
#[path = "wait_tests.rs"]
mod tests;
