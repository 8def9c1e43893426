//! Marks: what cutover learns about a release after its stack exists (it failed its gates, it
//! was rolled away from, it needs attention, when it took and lost the traffic, when it was
//! retired and what its deletion left). A release stack is never updated once created, so these
//! are not stack tags: a stack-level tag update re-tags every resource, can replace resources,
//! and breaks that promise. They are kept beside the lock and the baseline, one SSM parameter
//! per release stack, `/cutover/marks/<app>/<stack>` (JSON), in the app's account and region,
//! and they outlive the stack, so `history` can tell what became of a deleted release.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::tags::Role;
use crate::aws::AwsError;
use crate::error::{Diagnostic, Exit};

/// The folder of SSM parameters that hold marks, one folder per app.
pub const PARAMETER_PATH: &str = "/cutover/marks/";

/// `/cutover/marks/<app>/`.
pub fn app_path(app: &str) -> String {
    format!("{PARAMETER_PATH}{app}/")
}

/// `/cutover/marks/<app>/<stack>`.
pub fn parameter_name(app: &str, stack: &str) -> String {
    format!("{}{stack}", app_path(app))
}

/// How a release's time with traffic ended, when cutover ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Its cutover turned back after it had traffic.
    ShiftedBack,
    /// Its cutover turned back before it had any traffic.
    Abandoned,
    /// A rollback moved the traffic away from it.
    RolledBackFrom,
    /// `cutover abort` gave up its hold.
    Aborted,
    /// Its stack failed to create.
    FailedToCreate,
}

/// What is recorded about one release. Every field is optional: a release nothing happened to
/// has no mark at all. Times are RFC 3339 UTC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// `failed` or `retiring`: what traffic alone cannot show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<MarkedRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<String>,
    /// Why it needs a look (a deletion that failed or cannot happen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<Ending>,
    /// When a cutover or rollback gave it all the traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub took_traffic_at: Option<String>,
    /// When a later cutover or rollback took the traffic away from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_traffic_at: Option<String>,
    /// When retirement deleted it, and what its DeletionPolicy left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retained: Vec<String>,
    /// Its weight at each traffic step a cutover or rollback set, oldest first, at most
    /// [`MAX_STEPS`] (the newest kept): the dashboard's timeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<TrafficStep>,
    /// Its latest gate check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates: Option<GateCheck>,
    /// A rollback to this stack started moving the traffic away from this release: written
    /// before the move, so a rollback that dies half way leaves the release known as rolled back
    /// from (never resumed as an unfinished cutover, marked by the next rollback). Cleared when
    /// the rollback marks it or turns back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_back_to: Option<String>,
}

/// The steps a mark keeps. A mark is one standard SSM parameter (at most 4 KB); a step takes
/// about 45 bytes of JSON, so 48 leave room for the rest of the mark.
pub const MAX_STEPS: usize = 48;

/// One traffic step: from `at` (RFC 3339 UTC) on, the release had `weight` percent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficStep {
    pub at: String,
    pub weight: u8,
}

/// A gate check of the release: when, whether every gate passed, and what the gates said (one
/// line, NoEcho values masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateCheck {
    pub at: String,
    pub passed: bool,
    pub summary: String,
}

impl Mark {
    /// Appends a step, unless the release already has that weight; keeps the newest
    /// [`MAX_STEPS`].
    pub fn push_step(&mut self, at: String, weight: u8) {
        if self.steps.last().is_some_and(|last| last.weight == weight) {
            return;
        }
        self.steps.push(TrafficStep { at, weight });
        let excess = self.steps.len().saturating_sub(MAX_STEPS);
        self.steps.drain(..excess);
    }
}

/// The roles a mark can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkedRole {
    Failed,
    Retiring,
}

impl MarkedRole {
    pub fn role(self) -> Role {
        match self {
            MarkedRole::Failed => Role::Failed,
            MarkedRole::Retiring => Role::Retiring,
        }
    }
}

/// Now, as marks write times.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Now to the millisecond, for traffic steps (several can fall in one second).
pub fn now_millis() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Where marks are kept (SSM parameters).
pub trait MarkStore: Sync {
    /// Every mark of the app: (stack name, JSON).
    fn read_marks(
        &self,
        app: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>, AwsError>> + Send;

    fn read_mark(
        &self,
        app: &str,
        stack: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;

    fn write_mark(
        &self,
        app: &str,
        stack: &str,
        json: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum MarkError {
    #[error("could not read the marks of app {app} ({path})")]
    Read {
        app: String,
        path: String,
        #[source]
        source: AwsError,
    },
    #[error("could not record the mark of {stack} ({parameter})")]
    Write {
        stack: String,
        parameter: String,
        #[source]
        source: AwsError,
    },
}

impl Diagnostic for MarkError {
    fn exit(&self) -> Exit {
        match self {
            MarkError::Read { source, .. } | MarkError::Write { source, .. } => source.exit(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            MarkError::Read { source, .. } | MarkError::Write { source, .. } => source.hint(),
        }
    }
}

/// Every mark of the app, by stack name. A mark that is not JSON cutover wrote is skipped with a
/// warning: it cannot say anything true.
pub async fn read_all(
    store: &impl MarkStore,
    app: &str,
) -> Result<BTreeMap<String, Mark>, MarkError> {
    let listed = store
        .read_marks(app)
        .await
        .map_err(|source| MarkError::Read {
            app: app.to_string(),
            path: app_path(app),
            source,
        })?;
    let mut marks = BTreeMap::new();
    for (stack, text) in listed {
        match serde_json::from_str::<Mark>(&text) {
            Ok(mark) => {
                marks.insert(stack, mark);
            }
            Err(error) => tracing::warn!(
                "ignoring {}: not a mark cutover wrote: {error}",
                parameter_name(app, &stack)
            ),
        }
    }
    Ok(marks)
}

/// Changes the release's mark (read, change, write: the other fields stay).
pub async fn update(
    store: &impl MarkStore,
    app: &str,
    stack: &str,
    change: impl FnOnce(&mut Mark),
) -> Result<(), MarkError> {
    let write_error = |source| MarkError::Write {
        stack: stack.to_string(),
        parameter: parameter_name(app, stack),
        source,
    };
    let mut mark = match store.read_mark(app, stack).await.map_err(write_error)? {
        Some(text) => serde_json::from_str(&text).unwrap_or_default(),
        None => Mark::default(),
    };
    change(&mut mark);
    let json = serde_json::to_string(&mark).expect("a mark always serializes");
    store
        .write_mark(app, stack, &json)
        .await
        .map_err(write_error)
}

/// Marks `stack` failed with `reason`, and how its time ended.
pub fn failed(reason: &str, ending: Ending) -> impl FnOnce(&mut Mark) + '_ {
    move |mark| {
        mark.rolling_back_to = None;
        mark.role = Some(MarkedRole::Failed);
        mark.failed_reason = Some(crate::output::secrets::scrub(reason).into_owned());
        mark.failed_at = Some(now());
        mark.ending = Some(ending);
        if mark.took_traffic_at.is_some() && mark.lost_traffic_at.is_none() {
            mark.lost_traffic_at = Some(now());
        }
    }
}

/// Marks `stack` as needing a look while it is being retired.
pub fn retiring(reason: &str) -> impl FnOnce(&mut Mark) + '_ {
    move |mark| {
        mark.role = Some(MarkedRole::Retiring);
        mark.attention = Some(crate::output::secrets::scrub(reason).into_owned());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn steps_skip_a_weight_the_release_already_has_and_keep_the_newest() {
        let mut mark = Mark::default();
        mark.push_step("t0".into(), 10);
        mark.push_step("t1".into(), 10);
        mark.push_step("t2".into(), 100);
        assert_eq!(
            mark.steps,
            [
                TrafficStep {
                    at: "t0".into(),
                    weight: 10
                },
                TrafficStep {
                    at: "t2".into(),
                    weight: 100
                }
            ]
        );
        for n in 0..100u8 {
            mark.push_step(format!("u{n}"), n % 2);
        }
        assert_eq!(mark.steps.len(), MAX_STEPS);
        assert_eq!(mark.steps.last().unwrap().at, "u99");
        let json = serde_json::to_string(&mark).unwrap();
        assert!(json.len() < 4096 - 1024, "{} bytes", json.len());
    }

    #[derive(Default)]
    struct Memory(Mutex<BTreeMap<String, String>>);

    impl MarkStore for Memory {
        async fn read_marks(&self, app: &str) -> Result<Vec<(String, String)>, AwsError> {
            let prefix = app_path(app);
            Ok(self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter_map(|(name, json)| {
                    name.strip_prefix(&prefix)
                        .map(|stack| (stack.to_string(), json.clone()))
                })
                .collect())
        }

        async fn read_mark(&self, app: &str, stack: &str) -> Result<Option<String>, AwsError> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .get(&parameter_name(app, stack))
                .cloned())
        }

        async fn write_mark(&self, app: &str, stack: &str, json: &str) -> Result<(), AwsError> {
            self.0
                .lock()
                .unwrap()
                .insert(parameter_name(app, stack), json.to_string());
            Ok(())
        }
    }

    #[tokio::test]
    async fn updates_keep_what_they_do_not_change_and_apps_stay_apart() {
        let store = Memory::default();
        update(&store, "web", "web-r1", |mark| {
            mark.took_traffic_at = Some("2026-11-30T10:00:00Z".into())
        })
        .await
        .unwrap();
        update(
            &store,
            "web",
            "web-r1",
            failed("gates failed", Ending::RolledBackFrom),
        )
        .await
        .unwrap();
        update(&store, "webshop", "webshop-r1", retiring("export in use"))
            .await
            .unwrap();
        let marks = read_all(&store, "web").await.unwrap();
        assert_eq!(marks.len(), 1, "{marks:?}");
        let mark = &marks["web-r1"];
        assert_eq!(mark.role, Some(MarkedRole::Failed));
        assert_eq!(
            mark.took_traffic_at.as_deref(),
            Some("2026-11-30T10:00:00Z")
        );
        assert!(
            mark.lost_traffic_at.is_some(),
            "losing the traffic is recorded"
        );
        assert_eq!(mark.ending, Some(Ending::RolledBackFrom));
        let json = store.0.lock().unwrap()["/cutover/marks/web/web-r1"].clone();
        assert!(json.contains("\"ending\":\"rolled_back_from\""), "{json}");
        assert!(
            !json.contains("retired_at"),
            "unset fields are left out: {json}"
        );
    }

    #[tokio::test]
    async fn a_mark_cutover_did_not_write_is_skipped() {
        let store = Memory::default();
        store.write_mark("web", "web-r1", "not json").await.unwrap();
        assert!(read_all(&store, "web").await.unwrap().is_empty());
    }
}
