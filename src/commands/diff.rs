//! `cutover diff OLD NEW`: compare two local template files (JSON or YAML, in any mix).

use std::io::Write;
use std::path::Path;

use std::time::SystemTime;

use crate::aws::{self, ConnectOptions};
use crate::cli::{FailOn, GlobalArgs};
use crate::deploy::handover::HandoverError;
use crate::deploy::plan::{prepare, CandidateOptions};
use crate::deploy::render::render_plan;
use crate::deploy::DeployError;
use crate::diff::{diff, render_json, render_text, ReleaseView, StackDiff};
use crate::error::{Diagnostic, Exit};
use crate::output::OutputSettings;
use crate::release::live::observe_app;
use crate::template::{self, TemplateError};

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("cannot compare the templates")]
    Load(#[source] TemplateError),

    #[error("cannot write the diff to stdout")]
    Write(#[source] std::io::Error),

    #[error(transparent)]
    Render(#[from] DeployError),
}

impl Diagnostic for DiffError {
    fn exit(&self) -> Exit {
        match self {
            DiffError::Render(error) => error.exit(),
            _ => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            // The loader's hint for unreadable files is about app specs; here the user typed it.
            DiffError::Load(TemplateError::Read { .. }) => {
                Some("`cutover diff OLD NEW` takes two template file paths".into())
            }
            DiffError::Load(error) => error.hint(),
            DiffError::Write(_) => None,
            DiffError::Render(error) => error.hint(),
        }
    }
}

/// Loads both files (before printing anything), diffs them and prints the result on stdout.
pub fn run_files(
    old_path: &Path,
    new_path: &Path,
    fail_on: Option<FailOn>,
    settings: &OutputSettings,
) -> Result<Exit, DiffError> {
    let old = load(old_path)?;
    let new = load(new_path)?;
    let (old_no_echo, new_no_echo) = (old.no_echo_parameters(), new.no_echo_parameters());
    let old_view = ReleaseView::of_template(old.root, old_no_echo);
    let new_view = ReleaseView::of_template(new.root, new_no_echo);
    let result = diff(Some(&old_view), &new_view);
    print_diff(&result, settings)?;
    Ok(exit_for(&result, fail_on))
}

/// `cutover diff APP`: the next release (template, resolved parameters, tags) against the live
/// stack of the app, exactly as `deploy` would show it in its plan. Reads AWS, changes nothing.
pub async fn run_app(
    app: &str,
    release: Option<String>,
    fail_on: Option<FailOn>,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, DiffError> {
    let spec = crate::spec::load_app(&global.stacks_dir, app).map_err(DeployError::from)?;
    let template = template::load_file(&spec.template).map_err(DeployError::from)?;
    let options = CandidateOptions {
        release,
        ..CandidateOptions::default()
    };
    let candidate = prepare(&spec, template, &options, SystemTime::now())?;
    let context = aws::connect(&ConnectOptions::for_app(global, &spec))
        .await
        .map_err(DeployError::from)?;
    let observed = observe_app(&context, &spec)
        .await
        .map_err(|error| DeployError::from(HandoverError::from(error)))?;
    let plan = render_plan(
        &context,
        &spec,
        candidate,
        spec.stack.rollback_alarms.clone(),
        &observed,
    )
    .await?;
    match &plan.previous {
        Some(previous) => tracing::info!("comparing with {}", previous.release.stack.name),
        None => tracing::info!("app {app} has no release yet: everything is added"),
    }
    print_diff(&plan.diff, settings)?;
    Ok(exit_for(&plan.diff, fail_on))
}

/// A template over one of CloudFormation's quotas is still compared, with a warning: the diff
/// is for reading, and deploy refuses such a template anyway.
fn load(path: &Path) -> Result<template::Template, DiffError> {
    let (template, over_quota) = template::load_file_for_diff(path).map_err(DiffError::Load)?;
    if let Some(quota) = over_quota {
        tracing::warn!("{quota}; comparing it anyway, but CloudFormation will refuse it");
    }
    Ok(template)
}

/// Writes the diff in the chosen format; a closed pipe (`| head`) is not an error.
pub fn print_diff(result: &StackDiff, settings: &OutputSettings) -> Result<(), DiffError> {
    let text = if settings.json() {
        let mut text = serde_json::to_string_pretty(&render_json(result))
            .map_err(|error| DiffError::Write(error.into()))?;
        text.push('\n');
        text
    } else {
        render_text(result, settings.stdout_palette())
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(DiffError::Write(error))
        }
        _ => Ok(()),
    }
}

/// Like diff(1): 0 no differences, 1 differences; `--fail-on broadening` only fails on
/// widened access.
pub fn exit_for(result: &StackDiff, fail_on: Option<FailOn>) -> Exit {
    let failed = match fail_on {
        Some(FailOn::Broadening) => result.is_broadening(),
        Some(FailOn::Any) | None => result.has_differences(),
    };
    if failed {
        Exit::Changes
    } else {
        Exit::Success
    }
}
