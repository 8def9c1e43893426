//! Pure rotation policy: which apps are due for a rebuild, and why.
//!
//! An app is due when its live release is older than `max_age`, or when `refresh_ami` is on and
//! the live release runs an image other than the newest one its AMI source resolves to. An app
//! without a live release is never due: there is nothing to rotate, and a first release is a
//! deploy's job. An AMI that is unknown on either side (the template takes no AMI, the lookup
//! found none) is not a reason to rebuild.

pub mod fleet;
pub mod shard;

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// What rotation needs to know about one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRotationFacts {
    pub app: String,
    /// The live release's stack name, as the router says; `None` when nothing is live.
    pub live_release: Option<String>,
    pub live_release_created: Option<SystemTime>,
    /// The image the live release was built with (its resolved AMI parameter).
    pub live_ami: Option<String>,
    /// The image the app's AMI source resolves to now.
    pub newest_ami: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    pub max_age: Option<Duration>,
    pub refresh_ami: bool,
}

/// Why an app is due; at least one of the two is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationReason {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_old: Option<TooOld>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_ami: Option<StaleAmi>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TooOld {
    #[serde(rename = "age_secs", serialize_with = "secs")]
    pub age: Duration,
    #[serde(rename = "max_age_secs", serialize_with = "secs")]
    pub max_age: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleAmi {
    pub live: String,
    pub newest: String,
}

pub fn due_for_rotation(
    facts: &AppRotationFacts,
    policy: &RotationPolicy,
    now: SystemTime,
) -> Option<RotationReason> {
    facts.live_release.as_ref()?;
    let too_old = match (policy.max_age, facts.live_release_created) {
        (Some(max_age), Some(created)) => {
            let age = now.duration_since(created).unwrap_or(Duration::ZERO);
            (age >= max_age).then_some(TooOld { age, max_age })
        }
        _ => None,
    };
    let stale_ami = match (&facts.live_ami, &facts.newest_ami) {
        (Some(live), Some(newest)) if policy.refresh_ami && live != newest => Some(StaleAmi {
            live: live.clone(),
            newest: newest.clone(),
        }),
        _ => None,
    };
    (too_old.is_some() || stale_ami.is_some()).then_some(RotationReason { too_old, stale_ami })
}

/// `live release is 31d 3h old (max_age 30d) and runs ami-1, newest is ami-2`.
impl fmt::Display for RotationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(TooOld { age, max_age }) = self.too_old {
            write!(
                f,
                "live release is {} old (max_age {})",
                human(age),
                human(max_age)
            )?;
        }
        if let Some(StaleAmi { live, newest }) = &self.stale_ami {
            if self.too_old.is_some() {
                f.write_str(" and runs")?;
            } else {
                f.write_str("live release runs")?;
            }
            write!(f, " {live}, newest is {newest}")?;
        }
        Ok(())
    }
}

/// Ages in days and hours (`31d 3h`), hours and minutes below a day, minutes below an hour:
/// policies work on that scale, and calendar months (humantime's `1month`) are not exact.
pub(crate) fn human(duration: Duration) -> String {
    let minutes = duration.as_secs() / 60;
    let (days, hours, minutes) = (minutes / (24 * 60), minutes / 60 % 24, minutes % 60);
    match (days, hours, minutes) {
        (0, 0, minutes) => format!("{minutes}m"),
        (0, hours, 0) => format!("{hours}h"),
        (0, hours, minutes) => format!("{hours}h {minutes}m"),
        (days, 0, _) => format!("{days}d"),
        (days, hours, _) => format!("{days}d {hours}h"),
    }
}

fn secs<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(duration.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + 1000 * DAY
    }

    fn facts(age: Duration, live_ami: Option<&str>, newest_ami: Option<&str>) -> AppRotationFacts {
        AppRotationFacts {
            app: "web".to_owned(),
            live_release: Some("web-r1".to_owned()),
            live_release_created: Some(now() - age),
            live_ami: live_ami.map(str::to_owned),
            newest_ami: newest_ami.map(str::to_owned),
        }
    }

    fn policy(max_age_days: Option<u32>, refresh_ami: bool) -> RotationPolicy {
        RotationPolicy {
            max_age: max_age_days.map(|days| days * DAY),
            refresh_ami,
        }
    }

    #[test]
    fn young_release_on_newest_ami_is_not_due() {
        let facts = facts(10 * DAY, Some("ami-2"), Some("ami-2"));
        assert_eq!(
            due_for_rotation(&facts, &policy(Some(30), true), now()),
            None
        );
    }

    #[test]
    fn old_release_is_due_from_max_age_on() {
        let just_old = facts(30 * DAY, None, None);
        let reason = due_for_rotation(&just_old, &policy(Some(30), false), now()).unwrap();
        assert_eq!(
            reason.too_old,
            Some(TooOld {
                age: 30 * DAY,
                max_age: 30 * DAY
            })
        );
        assert_eq!(reason.to_string(), "live release is 30d old (max_age 30d)");
        let almost = facts(30 * DAY - Duration::from_secs(1), None, None);
        assert_eq!(
            due_for_rotation(&almost, &policy(Some(30), false), now()),
            None
        );
    }

    #[test]
    fn stale_ami_is_due_only_with_refresh_ami() {
        let stale = facts(DAY, Some("ami-1"), Some("ami-2"));
        let reason = due_for_rotation(&stale, &policy(None, true), now()).unwrap();
        assert_eq!(
            reason.to_string(),
            "live release runs ami-1, newest is ami-2"
        );
        assert_eq!(due_for_rotation(&stale, &policy(None, false), now()), None);
    }

    #[test]
    fn unknown_ami_on_either_side_is_not_stale() {
        for facts in [
            facts(DAY, None, Some("ami-2")),
            facts(DAY, Some("ami-1"), None),
        ] {
            assert_eq!(due_for_rotation(&facts, &policy(None, true), now()), None);
        }
    }

    #[test]
    fn both_reasons_are_reported_together() {
        let both = facts(
            31 * DAY + 3 * 3600 * Duration::from_secs(1),
            Some("ami-1"),
            Some("ami-2"),
        );
        let reason = due_for_rotation(&both, &policy(Some(30), true), now()).unwrap();
        assert_eq!(
            reason.to_string(),
            "live release is 31d 3h old (max_age 30d) and runs ami-1, newest is ami-2"
        );
        assert_eq!(
            serde_json::to_string(&reason).unwrap(),
            r#"{"too_old":{"age_secs":2689200,"max_age_secs":2592000},"stale_ami":{"live":"ami-1","newest":"ami-2"}}"#
        );
    }

    #[test]
    fn an_app_with_nothing_live_is_never_due() {
        let mut nothing_live = facts(100 * DAY, Some("ami-1"), Some("ami-2"));
        nothing_live.live_release = None;
        assert_eq!(
            due_for_rotation(&nothing_live, &policy(Some(1), true), now()),
            None
        );
    }

    #[test]
    fn ages_read_in_days_hours_and_minutes() {
        let minute = Duration::from_secs(60);
        assert_eq!(human(Duration::from_secs(59)), "0m");
        assert_eq!(human(5 * minute), "5m");
        assert_eq!(human(60 * minute), "1h");
        assert_eq!(human(125 * minute), "2h 5m");
        assert_eq!(human(DAY + 5 * minute), "1d");
        assert_eq!(human(45 * DAY + 120 * minute), "45d 2h");
    }

    #[test]
    fn a_clock_behind_the_creation_time_is_age_zero() {
        let future = facts(Duration::ZERO, None, None);
        let earlier = now() - DAY;
        assert_eq!(
            due_for_rotation(&future, &policy(Some(0), false), earlier)
                .map(|r| r.too_old.unwrap().age),
            Some(Duration::ZERO)
        );
    }
}
