//! `decide` on hand-built observations: the safety rules, one case each.

use std::time::Duration;

use super::*;
use crate::cutover::plan::Strategy;
use crate::gates::{GateReport, GateResult};

const PREV: &str = "web-r1";
const CAND: &str = "web-r2";
const MIN: Duration = Duration::from_secs(60);

fn canary() -> Plan {
    Plan::from_strategy(
        &Strategy::Canary {
            percent: 10,
            bake: 5 * MIN,
        },
        10 * MIN,
        MIN,
    )
    .unwrap()
}

fn seen(candidate_percent: u8) -> Observation {
    Observation {
        candidate: CAND.to_owned(),
        previous: Some(PREV.to_owned()),
        candidate_state: StackState::Healthy,
        previous_state: Some(StackState::Healthy),
        weights: Weights::split(CAND, Some(PREV), candidate_percent),
        gates: None,
        held_for: Duration::ZERO,
        abort_requested: false,
        lock_lost_to: None,
    }
}

fn checked(report: GateReport, age: Duration, at_current_weights: bool) -> Option<GateSnapshot> {
    Some(GateSnapshot {
        report,
        age,
        at_current_weights,
    })
}

fn pass() -> GateReport {
    GateReport::new(vec![GateResult::pass("target_health")])
}

fn fail() -> GateReport {
    GateReport::new(vec![GateResult::fail("target_health", "1 of 2 healthy")])
}

#[test]
fn gates_come_before_the_first_step() {
    assert_eq!(decide(&seen(0), &canary()), Decision::CheckGates);
    let mut checked_now = seen(0);
    checked_now.gates = checked(pass(), Duration::ZERO, true);
    assert_eq!(
        decide(&checked_now, &canary()),
        Decision::SetWeights {
            weights: Weights::split(CAND, Some(PREV), 10),
            step: StepRef {
                index: 0,
                count: 2,
                weight: 10
            }
        }
    );
}

#[test]
fn a_stale_check_does_not_open_the_next_step() {
    let mut old_check = seen(0);
    old_check.held_for = 3 * MIN;
    old_check.gates = checked(pass(), 2 * MIN, true);
    assert_eq!(decide(&old_check, &canary()), Decision::CheckGates);
}

#[test]
fn bake_waits_until_the_next_check_or_the_end_of_the_bake() {
    let mut baking = seen(10);
    baking.held_for = Duration::from_secs(270);
    baking.gates = checked(pass(), Duration::from_secs(10), true);
    assert_eq!(
        decide(&baking, &canary()),
        Decision::Wait {
            duration: Duration::from_secs(30),
            reason: WaitReason::Bake {
                step: StepRef {
                    index: 0,
                    count: 2,
                    weight: 10
                },
                left: Duration::from_secs(30)
            }
        }
    );
}

#[test]
fn the_check_before_a_step_does_not_end_its_bake() {
    let mut just_moved = seen(100);
    just_moved.held_for = 10 * MIN;
    just_moved.gates = checked(pass(), Duration::ZERO, false);
    assert_eq!(decide(&just_moved, &canary()), Decision::CheckGates);
    just_moved.gates = checked(pass(), Duration::ZERO, true);
    assert_eq!(decide(&just_moved, &canary()), Decision::Complete);
}

#[test]
fn a_failed_report_shifts_back_even_when_taken_before_the_step() {
    let mut failed = seen(10);
    failed.gates = checked(fail(), Duration::ZERO, false);
    assert_eq!(
        decide(&failed, &canary()),
        Decision::ShiftBack {
            to: Weights::all_on(PREV),
            reason: Trouble::GatesFailed { report: fail() }
        }
    );
}

#[test]
fn shift_back_with_nothing_moved_is_an_abandon() {
    let mut failed = seen(0);
    failed.gates = checked(fail(), Duration::ZERO, true);
    assert_eq!(
        decide(&failed, &canary()),
        Decision::Abandon {
            reason: Trouble::GatesFailed { report: fail() }
        }
    );
}

#[test]
fn previous_stack_without_its_full_share_is_restored_even_with_no_candidate_traffic() {
    // The router holds no weights at all (nothing routed): abort puts traffic on the previous.
    let mut empty = seen(0);
    empty.weights = Weights::new();
    empty.abort_requested = true;
    assert_eq!(
        decide(&empty, &canary()),
        Decision::ShiftBack {
            to: Weights::all_on(PREV),
            reason: Trouble::AbortRequested
        }
    );
}

#[test]
fn a_gone_candidate_is_never_left_with_traffic() {
    let mut gone = seen(10);
    gone.candidate_state = StackState::Gone;
    assert!(matches!(
        decide(&gone, &canary()),
        Decision::ShiftBack { to, .. } if to == Weights::all_on(PREV)
    ));
    gone.previous_state = Some(StackState::Failed("UPDATE_ROLLBACK_FAILED".into()));
    assert!(matches!(
        decide(&gone, &canary()),
        Decision::Fail {
            reason: FailReason::NoSafeRelease { .. }
        }
    ));
}

#[test]
fn in_progress_candidate_waits_one_interval() {
    let mut creating = seen(0);
    creating.candidate_state = StackState::InProgress;
    assert_eq!(
        decide(&creating, &canary()),
        Decision::Wait {
            duration: MIN,
            reason: WaitReason::CandidateInProgress
        }
    );
}

#[test]
fn a_gone_previous_with_no_traffic_is_not_given_any() {
    // Candidate at 0, previous gone and unrouted: no split with a gone stack, straight to 100.
    let mut previous_gone = seen(0);
    previous_gone.weights = Weights::new();
    previous_gone.previous_state = Some(StackState::Gone);
    previous_gone.gates = checked(pass(), Duration::ZERO, true);
    assert_eq!(
        decide(&previous_gone, &canary()),
        Decision::SetWeights {
            weights: Weights::all_on(CAND),
            step: StepRef {
                index: 0,
                count: 1,
                weight: 100
            }
        }
    );
}

#[test]
fn traffic_on_a_gone_previous_with_a_failing_candidate_is_a_loud_failure() {
    let mut stuck = seen(0);
    stuck.previous_state = Some(StackState::Gone);
    stuck.candidate_state = StackState::Failed("CREATE_FAILED".into());
    assert!(matches!(
        decide(&stuck, &canary()),
        Decision::Fail {
            reason: FailReason::NoSafeRelease { .. }
        }
    ));
}

#[test]
fn traffic_leaves_a_gone_previous_at_once_even_with_gates_failing() {
    // The candidate may be bad, but the gone stack certainly serves nothing.
    let mut previous_gone = seen(10);
    previous_gone.previous_state = Some(StackState::Gone);
    previous_gone.gates = checked(fail(), Duration::from_secs(5), true);
    assert_eq!(
        decide(&previous_gone, &canary()),
        Decision::SetWeights {
            weights: Weights::all_on(CAND),
            step: StepRef {
                index: 0,
                count: 1,
                weight: 100
            }
        }
    );
    // Once there, the failing gates have nowhere to send traffic: a loud stop.
    previous_gone.weights = Weights::all_on(CAND);
    assert!(matches!(
        decide(&previous_gone, &canary()),
        Decision::Fail {
            reason: FailReason::NoSafeRelease { .. }
        }
    ));
}

#[test]
fn a_candidate_without_traffic_fails_its_gates_as_not_yet_within_the_warmup() {
    let plan = canary().with_warmup(5 * MIN);
    let mut warming = seen(0);
    warming.held_for = 2 * MIN;
    warming.gates = checked(fail(), Duration::from_secs(20), true);
    assert_eq!(
        decide(&warming, &plan),
        Decision::Wait {
            duration: Duration::from_secs(40),
            reason: WaitReason::WarmingUp {
                report: fail(),
                left: 3 * MIN,
            },
        }
    );
    // Once the interval has passed, the gates are checked again rather than judged.
    warming.gates = checked(fail(), MIN, true);
    assert_eq!(decide(&warming, &plan), Decision::CheckGates);
    // Passing gates open the first step as usual.
    warming.gates = checked(pass(), Duration::ZERO, true);
    assert!(matches!(
        decide(&warming, &plan),
        Decision::SetWeights { .. }
    ));
}

#[test]
fn past_the_warmup_a_failing_candidate_is_abandoned() {
    let plan = canary().with_warmup(5 * MIN);
    let mut late = seen(0);
    late.held_for = 5 * MIN;
    late.gates = checked(fail(), Duration::ZERO, true);
    assert_eq!(
        decide(&late, &plan),
        Decision::Abandon {
            reason: Trouble::GatesFailed { report: fail() }
        }
    );
}

#[test]
fn the_warmup_never_excuses_a_candidate_that_has_traffic() {
    let plan = canary().with_warmup(5 * MIN);
    let mut with_traffic = seen(10);
    with_traffic.held_for = Duration::from_secs(30);
    with_traffic.gates = checked(fail(), Duration::ZERO, true);
    assert_eq!(
        decide(&with_traffic, &plan),
        Decision::ShiftBack {
            to: Weights::all_on(PREV),
            reason: Trouble::GatesFailed { report: fail() }
        }
    );
}

#[test]
fn a_held_plan_stops_once_the_gates_pass_with_no_production_traffic() {
    let held = canary().holding_before_traffic();
    // Gates first, as always.
    assert_eq!(decide(&seen(0), &held), Decision::CheckGates);
    let mut passed = seen(0);
    passed.gates = checked(pass(), Duration::ZERO, true);
    assert_eq!(decide(&passed, &held), Decision::Hold);
    // A failing check is still a turn-back that moves nothing.
    let mut failed = seen(0);
    failed.gates = checked(fail(), Duration::ZERO, true);
    assert!(matches!(decide(&failed, &held), Decision::Abandon { .. }));
    // A first deploy holds too.
    let mut first = passed.clone();
    first.previous = None;
    first.previous_state = None;
    first.weights = Weights::new();
    assert_eq!(decide(&first, &held.first_deploy()), Decision::Hold);
    // Once production traffic moved (a resumed cutover), a hold no longer applies.
    let mut moving = seen(10);
    moving.held_for = 5 * MIN;
    moving.gates = checked(pass(), Duration::ZERO, true);
    assert!(matches!(
        decide(&moving, &held),
        Decision::SetWeights { .. }
    ));
}

#[test]
fn a_run_that_lost_the_lock_moves_nothing_not_even_back() {
    // Even a reason to turn back (an abort, a failed candidate) does not let a run that lost
    // the app's lock write the router: the run holding it now decides.
    for seen in [
        Observation {
            lock_lost_to: Some("bob@ci".into()),
            ..seen(10)
        },
        Observation {
            lock_lost_to: Some("bob@ci".into()),
            abort_requested: true,
            ..seen(10)
        },
        Observation {
            lock_lost_to: Some("bob@ci".into()),
            candidate_state: StackState::Gone,
            ..seen(10)
        },
    ] {
        assert_eq!(
            decide(&seen, &canary()),
            Decision::Fail {
                reason: FailReason::LockLost {
                    holder: "bob@ci".into()
                }
            }
        );
    }
}
