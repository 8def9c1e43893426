//! One function per subcommand: resolve the inputs, call the library, print the result.

mod deploy;
mod diff;
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
    Deploy(#[from] crate::deploy::DeployError),

    #[error(transparent)]
    Rotate(#[from] rotate::RotateError),

    #[error(transparent)]
    Resume(#[from] resume::ResumeError),

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
            CommandError::Deploy(error) => error.exit(),
            CommandError::Rotate(error) => error.exit(),
            CommandError::Resume(error) => error.exit(),
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
            CommandError::Deploy(error) => error.hint(),
            CommandError::Rotate(error) => error.hint(),
            CommandError::Resume(error) => error.hint(),
            CommandError::Unlock(error) => error.hint(),
            CommandError::Status(error) => error.hint(),
            CommandError::Rollback(error) => error.hint(),
            CommandError::Retire(error) => error.hint(),
        }
    }
}

/// Runs one parsed command line and says how the process should exit.
pub async fn run(cli: Cli, settings: OutputSettings) -> Result<Exit, CommandError> {
    match cli.command {
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
        Command::Status(args) => Ok(status::run(args, &cli.global, &settings).await?),
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
