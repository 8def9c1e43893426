//! One function per subcommand: resolve the inputs, call the library, print the result.

mod check;
mod dashboard;
mod deploy;
mod diff;
pub(crate) mod history;
mod hold;
mod resume;
mod retire;
mod rollback;
mod rotate;
mod status;
mod unlock;

use crate::cli::{Cli, Command};
use crate::error::{Diagnostic, Exit};
use crate::output::OutputSettings;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("`cutover {0}` is not built yet")]
    NotBuiltYet(&'static str),

    #[error(transparent)]
    Diff(#[from] diff::DiffError),

    #[error(transparent)]
    Check(#[from] check::CheckCommandError),

    #[error("--output sarif is for `cutover check`; use text or json with `cutover {0}`")]
    SarifNotHere(&'static str),

    #[error(transparent)]
    Deploy(#[from] crate::deploy::DeployError),

    #[error(transparent)]
    Rotate(#[from] rotate::RotateError),

    #[error(transparent)]
    Resume(#[from] resume::ResumeError),

    #[error(transparent)]
    Hold(#[from] hold::HoldCommandError),

    #[error(transparent)]
    History(#[from] history::HistoryError),

    #[error(transparent)]
    Dashboard(#[from] dashboard::DashboardError),

    #[error(transparent)]
    Unlock(#[from] unlock::UnlockError),

    #[error(transparent)]
    Status(#[from] status::StatusError),

    #[error(transparent)]
    Rollback(#[from] crate::rollback::RollbackError),

    #[error(transparent)]
    Retire(#[from] retire::RetireCommandError),
}

impl Diagnostic for CommandError {
    fn exit(&self) -> Exit {
        match self {
            CommandError::NotBuiltYet(_) => Exit::Error,
            CommandError::Diff(error) => error.exit(),
            CommandError::Check(error) => error.exit(),
            CommandError::SarifNotHere(_) => Exit::Error,
            CommandError::Deploy(error) => error.exit(),
            CommandError::Rotate(error) => error.exit(),
            CommandError::Resume(error) => error.exit(),
            CommandError::Hold(error) => error.exit(),
            CommandError::History(error) => error.exit(),
            CommandError::Dashboard(error) => error.exit(),
            CommandError::Unlock(error) => error.exit(),
            CommandError::Status(error) => error.exit(),
            CommandError::Rollback(error) => error.exit(),
            CommandError::Retire(error) => error.exit(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            CommandError::NotBuiltYet(_) => Some(
                "see the open issues for when it lands; `cutover --help` lists what works".into(),
            ),
            CommandError::Diff(error) => error.hint(),
            CommandError::Check(error) => error.hint(),
            CommandError::SarifNotHere(_) => None,
            CommandError::Deploy(error) => error.hint(),
            CommandError::Rotate(error) => error.hint(),
            CommandError::Resume(error) => error.hint(),
            CommandError::Hold(error) => error.hint(),
            CommandError::History(error) => error.hint(),
            CommandError::Dashboard(error) => error.hint(),
            CommandError::Unlock(error) => error.hint(),
            CommandError::Status(error) => error.hint(),
            CommandError::Rollback(error) => error.hint(),
            CommandError::Retire(error) => error.hint(),
        }
    }
}

/// Runs one parsed command line and says how the process should exit.
pub async fn run(cli: Cli, settings: OutputSettings) -> Result<Exit, CommandError> {
    if settings.format == crate::cli::OutputFormat::Sarif
        && !matches!(cli.command, Command::Check(_))
    {
        return Err(CommandError::SarifNotHere(command_name(&cli.command)));
    }
    match cli.command {
        Command::Check(args) => Ok(check::run(args, &cli.global, &settings).await?),
        Command::Diff(args) if args.targets.len() == 2 => Ok(diff::run_files(
            std::path::Path::new(&args.targets[0]),
            std::path::Path::new(&args.targets[1]),
            args.fail_on,
            &settings,
        )?),
        Command::Diff(args) => Ok(diff::run_app(
            &args.targets[0],
            args.release,
            args.fail_on,
            &cli.global,
            &settings,
        )
        .await?),
        Command::Deploy(args) => Ok(deploy::run(args, &cli.global, &settings).await?),
        Command::Resume(args) => Ok(resume::run(args, &cli.global, &settings).await?),
        Command::Promote(args) => Ok(hold::promote(args, &cli.global, &settings).await?),
        Command::Abort(args) => Ok(hold::abort(args, &cli.global, &settings).await?),
        Command::Status(args) => Ok(status::run(args, &cli.global, &settings).await?),
        Command::History(args) => Ok(history::run(args, &cli.global, &settings).await?),
        Command::Dashboard(args) => Ok(dashboard::run(args, &cli.global, &settings).await?),
        Command::Rollback(args) => Ok(rollback::run(args, &cli.global, &settings).await?),
        Command::Retire(args) => Ok(retire::run(args, &cli.global, &settings).await?),
        Command::Rotate(args) => Ok(rotate::run(args, &cli.global, &settings).await?),
        Command::Unlock(args) => Ok(unlock::run(args, &cli.global, &settings).await?),
        Command::Completions(args) => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            clap_complete::generate(args.shell, &mut command, "cutover", &mut std::io::stdout());
            Ok(Exit::Success)
        }
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Diff(_) => "diff",
        Command::Check(_) => "check",
        Command::Deploy(_) => "deploy",
        Command::Resume(_) => "resume",
        Command::Promote(_) => "promote",
        Command::Abort(_) => "abort",
        Command::Status(_) => "status",
        Command::History(_) => "history",
        Command::Dashboard(_) => "dashboard",
        Command::Rollback(_) => "rollback",
        Command::Retire(_) => "retire",
        Command::Rotate(_) => "rotate",
        Command::Unlock(_) => "unlock",
        Command::Completions(_) => "completions",
    }
}
