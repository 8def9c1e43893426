//! The human lines of a notification: the chat `text` and the SNS subject, composed from the
//! structured fields so that every target says the same thing.

use std::collections::BTreeMap;

use super::{EventKind, Notification};

/// A gate's reason can be a whole report; the chat line keeps its start (the JSON keeps it all).
const MAX_REASON_CHARS: usize = 300;
/// SNS rejects subjects of 100 characters or more.
pub(super) const MAX_SUBJECT_CHARS: usize = 99;

/// One line, e.g. "web r2: shifted back to web-r1 (gates failed: alarm web-5xx in ALARM) in
/// 123456789012/us-east-1".
pub(super) fn compose(notification: &Notification) -> String {
    let Notification {
        event,
        stack,
        weights,
        reason,
        ..
    } = notification;
    let reason_in_parens = reason
        .as_deref()
        .map(|reason| format!(" ({})", one_line(reason)))
        .unwrap_or_default();
    let what = match event {
        EventKind::DeployStarted => format!(
            "deploy started{}",
            with(stack.as_deref(), |stack| format!(" as stack {stack}"))
        ),
        EventKind::TrafficStep => match weights.as_ref().filter(|weights| !weights.is_empty()) {
            Some(weights) => format!("traffic now {}", traffic(weights)),
            None => "traffic step".to_string(),
        },
        EventKind::DeploySucceeded => format!(
            "deployed{}",
            with(stack.as_deref(), |stack| format!(
                ", all traffic on {stack}"
            ))
        ),
        EventKind::ShiftedBack => format!(
            "shifted back{}{reason_in_parens}",
            with(stack.as_deref(), |stack| format!(" to {stack}"))
        ),
        EventKind::DeployFailed => format!("deploy failed{reason_in_parens}"),
        EventKind::RollbackDone => format!(
            "rolled back{}{reason_in_parens}",
            with(stack.as_deref(), |stack| format!(" to {stack}"))
        ),
        EventKind::ReleaseRetired => format!(
            "retired{}",
            with(stack.as_deref(), |stack| format!(", stack {stack} deleted"))
        ),
        EventKind::RetirementFailed => format!(
            "retirement failed{}{reason_in_parens}",
            with(stack.as_deref(), |stack| format!(" for stack {stack}"))
        ),
        // The summary ("retired r1, r2; kept r3") is the point of this one: not in parentheses.
        EventKind::RotateSummary => match reason.as_deref() {
            Some(summary) => format!("rotation done: {}", one_line(summary)),
            None => "rotation done".to_string(),
        },
        EventKind::ReleaseHeld => format!("held on its test route{reason_in_parens}"),
        EventKind::ReleaseAborted => format!("aborted{reason_in_parens}"),
        EventKind::RollbackFailed => format!(
            "rollback{} failed{reason_in_parens}",
            with(stack.as_deref(), |stack| format!(" to {stack}"))
        ),
    };
    format!("{}: {what}{}", head(notification), place(notification))
}

/// "cutover: web r2 shifted back", at most [`MAX_SUBJECT_CHARS`], no control characters.
pub(super) fn subject(notification: &Notification) -> String {
    let what = match notification.event {
        EventKind::DeployStarted => "deploy started",
        EventKind::TrafficStep => "traffic step",
        EventKind::DeploySucceeded => "deployed",
        EventKind::ShiftedBack => "shifted back",
        EventKind::DeployFailed => "deploy failed",
        EventKind::RollbackDone => "rolled back",
        EventKind::ReleaseRetired => "retired",
        EventKind::RetirementFailed => "retirement failed",
        EventKind::RotateSummary => "rotation done",
        EventKind::ReleaseHeld => "held",
        EventKind::ReleaseAborted => "aborted",
        EventKind::RollbackFailed => "rollback failed",
    };
    let subject: String = format!("cutover: {} {what}", head(notification))
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(&subject, MAX_SUBJECT_CHARS)
}

/// "web r2", or "web" when the event is about the app as a whole.
fn head(notification: &Notification) -> String {
    match &notification.release {
        Some(release) => format!("{} {release}", notification.app),
        None => notification.app.clone(),
    }
}

/// " in 123456789012/us-east-1", or as much of it as is known.
fn place(notification: &Notification) -> String {
    match (&notification.account, &notification.region) {
        (Some(account), Some(region)) => format!(" in {account}/{region}"),
        (None, Some(region)) => format!(" in {region}"),
        (Some(account), None) => format!(" in account {account}"),
        (None, None) => String::new(),
    }
}

fn with(value: Option<&str>, format: impl FnOnce(&str) -> String) -> String {
    value.map(format).unwrap_or_default()
}

/// "web-r1 90%, web-r2 10%": most traffic first, which is also what a reader looks for first.
fn traffic(weights: &BTreeMap<String, u8>) -> String {
    let mut entries: Vec<(&String, &u8)> = weights.iter().collect();
    entries.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    entries
        .iter()
        .map(|(stack, percent)| format!("{stack} {percent}%"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Multi-line reasons joined with "; ", cut at [`MAX_REASON_CHARS`].
fn one_line(text: &str) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    truncate(&joined, MAX_REASON_CHARS)
}

/// At most `max` characters; a cut text ends with "…" so that the reader knows.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}
