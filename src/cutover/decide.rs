//! The pure controller: from what the driver observed to the one thing to do next.
//!
//! Nothing here remembers anything between calls. Where the cutover stands is derived from the
//! weights the router reports, so a run that starts after a crash picks up where AWS is:
//! - the candidate's share equals a step's weight → that step, its bake restarted from zero
//!   (the run cannot know how long the crashed run had held it; baking again is the safe side);
//! - the share lies between steps (a crash mid-write, an edited plan) → gates are checked and the
//!   candidate moves up to the first step at or above its share;
//! - the share is 0 → the cutover has not started: gates, then the first step.
//!
//! Safety before progress, in this order: a run that lost the app's lock to another stops
//! without moving anything; traffic on a stack that is neither the candidate nor
//! the previous release stops the run; a failed or gone candidate, an abort, or a failed gate
//! send all traffic back to the previous release at once; traffic never stays on a gone stack.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::plan::{Plan, TrafficStep};
use super::watch::StackState;
use crate::gates::GateReport;
use crate::router::Weights;

/// What the driver saw, just before asking for the next decision.
#[derive(Debug, Clone)]
pub struct Observation {
    pub candidate: String,
    /// The release that served traffic before; `None` on an app's first deploy.
    pub previous: Option<String>,
    pub candidate_state: StackState,
    /// `None` when there is no previous release.
    pub previous_state: Option<StackState>,
    /// As read back from the router (or as last written by this run).
    pub weights: Weights,
    /// The latest gate report for the candidate in this run, if any.
    pub gates: Option<GateSnapshot>,
    /// How long the current weights have been held in this run.
    pub held_for: Duration,
    pub abort_requested: bool,
    /// Who took the app's lock from this run, if a check before a traffic move found it lost.
    pub lock_lost_to: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GateSnapshot {
    pub report: GateReport,
    /// Time since the check.
    pub age: Duration,
    /// Whether the check ran after the router took the current weights (a check made before a
    /// step counts as the first check of that step's bake, but not as the check that ends it).
    pub at_current_weights: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Move the candidate to the next step.
    SetWeights {
        weights: Weights,
        step: StepRef,
    },
    CheckGates,
    Wait {
        duration: Duration,
        reason: WaitReason,
    },
    /// Put all traffic back on the previous release, then stop.
    ShiftBack {
        to: Weights,
        reason: Trouble,
    },
    /// Stop without touching the router: the candidate has no traffic and never will in this
    /// run; whatever served before still does.
    Abandon {
        reason: Trouble,
    },
    /// The gates passed with no production traffic moved and the plan holds there: stop,
    /// leaving the router as it is.
    Hold,
    /// The final bake passed.
    Complete,
    /// No safe move exists; an operator has to look.
    Fail {
        reason: FailReason,
    },
}

/// A step of the effective plan: `index` counts from 0, `count` steps in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StepRef {
    pub index: usize,
    pub count: usize,
    /// The candidate's share at this step, in percent.
    pub weight: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitReason {
    Bake {
        step: StepRef,
        left: Duration,
    },
    CandidateInProgress,
    /// The candidate has no traffic and fails its gates, within the plan's warm-up.
    WarmingUp {
        report: GateReport,
        left: Duration,
    },
}

/// Why the cutover turns back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trouble {
    GatesFailed { report: GateReport },
    CandidateUnusable { state: StackState },
    AbortRequested,
}

/// Why the cutover cannot go on or turn back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FailReason {
    /// Something is wrong with the candidate while it carries traffic, and there is no healthy
    /// previous release to send the traffic to.
    NoSafeRelease {
        trouble: Trouble,
        previous: Option<String>,
        previous_state: Option<StackState>,
    },
    /// The router sends traffic to a stack this cutover is not about.
    ForeignTraffic { stack: String, weight: u8 },
    /// Another run holds the app's lock now: it decides the traffic, so this run moves nothing,
    /// not even back.
    LockLost { holder: String },
}

pub fn decide(seen: &Observation, plan: &Plan) -> Decision {
    let candidate = seen.candidate.as_str();
    if let Some(holder) = &seen.lock_lost_to {
        return Decision::Fail {
            reason: FailReason::LockLost {
                holder: holder.clone(),
            },
        };
    }
    if let Some((stack, weight)) = seen
        .weights
        .with_traffic()
        .find(|&(stack, _)| stack != candidate && Some(stack) != seen.previous.as_deref())
    {
        return Decision::Fail {
            reason: FailReason::ForeignTraffic {
                stack: stack.to_owned(),
                weight,
            },
        };
    }
    if seen.candidate_state.is_unusable() {
        return turn_back(
            seen,
            Trouble::CandidateUnusable {
                state: seen.candidate_state.clone(),
            },
        );
    }
    if seen.abort_requested {
        return turn_back(seen, Trouble::AbortRequested);
    }
    if seen.candidate_state == StackState::InProgress {
        return Decision::Wait {
            duration: plan.gate_interval(),
            reason: WaitReason::CandidateInProgress,
        };
    }
    // A gone previous release can neither keep traffic nor take it back: the candidate is the
    // only place for it, gates or not, and the rest of the plan is just the final bake.
    let previous_gone = seen.previous_state == Some(StackState::Gone);
    let sharing_with = seen.previous.as_deref().filter(|_| !previous_gone);
    if previous_gone
        && seen
            .previous
            .as_deref()
            .is_some_and(|p| seen.weights.get(p) > 0)
    {
        return Decision::SetWeights {
            weights: Weights::all_on(candidate),
            step: StepRef {
                index: 0,
                count: 1,
                weight: 100,
            },
        };
    }
    if let Some(snapshot) = &seen.gates {
        // A candidate that has never had traffic may still be warming up (targets "initial",
        // instances "initializing"): within the warm-up a failure is "not yet", not a verdict.
        // `held_for` counts from when the run saw the weights, so a resumed run warms up again.
        let warming_up = seen.weights.get(candidate) == 0 && seen.held_for < plan.warmup();
        if !snapshot.report.passed() && warming_up {
            if snapshot.age < plan.gate_interval() {
                let left = plan.warmup() - seen.held_for;
                return Decision::Wait {
                    duration: (plan.gate_interval() - snapshot.age).min(left),
                    reason: WaitReason::WarmingUp {
                        report: snapshot.report.clone(),
                        left,
                    },
                };
            }
            return Decision::CheckGates;
        }
        if !snapshot.report.passed() {
            return turn_back(
                seen,
                Trouble::GatesFailed {
                    report: snapshot.report.clone(),
                },
            );
        }
    }

    let steps = match sharing_with {
        Some(_) => plan.steps(),
        None => &plan.steps()[plan.steps().len() - 1..],
    };
    let share = seen.weights.share_of(candidate);
    let index = steps
        .iter()
        .position(|step| step.weight >= share)
        .expect("a plan always ends at 100");
    let step_ref = |index: usize| StepRef {
        index,
        count: steps.len(),
        weight: steps[index].weight,
    };
    let checked_since = |held_after: Duration| match &seen.gates {
        Some(snapshot) => {
            snapshot.at_current_weights
                && snapshot.age <= seen.held_for.saturating_sub(held_after)
                && snapshot.age < plan.gate_interval()
        }
        None => false,
    };
    let move_to = |index: usize| Decision::SetWeights {
        weights: Weights::split(candidate, sharing_with, steps[index].weight),
        step: step_ref(index),
    };

    let TrafficStep { weight, bake } = steps[index];
    if share == 0 || share != weight {
        // Not on a step yet: gates first, then up to the step (or, held, stop before it).
        return if !checked_since(Duration::ZERO) {
            Decision::CheckGates
        } else if share == 0 && plan.holds_before_traffic() {
            Decision::Hold
        } else {
            move_to(index)
        };
    }
    if seen.held_for < bake {
        let since_check = seen.gates.as_ref().map(|snapshot| snapshot.age);
        return match since_check {
            Some(age) if age < plan.gate_interval() => {
                let left = bake - seen.held_for;
                Decision::Wait {
                    duration: (plan.gate_interval() - age).min(left),
                    reason: WaitReason::Bake {
                        step: step_ref(index),
                        left,
                    },
                }
            }
            _ => Decision::CheckGates,
        };
    }
    if !checked_since(bake) {
        return Decision::CheckGates;
    }
    if index + 1 == steps.len() {
        Decision::Complete
    } else {
        move_to(index + 1)
    }
}

/// All traffic back to the previous release if it can take it; otherwise stop, loudly when
/// the candidate still carries traffic or traffic sits on a gone stack.
fn turn_back(seen: &Observation, trouble: Trouble) -> Decision {
    let candidate_has_traffic = seen.weights.get(&seen.candidate) > 0;
    match (&seen.previous, &seen.previous_state) {
        (Some(previous), Some(StackState::Healthy)) => {
            if candidate_has_traffic || seen.weights.share_of(previous) != 100 {
                Decision::ShiftBack {
                    to: Weights::all_on(previous),
                    reason: trouble,
                }
            } else {
                Decision::Abandon { reason: trouble }
            }
        }
        (previous, previous_state) => {
            let traffic_on_gone_previous = previous_state == &Some(StackState::Gone)
                && previous.as_deref().is_some_and(|p| seen.weights.get(p) > 0);
            if candidate_has_traffic || traffic_on_gone_previous {
                Decision::Fail {
                    reason: FailReason::NoSafeRelease {
                        trouble,
                        previous: previous.clone(),
                        previous_state: previous_state.clone(),
                    },
                }
            } else {
                Decision::Abandon { reason: trouble }
            }
        }
    }
}

impl fmt::Display for Trouble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trouble::GatesFailed { report } => write!(f, "gates failed: {report}"),
            Trouble::CandidateUnusable { state } => write!(f, "the candidate stack is {state}"),
            Trouble::AbortRequested => f.write_str("abort requested"),
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::NoSafeRelease {
                trouble,
                previous: None,
                ..
            } => write!(
                f,
                "{trouble}, and there is no previous release to send traffic back to"
            ),
            FailReason::NoSafeRelease {
                trouble,
                previous: Some(previous),
                previous_state,
            } => {
                let state = previous_state
                    .as_ref()
                    .map_or_else(|| "unknown".to_owned(), ToString::to_string);
                write!(
                    f,
                    "{trouble}, and the previous release {previous} cannot take traffic back (it is {state})"
                )
            }
            FailReason::ForeignTraffic { stack, weight } => write!(
                f,
                "the router sends {weight}% of the traffic to {stack}, which is neither the candidate nor the previous release"
            ),
            FailReason::LockLost { holder } => write!(
                f,
                "the app's lock was taken from this run (held now by {holder}); the traffic is left where it is"
            ),
        }
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
