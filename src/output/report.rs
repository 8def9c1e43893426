use std::io::Write;

use super::Palette;

/// Prints an error once, with its whole chain: `error:`, one `caused by:` per source, `hint:`.
///
/// Error types follow the rule that Display never repeats the source, so each line is new text.
pub fn print_error(error: &dyn std::error::Error, hint: Option<&str>, palette: Palette) {
    let mut stderr = std::io::stderr().lock();
    let scrub = |text: &str| super::secrets::scrub(text).into_owned();
    let _ = writeln!(
        stderr,
        "{} {}",
        palette.error("error:"),
        scrub(&error.to_string())
    );
    let mut source = error.source();
    let mut previous = error.to_string();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Wrappers that forward Display (thiserror's `transparent`) would print a line twice.
        if text != previous {
            let _ = writeln!(stderr, "{} {}", palette.dim("caused by:"), scrub(&text));
        }
        previous = text;
        source = cause.source();
    }
    if let Some(hint) = hint {
        let _ = writeln!(stderr, "{} {}", palette.hint("hint:"), scrub(hint));
    }
}
