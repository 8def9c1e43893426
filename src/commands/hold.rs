//! `cutover promote APP` and `cutover abort APP`: what follows a `deploy --hold`. Promote runs
//! the cutover of the held release from its test route (gates, then the strategy's steps);
//! abort takes its test route down and marks it failed, production untouched. Both under the
//! app lock, both from the hold record in SSM.

use crate::aws::ssm::Ssm;
use crate::aws::{self, AwsContext, AwsError, ConnectOptions};
use crate::cli::{GlobalArgs, HoldArgs};
use crate::cutover::{CutoverOutcome, Trouble};
use crate::deploy::handover::{self, CutoverOptions, HandoverError};
use crate::error::{Diagnostic, Exit};
use crate::notify::Announcer;
use crate::output::prompt::{confirm, Answer};
use crate::output::OutputSettings;
use crate::release::live::{observe_app, AppReleases, LiveError};
use crate::release::lock::{AppLocks, Holder, LockError, LockOwnership};
use crate::route::hold::{self, Hold, HoldError};
use crate::spec::{AppSpec, SpecError};

#[derive(Debug, thiserror::Error)]
pub enum HoldCommandError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Hold(#[from] HoldError),
    #[error(transparent)]
    Handover(#[from] HandoverError),
    #[error("no release of app {app} is held")]
    NothingHeld { app: String },
    #[error("the held release {candidate} of app {app} is gone or not healthy ({state})")]
    HeldReleaseUnusable {
        app: String,
        candidate: String,
        state: String,
    },
    #[error("{candidate} of app {app} has {share}% of the production traffic: it is no longer only held")]
    HeldHasTraffic {
        app: String,
        candidate: String,
        share: u8,
    },
    #[error("not changing app {app} without confirmation: not on a terminal")]
    NeedsConfirmation { app: String },
    #[error("could not read the answer to the prompt")]
    Prompt(#[source] std::io::Error),
}

impl Diagnostic for HoldCommandError {
    fn exit(&self) -> Exit {
        match self {
            HoldCommandError::Spec(error) => error.exit(),
            HoldCommandError::Aws(error) => error.exit(),
            HoldCommandError::Lock(error) => error.exit(),
            HoldCommandError::Live(error) => error.exit(),
            HoldCommandError::Hold(error) => error.exit(),
            HoldCommandError::Handover(error) => error.exit(),
            _ => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            HoldCommandError::Spec(error) => error.hint(),
            HoldCommandError::Aws(error) => error.hint(),
            HoldCommandError::Lock(error) => error.hint(),
            HoldCommandError::Live(error) => error.hint(),
            HoldCommandError::Hold(error) => error.hint(),
            HoldCommandError::Handover(error) => error.hint(),
            HoldCommandError::NothingHeld { app } => Some(format!(
                "`cutover deploy {app} --hold` holds a release on its test route; `cutover status {app}` shows the releases"
            )),
            HoldCommandError::HeldReleaseUnusable { app, .. } => Some(format!(
                "`cutover abort {app}` clears the hold"
            )),
            HoldCommandError::HeldHasTraffic { app, .. } => Some(format!(
                "`cutover rollback {app}` moves the traffic back; `cutover resume {app}` finishes a cutover under way"
            )),
            HoldCommandError::NeedsConfirmation { .. } => Some("pass --yes".into()),
            HoldCommandError::Prompt(_) => None,
        }
    }
}

/// The app with a hold, after the confirmation.
struct Held {
    spec: AppSpec,
    context: AwsContext,
}

async fn prepare(
    args: &HoldArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
    verb: &str,
) -> Result<Option<Held>, HoldCommandError> {
    let spec = crate::spec::load_app(&global.stacks_dir, &args.app)?;
    let context = aws::connect(&ConnectOptions::for_app(global, &spec)).await?;
    let Some(hold) = hold::read(&Ssm::new(&context), &spec.name).await? else {
        return Err(HoldCommandError::NothingHeld { app: spec.name });
    };
    if args.change.dry_run {
        println!(
            "would {verb} {} of app {} (held by {}; test route `{}: {}`)",
            hold.candidate, spec.name, hold.held_by, hold.header, hold.value
        );
        return Ok(None);
    }
    if !args.change.yes {
        let question = format!(
            "{} {} of app {}?",
            capitalized(verb),
            hold.candidate,
            spec.name
        );
        match confirm(&question, settings).map_err(HoldCommandError::Prompt)? {
            Answer::Yes => {}
            Answer::No => return Ok(None),
            Answer::NoTerminal => {
                return Err(HoldCommandError::NeedsConfirmation { app: spec.name })
            }
        }
    }
    Ok(Some(Held { spec, context }))
}

fn capitalized(verb: &str) -> String {
    let mut chars = verb.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Observed under the lock; the hold read again (another run may have promoted or aborted).
async fn observe_held(held: &Held) -> Result<(AppReleases, Hold), HoldCommandError> {
    let hold = hold::read(&Ssm::new(&held.context), &held.spec.name)
        .await?
        .ok_or_else(|| HoldCommandError::NothingHeld {
            app: held.spec.name.clone(),
        })?;
    let app = observe_app(&held.context, &held.spec).await?;
    Ok((app, hold))
}

pub async fn promote(
    args: HoldArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, HoldCommandError> {
    let Some(held) = prepare(&args, global, settings, "promote").await? else {
        return Ok(Exit::Success);
    };
    let locks = AppLocks::new(Ssm::new(&held.context));
    let lock = locks
        .acquire(
            &held.spec.name,
            &Holder::current(format!("promote {}", held.spec.name)),
        )
        .await?;
    let announcer = Announcer::for_app(&held.context, &held.spec, Vec::new()).await;
    let result = promote_under_lock(&held, &lock.ownership(), &announcer, settings).await;
    lock.release_or_warn().await;
    announcer.finish().await;
    let outcome = result?;
    if settings.json() {
        println!(
            "{}",
            serde_json::json!({ "result": "cutover", "cutover": outcome })
        );
    } else {
        println!("{outcome}");
    }
    Ok(outcome.exit())
}

async fn promote_under_lock(
    held: &Held,
    lock: &LockOwnership,
    announcer: &Announcer,
    settings: &OutputSettings,
) -> Result<CutoverOutcome, HoldCommandError> {
    let (mut app, hold) = observe_held(held).await?;
    let candidate = hold.candidate.clone();
    let healthy = app
        .find(&candidate)
        .map(|release| release.stack.status.clone());
    if !matches!(
        healthy.as_deref(),
        Some("CREATE_COMPLETE" | "UPDATE_COMPLETE")
    ) {
        return Err(HoldCommandError::HeldReleaseUnusable {
            app: held.spec.name.clone(),
            candidate,
            state: healthy.unwrap_or_else(|| "gone".into()),
        });
    }
    // The hold ends here: from now on a run that dies leaves an ordinary cutover under way,
    // which `resume` finishes.
    hold::clear(&Ssm::new(&held.context), &held.spec.name).await?;
    let outcome = handover::cut_over(
        &held.context,
        &held.spec,
        &candidate,
        &mut app,
        CutoverOptions {
            lock: Some(lock.clone()),
            ..CutoverOptions::default()
        },
        announcer,
        settings,
    )
    .await?;
    handover::after_cutover(
        &held.context,
        &held.spec,
        &candidate,
        &outcome,
        &app,
        announcer,
        settings,
    )
    .await;
    Ok(outcome)
}

pub async fn abort(
    args: HoldArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, HoldCommandError> {
    let Some(held) = prepare(&args, global, settings, "abort").await? else {
        return Ok(Exit::Success);
    };
    let locks = AppLocks::new(Ssm::new(&held.context));
    let lock = locks
        .acquire(
            &held.spec.name,
            &Holder::current(format!("abort {}", held.spec.name)),
        )
        .await?;
    let announcer = Announcer::for_app(&held.context, &held.spec, Vec::new()).await;
    let result = abort_under_lock(&held, &announcer, settings).await;
    lock.release_or_warn().await;
    announcer.finish().await;
    let (candidate, weights) = result?;
    if settings.json() {
        println!(
            "{}",
            serde_json::json!({ "result": "aborted", "release": candidate, "weights": weights })
        );
    } else {
        println!(
            "aborted {candidate}: its test route is down, it is marked failed; production traffic was not moved ({weights})"
        );
    }
    Ok(Exit::Success)
}

async fn abort_under_lock(
    held: &Held,
    announcer: &Announcer,
    settings: &OutputSettings,
) -> Result<(String, String), HoldCommandError> {
    let (app, hold) = observe_held(held).await?;
    let share = app
        .weights
        .as_ref()
        .map_or(0, |weights| weights.share_of(&hold.candidate));
    if share > 0 {
        return Err(HoldCommandError::HeldHasTraffic {
            app: held.spec.name.clone(),
            candidate: hold.candidate.clone(),
            share,
        });
    }
    if let Some(router) = &app.router {
        handover::close_test_routes(&held.context, &held.spec, router, settings).await;
    }
    // The rule recorded with the hold goes too, whatever the spec says now and even when the
    // release's stack (and so its target group) is gone.
    if !hold.rule_arn.is_empty() {
        let removed = crate::aws::listener_rules::ListenerRulesApi::delete_rule(
            &crate::aws::elbv2::Elbv2::new(&held.context),
            &hold.rule_arn,
        )
        .await;
        if let Err(error) = removed {
            tracing::warn!(
                "could not remove the test rule {}: {}",
                hold.rule_arn,
                crate::release::retire::error_line(&error)
            );
        }
    }
    hold::clear(&Ssm::new(&held.context), &held.spec.name).await?;
    announcer.release_aborted(&hold.candidate);
    let outcome = CutoverOutcome::Abandoned {
        reason: Trouble::AbortRequested,
    };
    handover::after_cutover(
        &held.context,
        &held.spec,
        &hold.candidate,
        &outcome,
        &app,
        announcer,
        settings,
    )
    .await;
    let weights = app
        .weights
        .as_ref()
        .map_or_else(|| "no traffic".to_string(), ToString::to_string);
    Ok((hold.candidate, weights))
}
