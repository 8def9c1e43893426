//! CloudWatch alarms behind [`AlarmApi`] (the alarms gate), and metric series behind
//! [`MetricsApi`] (the comparison gate).

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{AlarmType, Dimension, Metric, MetricDataQuery, MetricStat};

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

/// One metric series to read: `namespace`/`name` with exact dimensions and one statistic per
/// period (`Sum`, `Average`, `p95`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricQuery {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    pub statistic: String,
}

/// A series' points: (period start, value), oldest first; periods without data are absent.
pub type Series = Vec<(SystemTime, f64)>;

/// GetMetricData takes at most 500 queries per call.
const QUERIES_PER_CALL: usize = 500;

pub trait MetricsApi: Sync {
    /// Each query's series over `[start, end)` in periods of `period`, in query order.
    fn series(
        &self,
        queries: &[MetricQuery],
        start: SystemTime,
        end: SystemTime,
        period: Duration,
    ) -> impl Future<Output = Result<Vec<Series>, AwsError>> + Send;
}

impl MetricsApi for CloudWatch {
    async fn series(
        &self,
        queries: &[MetricQuery],
        start: SystemTime,
        end: SystemTime,
        period: Duration,
    ) -> Result<Vec<Series>, AwsError> {
        let mut all = Vec::with_capacity(queries.len());
        for (chunk_index, chunk) in queries.chunks(QUERIES_PER_CALL).enumerate() {
            let id = |index: usize| format!("q{}", chunk_index * QUERIES_PER_CALL + index);
            let action = format!(
                "read CloudWatch metrics {}",
                chunk
                    .iter()
                    .map(|query| query.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let data_queries: Vec<MetricDataQuery> = chunk
                .iter()
                .enumerate()
                .map(|(index, query)| {
                    let dimensions = query
                        .dimensions
                        .iter()
                        .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                        .collect();
                    let metric = Metric::builder()
                        .namespace(&query.namespace)
                        .metric_name(&query.name)
                        .set_dimensions(Some(dimensions))
                        .build();
                    let stat = MetricStat::builder()
                        .metric(metric)
                        .period(period.as_secs() as i32)
                        .stat(&query.statistic)
                        .build();
                    MetricDataQuery::builder()
                        .id(id(index))
                        .metric_stat(stat)
                        .return_data(true)
                        .build()
                })
                .collect();
            let mut found: Vec<Series> = vec![Vec::new(); chunk.len()];
            let mut next_token: Option<String> = None;
            loop {
                let output = self
                    .client
                    .get_metric_data()
                    .set_metric_data_queries(Some(data_queries.clone()))
                    .start_time(DateTime::from(start))
                    .end_time(DateTime::from(end))
                    .set_next_token(next_token.clone())
                    .send()
                    .await
                    .map_err(|error| classify(&action, error))?;
                for result in output.metric_data_results() {
                    let Some(index) =
                        (0..chunk.len()).find(|&i| result.id() == Some(id(i).as_str()))
                    else {
                        continue;
                    };
                    for (at, value) in result.timestamps().iter().zip(result.values()) {
                        if let Ok(at) = SystemTime::try_from(*at) {
                            found[index].push((at, *value));
                        }
                    }
                }
                match output.next_token() {
                    Some(token) if !token.is_empty() && next_token.as_deref() != Some(token) => {
                        next_token = Some(token.to_string())
                    }
                    _ => break,
                }
            }
            for series in &mut found {
                series.sort_by_key(|point| point.0);
            }
            all.extend(found);
        }
        Ok(all)
    }
}
