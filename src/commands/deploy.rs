//! `cutover deploy APP`: check the inputs, show the plan, create the release stack and wait for
//! it to be healthy. Every check that needs no AWS call runs before the first one.

use std::io::Write;
use std::time::SystemTime;

use serde_json::{json, Value};

use crate::aws::cloudformation::{CloudFormation, StackFacts};
use crate::aws::s3::S3;
use crate::aws::{self, AwsContext, ConnectOptions};
use crate::check::{self, Finding, Report, Severity};
use crate::cli::{DeployArgs, GlobalArgs};
use crate::cutover::CutoverOutcome;
use crate::deploy::plan::{self, CandidateOptions, Plan};
use crate::deploy::preflight;
use crate::deploy::render::render_plan;
use crate::deploy::{self, handover, progress, upload, Cleanup, DeployError, Healthy};
use crate::error::Exit;
use crate::notify::Announcer;
use crate::output::journal::Journal;
use crate::output::prompt::{self, Answer};
use crate::output::OutputSettings;
use crate::release::live::observe_app;
use crate::release::lock::{AppLocks, Holder, LockOwnership};
use crate::route::{self, hold, Baseline, RouteError};
use crate::spec::AppSpec;

pub async fn run(
    args: DeployArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, DeployError> {
    // Bad input fails here, before any AWS call.
    let local = check_locally(&global.stacks_dir, &args, settings)?;
    if let Some(path) = &args.report {
        crate::dashboard::page::check_writable(path).map_err(|source| DeployError::Report {
            path: path.display().to_string(),
            source,
        })?;
    }
    let context = aws::connect(&ConnectOptions::for_app(global, &local.spec)).await?;
    let spec = local.spec.clone();
    let plan = plan_against_aws(&context, local, &args).await?;

    if args.change.dry_run {
        if settings.json() {
            print_json(&json!({ "dry_run": true, "plan": plan.to_json() }))?;
        } else {
            print_text(&plan.render_text(settings.stdout_palette()))?;
        }
        return Ok(Exit::Success);
    }
    if !settings.json() {
        print_text(&plan.render_text(settings.stdout_palette()))?;
    }
    if !args.change.yes && !confirm(&plan.candidate.stack_name, settings)? {
        eprintln!("Nothing created.");
        return Ok(Exit::Success);
    }

    let locks = AppLocks::new(aws::ssm::Ssm::new(&context));
    let holder = Holder::current(format!(
        "deploy {} --release {}{}",
        spec.name,
        plan.candidate.release,
        if args.adopt { " --adopt" } else { "" }
    ));
    let lock = locks.acquire(&spec.name, &holder).await?;
    let journal = Journal::default();
    let settings = match &args.report {
        Some(_) => settings.with_journal(journal.clone()),
        None => settings.clone(),
    };
    let result = deploy_planned(&context, &spec, &plan, &args, &lock.ownership(), &settings).await;
    lock.release_or_warn().await;
    if let Some(path) = &args.report {
        // The deploy is done whatever becomes of the report: the exit code stays the deploy's.
        let stack = &plan.candidate.stack_name;
        match write_report(&context, &spec, stack, &journal, &result, path).await {
            Ok(()) if settings.verbosity >= 0 => {
                eprintln!("deploy report written to {}", path.display())
            }
            Ok(()) => {}
            Err(error) => eprintln!(
                "{} {}",
                settings.stderr_palette().warning("warning:"),
                crate::release::retire::error_line(&error)
            ),
        }
    }
    result.map(|outcome| outcome.exit())
}

/// `--report FILE.html`: the deploy's steps from its journal and the candidate stack's events
/// (read now; a stack already deleted, say after a failed creation, is reported without them).
async fn write_report(
    context: &AwsContext,
    spec: &AppSpec,
    stack: &str,
    journal: &Journal,
    result: &Result<CutoverOutcome, DeployError>,
    path: &std::path::Path,
) -> Result<(), DeployError> {
    use crate::aws::cloudformation::StackApi;
    use crate::dashboard::model::{self, DeployReport, Place};
    let (outcome, succeeded) = match result {
        Ok(outcome) => (
            outcome.to_string(),
            matches!(
                outcome,
                CutoverOutcome::Completed { .. } | CutoverOutcome::Held { .. }
            ),
        ),
        Err(error) => (
            format!("failed: {}", crate::release::retire::error_line(error)),
            false,
        ),
    };
    let (resources, events_error) =
        match CloudFormation::new(context).stack_events(stack, None).await {
            Ok(events) => (model::resource_bars(&events), None),
            Err(error) => (
                Vec::new(),
                Some(format!(
                    "the stack's events could not be read: {}",
                    crate::release::retire::error_line(&error)
                )),
            ),
        };
    let report = DeployReport {
        app: spec.name.clone(),
        place: Place {
            account: context.account().await,
            region: context.region().map(str::to_string),
        },
        stack: stack.to_string(),
        outcome: crate::output::secrets::scrub(&outcome).into_owned(),
        succeeded,
        steps: model::report_steps(&journal.entries(), stack),
        resources,
        events_error,
        written_at: SystemTime::now(),
    };
    crate::dashboard::page::write_report(path, &crate::dashboard::page::deploy_report(&report))
        .map_err(|source| DeployError::Report {
            path: path.display().to_string(),
            source,
        })
}

/// What a deploy knows before its first AWS call: the spec, the template's release checks
/// passed, and the candidate stack (its generated release id and tags dated now).
pub struct LocalPlan {
    pub spec: AppSpec,
    candidate: plan::Candidate,
    findings: Vec<Finding>,
    rollback_alarm_arns: Vec<String>,
}

/// Every check of a deploy that needs no AWS call: the spec and template load, the release
/// outputs exist, no release-safety error (printed on stderr, each with its fix).
///
/// Errors: the spec's or template's (exit 2), [`DeployError::ReleaseChecks`].
pub fn check_locally(
    stacks_dir: &std::path::Path,
    args: &DeployArgs,
    settings: &OutputSettings,
) -> Result<LocalPlan, DeployError> {
    let spec = crate::spec::load_app(stacks_dir, &args.app)?;
    let template = crate::template::load_file(&spec.template)?;
    preflight::check_references(&template)?;
    preflight::check_release_outputs(&spec, &template)?;
    // What would make a second release fail stops the deploy here; warnings go in the plan.
    let findings = check::check(&template, &spec.check.ignore)?;
    refuse_release_errors(&spec, &template, &findings, settings)?;
    let options = CandidateOptions {
        release: args.release.clone(),
        timeout: args.timeout,
        template_bucket: args.template_bucket.clone(),
    };
    let candidate = plan::prepare(&spec, template, &options, SystemTime::now())?;
    let rollback_alarm_arns = preflight::rollback_alarm_arns(&spec)?;
    Ok(LocalPlan {
        spec,
        candidate,
        findings,
        rollback_alarm_arns,
    })
}

/// The plan against what AWS shows now: who deploys (the caller, tagged once at creation),
/// the app's releases, that no release is held, whose the route is, and the diff.
pub async fn plan_against_aws(
    context: &AwsContext,
    local: LocalPlan,
    args: &DeployArgs,
) -> Result<Plan, DeployError> {
    let LocalPlan {
        spec,
        mut candidate,
        findings,
        rollback_alarm_arns,
    } = local;
    // Who deploys, on the stack from its creation (for `history`): the one tag that is written
    // once and never changed.
    if let Some(caller) = context.caller_arn().await {
        candidate.tags.push((
            crate::release::tags::DEPLOYED_BY.to_string(),
            crate::release::tags::cut_to_tag_limit(&caller),
        ));
    }
    // What the router and the gates need, and whose the route is, before anything is created.
    let app = observe_app(context, &spec)
        .await
        .map_err(handover::HandoverError::from)?;
    check_hold(context, &spec, args).await?;
    // The release itself first (its parameters, its outputs, its name), then the route.
    let plan = render_plan(context, &spec, candidate, rollback_alarm_arns, &app).await?;
    let route = preflight::check_route(context, &spec, &app, args.adopt).await?;
    if args.adopt && route.adoption.is_none() {
        eprintln!(
            "note: --adopt: nothing to adopt on the {}: no traffic goes anywhere no release owns",
            route.route
        );
    }
    Ok(plan.with_findings(findings).with_route(
        route,
        &spec.strategy.kind,
        spec.strategy.hold_for_stickiness,
        app.weights.clone(),
    ))
}

/// Creates the planned release and cuts over to it, announcing as it goes; how the cutover
/// ended (its [`CutoverOutcome::exit`] is the command's exit code). The caller holds the app's
/// lock (`lock`) for the whole call; every traffic move checks it is still the caller's.
pub async fn deploy_planned(
    context: &AwsContext,
    spec: &AppSpec,
    plan: &Plan,
    args: &DeployArgs,
    lock: &LockOwnership,
    settings: &OutputSettings,
) -> Result<CutoverOutcome, DeployError> {
    let announcer = Announcer::for_app(context, spec, plan.secret_values()).await;
    let result = deploy_under_lock(context, spec, plan, args, lock, &announcer, settings).await;
    announcer.finish().await;
    result
}

/// Everything a deploy does while it holds the app lock: traffic moves under it too.
#[allow(clippy::too_many_arguments)]
async fn deploy_under_lock(
    context: &AwsContext,
    spec: &AppSpec,
    plan: &Plan,
    args: &DeployArgs,
    lock: &LockOwnership,
    announcer: &Announcer,
    settings: &OutputSettings,
) -> Result<CutoverOutcome, DeployError> {
    let holder = lock.holder();
    // Observed again under the lock: another run may have changed the app since the plan. This
    // look serves the rest of the deploy; the controller reads the router again itself.
    let mut app = observe_app(context, spec)
        .await
        .map_err(handover::HandoverError::from)?;
    // A cutover that a previous run left half way is finished (or turned back) first: a new
    // release must start from a router that points at one live release. Then this deploy goes
    // on, from what AWS shows now.
    if let Some((candidate, outcome)) =
        handover::resume_unfinished(context, spec, &mut app, lock, announcer, settings).await?
    {
        settings.progress(&format!(
            "the unfinished cutover to {candidate} ended: {outcome}; now deploying {} (the plan above compared against the release live before)",
            plan.candidate.stack_name
        ));
        app = observe_app(context, spec)
            .await
            .map_err(handover::HandoverError::from)?;
    }
    // The route is checked again under the lock (it may have changed since the plan), and the
    // baseline recorded before the stack exists: a run that dies after CreateStack leaves a
    // cutover that `resume` can finish or turn back to the baseline.
    let route = preflight::check_route(context, spec, &app, args.adopt).await?;
    if let Some(adoption) = &route.adoption {
        record_baseline(context, spec, &route.route, adoption, holder, settings).await?;
        app = observe_app(context, spec)
            .await
            .map_err(handover::HandoverError::from)?;
    }
    announcer.deploy_started(&plan.candidate.stack_name, app.weights.as_ref());
    // Uploaded under the lock: the key is the release's, and only the lock holder creates it.
    let template = upload::template_source(&S3::new(context), &plan.candidate).await?;
    let stacks = CloudFormation::new(context);
    let mut display = progress::for_settings(settings);
    let result =
        deploy::create_and_wait(&stacks, plan, template, args.keep_failed, display.as_mut()).await;
    report(plan, &result, settings)?;
    if let Err(error) = &result {
        announcer.deploy_failed(
            &plan.candidate.stack_name,
            &crate::release::retire::error_line(error),
        );
    }
    if let Err(error @ (DeployError::CreateFailed { .. } | DeployError::TimedOut { .. })) = &result
    {
        // Remembered for `history`, also once the failed stack is deleted.
        let reason = crate::release::retire::error_line(error);
        let marked = crate::release::marks::update(
            &aws::ssm::Ssm::new(context),
            &spec.name,
            &plan.candidate.stack_name,
            crate::release::marks::failed(&reason, crate::release::marks::Ending::FailedToCreate),
        )
        .await;
        if let Err(warning) = marked {
            tracing::warn!("{}", crate::release::retire::error_line(&warning));
        }
    }
    let healthy = result?;
    let candidate = &healthy.stack.name;
    let mut app = app
        .with_new_release(context, spec, healthy.stack.clone())
        .await;
    let options = handover::CutoverOptions {
        hold: args.hold,
        previous: None,
        lock: Some(lock.clone()),
    };
    if args.hold {
        // Recorded before the test route goes up: a run killed from here on leaves a hold (which
        // `resume` and the next deploy respect), never a cutover they would finish.
        let release_id = plan.candidate.release.as_str().to_string();
        let pending = hold::Hold::new(
            candidate,
            &test_header(spec),
            &release_id,
            "",
            format!("{} by {}@{}", holder.command, holder.user, holder.host),
        );
        hold::write(&aws::ssm::Ssm::new(context), &spec.name, &pending)
            .await
            .map_err(handover::HandoverError::from)?;
    }
    let outcome = handover::cut_over(
        context, spec, candidate, &mut app, options, announcer, settings,
    )
    .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => return Err(error.into()),
    };
    match outcome {
        CutoverOutcome::Held { .. } => {
            record_hold(context, spec, candidate, holder, announcer, settings).await?
        }
        // Turned back before any traffic: nothing is held any more.
        _ if args.hold => {
            if let Err(error) = hold::clear(&aws::ssm::Ssm::new(context), &spec.name).await {
                tracing::warn!("{}", crate::release::retire::error_line(&error));
            }
        }
        _ => {}
    }
    handover::after_cutover(
        context, spec, candidate, &outcome, &app, announcer, settings,
    )
    .await;
    report_outcome(&outcome, settings)?;
    Ok(outcome)
}

/// Records the held candidate (SSM), with its test route, and says how to go on.
async fn record_hold(
    context: &AwsContext,
    spec: &AppSpec,
    candidate: &str,
    holder: &Holder,
    announcer: &Announcer,
    settings: &OutputSettings,
) -> Result<(), DeployError> {
    let ssm = aws::ssm::Ssm::new(context);
    let app = observe_app(context, spec)
        .await
        .map_err(handover::HandoverError::from)?;
    let found = handover::held_test_route(context, spec, &app, candidate).await?;
    let Some(route) = found else {
        return Err(DeployError::Handover(
            handover::HandoverError::TestRouteGone {
                candidate: candidate.to_string(),
            },
        ));
    };
    let record = hold::Hold::new(
        candidate,
        &route.header,
        &route.value,
        &route.rule_arn,
        format!("{} by {}@{}", holder.command, holder.user, holder.host),
    );
    hold::write(&ssm, &spec.name, &record)
        .await
        .map_err(handover::HandoverError::from)?;
    announcer.release_held(
        candidate,
        &format!("requests with `{}: {}` reach it", route.header, route.value),
    );
    settings.progress(&format!(
        "{candidate} is held: requests with `{}: {}` reach it (rule {}); production traffic is untouched.\n  cutover promote {}   moves production traffic to it, behind the gates\n  cutover abort {}     gives it up",
        route.header, route.value, route.rule_arn, spec.name, spec.name
    ));
    Ok(())
}

/// `deploy --hold` needs a test route to hold on, and only one release of an app is held at a
/// time: both checked before anything is created.
async fn check_hold(
    context: &AwsContext,
    spec: &AppSpec,
    args: &DeployArgs,
) -> Result<(), DeployError> {
    if args.hold && !has_test_traffic(spec) {
        return Err(DeployError::HoldNeedsTestRoute {
            app: spec.name.clone(),
        });
    }
    if let Some(held) = hold::read(&aws::ssm::Ssm::new(context), &spec.name)
        .await
        .map_err(handover::HandoverError::from)?
    {
        return Err(DeployError::AlreadyHeld {
            app: spec.name.clone(),
            candidate: held.candidate,
        });
    }
    Ok(())
}

fn test_header(spec: &AppSpec) -> String {
    match &spec.router {
        crate::spec::RouterSpec::Alb {
            test_traffic: Some(test_traffic),
            ..
        } => test_traffic.header.clone(),
        _ => String::new(),
    }
}

fn has_test_traffic(spec: &AppSpec) -> bool {
    matches!(
        &spec.router,
        crate::spec::RouterSpec::Alb {
            test_traffic: Some(_),
            ..
        }
    )
}

/// Release-safety errors (`cutover check`) stop the deploy before any AWS call: they are printed
/// on stderr, each with its fix.
fn refuse_release_errors(
    spec: &AppSpec,
    template: &crate::template::Template,
    findings: &[Finding],
    settings: &OutputSettings,
) -> Result<(), DeployError> {
    let errors: Vec<&Finding> = findings
        .iter()
        .filter(|finding| finding.counts_at(Severity::Error))
        .collect();
    let Some(first) = errors.first() else {
        return Ok(());
    };
    let report = Report {
        subject: template.origin.clone(),
        findings: errors.iter().map(|finding| (*finding).clone()).collect(),
    };
    eprint!(
        "{}",
        check::reporters::text::render_findings(&[report], settings.stderr_palette())
    );
    Err(DeployError::ReleaseChecks {
        template: template.origin.clone(),
        app: spec.name.clone(),
        first: format!("[{}] {}", first.rule, first.message),
        more: errors.len() - 1,
    })
}

/// Records the adopted traffic as the app's baseline (SSM, beside the lock).
async fn record_baseline(
    context: &AwsContext,
    spec: &AppSpec,
    route: &str,
    adoption: &preflight::PlannedAdoption,
    holder: &Holder,
    settings: &OutputSettings,
) -> Result<(), DeployError> {
    let baseline = Baseline::new(
        route.to_string(),
        adoption.target.clone(),
        SystemTime::now(),
        format!(
            "{}@{} (pid {}): {}",
            holder.user, holder.host, holder.pid, holder.command
        ),
    );
    route::baseline::write(&aws::ssm::Ssm::new(context), &spec.name, &baseline)
        .await
        .map_err(RouteError::from)?;
    settings.progress(&format!(
        "adopted {} as the baseline of app {} on the {route}",
        adoption.key, spec.name
    ));
    Ok(())
}

/// The last word of a deploy on stdout: what the cutover did.
fn report_outcome(outcome: &CutoverOutcome, settings: &OutputSettings) -> Result<(), DeployError> {
    if !settings.stdout_is_mine() {
        return Ok(());
    }
    if settings.json() {
        let line = json!({ "result": "cutover", "cutover": outcome });
        return print_text(&line.to_string());
    }
    print_text(&outcome.to_string())
}

/// Asks on the terminal; refuses without one (a pipeline must say `--yes`).
fn confirm(stack: &str, settings: &OutputSettings) -> Result<bool, DeployError> {
    let question = format!("Create stack {stack}?");
    match prompt::confirm(&question, settings).map_err(DeployError::Prompt)? {
        Answer::NoTerminal => Err(DeployError::NeedsConfirmation {
            stack: stack.to_string(),
        }),
        answer => Ok(answer == Answer::Yes),
    }
}

fn report(
    plan: &Plan,
    result: &Result<Healthy, DeployError>,
    settings: &OutputSettings,
) -> Result<(), DeployError> {
    if !settings.stdout_is_mine() {
        return Ok(());
    }
    let stack = &plan.candidate.stack_name;
    if settings.json() {
        let outcome = match result {
            Ok(healthy) => json!({
                "result": "healthy",
                "stack": stack_json(&healthy.stack),
                "waited_seconds": healthy.waited.as_secs(),
            }),
            Err(error) => json!({
                "result": "failed",
                "error": error.to_string(),
                "cleanup": cleanup_of(error).map(cleanup_name),
                "traffic_moved": false,
            }),
        };
        let mut object = json!({ "plan": plan.to_json() });
        if let (Value::Object(target), Value::Object(extra)) = (&mut object, outcome) {
            target.extend(extra);
        }
        // One line: the cutover's events follow as JSON lines on the same stdout.
        return print_text(&object.to_string());
    }
    if let Ok(healthy) = result {
        let mut text = format!(
            "Stack {stack} is healthy ({}, after {}).\n",
            healthy.stack.status,
            humantime::format_duration(std::time::Duration::from_secs(healthy.waited.as_secs()))
        );
        if !healthy.stack.outputs.is_empty() {
            text.push_str("Outputs:\n");
            for (key, value) in &healthy.stack.outputs {
                text.push_str(&format!("  {key:<24}{value}\n"));
            }
        }
        print_text(&text)?;
    }
    Ok(())
}

fn stack_json(stack: &StackFacts) -> Value {
    json!({
        "name": stack.name,
        "id": stack.id,
        "status": stack.status,
        "outputs": stack.outputs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
    })
}

fn cleanup_of(error: &DeployError) -> Option<&Cleanup> {
    match error {
        DeployError::CreateFailed { cleanup, .. } | DeployError::TimedOut { cleanup, .. } => {
            Some(cleanup)
        }
        _ => None,
    }
}

fn cleanup_name(cleanup: &Cleanup) -> &'static str {
    match cleanup {
        Cleanup::Deleted => "deleted",
        Cleanup::Kept => "kept",
        Cleanup::DeleteFailed { .. } => "delete-failed",
        Cleanup::DeleteTimedOut => "delete-timed-out",
        Cleanup::DeleteError { .. } => "delete-error",
    }
}

fn print_text(text: &str) -> Result<(), DeployError> {
    let text = crate::output::secrets::scrub(text);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .map_err(DeployError::Write)?;
    if !text.ends_with('\n') {
        stdout.write_all(b"\n").map_err(DeployError::Write)?;
    }
    stdout.flush().map_err(DeployError::Write)
}

fn print_json(value: &Value) -> Result<(), DeployError> {
    let text = serde_json::to_string_pretty(value).expect("JSON values always serialize");
    print_text(&text)
}
