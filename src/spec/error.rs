//! What can go wrong loading an app spec. Every message names the file, and where the TOML allows
//! it the line, column and key.

use std::fmt;
use std::path::PathBuf;

use crate::error::Diagnostic;

/// A place in a spec file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// The dotted path to a value, as a user would write it: `router.listener`, `gates.alarms[1]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        KeyPath(segments)
    }

    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        KeyPath(segments)
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Loading or validating an app spec failed. Always bad input: exit code 2, before any AWS call.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("could not read the app spec {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("no app spec for `{app}`: {} does not exist", path.display())]
    NotFound {
        app: String,
        path: PathBuf,
        /// The apps that do exist in the stacks folder, for the hint.
        available: Vec<String>,
    },

    #[error("could not list the app specs in {}", dir.display())]
    ListApps {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The app name (the spec file's stem) cannot prefix a CloudFormation stack name.
    #[error("invalid app name `{name}`{}: {reason}", from_file(path))]
    AppName {
        name: String,
        path: Option<PathBuf>,
        reason: String,
    },

    /// TOML syntax, an unknown key or a value of the wrong type.
    #[error("{at}: {message}{}", in_key(key))]
    Parse {
        at: Location,
        key: KeyPath,
        message: String,
    },

    /// The TOML is well-formed but the spec does not make sense.
    #[error("{at}: {message}{}", in_key(key))]
    Invalid {
        at: Location,
        key: KeyPath,
        message: String,
        hint: Option<String>,
    },

    #[error("{at}: the template {} does not exist", template.display())]
    TemplateMissing { at: Location, template: PathBuf },
}

fn in_key(key: &KeyPath) -> String {
    if key.is_root() {
        String::new()
    } else {
        format!(" (at `{key}`)")
    }
}

fn from_file(path: &Option<PathBuf>) -> String {
    match path {
        Some(path) => format!(" (from the file name {})", path.display()),
        None => String::new(),
    }
}

impl Diagnostic for SpecError {
    fn hint(&self) -> Option<String> {
        match self {
            SpecError::NotFound { available, .. } if available.is_empty() => Some(
                "that folder has no *.toml app specs; point --stacks-dir at the folder that holds them"
                    .to_owned(),
            ),
            SpecError::NotFound { available, .. } => {
                Some(format!("apps found there: {}", available.join(", ")))
            }
            SpecError::ListApps { .. } => {
                Some("point --stacks-dir at the folder holding the <app>.toml specs".to_owned())
            }
            SpecError::AppName { .. } => Some(
                "rename the spec file: the name must start with a letter and hold only letters, \
                 digits and hyphens (at most 100 characters), because release stacks are named \
                 <app>-<release>"
                    .to_owned(),
            ),
            SpecError::Invalid { hint, .. } => hint.clone(),
            SpecError::TemplateMissing { .. } => Some(
                "`template` is relative to the folder of the spec file, e.g. \"../templates/web.yaml\""
                    .to_owned(),
            ),
            SpecError::Read { .. } | SpecError::Parse { .. } => None,
        }
    }
}
