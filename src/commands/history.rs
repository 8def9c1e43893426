//! `cutover history APP`: every release the app has had, newest first, from CloudFormation (its
//! stacks, deleted ones included, and their creation tags) and cutover's marks in SSM. Reads only.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::SystemTime;

use serde_json::json;

use crate::aws::cloudformation::{CloudFormation, StackApi};
use crate::aws::stack_lifecycle::{StackLifecycle, StackLifecycleApi};
use crate::aws::{self, AwsContext, AwsError, ConnectOptions};
use crate::cli::{GlobalArgs, HistoryArgs};
use crate::error::{Diagnostic, Exit};
use crate::output::OutputSettings;
use crate::release::history::{self, DeletedRelease, Entry};
use crate::release::live::{observe_app, AppReleases, LiveError};
use crate::release::marks::{self, MarkError};
use crate::release::tags::{self, ReleaseTags};
use crate::spec::{AppSpec, SpecError};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("could not connect to AWS")]
    Connect(#[source] AwsError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Marks(#[from] MarkError),
    #[error("could not list the deleted stacks of app {app}")]
    Deleted {
        app: String,
        #[source]
        source: AwsError,
    },
    #[error("could not write the history")]
    Write(#[source] std::io::Error),
    #[error("could not write the HTML history to {path}")]
    Report {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Diagnostic for HistoryError {
    fn exit(&self) -> Exit {
        match self {
            HistoryError::Spec(error) => error.exit(),
            HistoryError::Connect(error) | HistoryError::Deleted { source: error, .. } => {
                error.exit()
            }
            HistoryError::Live(error) => error.exit(),
            HistoryError::Marks(error) => error.exit(),
            HistoryError::Write(_) | HistoryError::Report { .. } => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            HistoryError::Spec(error) => error.hint(),
            HistoryError::Connect(error) | HistoryError::Deleted { source: error, .. } => {
                error.hint()
            }
            HistoryError::Live(error) => error.hint(),
            HistoryError::Marks(error) => error.hint(),
            HistoryError::Write(_) => None,
            HistoryError::Report { .. } => {
                Some("check that the folder exists and can be written".to_string())
            }
        }
    }
}

pub async fn run(
    args: HistoryArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, HistoryError> {
    let spec = crate::spec::load_app(&global.stacks_dir, &args.app)?;
    let context = aws::connect(&ConnectOptions::for_app(global, &spec))
        .await
        .map_err(HistoryError::Connect)?;
    let AppHistory { app, entries } = read(&context, &spec).await?;
    let text = if settings.json() {
        let account = context.account().await;
        format!(
            "{:#}\n",
            json!({ "app": spec.name, "account": account, "region": context.region(), "releases": entries })
        )
    } else {
        history::render_text(&spec.name, &entries)
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(HistoryError::Write)?;
    drop(stdout);
    if let Some(path) = &args.html {
        let account = context.account().await;
        let view = crate::dashboard::model::app_view(
            &app,
            &entries,
            crate::dashboard::model::Place {
                account,
                region: context.region().map(str::to_string),
            },
            None,
        );
        let html = crate::dashboard::page::history_report(&view, &entries, SystemTime::now());
        crate::dashboard::page::write_report(path, &html).map_err(|source| {
            HistoryError::Report {
                path: path.display().to_string(),
                source,
            }
        })?;
        if settings.verbosity >= 0 {
            eprintln!("history of {} written to {}", spec.name, path.display());
        }
    }
    Ok(Exit::Success)
}

/// The app as observed now and its history, newest first.
pub struct AppHistory {
    pub app: AppReleases,
    pub entries: Vec<Entry>,
}

/// Reads the app's releases, marks and deleted release stacks (read-only).
pub async fn read(context: &AwsContext, spec: &AppSpec) -> Result<AppHistory, HistoryError> {
    let app = observe_app(context, spec).await?;
    let deleted = read_deleted(context, spec).await?;
    let entries = entries(&app, &deleted, &app.marks);
    Ok(AppHistory { app, entries })
}

/// The app's deleted release stacks (as CloudFormation keeps them, about 90 days) and who
/// deployed each.
#[derive(Debug, Clone, Default)]
pub struct DeletedReleases {
    pub releases: Vec<DeletedRelease>,
    pub deployed_by: BTreeMap<String, String>,
}

/// Reads the deleted stacks named like the app's releases, kept when their own tags say they
/// were this app's (`web-…` could also be app `web-shop`'s): a listing of the account's deleted
/// stacks and one DescribeStacks per match.
pub async fn read_deleted(
    context: &AwsContext,
    spec: &AppSpec,
) -> Result<DeletedReleases, HistoryError> {
    let stacks = CloudFormation::new(context);
    let listed = StackLifecycle::new(context)
        .deleted_stacks_with_prefix(&format!("{}-", spec.name))
        .await
        .map_err(|source| HistoryError::Deleted {
            app: spec.name.clone(),
            source,
        })?;
    let mut found = DeletedReleases::default();
    for summary in listed {
        let Ok(Some(facts)) = stacks.describe_stack(&summary.id).await else {
            continue;
        };
        let pairs = facts.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let Ok(Some(tags)) = ReleaseTags::from_stack_tags(pairs) else {
            continue;
        };
        if tags.app != spec.name {
            continue;
        }
        if let Some(by) = facts.tag(tags::DEPLOYED_BY) {
            found
                .deployed_by
                .entry(summary.name.clone())
                .or_insert_with(|| by.to_string());
        }
        found.releases.push(DeletedRelease {
            stack: summary.name,
            tags,
            deleted: summary.deleted,
            status_reason: facts.status_reason,
        });
    }
    Ok(found)
}

/// The history from what was read: the app now, its deleted releases and its marks.
pub fn entries(
    app: &AppReleases,
    deleted: &DeletedReleases,
    marks: &BTreeMap<String, marks::Mark>,
) -> Vec<Entry> {
    let mut deployed_by = deleted.deployed_by.clone();
    for stack in &app.releases {
        if let Some(by) = stack.stack.tag(tags::DEPLOYED_BY) {
            deployed_by.insert(stack.name().to_string(), by.to_string());
        }
    }
    history::history(&app.releases, &deleted.releases, marks, &deployed_by)
}
