//! What the driver needs to know about the release stacks themselves.

use std::fmt;
use std::future::Future;

use serde::Serialize;

use crate::router::BoxError;

/// Reads the state of a release stack (implemented over CloudFormation DescribeStacks).
pub trait StackWatch {
    fn stack_state(
        &self,
        stack_name: &str,
    ) -> impl Future<Output = Result<StackState, WatchError>> + Send;
}

/// A release stack's state as far as traffic is concerned.
///
/// Mapping from CloudFormation: CREATE_COMPLETE, UPDATE_COMPLETE → `Healthy`; *_IN_PROGRESS
/// other than DELETE_IN_PROGRESS → `InProgress`; *_FAILED, ROLLBACK_*, UPDATE_ROLLBACK_* →
/// `Failed`; DELETE_IN_PROGRESS, DELETE_COMPLETE, no such stack → `Gone` (a stack being deleted
/// must not receive traffic). A stack that cutover itself tagged failed (its gates failed in an
/// earlier run) maps to `Failed` too, so that a resumed run does not cut over to it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "status", rename_all = "snake_case")]
pub enum StackState {
    Healthy,
    InProgress,
    /// The CloudFormation status, e.g. "UPDATE_ROLLBACK_COMPLETE".
    Failed(String),
    Gone,
}

impl StackState {
    pub fn is_healthy(&self) -> bool {
        matches!(self, StackState::Healthy)
    }

    /// Failed or gone: must not keep or receive traffic.
    pub fn is_unusable(&self) -> bool {
        matches!(self, StackState::Failed(_) | StackState::Gone)
    }
}

impl fmt::Display for StackState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackState::Healthy => f.write_str("healthy"),
            StackState::InProgress => f.write_str("still in progress"),
            StackState::Failed(status) => write!(f, "failed ({status})"),
            StackState::Gone => f.write_str("gone"),
        }
    }
}

/// Reading a stack's state failed (not "the stack does not exist": that is `StackState::Gone`).
#[derive(Debug, thiserror::Error)]
#[error("could not read the state of stack {stack}")]
pub struct WatchError {
    pub stack: String,
    /// Throttling or a network error: the driver may repeat the call.
    pub transient: bool,
    #[source]
    pub source: Option<BoxError>,
}
