//! Pure retention: which of an app's releases to keep and which to retire, and why.
//!
//! The rules, in order (the first that applies decides):
//! 1. a release with traffic (weight > 0) is kept: nothing is deleted under traffic;
//! 2. the live release is kept;
//! 3. the rollback target is kept;
//! 4. a release whose stack operation is still in progress is kept (it may be a deploy's
//!    candidate being created; deleting it would race that deploy);
//! 5. a failed release (creation failed, gates failed, rolled away from) is kept for inspection
//!    for `inspect_failed_for` after it failed, then retired; failed releases never hold one of
//!    the `keep` places, since nobody rolls back to them;
//! 6. the newest release, created after the live one, that never took traffic is kept, and
//!    holds no `keep` place: a run died between creating it and its first traffic step (`cutover resume`
//!    finishes that cutover); it was never proven, so it is never kept *for rollback* in place
//!    of a release that served;
//! 7. the other releases, newest first, hold the `keep` places: the first `keep` are kept unless
//!    older than `retire_after`; the rest are retired.
//!
//! The caller passes only stacks tagged as this app's releases: a stack that is not the app's is
//! never an input, so it can never be retired.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// What retention needs to know about one release stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFacts {
    pub stack_name: String,
    pub created: SystemTime,
    /// Percent of the traffic the router sends to it now.
    pub weight: u8,
    /// The release that serves traffic, as the router says.
    pub live: bool,
    /// Still being created or updated.
    pub in_progress: bool,
    /// When it was marked failed (tag), if it was.
    pub failed_at: Option<SystemTime>,
    /// It once had all the traffic (its mark's `took_traffic_at`): never an unfinished cutover.
    pub served: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Previous releases kept for rollback.
    pub keep: u32,
    /// Previous releases older than this are retired even within `keep`.
    pub retire_after: Option<Duration>,
    /// How long a failed release stays for someone to look at it.
    pub inspect_failed_for: Duration,
}

impl RetentionPolicy {
    /// How long failed releases stay when the spec does not say.
    pub const DEFAULT_INSPECTION: Duration = Duration::from_secs(24 * 60 * 60);

    pub fn new(keep: u32, retire_after: Option<Duration>) -> Self {
        Self {
            keep,
            retire_after,
            inspect_failed_for: Self::DEFAULT_INSPECTION,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetirementPlan {
    /// Newest first.
    pub keep: Vec<Kept>,
    /// Newest first.
    pub retire: Vec<Retired>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub stack_name: String,
    pub why: KeepReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retired {
    pub stack_name: String,
    pub why: RetireReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum KeepReason {
    CarriesTraffic {
        weight: u8,
    },
    Live,
    RollbackTarget,
    InProgress,
    Inspecting {
        #[serde(rename = "left_secs", with = "secs")]
        left: Duration,
    },
    /// Holds place `place` (from 1) of `keep`.
    ForRollback {
        place: u32,
        keep: u32,
    },
    /// Held on its test route (`deploy --hold`), waiting for `promote` or `abort`.
    Held,
    /// Newer than the live release and never given traffic: a cutover a run left before its
    /// first step.
    Unfinished,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum RetireReason {
    BeyondKeep {
        keep: u32,
    },
    OlderThan {
        #[serde(rename = "retire_after_secs", with = "secs")]
        retire_after: Duration,
    },
    FailedAndInspected {
        #[serde(rename = "failed_for_secs", with = "secs")]
        failed_for: Duration,
    },
}

pub fn plan_retirement(
    releases: &[ReleaseFacts],
    policy: &RetentionPolicy,
    now: SystemTime,
    rollback_target: Option<&str>,
) -> RetirementPlan {
    let mut newest_first: Vec<&ReleaseFacts> = releases.iter().collect();
    newest_first.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then_with(|| b.stack_name.cmp(&a.stack_name))
    });
    let age = |since: SystemTime| now.duration_since(since).unwrap_or(Duration::ZERO);

    let live_created = releases
        .iter()
        .filter(|release| release.live)
        .map(|release| release.created)
        .max();
    // Only the newest release can be one a dead run created and never routed: an older one
    // newer than the live release is one a rollback skipped over, which did serve.
    let newest_created = releases.iter().map(|release| release.created).max();
    let mut plan = RetirementPlan::default();
    let mut places_taken = 0;
    for release in newest_first {
        let decision = if release.weight > 0 {
            Ok(KeepReason::CarriesTraffic {
                weight: release.weight,
            })
        } else if release.live {
            Ok(KeepReason::Live)
        } else if rollback_target == Some(release.stack_name.as_str()) {
            Ok(KeepReason::RollbackTarget)
        } else if release.in_progress {
            Ok(KeepReason::InProgress)
        } else if let Some(failed_at) = release.failed_at {
            let failed_for = age(failed_at);
            match policy.inspect_failed_for.checked_sub(failed_for) {
                Some(left) if !left.is_zero() => Ok(KeepReason::Inspecting { left }),
                _ => Err(RetireReason::FailedAndInspected { failed_for }),
            }
        } else if !release.served
            && live_created.is_some_and(|live| release.created > live)
            && Some(release.created) == newest_created
        {
            Ok(KeepReason::Unfinished)
        } else if places_taken >= policy.keep {
            Err(RetireReason::BeyondKeep { keep: policy.keep })
        } else if let Some(retire_after) = policy
            .retire_after
            .filter(|&limit| age(release.created) >= limit)
        {
            Err(RetireReason::OlderThan { retire_after })
        } else {
            places_taken += 1;
            Ok(KeepReason::ForRollback {
                place: places_taken,
                keep: policy.keep,
            })
        };
        let stack_name = release.stack_name.clone();
        match decision {
            Ok(why) => plan.keep.push(Kept { stack_name, why }),
            Err(why) => plan.retire.push(Retired { stack_name, why }),
        }
    }
    plan
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepReason::CarriesTraffic { weight } => write!(f, "carries {weight}% of the traffic"),
            KeepReason::Live => f.write_str("live"),
            KeepReason::RollbackTarget => f.write_str("rollback target"),
            KeepReason::InProgress => f.write_str("stack operation in progress"),
            KeepReason::Inspecting { left } => {
                write!(
                    f,
                    "failed; kept for inspection for another {}",
                    human(*left)
                )
            }
            KeepReason::ForRollback { place, keep } => {
                write!(f, "kept for rollback ({place} of keep = {keep})")
            }
            KeepReason::Held => f.write_str("held on its test route (promote or abort it)"),
            KeepReason::Unfinished => f.write_str(
                "newer than the live release and never given traffic (`cutover resume` finishes its cutover)",
            ),
        }
    }
}

impl fmt::Display for RetireReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetireReason::BeyondKeep { keep } => write!(f, "beyond keep = {keep}"),
            RetireReason::OlderThan { retire_after } => {
                write!(f, "older than retire_after = {}", human(*retire_after))
            }
            RetireReason::FailedAndInspected { failed_for } => {
                write!(
                    f,
                    "failed {} ago; inspection time is over",
                    human(*failed_for)
                )
            }
        }
    }
}

fn human(duration: Duration) -> String {
    crate::rotation::human(duration)
}

mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + 1000 * HOUR
    }

    /// A healthy release created `hours_ago`, with no traffic.
    fn release(name: &str, hours_ago: u64) -> ReleaseFacts {
        ReleaseFacts {
            stack_name: name.to_owned(),
            created: now() - hours_ago as u32 * HOUR,
            weight: 0,
            live: false,
            in_progress: false,
            failed_at: None,
            served: false,
        }
    }

    fn live(name: &str, hours_ago: u64) -> ReleaseFacts {
        ReleaseFacts {
            weight: 100,
            live: true,
            ..release(name, hours_ago)
        }
    }

    fn names_kept(plan: &RetirementPlan) -> Vec<&str> {
        plan.keep.iter().map(|k| k.stack_name.as_str()).collect()
    }

    fn names_retired(plan: &RetirementPlan) -> Vec<&str> {
        plan.retire.iter().map(|r| r.stack_name.as_str()).collect()
    }

    /// A run died between creating web-r3 and its first step: web-r3 is kept (resume finishes
    /// it) but takes no rollback place, so web-r1, which served, keeps the one place.
    #[test]
    fn a_release_newer_than_the_live_one_without_traffic_holds_no_keep_place() {
        let releases = [
            release("web-r1", 30),
            live("web-r2", 10),
            release("web-r3", 1),
        ];
        let plan = plan_retirement(&releases, &RetentionPolicy::new(1, None), now(), None);
        assert_eq!(names_kept(&plan), ["web-r3", "web-r2", "web-r1"]);
        assert_eq!(plan.keep[0].why, KeepReason::Unfinished);
        assert_eq!(
            plan.keep[2].why,
            KeepReason::ForRollback { place: 1, keep: 1 }
        );
        let keep_zero = plan_retirement(&releases, &RetentionPolicy::new(0, None), now(), None);
        assert_eq!(names_retired(&keep_zero), ["web-r1"]);
        assert_eq!(names_kept(&keep_zero), ["web-r3", "web-r2"]);
        // A rollback from r3 to r1 skipped over r2, which served: it is no unfinished release.
        let skipped = [
            live("web-r1", 30),
            release("web-r2", 10),
            ReleaseFacts {
                failed_at: Some(now()),
                ..release("web-r3", 1)
            },
        ];
        let plan = plan_retirement(&skipped, &RetentionPolicy::new(0, None), now(), None);
        assert_eq!(names_retired(&plan), ["web-r2"]);
        // Once r3 is retired, r2 is the newest and newer than the live r1; it served, so it
        // is no unfinished release either and holds a place like any release that served.
        let skipped_alone = [
            live("web-r1", 30),
            ReleaseFacts {
                served: true,
                ..release("web-r2", 10)
            },
        ];
        let plan = plan_retirement(&skipped_alone, &RetentionPolicy::new(0, None), now(), None);
        assert_eq!(names_retired(&plan), ["web-r2"]);
        let unserved = [live("web-r1", 30), release("web-r2", 10)];
        let plan = plan_retirement(&unserved, &RetentionPolicy::new(0, None), now(), None);
        assert_eq!(plan.keep[0].why, KeepReason::Unfinished);
    }

    #[test]
    fn keep_one_keeps_live_and_the_newest_previous() {
        let releases = [
            release("web-r1", 30),
            live("web-r3", 1),
            release("web-r2", 10),
        ];
        let plan = plan_retirement(&releases, &RetentionPolicy::new(1, None), now(), None);
        assert_eq!(names_kept(&plan), ["web-r3", "web-r2"]);
        assert_eq!(names_retired(&plan), ["web-r1"]);
        assert_eq!(plan.keep[0].why, KeepReason::CarriesTraffic { weight: 100 });
        assert_eq!(
            plan.keep[1].why.to_string(),
            "kept for rollback (1 of keep = 1)"
        );
        assert_eq!(plan.retire[0].why.to_string(), "beyond keep = 1");
    }

    #[test]
    fn keep_zero_retires_every_previous_release() {
        let releases = [
            live("web-r3", 1),
            release("web-r2", 2),
            release("web-r1", 3),
        ];
        let plan = plan_retirement(&releases, &RetentionPolicy::new(0, None), now(), None);
        assert_eq!(names_kept(&plan), ["web-r3"]);
        assert_eq!(names_retired(&plan), ["web-r2", "web-r1"]);
    }

    #[test]
    fn retire_after_retires_old_releases_within_keep() {
        let releases = [
            live("web-r3", 1),
            release("web-r2", 3),
            release("web-r1", 1),
        ];
        let policy = RetentionPolicy::new(5, Some(2 * HOUR));
        let plan = plan_retirement(&releases, &policy, now(), None);
        // Sorted newest first by creation: r3 and r1 (1 h) then r2 (3 h).
        assert_eq!(names_kept(&plan), ["web-r3", "web-r1"]);
        assert_eq!(names_retired(&plan), ["web-r2"]);
        assert_eq!(
            plan.retire[0].why.to_string(),
            "older than retire_after = 2h"
        );
    }

    #[test]
    fn traffic_live_and_rollback_target_are_kept_whatever_retention_says() {
        let mut mid_cutover = release("web-r4", 0);
        mid_cutover.weight = 10;
        let mut was_live = live("web-r3", 50);
        was_live.weight = 90;
        let releases = [
            mid_cutover,
            was_live,
            release("web-r2", 60),
            release("web-r1", 70),
        ];
        let policy = RetentionPolicy::new(0, Some(HOUR));
        let plan = plan_retirement(&releases, &policy, now(), Some("web-r1"));
        assert_eq!(names_kept(&plan), ["web-r4", "web-r3", "web-r1"]);
        assert_eq!(names_retired(&plan), ["web-r2"]);
        assert_eq!(plan.keep[2].why, KeepReason::RollbackTarget);
    }

    #[test]
    fn live_without_weight_is_still_kept() {
        // A router read that lost the weight must not make the live release deletable.
        let mut live_no_weight = live("web-r2", 5);
        live_no_weight.weight = 0;
        let plan = plan_retirement(
            &[live_no_weight],
            &RetentionPolicy::new(0, None),
            now(),
            None,
        );
        assert_eq!(plan.keep[0].why, KeepReason::Live);
        assert!(plan.retire.is_empty());
    }

    #[test]
    fn a_release_still_in_progress_is_kept() {
        let mut creating = release("web-r4", 0);
        creating.in_progress = true;
        let plan = plan_retirement(&[creating], &RetentionPolicy::new(0, None), now(), None);
        assert_eq!(plan.keep[0].why, KeepReason::InProgress);
    }

    #[test]
    fn failed_releases_are_inspected_then_retired_and_take_no_keep_place() {
        let mut failed_recently = release("web-r4", 2);
        failed_recently.failed_at = Some(now() - HOUR);
        let mut failed_long_ago = release("web-r3", 40);
        failed_long_ago.failed_at = Some(now() - 30 * HOUR);
        let releases = [
            failed_recently,
            failed_long_ago,
            live("web-r2", 50),
            release("web-r1", 60),
        ];
        let plan = plan_retirement(&releases, &RetentionPolicy::new(1, None), now(), None);
        assert_eq!(names_kept(&plan), ["web-r4", "web-r2", "web-r1"]);
        assert_eq!(names_retired(&plan), ["web-r3"]);
        assert_eq!(
            plan.keep[0].why.to_string(),
            "failed; kept for inspection for another 23h"
        );
        assert_eq!(
            plan.retire[0].why.to_string(),
            "failed 1d 6h ago; inspection time is over"
        );
        assert_eq!(
            plan.keep[2].why,
            KeepReason::ForRollback { place: 1, keep: 1 }
        );
    }

    #[test]
    fn a_failed_release_with_traffic_is_never_retired() {
        let mut failed_with_traffic = release("web-r2", 100);
        failed_with_traffic.failed_at = Some(now() - 100 * HOUR);
        failed_with_traffic.weight = 100;
        let plan = plan_retirement(
            &[failed_with_traffic],
            &RetentionPolicy::new(0, Some(HOUR)),
            now(),
            None,
        );
        assert_eq!(names_retired(&plan), Vec::<&str>::new());
    }

    #[test]
    fn json_shape() {
        let releases = [live("web-r2", 1), release("web-r1", 2)];
        let plan = plan_retirement(&releases, &RetentionPolicy::new(0, None), now(), None);
        assert_eq!(
            serde_json::to_string(&plan).unwrap(),
            r#"{"keep":[{"stack_name":"web-r2","why":{"reason":"carries_traffic","weight":100}}],"retire":[{"stack_name":"web-r1","why":{"reason":"beyond_keep","keep":0}}]}"#
        );
    }
}
