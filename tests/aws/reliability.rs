//! The reliability suite: the whole tool, end to end against moto, proving that it loses nothing.
//!
//! - `faults`: full blue/green cycles (canary deploy, rollback, retirement) through the fault
//!   proxy with a fifth of the AWS calls throttled, failed with a 5xx, reset or delayed.
//! - `crashes`: the binary killed with SIGKILL at each phase, then run again until it converges.
//! - `concurrency`: two and five runs on one app at once; apps sharing a load balancer together.
//! - `bad_input`: bad specs, templates, parameters, names, flags, targets and environments: a
//!   clear message and exit 2, in bounded time, with the AWS state byte-for-byte unchanged.
//! - `secrets`: NoEcho values, webhook tokens and credentials in no output of any command.
//!
//! The figures of the README's "Reliability" section are counted from these tests.

mod bad_input;
mod concurrency;
mod crashes;
mod faults;
mod secrets;
mod state;
