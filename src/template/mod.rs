//! CloudFormation templates (JSON or YAML, short-form intrinsics) → one canonical tree.

mod node;

pub use node::Node;
