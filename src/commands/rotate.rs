//! `cutover rotate [APP...]`: rebuild the apps whose live release is too old or runs a stale
//! machine image, each as a normal deploy of a new release. Built for schedulers: it never
//! prompts, and `--dry-run` only says which apps are due and why.

use std::time::SystemTime;

use serde::Serialize;

use super::deploy;
use crate::aws::{self, AwsContext, AwsError, ConnectOptions};
use crate::cli::{ChangeArgs, DeployArgs, GlobalArgs, RotateArgs};
use crate::deploy::DeployError;
use crate::error::{Diagnostic, Exit};
use crate::output::OutputSettings;
use crate::release::aws_sources::AwsSources;
use crate::release::live::{observe_app, LiveError};
use crate::release::params::ParamError;
use crate::rotation::{due_for_rotation, AppRotationFacts, RotationPolicy, RotationReason};
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
}

impl Diagnostic for RotateError {
    fn exit(&self) -> Exit {
        match self {
            RotateError::Spec(error) => error.exit(),
            RotateError::Aws(error) => error.exit(),
            RotateError::Live(error) => error.exit(),
            RotateError::Params(error) => error.exit(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            RotateError::Spec(error) => error.hint(),
            RotateError::Aws(error) => error.hint(),
            RotateError::Live(error) => error.hint(),
            RotateError::Params(error) => error.hint(),
        }
    }
}

/// One app's verdict, as printed (`--output json`: one object per app in a list).
#[derive(Debug, Serialize)]
struct Verdict {
    app: String,
    live_release: Option<String>,
    due: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<RotationReason>,
    /// What happened when not a dry run: "rotated", "failed (exit N)", "skipped".
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<String>,
}

pub async fn run(
    args: RotateArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, RotateError> {
    let apps = if args.apps.is_empty() {
        crate::spec::list_apps(&global.stacks_dir)?
    } else {
        args.apps.clone()
    };
    // Every spec is checked before any AWS call: a typo in one must not half-run the others.
    let specs = apps
        .iter()
        .map(|app| crate::spec::load_app(&global.stacks_dir, app))
        .collect::<Result<Vec<_>, _>>()?;
    let mut contexts = aws::Contexts::default();
    let now = SystemTime::now();
    let mut verdicts = Vec::new();
    for spec in &specs {
        let policy = RotationPolicy {
            max_age: args.max_age.or(spec.rotation.max_age),
            refresh_ami: spec.rotation.refresh_ami,
        };
        let context = contexts.get(&ConnectOptions::for_app(global, spec)).await?;
        let facts = rotation_facts(context, spec, &policy).await?;
        let reason = due_for_rotation(&facts, &policy, now);
        verdicts.push(Verdict {
            app: spec.name.clone(),
            live_release: facts.live_release,
            due: reason.is_some(),
            reason,
            result: None,
        });
    }
    let mut exit = Exit::Success;
    for verdict in &mut verdicts {
        match &verdict.reason {
            None => {}
            Some(_) if args.dry_run => {}
            Some(reason) => {
                if settings.verbosity >= 0 {
                    eprintln!("rotating {}: {reason}", verdict.app);
                }
                let outcome = rotate_app(&verdict.app, global, settings).await;
                let app_exit = match outcome {
                    Ok(app_exit) => app_exit,
                    Err(error) => {
                        crate::output::print_error(
                            &error,
                            error.hint().as_deref(),
                            settings.stderr_palette(),
                        );
                        error.exit()
                    }
                };
                verdict.result = Some(match app_exit {
                    Exit::Success => "rotated".to_string(),
                    other => format!("failed (exit {})", other.code()),
                });
                if app_exit.code() > exit.code() {
                    exit = app_exit;
                }
            }
        }
    }
    print_verdicts(&verdicts, args.dry_run, settings);
    if !args.dry_run {
        // One summary of the whole run, to each app's own channel.
        let summary = verdicts
            .iter()
            .map(|verdict| {
                format!(
                    "{}: {}",
                    verdict.app,
                    match (&verdict.result, &verdict.reason) {
                        (Some(result), _) => result.clone(),
                        (None, _) => "not due".to_string(),
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        for spec in &specs {
            let context = contexts.get(&ConnectOptions::for_app(global, spec)).await?;
            let announcer = crate::notify::Announcer::for_app(context, spec, Vec::new()).await;
            announcer.rotate_summary(&summary);
            announcer.finish().await;
        }
    }
    Ok(exit)
}

/// A rotation is a deploy of a new release with a generated id, without a prompt.
async fn rotate_app(
    app: &str,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, DeployError> {
    let args = DeployArgs {
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
    };
    deploy::run(args, global, settings).await
}

/// The live release (as the router says), its age, and for `refresh_ami` the image it runs
/// against the image its source resolves to now.
async fn rotation_facts(
    context: &AwsContext,
    spec: &AppSpec,
    policy: &RotationPolicy,
) -> Result<AppRotationFacts, RotateError> {
    let app = observe_app(context, spec).await?;
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

fn print_verdicts(verdicts: &[Verdict], dry_run: bool, settings: &OutputSettings) {
    if settings.json() {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "dry_run": dry_run,
            "apps": verdicts,
        }))
        .expect("verdicts always serialize");
        println!("{text}");
        return;
    }
    for verdict in verdicts {
        let live = verdict.live_release.as_deref().unwrap_or("no live release");
        let state = match (&verdict.reason, &verdict.result) {
            (None, _) => "not due".to_string(),
            (Some(reason), None) => format!("due: {reason}"),
            (Some(reason), Some(result)) => format!("{result}: {reason}"),
        };
        println!("{:<16} {:<28} {state}", verdict.app, live);
    }
}
