//! Release naming, cutover's own tags, discovering an app's stacks and which one is live, retention.

pub mod aws_sources;
pub mod discovery;
pub mod history;
pub mod live;
pub mod lock;
pub mod marks;
pub mod naming;
pub mod params;
pub mod resolved;
pub mod retention;
pub mod retire;
mod retire_report;
pub mod tags;

pub use naming::{parse_stack_name, stack_name, NamingError, ReleaseId};
pub use tags::{release_tags, ReleaseTags, Role, Tag, TagError};
