//! The dashboard's view models, built purely from what was read: an app's releases and router
//! ([`AppReleases`]), its history ([`Entry`]), a release stack's events ([`StackEvent`]) and a
//! deploy's journal. Pages and charts ([`super::page`], [`super::svg`]) only draw these.

use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

use crate::aws::cloudformation::StackEvent;
use crate::cutover::CutoverEvent;
use crate::output::journal::JournalEntry;
use crate::release::history::{Entry, State};
use crate::release::live::AppReleases;
use crate::release::marks::Ending;
use crate::release::Role;
use crate::router::BASELINE;

/// Where an app lives: its account (as STS says) and region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Place {
    pub account: Option<String>,
    pub region: Option<String>,
}

/// Every app of the stacks folder, as the dashboard shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DashboardView {
    #[serde(serialize_with = "rfc3339")]
    pub read_at: SystemTime,
    pub apps: Vec<AppView>,
}

/// One app: its releases with their traffic, who holds its lock, its last gate check and its
/// timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppView {
    pub app: String,
    #[serde(flatten)]
    pub place: Place,
    /// Release stacks that exist, oldest first, then the baseline when it is routed.
    pub releases: Vec<ReleaseView>,
    /// Why the router could not be read (the weights are then unknown).
    pub router_error: Option<String>,
    /// The lock record's holder, while a run holds the app.
    pub lock_holder: Option<String>,
    /// A release `deploy --hold` left on its test route: `web-r2 (X-Release: r2), by …`.
    pub held: Option<String>,
    /// The newest gate check recorded for any release of the app.
    pub gates: Option<GateView>,
    /// Oldest first.
    pub timeline: Vec<TimelineEvent>,
    /// Why the app could not be read at all (the rest is then empty).
    pub error: Option<String>,
    /// Not read yet (the dashboard serves at once; the first read follows).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reading: bool,
}

/// One release (or the baseline) now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseView {
    /// The stack name, or `baseline`.
    pub stack: String,
    /// live, candidate, retained, failed, retiring, baseline.
    pub role: &'static str,
    /// Percent of the traffic; `None` when the router could not be read.
    pub weight: Option<u8>,
    /// CloudFormation's stack status (`-` for the baseline).
    pub status: String,
    #[serde(serialize_with = "rfc3339_option")]
    pub created: Option<SystemTime>,
}

/// A gate check as the marks recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateView {
    pub stack: String,
    /// RFC 3339 UTC.
    pub at: String,
    pub passed: bool,
    pub summary: String,
}

/// What happened to a release at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Happening {
    Created,
    /// From then on it had `weight` percent of the traffic.
    Step {
        weight: u8,
    },
    ShiftedBack,
    RolledBackFrom,
    Abandoned,
    Aborted,
    FailedToCreate,
    Retired,
    Deleted,
}

impl Happening {
    /// Whether the release failed at this moment (drawn as a cross, in the failure colour).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Happening::ShiftedBack
                | Happening::RolledBackFrom
                | Happening::Abandoned
                | Happening::Aborted
                | Happening::FailedToCreate
        )
    }

    /// `created`, `10% of the traffic`, `shifted back`, ….
    pub fn describe(self) -> String {
        match self {
            Happening::Created => "created".to_string(),
            Happening::Step { weight: 100 } => "took all the traffic (100%)".to_string(),
            Happening::Step { weight: 0 } => "lost its traffic (0%)".to_string(),
            Happening::Step { weight } => format!("{weight}% of the traffic"),
            Happening::ShiftedBack => "shifted back".to_string(),
            Happening::RolledBackFrom => "rolled back from".to_string(),
            Happening::Abandoned => "abandoned before it took traffic".to_string(),
            Happening::Aborted => "aborted".to_string(),
            Happening::FailedToCreate => "failed to create".to_string(),
            Happening::Retired => "retired (stack deleted)".to_string(),
            Happening::Deleted => "stack deleted".to_string(),
        }
    }
}

/// One point of an app's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEvent {
    #[serde(serialize_with = "rfc3339")]
    pub at: SystemTime,
    /// The release's stack.
    pub stack: String,
    #[serde(flatten)]
    pub happening: Happening,
}

/// The app as the dashboard shows it, from what was read. `entries` is its history
/// (newest first, as [`crate::release::history::history`] gives it); the held release and the
/// lock are set by the caller when it read them.
pub fn app_view(
    app: &AppReleases,
    entries: &[Entry],
    place: Place,
    lock_holder: Option<String>,
) -> AppView {
    let mut releases: Vec<ReleaseView> = app
        .releases
        .iter()
        .map(|release| ReleaseView {
            stack: release.name().to_string(),
            role: role_word(release.role),
            weight: release.weight,
            status: release.stack.status.clone(),
            created: Some(release.tags.created),
        })
        .collect();
    if let Some(baseline) = app.baseline.as_ref().filter(|baseline| baseline.routed) {
        releases.push(ReleaseView {
            stack: BASELINE.to_string(),
            role: role_word(Role::Baseline),
            weight: baseline.weight,
            status: "-".to_string(),
            created: None,
        });
    }
    let gates = entries
        .iter()
        .filter_map(|entry| {
            entry.gates.as_ref().map(|check| GateView {
                stack: entry.stack.clone(),
                at: check.at.clone(),
                passed: check.passed,
                summary: check.summary.clone(),
            })
        })
        .max_by(|a, b| a.at.cmp(&b.at));
    AppView {
        app: app.app.clone(),
        place,
        releases,
        router_error: app
            .router_error
            .as_ref()
            .map(|error| crate::release::retire::error_line(error)),
        lock_holder,
        held: None,
        gates,
        timeline: timeline(entries),
        error: None,
        reading: false,
    }
}

/// An app that could not be read: its name, where it should be, and why.
pub fn unreadable_app(app: &str, place: Place, error: String) -> AppView {
    AppView {
        app: app.to_string(),
        place,
        releases: Vec::new(),
        router_error: None,
        lock_holder: None,
        held: None,
        gates: None,
        timeline: Vec::new(),
        error: Some(error),
        reading: false,
    }
}

/// An app not read yet: its name only.
pub fn pending_app(app: &str) -> AppView {
    AppView {
        error: None,
        reading: true,
        ..unreadable_app(app, Place::default(), String::new())
    }
}

fn role_word(role: Role) -> &'static str {
    match role {
        Role::Live => "live",
        Role::Candidate => "candidate",
        Role::Retained => "retained",
        Role::Failed => "failed",
        Role::Retiring => "retiring",
        Role::Baseline => "baseline",
    }
}

/// Every release's moments, oldest first: created, each traffic step the marks recorded (or, for
/// releases from before steps were recorded, when it took and lost all the traffic), how it
/// ended, and its deletion. Moments at the same time keep that order, older releases first.
pub fn timeline(entries: &[Entry]) -> Vec<TimelineEvent> {
    let mut events = Vec::new();
    // Oldest release first: times are whole seconds, and within one second an older release's
    // moment comes first (it took the traffic before the next release was created).
    for entry in entries.iter().rev() {
        let mut push = |at: Option<&str>, happening: Happening| {
            if let Some(at) = at.and_then(|text| humantime::parse_rfc3339(text).ok()) {
                events.push(TimelineEvent {
                    at,
                    stack: entry.stack.clone(),
                    happening,
                });
            }
        };
        push(Some(&entry.created), Happening::Created);
        if entry.steps.is_empty() {
            push(
                entry.took_traffic_at.as_deref(),
                Happening::Step { weight: 100 },
            );
            push(
                entry.lost_traffic_at.as_deref(),
                Happening::Step { weight: 0 },
            );
        }
        for step in &entry.steps {
            push(
                Some(&step.at),
                Happening::Step {
                    weight: step.weight,
                },
            );
        }
        let ending = entry.ending.map(|ending| match ending {
            Ending::ShiftedBack => Happening::ShiftedBack,
            Ending::Abandoned => Happening::Abandoned,
            Ending::RolledBackFrom => Happening::RolledBackFrom,
            Ending::Aborted => Happening::Aborted,
            Ending::FailedToCreate => Happening::FailedToCreate,
        });
        if let Some(ending) = ending {
            // When it ended: the failure's time, else when it lost the traffic, else its end.
            let at = entry
                .ended_at
                .as_deref()
                .or(entry.lost_traffic_at.as_deref())
                .or(entry.retired_at.as_deref())
                .unwrap_or(&entry.created);
            push(Some(at), ending);
        }
        match entry.state {
            State::Retired => push(entry.retired_at.as_deref(), Happening::Retired),
            State::Deleted => push(entry.retired_at.as_deref(), Happening::Deleted),
            _ => {}
        }
    }
    // By the second: creation times are whole seconds (stack tags), steps are not. Stable, so
    // within a second older releases come first and a release's own moments keep their order.
    events.sort_by_key(|event| {
        event
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    });
    events
}

/// How a resource's operation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Complete,
    Failed,
    /// Started and not finished when the events were read.
    InProgress,
    /// `DELETE_SKIPPED`: left in the account by its DeletionPolicy.
    Skipped,
}

/// One resource's create, update or delete as a bar from its first `…_IN_PROGRESS` event to its
/// `…_COMPLETE` / `…_FAILED` one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceBar {
    pub logical_id: String,
    pub resource_type: String,
    /// CREATE, UPDATE, DELETE, ROLLBACK, … (the status's first word).
    pub operation: String,
    #[serde(serialize_with = "rfc3339")]
    pub start: SystemTime,
    /// `None` while in progress.
    #[serde(serialize_with = "rfc3339_option")]
    pub end: Option<SystemTime>,
    pub outcome: Outcome,
    /// The reason of its failure (or of the last event that had one).
    pub reason: Option<String>,
}

impl ResourceBar {
    /// From start to end, or to `now` while in progress.
    pub fn duration(&self, now: SystemTime) -> Duration {
        self.end
            .unwrap_or(now)
            .duration_since(self.start)
            .unwrap_or_default()
    }
}

/// The stack's events (in any order, as CloudFormation lists them: newest first) as one bar per
/// resource and operation, ordered by start, then by logical id. Events without a timestamp are
/// skipped. The stack itself is a bar too (its logical id is the stack's name).
pub fn resource_bars(events: &[StackEvent]) -> Vec<ResourceBar> {
    let mut ordered: Vec<(usize, &StackEvent, SystemTime)> = events
        .iter()
        .enumerate()
        .filter_map(|(index, event)| event.timestamp.map(|at| (index, event, at)))
        .collect();
    // Oldest first; CloudFormation lists newest first, so among equal times the later index is
    // the older event.
    ordered.sort_by(|a, b| a.2.cmp(&b.2).then(b.0.cmp(&a.0)));
    let mut bars: Vec<ResourceBar> = Vec::new();
    for (_, event, at) in ordered {
        let (operation, state) = split_status(&event.status);
        let open = bars.iter_mut().rev().find(|bar| {
            bar.logical_id == event.logical_id
                && bar.operation == operation
                && bar.outcome == Outcome::InProgress
        });
        let outcome = match state {
            "IN_PROGRESS" => Outcome::InProgress,
            "FAILED" => Outcome::Failed,
            "SKIPPED" => Outcome::Skipped,
            _ => Outcome::Complete,
        };
        match (open, outcome) {
            (Some(_), Outcome::InProgress) => {}
            (Some(bar), outcome) => {
                bar.end = Some(at);
                bar.outcome = outcome;
                if event.reason.is_some() {
                    bar.reason = event.reason.clone();
                }
            }
            (None, outcome) => bars.push(ResourceBar {
                logical_id: event.logical_id.clone(),
                resource_type: event.resource_type.clone(),
                operation: operation.to_string(),
                start: at,
                end: (outcome != Outcome::InProgress).then_some(at),
                outcome,
                reason: event.reason.clone(),
            }),
        }
    }
    bars.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then_with(|| a.logical_id.cmp(&b.logical_id))
    });
    bars
}

/// `CREATE_IN_PROGRESS` → (`CREATE`, `IN_PROGRESS`); `UPDATE_ROLLBACK_COMPLETE` →
/// (`UPDATE_ROLLBACK`, `COMPLETE`).
fn split_status(status: &str) -> (&str, &str) {
    for state in ["IN_PROGRESS", "COMPLETE", "FAILED", "SKIPPED"] {
        if let Some(operation) = status.strip_suffix(state) {
            return (operation.trim_end_matches('_'), state);
        }
    }
    (status, "COMPLETE")
}

/// A deploy's report: the app, the release, how it ended, its traffic steps and gate checks in
/// order, and its stack's resources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployReport {
    pub app: String,
    #[serde(flatten)]
    pub place: Place,
    pub stack: String,
    /// One line: `completed: web-r2 has all the traffic`, `shifted back: …`, `failed: …`.
    pub outcome: String,
    pub succeeded: bool,
    pub steps: Vec<ReportStep>,
    pub resources: Vec<ResourceBar>,
    /// Why the stack's events could not be read, when they could not.
    pub events_error: Option<String>,
    #[serde(serialize_with = "rfc3339")]
    pub written_at: SystemTime,
}

/// One line of a deploy's steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportStep {
    #[serde(serialize_with = "rfc3339")]
    pub at: SystemTime,
    /// `weights`, `gates`, `shifted_back`, `completed`, ….
    pub kind: &'static str,
    pub text: String,
    /// The candidate's weight after this step, for weight changes.
    pub candidate_weight: Option<u8>,
    /// For gate checks: whether they passed.
    pub passed: Option<bool>,
}

/// The steps worth a report from a deploy's journal: traffic changes, gate checks, the test
/// route, and how the cutover ended. Waits, bakes and retries are left out (the stack's events
/// and the weights say what they led to).
pub fn report_steps(journal: &[JournalEntry], candidate: &str) -> Vec<ReportStep> {
    let steps: Vec<ReportStep> = journal
        .iter()
        .filter_map(|entry| {
            let (kind, candidate_weight, passed) = match &entry.event {
                CutoverEvent::Started { weights, .. } => {
                    ("started", Some(weights.get(candidate)), None)
                }
                CutoverEvent::WeightsSet { weights, .. } => {
                    ("weights", Some(weights.get(candidate)), None)
                }
                CutoverEvent::WeightsChangedOutside { found, .. } => {
                    ("changed_outside", Some(found.get(candidate)), None)
                }
                CutoverEvent::GatesChecked { passed, .. } => ("gates", None, Some(*passed)),
                CutoverEvent::ShiftedBack { weights, .. } => {
                    ("shifted_back", Some(weights.get(candidate)), None)
                }
                CutoverEvent::Completed { weights } => {
                    ("completed", Some(weights.get(candidate)), None)
                }
                CutoverEvent::TestRouteOpened { .. } => ("test_route", None, None),
                CutoverEvent::Held { .. } => ("held", None, None),
                CutoverEvent::Abandoned { .. } => ("abandoned", None, None),
                CutoverEvent::Failed { .. } => ("failed", None, None),
                _ => return None,
            };
            Some(ReportStep {
                at: entry.at,
                kind,
                text: crate::output::secrets::scrub(&entry.event.to_string()).into_owned(),
                candidate_weight,
                passed,
            })
        })
        .collect();
    merge_repeated_checks(steps)
}

/// Gate checks repeat every interval of a bake with the same verdict: a run of identical checks
/// is one line, `… (checked 6 times until 12:04:10)`.
fn merge_repeated_checks(steps: Vec<ReportStep>) -> Vec<ReportStep> {
    let mut merged: Vec<(ReportStep, usize, SystemTime)> = Vec::new();
    for step in steps {
        if let Some((first, count, last)) = merged.last_mut() {
            if step.kind == "gates" && first.kind == "gates" && first.text == step.text {
                *count += 1;
                *last = step.at;
                continue;
            }
        }
        let at = step.at;
        merged.push((step, 1, at));
    }
    merged
        .into_iter()
        .map(|(mut step, count, last)| {
            if count > 1 {
                step.text = format!(
                    "{} (checked {count} times until {})",
                    step.text,
                    super::svg::clock(last)
                );
            }
            step
        })
        .collect()
}

fn rfc3339<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&humantime::format_rfc3339_seconds(*time).to_string())
}

fn rfc3339_option<S: Serializer>(
    time: &Option<SystemTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => rfc3339(time, serializer),
        None => serializer.serialize_none(),
    }
}
