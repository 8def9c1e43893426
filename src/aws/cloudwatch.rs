//! CloudWatch alarms behind [`AlarmApi`] (the alarms gate).

use std::future::Future;

use aws_sdk_cloudwatch::types::AlarmType;

use super::{classify, AwsContext, AwsError};

/// One alarm's state, metric or composite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmFacts {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: Option<String>,
}

/// DescribeAlarms takes at most 100 names per call.
const NAMES_PER_CALL: usize = 100;

pub trait AlarmApi: Sync {
    /// The alarms with these names; names that match no alarm are simply absent.
    fn alarms(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<AlarmFacts>, AwsError>> + Send;
}

/// [`AlarmApi`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct CloudWatch {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatch {
    pub fn new(context: &AwsContext) -> CloudWatch {
        CloudWatch {
            client: context.cloudwatch(),
        }
    }
}

impl AlarmApi for CloudWatch {
    async fn alarms(&self, names: &[String]) -> Result<Vec<AlarmFacts>, AwsError> {
        let mut found = Vec::new();
        for chunk in names.chunks(NAMES_PER_CALL) {
            let action = format!("describe CloudWatch alarms {}", chunk.join(", "));
            let output = self
                .client
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .max_records(100)
                .send()
                .await
                .map_err(|error| classify(action, error))?;
            for alarm in output.metric_alarms() {
                found.push(AlarmFacts {
                    name: alarm.alarm_name().unwrap_or_default().to_string(),
                    state: alarm
                        .state_value()
                        .map(|state| state.as_str().to_string())
                        .unwrap_or_default(),
                    reason: alarm.state_reason().map(str::to_string),
                });
            }
            for alarm in output.composite_alarms() {
                found.push(AlarmFacts {
                    name: alarm.alarm_name().unwrap_or_default().to_string(),
                    state: alarm
                        .state_value()
                        .map(|state| state.as_str().to_string())
                        .unwrap_or_default(),
                    reason: alarm.state_reason().map(str::to_string),
                });
            }
        }
        Ok(found)
    }
}
