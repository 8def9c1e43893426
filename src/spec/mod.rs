//! App specs: stacks/<app>.toml → validated AppSpec, with file:line errors.
