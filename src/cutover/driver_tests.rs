//! The driver against in-memory fakes, on virtual time: every strategy end to end, gates
//! failing at every check, resumption from every intermediate weight, failures of the router
//! and the stacks, abort.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::fakes::{failing, passing, transient, FakeGates, FakeRouter, FakeStacks, GateCall};
use super::*;
use crate::gates::{GateReport, GateResult};

const PREV: &str = "web-r1";
const CAND: &str = "web-r2";
const MIN: Duration = Duration::from_secs(60);
const GATE_INTERVAL: Duration = MIN;

fn at(candidate_percent: u8) -> Weights {
    Weights::split(CAND, Some(PREV), candidate_percent)
}

fn back() -> Weights {
    Weights::all_on(PREV)
}

fn plan(strategy: Strategy) -> Plan {
    Plan::from_strategy(&strategy, 10 * MIN, GATE_INTERVAL).unwrap()
}

/// Every strategy, with the candidate weights its plan goes through.
fn strategies() -> Vec<(&'static str, Plan)> {
    vec![
        ("all-at-once", plan(Strategy::AllAtOnce)),
        (
            "canary",
            plan(Strategy::Canary {
                percent: 10,
                bake: 5 * MIN,
            }),
        ),
        (
            "linear",
            plan(Strategy::Linear {
                step: 25,
                interval: 2 * MIN,
            }),
        ),
        (
            "steps",
            plan(Strategy::Steps {
                weights: vec![5, 25, 50, 100],
                pause: 3 * MIN,
            }),
        ),
    ]
}

fn canary() -> Plan {
    strategies().remove(1).1
}

/// Everything a run did, for assertions.
struct Run {
    result: Result<CutoverOutcome, CutoverError>,
    writes: Vec<Weights>,
    events: Vec<(Duration, CutoverEvent)>,
    gate_calls: Vec<GateCall>,
    elapsed: Duration,
}

impl Run {
    fn outcome(&self) -> &CutoverOutcome {
        self.result
            .as_ref()
            .expect("the cutover ended without error")
    }

    fn count(&self, matches: impl Fn(&CutoverEvent) -> bool) -> usize {
        self.events
            .iter()
            .filter(|(_, event)| matches(event))
            .count()
    }
}

struct Setup {
    router: Arc<FakeRouter>,
    stacks: Arc<FakeStacks>,
    abort: AbortSignal,
    previous: Option<&'static str>,
}

impl Setup {
    fn from(weights: Weights) -> Self {
        Self {
            router: Arc::new(FakeRouter::new(weights)),
            stacks: Arc::new(FakeStacks::healthy(&[PREV, CAND])),
            abort: AbortSignal::new(),
            previous: Some(PREV),
        }
    }

    fn first_deploy() -> Self {
        Self {
            previous: None,
            stacks: Arc::new(FakeStacks::healthy(&[CAND])),
            ..Self::from(Weights::new())
        }
    }

    async fn run(
        &self,
        plan: &Plan,
        script: impl FnMut(GateCall) -> GateReport + Send + 'static,
    ) -> Run {
        let gates = FakeGates::new(self.router.clone(), CAND, script);
        let controller = Controller {
            router: &*self.router,
            gates: &gates,
            stacks: &*self.stacks,
            retry: RetryPolicy::default(),
            abort: self.abort.clone(),
        };
        let releases = Releases {
            candidate: CAND.to_owned(),
            previous: self.previous.map(str::to_owned),
        };
        let started = Instant::now();
        let mut events = Vec::new();
        // A virtual day: a driver that loops forever fails here instead of hanging the suite.
        let result = tokio::time::timeout(
            Duration::from_secs(24 * 3600),
            controller.drive(plan, &releases, |event| {
                events.push((started.elapsed(), event))
            }),
        )
        .await
        .expect("the cutover ended within a virtual day");
        Run {
            result,
            writes: self.router.writes(),
            events,
            gate_calls: gates.calls(),
            elapsed: started.elapsed(),
        }
    }
}

fn expected_writes(plan: &Plan) -> Vec<Weights> {
    plan.weights().into_iter().map(at).collect()
}

fn total_bake(plan: &Plan) -> Duration {
    plan.steps().iter().map(|step| step.bake).sum()
}

#[tokio::test(start_paused = true)]
async fn every_strategy_completes_with_its_exact_weights_and_bakes() {
    let expected = [
        ("all-at-once", vec![at(100)]),
        ("canary", vec![at(10), at(100)]),
        ("linear", vec![at(25), at(50), at(75), at(100)]),
        ("steps", vec![at(5), at(25), at(50), at(100)]),
    ];
    for ((name, plan), (expected_name, expected)) in strategies().iter().zip(expected) {
        assert_eq!(*name, expected_name);
        let run = Setup::from(at(0)).run(plan, |_| passing()).await;
        assert_eq!(
            run.outcome(),
            &CutoverOutcome::Completed { weights: at(100) },
            "{name}"
        );
        assert_eq!(run.writes, expected, "{name}");
        assert_eq!(
            run.elapsed,
            total_bake(plan),
            "{name}: every bake held exactly"
        );

        // Gates were watched all along: first check before any traffic moved, then never more
        // than one interval apart, and a check after each bake ended.
        let calls = &run.gate_calls;
        assert_eq!(calls[0].at, Duration::ZERO, "{name}");
        assert_eq!(calls[0].candidate_share, 0, "{name}");
        for pair in calls.windows(2) {
            assert!(pair[1].at - pair[0].at <= GATE_INTERVAL, "{name}: {pair:?}");
        }
        assert_eq!(calls.last().unwrap().at, run.elapsed, "{name}");
        let mut step_end = Duration::ZERO;
        for step in plan.steps() {
            step_end += step.bake;
            assert!(
                calls
                    .iter()
                    .any(|call| call.at == step_end && call.candidate_share == step.weight),
                "{name}: no gate check at the end of the bake at {}%",
                step.weight
            );
        }
        let weight_events: Vec<_> = run
            .events
            .iter()
            .filter_map(|(_, event)| match event {
                CutoverEvent::WeightsSet { weights, .. } => Some(weights.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(weight_events, run.writes, "{name}");
        assert!(matches!(
            run.events.last(),
            Some((_, CutoverEvent::Completed { .. }))
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn a_gate_failing_at_any_check_shifts_back_at_once() {
    for (name, plan) in strategies() {
        let clean = Setup::from(at(0)).run(&plan, |_| passing()).await;
        let all_writes = expected_writes(&plan);
        assert!(clean.gate_calls.len() > plan.steps().len(), "{name}");
        for failing_call in clean.gate_calls.iter().map(|call| call.number) {
            let run = Setup::from(at(0))
                .run(&plan, move |call| {
                    if call.number == failing_call {
                        failing("in ALARM")
                    } else {
                        passing()
                    }
                })
                .await;
            let position = clean.gate_calls[failing_call - 1];
            let case = format!("{name}: check {failing_call} at {position:?}");
            assert_eq!(run.gate_calls.len(), failing_call, "{case}: no check after");
            assert_eq!(
                run.gate_calls.last().unwrap().at,
                position.at,
                "{case}: turned back at once"
            );
            let moved = all_writes
                .iter()
                .position(|weights| weights.get(CAND) == position.candidate_share)
                .map_or(0, |index| index + 1);
            let mut expected = all_writes[..moved].to_vec();
            let reason = Trouble::GatesFailed {
                report: failing("in ALARM"),
            };
            if moved == 0 {
                assert_eq!(
                    run.outcome(),
                    &CutoverOutcome::Abandoned { reason },
                    "{case}"
                );
            } else {
                expected.push(back());
                assert_eq!(
                    run.outcome(),
                    &CutoverOutcome::ShiftedBack {
                        weights: back(),
                        reason
                    },
                    "{case}"
                );
            }
            assert_eq!(run.writes, expected, "{case}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn resumes_from_every_intermediate_weight_and_restarts_that_bake() {
    for (name, plan) in strategies() {
        let all_writes = expected_writes(&plan);
        for (index, step) in plan.steps().iter().enumerate() {
            let run = Setup::from(at(step.weight)).run(&plan, |_| passing()).await;
            let case = format!("{name} resumed at {}%", step.weight);
            assert_eq!(
                run.outcome(),
                &CutoverOutcome::Completed { weights: at(100) },
                "{case}"
            );
            assert_eq!(run.writes, all_writes[index + 1..], "{case}");
            let rest: Duration = plan.steps()[index..].iter().map(|step| step.bake).sum();
            assert_eq!(
                run.elapsed, rest,
                "{case}: the bake at the found step restarts"
            );
            assert_eq!(
                run.events[0].1,
                CutoverEvent::Started {
                    candidate: CAND.to_owned(),
                    previous: Some(PREV.to_owned()),
                    weights: at(step.weight),
                    plan: plan.weights(),
                },
                "{case}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn resumes_from_a_weight_between_steps_by_moving_up_after_gates() {
    let plan = strategies().remove(3).1; // steps 5, 25, 50, 100
    let run = Setup::from(at(20)).run(&plan, |_| passing()).await;
    assert_eq!(run.writes, [at(25), at(50), at(100)]);
    assert_eq!(
        run.gate_calls[0].candidate_share, 20,
        "gates before moving up"
    );
    assert_eq!(run.elapsed, 3 * MIN + 3 * MIN + 10 * MIN);
}

#[tokio::test(start_paused = true)]
async fn resumes_after_a_crash_during_shift_back_only_if_gates_say_so() {
    // A run died at 10 % and the candidate's alarm is firing: the next run shifts back.
    let run = Setup::from(at(10))
        .run(&canary(), |_| failing("in ALARM"))
        .await;
    assert_eq!(run.writes, [back()]);
    assert!(matches!(run.outcome(), CutoverOutcome::ShiftedBack { .. }));
}

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
async fn zero_bakes_still_check_gates_before_and_after_each_move() {
    let plan = Plan::from_strategy(
        &Strategy::Canary {
            percent: 10,
            bake: Duration::ZERO,
        },
        Duration::ZERO,
        GATE_INTERVAL,
    )
    .unwrap();
    let run = Setup::from(at(0)).run(&plan, |_| passing()).await;
    assert_eq!(run.writes, [at(10), at(100)]);
    assert_eq!(run.elapsed, Duration::ZERO);
    let shares: Vec<u8> = run
        .gate_calls
        .iter()
        .map(|call| call.candidate_share)
        .collect();
    assert_eq!(shares, [0, 10, 100], "one check at each weight, none twice");
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
async fn events_serialize_one_json_object_per_line() {
    let run = Setup::from(at(0)).run(&canary(), |_| passing()).await;
    let lines: Vec<String> = run
        .events
        .iter()
        .map(|(_, event)| serde_json::to_string(event).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        r#"{"event":"started","candidate":"web-r2","previous":"web-r1","weights":{"web-r1":100,"web-r2":0},"plan":[10,100]}"#
    );
    assert!(lines.contains(
        &r#"{"event":"weights_set","weights":{"web-r1":90,"web-r2":10},"step":{"index":0,"count":2,"weight":10}}"#.to_owned()
    ));
    assert!(lines.contains(
        &r#"{"event":"baking","step":{"index":0,"count":2,"weight":10},"left_secs":300.0,"next_check_secs":60.0}"#.to_owned()
    ));
    assert_eq!(
        lines.last().unwrap(),
        r#"{"event":"completed","weights":{"web-r1":0,"web-r2":100}}"#
    );
    assert!(lines.iter().all(|line| !line.contains('\n')));
}
