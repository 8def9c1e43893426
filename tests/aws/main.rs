//! The one integration-test binary that talks to moto (it links the whole AWS SDK, so there is
//! only one). Each feature adds its module here. `scripts/test` runs it against a moto server it
//! starts; a bare `cargo test` starts one from `.venv` (see `support::moto_endpoint`).

#[path = "../support/mod.rs"]
mod support;

mod checks;
mod dashboard;
mod deploy;
mod fleet;
mod harness;
mod lifecycle;
mod release;
mod reliability;
mod routers;
mod routing;
mod targets;
mod test_traffic;
