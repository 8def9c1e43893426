//! CloudFormation templates (JSON or YAML, short-form intrinsics) → one canonical tree.

mod compare;
pub mod conditions;
mod error;
mod intrinsics;
mod json;
mod limits;
mod lines;
mod node;
pub mod references;
mod scalars;
mod yaml;

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use indexmap::IndexMap;
use sha2::{Digest, Sha256};

pub use compare::differing_paths;
pub use error::{Location, TemplateError};
pub use limits::{BODY_LIMIT, INLINE_BODY_LIMIT, OUTPUT_LIMIT, PARAMETER_LIMIT, RESOURCE_LIMIT};
pub use lines::KeyLines;
pub use node::Node;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
        })
    }
}

/// A loaded template: the exact text (what is sent to CloudFormation) and its canonical tree
/// (what is compared and inspected).
#[derive(Debug, Clone)]
pub struct Template {
    /// The file path as given, for messages.
    pub origin: String,
    pub format: Format,
    /// The exact source text.
    pub body: String,
    pub root: Node,
    /// Where each map key is written: found on first use ([`Template::lines`]).
    lines: OnceLock<KeyLines>,
}

/// Reads and loads a template file.
pub fn load_file(path: &Path) -> Result<Template, TemplateError> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| TemplateError::Read {
        path: origin.clone(),
        source,
    })?;
    let body = String::from_utf8(bytes).map_err(|_| TemplateError::NotUtf8 {
        path: origin.clone(),
    })?;
    parse(&body, &origin)
}

/// Loads a template from its text; `origin` names it in messages. JSON if the first
/// non-whitespace character is `{`, YAML otherwise.
pub fn parse(body: &str, origin: &str) -> Result<Template, TemplateError> {
    limits::check_body_size(body, origin)?;
    let format = detect_format(body);
    let mut root = parse_root(body, origin, format)?;
    intrinsics::normalise(&mut root);
    limits::check_structure(&root, origin)?;
    Ok(Template {
        origin: origin.to_string(),
        format,
        body: body.to_string(),
        root,
        lines: OnceLock::new(),
    })
}

/// The tree of `body`. A UTF-8 byte order mark at the start is not content: YAML 1.1 allows one
/// at the start of a stream (it names the encoding), and CloudFormation accepts templates that
/// begin with one, JSON or YAML. The body sent to CloudFormation is left as it is.
fn parse_root(body: &str, origin: &str, format: Format) -> Result<Node, TemplateError> {
    let text = without_bom(body);
    match format {
        Format::Json => json::parse(text, origin),
        Format::Yaml => yaml::parse(text, origin),
    }
}

fn without_bom(body: &str) -> &str {
    body.strip_prefix('\u{feff}').unwrap_or(body)
}

fn detect_format(body: &str) -> Format {
    // A UTF-8 byte order mark is whitespace to CloudFormation.
    let text = body.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('{') {
        Format::Json
    } else {
        Format::Yaml
    }
}

impl Template {
    /// Where each map key of the body is written (line numbers from 1), for messages that name
    /// a line. Read from the body on the first call: a diff never needs it.
    pub fn lines(&self) -> &KeyLines {
        self.lines.get_or_init(|| {
            let text = without_bom(&self.body);
            match self.format {
                Format::Json => KeyLines::of_json(text),
                Format::Yaml => yaml::key_lines(text),
            }
        })
    }

    pub fn resources(&self) -> Option<&IndexMap<String, Node>> {
        self.root.get("Resources").and_then(Node::as_map)
    }

    pub fn parameters(&self) -> Option<&IndexMap<String, Node>> {
        self.root.get("Parameters").and_then(Node::as_map)
    }

    pub fn outputs(&self) -> Option<&IndexMap<String, Node>> {
        self.root.get("Outputs").and_then(Node::as_map)
    }

    /// Parameters declared `NoEcho: true` (or `"true"`): their values are never printed.
    pub fn no_echo_parameters(&self) -> BTreeSet<String> {
        self.parameters()
            .into_iter()
            .flatten()
            .filter(|(_, declaration)| {
                declaration
                    .get("NoEcho")
                    .and_then(Node::scalar_text)
                    .is_some_and(|text| text.eq_ignore_ascii_case("true"))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Whether the body can be sent inline; larger templates are uploaded to S3 first.
    pub fn fits_inline(&self) -> bool {
        self.body.len() <= INLINE_BODY_LIMIT
    }

    /// SHA-256 of the exact body, lowercase hex.
    pub fn sha256_hex(&self) -> String {
        Sha256::digest(self.body.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// Loads a template file to compare it (`cutover diff`): CloudFormation's quotas (body size,
/// resource, parameter and output counts) are returned as a warning instead of failing, because
/// a diff of an oversized template is still worth reading; deploy refuses it with the same message.
/// Added by the diff task; the shape checks and parse errors are the same as `load_file`.
pub fn load_file_for_diff(path: &Path) -> Result<(Template, Option<TemplateError>), TemplateError> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| TemplateError::Read {
        path: origin.clone(),
        source,
    })?;
    let body = String::from_utf8(bytes).map_err(|_| TemplateError::NotUtf8 {
        path: origin.clone(),
    })?;
    let mut over_quota = limits::check_body_size(&body, &origin).err();
    let format = detect_format(&body);
    let mut root = parse_root(&body, &origin, format)?;
    intrinsics::normalise(&mut root);
    match limits::check_structure(&root, &origin) {
        Err(error @ TemplateError::TooMany { .. }) => over_quota = over_quota.or(Some(error)),
        other => other?,
    }
    let template = Template {
        origin,
        format,
        body,
        root,
        lines: OnceLock::new(),
    };
    Ok((template, over_quota))
}

#[cfg(test)]
mod tests;
