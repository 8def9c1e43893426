//! The cutover controller: a pure state machine from what was observed to the next step
//! ([`decide`]), and the driver that observes, asks, executes one step at a time and reports
//! progress as [`CutoverEvent`]s ([`Controller::drive`]).

mod decide;
mod driver;
mod events;
mod plan;
mod watch;

#[cfg(test)]
mod driver_failure_tests;
#[cfg(test)]
mod driver_tests;
#[cfg(test)]
mod fakes;
#[cfg(test)]
mod harness;

pub use decide::{
    decide, Decision, FailReason, GateSnapshot, Observation, StepRef, Trouble, WaitReason,
};
pub use driver::{AbortSignal, Controller, LockCheck, Releases, RetryPolicy};
pub use events::{CutoverEvent, CutoverOutcome};
pub use plan::{Plan, Strategy, TrafficStep};
pub use watch::{StackState, StackWatch, WatchError};

use crate::error::{Diagnostic, Exit};
use crate::router::{RouterError, Weights};

#[derive(Debug, thiserror::Error)]
pub enum CutoverError {
    #[error("invalid strategy: {reason}")]
    InvalidStrategy { reason: String },
    #[error(
        "the router can only move all traffic at once, but the strategy shifts it in {steps} steps"
    )]
    GradualUnsupported { steps: usize },
    #[error("cannot cut over from {stack} to itself")]
    SameRelease { stack: String },
    #[error("the cutover to {candidate} stopped with traffic at {weights}")]
    Router {
        candidate: String,
        weights: Weights,
        #[source]
        source: RouterError,
    },
    #[error("the cutover to {candidate} stopped with traffic at {weights}")]
    Watch {
        candidate: String,
        weights: Weights,
        #[source]
        source: WatchError,
    },
    #[error("the cutover to {candidate} stopped with traffic at {weights}: {reason}")]
    Unsafe {
        candidate: String,
        weights: Weights,
        reason: Box<FailReason>,
    },
}

impl Diagnostic for CutoverError {
    fn exit(&self) -> Exit {
        match self {
            // Like a lock held at the start: another run has the app.
            CutoverError::Unsafe { reason, .. }
                if matches!(**reason, FailReason::LockLost { .. }) =>
            {
                Exit::Locked
            }
            _ => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            CutoverError::GradualUnsupported { .. } => {
                Some("use `kind = \"all-at-once\"` in [strategy] with this router".to_owned())
            }
            CutoverError::Router { .. } | CutoverError::Watch { .. } => Some(
                "run `cutover resume APP` to finish the cutover or shift back from where it stopped"
                    .to_owned(),
            ),
            CutoverError::Unsafe { reason, .. }
                if matches!(**reason, FailReason::LockLost { .. }) =>
            {
                Some(
                    "a run that holds the lock now decides the app's traffic; if none does, `cutover resume APP` finishes or turns back this cutover (`cutover status APP` shows where it stands)"
                        .to_owned(),
                )
            }
            CutoverError::Unsafe { .. } => Some(
                "look at `cutover status APP`, then move traffic with `cutover rollback APP --to STACK`"
                    .to_owned(),
            ),
            CutoverError::InvalidStrategy { .. } | CutoverError::SameRelease { .. } => None,
        }
    }
}

/// Durations in JSON as seconds (fractional), under field names that end in `_secs`.
pub(crate) mod serde_secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(
        duration: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(duration.as_secs_f64())
    }
}
