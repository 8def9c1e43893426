//! The driver against in-memory fakes, on virtual time: every strategy end to end, gates
//! failing at every check, resumption from every intermediate weight, the JSON events.

use std::time::Duration;

use super::fakes::{failing, passing};
use super::harness::*;
use super::*;

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
                assert!(run.turning_back.is_empty(), "{case}: nothing to turn back");
            } else {
                // The turn back was announced (for the caller to record) before the write that
                // moves the traffic back: a run killed in between leaves it known.
                assert_eq!(
                    run.turning_back,
                    [(CAND.to_string(), moved)],
                    "{case}: announced before the shift-back write"
                );
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
                    bakes_secs: plan
                        .steps()
                        .iter()
                        .map(|step| step.bake.as_secs_f64())
                        .collect(),
                    stickiness_secs: None,
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
async fn events_serialize_one_json_object_per_line() {
    let run = Setup::from(at(0)).run(&canary(), |_| passing()).await;
    let lines: Vec<String> = run
        .events
        .iter()
        .map(|(_, event)| serde_json::to_string(event).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        r#"{"event":"started","candidate":"web-r2","previous":"web-r1","weights":{"web-r1":100,"web-r2":0},"plan":[10,100],"bakes_secs":[300.0,600.0]}"#
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

#[tokio::test(start_paused = true)]
async fn events_read_as_progress_lines() {
    let run = Setup::from(at(0)).run(&canary(), |_| passing()).await;
    let lines: Vec<String> = run
        .events
        .iter()
        .map(|(_, event)| event.to_string())
        .collect();
    assert_eq!(
        lines[..5],
        [
            "cutover web-r1 → web-r2: traffic now web-r1 100%, web-r2 0%; plan 10% → 100%",
            "gates on web-r2: all gates passed",
            "step 1/2: web-r1 90%, web-r2 10%",
            "baking step 1/2 at 10%: 5m left",
            "gates on web-r2: all gates passed",
        ]
    );
    assert_eq!(
        lines.last().unwrap(),
        "cutover complete: web-r1 0%, web-r2 100%"
    );
}

#[tokio::test(start_paused = true)]
async fn a_warming_candidate_is_rechecked_until_it_passes_then_the_plan_runs() {
    let plan = canary().with_warmup(10 * MIN);
    // Targets stay "initial" for the first three checks (0, 1 and 2 minutes), then pass.
    let run = Setup::from(at(0))
        .run(&plan, |call| {
            if call.number <= 3 {
                failing("target_health")
            } else {
                passing()
            }
        })
        .await;
    assert_eq!(
        run.outcome(),
        &CutoverOutcome::Completed { weights: at(100) }
    );
    assert_eq!(run.writes, [at(10), at(100)]);
    assert_eq!(
        run.elapsed,
        3 * MIN + total_bake(&plan),
        "warm-up, then every bake"
    );
    assert_eq!(
        run.count(|event| matches!(event, CutoverEvent::WarmingUp { .. })),
        3
    );
}

#[tokio::test(start_paused = true)]
async fn a_candidate_that_never_passes_is_abandoned_when_the_warmup_runs_out() {
    let plan = canary().with_warmup(5 * MIN);
    let run = Setup::from(at(0))
        .run(&plan, |_| failing("target_health"))
        .await;
    assert!(
        matches!(run.outcome(), CutoverOutcome::Abandoned { .. }),
        "{:?}",
        run.outcome()
    );
    assert!(
        run.writes.is_empty(),
        "no traffic ever moved: {:?}",
        run.writes
    );
    assert_eq!(run.elapsed, 5 * MIN);
}
