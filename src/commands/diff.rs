//! `cutover diff OLD NEW`: compare two local template files (JSON or YAML, in any mix).

use std::io::Write;
use std::path::Path;

use crate::cli::FailOn;
use crate::diff::{diff, render_json, render_text, ReleaseView, StackDiff};
use crate::error::{Diagnostic, Exit};
use crate::output::OutputSettings;
use crate::template::{self, TemplateError};

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("cannot compare the templates")]
    Load(#[source] TemplateError),

    #[error("cannot write the diff to stdout")]
    Write(#[source] std::io::Error),
}

impl Diagnostic for DiffError {
    fn hint(&self) -> Option<String> {
        match self {
            // The loader's hint for unreadable files is about app specs; here the user typed it.
            DiffError::Load(TemplateError::Read { .. }) => {
                Some("`cutover diff OLD NEW` takes two template file paths".into())
            }
            DiffError::Load(error) => error.hint(),
            DiffError::Write(_) => None,
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
