//! What `cutover dashboard`, `deploy --report` and `history --html` show: view models built
//! purely from what was read ([`model`]), SVG charts ([`svg`]) and whole pages ([`page`]). The
//! server and the reading live in `commands::dashboard`.

pub mod model;
pub mod page;
pub mod svg;

#[cfg(test)]
mod tests;
