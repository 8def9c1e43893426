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
    let BaselineTarget::WeightedRecord {
        record,
        health_check_id,
        ..
    } = adopting.baseline_target_for("legacy")
    else {
        panic!("a weighted record is adopted as one");
    };
    assert_eq!(record, Some(legacy()));
    assert_eq!(health_check_id.as_deref(), Some("hc-legacy"));
    let adopted = router(&zone)
        .with_baseline("legacy", record)
        .with_baseline_health_check(health_check_id);
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
