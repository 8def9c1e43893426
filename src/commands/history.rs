//! `cutover history APP`: every release the app has had, newest first, from CloudFormation (its
//! stacks, deleted ones included, and their creation tags) and cutover's marks in SSM. Reads only.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::json;

use crate::aws::cloudformation::{CloudFormation, StackApi};
use crate::aws::ssm::Ssm;
use crate::aws::stack_lifecycle::{StackLifecycle, StackLifecycleApi};
use crate::aws::{self, AwsError, ConnectOptions};
use crate::cli::{GlobalArgs, HistoryArgs};
use crate::error::{Diagnostic, Exit};
use crate::output::OutputSettings;
use crate::release::history::{self, DeletedRelease};
use crate::release::live::{observe_app, LiveError};
use crate::release::marks::{self, MarkError};
use crate::release::tags::{self, ReleaseTags};
use crate::spec::SpecError;

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
            HistoryError::Write(_) => Exit::Error,
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
    let app = observe_app(&context, &spec).await?;
    let marks = marks::read_all(&Ssm::new(&context), &spec.name).await?;
    // Deleted stacks named like the app's releases, kept when their own tags say they were this
    // app's (`web-…` could also be app `web-shop`'s).
    let stacks = CloudFormation::new(&context);
    let listed = StackLifecycle::new(&context)
        .deleted_stacks_with_prefix(&format!("{}-", spec.name))
        .await
        .map_err(|source| HistoryError::Deleted {
            app: spec.name.clone(),
            source,
        })?;
    let mut deleted = Vec::new();
    let mut deployed_by = BTreeMap::new();
    for stack in &app.releases {
        if let Some(by) = stack.stack.tag(tags::DEPLOYED_BY) {
            deployed_by.insert(stack.name().to_string(), by.to_string());
        }
    }
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
            deployed_by
                .entry(summary.name.clone())
                .or_insert_with(|| by.to_string());
        }
        deleted.push(DeletedRelease {
            stack: summary.name,
            tags,
            deleted: summary.deleted,
            status_reason: facts.status_reason,
        });
    }
    let entries = history::history(&app.releases, &deleted, &marks, &deployed_by);
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
    Ok(Exit::Success)
}
