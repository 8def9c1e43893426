//! An app's history (`cutover history APP`), purely: every release it has had, from
//! CloudFormation itself (its stacks and their creation tags, deleted ones included, as
//! CloudFormation keeps them about 90 days) and the marks cutover recorded about them (SSM): no
//! local file. [`history`] builds the entries from what was read; the command does the reading.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use super::live::ObservedRelease;
use super::marks::{Ending, GateCheck, Mark, TrafficStep};
use super::tags::{ReleaseTags, Role};

/// A release stack that was deleted, with its creation tags (read back by its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedRelease {
    pub stack: String,
    pub tags: ReleaseTags,
    pub deleted: Option<SystemTime>,
    /// Its last status reason (why it was deleted: a failed creation says so).
    pub status_reason: Option<String>,
}

/// Where a release stands now, or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// It holds the traffic.
    Live,
    /// A previous release kept for rollback.
    Retained,
    /// Newer than the live release, without all the traffic (being deployed, or held).
    Candidate,
    /// Failed: see `ending` (shifted back, rolled back from, abandoned, aborted, failed to
    /// create).
    Failed,
    /// Being retired; it needs a look.
    Retiring,
    /// Deleted by retirement.
    Retired,
    /// Deleted, not by retirement (a failed creation cleaned up, or by hand).
    Deleted,
}

/// One release in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub release: String,
    pub stack: String,
    /// RFC 3339 UTC.
    pub created: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending: Option<Ending>,
    /// Why it failed, or what needs a look.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it failed (its gates, a rollback away from it, an abort), RFC 3339 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub took_traffic_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_traffic_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<String>,
    /// What its deletion left in the account (DeletionPolicy).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retained: Vec<String>,
    pub template_sha256: String,
    /// Who created it (the caller identity recorded on the stack at creation), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployed_by: Option<String>,
    /// Its traffic share now, for stacks that exist and a router that could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u8>,
    /// Its weight at each traffic step, oldest first (as far as the marks recorded them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<TrafficStep>,
    /// Its latest gate check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gates: Option<GateCheck>,
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Every release, newest first: the stacks that exist (with the roles `live` derived from the
/// router) and the deleted ones, each with its mark.
pub fn history(
    existing: &[ObservedRelease],
    deleted: &[DeletedRelease],
    marks: &BTreeMap<String, Mark>,
    deployed_by: &BTreeMap<String, String>,
) -> Vec<Entry> {
    let empty = Mark::default();
    let mut entries: Vec<(SystemTime, Entry)> = Vec::new();
    for release in existing {
        let mark = marks.get(release.name()).unwrap_or(&empty);
        let state = match release.role {
            Role::Live => State::Live,
            Role::Retained => State::Retained,
            Role::Candidate | Role::Baseline => State::Candidate,
            Role::Failed => State::Failed,
            Role::Retiring => State::Retiring,
        };
        let ending = match state {
            State::Failed => mark.ending.or_else(|| {
                is_failed_creation(&release.stack.status).then_some(Ending::FailedToCreate)
            }),
            _ => None,
        };
        let reason = match state {
            State::Failed | State::Retiring => release
                .tags
                .attention
                .clone()
                .or_else(|| release.tags.failed_reason.clone())
                .or_else(|| release.stack.status_reason.clone()),
            _ => None,
        };
        entries.push((
            release.tags.created,
            entry(
                &release.tags,
                release.name(),
                state,
                ending,
                reason,
                mark,
                deployed_by,
                release.weight,
            ),
        ));
    }
    for release in deleted {
        // A stack that exists again under the same name is shown once, as it is now.
        if existing
            .iter()
            .any(|live| live.name() == release.stack && live.tags.created == release.tags.created)
        {
            continue;
        }
        let mark = marks
            .get(&release.stack)
            .filter(|mark| mark_belongs(mark, release))
            .unwrap_or(&empty);
        let failed_creation = release
            .status_reason
            .as_deref()
            .is_some_and(|reason| reason.contains("create") || reason.contains("CREATE"));
        let (state, ending) = if mark.retired_at.is_some() {
            (State::Retired, mark.ending)
        } else if mark.ending == Some(Ending::FailedToCreate) || failed_creation {
            (State::Deleted, Some(Ending::FailedToCreate))
        } else {
            (State::Deleted, mark.ending)
        };
        let mut entry = entry(
            &release.tags,
            &release.stack,
            state,
            ending,
            mark.failed_reason.clone(),
            mark,
            deployed_by,
            None,
        );
        if entry.retired_at.is_none() && state == State::Deleted {
            entry.retired_at = release.deleted.map(rfc3339);
        }
        entries.push((release.tags.created, entry));
    }
    entries.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.stack.cmp(&a.1.stack)));
    entries.into_iter().map(|(_, entry)| entry).collect()
}

/// A mark is of this deleted stack unless the name was used again later: a mark newer than the
/// stack's deletion belongs to the newer stack.
fn mark_belongs(mark: &Mark, release: &DeletedRelease) -> bool {
    let Some(deleted) = release.deleted else {
        return true;
    };
    let later = |time: &Option<String>| {
        time.as_deref()
            .and_then(|text| humantime::parse_rfc3339(text).ok())
            .is_some_and(|at| at > deleted + std::time::Duration::from_secs(60))
    };
    !(later(&mark.took_traffic_at) || later(&mark.failed_at))
}

fn is_failed_creation(status: &str) -> bool {
    matches!(
        status,
        "CREATE_FAILED" | "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED"
    )
}

#[allow(clippy::too_many_arguments)]
fn entry(
    tags: &ReleaseTags,
    stack: &str,
    state: State,
    ending: Option<Ending>,
    reason: Option<String>,
    mark: &Mark,
    deployed_by: &BTreeMap<String, String>,
    weight: Option<u8>,
) -> Entry {
    Entry {
        release: tags.release.as_str().to_string(),
        stack: stack.to_string(),
        created: rfc3339(tags.created),
        state,
        ending,
        reason,
        ended_at: mark.failed_at.clone(),
        took_traffic_at: mark.took_traffic_at.clone(),
        lost_traffic_at: mark.lost_traffic_at.clone(),
        retired_at: mark.retired_at.clone(),
        retained: mark.retained.clone(),
        template_sha256: tags.template_sha256.clone(),
        deployed_by: deployed_by.get(stack).cloned(),
        weight,
        steps: mark.steps.clone(),
        gates: mark.gates.clone(),
    }
}

/// One line per release, newest first.
pub fn render_text(app: &str, entries: &[Entry]) -> String {
    if entries.is_empty() {
        return format!("app {app} has no releases in this account and region\n");
    }
    let mut out = format!("{app}\n");
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|entry| {
            let state = match (entry.state, entry.ending) {
                (State::Retired, Some(ending)) => format!("retired ({})", ending_text(ending)),
                (_, Some(ending)) => ending_text(ending).to_string(),
                (state, None) => state_text(state).to_string(),
            };
            let traffic = match (&entry.took_traffic_at, &entry.lost_traffic_at) {
                (Some(took), Some(lost)) => format!("{took} → {lost}"),
                (Some(took), None) => format!("{took} →"),
                (None, _) => "-".to_string(),
            };
            [
                entry.release.clone(),
                entry.stack.clone(),
                entry.created.clone(),
                state,
                traffic,
                entry.template_sha256.chars().take(12).collect(),
            ]
        })
        .collect();
    let headers = [
        "RELEASE",
        "STACK",
        "CREATED",
        "OUTCOME",
        "HELD ALL TRAFFIC",
        "TEMPLATE",
    ];
    let widths: Vec<usize> = (0..headers.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .chain([headers[column].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let mut text = String::from(" ");
        for (index, cell) in cells.iter().enumerate() {
            text.push(' ');
            text.push_str(cell);
            if index + 1 < cells.len() {
                text.push_str(&" ".repeat(widths[index] - cell.chars().count() + 1));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    out.push_str(&line(&headers.map(String::from)));
    for (row, entry) in rows.iter().zip(entries) {
        out.push_str(&line(row));
        if let Some(reason) = &entry.reason {
            out.push_str(&format!("      {reason}\n"));
        }
        if let Some(by) = &entry.deployed_by {
            out.push_str(&format!("      deployed by {by}\n"));
        }
        for left in &entry.retained {
            out.push_str(&format!("      left in the account: {left}\n"));
        }
    }
    out
}

fn state_text(state: State) -> &'static str {
    match state {
        State::Live => "live",
        State::Retained => "retained",
        State::Candidate => "candidate",
        State::Failed => "failed",
        State::Retiring => "retiring",
        State::Retired => "retired",
        State::Deleted => "deleted",
    }
}

fn ending_text(ending: Ending) -> &'static str {
    match ending {
        Ending::ShiftedBack => "shifted back",
        Ending::Abandoned => "abandoned before traffic",
        Ending::RolledBackFrom => "rolled back from",
        Ending::Aborted => "aborted",
        Ending::FailedToCreate => "failed to create",
    }
}
