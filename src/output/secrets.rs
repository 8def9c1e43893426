//! The values no output of this process may show: NoEcho and `secret` parameter values once
//! they are resolved, and the webhook token once it is read. Every sink (the error chain,
//! progress lines, cutover events, logs, stdout of a deploy, what is stored in SSM marks) masks
//! them with [`crate::diff::MASK`], whatever text they turn up in: an AWS error that quotes a
//! parameter value, a gate command that echoes one.
//!
//! Process-wide on purpose: the values are found deep in a deploy, and the text that may carry
//! them (an SDK error, a log line) is written far from there.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{OnceLock, RwLock};

use crate::diff::Scrubber;

fn registry() -> &'static RwLock<(Vec<String>, Scrubber)> {
    static REGISTRY: OnceLock<RwLock<(Vec<String>, Scrubber)>> = OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new((Vec::new(), Scrubber::new(Vec::new()))))
}

/// Adds values to mask from now on (empty ones are ignored).
pub fn register(secrets: impl IntoIterator<Item = String>) {
    let new: Vec<String> = secrets
        .into_iter()
        .filter(|secret| !secret.is_empty())
        .collect();
    if new.is_empty() {
        return;
    }
    let mut guard = registry()
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (known, scrubber) = &mut *guard;
    known.extend(new);
    *scrubber = Scrubber::new(known.iter().cloned());
}

/// Credentials from the environment (the secret access key and the session token) are masked
/// too: a gate command or an SDK log could print them. Values shorter than a real secret key
/// (40 characters; placeholders like `testing`) are left alone so ordinary words stay readable.
pub fn register_environment_credentials() {
    register(
        ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
            .into_iter()
            .filter_map(|name| std::env::var(name).ok())
            .filter(|value| value.len() >= 16),
    );
}

/// Every value registered so far.
pub fn registered() -> Vec<String> {
    registry()
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .0
        .clone()
}

/// `text` with every registered value masked.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let guard = registry()
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match guard.1.scrub(text) {
        Some(masked) => Cow::Owned(masked),
        None => Cow::Borrowed(text),
    }
}

/// stderr for the log subscriber, masking every write (the formatter writes a whole event at
/// once, so a value is never split between two writes).
pub struct ScrubbedStderr;

impl Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr()
            .lock()
            .write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_everywhere_after() {
        assert_eq!(
            scrub("value zq-secret-9f3k stays"),
            "value zq-secret-9f3k stays"
        );
        register(["zq-secret-9f3k".to_string(), String::new()]);
        assert_eq!(scrub("value zq-secret-9f3k stays"), "value **** stays");
        register(["another-77x1".to_string()]);
        assert_eq!(scrub("zq-secret-9f3k and another-77x1"), "**** and ****");
    }
}
