//! Pure template diff: (old, new) → StackDiff, and its text and JSON renderers.
//!
//! The engine compares semantically (JSON or YAML, key order, `"80"` vs `80` make no
//! difference), reports path-level changes, summarises IAM and security-group changes, flags
//! data-bearing resources, and masks NoEcho values before anything can render them.

mod catalog;
mod convert;
mod engine;
mod iam;
mod mask;
mod model;
mod network;
mod policy;
mod render_json;
mod render_text;
mod tree;

use std::collections::BTreeSet;

use indexmap::IndexMap;

use crate::template::Node;

pub use catalog::is_stateful;
pub use engine::diff;
pub use mask::{Scrubber, MASK};
pub use model::{
    ChangeKind, Direction, EntryChange, Path, PathSegment, PropertyChange, ResourceChange,
    RuleChange, SectionChange, SecuritySummary, StackDiff, StatefulResource, Statement,
    StatementChange, ValueChange, LONG_STRING,
};
pub use policy::policy_documents;
pub use render_json::{render_json, SCHEMA_VERSION};
pub use render_text::render_text;

/// One release as the diff sees it. The files mode fills only `template` and `no_echo`; the
/// app mode fills the live stack's from GetTemplate and DescribeStacks.
#[derive(Debug, Clone)]
pub struct ReleaseView {
    /// The whole template, long-form intrinsics (as the template loader produces it).
    pub template: Node,
    /// Resolved parameter values by name (empty in the files mode).
    pub parameters: IndexMap<String, String>,
    /// Stack tags.
    pub tags: IndexMap<String, String>,
    /// Names of NoEcho parameters. Parameters the template itself declares NoEcho are masked
    /// whether or not they are listed here.
    pub no_echo: BTreeSet<String>,
}

impl Default for ReleaseView {
    fn default() -> ReleaseView {
        ReleaseView {
            template: Node::Map(IndexMap::new()),
            parameters: IndexMap::new(),
            tags: IndexMap::new(),
            no_echo: BTreeSet::new(),
        }
    }
}

impl ReleaseView {
    /// A view of a template file alone: no resolved values, no tags.
    pub fn of_template(template: Node, no_echo: BTreeSet<String>) -> ReleaseView {
        ReleaseView {
            template,
            no_echo,
            ..ReleaseView::default()
        }
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod engine_tests;
