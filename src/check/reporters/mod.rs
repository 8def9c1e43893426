//! The reporters of `cutover check`: one file per output format, each a function of the same
//! reports (after cloudformation-guard's `reporters/`).

pub mod json;
pub mod sarif;
pub mod text;
