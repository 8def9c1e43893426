//! Route 53 behind [`DnsApi`]: the weighted records of one name and type, and changes to them.

use std::future::Future;

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use super::{classify, AwsContext, AwsError, AwsErrorKind};

/// One weighted record: its set identifier, weight and where it points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedRecord {
    pub set_identifier: String,
    /// Route 53 weights are 0–255.
    pub weight: u8,
    pub target: RecordTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordTarget {
    /// Plain values (a DNS name for CNAME, addresses for A/AAAA) with a TTL in seconds.
    Values { ttl: i64, values: Vec<String> },
    /// An alias to an AWS resource (an ALB's DNS name and canonical hosted zone).
    Alias {
        hosted_zone_id: String,
        dns_name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordChange {
    Upsert(WeightedRecord),
    /// Route 53 deletes only a record given exactly as it is, so this is the record as read.
    Delete(WeightedRecord),
}

/// The Route 53 calls the Route 53 router makes. `name` may be given with or without the final dot.
pub trait DnsApi: Sync {
    /// The records of `name` and `record_type` that have a set identifier.
    fn weighted_records(
        &self,
        zone_id: &str,
        name: &str,
        record_type: &str,
    ) -> impl Future<Output = Result<Vec<WeightedRecord>, AwsError>> + Send;

    /// Applies all changes in one batch (Route 53 applies a batch atomically).
    fn change_records(
        &self,
        zone_id: &str,
        name: &str,
        record_type: &str,
        changes: &[RecordChange],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// [`DnsApi`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct Route53 {
    client: aws_sdk_route53::Client,
}

impl Route53 {
    pub fn new(context: &AwsContext) -> Route53 {
        Route53 {
            client: context.route53(),
        }
    }
}

/// `Z123` from `/hostedzone/Z123` (both forms appear in outputs and consoles).
fn bare_zone_id(zone_id: &str) -> &str {
    zone_id.trim_start_matches("/hostedzone/")
}

/// Route 53 answers names with a final dot, lower case, and `*` escaped as `\052`.
pub fn same_name(left: &str, right: &str) -> bool {
    fn canonical(name: &str) -> String {
        name.trim_end_matches('.')
            .replace("\\052", "*")
            .to_ascii_lowercase()
    }
    canonical(left) == canonical(right)
}

fn record_from_set(set: &ResourceRecordSet) -> Option<WeightedRecord> {
    let set_identifier = set.set_identifier()?.to_string();
    let target = match set.alias_target() {
        Some(alias) => RecordTarget::Alias {
            hosted_zone_id: alias.hosted_zone_id().to_string(),
            dns_name: alias.dns_name().to_string(),
        },
        None => RecordTarget::Values {
            ttl: set.ttl().unwrap_or(0),
            values: set
                .resource_records()
                .iter()
                .map(|record| record.value().to_string())
                .collect(),
        },
    };
    Some(WeightedRecord {
        set_identifier,
        weight: set.weight().unwrap_or(0).clamp(0, 255) as u8,
        target,
    })
}

fn record_set(
    name: &str,
    record_type: &str,
    record: &WeightedRecord,
) -> Result<ResourceRecordSet, String> {
    let mut set = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::from(record_type))
        .set_identifier(&record.set_identifier)
        .weight(i64::from(record.weight));
    match &record.target {
        RecordTarget::Values { ttl, values } => {
            set = set.ttl(*ttl);
            for value in values {
                set = set.resource_records(
                    ResourceRecord::builder()
                        .value(value)
                        .build()
                        .map_err(|error| error.to_string())?,
                );
            }
        }
        RecordTarget::Alias {
            hosted_zone_id,
            dns_name,
        } => {
            set = set.alias_target(
                AliasTarget::builder()
                    .hosted_zone_id(hosted_zone_id)
                    .dns_name(dns_name)
                    .evaluate_target_health(false)
                    .build()
                    .map_err(|error| error.to_string())?,
            );
        }
    }
    set.build().map_err(|error| error.to_string())
}

impl DnsApi for Route53 {
    async fn weighted_records(
        &self,
        zone_id: &str,
        name: &str,
        record_type: &str,
    ) -> Result<Vec<WeightedRecord>, AwsError> {
        let action = format!("list the {record_type} records of {name} in hosted zone {zone_id}");
        let mut records = Vec::new();
        let mut start = (name.to_string(), record_type.to_string(), None::<String>);
        loop {
            let output = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(bare_zone_id(zone_id))
                .start_record_name(&start.0)
                .start_record_type(RrType::from(start.1.as_str()))
                .set_start_record_identifier(start.2.clone())
                .send()
                .await
                .map_err(|error| classify(&action, error))?;
            let mut past_the_name = false;
            for set in output.resource_record_sets() {
                // The listing starts at the name and runs on in DNS order: stop at the first
                // record of another name or type.
                if !same_name(set.name(), name) || set.r#type().as_str() != record_type {
                    past_the_name = true;
                    break;
                }
                records.extend(record_from_set(set));
            }
            match (
                past_the_name,
                output.is_truncated(),
                output.next_record_name(),
            ) {
                (false, true, Some(next_name)) => {
                    start = (
                        next_name.to_string(),
                        output
                            .next_record_type()
                            .map_or(record_type, |kind| kind.as_str())
                            .to_string(),
                        output.next_record_identifier().map(str::to_string),
                    );
                }
                _ => return Ok(records),
            }
        }
    }

    async fn change_records(
        &self,
        zone_id: &str,
        name: &str,
        record_type: &str,
        changes: &[RecordChange],
    ) -> Result<(), AwsError> {
        let action = format!("change the {record_type} records of {name} in hosted zone {zone_id}");
        let invalid = |message: String| {
            AwsError::new(
                &action,
                AwsErrorKind::Other {
                    message: format!("could not build the change: {message}"),
                },
            )
        };
        let mut batch = ChangeBatch::builder().comment("cutover: weighted traffic shift");
        for change in changes {
            let (kind, record) = match change {
                RecordChange::Upsert(record) => (ChangeAction::Upsert, record),
                RecordChange::Delete(record) => (ChangeAction::Delete, record),
            };
            batch = batch.changes(
                Change::builder()
                    .action(kind)
                    .resource_record_set(record_set(name, record_type, record).map_err(invalid)?)
                    .build()
                    .map_err(|error| invalid(error.to_string()))?,
            );
        }
        self.client
            .change_resource_record_sets()
            .hosted_zone_id(bare_zone_id(zone_id))
            .change_batch(batch.build().map_err(|error| invalid(error.to_string()))?)
            .send()
            .await
            .map_err(|error| classify(&action, error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_as_route53_answers_them() {
        assert!(same_name("api.example.com.", "API.example.com"));
        assert!(same_name("\\052.example.com.", "*.example.com"));
        assert!(!same_name("api.example.com.", "web.example.com"));
        assert_eq!(bare_zone_id("/hostedzone/Z1"), "Z1");
        assert_eq!(bare_zone_id("Z1"), "Z1");
    }
}
