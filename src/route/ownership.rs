//! Pure: whose is each entry of a route, and what a command may do with the route given that.
//!
//! An entry of the router's weights (a target group, a weighted record, the instance holding an
//! Elastic IP) belongs to one of: a release of this app, this app's baseline, a release of
//! another app (by the other release stack's name or one of its outputs: a target group ARN,
//! an instance id), another app's baseline (recorded on the same route), or nobody. The rules,
//! checked before any change to AWS:
//! - a route that holds another app's release or baseline is never written by this app (deploy,
//!   rollback, resume, retire): each app owns its route, never another's;
//! - traffic to something nobody owns stops a deploy unless it is adopted as the baseline,
//!   which is allowed only when it is all the traffic (an app's first cutover), and only one
//!   target can be adopted;
//! - entries nobody owns at weight 0 are no traffic, and the routers leave them as they are.

use std::fmt;

use serde::Serialize;

use super::baseline::Baseline;
use crate::release::discovery::ReleaseStack;
use crate::router::{Weights, BASELINE};

/// Who an entry of the route belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "owner", rename_all = "snake_case")]
pub enum Owner {
    /// A release stack of this app.
    Release,
    Baseline,
    OtherApp {
        app: String,
        stack: String,
    },
    OtherAppsBaseline {
        app: String,
    },
    Nobody,
}

/// One entry of the route and whose it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteEntry {
    /// The weights key: a release stack, `baseline`, or the raw target (target group ARN,
    /// record set identifier, `plain CNAME record …`, instance id).
    pub key: String,
    pub weight: u8,
    pub owner: Owner,
}

/// What is known about who owns what, for one app's route.
#[derive(Debug, Clone, Copy)]
pub struct Owners<'a> {
    /// The route, as the router names it.
    pub route: &'a str,
    /// This app's release stack names.
    pub releases: &'a [&'a str],
    /// Whether this app has a baseline on this route (the router then reports it as
    /// [`BASELINE`]).
    pub has_baseline: bool,
    /// Every other app's release stacks, with their outputs.
    pub other_apps: &'a [ReleaseStack],
    /// Every other app's baseline: (app, record).
    pub other_baselines: &'a [(String, Baseline)],
}

impl Owners<'_> {
    /// Classifies every entry of `weights`.
    pub fn classify(&self, weights: &Weights) -> Vec<RouteEntry> {
        weights
            .iter()
            .map(|(key, weight)| RouteEntry {
                key: key.to_string(),
                weight,
                owner: self.owner_of(key),
            })
            .collect()
    }

    fn owner_of(&self, key: &str) -> Owner {
        if self.releases.contains(&key) {
            return Owner::Release;
        }
        if key == BASELINE && self.has_baseline {
            return Owner::Baseline;
        }
        if let Some(other) = self.other_apps.iter().find(|other| {
            other.stack.name == key || other.stack.outputs.iter().any(|(_, value)| value == key)
        }) {
            return Owner::OtherApp {
                app: other.tags.app.clone(),
                stack: other.stack.name.clone(),
            };
        }
        if let Some((app, _)) = self
            .other_baselines
            .iter()
            .find(|(_, baseline)| baseline.claims(self.route, key))
        {
            return Owner::OtherAppsBaseline { app: app.clone() };
        }
        Owner::Nobody
    }
}

/// Why this app may not change the route, or not as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnershipError {
    #[error("the {route} sends {weight}% of the traffic to {what}: it is that app's route, and app {app} does not change it")]
    OtherApp {
        app: String,
        route: String,
        other_app: String,
        /// `api-r1, a release of app api` or `the baseline of app api`.
        what: String,
        weight: u8,
    },
    #[error("the {route} sends {weight}% of the traffic to {target}, which no release of app {app} owns")]
    Unowned {
        app: String,
        route: String,
        target: String,
        weight: u8,
    },
    #[error("the {route} sends {weight}% of the traffic to {target}, which no release owns, beside the releases of app {app}")]
    UnownedBesideReleases {
        app: String,
        route: String,
        target: String,
        weight: u8,
    },
    #[error("the {route} splits the traffic between {targets}, which no release owns; only one target can be adopted as the baseline")]
    SplitUnowned { route: String, targets: String },
    #[error("the {route} sends {weight}% of the traffic to {target}, which cannot be adopted as a baseline: {why}")]
    NotAdoptable {
        route: String,
        target: String,
        weight: u8,
        why: String,
        /// What to do instead, in the router's terms.
        instead: String,
    },
}

impl OwnershipError {
    pub fn hint(&self) -> String {
        match self {
            OwnershipError::OtherApp { other_app, .. } => format!(
                "give each app its own route: a listener rule per app (`router.rule`), its own record name or Elastic IP; `cutover status {other_app}` shows the other app"
            ),
            OwnershipError::Unowned { app, .. } => format!(
                "`cutover deploy {app} --adopt` takes it as the app's baseline: traffic moves from it to the new release by the strategy, behind the gates, and back to it if a gate fails; it is never deleted"
            ),
            OwnershipError::UnownedBesideReleases { app, .. } => format!(
                "only an app without traffic can adopt a baseline; take that target out of the route, or send all traffic to one release with `cutover rollback {app} --to STACK` (`cutover status {app}` lists them), then run again"
            ),
            OwnershipError::SplitUnowned { .. } => {
                "send all of that traffic to one target first, then adopt it with --adopt".into()
            }
            OwnershipError::NotAdoptable { instead, .. } => instead.clone(),
        }
    }
}

/// A route this app may write: no entry is another app's release or baseline. `route` names it
/// in the error (`listener rule arn:…`).
pub fn check_own_route(
    app: &str,
    route: &str,
    entries: &[RouteEntry],
) -> Result<(), OwnershipError> {
    let other = entries.iter().find_map(|entry| match &entry.owner {
        Owner::OtherApp { app: other, stack } => {
            Some((entry, other, format!("{stack}, a release of app {other}")))
        }
        Owner::OtherAppsBaseline { app: other } => Some((
            entry,
            other,
            format!("{}, the baseline of app {other}", entry.key),
        )),
        _ => None,
    });
    match other {
        Some((entry, other_app, what)) => Err(OwnershipError::OtherApp {
            app: app.to_string(),
            route: route.to_string(),
            other_app: other_app.clone(),
            what,
            weight: entry.weight,
        }),
        None => Ok(()),
    }
}

/// What a deploy does about traffic nobody owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adoption {
    /// Nothing to adopt: every entry with traffic is a release or the baseline (or there is no
    /// traffic at all: a fixed-response default action).
    Nothing,
    /// Adopt the entry `key` (all the traffic) as the app's baseline.
    Adopt { key: String },
}

/// Decides a deploy's adoption before any change: `adopt` is `--adopt`. Checks
/// [`check_own_route`] first.
pub fn plan_adoption(
    app: &str,
    route: &str,
    entries: &[RouteEntry],
    adopt: bool,
) -> Result<Adoption, OwnershipError> {
    check_own_route(app, route, entries)?;
    let unowned: Vec<&RouteEntry> = entries
        .iter()
        .filter(|entry| entry.owner == Owner::Nobody && entry.weight > 0)
        .collect();
    let Some(first) = unowned.first() else {
        return Ok(Adoption::Nothing);
    };
    let owned_traffic = entries
        .iter()
        .any(|entry| entry.owner != Owner::Nobody && entry.weight > 0);
    if owned_traffic {
        return Err(OwnershipError::UnownedBesideReleases {
            app: app.to_string(),
            route: route.to_string(),
            target: first.key.clone(),
            weight: first.weight,
        });
    }
    if unowned.len() > 1 {
        return Err(OwnershipError::SplitUnowned {
            route: route.to_string(),
            targets: unowned
                .iter()
                .map(|entry| format!("{} ({}%)", entry.key, entry.weight))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    if !adopt {
        return Err(OwnershipError::Unowned {
            app: app.to_string(),
            route: route.to_string(),
            target: first.key.clone(),
            weight: first.weight,
        });
    }
    Ok(Adoption::Adopt {
        key: first.key.clone(),
    })
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Release => f.write_str("a release of this app"),
            Owner::Baseline => f.write_str("this app's baseline"),
            Owner::OtherApp { app, stack } => write!(f, "{stack}, a release of app {app}"),
            Owner::OtherAppsBaseline { app } => write!(f, "the baseline of app {app}"),
            Owner::Nobody => f.write_str("no release"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::aws::cloudformation::StackFacts;
    use crate::release::{ReleaseId, ReleaseTags};

    const API_GROUP: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api-r1/9";
    const LEGACY: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/legacy/4";

    fn other_release(app: &str, stack: &str, outputs: &[(&str, &str)]) -> ReleaseStack {
        ReleaseStack {
            stack: StackFacts {
                name: stack.into(),
                id: format!("id/{stack}"),
                status: "CREATE_COMPLETE".into(),
                status_reason: None,
                created: None,
                tags: Vec::new(),
                parameters: Vec::new(),
                outputs: outputs
                    .iter()
                    .map(|(key, value)| (key.to_string(), value.to_string()))
                    .collect(),
                termination_protection: false,
                exports: Vec::new(),
            },
            tags: ReleaseTags::new_candidate(app, ReleaseId::new("r1").unwrap(), UNIX_EPOCH, "00"),
        }
    }

    fn weights(pairs: &[(&str, u8)]) -> Weights {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn others() -> Vec<ReleaseStack> {
        vec![other_release(
            "api",
            "api-r1",
            &[("TargetGroupArn", API_GROUP)],
        )]
    }

    /// Classifies with no other app's baseline, for an app that has one.
    fn classify(
        weights: &Weights,
        releases: &[&str],
        other_apps: &[ReleaseStack],
    ) -> Vec<RouteEntry> {
        Owners {
            route: "listener arn:l",
            releases,
            has_baseline: true,
            other_apps,
            other_baselines: &[],
        }
        .classify(weights)
    }

    #[test]
    fn entries_are_releases_the_baseline_another_apps_or_nobodys() {
        let entries = classify(
            &weights(&[
                ("web-r1", 60),
                (BASELINE, 40),
                (API_GROUP, 0),
                (LEGACY, 0),
                ("api-r1", 0),
            ]),
            &["web-r1", "web-r2"],
            &others(),
        );
        let owners: Vec<(&str, &Owner)> = entries
            .iter()
            .map(|entry| (entry.key.as_str(), &entry.owner))
            .collect();
        let api = Owner::OtherApp {
            app: "api".into(),
            stack: "api-r1".into(),
        };
        assert_eq!(
            owners,
            [
                ("api-r1", &api),
                (API_GROUP, &api),
                (LEGACY, &Owner::Nobody),
                (BASELINE, &Owner::Baseline),
                ("web-r1", &Owner::Release),
            ]
        );
    }

    #[test]
    fn another_apps_release_in_the_route_stops_every_change_even_at_zero() {
        for weight in [100, 0] {
            let entries = classify(
                &weights(&[(API_GROUP, weight), ("web-r1", 100 - weight)]),
                &["web-r1"],
                &others(),
            );
            let error = check_own_route("web", "listener arn:l", &entries).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("the listener arn:l sends {weight}% of the traffic to api-r1, a release of app api: it is that app's route, and app web does not change it")
            );
            assert!(error.hint().contains("router.rule"));
            assert_eq!(
                plan_adoption("web", "listener arn:l", &entries, true),
                Err(error)
            );
        }
    }

    #[test]
    fn all_the_traffic_on_one_unowned_target_is_adopted_only_with_the_flag() {
        let entries = classify(&weights(&[(LEGACY, 100)]), &[], &others());
        let refused = plan_adoption("web", "listener arn:l", &entries, false).unwrap_err();
        assert!(matches!(
            refused,
            OwnershipError::Unowned { weight: 100, .. }
        ));
        assert!(refused.to_string().contains(LEGACY));
        assert!(refused.hint().contains("cutover deploy web --adopt"));
        assert_eq!(
            plan_adoption("web", "listener arn:l", &entries, true),
            Ok(Adoption::Adopt { key: LEGACY.into() })
        );
    }

    #[test]
    fn nothing_to_adopt_when_traffic_is_owned_or_absent_or_unowned_at_zero() {
        for pairs in [
            &[][..],
            &[("web-r1", 100), (LEGACY, 0)][..],
            &[(BASELINE, 90), ("web-r2", 10)][..],
        ] {
            let entries = classify(&weights(pairs), &["web-r1", "web-r2"], &others());
            for adopt in [false, true] {
                assert_eq!(
                    plan_adoption("web", "route", &entries, adopt),
                    Ok(Adoption::Nothing),
                    "{pairs:?}"
                );
            }
        }
    }

    #[test]
    fn another_apps_baseline_on_the_same_route_is_that_apps() {
        let shop = Baseline::new(
            "listener rule arn:rule".into(),
            super::super::BaselineTarget::TargetGroup { arn: LEGACY.into() },
            UNIX_EPOCH,
            "ops".into(),
        );
        let other_baselines = [("shop".to_string(), shop.clone())];
        let owners = |route| Owners {
            route,
            releases: &[],
            has_baseline: false,
            other_apps: &[],
            other_baselines: &other_baselines,
        };
        let weights = weights(&[(LEGACY, 100)]);
        let entries = owners("listener rule arn:rule").classify(&weights);
        assert_eq!(
            entries[0].owner,
            Owner::OtherAppsBaseline { app: "shop".into() }
        );
        let error = plan_adoption("evil", "listener rule arn:rule", &entries, true).unwrap_err();
        assert!(
            error.to_string().contains("the baseline of app shop"),
            "{error}"
        );
        // On another route the same target group is nobody's.
        let elsewhere = owners("listener arn:other").classify(&weights);
        assert_eq!(elsewhere[0].owner, Owner::Nobody);
        // Once let go, it is nobody's again.
        let released = [("shop".to_string(), shop.released(UNIX_EPOCH))];
        let owners = Owners {
            other_baselines: &released,
            ..owners("listener rule arn:rule")
        };
        assert_eq!(owners.classify(&weights)[0].owner, Owner::Nobody);
        // "baseline" is a raw record name to an app without a baseline.
        let record = Baseline::new(
            "CNAME record api.example.com in hosted zone Z1".into(),
            super::super::BaselineTarget::PlainRecord {
                set_identifier: BASELINE.into(),
                record: None,
            },
            UNIX_EPOCH,
            "ops".into(),
        );
        let other_baselines = [("api".to_string(), record)];
        let owners = Owners {
            route: "CNAME record api.example.com in hosted zone Z1",
            releases: &[],
            has_baseline: false,
            other_apps: &[],
            other_baselines: &other_baselines,
        };
        let entries = owners.classify(&self::weights(&[(BASELINE, 100)]));
        assert_eq!(
            entries[0].owner,
            Owner::OtherAppsBaseline { app: "api".into() }
        );
    }

    #[test]
    fn unowned_traffic_beside_releases_or_split_cannot_be_adopted() {
        let beside = classify(&weights(&[(LEGACY, 30), ("web-r1", 70)]), &["web-r1"], &[]);
        assert!(matches!(
            plan_adoption("web", "route", &beside, true),
            Err(OwnershipError::UnownedBesideReleases { weight: 30, .. })
        ));
        let other = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/other/5";
        let split = classify(&weights(&[(LEGACY, 50), (other, 50)]), &[], &[]);
        let error = plan_adoption("web", "route", &split, true).unwrap_err();
        assert!(matches!(error, OwnershipError::SplitUnowned { .. }));
        assert!(error.to_string().contains("(50%)"), "{error}");
    }
}
