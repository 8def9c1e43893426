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
use crate::route::BaselineTarget;

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

    /// The baseline an adoption of the entry `key` records: the plain record (weighted as
    /// [`BASELINE`] once shared) or a weighted record by its set identifier, with where it
    /// pointed and its health check at the last read (`None` before any read).
    pub fn baseline_target_for(&self, key: &str) -> BaselineTarget {
        let last_read = self.last_read.lock().expect("last read lock");
        let records = last_read.as_ref();
        if key == self.record.plain_key() {
            return BaselineTarget::PlainRecord {
                set_identifier: BASELINE.to_string(),
                record: records.and_then(|records| records.plain.clone()),
            };
        }
        let found = records.and_then(|records| {
            records
                .weighted
                .iter()
                .find(|record| record.set_identifier == key)
        });
        BaselineTarget::WeightedRecord {
            set_identifier: key.to_string(),
            record: found.map(|record| record.target.clone()),
            health_check_id: found.and_then(|record| record.health_check_id.clone()),
        }
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
#[path = "route53_tests.rs"]
mod tests;
