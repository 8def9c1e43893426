//! Moving the traffic to the rollback target, and marking the release rolled away from.

use std::time::Duration;

use serde::Serialize;

use super::RollbackError;
use crate::aws::cloudformation::{CloudFormation, StackFacts};
use crate::aws::AwsContext;
use crate::cutover::{
    AbortSignal, Controller, CutoverOutcome, Plan, Releases, RetryPolicy, Strategy,
};
use crate::deploy::handover::CloudFormationWatch;
use crate::gates::build_gates;
use crate::output::{CutoverPrinter, OutputSettings};
use crate::release::lock::LockOwnership;
use crate::release::marks::{self, MarkStore};
use crate::release::retire::error_line;
use crate::router::{AnyRouter, TrafficRouter, Weights};
use crate::spec::AppSpec;

/// How the traffic moved.
#[derive(Debug, Clone, Serialize)]
pub struct Shifted {
    pub before: Weights,
    /// Read back from the router after the move.
    pub after: Weights,
    /// The controller's outcome; `None` with `--force` (no gates, one write).
    pub outcome: Option<CutoverOutcome>,
    pub forced: bool,
}

impl Shifted {
    /// The target holds all the traffic, as the router says.
    pub fn completed(&self, target: &str) -> bool {
        let controller_done = match &self.outcome {
            Some(outcome) => matches!(outcome, CutoverOutcome::Completed { .. }),
            None => true,
        };
        controller_done && self.after.share_of(target) == 100
    }
}

/// Sends all traffic to `target`. Behind the gates (all at once, gates before and right after
/// the move, no bake: a rollback must be fast) unless `force`. A failing gate leaves the traffic
/// where it was: the controller does not move it, or moves it straight back.
#[allow(clippy::too_many_arguments)]
pub async fn shift_traffic(
    ctx: &AwsContext,
    spec: &AppSpec,
    router: &AnyRouter,
    before: &Weights,
    target: &str,
    previous: Option<&str>,
    force: bool,
    lock: &LockOwnership,
    settings: &OutputSettings,
) -> Result<Shifted, RollbackError> {
    let router_error = |source| RollbackError::Router {
        app: spec.name.clone(),
        source,
    };
    let outcome = if force {
        if let Some(holder) = lock.lost_to().await {
            return Err(RollbackError::LockLost {
                app: spec.name.clone(),
                holder,
                rebuilt: None,
            });
        }
        let weights = Weights::split(target, previous, 100).keeping_baseline_of(before);
        router.set_weights(&weights).await.map_err(router_error)?;
        None
    } else {
        let plan = Plan::from_strategy(&Strategy::AllAtOnce, Duration::ZERO, spec.gates.interval)?;
        let gates = build_gates(ctx, spec);
        let stacks = CloudFormation::new(ctx);
        let watch = CloudFormationWatch(&stacks);
        let lock_check = || {
            let lock = lock.clone();
            Box::pin(async move { lock.lost_to().await })
                as futures_util::future::BoxFuture<'static, Option<String>>
        };
        let controller = Controller {
            router,
            gates: &gates,
            stacks: &watch,
            retry: RetryPolicy::default(),
            abort: AbortSignal::new(),
            before_turning_back: None,
            lock_lost_to: Some(&lock_check),
        };
        let releases = Releases {
            candidate: target.to_string(),
            previous: previous.map(str::to_string),
        };
        let printer = CutoverPrinter::new(settings);
        Some(
            controller
                .drive(&plan, &releases, |event| printer.print(&event))
                .await?,
        )
    };
    let after = router.read_weights().await.map_err(router_error)?;
    Ok(Shifted {
        before: before.clone(),
        after,
        outcome,
        forced: force,
    })
}

/// Marks each release rolled away from as failed (role, reason, time), so status shows it and
/// retention keeps it for inspection before retiring it, and the target as having taken the
/// traffic (for `history`). Marks are kept beside the lock (SSM), not on the stacks. Returns one
/// warning per release that could not be marked; the rollback itself stands either way.
pub async fn mark_rolled_away(
    store: &impl MarkStore,
    spec: &AppSpec,
    releases: &[&StackFacts],
    target: &str,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let reason = format!("rolled back to {target}");
    for stack in releases {
        let marked = marks::update(store, &spec.name, &stack.name, |mark: &mut marks::Mark| {
            marks::failed(&reason, marks::Ending::RolledBackFrom)(mark);
            mark.push_step(marks::now_millis(), 0);
        })
        .await;
        if let Err(error) = marked {
            warnings.push(format!(
                "could not mark {} as rolled away from: {}",
                stack.name,
                error_line(&error)
            ));
        }
    }
    if target != crate::router::BASELINE {
        let took = marks::update(store, &spec.name, target, |mark| {
            mark.took_traffic_at = Some(marks::now());
            mark.lost_traffic_at = None;
            mark.push_step(marks::now_millis(), 100);
        })
        .await;
        if let Err(error) = took {
            warnings.push(error_line(&error));
        }
    }
    warnings
}
