//! `cutover rotate APP... | --all`: rebuild the apps whose live release is too old or runs a
//! stale machine image, each as a normal deploy of a new release, several at once (`--jobs`),
//! over one worker's part of the fleet (`--shard`). Built for schedulers: it never prompts,
//! `--dry-run` only says which apps are due and why, and the exit code says whether every due
//! app was rotated (see [`fleet_exit`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use futures_util::StreamExt;

use super::deploy;
use crate::aws::{self, AwsContext, AwsError, ConnectOptions};
use crate::cli::{ChangeArgs, DeployArgs, GlobalArgs, RotateArgs};
use crate::cutover::CutoverOutcome;
use crate::deploy::{handover, DeployError};
use crate::error::{Diagnostic, Exit};
use crate::output::OutputSettings;
use crate::release::aws_sources::AwsSources;
use crate::release::live::{observe_app, LiveError};
use crate::release::lock::{AppLocks, Holder, LockError, LockOwnership};
use crate::release::params::ParamError;
use crate::rotation::fleet::{
    fleet_exit, recheck_under_lock, render_table, tally, AppResult, RotationRow, UnderLock,
};
use crate::rotation::shard::{apps_of_shard, Shard, ShardError};
use crate::rotation::{due_for_rotation, AppRotationFacts, RotationPolicy};
use crate::router::RouterError;
use crate::spec::{AppSpec, SpecError, ValueSource};

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Params(#[from] ParamError),
    #[error(transparent)]
    Shard(#[from] ShardError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Router(#[from] RouterError),
}

impl Diagnostic for RotateError {
    fn exit(&self) -> Exit {
        match self {
            RotateError::Spec(error) => error.exit(),
            RotateError::Aws(error) => error.exit(),
            RotateError::Live(error) => error.exit(),
            RotateError::Params(error) => error.exit(),
            RotateError::Shard(_) => Exit::Error,
            RotateError::Lock(error) => error.exit(),
            RotateError::Deploy(error) => error.exit(),
            RotateError::Router(error) => error.exit(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            RotateError::Spec(error) => error.hint(),
            RotateError::Aws(error) => error.hint(),
            RotateError::Live(error) => error.hint(),
            RotateError::Params(error) => error.hint(),
            RotateError::Shard(_) => None,
            RotateError::Lock(error) => error.hint(),
            RotateError::Deploy(error) => error.hint(),
            RotateError::Router(error) => error.hint(),
        }
    }
}

pub async fn run(
    args: RotateArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, RotateError> {
    let listed = if args.all {
        crate::spec::list_apps(&global.stacks_dir)?
    } else {
        args.apps.clone()
    };
    let shard = args
        .shard
        .map(|shard| shard.resolve(|name| std::env::var(name).ok()))
        .transpose()?;
    let apps = match shard {
        Some(shard) => apps_of_shard(&listed, shard),
        None => {
            let mut apps = listed;
            apps.sort();
            apps.dedup();
            apps
        }
    };
    if let (Some(shard), true) = (shard, settings.verbosity >= 0) {
        eprintln!("shard {shard}: {} of the apps", apps.len());
    }
    // Every spec and template is checked before any AWS call: a typo in one must not half-run
    // the others.
    let specs = apps
        .iter()
        .map(|app| crate::spec::load_app(&global.stacks_dir, app))
        .collect::<Result<Vec<_>, _>>()?;
    for spec in &specs {
        deploy::check_locally(&global.stacks_dir, &deploy_args(&spec.name), settings)?;
    }

    let run = FleetRun {
        args: &args,
        global,
        settings,
        contexts: aws::Contexts::default(),
        interrupted: AtomicBool::new(false),
    };
    let jobs = usize::from(args.jobs);
    let work = async {
        // First every app is looked at, then the due ones are rotated: a run that another run
        // overtakes meanwhile finds out under the lock (see `recheck_under_lock`).
        let looks = futures_util::stream::iter(&specs)
            .map(|spec| run.look(spec))
            .buffer_unordered(jobs)
            .collect::<Vec<_>>()
            .await;
        let due = looks.iter().filter(|look| look.is_due()).count();
        if !args.dry_run && settings.verbosity >= 0 {
            eprintln!(
                "{due} of {} apps due; rotating up to {jobs} at a time",
                looks.len()
            );
        }
        futures_util::stream::iter(looks)
            .map(|look| run.finish(look))
            .buffer_unordered(jobs)
            .collect::<Vec<_>>()
            .await
    };
    let rows = {
        tokio::pin!(work);
        tokio::select! {
            rows = &mut work => rows,
            () = async {
                crate::interrupt::requested().await;
                eprintln!("interrupted: no new rotation starts; the ones under way shift traffic back");
                run.interrupted.store(true, Ordering::SeqCst);
                std::future::pending::<()>().await
            } => unreachable!("the interrupt watch never ends"),
        }
    };
    let mut rows = rows;
    rows.sort_by(|a, b| a.app.cmp(&b.app));
    print_summary(&rows, args.dry_run, shard, settings);
    if !args.dry_run {
        announce_summaries(&run, &specs, &rows).await;
    }
    Ok(fleet_exit(&rows))
}

/// What every app's part of one `rotate` run shares: the clients per account and region (with
/// their adaptive retry), and whether the run was asked to stop.
struct FleetRun<'a> {
    args: &'a RotateArgs,
    global: &'a GlobalArgs,
    settings: &'a OutputSettings,
    contexts: aws::Contexts,
    interrupted: AtomicBool,
}

/// One app after the first look (no lock): its row so far, and what rotating it needs.
struct Look<'s> {
    spec: &'s AppSpec,
    row: RotationRow,
    /// Set when the look succeeded and the app is due.
    due: Option<DueApp>,
}

struct DueApp {
    context: AwsContext,
    policy: RotationPolicy,
    first_look: AppRotationFacts,
}

impl Look<'_> {
    fn is_due(&self) -> bool {
        self.due.is_some()
    }
}

impl FleetRun<'_> {
    /// The first look at one app, without its lock: is it due, and why. Never fails: what went
    /// wrong is the row's result.
    async fn look<'s>(&self, spec: &'s AppSpec) -> Look<'s> {
        let started = Instant::now();
        let mut row = RotationRow::new(&spec.name);
        let due = match self.first_look(spec, &mut row).await {
            Ok(due) => due,
            Err(error) => {
                row.result = self.failed(spec, &error);
                None
            }
        };
        row.elapsed = started.elapsed();
        Look { spec, row, due }
    }

    async fn first_look(
        &self,
        spec: &AppSpec,
        row: &mut RotationRow,
    ) -> Result<Option<DueApp>, RotateError> {
        let context = self
            .contexts
            .get(&ConnectOptions::for_app(self.global, spec))
            .await?;
        row.account = context.account().await;
        row.region = context.region().map(str::to_string);
        let policy = RotationPolicy {
            max_age: self.args.max_age.or(spec.rotation.max_age),
            refresh_ami: spec.rotation.refresh_ami,
        };
        let first_look = rotation_facts(&context, spec, &policy).await?;
        row.live_release = first_look.live_release.clone();
        row.reason = due_for_rotation(&first_look, &policy, SystemTime::now());
        row.due = Some(row.reason.is_some());
        if row.reason.is_none() {
            row.result = AppResult::NotDue;
            return Ok(None);
        }
        row.result = AppResult::Due;
        Ok(Some(DueApp {
            context,
            policy,
            first_look,
        }))
    }

    /// A due app (not in a dry run): take its lock, look again, rotate. Others end as looked.
    async fn finish(&self, look: Look<'_>) -> RotationRow {
        let Look { spec, mut row, due } = look;
        let Some(due) = due.filter(|_| !self.args.dry_run) else {
            return row;
        };
        // The app's own time: its look plus its rotation, not its wait for a free job.
        let started = Instant::now();
        row.result = match self.rotate(spec, &due, &mut row).await {
            Ok(result) => result,
            Err(error) => self.failed(spec, &error),
        };
        row.elapsed += started.elapsed();
        row
    }

    fn failed(&self, spec: &AppSpec, error: &RotateError) -> AppResult {
        let line = crate::release::retire::error_line(error);
        self.settings
            .for_fleet_app(&spec.name)
            .progress(&format!("error: {line}"));
        AppResult::Failed {
            error: line,
            exit_code: error.exit().code(),
        }
    }

    async fn rotate(
        &self,
        spec: &AppSpec,
        due: &DueApp,
        row: &mut RotationRow,
    ) -> Result<AppResult, RotateError> {
        if self.interrupted.load(Ordering::SeqCst) {
            return Ok(AppResult::NotStarted);
        }
        let holder = Holder::current(format!("rotate {}", spec.name));
        let locks = AppLocks::new(aws::ssm::Ssm::new(&due.context));
        let lock = match locks.acquire(&spec.name, &holder).await {
            Ok(lock) => lock,
            Err(LockError::Locked { record, .. }) => {
                return Ok(AppResult::SkippedLocked {
                    holder: record.to_string(),
                })
            }
            Err(error) => return Err(error.into()),
        };
        let result = self
            .rotate_locked(
                &due.context,
                spec,
                &due.first_look,
                &due.policy,
                &lock.ownership(),
                row,
            )
            .await;
        lock.release_or_warn().await;
        result
    }

    /// Under the app's lock: the second look decides, then a deploy of a new release.
    async fn rotate_locked(
        &self,
        context: &AwsContext,
        spec: &AppSpec,
        first_look: &AppRotationFacts,
        policy: &RotationPolicy,
        lock: &LockOwnership,
        row: &mut RotationRow,
    ) -> Result<AppResult, RotateError> {
        // A run that died half way through this app's rotation (or deploy) left a cutover: it
        // is finished first, and the app is looked at again after it. Deploying at once would
        // finish it and then make a second new release where one was due.
        if let Some(result) = self.finish_unfinished(context, spec, policy, lock).await? {
            return Ok(result);
        }
        let under_lock = rotation_facts(context, spec, policy).await?;
        let reason = match recheck_under_lock(first_look, &under_lock, policy, SystemTime::now()) {
            UnderLock::Rotate(reason) => reason,
            UnderLock::RotatedMeanwhile { live_release } => {
                return Ok(AppResult::RotatedMeanwhile { live_release })
            }
            UnderLock::NoLongerDue => return Ok(AppResult::NoLongerDue),
        };
        if self.interrupted.load(Ordering::SeqCst) {
            return Ok(AppResult::NotStarted);
        }
        let settings = self.settings.for_fleet_app(&spec.name);
        if settings.verbosity >= 0 {
            settings.progress(&format!("rotating: {reason}"));
        }
        row.reason = Some(reason);
        // Planned now, under the lock: the release is dated when it is made, and the plan is
        // against what is live now.
        let args = deploy_args(&spec.name);
        let local = deploy::check_locally(&self.global.stacks_dir, &args, &settings)?;
        let plan = deploy::plan_against_aws(context, local, &args).await?;
        let outcome = deploy::deploy_planned(context, spec, &plan, &args, lock, &settings).await?;
        Ok(match outcome {
            CutoverOutcome::Completed { .. } => AppResult::Rotated {
                release: plan.candidate.stack_name.clone(),
            },
            other => AppResult::Failed {
                error: format!("{}: {other}", plan.candidate.stack_name),
                exit_code: other.exit().code(),
            },
        })
    }
}

impl FleetRun<'_> {
    /// Under the app's lock: finishes a cutover another run left half way. `Some(result)` when
    /// that settles the app: the cutover turned back (failed), or it completed and the app is not
    /// due any more (the finished release was the rotation). `None` when nothing was unfinished,
    /// or the app is still due after it.
    async fn finish_unfinished(
        &self,
        context: &AwsContext,
        spec: &AppSpec,
        policy: &RotationPolicy,
        lock: &LockOwnership,
    ) -> Result<Option<AppResult>, RotateError> {
        let mut app = observe_app(context, spec).await?;
        if handover::unfinished(context, spec, &app)
            .await
            .map_err(DeployError::from)?
            .is_none()
        {
            return Ok(None);
        }
        let settings = self.settings.for_fleet_app(&spec.name);
        let announcer = crate::notify::Announcer::for_app(context, spec, Vec::new()).await;
        let finished =
            handover::resume_unfinished(context, spec, &mut app, lock, &announcer, &settings).await;
        announcer.finish().await;
        let Some((candidate, outcome)) = finished.map_err(DeployError::from)? else {
            return Ok(None);
        };
        if !matches!(outcome, CutoverOutcome::Completed { .. }) {
            return Ok(Some(AppResult::Failed {
                error: format!("the unfinished cutover to {candidate}: {outcome}"),
                exit_code: outcome.exit().code(),
            }));
        }
        let after = rotation_facts(context, spec, policy).await?;
        Ok(due_for_rotation(&after, policy, SystemTime::now())
            .is_none()
            .then_some(AppResult::Rotated { release: candidate }))
    }
}

/// A rotation is a deploy of a new release with a generated id, without a prompt.
fn deploy_args(app: &str) -> DeployArgs {
    DeployArgs {
        app: app.to_string(),
        release: None,
        change: ChangeArgs {
            dry_run: false,
            yes: true,
        },
        keep_failed: false,
        timeout: None,
        template_bucket: None,
        adopt: false,
        hold: false,
        report: None,
    }
}

/// The run's summary to each notification channel once: the apps that share a `[notify]` table
/// (and account) get one message listing them. A channel none of whose apps was due hears
/// nothing: a nightly "nothing to do" to every channel is noise.
async fn announce_summaries(run: &FleetRun<'_>, specs: &[AppSpec], rows: &[RotationRow]) {
    let mut channels: Vec<(&AppSpec, ConnectOptions, Vec<&RotationRow>)> = Vec::new();
    for spec in specs {
        let Some(row) = rows.iter().find(|row| row.app == spec.name) else {
            continue;
        };
        let target = ConnectOptions::for_app(run.global, spec);
        match channels
            .iter_mut()
            .find(|(first, known, _)| first.notify == spec.notify && *known == target)
        {
            Some((_, _, members)) => members.push(row),
            None => channels.push((spec, target, vec![row])),
        }
    }
    // Each channel is delivered at once: a slow webhook costs the run its bounded wait once,
    // not once per channel.
    let deliveries = channels
        .into_iter()
        .filter(|(first, _, members)| {
            first.notify != Default::default() && members.iter().any(|row| row.due == Some(true))
        })
        .map(|(first, target, members)| async move {
            let Ok(context) = run.contexts.get(&target).await else {
                return;
            };
            let announcer = crate::notify::Announcer::for_app(&context, first, Vec::new())
                .await
                .for_apps(members.iter().map(|row| row.app.as_str()));
            let summary = members
                .iter()
                .map(|row| format!("{}: {}", row.app, row.result))
                .collect::<Vec<_>>()
                .join("; ");
            announcer.rotate_summary(&summary);
            announcer.finish().await;
        });
    futures_util::future::join_all(deliveries).await;
}

/// The live release (as the router says), its age, and for `refresh_ami` the image it runs
/// against the image its source resolves to now.
async fn rotation_facts(
    context: &AwsContext,
    spec: &AppSpec,
    policy: &RotationPolicy,
) -> Result<AppRotationFacts, RotateError> {
    let app = observe_app(context, spec).await?;
    // Without the router's weights nothing looks live, and nothing live is never due: an
    // unreadable router must fail the app, not pass it as "not due".
    if let Some(error) = app.router_error {
        return Err(error.into());
    }
    let live = app.live();
    let mut facts = AppRotationFacts {
        app: spec.name.clone(),
        live_release: live.map(|release| release.name().to_string()),
        live_release_created: live.map(|release| release.tags.created),
        live_ami: None,
        newest_ami: None,
    };
    let (Some(live), true) = (live, policy.refresh_ami) else {
        return Ok(facts);
    };
    let Some((parameter, source)) = ami_parameter(spec) else {
        return Ok(facts);
    };
    let newest = AwsSources::new(context)
        .sources()
        .resolve_value(&format!("parameter {parameter}"), source, &spec.path)
        .await?;
    facts.newest_ami = Some(newest.expose().to_string());
    facts.live_ami = live
        .stack
        .parameters
        .iter()
        .find(|(name, _)| name == parameter)
        .map(|(_, value)| value.clone());
    Ok(facts)
}

/// The parameter that carries the machine image: the first one resolved by `latest_ami`, else
/// the first SSM parameter under the public AMI paths or named like an image id.
fn ami_parameter(spec: &AppSpec) -> Option<(&String, &ValueSource)> {
    let by_latest = spec
        .parameters
        .iter()
        .find(|(_, source)| matches!(source, ValueSource::LatestAmi(_)));
    by_latest.or_else(|| {
        spec.parameters.iter().find(|(name, source)| {
            matches!(source, ValueSource::Ssm { name: path }
                if path.contains("/ami") || name.to_ascii_lowercase().contains("ami"))
        })
    })
}

fn print_summary(
    rows: &[RotationRow],
    dry_run: bool,
    shard: Option<Shard>,
    settings: &OutputSettings,
) {
    if settings.json() {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "dry_run": dry_run,
            "shard": shard.map(|shard| shard.to_string()),
            "apps": rows,
            "summary": tally(rows),
            "exit_code": fleet_exit(rows).code(),
        }))
        .expect("rows always serialize");
        println!("{text}");
        return;
    }
    let palette = settings.stdout_palette();
    print!(
        "{}",
        render_table(rows, |result, text| match result {
            AppResult::Rotated { .. } => palette.added(text),
            AppResult::Failed { .. } | AppResult::NotStarted => palette.error(text),
            AppResult::SkippedLocked { .. } | AppResult::Due => palette.changed(text),
            _ => text.to_string(),
        })
    );
}
