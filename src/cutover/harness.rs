//! The test harness for the driver: a fake world, a run on virtual time, and what it did.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::fakes::{FakeGates, FakeRouter, FakeStacks, GateCall};
use super::*;
use crate::gates::GateReport;

pub const PREV: &str = "web-r1";
pub const CAND: &str = "web-r2";
pub const MIN: Duration = Duration::from_secs(60);
pub const GATE_INTERVAL: Duration = MIN;

pub fn at(candidate_percent: u8) -> Weights {
    Weights::split(CAND, Some(PREV), candidate_percent)
}

pub fn back() -> Weights {
    Weights::all_on(PREV)
}

pub fn plan(strategy: Strategy) -> Plan {
    Plan::from_strategy(&strategy, 10 * MIN, GATE_INTERVAL).unwrap()
}

/// Every strategy, with the candidate weights its plan goes through.
pub fn strategies() -> Vec<(&'static str, Plan)> {
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

pub fn canary() -> Plan {
    strategies().remove(1).1
}

/// Everything a run did, for assertions.
pub struct Run {
    pub result: Result<CutoverOutcome, CutoverError>,
    pub writes: Vec<Weights>,
    /// Each time the driver announced a turn back: (candidate, router writes made by then).
    pub turning_back: Vec<(String, usize)>,
    pub events: Vec<(Duration, CutoverEvent)>,
    pub gate_calls: Vec<GateCall>,
    pub elapsed: Duration,
}

impl Run {
    pub fn outcome(&self) -> &CutoverOutcome {
        self.result
            .as_ref()
            .expect("the cutover ended without error")
    }

    pub fn count(&self, matches: impl Fn(&CutoverEvent) -> bool) -> usize {
        self.events
            .iter()
            .filter(|(_, event)| matches(event))
            .count()
    }
}

pub struct Setup {
    pub router: Arc<FakeRouter>,
    pub stacks: Arc<FakeStacks>,
    pub abort: AbortSignal,
    pub previous: Option<&'static str>,
    /// When (virtual time from the start) another run takes the app's lock; `None`: never.
    pub lock_taken_at: Option<Duration>,
}

impl Setup {
    pub fn from(weights: Weights) -> Self {
        Self {
            router: Arc::new(FakeRouter::new(weights)),
            stacks: Arc::new(FakeStacks::healthy(&[PREV, CAND])),
            abort: AbortSignal::new(),
            previous: Some(PREV),
            lock_taken_at: None,
        }
    }

    pub fn first_deploy() -> Self {
        Self {
            previous: None,
            stacks: Arc::new(FakeStacks::healthy(&[CAND])),
            ..Self::from(Weights::new())
        }
    }

    pub async fn run(
        &self,
        plan: &Plan,
        script: impl FnMut(GateCall) -> GateReport + Send + 'static,
    ) -> Run {
        let gates = FakeGates::new(self.router.clone(), CAND, script);
        let turning_back = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = {
            let turning_back = turning_back.clone();
            let router = self.router.clone();
            move |candidate: String, _reason: String| {
                turning_back
                    .lock()
                    .unwrap()
                    .push((candidate, router.writes().len()));
                Box::pin(async {}) as futures_util::future::BoxFuture<'static, ()>
            }
        };
        let started = Instant::now();
        let lock_taken_at = self.lock_taken_at;
        let lock_check = move || {
            let taken = lock_taken_at.is_some_and(|at| started.elapsed() >= at);
            Box::pin(async move { taken.then(|| "alice@ops (deploy web)".to_owned()) })
                as futures_util::future::BoxFuture<'static, Option<String>>
        };
        let controller = Controller {
            router: &*self.router,
            gates: &gates,
            stacks: &*self.stacks,
            retry: RetryPolicy::default(),
            abort: self.abort.clone(),
            before_turning_back: Some(&record),
            lock_lost_to: Some(&lock_check),
        };
        let releases = Releases {
            candidate: CAND.to_owned(),
            previous: self.previous.map(str::to_owned),
        };
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
        let turning_back = turning_back.lock().unwrap().clone();
        Run {
            result,
            writes: self.router.writes(),
            turning_back,
            events,
            gate_calls: gates.calls(),
            elapsed: started.elapsed(),
        }
    }
}

pub fn expected_writes(plan: &Plan) -> Vec<Weights> {
    plan.weights().into_iter().map(at).collect()
}

pub fn total_bake(plan: &Plan) -> Duration {
    plan.steps().iter().map(|step| step.bake).sum()
}
