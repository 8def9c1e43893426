//! `cutover retire APP [--dry-run] [--yes]`: retire the releases the app's retention no longer
//! keeps. Exit 1 when a release could not be retired (it is reported and tagged for attention).

use std::io::Write;

use crate::aws::{self, AwsError, ConnectOptions};
use crate::cli::{GlobalArgs, RetireArgs};
use crate::deploy::progress;
use crate::error::{Diagnostic, Exit};
use crate::output::prompt::{self, Answer};
use crate::output::OutputSettings;
use crate::release::lock::{AppLocks, Holder, LockError};
use crate::release::retire::{apply_retention, RetireError, RetireOptions, RetirementReport};
use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum RetireCommandError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("could not connect to AWS")]
    Connect(#[source] AwsError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Retire(#[from] RetireError),
    #[error("not retiring releases of app {app} without confirmation: not on a terminal")]
    NeedsConfirmation { app: String },
    #[error("could not ask for confirmation")]
    Prompt(#[source] std::io::Error),
    #[error("could not write the output")]
    Write(#[source] std::io::Error),
}

impl Diagnostic for RetireCommandError {
    fn exit(&self) -> Exit {
        match self {
            RetireCommandError::Spec(error) => error.exit(),
            RetireCommandError::Connect(error) => error.exit(),
            RetireCommandError::Lock(error) => error.exit(),
            RetireCommandError::Retire(error) => error.exit(),
            _ => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            RetireCommandError::Spec(error) => error.hint(),
            RetireCommandError::Connect(error) => error.hint(),
            RetireCommandError::Lock(error) => error.hint(),
            RetireCommandError::Retire(error) => error.hint(),
            RetireCommandError::NeedsConfirmation { .. } => {
                Some("pass --yes to retire without asking, or --dry-run to see the plan".into())
            }
            _ => None,
        }
    }
}

pub async fn run(
    args: RetireArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, RetireCommandError> {
    let spec = crate::spec::load_app(&global.stacks_dir, &args.app)?;
    let context = aws::connect(&ConnectOptions::for_app(global, &spec))
        .await
        .map_err(RetireCommandError::Connect)?;
    let mut display = progress::for_settings(settings);
    // The plan first, without the lock: a dry run and the prompt show what would go.
    let preview = apply_retention(
        &context,
        &spec,
        &RetireOptions {
            dry_run: true,
            rollback_target: None,
        },
        display.as_mut(),
    )
    .await?;
    if args.change.dry_run || preview.plan.retire.is_empty() {
        print(settings, &preview)?;
        return Ok(Exit::Success);
    }
    if !args.change.yes {
        eprint!("{}", preview.render_plan());
        if !confirm(&spec.name, preview.plan.retire.len(), settings)? {
            eprintln!("Nothing retired.");
            return Ok(Exit::Success);
        }
    }
    let locks = AppLocks::new(aws::ssm::Ssm::new(&context));
    let lock = locks
        .acquire(
            &spec.name,
            &Holder::current(format!("retire {}", spec.name)),
        )
        .await?;
    // Planned again under the lock: the app may have changed since the preview.
    let report =
        apply_retention(&context, &spec, &RetireOptions::default(), display.as_mut()).await;
    lock.release_or_warn().await;
    let report = report?;
    let announcer = crate::notify::Announcer::for_app(&context, &spec, Vec::new()).await;
    crate::deploy::handover::announce_retirement(&announcer, &report);
    announcer.finish().await;
    for warning in &report.warnings {
        eprintln!(
            "{} {warning}",
            settings.stderr_palette().warning("warning:")
        );
    }
    print(settings, &report)?;
    Ok(report.exit())
}

fn print(settings: &OutputSettings, report: &RetirementReport) -> Result<(), RetireCommandError> {
    let mut stdout = std::io::stdout().lock();
    let result = if settings.json() {
        let value = serde_json::to_value(report).expect("a retirement report always serialises");
        writeln!(stdout, "{value:#}")
    } else {
        stdout.write_all(report.render_text().as_bytes())
    };
    result
        .and_then(|()| stdout.flush())
        .map_err(RetireCommandError::Write)
}

fn confirm(app: &str, count: usize, settings: &OutputSettings) -> Result<bool, RetireCommandError> {
    let question = format!("Retire {count} release(s) of app {app}?");
    match prompt::confirm(&question, settings).map_err(RetireCommandError::Prompt)? {
        Answer::NoTerminal => Err(RetireCommandError::NeedsConfirmation {
            app: app.to_string(),
        }),
        answer => Ok(answer == Answer::Yes),
    }
}
