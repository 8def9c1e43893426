//! What the driver reports while it works (one JSON object per line with `--output json`) and
//! how a cutover ends.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::decide::{StepRef, Trouble};
use super::serde_secs;
use super::watch::StackState;
use crate::error::Exit;
use crate::gates::GateReport;
use crate::router::Weights;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CutoverEvent {
    /// The state the run found: resumption starts from these weights.
    Started {
        candidate: String,
        previous: Option<String>,
        weights: Weights,
        /// The candidate's weight at each step of the plan.
        plan: Vec<u8>,
        /// How long each step is held, in seconds (the last is the final bake).
        bakes_secs: Vec<f64>,
        /// ALB target group stickiness of the route, in seconds, when it is on.
        #[serde(skip_serializing_if = "Option::is_none")]
        stickiness_secs: Option<u64>,
    },
    WeightsSet {
        weights: Weights,
        step: StepRef,
    },
    GatesChecked {
        release: String,
        passed: bool,
        report: GateReport,
    },
    Baking {
        step: StepRef,
        #[serde(rename = "left_secs", with = "serde_secs")]
        left: Duration,
        #[serde(rename = "next_check_secs", with = "serde_secs")]
        next_check: Duration,
    },
    /// The candidate, still without traffic, does not pass its gates yet; they are checked
    /// again until the warm-up runs out.
    WarmingUp {
        release: String,
        report: GateReport,
        #[serde(rename = "left_secs", with = "serde_secs")]
        left: Duration,
        #[serde(rename = "next_check_secs", with = "serde_secs")]
        next_check: Duration,
    },
    WaitingForStack {
        stack: String,
        state: StackState,
        #[serde(rename = "retry_in_secs", with = "serde_secs")]
        retry_in: Duration,
    },
    /// The router's weights changed under this run (an operator, another tool): the current
    /// step's bake starts over from what the router says now.
    WeightsChangedOutside {
        expected: Weights,
        found: Weights,
    },
    /// A call failed in a way worth repeating; `error` is the failure's message.
    Retrying {
        action: String,
        attempt: u32,
        #[serde(rename = "delay_secs", with = "serde_secs")]
        delay: Duration,
        error: String,
    },
    ShiftedBack {
        weights: Weights,
        reason: String,
    },
    Abandoned {
        reason: String,
    },
    /// Requests carrying `header: value` now reach the candidate through its own listener rule.
    TestRouteOpened {
        release: String,
        header: String,
        value: String,
        rule: String,
        priority: u32,
    },
    /// The app's test rules were taken down (the cutover is over).
    TestRouteClosed {
        rules: Vec<String>,
    },
    /// The gates passed with no production traffic moved, and the deploy holds there.
    Held {
        release: String,
        weights: Weights,
    },
    Completed {
        weights: Weights,
    },
    Failed {
        reason: String,
    },
}

/// One line of plain progress text (stderr), e.g. `step 1/2: web-r1 90%, web-r2 10%`.
impl fmt::Display for CutoverEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CutoverEvent::Started {
                candidate,
                previous,
                weights,
                plan,
                stickiness_secs,
                ..
            } => {
                let plan = plan
                    .iter()
                    .map(|weight| format!("{weight}%"))
                    .collect::<Vec<_>>()
                    .join(" → ");
                match previous {
                    Some(previous) => write!(f, "cutover {previous} → {candidate}")?,
                    None => write!(f, "cutover to {candidate} (first release)")?,
                }
                write!(f, ": traffic now {weights}; plan {plan}")?;
                if let Some(hold) = stickiness_secs {
                    write!(
                        f,
                        "; target group stickiness on: clients stay on their release up to {} whatever the weights",
                        seconds(Duration::from_secs(*hold))
                    )?;
                }
                Ok(())
            }
            CutoverEvent::WeightsSet { weights, step } => {
                write!(f, "step {}/{}: {weights}", step.index + 1, step.count)
            }
            CutoverEvent::GatesChecked {
                release, report, ..
            } => write!(f, "gates on {release}: {report}"),
            CutoverEvent::Baking { step, left, .. } => write!(
                f,
                "baking step {}/{} at {}%: {} left",
                step.index + 1,
                step.count,
                step.weight,
                seconds(*left)
            ),
            CutoverEvent::WarmingUp {
                release,
                report,
                left,
                ..
            } => write!(
                f,
                "{release} is warming up ({report}); {} left to pass its gates",
                seconds(*left)
            ),
            CutoverEvent::WaitingForStack {
                stack,
                state,
                retry_in,
            } => write!(
                f,
                "waiting for {stack} ({state}); next look in {}",
                seconds(*retry_in)
            ),
            CutoverEvent::WeightsChangedOutside { expected, found } => write!(
                f,
                "weights changed outside this run: expected {expected}, found {found}; the step starts over"
            ),
            CutoverEvent::Retrying {
                action,
                attempt,
                delay,
                error,
            } => write!(
                f,
                "retrying to {action} in {} (attempt {attempt} failed: {error})",
                humantime::format_duration(*delay)
            ),
            CutoverEvent::ShiftedBack { weights, reason } => {
                write!(f, "shifted back ({reason}): {weights}")
            }
            CutoverEvent::Abandoned { reason } => {
                write!(f, "candidate abandoned before taking traffic ({reason})")
            }
            CutoverEvent::TestRouteOpened {
                release,
                header,
                value,
                rule,
                priority,
            } => write!(
                f,
                "test route up: requests with `{header}: {value}` reach {release} (rule {rule}, priority {priority})"
            ),
            CutoverEvent::TestRouteClosed { rules } => {
                write!(f, "test route down: removed {}", rules.join(", "))
            }
            CutoverEvent::Held { release, weights } => write!(
                f,
                "{release} passed its gates and is held before any production traffic ({})",
                production(weights)
            ),
            CutoverEvent::Completed { weights } => write!(f, "cutover complete: {weights}"),
            CutoverEvent::Failed { reason } => write!(f, "cutover stopped: {reason}"),
        }
    }
}

/// What production traffic does meanwhile: `traffic stays web-r1 100%`, or `no production
/// traffic yet` on a first release.
fn production(weights: &Weights) -> String {
    if weights.with_traffic().next().is_none() {
        "no production traffic yet".to_string()
    } else {
        format!("traffic stays {weights}")
    }
}

/// Whole seconds: progress lines need no milliseconds.
fn seconds(duration: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(duration.as_secs()))
}

/// How a cutover that did not hit an error ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CutoverOutcome {
    /// The candidate holds all traffic and passed the final bake.
    Completed { weights: Weights },
    /// The candidate had traffic; all of it went back to the previous release.
    ShiftedBack { weights: Weights, reason: Trouble },
    /// The candidate never got traffic in this run (or had none left); the router was left as
    /// it was.
    Abandoned { reason: Trouble },
    /// The candidate passed its gates and waits, with no production traffic, for `promote` or
    /// `abort`.
    Held { weights: Weights },
}

impl CutoverOutcome {
    /// A deploy that turned back exits 1, like "changes found": it is a result, not an error.
    pub fn exit(&self) -> Exit {
        match self {
            CutoverOutcome::Completed { .. } | CutoverOutcome::Held { .. } => Exit::Success,
            CutoverOutcome::ShiftedBack { .. } | CutoverOutcome::Abandoned { .. } => Exit::Changes,
        }
    }
}

impl fmt::Display for CutoverOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CutoverOutcome::Completed { weights } => write!(f, "cutover complete: {weights}"),
            CutoverOutcome::ShiftedBack { weights, reason } => {
                write!(f, "shifted back ({reason}): {weights}")
            }
            CutoverOutcome::Abandoned { reason } => {
                write!(f, "candidate abandoned before taking traffic ({reason})")
            }
            CutoverOutcome::Held { weights } => {
                write!(
                    f,
                    "held before production traffic (traffic stays {weights})"
                )
            }
        }
    }
}
