//! Which release a rollback goes to, checked before anything changes: a stack of this app (by
//! its `cutover:app` tag, not its name), existing, in a healthy complete state. A stack that was
//! retired is told apart from one that never existed, so the user can be offered `--rebuild`.

use std::time::SystemTime;

use super::RollbackError;
use crate::aws::cloudformation::{StackApi, StackFacts};
use crate::aws::stack_lifecycle::StackLifecycleApi;
use crate::release::live::{is_complete, AppReleases, ObservedRelease};
use crate::release::tags::APP;
use crate::release::ReleaseId;
use crate::router::BASELINE;

/// Where the rollback goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A release stack that exists and can take traffic.
    Existing(ObservedRelease),
    /// A release of this app that retention deleted; only `--rebuild` can bring it back.
    Retired(RetiredStack),
    /// The app's baseline (`--to baseline`): the traffic its first deploy adopted.
    Baseline,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredStack {
    pub name: String,
    /// The deleted stack's ARN: its template, parameters and tags stay readable by it.
    pub id: String,
    pub deleted: Option<SystemTime>,
    /// DescribeStacks by ARN after deletion.
    pub facts: StackFacts,
}

impl Target {
    pub fn name(&self) -> &str {
        match self {
            Target::Existing(release) => release.name(),
            Target::Retired(retired) => &retired.name,
            Target::Baseline => BASELINE,
        }
    }
}

/// The stack names `--to VALUE` may mean: the value itself, and `<app>-<VALUE>` when the value
/// is a valid release id.
fn names_for(app: &str, to: &str) -> Vec<String> {
    let mut names = vec![to.to_string()];
    if ReleaseId::new(to).is_ok() {
        let qualified = format!("{app}-{to}");
        if qualified != to {
            names.push(qualified);
        }
    }
    names
}

/// Resolves `--to` (or the default: the newest retained release before the live one, else the
/// baseline). Only reads; every refusal is an error that says nothing was changed.
pub async fn resolve_target(
    stacks: &impl StackApi,
    lifecycle: &impl StackLifecycleApi,
    app: &AppReleases,
    to: Option<&str>,
) -> Result<Target, RollbackError> {
    let Some(to) = to else {
        return match (app.previous_release(), app.default_rollback_target()) {
            (Some(release), _) => Ok(Target::Existing(release.clone())),
            (None, Some(BASELINE)) => Ok(Target::Baseline),
            _ => Err(RollbackError::NoPreviousRelease {
                app: app.app.clone(),
                live: app.live_name().map(str::to_string),
            }),
        };
    };
    if to == BASELINE {
        return match &app.baseline {
            Some(_) => Ok(Target::Baseline),
            None => Err(RollbackError::NoBaseline {
                app: app.app.clone(),
            }),
        };
    }
    let names = names_for(&app.app, to);
    if let Some(release) = names.iter().find_map(|name| app.find(name)) {
        return existing(release);
    }
    // Not among the app's live stacks: someone else's, one with broken tags, retired, or none.
    for name in &names {
        let described =
            stacks
                .describe_stack(name)
                .await
                .map_err(|source| RollbackError::Lookup {
                    target: to.to_string(),
                    source,
                })?;
        if let Some(facts) = described {
            return Err(match facts.tag(APP) {
                Some(owner) if owner == app.app => RollbackError::UnreadableRelease {
                    stack: facts.name.clone(),
                    app: app.app.clone(),
                },
                owner => RollbackError::NotThisApp {
                    stack: facts.name.clone(),
                    app: app.app.clone(),
                    owner: owner.map(str::to_string),
                },
            });
        }
    }
    for name in &names {
        let deleted =
            lifecycle
                .deleted_stacks(name)
                .await
                .map_err(|source| RollbackError::Lookup {
                    target: to.to_string(),
                    source,
                })?;
        for stack in deleted {
            let facts =
                stacks
                    .describe_stack(&stack.id)
                    .await
                    .map_err(|source| RollbackError::Lookup {
                        target: to.to_string(),
                        source,
                    })?;
            let Some(facts) = facts else { continue };
            if facts.tag(APP) != Some(app.app.as_str()) {
                return Err(RollbackError::NotThisApp {
                    stack: stack.name.clone(),
                    app: app.app.clone(),
                    owner: facts.tag(APP).map(str::to_string),
                });
            }
            return Ok(Target::Retired(RetiredStack {
                name: stack.name,
                id: stack.id,
                deleted: stack.deleted,
                facts,
            }));
        }
    }
    Err(RollbackError::NoSuchStack {
        target: to.to_string(),
        app: app.app.clone(),
        tried: names,
    })
}

fn existing(release: &ObservedRelease) -> Result<Target, RollbackError> {
    if !is_complete(&release.stack.status) {
        return Err(RollbackError::Unhealthy {
            stack: release.name().to_string(),
            status: release.stack.status.clone(),
        });
    }
    Ok(Target::Existing(release.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_id_also_names_the_apps_stack() {
        assert_eq!(names_for("web", "r2"), ["r2", "web-r2"]);
        assert_eq!(names_for("web", "web-r2"), ["web-r2", "web-web-r2"]);
        // Not a valid release id: only the name as given.
        assert_eq!(names_for("web", "arn:aws:x"), ["arn:aws:x"]);
    }
}
