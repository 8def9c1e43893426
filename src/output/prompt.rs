//! Asking the user before a change: only on a terminal; a pipeline must say `--yes`.

use std::io::{BufRead, Write};

use super::OutputSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// stdin or stderr is not a terminal: nobody can answer.
    NoTerminal,
}

/// Asks `question [y/N]` on stderr and reads the answer from stdin.
pub fn confirm(question: &str, settings: &OutputSettings) -> std::io::Result<Answer> {
    if !(settings.stdin_is_terminal && settings.stderr_is_terminal) {
        return Ok(Answer::NoTerminal);
    }
    let mut stderr = std::io::stderr().lock();
    write!(stderr, "{question} [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(
        if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            Answer::Yes
        } else {
            Answer::No
        },
    )
}
