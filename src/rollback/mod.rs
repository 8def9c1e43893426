//! Rollback by stack name: traffic goes back to a retained release through the router, behind
//! the app's gates unless forced. Nothing is built (that is the point of keeping old stacks),
//! except with `--rebuild` for a release retention already deleted.
//!
//! - [`target`]: which release, refused with nothing changed when it is not this app's, is gone
//!   or is not healthy;
//! - [`rebuild`]: a retired release recreated from its recorded template and parameters;
//! - [`shift`]: the traffic move and the mark on the release rolled away from.

pub mod baseline;
pub mod rebuild;
pub mod shift;
pub mod target;

use std::time::SystemTime;

use crate::aws::AwsError;
use crate::cutover::CutoverError;
use crate::deploy::DeployError;
use crate::error::{Diagnostic, Exit};
use crate::release::live::LiveError;
use crate::release::lock::LockError;
use crate::release::params::ParamError;
use crate::route::RouteError;
use crate::router::RouterError;
use crate::spec::SpecError;
use crate::template::TemplateError;

pub use rebuild::{plan_rebuild, rebuild_release, RebuildPlan};
pub use shift::{mark_rolled_away, shift_traffic, Shifted};
pub use target::{resolve_target, RetiredStack, Target};

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(
        "{target} has no output {output} (the spec's {key}): the router cannot send traffic to it"
    )]
    TargetMissingOutput {
        target: String,
        output: String,
        key: &'static str,
        declared: String,
    },
    #[error("{target} is held on its test route: a rollback does not skip its gates")]
    TargetHeld { app: String, target: String },
    #[error("could not read the hold of app {app}")]
    Hold {
        app: String,
        #[source]
        source: crate::route::hold::HoldError,
    },
    #[error("could not connect to AWS")]
    Connect(#[source] AwsError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("could not look up rollback target {target}; nothing was changed")]
    Lookup {
        target: String,
        #[source]
        source: AwsError,
    },
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("app {app} has no baseline to roll back to (none was adopted on this route, or retention let it go); nothing was changed")]
    NoBaseline { app: String },
    #[error("refusing to send the traffic back to the baseline: {reason}; nothing was changed")]
    BaselineUnready { reason: String },
    #[error("could not look at the baseline ({target}); nothing was changed")]
    BaselineLookup {
        target: String,
        #[source]
        source: AwsError,
    },
    #[error("app {app} has no retained release to roll back to{}; nothing was changed", live.as_ref().map(|live| format!(" (live: {live})")).unwrap_or_default())]
    NoPreviousRelease { app: String, live: Option<String> },
    #[error("refusing to roll back to stack {stack}: it is not a release of app {app} ({}); nothing was changed", owner.as_ref().map(|owner| format!("its cutover:app tag says {owner}")).unwrap_or_else(|| "it has no cutover:app tag".into()))]
    NotThisApp {
        stack: String,
        app: String,
        owner: Option<String>,
    },
    #[error("refusing to roll back to stack {stack}: it is tagged as app {app}'s but its cutover tags cannot be read; nothing was changed")]
    UnreadableRelease { stack: String, app: String },
    #[error("refusing to roll back to {target}: app {app} has no such stack (looked for {}); nothing was changed", tried.join(", "))]
    NoSuchStack {
        target: String,
        app: String,
        tried: Vec<String>,
    },
    #[error("refusing to roll back to stack {stack}: it is {status}, not CREATE_COMPLETE or UPDATE_COMPLETE; nothing was changed")]
    Unhealthy { stack: String, status: String },
    #[error("refusing to roll back to stack {stack}: cutover marked it failed ({reason}); nothing was changed")]
    MarkedFailed { stack: String, reason: String },
    #[error("refusing to roll back to stack {stack}: it is being retired ({reason}); nothing was changed")]
    BeingRetired { stack: String, reason: String },
    #[error("refusing to roll back to stack {stack}: it was retired{}; nothing was changed", deleted.map(|at| format!(" (deleted {})", humantime::format_rfc3339_seconds(at))).unwrap_or_default())]
    Retired {
        stack: String,
        app: String,
        deleted: Option<SystemTime>,
    },
    #[error("cannot move the traffic of app {app}: its router could not be set up or read; nothing was changed")]
    RouterUnavailable {
        app: String,
        #[source]
        source: Option<RouterError>,
    },
    #[error("could not move the traffic of app {app}")]
    Router {
        app: String,
        #[source]
        source: RouterError,
    },
    #[error(transparent)]
    Cutover(#[from] CutoverError),
    #[error("cannot rebuild stack {stack}: its recorded template cannot be read")]
    RecordedTemplate {
        stack: String,
        #[source]
        source: TemplateError,
    },
    #[error("cannot rebuild stack {stack}: could not read what CloudFormation recorded for it")]
    Recorded {
        stack: String,
        #[source]
        source: AwsError,
    },
    #[error("cannot rebuild stack {stack}: parameter {parameter} is NoEcho, so AWS returns it masked, and the spec {spec} gives no source to resolve it again")]
    MaskedSecret {
        stack: String,
        parameter: String,
        spec: String,
    },
    #[error("cannot rebuild stack {stack}: parameter {parameter} could not be resolved again from the spec")]
    Resolve {
        stack: String,
        parameter: String,
        #[source]
        source: ParamError,
    },
    #[error(transparent)]
    Rebuild(#[from] DeployError),
    #[error("the lock of app {app} was taken from this run (held now by {holder}); the traffic was not moved{}", rebuilt.as_ref().map(|stack| format!(" (rebuilt stack {stack} is left without traffic)")).unwrap_or_default())]
    LockLost {
        app: String,
        holder: String,
        rebuilt: Option<String>,
    },
    #[error("not rolling app {app} back without confirmation: not on a terminal")]
    NeedsConfirmation { app: String },
    #[error("could not ask for confirmation")]
    Prompt(#[source] std::io::Error),
    #[error("could not write the output")]
    Write(#[source] std::io::Error),
}

impl Diagnostic for RollbackError {
    fn exit(&self) -> Exit {
        match self {
            RollbackError::Spec(error) => error.exit(),
            RollbackError::Connect(error) => error.exit(),
            RollbackError::Live(error) => error.exit(),
            RollbackError::Lock(error) => error.exit(),
            RollbackError::Cutover(error) => error.exit(),
            RollbackError::Rebuild(error) => error.exit(),
            RollbackError::Route(error) => error.exit(),
            RollbackError::LockLost { .. } => Exit::Locked,
            _ => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            RollbackError::Spec(error) => error.hint(),
            RollbackError::Connect(error) => error.hint(),
            RollbackError::Live(error) => error.hint(),
            RollbackError::Lock(error) => error.hint(),
            RollbackError::Cutover(error) => error.hint(),
            RollbackError::Rebuild(error) => error.hint(),
            RollbackError::Route(error) => error.hint(),
            RollbackError::TargetMissingOutput { declared, key, .. } => Some(format!(
                "its outputs are: {declared}; check `{key}` in the app spec"
            )),
            RollbackError::TargetHeld { app, .. } => Some(format!(
                "`cutover promote {app}` moves traffic to it behind its gates; `cutover abort {app}` gives it up"
            )),
            RollbackError::Hold { source, .. } => source.hint(),
            RollbackError::BaselineUnready { .. } => Some(
                "the baseline is not cutover's: bring it back (register healthy targets, start the instance), or pass --force to move the traffic anyway".into(),
            ),
            RollbackError::BaselineLookup { source, .. } => source.hint(),
            RollbackError::NoBaseline { app } => Some(format!(
                "`cutover status {app}` lists the releases (and the baseline, when there is one); pass one with --to STACK"
            )),
            RollbackError::Lookup { source, .. } | RollbackError::Recorded { source, .. } => {
                source.hint()
            }
            RollbackError::Router { source, .. } => source.hint(),
            RollbackError::RouterUnavailable { source, .. } => {
                source.as_ref().and_then(|source| source.hint())
            }
            RollbackError::NoPreviousRelease { app, .. }
            | RollbackError::NotThisApp { app, .. }
            | RollbackError::NoSuchStack { app, .. }
            | RollbackError::UnreadableRelease { app, .. } => Some(format!(
                "`cutover status {app}` lists the releases of the app; pass one with --to STACK"
            )),
            RollbackError::MarkedFailed { .. } => Some(
                "a release turned back from is not cut over to again behind the gates; pass --force to send all traffic to it anyway (no gates), or deploy a new release".into(),
            ),
            RollbackError::BeingRetired { .. } => Some(
                "pick another release with --to; `cutover status` shows the releases and their roles".into(),
            ),
            RollbackError::Unhealthy { .. } => {
                Some("pick another release with --to; `cutover status` shows their states".into())
            }
            RollbackError::Retired { stack, app, .. } => Some(format!(
                "`cutover rollback {app} --to {stack} --rebuild` recreates it as a new release from its recorded template and parameters (NoEcho parameters are resolved again from the spec), then moves traffic to it"
            )),
            RollbackError::MaskedSecret { parameter, .. } => Some(format!(
                "add {parameter} to [parameters] in the spec (e.g. {{ env = \"VAR\" }} or {{ ssm = \"/path\" }})"
            )),
            RollbackError::Resolve { source, .. } => source.hint(),
            RollbackError::NeedsConfirmation { .. } => {
                Some("pass --yes to roll back without asking, or --dry-run to see the plan".into())
            }
            _ => None,
        }
    }
}
