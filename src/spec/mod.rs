//! App specs: `stacks/<app>.toml` → validated [`AppSpec`], with file:line errors.
//!
//! Loading runs in two passes: serde reads the TOML into `raw` structs that reject unknown keys
//! and wrong types (toml gives the byte span), then `validate` checks what needs more than one
//! key. Both report through [`SpecError`] with the file, line, column and key path. Nothing here
//! talks to AWS: value sources are resolved by the deploy. The format is documented field by field
//! in the README (section "App specs").

mod error;
mod names;
mod raw;
mod router_strategy;
mod source_map;
mod types;
mod validate;
pub(crate) use validate::region_name_problem;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use error::{KeyPath, Location, Segment, SpecError};
pub use names::{validate_app_name, validate_stack_name, MAX_APP_NAME, MAX_STACK_NAME};
pub use types::{
    AlbRouteSpec, AmiQuery, AppSpec, AwsTarget, Capability, CheckSpec, CompareGate, CompareKind,
    CompareMetric, GatesSpec, HttpGate, HttpTarget, IgnoreRule, NotifySpec, RecordType,
    RetentionSpec, RotationSpec, RouterSpec, StackSettings, StrategyKind, StrategySpec,
    TargetHealthGate, TestTrafficSpec, ValueSource, WebhookSpec,
};

use source_map::SourceMap;

/// The spec file of `app` in `stacks_dir`.
pub fn spec_path(stacks_dir: &Path, app: &str) -> PathBuf {
    stacks_dir.join(format!("{app}.toml"))
}

/// Loads and validates `<stacks_dir>/<app>.toml`. A missing file's error lists the apps that exist.
pub fn load_app(stacks_dir: &Path, app: &str) -> Result<AppSpec, SpecError> {
    validate_app_name(app).map_err(|reason| SpecError::AppName {
        name: app.to_owned(),
        path: None,
        reason,
    })?;
    let path = spec_path(stacks_dir, app);
    if !path.is_file() {
        return Err(SpecError::NotFound {
            app: app.to_owned(),
            available: list_apps(stacks_dir).unwrap_or_default(),
            path,
        });
    }
    load_file(&path)
}

/// Loads and validates one spec file; the app name is the file's stem.
pub fn load_file(path: &Path) -> Result<AppSpec, SpecError> {
    let name = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    validate_app_name(&name).map_err(|reason| SpecError::AppName {
        name: name.clone(),
        path: Some(path.to_owned()),
        reason,
    })?;
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(name, path, &text)
}

/// Parses and validates spec text as if read from `path` (used for messages and to resolve the
/// template).
pub fn parse(name: String, path: &Path, text: &str) -> Result<AppSpec, SpecError> {
    let map = SourceMap::new(path, text);
    let raw: raw::RawSpec = toml::from_str(text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        SpecError::Parse {
            at: map.location_of_offset(offset),
            key: map.path_at(offset),
            message: error.message().trim_end().to_owned(),
        }
    })?;
    validate::build(name, path, raw, &map)
}

/// Where a key of the spec at `path` is written, as `file:line:column` (the spec is read again:
/// for messages about what AWS said of a setting, after the spec was loaded). Only the file when
/// it cannot be read; the nearest present parent key for a key that is absent.
pub fn key_location(path: &Path, key: &KeyPath) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => SourceMap::new(path, &text).locate(key).to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// The 1-based line where a key of the spec at `path` is written (the nearest present parent
/// for an absent key); `None` when the spec cannot be read again.
pub fn key_line(path: &Path, key: &KeyPath) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(SourceMap::new(path, &text).locate(key).line)
}

/// The apps in `stacks_dir`: the sorted stems of its `*.toml` files.
pub fn list_apps(stacks_dir: &Path) -> Result<Vec<String>, SpecError> {
    let listing_error = |source| SpecError::ListApps {
        dir: stacks_dir.to_owned(),
        source,
    };
    let mut apps = Vec::new();
    for entry in std::fs::read_dir(stacks_dir).map_err(listing_error)? {
        let path = entry.map_err(listing_error)?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "toml")
            && path.is_file()
        {
            if let Some(stem) = path.file_stem() {
                apps.push(stem.to_string_lossy().into_owned());
            }
        }
    }
    apps.sort();
    Ok(apps)
}
