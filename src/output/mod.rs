//! Everything the tool writes: data on stdout, progress and logs on stderr.

mod report;
mod style;

pub use report::print_error;
pub use style::{OutputSettings, Palette};
mod logging;

pub use logging::init_logging;
mod cutover_events;

pub use cutover_events::CutoverPrinter;
pub mod journal;
pub mod prompt;
pub mod secrets;
