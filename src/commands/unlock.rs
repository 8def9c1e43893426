//! `cutover unlock APP`: break an app's lock left behind by a run that died, after showing who
//! holds it. `--dry-run` only shows the holder.

use std::io::Write;
use std::time::SystemTime;

use serde_json::json;

use crate::aws::ssm::Ssm;
use crate::aws::{self, AwsError, ConnectOptions};
use crate::cli::{GlobalArgs, UnlockArgs};
use crate::error::{Diagnostic, Exit};
use crate::output::prompt::{self, Answer};
use crate::output::OutputSettings;
use crate::release::lock::{AppLocks, LockError, LockRecord};
use crate::release::naming::{check_app_name, NamingError};

#[derive(Debug, thiserror::Error)]
pub enum UnlockError {
    #[error(transparent)]
    Name(#[from] NamingError),
    #[error("could not connect to AWS")]
    Connect(#[source] AwsError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("refusing to break the lock of app {app} without confirmation (not on a terminal)")]
    NeedsConfirmation { app: String },
    #[error("could not read the answer to the prompt")]
    Prompt(#[source] std::io::Error),
    #[error("could not write to stdout")]
    Output(#[source] std::io::Error),
    #[error("not breaking the lock of app {app}: its holder, pid {pid} on this machine, is a cutover run still alive")]
    HolderAlive { app: String, pid: u32 },
}

impl Diagnostic for UnlockError {
    fn exit(&self) -> Exit {
        match self {
            UnlockError::Name(error) => error.exit(),
            UnlockError::Connect(error) => error.exit(),
            // The lock changed while we asked: someone else holds it now.
            UnlockError::Lock(error) => error.exit(),
            UnlockError::NeedsConfirmation { .. }
            | UnlockError::Prompt(_)
            | UnlockError::Output(_) => Exit::Error,
            UnlockError::HolderAlive { .. } => Exit::Locked,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            UnlockError::Name(error) => error.hint(),
            UnlockError::Connect(error) => error.hint(),
            UnlockError::Lock(LockError::Locked { app, .. }) => Some(format!(
                "the lock changed hands while you were asked; run `cutover unlock {app}` again to see the new holder"
            )),
            UnlockError::Lock(error) => error.hint(),
            UnlockError::NeedsConfirmation { .. } => Some("pass --yes to break it".into()),
            UnlockError::Prompt(_) | UnlockError::Output(_) => None,
            UnlockError::HolderAlive { pid, .. } => Some(format!(
                "wait for it to finish, or stop it (`kill {pid}`: it turns its cutover back) and unlock again; --force breaks the lock anyway, and that run stops at its next traffic move"
            )),
        }
    }
}

/// What the lock held before this command, for the report.
enum Found {
    Free,
    Held(LockRecord),
    /// A record that is not cutover's JSON: it can only be deleted.
    Unreadable(String),
}

pub async fn run(
    args: UnlockArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, UnlockError> {
    let app = args.app.as_str();
    check_app_name(app)?;
    // The lock lives in the app's account and region: its spec's [aws], when there is a spec.
    let options = match crate::spec::load_app(&global.stacks_dir, app) {
        Ok(spec) => ConnectOptions::for_app(global, &spec),
        Err(_) => ConnectOptions::from_args(global),
    };
    let context = aws::connect(&options).await.map_err(UnlockError::Connect)?;
    let locks = AppLocks::new(Ssm::new(&context));
    let found = match locks.holder(app).await {
        Ok(Some(record)) => Found::Held(record),
        Ok(None) => Found::Free,
        Err(LockError::Unreadable { reason, .. }) => Found::Unreadable(reason),
        Err(error) => return Err(error.into()),
    };

    let palette = settings.stderr_palette();
    let record = match found {
        Found::Free => {
            eprintln!("App {app} is not locked; nothing to do.");
            print(
                settings,
                json!({ "app": app, "locked": false, "broken": false }),
                None,
            )?;
            return Ok(Exit::Success);
        }
        Found::Held(record) => {
            let state = if record.is_expired(SystemTime::now()) {
                "expired".to_string()
            } else {
                "still valid: if that run is alive, it will go on changing the app".to_string()
            };
            eprintln!(
                "{} app {app} is locked by {record} ({state})",
                palette.warning("warning:")
            );
            Some(record)
        }
        Found::Unreadable(reason) => {
            eprintln!(
                "{} app {app} holds a lock record cutover cannot read ({reason})",
                palette.warning("warning:")
            );
            None
        }
    };

    // Breaking the lock of a run that is alive lets two runs drive the app at once: on the same
    // machine that can be seen (its pid runs cutover), so it is refused unless forced.
    if let Some(record) = record.as_ref().filter(|_| !args.force) {
        if holder_alive_here(record) {
            return Err(UnlockError::HolderAlive {
                app: app.to_string(),
                pid: record.pid,
            });
        }
    }
    if args.change.dry_run {
        print(
            settings,
            json!({ "app": app, "locked": true, "holder": record, "broken": false, "dry_run": true }),
            Some(match &record {
                Some(record) => {
                    format!("App {app} is locked by {record}.\nDry run: the lock was kept.\n")
                }
                None => format!(
                    "App {app} holds an unreadable lock record.\nDry run: the lock was kept.\n"
                ),
            }),
        )?;
        return Ok(Exit::Success);
    }
    if !args.change.yes && !confirm(app, settings)? {
        eprintln!("The lock was kept.");
        return Ok(Exit::Success);
    }
    // Only the lock that was shown: if another run took it meanwhile, that one is left alone.
    let token = record.as_ref().map(|record| record.token.as_str());
    let broken = locks.break_lock(app, token).await?;
    let text = match (&record, &broken) {
        (Some(_), None) => format!("The lock of app {app} was already gone.\n"),
        (Some(record), Some(_)) => format!("Broke the lock of app {app} held by {record}.\n"),
        (None, _) => format!("Removed the unreadable lock record of app {app}.\n"),
    };
    print(
        settings,
        json!({ "app": app, "locked": true, "holder": record, "broken": broken.is_some() || record.is_none() }),
        Some(text),
    )?;
    Ok(Exit::Success)
}

/// The result on stdout: JSON, or the text line when there is one.
fn print(
    settings: &OutputSettings,
    value: serde_json::Value,
    text: Option<String>,
) -> Result<(), UnlockError> {
    let mut stdout = std::io::stdout().lock();
    if settings.json() {
        writeln!(stdout, "{value:#}").map_err(UnlockError::Output)
    } else if let Some(text) = text {
        stdout
            .write_all(text.as_bytes())
            .map_err(UnlockError::Output)
    } else {
        Ok(())
    }
}

/// Asks on the terminal; refuses without one (a script must say `--yes`).
fn confirm(app: &str, settings: &OutputSettings) -> Result<bool, UnlockError> {
    let question = format!("Break the lock of app {app}?");
    match prompt::confirm(&question, settings).map_err(UnlockError::Prompt)? {
        Answer::NoTerminal => Err(UnlockError::NeedsConfirmation {
            app: app.to_string(),
        }),
        answer => Ok(answer == Answer::Yes),
    }
}

/// Whether the lock's holder is a cutover process alive on this machine: same host name, and
/// `/proc/<pid>/cmdline` names cutover (a reused pid of another program is not it). Without
/// `/proc` (not Linux) nothing can be told: `false`.
fn holder_alive_here(record: &LockRecord) -> bool {
    let here = crate::release::lock::Holder::current("").host;
    if record.host != here || record.pid == std::process::id() {
        return false;
    }
    std::fs::read(format!("/proc/{}/cmdline", record.pid))
        .map(|cmdline| {
            let first = cmdline.split(|byte| *byte == 0).next().unwrap_or_default();
            String::from_utf8_lossy(first).contains("cutover")
        })
        .unwrap_or(false)
}
