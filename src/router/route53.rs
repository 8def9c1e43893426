//! The Route 53 router: weighted records of one name, one per release stack, with the stack
//! name as the set identifier.

use std::collections::BTreeMap;

use super::service_error::{router_error, to_percent};
use super::{RouterError, TrafficRouter, Weights};
use crate::aws::route53::{DnsApi, RecordChange, RecordTarget, Route53, WeightedRecord};

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

/// Routes by weighted DNS records.
#[derive(Debug, Clone)]
pub struct Route53Router<D = Route53> {
    api: D,
    record: RecordName,
    /// Release stack name → where its record points.
    endpoints: BTreeMap<String, Endpoint>,
    /// Release stacks that cannot be routed to, with the reason (an output missing).
    unroutable: BTreeMap<String, String>,
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
        }
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
    ) -> Result<Vec<WeightedRecord>, RouterError> {
        self.api
            .weighted_records(
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
            },
        }
    }

    /// The changes that make `current` hold exactly `weights`; empty when it already does.
    fn changes_for(
        &self,
        weights: &Weights,
        current: &[WeightedRecord],
    ) -> Result<Vec<RecordChange>, RouterError> {
        let invalid = |reason: String| RouterError::InvalidWeights {
            weights: weights.clone(),
            reason,
        };
        let mut changes = Vec::new();
        for (stack, percent) in weights.iter() {
            let existing = current.iter().find(|record| record.set_identifier == stack);
            let target = match (self.endpoints.get(stack), existing) {
                (Some(endpoint), _) => self.target_of(endpoint),
                // A record cutover did not create (or a release it no longer knows): keep
                // pointing where it points, change only its weight.
                (None, Some(record)) => record.target.clone(),
                (None, None) => {
                    return Err(invalid(match self.unroutable.get(stack) {
                        Some(reason) => format!("{stack} cannot take traffic: {reason}"),
                        None => format!("{stack} is not a release stack of this app"),
                    }))
                }
            };
            let desired = WeightedRecord {
                set_identifier: stack.to_string(),
                weight: percent,
                target,
            };
            if existing != Some(&desired) {
                changes.push(RecordChange::Upsert(desired));
            }
        }
        for record in current {
            if weights
                .iter()
                .all(|(stack, _)| stack != record.set_identifier)
            {
                changes.push(RecordChange::Delete(record.clone()));
            }
        }
        Ok(changes)
    }
}

impl<D: DnsApi + Send> TrafficRouter for Route53Router<D> {
    async fn read_weights(&self) -> Result<Weights, RouterError> {
        let records = self
            .current_records(|| format!("read the weights of the {}", self.describe()))
            .await?;
        let sum: u32 = records.iter().map(|record| u32::from(record.weight)).sum();
        Ok(records
            .iter()
            .map(|record| {
                (
                    record.set_identifier.clone(),
                    to_percent(u32::from(record.weight), sum),
                )
            })
            .collect())
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
        batches: Mutex<Vec<Vec<RecordChange>>>,
    }

    impl DnsApi for &FakeZone {
        async fn weighted_records(
            &self,
            _: &str,
            _: &str,
            _: &str,
        ) -> Result<Vec<WeightedRecord>, AwsError> {
            Ok(self.records.lock().unwrap().clone())
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
                }
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
        assert_eq!((kept.weight, &kept.target), (0, &manual.target));
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
