use std::io::Write;

use super::Palette;

/// Prints an error once, with its whole chain: `error:`, one `caused by:` per source, `hint:`.
///
/// Error types follow the rule that Display never repeats the source, so each line is new text.
pub fn print_error(error: &dyn std::error::Error, hint: Option<&str>, palette: Palette) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{} {}", palette.error("error:"), error);
    let mut source = error.source();
    let mut previous = error.to_string();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Wrappers that forward Display (thiserror's `transparent`) would print a line twice.
        if text != previous {
            let _ = writeln!(stderr, "{} {}", palette.dim("caused by:"), text);
        }
        previous = text;
        source = cause.source();
    }
    if let Some(hint) = hint {
        let _ = writeln!(stderr, "{} {}", palette.hint("hint:"), hint);
    }
}
