//! The driver when things go wrong: stacks gone or failed, router errors, gate errors, abort,
//! first deploys, a router that cannot split, traffic on a third stack.

use std::sync::Arc;
use std::time::Duration;

use super::fakes::{failing, passing, transient, FakeRouter};
use super::harness::*;
use super::*;
use crate::gates::{GateReport, GateResult};

#[tokio::test(start_paused = true)]
async fn candidate_gone_mid_bake_shifts_back_after_the_next_observation() {
    let setup = Setup::from(at(0));
    let stacks = setup.stacks.clone();
    let run = setup
        .run(&canary(), move |call| {
            if call.number == 3 {
                stacks.set(CAND, StackState::Gone);
            }
            passing()
        })
        .await;
    assert_eq!(run.writes, [at(10), back()]);
    assert_eq!(
        run.outcome(),
        &CutoverOutcome::ShiftedBack {
            weights: back(),
            reason: Trouble::CandidateUnusable {
                state: StackState::Gone
            }
        }
    );
    assert_eq!(run.elapsed, 3 * MIN, "noticed at the next observation");
}

#[tokio::test(start_paused = true)]
async fn candidate_failed_with_traffic_found_at_start_shifts_back_without_gates() {
    let setup = Setup::from(at(10));
    setup.stacks.set(
        CAND,
        StackState::Failed("UPDATE_ROLLBACK_COMPLETE".to_owned()),
    );
    let run = setup.run(&canary(), |_| passing()).await;
    assert_eq!(run.writes, [back()]);
    assert!(run.gate_calls.is_empty());
}

#[tokio::test(start_paused = true)]
async fn candidate_and_previous_both_gone_fails_loudly_without_writing() {
    let setup = Setup::from(at(50));
    setup.stacks.set(CAND, StackState::Gone);
    setup.stacks.set(PREV, StackState::Gone);
    let run = setup.run(&canary(), |_| passing()).await;
    assert!(run.writes.is_empty());
    let error = run.result.unwrap_err();
    assert!(
        matches!(
            &error,
            CutoverError::Unsafe { reason, .. }
                if matches!(**reason, FailReason::NoSafeRelease { .. })
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "the cutover to web-r2 stopped with traffic at web-r1 50%, web-r2 50%: the candidate stack is gone, and the previous release web-r1 cannot take traffic back (it is gone)"
    );
}

#[tokio::test(start_paused = true)]
async fn previous_gone_mid_bake_moves_all_traffic_to_the_healthy_candidate() {
    let setup = Setup::from(at(0));
    let stacks = setup.stacks.clone();
    let run = setup
        .run(&canary(), move |call| {
            if call.number == 2 {
                stacks.set(PREV, StackState::Gone);
            }
            passing()
        })
        .await;
    assert_eq!(run.writes, [at(10), Weights::all_on(CAND)]);
    assert_eq!(
        run.outcome(),
        &CutoverOutcome::Completed {
            weights: Weights::all_on(CAND)
        }
    );
    assert_eq!(
        run.elapsed,
        2 * MIN + 10 * MIN,
        "moved at once, then the final bake"
    );
}

#[tokio::test(start_paused = true)]
async fn candidate_still_in_progress_is_waited_for_then_cut_over() {
    let setup = Setup::from(at(0));
    setup.stacks.set(CAND, StackState::InProgress);
    let stacks = setup.stacks.clone();
    tokio::spawn(async move {
        tokio::time::sleep(150 * Duration::from_secs(1)).await;
        stacks.set(CAND, StackState::Healthy);
    });
    let plan = strategies().remove(0).1;
    let run = setup.run(&plan, |_| passing()).await;
    assert_eq!(run.writes, [at(100)]);
    assert_eq!(
        run.count(|e| matches!(e, CutoverEvent::WaitingForStack { .. })),
        3
    );
    assert_eq!(
        run.gate_calls[0].at,
        3 * MIN,
        "no gate check before the stack is ready"
    );
}

#[tokio::test(start_paused = true)]
async fn transient_router_errors_are_retried_with_backoff() {
    let setup = Setup::from(at(0));
    setup.router.fail_next_write(transient("set weights"));
    setup.router.fail_next_write(transient("set weights"));
    let run = setup.run(&canary(), |_| passing()).await;
    assert_eq!(run.writes, [at(10), at(100)]);
    let retries: Vec<_> = run
        .events
        .iter()
        .filter_map(|(_, event)| match event {
            CutoverEvent::Retrying { attempt, delay, .. } => Some((*attempt, *delay)),
            _ => None,
        })
        .collect();
    assert_eq!(
        retries,
        [(1, Duration::from_millis(500)), (2, Duration::from_secs(1))]
    );
    assert_eq!(run.elapsed, 15 * MIN + Duration::from_millis(1500));
}

#[tokio::test(start_paused = true)]
async fn router_errors_that_persist_or_are_not_transient_stop_the_run() {
    let setup = Setup::from(at(0));
    for _ in 0..4 {
        setup.router.fail_next_write(transient("set weights"));
    }
    let run = setup.run(&canary(), |_| passing()).await;
    assert!(run.writes.is_empty());
    let error = run.result.unwrap_err();
    assert!(matches!(error, CutoverError::Router { .. }));
    assert_eq!(
        error.to_string(),
        "the cutover to web-r2 stopped with traffic at web-r1 100%, web-r2 0%"
    );

    let setup = Setup::from(at(0));
    setup
        .router
        .fail_next_write(crate::router::RouterError::Rejected {
            action: "set weights".to_owned(),
            source: None,
        });
    let run = setup.run(&canary(), |_| passing()).await;
    assert!(matches!(run.result, Err(CutoverError::Router { .. })));
    assert_eq!(run.count(|e| matches!(e, CutoverEvent::Retrying { .. })), 0);
}

#[tokio::test(start_paused = true)]
async fn gate_errors_are_rechecked_and_count_as_failure_only_when_they_persist() {
    let error = || GateReport::new(vec![GateResult::error("http", "timeout after 3s")]);
    // One error, then passes: the cutover goes on as if nothing happened.
    let run = Setup::from(at(0))
        .run(&canary(), move |call| {
            if call.number == 3 {
                error()
            } else {
                passing()
            }
        })
        .await;
    assert_eq!(run.writes, [at(10), at(100)]);
    assert_eq!(run.count(|e| matches!(e, CutoverEvent::Retrying { .. })), 1);

    // Errors on every re-check: a failure, shift back after the last attempt.
    let run = Setup::from(at(0))
        .run(&canary(), move |call| {
            if call.number >= 3 {
                error()
            } else {
                passing()
            }
        })
        .await;
    assert_eq!(run.writes, [at(10), back()]);
    assert_eq!(run.gate_calls.len(), 2 + 4);
    assert_eq!(
        run.outcome(),
        &CutoverOutcome::ShiftedBack {
            weights: back(),
            reason: Trouble::GatesFailed { report: error() }
        }
    );
}

#[tokio::test(start_paused = true)]
async fn abort_interrupts_a_bake_and_shifts_back() {
    let setup = Setup::from(at(0));
    let abort = setup.abort.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(90)).await;
        abort.request();
    });
    let run = setup.run(&canary(), |_| passing()).await;
    assert_eq!(run.writes, [at(10), back()]);
    assert_eq!(
        run.elapsed,
        Duration::from_secs(90),
        "not at the next gate check"
    );
    assert_eq!(
        run.outcome(),
        &CutoverOutcome::ShiftedBack {
            weights: back(),
            reason: Trouble::AbortRequested
        }
    );
}

#[tokio::test(start_paused = true)]
async fn abort_before_any_traffic_moved_abandons_without_writing() {
    let setup = Setup::from(at(0));
    setup.abort.request();
    let run = setup.run(&canary(), |_| passing()).await;
    assert!(run.writes.is_empty());
    assert_eq!(
        run.outcome(),
        &CutoverOutcome::Abandoned {
            reason: Trouble::AbortRequested
        }
    );
}

#[tokio::test(start_paused = true)]
async fn first_deploy_goes_straight_to_100_after_gates() {
    let run = Setup::first_deploy().run(&canary(), |_| passing()).await;
    assert_eq!(run.writes, [Weights::all_on(CAND)]);
    assert_eq!(run.elapsed, 10 * MIN, "only the final bake");
    assert_eq!(run.gate_calls[0].candidate_share, 0);
}

#[tokio::test(start_paused = true)]
async fn first_deploy_failing_gates_before_traffic_abandons() {
    let run = Setup::first_deploy()
        .run(&canary(), |_| failing("in ALARM"))
        .await;
    assert!(run.writes.is_empty());
    assert!(matches!(run.outcome(), CutoverOutcome::Abandoned { .. }));
}

#[tokio::test(start_paused = true)]
async fn first_deploy_failing_gates_with_traffic_fails_loudly_and_keeps_traffic() {
    let run = Setup::first_deploy()
        .run(&canary(), |call| {
            if call.number == 4 {
                failing("in ALARM")
            } else {
                passing()
            }
        })
        .await;
    assert_eq!(run.writes, [Weights::all_on(CAND)]);
    let error = run.result.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the cutover to web-r2 stopped with traffic at web-r2 100%: gates failed: alarm web-5xx failed: in ALARM, and there is no previous release to send traffic back to"
    );
    assert!(matches!(
        run.events.last(),
        Some((_, CutoverEvent::Failed { .. }))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_router_that_cannot_split_refuses_gradual_plans_before_any_call() {
    let mut router = FakeRouter::new(at(0));
    router.gradual = false;
    let setup = Setup {
        router: Arc::new(router),
        ..Setup::from(at(0))
    };
    let run = setup.run(&canary(), |_| passing()).await;
    assert!(matches!(
        run.result,
        Err(CutoverError::GradualUnsupported { steps: 2 })
    ));
    assert!(run.writes.is_empty());
    assert_eq!(*setup.router.reads.lock().unwrap(), 0);

    let all_at_once = strategies().remove(0).1;
    let run = setup.run(&all_at_once, |_| passing()).await;
    assert_eq!(run.writes, [at(100)]);
}

#[tokio::test(start_paused = true)]
async fn traffic_on_a_third_stack_stops_the_run() {
    let setup = Setup::from(Weights::split("web-r0", Some(PREV), 30));
    let run = setup.run(&canary(), |_| passing()).await;
    assert!(run.writes.is_empty());
    assert!(matches!(
        run.result,
        Err(CutoverError::Unsafe { ref reason, .. })
            if matches!(**reason, FailReason::ForeignTraffic { weight: 30, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn weights_changed_outside_restart_from_what_the_router_says() {
    let setup = Setup::from(at(0));
    let router = setup.router.clone();
    let run = setup
        .run(&canary(), move |call| {
            if call.number == 3 {
                *router.weights.lock().unwrap() = at(0);
            }
            passing()
        })
        .await;
    assert_eq!(run.writes, [at(10), at(10), at(100)]);
    assert_eq!(
        run.count(|e| matches!(e, CutoverEvent::WeightsChangedOutside { .. })),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_whose_lock_is_taken_mid_canary_stops_without_the_next_step() {
    // The lock is taken during the canary's 5-minute bake (say `cutover unlock --force` and a
    // new deploy): the step to 100 % is not written, and neither is a shift back.
    let setup = Setup {
        lock_taken_at: Some(2 * MIN),
        ..Setup::from(at(0))
    };
    let run = setup.run(&canary(), |_| passing()).await;
    assert_eq!(run.writes, [at(10)]);
    assert!(run.turning_back.is_empty());
    let error = run.result.unwrap_err();
    assert!(
        matches!(
            &error,
            CutoverError::Unsafe { reason, .. }
                if matches!(**reason, FailReason::LockLost { .. })
        ),
        "{error}"
    );
    assert_eq!(error.exit(), crate::error::Exit::Locked);
    assert_eq!(
        error.to_string(),
        "the cutover to web-r2 stopped with traffic at web-r1 90%, web-r2 10%: the app's lock was taken from this run (held now by alice@ops (deploy web)); the traffic is left where it is"
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_whose_lock_is_taken_before_a_shift_back_leaves_the_traffic_alone() {
    let setup = Setup {
        lock_taken_at: Some(2 * MIN),
        ..Setup::from(at(0))
    };
    let run = setup
        .run(&canary(), |call| {
            if call.number >= 3 {
                failing("5xx alarm")
            } else {
                passing()
            }
        })
        .await;
    assert_eq!(
        run.writes,
        [at(10)],
        "no shift back by a run without the lock"
    );
    assert!(run.turning_back.is_empty());
    assert!(run.result.is_err());
}

#[tokio::test(start_paused = true)]
async fn the_baseline_stays_registered_at_0_through_a_cutover_and_a_shift_back() {
    use crate::router::BASELINE;
    let mut start = back();
    start.set(BASELINE, 0);
    let keeping = |mut weights: Weights| {
        weights.set(BASELINE, 0);
        weights
    };
    let setup = Setup::from(start.clone());
    let run = setup.run(&canary(), |_| passing()).await;
    assert_eq!(run.writes, [keeping(at(10)), keeping(at(100))]);

    let setup = Setup::from(start);
    let run = setup
        .run(&canary(), |call| {
            if call.number >= 3 {
                failing("in ALARM")
            } else {
                passing()
            }
        })
        .await;
    assert_eq!(run.writes, [keeping(at(10)), keeping(back())]);
}
