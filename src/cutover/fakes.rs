//! In-memory routers, gates and stacks for the driver's tests. They record every call with
//! its virtual time so tests can assert on what happened and when.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::watch::{StackState, StackWatch, WatchError};
use crate::gates::{GateChecker, GateReport, GateResult};
use crate::router::{RouterError, TrafficRouter, Weights};

/// Holds weights like a real router; scripted failures are served before the call happens.
pub struct FakeRouter {
    pub weights: Mutex<Weights>,
    /// Every successful write, in order.
    pub writes: Mutex<Vec<Weights>>,
    pub failing_writes: Mutex<VecDeque<RouterError>>,
    pub reads: Mutex<u32>,
    pub gradual: bool,
}

impl FakeRouter {
    pub fn new(weights: Weights) -> Self {
        Self {
            weights: Mutex::new(weights),
            writes: Mutex::default(),
            failing_writes: Mutex::default(),
            reads: Mutex::new(0),
            gradual: true,
        }
    }

    pub fn writes(&self) -> Vec<Weights> {
        self.writes.lock().unwrap().clone()
    }

    pub fn current(&self) -> Weights {
        self.weights.lock().unwrap().clone()
    }

    pub fn fail_next_write(&self, error: RouterError) {
        self.failing_writes.lock().unwrap().push_back(error);
    }
}

impl TrafficRouter for FakeRouter {
    async fn read_weights(&self) -> Result<Weights, RouterError> {
        *self.reads.lock().unwrap() += 1;
        Ok(self.current())
    }

    async fn set_weights(&self, weights: &Weights) -> Result<(), RouterError> {
        if let Some(error) = self.failing_writes.lock().unwrap().pop_front() {
            return Err(error);
        }
        *self.weights.lock().unwrap() = weights.clone();
        self.writes.lock().unwrap().push(weights.clone());
        Ok(())
    }

    fn supports_gradual(&self) -> bool {
        self.gradual
    }
}

pub fn transient(action: &str) -> RouterError {
    RouterError::Transient {
        action: action.to_owned(),
        source: None,
    }
}

/// One gate call as seen by the fake: its number (from 1), when, and the candidate's share
/// on the router at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateCall {
    pub number: usize,
    pub at: Duration,
    pub candidate_share: u8,
}

type Script = Box<dyn FnMut(GateCall) -> GateReport + Send>;

/// Gates whose verdict a test scripts from the call number, time and router state.
pub struct FakeGates {
    router: Arc<FakeRouter>,
    candidate: String,
    started: Instant,
    script: Mutex<Script>,
    pub calls: Mutex<Vec<GateCall>>,
}

impl FakeGates {
    pub fn new(
        router: Arc<FakeRouter>,
        candidate: &str,
        script: impl FnMut(GateCall) -> GateReport + Send + 'static,
    ) -> Self {
        Self {
            router,
            candidate: candidate.to_owned(),
            started: Instant::now(),
            script: Mutex::new(Box::new(script)),
            calls: Mutex::default(),
        }
    }

    pub fn calls(&self) -> Vec<GateCall> {
        self.calls.lock().unwrap().clone()
    }
}

impl GateChecker for FakeGates {
    async fn check(&self, release: &str) -> GateReport {
        assert_eq!(
            release, self.candidate,
            "gates are checked on the candidate"
        );
        let mut calls = self.calls.lock().unwrap();
        let call = GateCall {
            number: calls.len() + 1,
            at: self.started.elapsed(),
            candidate_share: self.router.current().share_of(&self.candidate),
        };
        calls.push(call);
        drop(calls);
        let mut script = self.script.lock().unwrap();
        (*script)(call)
    }
}

pub fn passing() -> GateReport {
    GateReport::new(vec![
        GateResult::pass("target_health"),
        GateResult::pass("alarm web-5xx"),
    ])
}

pub fn failing(reason: &str) -> GateReport {
    GateReport::new(vec![
        GateResult::pass("target_health"),
        GateResult::fail("alarm web-5xx", reason),
    ])
}

/// Stack states a test can change while the driver runs.
#[derive(Default)]
pub struct FakeStacks {
    pub states: Mutex<HashMap<String, StackState>>,
}

impl FakeStacks {
    pub fn healthy(stacks: &[&str]) -> Self {
        let fake = Self::default();
        for stack in stacks {
            fake.set(stack, StackState::Healthy);
        }
        fake
    }

    pub fn set(&self, stack: &str, state: StackState) {
        self.states.lock().unwrap().insert(stack.to_owned(), state);
    }
}

impl StackWatch for FakeStacks {
    async fn stack_state(&self, stack_name: &str) -> Result<StackState, WatchError> {
        Ok(self
            .states
            .lock()
            .unwrap()
            .get(stack_name)
            .cloned()
            .unwrap_or(StackState::Gone))
    }
}
