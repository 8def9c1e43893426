//! `cutover resume APP`: finish (or turn back) a cutover that a run left half way, from what the
//! router shows now. The release to resume is one that holds some traffic without being the live
//! release: that is a cutover under way, whatever happened to the run that started it.

use crate::aws::ssm::Ssm;
use crate::aws::{self, AwsError, ConnectOptions};
use crate::cli::{GlobalArgs, ResumeArgs};
use crate::deploy::handover::{self, HandoverError};
use crate::error::{Diagnostic, Exit};
use crate::output::prompt::{confirm, Answer};
use crate::output::OutputSettings;
use crate::release::live::{observe_app, LiveError};
use crate::release::lock::{AppLocks, Holder, LockError};
use crate::route::hold;
use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Handover(#[from] HandoverError),
    #[error("not moving traffic of app {app} without confirmation: not on a terminal")]
    NeedsConfirmation { app: String },
    #[error("could not read the answer to the prompt")]
    Prompt(#[source] std::io::Error),
}

impl Diagnostic for ResumeError {
    fn exit(&self) -> Exit {
        match self {
            ResumeError::Spec(error) => error.exit(),
            ResumeError::Aws(error) => error.exit(),
            ResumeError::Lock(error) => error.exit(),
            ResumeError::Live(error) => error.exit(),
            ResumeError::Handover(error) => error.exit(),
            ResumeError::NeedsConfirmation { .. } | ResumeError::Prompt(_) => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ResumeError::Spec(error) => error.hint(),
            ResumeError::Aws(error) => error.hint(),
            ResumeError::Lock(error) => error.hint(),
            ResumeError::Live(error) => error.hint(),
            ResumeError::Handover(error) => error.hint(),
            ResumeError::NeedsConfirmation { .. } => Some("pass --yes".into()),
            ResumeError::Prompt(_) => None,
        }
    }
}

pub async fn run(
    args: ResumeArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, ResumeError> {
    let spec = crate::spec::load_app(&global.stacks_dir, &args.app)?;
    let context = aws::connect(&ConnectOptions::for_app(global, &spec)).await?;
    let app = observe_app(&context, &spec).await?;
    // Another app's release or baseline in the route: nothing of it is this app's to resume.
    app.check_own_route().map_err(HandoverError::from)?;
    let found = match handover::unfinished(&context, &spec, &app).await? {
        Some(candidate) => Some(candidate),
        None => handover::unbaked(&context, &spec, &app)
            .await
            .map(|(candidate, _)| candidate),
    };
    let Some(candidate) = found else {
        match hold::read(&Ssm::new(&context), &spec.name).await.map_err(HandoverError::from)? {
            Some(held) => eprintln!(
                "nothing to resume: {} of app {} is held on its test route; `cutover promote {}` or `cutover abort {}`",
                held.candidate, spec.name, spec.name, spec.name
            ),
            None => eprintln!(
                "nothing to resume: no release of app {} is part way through a cutover",
                spec.name
            ),
        }
        return Ok(Exit::Success);
    };
    if args.change.dry_run {
        println!(
            "would resume the cutover of app {} to {candidate}",
            spec.name
        );
        return Ok(Exit::Success);
    }
    if !args.change.yes {
        let question = format!("Resume the cutover of app {} to {candidate}?", spec.name);
        match confirm(&question, settings).map_err(ResumeError::Prompt)? {
            Answer::Yes => {}
            Answer::No => return Ok(Exit::Success),
            Answer::NoTerminal => {
                return Err(ResumeError::NeedsConfirmation {
                    app: spec.name.clone(),
                })
            }
        }
    }
    let locks = AppLocks::new(Ssm::new(&context));
    let lock = locks
        .acquire(
            &spec.name,
            &Holder::current(format!("resume {}", spec.name)),
        )
        .await?;
    let announcer = crate::notify::Announcer::for_app(&context, &spec, Vec::new()).await;
    // Observed again under the lock: another run may have finished it meanwhile.
    let outcome = match observe_app(&context, &spec).await {
        Ok(mut app) => {
            handover::resume_unfinished(
                &context,
                &spec,
                &mut app,
                &lock.ownership(),
                &announcer,
                settings,
            )
            .await
        }
        Err(error) => Err(HandoverError::from(error)),
    };
    lock.release_or_warn().await;
    announcer.finish().await;
    match outcome? {
        Some((_, outcome)) => {
            println!("{outcome}");
            Ok(outcome.exit())
        }
        None => {
            eprintln!("nothing to resume: another run finished the cutover");
            Ok(Exit::Success)
        }
    }
}
