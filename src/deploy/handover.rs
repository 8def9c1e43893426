//! After the candidate stack is healthy: move traffic to it by the app's strategy behind its
//! gates (the cutover controller), from whatever the router shows now. Shared by `deploy` and
//! `resume`, so a run that died half way is finished by the same code that started it.

use std::sync::Mutex;
use std::time::Duration;

use crate::aws::cloudformation::{CloudFormation, StackApi, StackFacts};
use crate::aws::elbv2::Elbv2;
use crate::aws::ssm::Ssm;
use crate::aws::AwsContext;
use crate::cutover::{
    AbortSignal, Controller, CutoverError, CutoverEvent, CutoverOutcome, LockCheck, Plan, Releases,
    RetryPolicy, StackState, StackWatch, Strategy, Trouble, WatchError,
};
use crate::deploy::test_route::{self, TestRouteDriveError};
use crate::error::{Diagnostic, Exit};
use crate::gates::build_gates;
use crate::gates::compare::{self, Comparison};
use crate::notify::Announcer;
use crate::output::OutputSettings;
use crate::release::live::{AppReleases, LiveError};
use crate::release::lock::LockOwnership;
use crate::release::marks;
use crate::release::parse_stack_name;
use crate::release::retire::{apply_retention, apply_retention_to, error_line, RetireOptions};
use crate::release::{tags, Role};
use crate::route::hold::HoldError;
use crate::route::RouteError;
use crate::router::{AlbRouter, AnyRouter, RouterError, BASELINE};
use crate::spec::{AppSpec, RouterSpec, StrategyKind, TestTrafficSpec};

pub use super::unfinished::{
    held_test_route, never_started_candidate, resume_unfinished, test_route_candidate, unbaked,
    unfinished, unfinished_candidate,
};

#[derive(Debug, thiserror::Error)]
pub enum HandoverError {
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("could not set up the {kind} router of app {app}")]
    Router {
        app: String,
        kind: &'static str,
        #[source]
        source: RouterError,
    },
    #[error(transparent)]
    Cutover(#[from] CutoverError),
    #[error("stack {stack} is not a release of app {app}")]
    NotARelease { stack: String, app: String },
    #[error("could not put up the test route of {candidate}")]
    TestRoute {
        candidate: String,
        #[source]
        source: TestRouteDriveError,
    },
    #[error("{candidate} has no target group: its output {output} is missing")]
    NoTargetGroup { candidate: String, output: String },
    #[error(transparent)]
    Hold(#[from] HoldError),
    #[error("the test route of {candidate} is gone")]
    TestRouteGone { candidate: String },
}

impl Diagnostic for HandoverError {
    fn exit(&self) -> Exit {
        match self {
            HandoverError::Live(error) => error.exit(),
            HandoverError::Route(error) => error.exit(),
            HandoverError::Router { source, .. } => source.exit(),
            HandoverError::Cutover(error) => error.exit(),
            HandoverError::TestRoute { source, .. } => source.exit(),
            HandoverError::Hold(error) => error.exit(),
            HandoverError::NotARelease { .. }
            | HandoverError::NoTargetGroup { .. }
            | HandoverError::TestRouteGone { .. } => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            HandoverError::Live(error) => error.hint(),
            HandoverError::Route(error) => error.hint(),
            HandoverError::Router { source, .. } => source.hint(),
            HandoverError::Cutover(error) => error.hint(),
            HandoverError::NotARelease { app, .. } => Some(format!(
                "`cutover status {app}` lists the releases of the app"
            )),
            HandoverError::TestRoute { source, .. } => source.hint(),
            HandoverError::NoTargetGroup { .. } => None,
            HandoverError::Hold(error) => error.hint(),
            HandoverError::TestRouteGone { candidate } => Some(format!(
                "something removed the listener rule that reached {candidate}; deploy again, or promote it without a test route by removing the hold"
            )),
        }
    }
}

/// The controller's plan from the app's `[strategy]` and gate interval, with each step before
/// 100 % held at least the route's target group stickiness (`stickiness`, as the router last
/// read it) unless the spec says `strategy.hold_for_stickiness = false`.
pub fn plan_for(spec: &AppSpec, stickiness: Option<Duration>) -> Result<Plan, CutoverError> {
    let percent = |value: u32| value.min(100) as u8;
    let strategy = match &spec.strategy.kind {
        StrategyKind::AllAtOnce => Strategy::AllAtOnce,
        StrategyKind::Canary { percent: p, bake } => Strategy::Canary {
            percent: percent(*p),
            bake: *bake,
        },
        StrategyKind::Linear { step, interval } => Strategy::Linear {
            step: percent(*step),
            interval: *interval,
        },
        StrategyKind::Steps { weights, pause } => Strategy::Steps {
            weights: weights.iter().map(|&w| percent(w)).collect(),
            pause: *pause,
        },
    };
    let plan = Plan::from_strategy(&strategy, spec.strategy.final_bake, spec.gates.interval)?
        .with_warmup(spec.gates.warmup);
    Ok(match stickiness {
        Some(hold) if spec.strategy.hold_for_stickiness => plan.with_step_bakes_at_least(hold),
        _ => plan,
    })
}

/// A release stack's state for the controller, from DescribeStacks. The baseline is no stack:
/// it is not cutover's to create or delete, and is always there to take traffic back.
pub struct CloudFormationWatch<'a>(pub &'a CloudFormation);

impl StackWatch for CloudFormationWatch<'_> {
    async fn stack_state(&self, stack_name: &str) -> Result<StackState, WatchError> {
        if stack_name == BASELINE {
            return Ok(StackState::Healthy);
        }
        match self.0.describe_stack(stack_name).await {
            Ok(None) => Ok(StackState::Gone),
            Ok(Some(stack)) => Ok(state_of(&stack)),
            Err(error) => Err(WatchError {
                stack: stack_name.to_string(),
                transient: error.is_transient(),
                source: Some(Box::new(error)),
            }),
        }
    }
}

/// The candidate as its wait (or the caller's look at the app) has just seen it, for the
/// controller's first look; every later look asks CloudFormation.
struct JustSeen<W> {
    watch: W,
    candidate: Mutex<Option<(String, StackState)>>,
}

impl<W: StackWatch + Sync> StackWatch for JustSeen<W> {
    async fn stack_state(&self, stack_name: &str) -> Result<StackState, WatchError> {
        let seen = {
            let mut candidate = self.candidate.lock().expect("candidate state lock");
            match candidate.take() {
                Some((name, state)) if name == stack_name => Some(state),
                other => {
                    *candidate = other;
                    None
                }
            }
        };
        match seen {
            Some(state) => Ok(state),
            None => self.watch.stack_state(stack_name).await,
        }
    }
}

fn state_of(stack: &StackFacts) -> StackState {
    // A release cutover already turned back from must not be cut over to again.
    if stack.tag(tags::ROLE) == Some(Role::Failed.as_str()) {
        return StackState::Failed(format!("{}, tagged failed by cutover", stack.status));
    }
    stack_state(&stack.status)
}

fn stack_state(status: &str) -> StackState {
    match status {
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" => StackState::Healthy,
        "DELETE_IN_PROGRESS" | "DELETE_COMPLETE" => StackState::Gone,
        _ if status.ends_with("_FAILED")
            || status.starts_with("ROLLBACK_")
            || status.starts_with("UPDATE_ROLLBACK_")
            || status.starts_with("IMPORT_ROLLBACK_") =>
        {
            StackState::Failed(status.to_string())
        }
        _ if status.ends_with("_IN_PROGRESS") => StackState::InProgress,
        _ => StackState::Failed(status.to_string()),
    }
}

/// How a cutover is run.
#[derive(Debug, Clone, Default)]
pub struct CutoverOptions {
    /// Stop once the gates pass with no production traffic moved (`deploy --hold`).
    pub hold: bool,
    /// The release to turn back to, when the traffic cannot tell it (a cutover that reached
    /// 100 % and died in its final bake: the previous release already has 0 %).
    pub previous: Option<String>,
    /// The app lock the run holds, checked before every traffic move: a run that lost it
    /// stops where it is and leaves the traffic to the run that has it. `None`: not checked.
    pub lock: Option<LockOwnership>,
}

/// The test route's setting and the ALB router, when the app has `[router.test_traffic]`.
pub(super) fn test_traffic<'a>(
    spec: &'a AppSpec,
    router: &'a AnyRouter,
) -> Option<(&'a TestTrafficSpec, &'a AlbRouter)> {
    match (&spec.router, router) {
        (
            RouterSpec::Alb {
                test_traffic: Some(test_traffic),
                ..
            },
            AnyRouter::Alb(alb),
        ) => Some((test_traffic, alb)),
        _ => None,
    }
}

/// What the comparison gate compares the candidate with: the previous release's target group
/// on the same load balancer.
fn comparison_for(
    spec: &AppSpec,
    router: &AnyRouter,
    previous: Option<&str>,
) -> Option<Comparison> {
    spec.gates.compare.as_ref()?;
    let AnyRouter::Alb(alb) = router else {
        return None;
    };
    let previous = previous?;
    Some(Comparison {
        live: previous.to_string(),
        live_target_group: alb.target_group(previous)?.to_string(),
        load_balancer: compare::load_balancer_dimension(alb.route().arn())?,
    })
}

/// Removes the app's test rules after a cutover that ended (completed or turned back); a
/// failure is a warning, `resume` removes them too.
pub async fn close_test_routes(
    ctx: &AwsContext,
    spec: &AppSpec,
    router: &AnyRouter,
    settings: &OutputSettings,
) {
    let Some((test_traffic, alb)) = test_traffic(spec, router) else {
        return;
    };
    match test_route::close_all(
        &Elbv2::new(ctx),
        test_traffic,
        alb.route(),
        &app_groups(spec, alb),
    )
    .await
    {
        Ok(removed) if !removed.is_empty() => {
            crate::output::CutoverPrinter::new(settings)
                .print(&CutoverEvent::TestRouteClosed { rules: removed });
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(
            "could not take the test route of app {} down: {}; `cutover resume {}` does",
            spec.name,
            error_line(&error),
            spec.name
        ),
    }
}

/// Shifts traffic to `candidate` (a release stack of `spec`'s app, known to `app`) from the
/// release the router says is live. `app` is the caller's latest look at the app, just after the
/// candidate's wait; the controller reads the weights and the previous release again before it
/// moves anything, and the candidate at every later look (a router that could not be
/// set up is taken out of `app` into the error). Ctrl-C asks to finish or turn back (turns back
/// when not on a terminal).
pub async fn cut_over(
    ctx: &AwsContext,
    spec: &AppSpec,
    candidate: &str,
    app: &mut AppReleases,
    options: CutoverOptions,
    announcer: &Announcer,
    settings: &OutputSettings,
) -> Result<CutoverOutcome, HandoverError> {
    if app.find(candidate).is_none() {
        return Err(HandoverError::NotARelease {
            stack: candidate.to_string(),
            app: spec.name.clone(),
        });
    }
    app.check_own_route()?;
    let router = match (&app.router, app.router_error.take()) {
        (Some(router), None) => router.clone(),
        (_, source) => {
            return Err(HandoverError::Router {
                app: spec.name.clone(),
                kind: spec.router.kind(),
                source: source.unwrap_or_else(|| RouterError::NotFound {
                    action: "set up the router".into(),
                    missing: "the router".into(),
                }),
            })
        }
    };
    let plan = plan_for(spec, app.stickiness)?;
    let previous = options
        .previous
        .clone()
        .or_else(|| previous_live(app, candidate));
    let plan = if previous.is_none() {
        plan.first_deploy()
    } else {
        plan
    };
    let plan = if options.hold {
        plan.holding_before_traffic()
    } else {
        plan
    };
    let printer = crate::output::CutoverPrinter::new(settings);
    // The candidate's outputs came with the look at the app: the gates need not read them.
    let mut gates =
        build_gates(ctx, spec).knowing(app.releases.iter().map(|release| &release.stack));
    if let Some((test_traffic, alb)) = test_traffic(spec, &router) {
        let group = alb
            .target_group(candidate)
            .ok_or_else(|| HandoverError::NoTargetGroup {
                candidate: candidate.to_string(),
                output: spec_target_group_output(spec),
            })?;
        let elbv2 = Elbv2::new(ctx);
        let groups = app_groups(spec, alb);
        let share = app
            .weights
            .as_ref()
            .map_or(0, |weights| weights.share_of(candidate));
        // Before production traffic the candidate is proven through its own route; a cutover
        // already under way keeps the route it has (a resumed run), and gets none otherwise.
        let opened = if share == 0 {
            let release_id = parse_stack_name(&spec.name, candidate)
                .map_or_else(|_| candidate.to_string(), |id| id.as_str().to_string());
            let opened = test_route::open(
                &elbv2,
                test_traffic,
                alb.route(),
                &groups,
                candidate,
                group,
                &release_id,
            )
            .await;
            let opened = match opened {
                Ok(opened) => opened,
                Err(source) => {
                    // The release exists but will never be routed to by this run: marked failed,
                    // so retention deals with it and nothing resumes it.
                    let reason = format!(
                        "its test route could not be put up: {}",
                        error_line(&source)
                    );
                    if let Err(warning) =
                        mark_failed(ctx, spec, candidate, &reason, marks::Ending::Abandoned).await
                    {
                        tracing::warn!("{warning}");
                    }
                    return Err(HandoverError::TestRoute {
                        candidate: candidate.to_string(),
                        source,
                    });
                }
            };
            printer.print(&CutoverEvent::TestRouteOpened {
                release: candidate.to_string(),
                header: opened.header.clone(),
                value: opened.value.clone(),
                rule: opened.rule_arn.clone(),
                priority: opened.priority,
            });
            Some(opened)
        } else {
            test_route::find(&elbv2, test_traffic, alb.route(), &groups, candidate, group)
                .await
                .map_err(|source| HandoverError::TestRoute {
                    candidate: candidate.to_string(),
                    source,
                })?
        };
        if let Some(opened) = opened {
            gates = gates.with_test_header(&opened.header, &opened.value);
        }
    }
    if let Some(comparison) = comparison_for(spec, &router, previous.as_deref()) {
        gates = gates.comparing_with(comparison);
    }
    let stacks = CloudFormation::new(ctx);
    let watch = JustSeen {
        watch: CloudFormationWatch(&stacks),
        candidate: Mutex::new(app.find(candidate).map(|release| {
            // A release cutover turned back from (its mark) must not be cut over to again.
            let state = match (&release.tags.role, &release.tags.failed_reason) {
                (Some(Role::Failed), reason) => StackState::Failed(format!(
                    "{}, marked failed by cutover{}",
                    release.stack.status,
                    reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )),
                _ => state_of(&release.stack),
            };
            (candidate.to_string(), state)
        })),
    };
    let abort = AbortSignal::new();
    let interrupt = tokio::spawn(watch_for_interrupt(
        abort.clone(),
        settings.stdin_is_terminal,
    ));
    // A turn back is recorded before the traffic moves: a run killed during the move leaves
    // the candidate marked failed, so `resume` turns it back again instead of finishing it.
    let record_turning_back = |candidate: String, reason: String| {
        let ctx = ctx.clone();
        let app = spec.name.clone();
        Box::pin(async move {
            let marked = marks::update(
                &Ssm::new(&ctx),
                &app,
                &candidate,
                marks::failed(&reason, marks::Ending::ShiftedBack),
            )
            .await;
            if let Err(error) = marked {
                tracing::warn!("{}", error_line(&error));
            }
        }) as futures_util::future::BoxFuture<'static, ()>
    };
    let lock_check = options.lock.clone().map(|lock| {
        move || {
            let lock = lock.clone();
            Box::pin(async move { lock.lost_to().await })
                as futures_util::future::BoxFuture<'static, Option<String>>
        }
    });
    let controller = Controller {
        router: &router,
        gates: &gates,
        stacks: &watch,
        retry: RetryPolicy::default(),
        abort,
        before_turning_back: Some(&record_turning_back),
        lock_lost_to: lock_check.as_ref().map(|check| check as &LockCheck),
    };
    let releases = Releases {
        candidate: candidate.to_string(),
        previous,
    };
    let (notes, noted) = tokio::sync::mpsc::unbounded_channel();
    let note_keeper = tokio::spawn(keep_notes(ctx.clone(), spec.name.clone(), noted));
    let outcome = controller
        .drive(&plan, &releases, |event: CutoverEvent| {
            match &event {
                CutoverEvent::WeightsSet { weights, .. } => {
                    announcer.traffic_step(candidate, weights);
                    let at = marks::now_millis();
                    for (release, weight) in weights.iter().filter(|(r, _)| *r != BASELINE) {
                        let _ = notes.send(Note::Step {
                            release: release.to_string(),
                            at: at.clone(),
                            weight,
                        });
                    }
                }
                CutoverEvent::GatesChecked {
                    release,
                    passed,
                    report,
                } => {
                    let _ = notes.send(Note::Gates {
                        release: release.clone(),
                        check: marks::GateCheck {
                            at: marks::now(),
                            passed: *passed,
                            summary: crate::output::secrets::scrub(&report.to_string())
                                .into_owned(),
                        },
                    });
                }
                _ => {}
            }
            printer.print(&event)
        })
        .await;
    interrupt.abort();
    drop(notes);
    let _ = note_keeper.await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            announcer.deploy_failed(candidate, &error_line(&error));
            return Err(error.into());
        }
    };
    match &outcome {
        CutoverOutcome::Completed { weights } => announcer.deploy_succeeded(candidate, weights),
        CutoverOutcome::ShiftedBack { weights, reason } => {
            let to = weights.holder_of_all().unwrap_or("the previous release");
            announcer.shifted_back(candidate, to, weights, &reason.to_string());
        }
        CutoverOutcome::Abandoned { reason } => announcer.deploy_failed(
            candidate,
            &format!("abandoned before taking traffic: {reason}"),
        ),
        CutoverOutcome::Held { .. } => {}
    }
    // Over (completed or turned back): the test route goes. Held: it stays for promote/abort.
    // An error leaves it for `resume`, which finishes the cutover and then takes it down.
    if !matches!(outcome, CutoverOutcome::Held { .. }) {
        close_test_routes(ctx, spec, &router, settings).await;
    }
    Ok(outcome)
}

fn spec_target_group_output(spec: &AppSpec) -> String {
    match &spec.router {
        RouterSpec::Alb {
            target_group_output,
            ..
        } => target_group_output.clone(),
        _ => String::new(),
    }
}

/// The release traffic comes from: the baseline while it has traffic (it is older than every
/// release), else the oldest release with traffic other than the candidate (during a resumed
/// cutover the candidate itself may hold some; it is never its own previous release).
fn previous_live(app: &AppReleases, candidate: &str) -> Option<String> {
    if app.baseline_has_traffic() {
        return Some(BASELINE.to_string());
    }
    app.releases
        .iter()
        .filter(|release| release.name() != candidate)
        .find(|release| release.weight.unwrap_or(0) > 0)
        .map(|release| release.name().to_string())
}

/// The app and its releases' target groups, as the test route identifies its rules.
pub(super) fn app_groups<'a>(spec: &'a AppSpec, alb: &'a AlbRouter) -> test_route::AppGroups<'a> {
    test_route::AppGroups {
        app: &spec.name,
        groups: alb.target_groups(),
    }
}

/// What follows a cutover: a candidate that turned back is marked failed (so nothing resumes it
/// and retention keeps it for inspection), then retention runs either way. Neither changes the
/// cutover's result: problems here are reported as warnings and in the retirement report.
/// `app` is the look at the app the cutover started from: after a completed cutover it stands
/// with the weights the controller left; otherwise the app is observed again (its tags changed).
pub async fn after_cutover(
    ctx: &AwsContext,
    spec: &AppSpec,
    candidate: &str,
    outcome: &CutoverOutcome,
    app: &AppReleases,
    announcer: &Announcer,
    settings: &OutputSettings,
) {
    // A held candidate waits for `promote` or `abort`: nothing changed in production, and
    // retention must not take it (it has no traffic yet).
    if matches!(outcome, CutoverOutcome::Held { .. }) {
        return;
    }
    let trouble = match outcome {
        CutoverOutcome::Held { .. } | CutoverOutcome::Completed { .. } => None,
        CutoverOutcome::ShiftedBack { reason, .. } => {
            Some((reason.to_string(), marks::Ending::ShiftedBack))
        }
        CutoverOutcome::Abandoned { reason } => {
            let ending = if *reason == Trouble::AbortRequested {
                marks::Ending::Aborted
            } else {
                marks::Ending::Abandoned
            };
            Some((reason.to_string(), ending))
        }
    };
    if let Some((reason, ending)) = trouble {
        if let Err(warning) = mark_failed(ctx, spec, candidate, &reason, ending).await {
            tracing::warn!("{warning}");
        }
    }
    if matches!(outcome, CutoverOutcome::Completed { .. }) {
        mark_took_traffic(
            ctx,
            spec,
            candidate,
            previous_live(app, candidate).as_deref(),
        )
        .await;
    }
    let mut display = super::progress::for_settings(settings);
    let options = RetireOptions::default();
    let retention = match outcome {
        CutoverOutcome::Completed { weights } => {
            let app = app.with_weights(weights.clone());
            apply_retention_to(ctx, spec, app, &options, display.as_mut()).await
        }
        _ => apply_retention(ctx, spec, &options, display.as_mut()).await,
    };
    match retention {
        Ok(report) => {
            announce_retirement(announcer, &report);
            for warning in &report.warnings {
                tracing::warn!("{warning}");
            }
            if !report.outcomes.is_empty() && settings.verbosity >= 0 {
                settings.progress(&report.render_text());
            }
            if !report.all_retired() {
                tracing::warn!(
                    "retention could not retire every release; see `cutover status {}`",
                    spec.name
                );
            }
        }
        Err(error) => tracing::warn!("retention was not applied: {}", error_line(&error)),
    }
}

/// One notification per release retention deleted, or could not delete.
pub fn announce_retirement(
    announcer: &Announcer,
    report: &crate::release::retire::RetirementReport,
) {
    use crate::release::retire::RetireOutcome;
    for outcome in &report.outcomes {
        match outcome {
            RetireOutcome::Deleted {
                stack, retained, ..
            } => announcer.release_retired(stack, retained),
            // A dry run changed nothing, so there is nothing to announce.
            RetireOutcome::Released { .. }
            | RetireOutcome::WouldRetire { .. }
            | RetireOutcome::WouldKeep { .. }
            | RetireOutcome::WouldRelease { .. } => {}
            other @ (RetireOutcome::Refused { stack, .. }
            | RetireOutcome::DeleteFailed { stack, .. }
            | RetireOutcome::Error { stack, .. }) => {
                announcer.retirement_failed(stack, &other.describe())
            }
        }
    }
}

/// Tags the candidate failed, with the reason and the time. Some endpoints (moto) refuse a
/// tag-only stack update; the release then shows in `status` as holding no traffic.
async fn mark_failed(
    ctx: &AwsContext,
    spec: &AppSpec,
    candidate: &str,
    reason: &str,
    ending: marks::Ending,
) -> Result<(), String> {
    marks::update(
        &Ssm::new(ctx),
        &spec.name,
        candidate,
        marks::failed(reason, ending),
    )
    .await
    .map_err(|error| format!("could not mark {candidate} failed: {}", error_line(&error)))
}

/// After a completed cutover: the candidate took all the traffic now, and the release that had
/// it lost it (recorded for `history`).
async fn mark_took_traffic(
    ctx: &AwsContext,
    spec: &AppSpec,
    candidate: &str,
    previous: Option<&str>,
) {
    let store = Ssm::new(ctx);
    let now = marks::now();
    let took = marks::update(&store, &spec.name, candidate, |mark| {
        mark.took_traffic_at = Some(now.clone());
        mark.lost_traffic_at = None;
        mark.rolling_back_to = None;
    })
    .await;
    if let Err(error) = took {
        tracing::warn!("{}", error_line(&error));
    }
    if let Some(previous) = previous.filter(|previous| *previous != BASELINE) {
        // It lost the traffic to a completed cutover: a rollback's intent left on it by a run
        // that died before moving anything no longer says anything.
        let lost = marks::update(&store, &spec.name, previous, |mark| {
            mark.lost_traffic_at = Some(now.clone());
            mark.rolling_back_to = None;
        })
        .await;
        if let Err(error) = lost {
            tracing::warn!("{}", error_line(&error));
        }
    }
}

/// What a cutover records in the marks as it goes, for `history` and the dashboard.
enum Note {
    Step {
        release: String,
        at: String,
        weight: u8,
    },
    Gates {
        release: String,
        check: marks::GateCheck,
    },
}

/// Writes the notes into the marks one at a time, in order (each is a read, change, write of
/// one SSM parameter, so two at once could lose one). A note that cannot be written is a
/// warning: the cutover does not depend on it.
async fn keep_notes(
    ctx: AwsContext,
    app: String,
    mut noted: tokio::sync::mpsc::UnboundedReceiver<Note>,
) {
    let store = Ssm::new(&ctx);
    while let Some(note) = noted.recv().await {
        let written = match note {
            Note::Step {
                release,
                at,
                weight,
            } => marks::update(&store, &app, &release, |mark| mark.push_step(at, weight)).await,
            Note::Gates { release, check } => {
                marks::update(&store, &app, &release, |mark| mark.gates = Some(check)).await
            }
        };
        if let Err(error) = written {
            tracing::warn!("{}", error_line(&error));
        }
    }
}

/// First Ctrl-C (or SIGTERM): on a terminal ask whether to turn back, elsewhere turn back at
/// once. A second one always turns back.
async fn watch_for_interrupt(abort: AbortSignal, interactive: bool) {
    crate::interrupt::requested().await;
    if !interactive {
        eprintln!("interrupted: shifting traffic back to the previous release");
        abort.request();
        return;
    }
    eprintln!(
        "\ninterrupted: abort the cutover and shift traffic back? [y/N] (Ctrl-C again aborts)"
    );
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    });
    tokio::select! {
        answer = answer => {
            if let Ok(Ok(line)) = answer {
                if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
                    abort.request();
                } else {
                    eprintln!("continuing the cutover");
                }
            }
        }
        _ = crate::interrupt::requested() => abort.request(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Every stack in progress, counting the looks.
    #[derive(Default)]
    struct CountingWatch(AtomicU32);

    impl StackWatch for CountingWatch {
        async fn stack_state(&self, _: &str) -> Result<StackState, WatchError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(StackState::InProgress)
        }
    }

    #[tokio::test]
    async fn the_candidate_just_seen_is_read_again_only_after_the_first_look() {
        let watch = JustSeen {
            watch: CountingWatch::default(),
            candidate: Mutex::new(Some(("web-r2".into(), StackState::Healthy))),
        };
        assert_eq!(
            watch.stack_state("web-r1").await.unwrap(),
            StackState::InProgress
        );
        assert_eq!(
            watch.stack_state("web-r2").await.unwrap(),
            StackState::Healthy
        );
        assert_eq!(watch.watch.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            watch.stack_state("web-r2").await.unwrap(),
            StackState::InProgress
        );
        assert_eq!(watch.watch.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn stack_states_follow_cloudformation_statuses() {
        assert_eq!(stack_state("CREATE_COMPLETE"), StackState::Healthy);
        assert_eq!(stack_state("UPDATE_COMPLETE"), StackState::Healthy);
        assert_eq!(stack_state("CREATE_IN_PROGRESS"), StackState::InProgress);
        assert_eq!(stack_state("DELETE_IN_PROGRESS"), StackState::Gone);
        assert_eq!(
            stack_state("ROLLBACK_COMPLETE"),
            StackState::Failed("ROLLBACK_COMPLETE".into())
        );
        assert_eq!(
            stack_state("UPDATE_ROLLBACK_COMPLETE"),
            StackState::Failed("UPDATE_ROLLBACK_COMPLETE".into())
        );
        assert_eq!(
            stack_state("DELETE_FAILED"),
            StackState::Failed("DELETE_FAILED".into())
        );
    }
}
