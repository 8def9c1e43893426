//! Routes and their ownership. A route is what one app's router writes: a listener's default
//! action, one listener rule, one weighted DNS name, one Elastic IP. An app owns its route and
//! never writes another app's ([`ownership`]); traffic a first deploy finds going to something
//! no release owns becomes the app's [`baseline`] with `--adopt`.

pub mod baseline;
pub mod hold;
pub mod ownership;
pub mod test_route;

pub use baseline::{Baseline, BaselineError, BaselineStore, BaselineTarget};
pub use ownership::{
    check_own_route, plan_adoption, Adoption, Owner, Owners, OwnershipError, RouteEntry,
};

use crate::error::{Diagnostic, Exit};

/// Why a command will not touch the app's route. Always before any change: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
}

impl Diagnostic for RouteError {
    fn exit(&self) -> Exit {
        Exit::Error
    }

    fn hint(&self) -> Option<String> {
        match self {
            RouteError::Ownership(error) => Some(error.hint()),
            RouteError::Baseline(error) => error.hint(),
        }
    }
}
