//! The Route 53 router: weighted records of one name, one per release stack, with the stack
//! name as the set identifier.
//!
//! Two facts of Route 53 shape it (Route 53 Developer Guide, "Weighted routing"): when every
//! weighted record of a name has weight 0, Route 53 answers with all of them in equal shares, so
//! all-zero weights are read as equal shares and never written; and a plain record cannot stand
//! beside weighted records of the same name and type, so an adopted plain record becomes the
//! weighted baseline record in the same change batch that adds the candidate's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::service_error::{router_error, to_percent};
use super::{RouterError, TrafficRouter, Weights, BASELINE};
use crate::aws::route53::{
    DnsApi, NameRecords, RecordChange, RecordTarget, Route53, WeightedRecord,
};

/// Where a release's record points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A DNS name (CNAME) or an address (A, AAAA).
    Value(String),
    /// An alias to the DNS name of an AWS resource in `hosted_zone_id`.
    Alias {
        hosted_zone_id: String,
        dns_name: String,
    },
}

/// The record this router manages: one name and type in one hosted zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordName {
    pub hosted_zone_id: String,
    pub name: String,
    /// `CNAME`, `A` or `AAAA`.
    pub record_type: String,
    pub ttl: u32,
}

impl RecordName {
    /// The key under which a plain (not weighted) record of the name is reported before it is
    /// adopted, e.g. `plain CNAME record api.example.com`.
    pub fn plain_key(&self) -> String {
        format!(
            "plain {} record {}",
            self.record_type,
            self.name.trim_end_matches('.')
        )
    }
}

/// Routes by weighted DNS records.
#[derive(Debug, Clone)]
pub struct Route53Router<D = Route53> {
    api: D,
    record: RecordName,
    /// Release stack name → where its record points.
    endpoints: BTreeMap<String, Endpoint>,
    /// Release stacks that cannot be routed to, with the reason (an output missing).
    unroutable: BTreeMap<String, String>,
    /// The set identifier of the app's baseline record, reported as [`BASELINE`]. A plain record
    /// of the name is the baseline (not yet weighted) once the app adopted it.
    baseline: Option<String>,
    /// Where the baseline's record pointed when it was adopted: what a rollback writes back if
    /// the record has gone from the name since (removed by hand, or by an older version).
    baseline_record: Option<RecordTarget>,
    /// The health check the baseline's record was answered under when adopted.
    baseline_health_check: Option<String>,
    /// The name's records as of the last read (what an adoption records as the baseline).
    last_read: Arc<Mutex<Option<NameRecords>>>,
}

impl<D: DnsApi> Route53Router<D> {
    pub fn new(
        api: D,
        record: RecordName,
        endpoints: impl IntoIterator<Item = (String, Endpoint)>,
        unroutable: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        Route53Router {
            api,
            record,
            endpoints: endpoints.into_iter().collect(),
            unroutable: unroutable.into_iter().collect(),
            baseline: None,
            baseline_record: None,
            baseline_health_check: None,
            last_read: Arc::default(),
        }
    }

    /// The same router knowing the app's baseline record by its set identifier, and where it
    /// pointed when adopted (`None` when that was not recorded).
    pub fn with_baseline(
        mut self,
        set_identifier: impl Into<String>,
        record: Option<RecordTarget>,
    ) -> Self {
        self.baseline = Some(set_identifier.into());
        self.baseline_record = record;
        self
    }

    /// Refuses a record name outside the hosted zone (`api.example.org` in zone `example.com`):
    /// Route 53 would refuse the first write ("InvalidChangeBatch: … is not permitted in zone
    /// …"), after the release stack exists. Checked once, before anything is created.
    pub async fn check_name_in_zone(&self) -> Result<(), RouterError> {
        let zone = self
            .api
            .zone_name(&self.record.hosted_zone_id)
            .await
            .map_err(|error| {
                router_error(
                    format!("read hosted zone {}", self.record.hosted_zone_id),
                    &format!("hosted zone {}", self.record.hosted_zone_id),
                    error,
                )
            })?;
        let canonical = |name: &str| name.trim_end_matches('.').to_ascii_lowercase();
        let (name, zone) = (canonical(&self.record.name), canonical(&zone));
        if name == zone || name.ends_with(&format!(".{zone}")) {
            return Ok(());
        }
        Err(RouterError::Conflict {
            route: self.describe(),
            reason: format!(
                "{name} is not in hosted zone {} ({zone}), so Route 53 would refuse its records",
                self.record.hosted_zone_id
            ),
            hint: format!(
                "set `record_name` to a name in {zone}, or `hosted_zone_id` to the zone of {name}"
            ),
        })
    }

    /// The same router knowing the health check the baseline's record had when adopted, which a
    /// record written back keeps.
    pub fn with_baseline_health_check(mut self, health_check_id: Option<String>) -> Self {
        self.baseline_health_check = health_check_id;
        self
    }

    /// The health check of the weighted record `key` at the last read.
    pub fn health_check_last_read(&self, key: &str) -> Option<String> {
        let last_read = self.last_read.lock().expect("last read lock");
        last_read
            .as_ref()?
            .weighted
            .iter()
            .find(|record| record.set_identifier == key)
            .and_then(|record| record.health_check_id.clone())
    }

    /// Where the record reported under `key` (a set identifier, or the plain record's key)
    /// pointed at the last read; `None` before any read or when the name has no such record.
    pub fn target_last_read(&self, key: &str) -> Option<RecordTarget> {
        let last_read = self.last_read.lock().expect("last read lock");
        let records = last_read.as_ref()?;
        if key == self.record.plain_key() {
            return records.plain.clone();
        }
        records
            .weighted
            .iter()
            .find(|record| record.set_identifier == key)
            .map(|record| record.target.clone())
    }

    pub fn record(&self) -> &RecordName {
        &self.record
    }

    fn describe(&self) -> String {
        format!(
            "{} record {} in hosted zone {}",
            self.record.record_type, self.record.name, self.record.hosted_zone_id
        )
    }

    async fn current_records(
        &self,
        action: impl Fn() -> String,
    ) -> Result<NameRecords, RouterError> {
        self.api
            .records(
                &self.record.hosted_zone_id,
                &self.record.name,
                &self.record.record_type,
            )
            .await
            .map_err(|error| {
                router_error(
                    action(),
                    &format!("hosted zone {}", self.record.hosted_zone_id),
                    error,
                )
            })
    }

    fn target_of(&self, endpoint: &Endpoint) -> RecordTarget {
        match endpoint {
            Endpoint::Value(value) => RecordTarget::Values {
                ttl: i64::from(self.record.ttl),
                values: vec![value.clone()],
            },
            Endpoint::Alias {
                hosted_zone_id,
                dns_name,
            } => RecordTarget::Alias {
                hosted_zone_id: hosted_zone_id.clone(),
                dns_name: dns_name.clone(),
                evaluate_target_health: false,
            },
        }
    }

    /// A CNAME cannot share its name with records of any other type (RFC 1034 section 3.6.2;
    /// Route 53 refuses the change): refused before any write, naming what is there.
    fn check_types(&self, records: &NameRecords) -> Result<(), RouterError> {
        let name = self.record.name.trim_end_matches('.');
        // Latency, geolocation, failover, multivalue or IP-based records answer by their own
        // rules: rewritten as weighted ones they would lose them (and Route 53 refuses a
        // weighted record beside them).
        if let Some(first) = records.other_policies.first() {
            return Err(RouterError::Conflict {
                route: self.describe(),
                reason: format!(
                    "{name} is answered by records with another routing policy ({}), and cutover routes by weighted records only",
                    records.other_policies.join("; ")
                ),
                hint: format!(
                    "route the app through a name of its own, or make the name's records weighted first ({first} is one of them)"
                ),
            });
        }
        let ours = self.record.record_type.as_str();
        let conflicting: Vec<&str> = records
            .other_types
            .iter()
            .map(String::as_str)
            .filter(|other| ours == "CNAME" || *other == "CNAME")
            .collect();
        if conflicting.is_empty() {
            return Ok(());
        }
        if conflicting.iter().any(|kind| matches!(*kind, "SOA" | "NS")) {
            return Err(RouterError::Conflict {
                route: self.describe(),
                reason: format!(
                    "{name} is the zone apex (it has the zone's NS and SOA records), where DNS allows no CNAME"
                ),
                hint: "set `record_type = \"A\"` (or \"AAAA\") with `alias_zone_output` so each release's record is an alias to its load balancer, or route through a name below the apex".into(),
            });
        }
        Err(RouterError::Conflict {
            route: self.describe(),
            reason: format!(
                "{name} already has {} records, and a CNAME cannot share a name with other records",
                conflicting.join(", ")
            ),
            // Only the types `record_type` takes are worth suggesting.
            hint: match conflicting
                .iter()
                .filter(|kind| matches!(**kind, "A" | "AAAA"))
                .copied()
                .collect::<Vec<_>>()[..]
            {
                [] => format!(
                    "route through a name without {} records (cutover routes CNAME, A and AAAA records)",
                    conflicting.join(" or ")
                ),
                ref usable => format!(
                    "set `record_type` under [router] to the type the name already uses ({}), or route through another name",
                    usable.join(" or ")
                ),
            },
        })
    }

    /// The weights key of a weighted record.
    fn key_of<'a>(&'a self, set_identifier: &'a str) -> &'a str {
        if self.baseline.as_deref() == Some(set_identifier) {
            BASELINE
        } else {
            set_identifier
        }
    }

    /// The changes that make `current` hold exactly `weights`; empty when it already does.
    fn changes_for(
        &self,
        weights: &Weights,
        current: &NameRecords,
    ) -> Result<Vec<RecordChange>, RouterError> {
        let invalid = |reason: String| RouterError::InvalidWeights {
            weights: weights.clone(),
            reason,
        };
        let mut changes = Vec::new();
        if let Some(plain) = &current.plain {
            if self.baseline.is_none() {
                return Err(invalid(format!(
                    "{} is not weighted and belongs to no release; adopt it as the baseline first (`cutover deploy APP --adopt`)",
                    self.record.plain_key()
                )));
            }
            // It becomes the weighted baseline record (or goes, when the baseline is let go) in
            // this batch: Route 53 refuses weighted records beside a plain one.
            changes.push(RecordChange::DeletePlain(plain.clone()));
        }
        for (key, percent) in weights.iter() {
            let set_identifier = match (key, &self.baseline) {
                (BASELINE, Some(baseline)) => baseline.as_str(),
                (BASELINE, None) => {
                    return Err(invalid("the app has no baseline".into()));
                }
                (stack, _) => stack,
            };
            let existing = current
                .weighted
                .iter()
                .find(|record| record.set_identifier == set_identifier);
            let target = match (self.endpoints.get(key), existing, &current.plain) {
                (Some(endpoint), _, _) => self.target_of(endpoint),
                // A record cutover did not create (the baseline, or a release it no longer
                // knows): keep pointing where it points, change only its weight.
                (None, Some(record), _) => record.target.clone(),
                (None, None, Some(plain)) if key == BASELINE => plain.clone(),
                // Gone from the name since it was adopted: put back where it pointed.
                (None, None, None) if key == BASELINE && self.baseline_record.is_some() => {
                    self.baseline_record.clone().expect("checked just above")
                }
                (None, None, _) if key == BASELINE => {
                    return Err(invalid(format!(
                        "the baseline's record {set_identifier} is no longer in the name, and where it pointed was not recorded when it was adopted"
                    )))
                }
                (None, None, _) => {
                    return Err(invalid(match self.unroutable.get(key) {
                        Some(reason) => format!("{key} cannot take traffic: {reason}"),
                        None => format!("{key} is not a release stack of this app"),
                    }))
                }
            };
            // One TTL for the whole weighted group, the app's: Route 53 requires it, and given
            // different TTLs it changes every record of the group to the last one written
            // (Route 53 Developer Guide, "Values specific for weighted records", TTL).
            let target = match target {
                RecordTarget::Values { values, .. } => RecordTarget::Values {
                    ttl: i64::from(self.record.ttl),
                    values,
                },
                alias => alias,
            };
            let desired = WeightedRecord {
                set_identifier: set_identifier.to_string(),
                weight: percent,
                target,
                // A health check someone attached (to the baseline's record) stays attached, and
                // the baseline's, as recorded, goes back with a record written back.
                health_check_id: match existing {
                    Some(record) => record.health_check_id.clone(),
                    None if key == BASELINE => self.baseline_health_check.clone(),
                    None => None,
                },
            };
            if existing != Some(&desired) {
                changes.push(RecordChange::Upsert(desired));
            }
        }
        // Records of the app's releases and baseline that the weights leave out are deleted; a
        // record cutover does not own keeps its weight and value, and takes the group's TTL
        // only when this batch changes the group anyway (Route 53 wants one TTL per group).
        let mut ttl_fixes = Vec::new();
        for record in &current.weighted {
            let key = self.key_of(&record.set_identifier);
            let owned = key == BASELINE
                || self.endpoints.contains_key(key)
                || self.unroutable.contains_key(key);
            if weights.iter().any(|(stack, _)| stack == key) {
                continue;
            }
            if owned {
                changes.push(RecordChange::Delete(record.clone()));
            } else if let RecordTarget::Values { ttl, values } = &record.target {
                if *ttl != i64::from(self.record.ttl) {
                    ttl_fixes.push(RecordChange::Upsert(WeightedRecord {
                        target: RecordTarget::Values {
                            ttl: i64::from(self.record.ttl),
                            values: values.clone(),
                        },
                        ..record.clone()
                    }));
                }
            }
        }
        if !changes.is_empty() {
            changes.extend(ttl_fixes);
        }
        Ok(changes)
    }
}

impl<D: DnsApi + Send> TrafficRouter for Route53Router<D> {
    async fn read_weights(&self) -> Result<Weights, RouterError> {
        let records = self
            .current_records(|| format!("read the weights of the {}", self.describe()))
            .await?;
        self.check_types(&records)?;
        *self.last_read.lock().expect("last read lock") = Some(records.clone());
        let mut weights: Weights = if records.weighted.iter().all(|record| record.weight == 0) {
            // Route 53 answers all-zero weighted records in equal shares.
            let count = records.weighted.len() as u32;
            records
                .weighted
                .iter()
                .map(|record| {
                    let key = self.key_of(&record.set_identifier).to_string();
                    (key, to_percent(1, count))
                })
                .collect()
        } else {
            let sum: u32 = records
                .weighted
                .iter()
                .map(|record| u32::from(record.weight))
                .sum();
            records
                .weighted
                .iter()
                .map(|record| {
                    let key = self.key_of(&record.set_identifier).to_string();
                    (key, to_percent(u32::from(record.weight), sum))
                })
                .collect()
        };
        if records.plain.is_some() {
            // A plain record answers every query of the name.
            let key = match self.baseline {
                Some(_) => BASELINE.to_string(),
                None => self.record.plain_key(),
            };
            weights.set(&key, 100);
        }
        Ok(weights)
    }

    /// A weighted record the operator made stays in the name; the weighted `baseline` record
    /// cutover made from a plain one goes (where it pointed stays in the baseline's SSM record).
    fn keeps_let_go_baseline(&self) -> bool {
        self.baseline
            .as_deref()
            .is_some_and(|set_identifier| set_identifier != BASELINE)
    }

    async fn set_weights(&self, weights: &Weights) -> Result<(), RouterError> {
        // All-zero weighted records share traffic equally instead of dropping it.
        if weights.with_traffic().next().is_none() {
            return Err(RouterError::InvalidWeights {
                weights: weights.clone(),
                reason: "at least one record needs a weight above 0".into(),
            });
        }
        let action = || format!("set weights {weights} on the {}", self.describe());
        let current = self.current_records(action).await?;
        let changes = self.changes_for(weights, &current)?;
        if changes.is_empty() {
            return Ok(());
        }
        self.api
            .change_records(
                &self.record.hosted_zone_id,
                &self.record.name,
                &self.record.record_type,
                &changes,
            )
            .await
            .map_err(|error| {
                router_error(
                    action(),
                    &format!("hosted zone {}", self.record.hosted_zone_id),
                    error,
                )
            })
    }

    fn supports_gradual(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::aws::AwsError;

    #[derive(Default)]
    struct FakeZone {
        records: Mutex<Vec<WeightedRecord>>,
        plain: Mutex<Option<RecordTarget>>,
        other_types: Mutex<Vec<String>>,
        other_policies: Mutex<Vec<String>>,
        batches: Mutex<Vec<Vec<RecordChange>>>,
    }

    impl DnsApi for &FakeZone {
        async fn zone_name(&self, _: &str) -> Result<String, AwsError> {
            Ok("Example.com.".into())
        }

        async fn records(&self, _: &str, _: &str, _: &str) -> Result<NameRecords, AwsError> {
            Ok(NameRecords {
                weighted: self.records.lock().unwrap().clone(),
                plain: self.plain.lock().unwrap().clone(),
                other_types: self.other_types.lock().unwrap().clone(),
                other_policies: self.other_policies.lock().unwrap().clone(),
            })
        }

        async fn change_records(
            &self,
            _: &str,
            _: &str,
            _: &str,
            changes: &[RecordChange],
        ) -> Result<(), AwsError> {
            let mut records = self.records.lock().unwrap();
            for change in changes {
                match change {
                    RecordChange::Upsert(record) => {
                        records.retain(|old| old.set_identifier != record.set_identifier);
                        records.push(record.clone());
                    }
                    RecordChange::Delete(record) => {
                        assert!(
                            records.contains(record),
                            "Route 53 deletes only exact records"
                        );
                        records.retain(|old| old != record);
                    }
                    RecordChange::DeletePlain(target) => {
                        let mut plain = self.plain.lock().unwrap();
                        assert_eq!(plain.as_ref(), Some(target), "exact plain record");
                        *plain = None;
                    }
                }
                assert!(
                    records.is_empty() || self.plain.lock().unwrap().is_none(),
                    "Route 53 refuses weighted records beside a plain one"
                );
            }
            self.batches.lock().unwrap().push(changes.to_vec());
            Ok(())
        }
    }

    fn router(zone: &FakeZone) -> Route53Router<&FakeZone> {
        Route53Router::new(
            zone,
            RecordName {
                hosted_zone_id: "Z1".into(),
                name: "api.example.com".into(),
                record_type: "CNAME".into(),
                ttl: 30,
            },
            [
                (
                    "web-r1".to_string(),
                    Endpoint::Value("r1.elb.example".into()),
                ),
                (
                    "web-r2".to_string(),
                    Endpoint::Value("r2.elb.example".into()),
                ),
            ],
            [],
        )
    }

    #[tokio::test]
    async fn a_full_shift_upserts_then_deletes_the_old_record() {
        let zone = FakeZone::default();
        let router = router(&zone);
        for weights in [
            Weights::all_on("web-r1"),
            Weights::split("web-r2", Some("web-r1"), 10),
            Weights::split("web-r2", Some("web-r1"), 100),
            Weights::all_on("web-r2"),
        ] {
            router.set_weights(&weights).await.unwrap();
            assert_eq!(router.read_weights().await.unwrap(), weights);
        }
        let batches = zone.batches.lock().unwrap();
        assert_eq!(batches.len(), 4);
        assert!(
            matches!(&batches[3][..], [RecordChange::Delete(record)] if record.set_identifier == "web-r1")
        );
    }

    #[tokio::test]
    async fn writing_what_is_there_changes_nothing() {
        let zone = FakeZone::default();
        let router = router(&zone);
        let weights = Weights::split("web-r2", Some("web-r1"), 25);
        router.set_weights(&weights).await.unwrap();
        router.set_weights(&weights).await.unwrap();
        assert_eq!(zone.batches.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn foreign_records_keep_their_target() {
        let zone = FakeZone::default();
        let manual = WeightedRecord {
            set_identifier: "manual".into(),
            weight: 5,
            target: RecordTarget::Values {
                ttl: 60,
                values: vec!["elsewhere.example".into()],
            },
            health_check_id: None,
        };
        zone.records.lock().unwrap().push(manual.clone());
        let mut weights = Weights::all_on("web-r1");
        weights.set("manual", 0);
        router(&zone).set_weights(&weights).await.unwrap();
        let records = zone.records.lock().unwrap();
        let kept = records
            .iter()
            .find(|record| record.set_identifier == "manual")
            .unwrap();
        // The value is kept; the TTL is the group's (the app's), as Route 53 would set it.
        assert_eq!(
            (kept.weight, &kept.target),
            (
                0,
                &RecordTarget::Values {
                    ttl: 30,
                    values: vec!["elsewhere.example".into()],
                }
            )
        );
    }

    fn legacy() -> RecordTarget {
        RecordTarget::Values {
            ttl: 300,
            values: vec!["legacy.example.net".into()],
        }
    }

    /// [`legacy`] with the app's TTL, as it is once it shares the weighted group.
    fn legacy_in_group() -> RecordTarget {
        RecordTarget::Values {
            ttl: 30,
            values: vec!["legacy.example.net".into()],
        }
    }

    #[tokio::test]
    async fn all_zero_weights_read_as_equal_shares() {
        let zone = FakeZone::default();
        let at_zero = |stack: &str| WeightedRecord {
            set_identifier: stack.into(),
            weight: 0,
            target: legacy(),
            health_check_id: None,
        };
        zone.records.lock().unwrap().push(at_zero("web-r1"));
        let router = router(&zone);
        assert_eq!(
            router.read_weights().await.unwrap(),
            Weights::all_on("web-r1")
        );
        zone.records.lock().unwrap().push(at_zero("web-r2"));
        let weights = router.read_weights().await.unwrap();
        assert_eq!(
            (weights.share_of("web-r1"), weights.share_of("web-r2")),
            (50, 50)
        );
        // A canary's first step from there is written as such, and reads back so.
        let step = Weights::split("web-r2", Some("web-r1"), 10);
        router.set_weights(&step).await.unwrap();
        assert_eq!(router.read_weights().await.unwrap(), step);
    }

    #[tokio::test]
    async fn an_adopted_plain_record_becomes_the_weighted_baseline_in_one_batch() {
        let zone = FakeZone::default();
        *zone.plain.lock().unwrap() = Some(legacy());
        let unadopted = router(&zone);
        assert_eq!(
            unadopted.read_weights().await.unwrap(),
            Weights::all_on("plain CNAME record api.example.com")
        );
        let refused = unadopted
            .set_weights(&Weights::all_on("web-r1"))
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("--adopt"), "{refused}");
        assert!(zone.batches.lock().unwrap().is_empty());

        let router = router(&zone).with_baseline(BASELINE, None);
        assert_eq!(
            router.read_weights().await.unwrap(),
            Weights::all_on(BASELINE)
        );
        let step = Weights::split("web-r1", Some(BASELINE), 10);
        router.set_weights(&step).await.unwrap();
        assert_eq!(router.read_weights().await.unwrap(), step);
        let batches = zone.batches.lock().unwrap();
        assert_eq!(batches.len(), 1, "one atomic batch");
        assert!(matches!(&batches[0][0], RecordChange::DeletePlain(target) if *target == legacy()));
        let records = zone.records.lock().unwrap();
        let baseline = records
            .iter()
            .find(|record| record.set_identifier == BASELINE)
            .unwrap();
        assert_eq!(
            (baseline.weight, &baseline.target),
            (90, &legacy_in_group())
        );
    }

    #[tokio::test]
    async fn records_of_another_routing_policy_or_at_the_apex_are_refused_on_read() {
        let zone = FakeZone::default();
        zone.other_policies
            .lock()
            .unwrap()
            .push("failover (PRIMARY) record primary".into());
        let refused = router(&zone).read_weights().await.unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("another routing policy (failover (PRIMARY) record primary)"),
            "{refused}"
        );
        let apex = FakeZone::default();
        apex.other_types
            .lock()
            .unwrap()
            .extend(["NS".to_string(), "SOA".to_string()]);
        let refused = router(&apex).read_weights().await.unwrap_err();
        assert!(refused.to_string().contains("zone apex"), "{refused}");
        assert!(
            crate::error::Diagnostic::hint(&refused)
                .is_some_and(|hint| hint.contains("record_type = \"A\"")),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn every_value_record_of_the_group_takes_the_apps_ttl() {
        let zone = FakeZone::default();
        *zone.plain.lock().unwrap() = Some(RecordTarget::Values {
            ttl: 300,
            values: vec!["legacy.example.net".into()],
        });
        let adopted = router(&zone).with_baseline(BASELINE, None);
        adopted
            .set_weights(&Weights::split("web-r1", Some(BASELINE), 10))
            .await
            .unwrap();
        // A record nobody owns joins the group later at its own TTL: the next change of the
        // group gives it the group's, keeping its weight and value.
        zone.records.lock().unwrap().push(WeightedRecord {
            set_identifier: "dr".into(),
            weight: 0,
            target: RecordTarget::Values {
                ttl: 300,
                values: vec!["dr.example.net".into()],
            },
            health_check_id: None,
        });
        adopted
            .set_weights(&Weights::split("web-r1", Some(BASELINE), 100))
            .await
            .unwrap();
        let records = zone.records.lock().unwrap().clone();
        assert_eq!(records.len(), 3);
        let dr = records
            .iter()
            .find(|record| record.set_identifier == "dr")
            .unwrap();
        assert_eq!(dr.weight, 0);
        for record in records {
            assert!(
                matches!(record.target, RecordTarget::Values { ttl: 30, .. }),
                "{record:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_record_name_outside_the_hosted_zone_is_refused_before_any_write() {
        let zone = FakeZone::default();
        router(&zone).check_name_in_zone().await.unwrap();
        for outside in ["api.example.org", "apiexample.com", "example.com.evil.net"] {
            let mut elsewhere = router(&zone);
            elsewhere.record.name = outside.into();
            let refused = elsewhere.check_name_in_zone().await.unwrap_err();
            assert!(
                refused
                    .to_string()
                    .contains("is not in hosted zone Z1 (example.com)"),
                "{outside}: {refused}"
            );
        }
        let mut apex = router(&zone);
        apex.record.name = "EXAMPLE.com.".into();
        apex.check_name_in_zone().await.unwrap();
        assert!(zone.batches.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_baseline_record_a_cutover_took_out_is_put_back_from_where_it_pointed() {
        let zone = FakeZone::default();
        zone.records.lock().unwrap().push(WeightedRecord {
            set_identifier: "legacy".into(),
            weight: 10,
            target: legacy(),
            health_check_id: Some("hc-legacy".into()),
        });
        // Adopted: what the record pointed at is read with the weights and recorded.
        let adopting = router(&zone);
        adopting.read_weights().await.unwrap();
        assert_eq!(adopting.target_last_read("legacy"), Some(legacy()));
        let adopted = router(&zone)
            .with_baseline("legacy", adopting.target_last_read("legacy"))
            .with_baseline_health_check(adopting.health_check_last_read("legacy"));
        // r1 took over, then r2: the route holds only the releases the cutover moves between.
        adopted
            .set_weights(&Weights::split("web-r1", Some(BASELINE), 100))
            .await
            .unwrap();
        adopted
            .set_weights(&Weights::split("web-r2", Some("web-r1"), 100))
            .await
            .unwrap();
        assert!(!zone
            .records
            .lock()
            .unwrap()
            .iter()
            .any(|record| record.set_identifier == "legacy"));
        // A rollback to the baseline writes its record back, pointing where it did.
        adopted
            .set_weights(&Weights::split(BASELINE, Some("web-r2"), 100))
            .await
            .unwrap();
        let back = zone
            .records
            .lock()
            .unwrap()
            .iter()
            .find(|record| record.set_identifier == "legacy")
            .cloned()
            .expect("the baseline's record is back");
        assert_eq!((back.weight, &back.target), (100, &legacy_in_group()));
        assert_eq!(back.health_check_id.as_deref(), Some("hc-legacy"));
        // Without a recorded target it cannot be, and says so.
        let unrecorded = router(&zone).with_baseline("gone", None);
        let refused = unrecorded
            .set_weights(&Weights::split(BASELINE, Some("web-r2"), 100))
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("was not recorded"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn an_adopted_weighted_record_keeps_its_set_identifier() {
        let zone = FakeZone::default();
        zone.records.lock().unwrap().push(WeightedRecord {
            set_identifier: "legacy".into(),
            weight: 7,
            target: legacy(),
            health_check_id: Some("hc-legacy".into()),
        });
        // A record nobody owns, at 0: left as it is.
        zone.records.lock().unwrap().push(WeightedRecord {
            set_identifier: "blue".into(),
            weight: 0,
            target: legacy(),
            health_check_id: None,
        });
        let router = router(&zone).with_baseline("legacy", None);
        assert!(router
            .read_weights()
            .await
            .unwrap()
            .same_traffic(&Weights::all_on(BASELINE)));
        router
            .set_weights(&Weights::split("web-r1", Some(BASELINE), 100))
            .await
            .unwrap();
        let records = zone.records.lock().unwrap();
        assert!(records
            .iter()
            .any(|record| record.set_identifier == "legacy"
                && record.weight == 0
                && record.health_check_id.as_deref() == Some("hc-legacy")));
        assert!(records.iter().any(|record| record.set_identifier == "blue"));
    }

    #[tokio::test]
    async fn a_cname_beside_other_types_of_the_name_is_refused_when_read() {
        let zone = FakeZone::default();
        *zone.other_types.lock().unwrap() = vec!["A".into(), "MX".into()];
        let error = router(&zone).read_weights().await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot use the CNAME record api.example.com in hosted zone Z1: api.example.com already has A, MX records, and a CNAME cannot share a name with other records"
        );
        assert!(crate::error::Diagnostic::hint(&error)
            .unwrap()
            .contains("record_type"));
    }

    #[tokio::test]
    async fn unknown_stacks_and_all_zero_are_refused() {
        let zone = FakeZone::default();
        let router = router(&zone);
        let error = router
            .set_weights(&Weights::all_on("web-r9"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, RouterError::InvalidWeights { .. }),
            "{error}"
        );
        let zero: Weights = [("web-r1".to_string(), 0)].into_iter().collect();
        let error = router.set_weights(&zero).await.unwrap_err();
        assert!(error.to_string().contains("above 0"), "{error}");
        assert!(zone.batches.lock().unwrap().is_empty());
    }
}
