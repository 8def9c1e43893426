//! The driver: observe, ask [`decide`], execute one decision, repeat.
//!
//! It keeps only what `decide` cannot read from AWS: when the current weights were taken and
//! when gates were last checked, both on `tokio::time` so tests run on virtual time. It reads
//! the router and the stacks at the start and again after every wait (time passed, the world
//! may have moved); after its own write it trusts what it wrote, which saves a read per step.
//! Retrying lives here and only here: [`RetryPolicy`] for transient router and stack errors and
//! for gate reports that hold only errors.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::decide::{decide, Decision, GateSnapshot, Observation, WaitReason};
use super::events::{CutoverEvent, CutoverOutcome};
use super::plan::Plan;
use super::watch::{StackState, StackWatch, WatchError};
use super::CutoverError;
use crate::gates::{GateChecker, GateContext, GateReport};
use crate::router::{RouterError, TrafficRouter, Weights};

/// The two releases a cutover is about, by stack name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Releases {
    pub candidate: String,
    /// `None` on an app's first deploy.
    pub previous: Option<String>,
}

/// How often a transient failure is repeated before it counts: `attempts` calls in all, the
/// delay doubling from `first_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_delay: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` (attempts count from 1).
    fn delay_after(&self, attempt: u32) -> Duration {
        self.first_delay.saturating_mul(1 << (attempt - 1).min(16))
    }
}

/// Set (by a Ctrl-C handler, say) to turn the cutover back at the next decision; a bake in
/// progress is interrupted at once.
#[derive(Debug, Clone)]
pub struct AbortSignal(Arc<watch::Sender<bool>>);

impl Default for AbortSignal {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(false)))
    }
}

impl AbortSignal {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn request(&self) {
        self.0.send_replace(true);
    }

    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once an abort has been requested.
    pub async fn requested(&self) {
        let mut receiver = self.0.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = receiver.wait_for(|&requested| requested).await;
    }
}

/// What the driver acts through.
pub struct Controller<'a, R, G, S> {
    pub router: &'a R,
    pub gates: &'a G,
    pub stacks: &'a S,
    pub retry: RetryPolicy,
    pub abort: AbortSignal,
    /// Awaited before the driver moves the traffic back, with the reason: the caller records
    /// the decision first (a failed mark), so a run killed during the move leaves it known and
    /// nothing resumes the candidate forward. `None`: nothing to record.
    pub before_turning_back: Option<&'a TurningBack<'a>>,
    /// Asked just before every traffic move: `Some(holder)` when the app's lock is no longer
    /// this run's. The move is not made; the decision is taken again knowing it (it stops).
    /// `None`: not checked.
    pub lock_lost_to: Option<&'a LockCheck<'a>>,
}

/// What a [`Controller`] asks before it moves traffic: who holds the app's lock now, if not
/// this run.
pub type LockCheck<'a> =
    dyn Fn() -> futures_util::future::BoxFuture<'a, Option<String>> + Send + Sync + 'a;

/// What a [`Controller`] awaits before it turns a cutover back: `(candidate, reason)`.
pub type TurningBack<'a> =
    dyn Fn(String, String) -> futures_util::future::BoxFuture<'a, ()> + Send + Sync + 'a;

/// The driver's memory within one run; everything else is observed.
struct RunState {
    weights: Weights,
    candidate_state: StackState,
    previous_state: Option<StackState>,
    weights_since: Instant,
    /// Counts weight changes: on virtual time a check and the write after it share an
    /// instant, so only an order tells whether a check saw the current weights.
    weights_generation: u64,
    gates: Option<LastCheck>,
    /// Since when the candidate has had production traffic in this run.
    traffic_since: Option<Instant>,
    /// Who holds the app's lock, once a check found it lost.
    lock_lost_to: Option<String>,
}

struct LastCheck {
    report: GateReport,
    at: Instant,
    weights_generation: u64,
}

impl RunState {
    fn weights_changed(&mut self, candidate: &str) {
        self.weights_since = Instant::now();
        self.weights_generation += 1;
        self.note_traffic(candidate);
    }

    fn note_traffic(&mut self, candidate: &str) {
        if self.weights.get(candidate) == 0 {
            self.traffic_since = None;
        } else if self.traffic_since.is_none() {
            self.traffic_since = Some(Instant::now());
        }
    }
}

impl<R: TrafficRouter, G: GateChecker, S: StackWatch> Controller<'_, R, G, S> {
    /// Runs the cutover from whatever the router shows now to completion, shift-back or a stop.
    pub async fn drive(
        &self,
        plan: &Plan,
        releases: &Releases,
        mut emit: impl FnMut(CutoverEvent),
    ) -> Result<CutoverOutcome, CutoverError> {
        let candidate = releases.candidate.as_str();
        if releases.previous.as_deref() == Some(candidate) {
            return Err(CutoverError::SameRelease {
                stack: candidate.to_owned(),
            });
        }
        if plan.is_gradual() && releases.previous.is_some() && !self.router.supports_gradual() {
            return Err(CutoverError::GradualUnsupported {
                steps: plan.steps().len(),
            });
        }
        let weights = self
            .read_weights(releases, &Weights::new(), &mut emit)
            .await?;
        let (candidate_state, previous_state) =
            self.stack_states(releases, &weights, &mut emit).await?;
        emit(CutoverEvent::Started {
            candidate: candidate.to_owned(),
            previous: releases.previous.clone(),
            weights: weights.clone(),
            plan: plan.weights(),
            bakes_secs: plan
                .steps()
                .iter()
                .map(|step| step.bake.as_secs_f64())
                .collect(),
            stickiness_secs: self.router.stickiness().map(|hold| hold.as_secs()),
        });
        let mut run = RunState {
            weights,
            candidate_state,
            previous_state,
            weights_since: Instant::now(),
            weights_generation: 0,
            gates: None,
            traffic_since: None,
            lock_lost_to: None,
        };
        run.note_traffic(candidate);
        loop {
            let now = Instant::now();
            let seen = Observation {
                candidate: candidate.to_owned(),
                previous: releases.previous.clone(),
                candidate_state: run.candidate_state.clone(),
                previous_state: run.previous_state.clone(),
                weights: run.weights.clone(),
                gates: run.gates.as_ref().map(|check| GateSnapshot {
                    report: check.report.clone(),
                    age: now - check.at,
                    at_current_weights: check.weights_generation == run.weights_generation,
                }),
                held_for: now - run.weights_since,
                abort_requested: self.abort.is_requested(),
                lock_lost_to: run.lock_lost_to.clone(),
            };
            match decide(&seen, plan) {
                Decision::SetWeights { weights, step } => {
                    if self.lock_lost(&mut run).await {
                        continue;
                    }
                    let weights = weights.keeping_baseline_of(&run.weights);
                    self.write_weights(candidate, &run.weights, &weights, &mut emit)
                        .await?;
                    emit(CutoverEvent::WeightsSet {
                        weights: weights.clone(),
                        step,
                    });
                    run.weights = weights;
                    run.weights_changed(candidate);
                }
                Decision::CheckGates => {
                    let context = GateContext {
                        candidate_weight: run.weights.share_of(candidate),
                        production_for: run.traffic_since.map(|since| since.elapsed()),
                    };
                    // An abort (Ctrl-C) does not wait for a slow gate: the decision turns back.
                    let checked = tokio::select! {
                        report = self.check_gates(candidate, context, &mut emit) => Some(report),
                        () = self.abort.requested() => None,
                    };
                    let Some(report) = checked else {
                        continue;
                    };
                    emit(CutoverEvent::GatesChecked {
                        release: candidate.to_owned(),
                        passed: report.passed(),
                        report: report.clone(),
                    });
                    run.gates = Some(LastCheck {
                        report,
                        at: Instant::now(),
                        weights_generation: run.weights_generation,
                    });
                }
                Decision::Wait { duration, reason } => {
                    emit(match reason {
                        WaitReason::Bake { step, left } => CutoverEvent::Baking {
                            step,
                            left,
                            next_check: duration,
                        },
                        WaitReason::CandidateInProgress => CutoverEvent::WaitingForStack {
                            stack: candidate.to_owned(),
                            state: run.candidate_state.clone(),
                            retry_in: duration,
                        },
                        WaitReason::WarmingUp { report, left } => CutoverEvent::WarmingUp {
                            release: candidate.to_owned(),
                            report,
                            left,
                            next_check: duration,
                        },
                    });
                    tokio::select! {
                        () = tokio::time::sleep(duration) => {}
                        () = self.abort.requested() => {}
                    }
                    self.observe_again(releases, &mut run, &mut emit).await?;
                }
                Decision::ShiftBack { to, reason } => {
                    if self.lock_lost(&mut run).await {
                        continue;
                    }
                    if let Some(record) = self.before_turning_back {
                        record(candidate.to_owned(), reason.to_string()).await;
                    }
                    let to = to.keeping_baseline_of(&run.weights);
                    self.write_weights(candidate, &run.weights, &to, &mut emit)
                        .await?;
                    emit(CutoverEvent::ShiftedBack {
                        weights: to.clone(),
                        reason: reason.to_string(),
                    });
                    return Ok(CutoverOutcome::ShiftedBack {
                        weights: to,
                        reason,
                    });
                }
                Decision::Abandon { reason } => {
                    emit(CutoverEvent::Abandoned {
                        reason: reason.to_string(),
                    });
                    return Ok(CutoverOutcome::Abandoned { reason });
                }
                Decision::Hold => {
                    emit(CutoverEvent::Held {
                        release: candidate.to_owned(),
                        weights: run.weights.clone(),
                    });
                    return Ok(CutoverOutcome::Held {
                        weights: run.weights,
                    });
                }
                Decision::Complete => {
                    emit(CutoverEvent::Completed {
                        weights: run.weights.clone(),
                    });
                    return Ok(CutoverOutcome::Completed {
                        weights: run.weights,
                    });
                }
                Decision::Fail { reason } => {
                    emit(CutoverEvent::Failed {
                        reason: reason.to_string(),
                    });
                    return Err(CutoverError::Unsafe {
                        candidate: candidate.to_owned(),
                        weights: run.weights,
                        reason: Box::new(reason),
                    });
                }
            }
        }
    }

    /// Checks the lock before a traffic move; `true` (and noted in `run`) when it is lost.
    async fn lock_lost(&self, run: &mut RunState) -> bool {
        let Some(check) = self.lock_lost_to else {
            return false;
        };
        run.lock_lost_to = check().await;
        run.lock_lost_to.is_some()
    }

    async fn observe_again(
        &self,
        releases: &Releases,
        run: &mut RunState,
        emit: &mut impl FnMut(CutoverEvent),
    ) -> Result<(), CutoverError> {
        let found = self.read_weights(releases, &run.weights, emit).await?;
        let (candidate_state, previous_state) = self.stack_states(releases, &found, emit).await?;
        // Compared as traffic: a router may read back `{r2: 100}` after a write of
        // `{r1: 0, r2: 100}` (an Elastic IP knows only its holder), and that is what was written.
        if !found.same_traffic(&run.weights) {
            emit(CutoverEvent::WeightsChangedOutside {
                expected: run.weights.clone(),
                found: found.clone(),
            });
            run.weights = found;
            run.weights_changed(&releases.candidate);
        }
        run.candidate_state = candidate_state;
        run.previous_state = previous_state;
        Ok(())
    }

    async fn read_weights(
        &self,
        releases: &Releases,
        known: &Weights,
        emit: &mut impl FnMut(CutoverEvent),
    ) -> Result<Weights, CutoverError> {
        self.retrying(
            "read the router's weights",
            emit,
            || self.router.read_weights(),
            RouterError::is_transient,
        )
        .await
        .map_err(|source| CutoverError::Router {
            candidate: releases.candidate.clone(),
            weights: known.clone(),
            source,
        })
    }

    async fn write_weights(
        &self,
        candidate: &str,
        current: &Weights,
        target: &Weights,
        emit: &mut impl FnMut(CutoverEvent),
    ) -> Result<(), CutoverError> {
        self.retrying(
            &format!("set weights {target}"),
            emit,
            || self.router.set_weights(target),
            RouterError::is_transient,
        )
        .await
        .map_err(|source| CutoverError::Router {
            candidate: candidate.to_owned(),
            weights: current.clone(),
            source,
        })
    }

    async fn stack_states(
        &self,
        releases: &Releases,
        weights: &Weights,
        emit: &mut impl FnMut(CutoverEvent),
    ) -> Result<(StackState, Option<StackState>), CutoverError> {
        let candidate = self
            .state_with_retries(&releases.candidate, emit)
            .await
            .map_err(|source| watch_error(releases, weights, source))?;
        let previous = match &releases.previous {
            Some(previous) => Some(
                self.state_with_retries(previous, emit)
                    .await
                    .map_err(|source| watch_error(releases, weights, source))?,
            ),
            None => None,
        };
        Ok((candidate, previous))
    }

    async fn state_with_retries(
        &self,
        stack: &str,
        emit: &mut impl FnMut(CutoverEvent),
    ) -> Result<StackState, WatchError> {
        self.retrying(
            &format!("read the state of stack {stack}"),
            emit,
            || self.stacks.stack_state(stack),
            |error: &WatchError| error.transient,
        )
        .await
    }

    /// Re-checks a report that holds only errors (see `crate::gates`) before it counts.
    async fn check_gates(
        &self,
        release: &str,
        context: GateContext,
        emit: &mut impl FnMut(CutoverEvent),
    ) -> GateReport {
        let mut report = self.gates.check_with(release, context).await;
        for attempt in 1..self.retry.attempts {
            if !report.only_errors() {
                break;
            }
            let delay = self.retry.delay_after(attempt);
            emit(CutoverEvent::Retrying {
                action: format!("check the gates of {release}"),
                attempt,
                delay,
                error: report.to_string(),
            });
            tokio::time::sleep(delay).await;
            report = self.gates.check_with(release, context).await;
        }
        report
    }

    async fn retrying<T, E: std::error::Error, F: Future<Output = Result<T, E>>>(
        &self,
        action: &str,
        emit: &mut impl FnMut(CutoverEvent),
        mut call: impl FnMut() -> F,
        is_transient: impl Fn(&E) -> bool,
    ) -> Result<T, E> {
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(error) if is_transient(&error) && attempt < self.retry.attempts => {
                    let delay = self.retry.delay_after(attempt);
                    emit(CutoverEvent::Retrying {
                        action: action.to_owned(),
                        attempt,
                        delay,
                        error: error.to_string(),
                    });
                    tracing::debug!(action, attempt, ?delay, %error, "retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

fn watch_error(releases: &Releases, weights: &Weights, source: WatchError) -> CutoverError {
    CutoverError::Watch {
        candidate: releases.candidate.clone(),
        weights: weights.clone(),
        source,
    }
}
