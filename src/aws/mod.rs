//! The only module that talks to AWS: thin adapters over `aws_sdk_*` behind traits, errors
//! classified at the boundary (not found → `None`, throttled, rejected, unreachable).

pub mod addresses;
pub mod cloudformation;
pub mod cloudwatch;
mod connect;
pub mod elbv2;
mod error;
pub mod images;
pub mod instances;
pub mod listener_rules;
pub mod route53;
pub mod s3;
pub mod sns;
pub mod ssm;
pub mod stack_lifecycle;

pub use connect::{connect, AssumeRole, AwsContext, ConnectOptions, Contexts};
pub use error::{classify, AwsError, AwsErrorKind};
