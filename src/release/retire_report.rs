//! What retirement reports: the retention plan and what became of each release it let go
//! ([`RetireOutcome`]), as lines for the user and as JSON.

use serde::Serialize;

use super::retention::RetirementPlan;
use crate::error::Exit;

/// What happened to one release retention let go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RetireOutcome {
    Deleted {
        stack: String,
        /// Whether it was in the router's configuration (at weight 0) and was taken out.
        unrouted: bool,
        /// What the deletion left in the account (`DeletionPolicy: Retain` or `Snapshot`):
        /// `Logs (AWS::S3::Bucket) my-logs-bucket`.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        retained: Vec<String>,
    },
    /// Not deleted because a safety rail held (it gained traffic since the plan, …).
    Refused { stack: String, reason: String },
    /// The deletion was tried and failed.
    DeleteFailed {
        stack: String,
        status: String,
        reason: String,
        /// `logical id (type): reason` of every resource CloudFormation could not delete.
        resources: Vec<String>,
        /// `None` when the attention tag was written; otherwise why it could not be.
        attention_mark_error: Option<String>,
    },
    /// An AWS call failed before or during the deletion.
    Error { stack: String, reason: String },
    /// The baseline was let go: taken out of the route and recorded as released. It is not
    /// cutover's, so nothing was deleted.
    Released {
        stack: String,
        /// What the baseline was (`target group arn:…`).
        target: String,
        unrouted: bool,
    },
    /// A dry run: the real run would delete it, leaving `retained` (its `DeletionPolicy`).
    WouldRetire {
        stack: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        retained: Vec<String>,
    },
    /// A dry run: the real run would keep it although retention lets it go (another route
    /// forwards to it, another stack imports its exports).
    WouldKeep { stack: String, reason: String },
    /// A dry run: the real run would let the baseline go (no longer a rollback target).
    WouldRelease { stack: String, target: String },
}

impl RetireOutcome {
    pub fn stack(&self) -> &str {
        match self {
            RetireOutcome::Deleted { stack, .. }
            | RetireOutcome::Refused { stack, .. }
            | RetireOutcome::DeleteFailed { stack, .. }
            | RetireOutcome::Error { stack, .. }
            | RetireOutcome::Released { stack, .. }
            | RetireOutcome::WouldRetire { stack, .. }
            | RetireOutcome::WouldKeep { stack, .. }
            | RetireOutcome::WouldRelease { stack, .. } => stack,
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(
            self,
            RetireOutcome::Deleted { .. }
                | RetireOutcome::Released { .. }
                | RetireOutcome::WouldRetire { .. }
                | RetireOutcome::WouldRelease { .. }
        )
    }

    /// One line for the user.
    pub fn describe(&self) -> String {
        match self {
            RetireOutcome::Deleted {
                stack,
                unrouted,
                retained,
            } => {
                let mut text = format!(
                    "retired {stack}: {}stack deleted (DELETE_COMPLETE)",
                    if *unrouted {
                        "taken out of the router, "
                    } else {
                        ""
                    }
                );
                if !retained.is_empty() {
                    text.push_str("; left in the account by its DeletionPolicy:");
                    for resource in retained {
                        text.push_str(&format!("\n    {resource}"));
                    }
                }
                text
            }
            RetireOutcome::Refused { stack, reason } => {
                format!("kept {stack}: {reason}")
            }
            RetireOutcome::WouldRetire { stack, retained } => {
                let mut text = format!("would retire {stack}: stack deleted");
                if !retained.is_empty() {
                    text.push_str("; left in the account by its DeletionPolicy:");
                    for resource in retained {
                        text.push_str(&format!("\n    {resource}"));
                    }
                }
                text
            }
            RetireOutcome::WouldKeep { stack, reason } => {
                format!("would keep {stack}: {reason}")
            }
            RetireOutcome::WouldRelease { target, .. } => format!(
                "would let the baseline go ({target}): no longer a rollback target; it is not cutover's, so nothing would be deleted"
            ),
            RetireOutcome::DeleteFailed {
                stack,
                status,
                reason,
                resources,
                attention_mark_error,
            } => {
                let mut text = format!("could not retire {stack}: {status}: {reason}");
                for resource in resources {
                    text.push_str(&format!("\n    {resource}"));
                }
                match attention_mark_error {
                    None => text.push_str("\n    marked for an operator's attention (`cutover status` shows it)"),
                    Some(error) => text.push_str(&format!(
                        "\n    could not mark it for an operator's attention: {error}"
                    )),
                }
                text
            }
            RetireOutcome::Error { stack, reason } => {
                format!("could not retire {stack}: {reason}")
            }
            RetireOutcome::Released {
                target, unrouted, ..
            } => format!(
                "let the baseline go ({target}): {}recorded as released; it is not cutover's, so it was not deleted",
                if *unrouted {
                    "taken out of the route, "
                } else {
                    ""
                }
            ),
        }
    }
}

/// The plan and what became of each release it let go.
#[derive(Debug, Clone, Serialize)]
pub struct RetirementReport {
    pub app: String,
    pub dry_run: bool,
    pub rollback_target: Option<String>,
    pub plan: RetirementPlan,
    pub outcomes: Vec<RetireOutcome>,
    /// Things that did not stop a retirement (termination protection that could not be lifted).
    pub warnings: Vec<String>,
}

impl RetirementReport {
    /// Everything the plan let go is gone.
    pub fn all_retired(&self) -> bool {
        self.outcomes.iter().all(RetireOutcome::is_success)
    }

    pub fn exit(&self) -> Exit {
        if self.all_retired() {
            Exit::Success
        } else {
            Exit::Changes
        }
    }

    /// The keep and retire lines and a dry run's findings (what a prompt shows before asking).
    pub fn render_plan(&self) -> String {
        let mut out = String::new();
        for kept in &self.plan.keep {
            out.push_str(&format!("keep    {:<28} {}\n", kept.stack_name, kept.why));
        }
        for retired in &self.plan.retire {
            out.push_str(&format!(
                "retire  {:<28} {}\n",
                retired.stack_name, retired.why
            ));
        }
        for outcome in &self.outcomes {
            out.push_str(&outcome.describe());
            out.push('\n');
        }
        out
    }

    pub fn render_text(&self) -> String {
        let mut out = self.render_plan();
        if self.plan.retire.is_empty() {
            out.push_str(&format!("Nothing to retire for app {}.\n", self.app));
        } else if self.dry_run {
            out.push_str("Dry run: nothing was changed.\n");
        }
        out
    }
}
