//! `cutover rollback APP [--to STACK|RELEASE] [--force] [--rebuild]`: traffic back to a retained
//! release. The target is resolved and checked before the lock is taken and before anything
//! changes; it is resolved again under the lock, since the app may have moved meanwhile.

use std::io::Write;
use std::time::SystemTime;

use serde_json::{json, Value};

use crate::aws::cloudformation::CloudFormation;
use crate::aws::stack_lifecycle::StackLifecycle;
use crate::aws::{self, AwsContext, ConnectOptions};
use crate::cli::{GlobalArgs, RollbackArgs};
use crate::deploy::progress;
use crate::error::Exit;
use crate::output::prompt::{self, Answer};
use crate::output::OutputSettings;
use crate::release::live::{observe_app, AppReleases};
use crate::release::lock::{AppLocks, Holder, LockOwnership};
use crate::release::marks;
use crate::release::Role;
use crate::rollback::{
    mark_rolled_away, plan_rebuild, rebuild_release, resolve_target, shift_traffic, RebuildPlan,
    RollbackError, Target,
};
use crate::router::{AnyRouter, Weights, BASELINE};
use crate::spec::AppSpec;

/// The app as observed, the checked target, and what would happen.
struct Resolved {
    app: AppReleases,
    router: AnyRouter,
    weights: Weights,
    target: Target,
    /// The release the traffic comes back from: the one with the most traffic besides the target.
    previous: Option<String>,
    rebuild: Option<RebuildPlan>,
}

pub async fn run(
    args: RollbackArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, RollbackError> {
    let spec = crate::spec::load_app(&global.stacks_dir, &args.app)?;
    let context = aws::connect(&ConnectOptions::for_app(global, &spec))
        .await
        .map_err(RollbackError::Connect)?;
    // One clock reading for both resolutions, so a rebuild creates the stack the plan showed.
    let now = SystemTime::now();
    let resolved = resolve(&context, &spec, &args, now).await?;
    // The target must have the outputs the router routes by (a misspelt `target_group_output`
    // would otherwise be found half way through the cutover).
    if let Target::Existing(release) = &resolved.target {
        let missing = crate::deploy::preflight::release_outputs(&spec)
            .into_iter()
            .find(|(_, output)| release.stack.output(output).is_none());
        if let Some((key, output)) = missing {
            return Err(RollbackError::TargetMissingOutput {
                target: release.name().to_string(),
                output: output.to_string(),
                key,
                declared: release
                    .stack
                    .outputs
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    // A held release has not been promoted: moving traffic to it would skip its gates.
    let held = crate::route::hold::read(&aws::ssm::Ssm::new(&context), &spec.name)
        .await
        .map_err(|source| RollbackError::Hold {
            app: spec.name.clone(),
            source,
        })?;
    if held.is_some_and(|held| held.candidate == resolved.target.name()) {
        return Err(RollbackError::TargetHeld {
            app: spec.name.clone(),
            target: resolved.target.name().to_string(),
        });
    }
    if resolved.rebuild.is_none() && resolved.weights.share_of(resolved.target.name()) == 100 {
        // A rollback to this target that died after moving the traffic left the releases it
        // moved away from with only its intent: mark them now, as it would have.
        let target = resolved.target.name().to_string();
        let unmarked: Vec<_> = resolved
            .app
            .releases
            .iter()
            .filter(|release| {
                release.tags.rolling_back_to.as_deref() == Some(target.as_str())
                    && resolved.weights.share_of(release.name()) == 0
            })
            .map(|release| &release.stack)
            .collect();
        if !unmarked.is_empty() && !args.change.dry_run {
            let locks = AppLocks::new(aws::ssm::Ssm::new(&context));
            let lock = locks
                .acquire(
                    &spec.name,
                    &Holder::current(format!("rollback {} --to {target}", spec.name)),
                )
                .await?;
            let warnings =
                mark_rolled_away(&aws::ssm::Ssm::new(&context), &spec, &unmarked, &target).await;
            lock.release_or_warn().await;
            for warning in &warnings {
                eprintln!(
                    "{} {warning}",
                    settings.stderr_palette().warning("warning:")
                );
            }
            let names: Vec<&str> = unmarked.iter().map(|stack| stack.name.as_str()).collect();
            eprintln!(
                "Marked {} as rolled away from (a rollback to {target} stopped before it could).",
                names.join(", ")
            );
        }
        let text = format!(
            "{} already carries all the traffic of app {}; nothing to do.\n",
            resolved.target.name(),
            spec.name
        );
        print(
            settings,
            &json!({ "app": spec.name, "target": resolved.target.name(), "changed": false, "weights": resolved.weights }),
            &text,
        )?;
        return Ok(Exit::Success);
    }
    if args.change.dry_run {
        print(
            settings,
            &json!({ "dry_run": true, "plan": plan_json(&resolved, &args) }),
            &plan_text(&resolved, &args),
        )?;
        return Ok(Exit::Success);
    }
    if !settings.json() {
        eprint!("{}", plan_text(&resolved, &args));
    }
    if !args.change.yes && !confirm(&spec.name, resolved.target.name(), settings)? {
        eprintln!("Nothing changed.");
        return Ok(Exit::Success);
    }

    let locks = AppLocks::new(aws::ssm::Ssm::new(&context));
    let mut command = format!("rollback {}", spec.name);
    if let Some(to) = &args.to {
        command.push_str(&format!(" --to {to}"));
    }
    let lock = locks.acquire(&spec.name, &Holder::current(command)).await?;
    let result = roll_back(&context, &spec, &args, now, settings, &lock.ownership()).await;
    lock.release_or_warn().await;
    result
}

/// Under the lock: resolve again, rebuild if asked, move the traffic, mark what was left.
async fn roll_back(
    context: &AwsContext,
    spec: &AppSpec,
    args: &RollbackArgs,
    now: SystemTime,
    settings: &OutputSettings,
    lock: &LockOwnership,
) -> Result<Exit, RollbackError> {
    // Before anything is printed: the app's NoEcho values and secret sources, and its webhook
    // token (read when the announcer is made), so a gate that prints them is masked.
    crate::release::aws_sources::register_app_secrets(context, spec).await;
    let announcer = crate::notify::Announcer::for_app(context, spec, Vec::new()).await;
    let mut resolved = resolve(context, spec, args, now).await?;
    let mut rebuilt = None;
    let rebuilt_from = resolved.rebuild.as_ref().map(|plan| plan.from.name.clone());
    if let Some(rebuild) = &resolved.rebuild {
        let mut display = progress::for_settings(settings);
        let healthy = rebuild_release(context, rebuild, display.as_mut()).await?;
        eprintln!(
            "Rebuilt {} as {} ({}).",
            rebuild.from.name, healthy.stack.name, healthy.stack.status
        );
        rebuilt = Some(healthy.stack.name.clone());
        // A rebuild can take as long as a deploy: the lock may have been broken meanwhile.
        if let Some(holder) = lock.lost_to().await {
            return Err(RollbackError::LockLost {
                app: spec.name.clone(),
                holder,
                rebuilt: Some(healthy.stack.name.clone()),
            });
        }
        // The router must know the new stack's outputs before it can route to it.
        let app = observe_app(context, spec).await?;
        let target = app
            .find(&healthy.stack.name)
            .cloned()
            .map(Target::Existing)
            .ok_or_else(|| RollbackError::NoSuchStack {
                target: healthy.stack.name.clone(),
                app: spec.name.clone(),
                tried: vec![healthy.stack.name.clone()],
            })?;
        resolved = with_router(app, target, None)?;
    }
    let target = resolved.target.name().to_string();
    if let (Target::Baseline, Some(baseline), false) =
        (&resolved.target, &resolved.app.baseline, args.force)
    {
        crate::rollback::baseline::check_ready(context, &baseline.record.target).await?;
    }
    // The intent first: a rollback killed after the move still leaves these known as rolled
    // back from (never resumed as an unfinished cutover; the next rollback marks them).
    let leaving: Vec<String> = resolved
        .weights
        .iter()
        .filter(|(stack, weight)| *weight > 0 && *stack != target && *stack != BASELINE)
        .map(|(stack, _)| stack.to_string())
        .collect();
    let ssm = crate::aws::ssm::Ssm::new(context);
    for stack in &leaving {
        let intent = marks::update(&ssm, &spec.name, stack, |mark| {
            mark.rolling_back_to = Some(target.clone())
        })
        .await;
        if let Err(error) = intent {
            tracing::warn!("{}", crate::release::retire::error_line(&error));
        }
    }
    let shifted = shift_traffic(
        context,
        spec,
        &resolved.router,
        &resolved.weights,
        &target,
        resolved.previous.as_deref(),
        args.force || resolved.target == Target::Baseline,
        lock,
        settings,
    )
    .await;
    let shifted = match shifted {
        Ok(shifted) => shifted,
        Err(error) => {
            // Refused or failed: a release that still has its traffic loses the intent, or it
            // would later count as rolled back from. One the traffic left keeps it (the next
            // rollback marks it); when the app cannot be read, every intent stays.
            if let Ok(now) = observe_app(context, spec).await {
                for stack in &leaving {
                    let kept = now
                        .find(stack)
                        .and_then(|release| release.weight)
                        .is_some_and(|weight| weight > 0);
                    if kept {
                        let _ = marks::update(&ssm, &spec.name, stack, |mark| {
                            mark.rolling_back_to = None
                        })
                        .await;
                    }
                }
            }
            return Err(error);
        }
    };
    let completed = shifted.completed(&target);
    if completed {
        announcer.rollback_done(&target, &shifted.after);
    } else {
        let why = match &shifted.outcome {
            Some(outcome) => outcome.to_string(),
            None => format!("{target} does not hold all traffic: {}", shifted.after),
        };
        announcer.rollback_failed(&target, &shifted.after, &why);
    }
    let mut warnings = Vec::new();
    let mut marked = Vec::new();
    if !completed {
        // Turned back: the releases keep their traffic, and their intent goes.
        for stack in &leaving {
            let cleared =
                marks::update(&ssm, &spec.name, stack, |mark| mark.rolling_back_to = None).await;
            if let Err(error) = cleared {
                warnings.push(crate::release::retire::error_line(&error));
            }
        }
    }
    if completed {
        let rolled_away: Vec<_> = resolved
            .app
            .releases
            .iter()
            .filter(|release| {
                release.name() != target
                    && shifted.before.get(release.name()) > 0
                    && shifted.after.get(release.name()) == 0
            })
            .map(|release| &release.stack)
            .collect();
        warnings = mark_rolled_away(
            &crate::aws::ssm::Ssm::new(context),
            spec,
            &rolled_away,
            &target,
        )
        .await;
        marked = rolled_away
            .iter()
            .map(|stack| stack.name.clone())
            .filter(|name| {
                !warnings
                    .iter()
                    .any(|warning| warning.contains(name.as_str()))
            })
            .collect();
    }
    for warning in &warnings {
        eprintln!(
            "{} {warning}",
            settings.stderr_palette().warning("warning:")
        );
    }
    announcer.finish().await;
    let value = json!({
        "app": spec.name,
        "target": target,
        "rebuilt": rebuilt,
        "rebuilt_from": rebuilt_from,
        "forced": shifted.forced,
        "completed": completed,
        "outcome": shifted.outcome,
        "weights_before": shifted.before,
        "weights_after": shifted.after,
        "marked_rolled_away": marked,
        "warnings": warnings,
    });
    let text = if completed {
        let mut text = format!(
            "Rolled app {} back to {target}: traffic is now {}.\n",
            spec.name, shifted.after
        );
        for name in &marked {
            text.push_str(&format!(
                "Marked {name} as rolled away from (kept for inspection until retention retires it).\n"
            ));
        }
        text
    } else {
        let why = shifted
            .outcome
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "the router does not show the move".into());
        format!(
            "Rollback of app {} to {target} did not complete ({why}); traffic is {}.\n",
            spec.name, shifted.after
        )
    };
    print(settings, &value, &text)?;
    Ok(if completed {
        Exit::Success
    } else {
        Exit::Changes
    })
}

/// Observes the app and checks the target; only reads.
async fn resolve(
    context: &AwsContext,
    spec: &AppSpec,
    args: &RollbackArgs,
    now: SystemTime,
) -> Result<Resolved, RollbackError> {
    let mut app = observe_app(context, spec).await?;
    // Without --to the target is chosen from the traffic: a router that cannot be read is the
    // reason, not "no retained release".
    if args.to.is_none() && (app.router.is_none() || app.weights.is_none()) {
        return Err(RollbackError::RouterUnavailable {
            app: app.app.clone(),
            source: app.router_error.take(),
        });
    }
    let stacks = CloudFormation::new(context);
    let lifecycle = StackLifecycle::new(context);
    let target = resolve_target(&stacks, &lifecycle, &app, args.to.as_deref()).await?;
    let rebuild = match &target {
        Target::Retired(retired) if !args.rebuild => {
            return Err(RollbackError::Retired {
                stack: retired.name.clone(),
                app: spec.name.clone(),
                deleted: retired.deleted,
            })
        }
        Target::Retired(retired) => Some(plan_rebuild(context, spec, retired, now).await?),
        Target::Baseline => None,
        Target::Existing(existing) => {
            let reason = || existing.note().unwrap_or("no reason recorded").to_string();
            match existing.role {
                Role::Failed if !args.force => {
                    return Err(RollbackError::MarkedFailed {
                        stack: existing.name().to_string(),
                        reason: reason(),
                    })
                }
                Role::Retiring => {
                    return Err(RollbackError::BeingRetired {
                        stack: existing.name().to_string(),
                        reason: reason(),
                    })
                }
                _ => {}
            }
            if args.rebuild {
                eprintln!(
                    "note: {} still exists; --rebuild only applies to a retired release, so nothing is rebuilt",
                    existing.name()
                );
            }
            None
        }
    };
    with_router(app, target, rebuild)
}

fn with_router(
    mut app: AppReleases,
    target: Target,
    rebuild: Option<RebuildPlan>,
) -> Result<Resolved, RollbackError> {
    // Another app's release in the route: this app does not move that traffic.
    app.check_own_route()?;
    let (Some(router), Some(weights)) = (app.router.take(), app.weights.clone()) else {
        return Err(RollbackError::RouterUnavailable {
            app: app.app.clone(),
            source: app.router_error.take(),
        });
    };
    let previous = weights
        .with_traffic()
        .filter(|(stack, _)| *stack != target.name())
        .max_by_key(|(_, weight)| *weight)
        .map(|(stack, _)| stack.to_string());
    Ok(Resolved {
        app,
        router,
        weights,
        target,
        previous,
        rebuild,
    })
}

fn plan_text(resolved: &Resolved, args: &RollbackArgs) -> String {
    let app = &resolved.app.app;
    let mut out = format!("Rollback of app {app}\n");
    let mut row = |label: &str, value: String| out.push_str(&format!("  {label:<18}{value}\n"));
    row("traffic now", resolved.weights.to_string());
    match &resolved.rebuild {
        Some(rebuild) => {
            row(
                "target",
                format!(
                    "{} (retired): rebuilt as new release {}",
                    rebuild.from.name, rebuild.plan.candidate.stack_name
                ),
            );
            row(
                "parameters",
                rebuild
                    .plan
                    .shown_parameters()
                    .iter()
                    .map(|(name, value)| format!("{name} = {value}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            if !rebuild.re_resolved.is_empty() {
                row(
                    "NoEcho",
                    format!(
                        "{} masked by AWS, resolved again from the spec",
                        rebuild.re_resolved.join(", ")
                    ),
                );
            }
        }
        None => row("target", resolved.target.name().to_string()),
    }
    if let Some(previous) = &resolved.previous {
        row("rolled away from", previous.clone());
    }
    row(
        "how",
        if resolved.target == Target::Baseline && args.force {
            "all traffic at once, without looking at the baseline (--force)".into()
        } else if resolved.target == Target::Baseline {
            "all traffic at once, after checking that the baseline can take it (a healthy target, a running instance); it is not a release, so the release gates are not checked".into()
        } else if args.force {
            "all traffic at once, gates skipped (--force)".into()
        } else {
            "all traffic at once behind the app's gates; a failing gate leaves traffic where it is"
                .into()
        },
    );
    out
}

fn plan_json(resolved: &Resolved, args: &RollbackArgs) -> Value {
    json!({
        "app": resolved.app.app,
        "target": resolved.target.name(),
        "weights": resolved.weights,
        "previous": resolved.previous,
        "force": args.force,
        "rebuild": resolved.rebuild.as_ref().map(|rebuild| json!({
            "from": rebuild.from.name,
            "stack": rebuild.plan.candidate.stack_name,
            "parameters": rebuild.plan.shown_parameters().into_iter().map(|(name, value)| (name, Value::String(value))).collect::<serde_json::Map<_, _>>(),
            "re_resolved": rebuild.re_resolved,
        })),
    })
}

/// With `--output json` stdout is JSON lines: the controller's events, then this result.
fn print(settings: &OutputSettings, value: &Value, text: &str) -> Result<(), RollbackError> {
    use crate::output::secrets::scrub;
    let mut stdout = std::io::stdout().lock();
    let result = if settings.json() {
        writeln!(stdout, "{}", scrub(&value.to_string()))
    } else {
        stdout.write_all(scrub(text).as_bytes())
    };
    result
        .and_then(|()| stdout.flush())
        .map_err(RollbackError::Write)
}

/// Asks on the terminal; refuses without one (a pipeline must say `--yes`).
fn confirm(app: &str, target: &str, settings: &OutputSettings) -> Result<bool, RollbackError> {
    let question = format!("Roll app {app} back to {target}?");
    match prompt::confirm(&question, settings).map_err(RollbackError::Prompt)? {
        Answer::NoTerminal => Err(RollbackError::NeedsConfirmation {
            app: app.to_string(),
        }),
        answer => Ok(answer == Answer::Yes),
    }
}
