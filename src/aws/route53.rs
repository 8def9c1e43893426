//! Route 53 behind [`DnsApi`]: the records of one name and type (weighted, or the plain record
//! a name has before it is shared), and changes to them.

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
    /// The health check Route 53 consults before answering with this record; kept as found.
    pub health_check_id: Option<String>,
}

/// Serialised (in a baseline's SSM record) as `{"kind": "values", "ttl": 300, "values": […]}`
/// or `{"kind": "alias", …}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordTarget {
    /// Plain values (a DNS name for CNAME, addresses for A/AAAA) with a TTL in seconds.
    Values { ttl: i64, values: Vec<String> },
    /// An alias to an AWS resource (an ALB's DNS name and canonical hosted zone).
    Alias {
        hosted_zone_id: String,
        dns_name: String,
        /// Whether Route 53 answers with it only while the target is healthy.
        evaluate_target_health: bool,
    },
}

/// The records of one name and type: weighted ones (with a set identifier), and the plain one
/// that a name has when nobody made it weighted (Route 53 refuses a plain and a weighted record
/// of the same name and type side by side).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameRecords {
    pub weighted: Vec<WeightedRecord>,
    pub plain: Option<RecordTarget>,
    /// Other record types the name has (`A`, `MX`, …).
    pub other_types: Vec<String>,
    /// Records of our type with a routing policy other than weighted (latency, geolocation,
    /// geoproximity, failover, multivalue answer, IP-based): `latency record eu (eu-west-1)`.
    pub other_policies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordChange {
    Upsert(WeightedRecord),
    /// Route 53 deletes only a record given exactly as it is, so this is the record as read.
    Delete(WeightedRecord),
    /// The plain (not weighted) record, exactly as read, deleted in the batch that creates the
    /// weighted records taking its place.
    DeletePlain(RecordTarget),
}

/// The Route 53 calls the Route 53 router makes. `name` may be given with or without the final dot.
pub trait DnsApi: Sync {
    /// The records of `name` and `record_type`, and the other types the name has.
    fn records(
        &self,
        zone_id: &str,
        name: &str,
        record_type: &str,
    ) -> impl Future<Output = Result<NameRecords, AwsError>> + Send;

    /// The hosted zone's domain name (`example.com.`).
    fn zone_name(&self, zone_id: &str) -> impl Future<Output = Result<String, AwsError>> + Send;

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

/// The routing policy of a record set when it is neither simple nor weighted
/// (`latency (eu-west-1)`, `failover (PRIMARY)`, …), as ListResourceRecordSets marks it.
fn other_policy(set: &ResourceRecordSet) -> Option<String> {
    if let Some(region) = set.region() {
        return Some(format!("latency ({})", region.as_str()));
    }
    if let Some(location) = set.geo_location() {
        let place = [
            location.continent_code(),
            location.country_code(),
            location.subdivision_code(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
        return Some(format!("geolocation ({place})"));
    }
    if set.geo_proximity_location().is_some() {
        return Some("geoproximity".into());
    }
    if let Some(failover) = set.failover() {
        return Some(format!("failover ({})", failover.as_str()));
    }
    if set.multi_value_answer() == Some(true) {
        return Some("multivalue answer".into());
    }
    if set.cidr_routing_config().is_some() {
        return Some("IP-based".into());
    }
    None
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

fn target_of_set(set: &ResourceRecordSet) -> RecordTarget {
    match set.alias_target() {
        Some(alias) => RecordTarget::Alias {
            hosted_zone_id: alias.hosted_zone_id().to_string(),
            dns_name: alias.dns_name().to_string(),
            evaluate_target_health: alias.evaluate_target_health(),
        },
        None => RecordTarget::Values {
            ttl: set.ttl().unwrap_or(0),
            values: set
                .resource_records()
                .iter()
                .map(|record| record.value().to_string())
                .collect(),
        },
    }
}

/// One record set for a change: `weighted` is `None` for the plain record.
fn record_set(
    name: &str,
    record_type: &str,
    weighted: Option<&WeightedRecord>,
    target: &RecordTarget,
) -> Result<ResourceRecordSet, String> {
    let mut set = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::from(record_type));
    if let Some(record) = weighted {
        set = set
            .set_identifier(&record.set_identifier)
            .weight(i64::from(record.weight))
            .set_health_check_id(record.health_check_id.clone());
    }
    match target {
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
            evaluate_target_health,
        } => {
            set = set.alias_target(
                AliasTarget::builder()
                    .hosted_zone_id(hosted_zone_id)
                    .dns_name(dns_name)
                    .evaluate_target_health(*evaluate_target_health)
                    .build()
                    .map_err(|error| error.to_string())?,
            );
        }
    }
    set.build().map_err(|error| error.to_string())
}

impl DnsApi for Route53 {
    async fn zone_name(&self, zone_id: &str) -> Result<String, AwsError> {
        let action = format!("describe hosted zone {zone_id}");
        let output = self
            .client
            .get_hosted_zone()
            .id(bare_zone_id(zone_id))
            .send()
            .await
            .map_err(|error| classify(&action, error))?;
        output
            .hosted_zone()
            .map(|zone| zone.name().to_string())
            .ok_or_else(|| {
                AwsError::new(
                    &action,
                    AwsErrorKind::NotFound {
                        message: format!("no hosted zone {zone_id}"),
                    },
                )
            })
    }

    async fn records(
        &self,
        zone_id: &str,
        name: &str,
        record_type: &str,
    ) -> Result<NameRecords, AwsError> {
        let action = format!("list the records of {name} in hosted zone {zone_id}");
        let mut records = NameRecords::default();
        // From the name's first record on: the types sort after the name, so records of other
        // types of the name (which may conflict with ours) are seen too.
        let mut start = (name.to_string(), None::<String>, None::<String>);
        loop {
            let output = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(bare_zone_id(zone_id))
                .start_record_name(&start.0)
                .set_start_record_type(start.1.as_deref().map(RrType::from))
                .set_start_record_identifier(start.2.clone())
                .send()
                .await
                .map_err(|error| classify(&action, error))?;
            let mut past_the_name = false;
            for set in output.resource_record_sets() {
                // The listing runs on in DNS order: stop at the first record of another name.
                if !same_name(set.name(), name) {
                    past_the_name = true;
                    break;
                }
                let kind = set.r#type().as_str();
                if kind != record_type {
                    if !records.other_types.iter().any(|known| known == kind) {
                        records.other_types.push(kind.to_string());
                    }
                    continue;
                }
                if let Some(policy) = other_policy(set) {
                    records.other_policies.push(format!(
                        "{policy} record {}",
                        set.set_identifier().unwrap_or("-")
                    ));
                    continue;
                }
                match set.set_identifier() {
                    Some(set_identifier) => records.weighted.push(WeightedRecord {
                        set_identifier: set_identifier.to_string(),
                        weight: set.weight().unwrap_or(0).clamp(0, 255) as u8,
                        target: target_of_set(set),
                        health_check_id: set.health_check_id().map(str::to_string),
                    }),
                    None => records.plain = Some(target_of_set(set)),
                }
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
                            .map(|kind| kind.as_str().to_string()),
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
            let (kind, weighted, target) = match change {
                RecordChange::Upsert(record) => {
                    (ChangeAction::Upsert, Some(record), &record.target)
                }
                RecordChange::Delete(record) => {
                    (ChangeAction::Delete, Some(record), &record.target)
                }
                RecordChange::DeletePlain(target) => (ChangeAction::Delete, None, target),
            };
            batch = batch.changes(
                Change::builder()
                    .action(kind)
                    .resource_record_set(
                        record_set(name, record_type, weighted, target).map_err(invalid)?,
                    )
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
