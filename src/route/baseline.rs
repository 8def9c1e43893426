//! The baseline: traffic that an app's first deploy found going to something no release owns (a
//! target group, a Route 53 record, an instance holding the Elastic IP), adopted with `--adopt`.
//!
//! It is recorded in AWS beside the app lock, as the SSM parameter `/cutover/baselines/<app>` in
//! the app's account and region, never in a local file and never by changing the thing adopted:
//! it is not cutover's, so cutover never deletes it. The router reports it under the name
//! [`crate::router::BASELINE`]; it is a shift-back and rollback target like a previous release
//! until retention lets it go, which only takes it out of the route and records when.

use std::fmt;
use std::future::Future;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::aws::route53::RecordTarget;
use crate::aws::AwsError;

/// The folder of SSM parameters that record baselines, one per app.
pub const PARAMETER_PATH: &str = "/cutover/baselines/";

/// The SSM parameter that records the baseline of `app`.
pub fn parameter_name(app: &str) -> String {
    format!("{PARAMETER_PATH}{app}")
}

/// What was adopted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BaselineTarget {
    /// A target group the route forwarded to.
    TargetGroup { arn: String },
    /// A weighted Route 53 record no release owns, by its set identifier.
    WeightedRecord {
        set_identifier: String,
        /// Where it pointed when it was adopted: a rollback to the baseline writes the record
        /// back from here if it has gone from the name since. `None` in baselines recorded
        /// before this was kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<RecordTarget>,
        /// The Route 53 health check it was answered under, written back with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        health_check_id: Option<String>,
    },
    /// The plain (not weighted) record of the name: it becomes a weighted record with this set
    /// identifier in the change batch that adds the first release's record.
    PlainRecord {
        set_identifier: String,
        /// As for [`BaselineTarget::WeightedRecord`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<RecordTarget>,
    },
    /// The instance that held the Elastic IP.
    Instance { instance_id: String },
}

/// `target group arn:…`, `Route 53 record legacy`, `instance i-0abc`.
impl fmt::Display for BaselineTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaselineTarget::TargetGroup { arn } => write!(f, "target group {arn}"),
            BaselineTarget::WeightedRecord { set_identifier, .. } => {
                write!(f, "weighted record {set_identifier}")
            }
            BaselineTarget::PlainRecord { set_identifier, .. } => write!(
                f,
                "the plain record (weighted as {set_identifier} once shared)"
            ),
            BaselineTarget::Instance { instance_id } => write!(f, "instance {instance_id}"),
        }
    }
}

/// The record kept in SSM (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// The route it was adopted on, as the router names it (`listener arn:…`, `listener rule
    /// arn:…`, `CNAME record api.example.com in hosted zone Z…`, `Elastic IP eipalloc-…`). A
    /// baseline applies to that route only: a spec that moved to another route does not carry it.
    pub route: String,
    pub target: BaselineTarget,
    /// RFC 3339, UTC.
    pub adopted_at: String,
    /// `user@host (pid N): command` of the run that adopted it.
    pub adopted_by: String,
    /// When retention let it go (RFC 3339); a released baseline is no longer routed or a
    /// rollback target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
}

impl Baseline {
    pub fn new(route: String, target: BaselineTarget, now: SystemTime, adopted_by: String) -> Self {
        Baseline {
            route,
            target,
            adopted_at: humantime::format_rfc3339_seconds(now).to_string(),
            adopted_by,
            released_at: None,
        }
    }

    /// When it was adopted; the epoch for a record whose time cannot be read (it then sorts as
    /// the oldest, which a baseline is).
    pub fn adopted(&self) -> SystemTime {
        humantime::parse_rfc3339(&self.adopted_at).unwrap_or(SystemTime::UNIX_EPOCH)
    }

    pub fn is_released(&self) -> bool {
        self.released_at.is_some()
    }

    /// The same baseline, let go at `now`.
    pub fn released(&self, now: SystemTime) -> Baseline {
        Baseline {
            released_at: Some(humantime::format_rfc3339_seconds(now).to_string()),
            ..self.clone()
        }
    }

    /// Whether the router entry `key` on `route` is this baseline (a router that does not know
    /// it as its app's baseline reports its raw target: a target group ARN, a set identifier,
    /// `plain … record …` before the plain record is made weighted, an instance id).
    pub fn claims(&self, route: &str, key: &str) -> bool {
        if self.is_released() || self.route != route {
            return false;
        }
        match &self.target {
            BaselineTarget::TargetGroup { arn } => key == arn,
            BaselineTarget::WeightedRecord { set_identifier, .. } => key == set_identifier,
            BaselineTarget::PlainRecord { set_identifier, .. } => {
                key == set_identifier || key.starts_with("plain ")
            }
            BaselineTarget::Instance { instance_id } => key == instance_id,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a baseline always serializes")
    }
}

/// Where baselines are kept (SSM Parameter Store in `aws::ssm`).
pub trait BaselineStore: Sync {
    /// The raw record; `None` when the app never adopted anything.
    fn read_baseline(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;

    /// Every record under `path` (one level): (parameter name, value).
    fn list_baselines(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>, AwsError>> + Send;

    /// Creates or replaces the record.
    fn write_baseline(
        &self,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("could not read the baseline of app {app} (SSM parameter {parameter})")]
    Read {
        app: String,
        parameter: String,
        #[source]
        source: AwsError,
    },
    #[error(
        "SSM parameter {parameter} does not hold a baseline record cutover can read: {reason}"
    )]
    Unreadable { parameter: String, reason: String },
    #[error("could not record the baseline of app {app} (SSM parameter {parameter})")]
    Write {
        app: String,
        parameter: String,
        #[source]
        source: AwsError,
    },
}

impl BaselineError {
    pub fn hint(&self) -> Option<String> {
        match self {
            BaselineError::Unreadable { parameter, .. } => Some(format!(
                "delete {parameter} (`aws ssm delete-parameter --name {parameter}`) and adopt the traffic again with `cutover deploy APP --adopt`"
            )),
            BaselineError::Read { source, .. } | BaselineError::Write { source, .. } => {
                crate::error::Diagnostic::hint(source)
            }
        }
    }
}

/// The app's baseline as recorded, released or not.
pub async fn read(
    store: &impl BaselineStore,
    app: &str,
) -> Result<Option<Baseline>, BaselineError> {
    let parameter = parameter_name(app);
    let Some(text) =
        store
            .read_baseline(&parameter)
            .await
            .map_err(|source| BaselineError::Read {
                app: app.to_string(),
                parameter: parameter.clone(),
                source,
            })?
    else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|error| BaselineError::Unreadable {
            parameter,
            reason: error.to_string(),
        })
}

/// Every app's baseline in the account and region, released or not, in one listing: (app,
/// record). Another app's record that cannot be read is left out with a warning; this app's
/// (`app`) is an error, as in [`read`].
pub async fn read_all(
    store: &impl BaselineStore,
    app: &str,
) -> Result<Vec<(String, Baseline)>, BaselineError> {
    let listed = store
        .list_baselines(PARAMETER_PATH)
        .await
        .map_err(|source| BaselineError::Read {
            app: app.to_string(),
            parameter: PARAMETER_PATH.to_string(),
            source,
        })?;
    let mut baselines = Vec::new();
    for (parameter, text) in listed {
        let Some(owner) = parameter.strip_prefix(PARAMETER_PATH) else {
            continue;
        };
        match serde_json::from_str::<Baseline>(&text) {
            Ok(baseline) => baselines.push((owner.to_string(), baseline)),
            Err(error) if owner == app => {
                return Err(BaselineError::Unreadable {
                    parameter,
                    reason: error.to_string(),
                })
            }
            Err(error) => {
                tracing::warn!("ignoring SSM parameter {parameter}: not a baseline record: {error}")
            }
        }
    }
    Ok(baselines)
}

/// Records (or replaces) the app's baseline.
pub async fn write(
    store: &impl BaselineStore,
    app: &str,
    baseline: &Baseline,
) -> Result<(), BaselineError> {
    let parameter = parameter_name(app);
    store
        .write_baseline(&parameter, &baseline.to_json())
        .await
        .map_err(|source| BaselineError::Write {
            app: app.to_string(),
            parameter,
            source,
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    #[derive(Default)]
    struct MemoryStore(Mutex<HashMap<String, String>>);

    impl BaselineStore for MemoryStore {
        async fn read_baseline(&self, name: &str) -> Result<Option<String>, AwsError> {
            Ok(self.0.lock().unwrap().get(name).cloned())
        }

        async fn list_baselines(&self, path: &str) -> Result<Vec<(String, String)>, AwsError> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|(name, _)| name.starts_with(path))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect())
        }

        async fn write_baseline(&self, name: &str, value: &str) -> Result<(), AwsError> {
            self.0
                .lock()
                .unwrap()
                .insert(name.to_string(), value.to_string());
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_baseline_round_trips_through_the_store_and_can_be_released() {
        let store = MemoryStore::default();
        assert_eq!(read(&store, "web").await.unwrap(), None);
        let adopted_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let baseline = Baseline::new(
            "listener rule arn:rule".into(),
            BaselineTarget::TargetGroup {
                arn: "arn:tg/legacy".into(),
            },
            adopted_at,
            "ops@build (pid 7): deploy web --adopt".into(),
        );
        write(&store, "web", &baseline).await.unwrap();
        let stored = store.0.lock().unwrap()["/cutover/baselines/web"].clone();
        assert_eq!(
            stored,
            r#"{"route":"listener rule arn:rule","target":{"kind":"target_group","arn":"arn:tg/legacy"},"adopted_at":"2027-01-15T08:00:00Z","adopted_by":"ops@build (pid 7): deploy web --adopt"}"#
        );
        let read_back = read(&store, "web").await.unwrap().unwrap();
        assert_eq!(read_back, baseline);
        assert_eq!(read_back.adopted(), adopted_at);
        assert!(!read_back.is_released());
        let released = read_back.released(adopted_at + Duration::from_secs(60));
        assert_eq!(
            released.released_at.as_deref(),
            Some("2027-01-15T08:01:00Z")
        );
        assert!(released.is_released());
    }

    #[tokio::test]
    async fn every_apps_record_is_listed_and_only_this_apps_must_be_readable() {
        let store = MemoryStore::default();
        let record = Baseline::new(
            "listener arn:l".into(),
            BaselineTarget::Instance {
                instance_id: "i-1".into(),
            },
            SystemTime::UNIX_EPOCH,
            "ops".into(),
        );
        write(&store, "web", &record).await.unwrap();
        store
            .write_baseline("/cutover/baselines/junk", "not json")
            .await
            .unwrap();
        let all = read_all(&store, "web").await.unwrap();
        assert_eq!(all, [("web".to_string(), record)]);
        let error = read_all(&store, "junk").await.unwrap_err();
        assert!(
            error.to_string().contains("/cutover/baselines/junk"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn an_unreadable_record_names_the_parameter() {
        let store = MemoryStore::default();
        store
            .write_baseline("/cutover/baselines/web", "not json")
            .await
            .unwrap();
        let error = read(&store, "web").await.unwrap_err();
        assert!(
            error.to_string().contains("/cutover/baselines/web"),
            "{error}"
        );
    }
}
