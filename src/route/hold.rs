//! A held candidate (`deploy --hold`): proven through its test route, no production traffic,
//! waiting for `cutover promote` or `cutover abort`. Recorded beside the lock and the baseline,
//! as the SSM parameter `/cutover/holds/<app>`, so that any machine's `promote` finds it and a
//! crashed run's test rule (no record) is told apart from a hold (a record).

use std::future::Future;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::aws::AwsError;
use crate::error::{Diagnostic, Exit};

/// The folder of SSM parameters that record holds, one per app.
pub const PARAMETER_PATH: &str = "/cutover/holds/";

pub fn parameter_name(app: &str) -> String {
    format!("{PARAMETER_PATH}{app}")
}

/// The record (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The held release's stack name.
    pub candidate: String,
    /// The test route: the header and value that reach the candidate, and the rule.
    pub header: String,
    pub value: String,
    pub rule_arn: String,
    /// Seconds since the Unix epoch.
    pub held_at: u64,
    /// The run that held it: `deploy web --release r42 --hold` by user@host.
    pub held_by: String,
}

impl Hold {
    pub fn new(
        candidate: &str,
        header: &str,
        value: &str,
        rule_arn: &str,
        held_by: String,
    ) -> Hold {
        Hold {
            candidate: candidate.to_string(),
            header: header.to_string(),
            value: value.to_string(),
            rule_arn: rule_arn.to_string(),
            held_at: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |since| since.as_secs()),
            held_by,
        }
    }
}

/// Where holds are kept (SSM parameters).
pub trait HoldStore: Sync {
    fn read_hold(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
    fn write_hold(
        &self,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn delete_hold(&self, name: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error("could not read the hold record {parameter}")]
    Read {
        parameter: String,
        #[source]
        source: AwsError,
    },
    #[error("the hold record {parameter} is not one cutover wrote: {reason}")]
    Unreadable { parameter: String, reason: String },
    #[error("could not write the hold record {parameter}")]
    Write {
        parameter: String,
        #[source]
        source: AwsError,
    },
}

impl Diagnostic for HoldError {
    fn exit(&self) -> Exit {
        Exit::Error
    }

    fn hint(&self) -> Option<String> {
        match self {
            HoldError::Read { source, .. } | HoldError::Write { source, .. } => source.hint(),
            HoldError::Unreadable { parameter, .. } => Some(format!(
                "delete the parameter ({parameter}) if no release is held, then run again"
            )),
        }
    }
}

pub async fn read(store: &impl HoldStore, app: &str) -> Result<Option<Hold>, HoldError> {
    let parameter = parameter_name(app);
    let Some(text) = store
        .read_hold(&parameter)
        .await
        .map_err(|source| HoldError::Read {
            parameter: parameter.clone(),
            source,
        })?
    else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|error| HoldError::Unreadable {
            parameter,
            reason: error.to_string(),
        })
}

pub async fn write(store: &impl HoldStore, app: &str, hold: &Hold) -> Result<(), HoldError> {
    let parameter = parameter_name(app);
    let text = serde_json::to_string(hold).expect("a hold always serializes");
    store
        .write_hold(&parameter, &text)
        .await
        .map_err(|source| HoldError::Write { parameter, source })
}

pub async fn clear(store: &impl HoldStore, app: &str) -> Result<(), HoldError> {
    let parameter = parameter_name(app);
    store
        .delete_hold(&parameter)
        .await
        .map_err(|source| HoldError::Write { parameter, source })
}
