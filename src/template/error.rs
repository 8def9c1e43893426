//! Why a template could not be loaded, always naming the file and, where known, the line.

use std::fmt;

use crate::error::Diagnostic;

use super::Format;

/// Where in which file a problem is: `templates/web.yaml:12:5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub origin: String,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based.
    pub column: Option<usize>,
}

impl Location {
    pub fn file(origin: &str) -> Location {
        Location {
            origin: origin.to_string(),
            line: None,
            column: None,
        }
    }

    pub fn at(origin: &str, line: usize, column: usize) -> Location {
        Location {
            origin: origin.to_string(),
            line: Some(line),
            column: Some(column),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// The YAML tags CloudFormation understands, as written in templates (for hints).
pub const SUPPORTED_TAGS: &str = "!Ref !Sub !GetAtt !Join !If !Equals !Not !And !Or !FindInMap \
     !Select !Split !Base64 !Cidr !GetAZs !ImportValue !GetStackOutput !Condition !Transform, the rule functions \
     !Contains !EachMemberEquals !EachMemberIn !RefAll !ValueOf !ValueOfAll, and (with the \
     AWS::LanguageExtensions transform) !Length !ToJsonString";

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{path}: cannot read the template file")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: cannot read the template: it is not UTF-8 text")]
    NotUtf8 { path: String },

    #[error("{at}: cannot parse the template: invalid {format}: {message}")]
    Syntax {
        at: Location,
        format: Format,
        message: String,
    },

    #[error("{at}: cannot load the template: unknown tag {tag}")]
    UnknownTag { at: Location, tag: String },

    #[error(
        "{at}: cannot load the template: key `{key}` appears twice (first on line {first_line})"
    )]
    DuplicateKey {
        at: Location,
        key: String,
        first_line: usize,
    },

    #[error("{at}: cannot load the template: a second YAML document starts here; a template is one document")]
    MultipleDocuments { at: Location },

    #[error("{at}: cannot load the template: {what}")]
    UnsupportedYaml { at: Location, what: String },

    #[error("{origin}: cannot load the template: it is {size} bytes, over CloudFormation's limit of {limit} bytes")]
    TooLarge {
        origin: String,
        size: usize,
        limit: usize,
    },

    #[error("{origin}: cannot load the template: {count} {section}, over CloudFormation's limit of {limit}")]
    TooMany {
        origin: String,
        section: &'static str,
        count: usize,
        limit: usize,
    },

    #[error("{origin}: cannot load the template: the top level is a {found}, not a map")]
    RootNotMap { origin: String, found: &'static str },

    #[error("{origin}: not a CloudFormation template: {reason}")]
    NotCloudFormation { origin: String, reason: String },

    #[error("{origin}: cannot load the template: `Resources` {problem}")]
    InvalidResources { origin: String, problem: String },

    #[error("{origin}: cannot load the template: resource `{name}` {problem}")]
    InvalidResource {
        origin: String,
        name: String,
        problem: String,
    },
}

impl TemplateError {
    /// The file the error is about.
    pub fn origin(&self) -> &str {
        match self {
            TemplateError::Read { path, .. } | TemplateError::NotUtf8 { path } => path,
            TemplateError::Syntax { at, .. }
            | TemplateError::UnknownTag { at, .. }
            | TemplateError::DuplicateKey { at, .. }
            | TemplateError::MultipleDocuments { at }
            | TemplateError::UnsupportedYaml { at, .. } => &at.origin,
            TemplateError::TooLarge { origin, .. }
            | TemplateError::TooMany { origin, .. }
            | TemplateError::RootNotMap { origin, .. }
            | TemplateError::NotCloudFormation { origin, .. }
            | TemplateError::InvalidResources { origin, .. }
            | TemplateError::InvalidResource { origin, .. } => origin,
        }
    }
}

impl Diagnostic for TemplateError {
    fn hint(&self) -> Option<String> {
        match self {
            TemplateError::Read { .. } => {
                Some("check the `template` path in the app spec; it is relative to the spec file's directory".into())
            }
            TemplateError::UnknownTag { tag, .. } if tag.starts_with("!Rain::") => Some(
                "this is a Rain template: expand it with `rain pkg` and point the spec at the output".into(),
            ),
            TemplateError::UnknownTag { .. } => {
                Some(format!("CloudFormation's YAML short forms are {SUPPORTED_TAGS}"))
            }
            TemplateError::DuplicateKey { .. } => Some(
                "YAML and JSON require unique keys; CloudFormation silently keeps the last one, so the first is lost: keep one".into(),
            ),
            TemplateError::TooLarge { .. } => Some(
                "split the template into nested stacks or move large inline code (e.g. Lambda ZipFile) to S3".into(),
            ),
            TemplateError::TooMany { .. } => {
                Some("split the template into nested stacks or separate apps".into())
            }
            TemplateError::NotCloudFormation { .. } => Some(
                "a CloudFormation template is a map with a `Resources` section of typed resources".into(),
            ),
            TemplateError::InvalidResource { .. } | TemplateError::InvalidResources { .. } => Some(
                "each resource is `Name: {Type: AWS::Service::Thing, Properties: {...}}`".into(),
            ),
            _ => None,
        }
    }
}
