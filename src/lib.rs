//! cutover: immutable CloudFormation releases.
//!
//! Every release of an app is a new stack; traffic moves to it behind health gates; old releases
//! stay for rollback until retention retires them. See "Architecture" in the README for the layout: pure
//! decisions (`diff`, `cutover`, `rotation`, retention in `release`) are separate from the code
//! that acts on AWS (`aws`, `router`, `gates`).

// Errors carry what the user needs (the lock holder, the stack, the AWS message) and are only
// built on the failing path of commands that wait on the network: their size does not matter.
#![allow(clippy::result_large_err)]

pub mod aws;
pub mod check;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod cutover;
pub mod dashboard;
pub mod deploy;
pub mod diff;
pub mod error;
pub mod gates;
pub mod https;
pub mod interrupt;
pub mod notify;
pub mod output;
pub mod release;
pub mod rollback;
pub mod rotation;
pub mod route;
pub mod router;
pub mod spec;
pub mod template;
