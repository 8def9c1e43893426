//! What an app looks like now: its release stacks, each with the traffic the router gives it and
//! the role that follows from the facts. The router says what is live, not the tags: tags are
//! only the fallback when the router cannot be read, and they mark what traffic cannot show
//! (failed, retiring).
//!
//! Used by `status`, `rollback`, `retire`, retention after a deploy, and the deploy plan.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::discovery::{self, DiscoveryError, ReleaseStack};
use super::marks::{self, Mark, MarkError};
use super::retention::ReleaseFacts;
use super::tags::Role;
use crate::aws::cloudformation::{CloudFormation, StackFacts};
use crate::aws::ssm::Ssm;
use crate::aws::AwsContext;
use crate::error::{Diagnostic, Exit};
use crate::route::{self, Baseline, BaselineError, Owners, RouteEntry, RouteError};
use crate::router::{build_router, AnyRouter, RouterError, TrafficRouter, Weights, BASELINE};
use crate::spec::AppSpec;

/// When a release was marked failed (rolled away from, say), RFC 3339 UTC. Retention keeps a
/// failed release for inspection counted from this time.
pub const FAILED_AT: &str = "cutover:failed-at";

/// One release of the app as observed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRelease {
    pub stack: StackFacts,
    pub tags: super::ReleaseTags,
    /// Percent of the traffic; `None` when the router could not be read.
    pub weight: Option<u8>,
    /// Present in the router's configuration (possibly at weight 0).
    pub routed: bool,
    pub role: Role,
    pub age: Duration,
}

impl ObservedRelease {
    pub fn name(&self) -> &str {
        &self.stack.name
    }

    /// In a state traffic may be sent to.
    pub fn is_healthy(&self) -> bool {
        is_complete(&self.stack.status)
    }

    /// When it was marked failed: the `cutover:failed-at` tag, else its creation (a release that
    /// failed to create failed when it was made).
    pub fn failed_at(&self) -> Option<SystemTime> {
        if self.role != Role::Failed {
            return None;
        }
        Some(self.tags.failed_at.unwrap_or(self.tags.created))
    }

    /// Why the release needs a look, if it does: the attention tag, else the failure reason.
    pub fn note(&self) -> Option<&str> {
        self.tags
            .attention
            .as_deref()
            .or(self.tags.failed_reason.as_deref())
    }
}

/// CREATE_COMPLETE and UPDATE_COMPLETE: the only states a rollback may target.
pub fn is_complete(status: &str) -> bool {
    matches!(status, "CREATE_COMPLETE" | "UPDATE_COMPLETE")
}

fn is_in_progress(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS") && status != "DELETE_IN_PROGRESS"
}

fn is_failed_status(status: &str) -> bool {
    status.ends_with("_FAILED") && status != "DELETE_FAILED"
        || status.starts_with("ROLLBACK_")
        || status == "IMPORT_ROLLBACK_COMPLETE"
}

/// The app's baseline as observed now: adopted on the route the spec names and not let go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedBaseline {
    pub record: Baseline,
    /// Percent of the traffic; `None` when the router could not be read.
    pub weight: Option<u8>,
    /// Present in the router's configuration (possibly at weight 0).
    pub routed: bool,
}

/// An app's releases, oldest first, and the router's view of them.
#[derive(Debug)]
pub struct AppReleases {
    pub app: String,
    pub releases: Vec<ObservedRelease>,
    /// The router's weights by stack name (also entries that are no release of this app, e.g.
    /// a target group ARN nobody knows); `None` when the router could not be read.
    pub weights: Option<Weights>,
    /// The router, built knowing every release stack; `None` when it could not be set up.
    pub router: Option<AnyRouter>,
    /// Why the router could not be set up or read.
    pub router_error: Option<RouterError>,
    /// The baseline the router knows (reported under [`BASELINE`]), if the app adopted one on
    /// this route and retention has not let it go.
    pub baseline: Option<ObservedBaseline>,
    /// Every other app's release stacks in the account and region: whose a route entry is.
    pub other_apps: Vec<ReleaseStack>,
    /// Every other app's baseline in the account and region: (app, record).
    pub other_baselines: Vec<(String, Baseline)>,
    /// ALB target group stickiness of the route's forward action, as read with the weights.
    pub stickiness: Option<Duration>,
    /// Every mark of the app by stack name, as read with the releases (deleted releases'
    /// too: `history` and the dashboard tell from them what became of each).
    pub marks: BTreeMap<String, Mark>,
}

impl AppReleases {
    /// The release that serves traffic (the oldest with traffic, while a cutover is under way).
    /// `None` while the baseline still has traffic: it is older than every release.
    pub fn live(&self) -> Option<&ObservedRelease> {
        self.releases
            .iter()
            .find(|release| release.role == Role::Live)
    }

    /// Whether the baseline carries traffic (it is then what is live).
    pub fn baseline_has_traffic(&self) -> bool {
        self.baseline
            .as_ref()
            .is_some_and(|baseline| baseline.weight.unwrap_or(0) > 0)
    }

    /// The name of what serves traffic: [`BASELINE`] while the baseline has some, else the live
    /// release's stack.
    pub fn live_name(&self) -> Option<&str> {
        if self.baseline_has_traffic() {
            return Some(BASELINE);
        }
        self.live().map(ObservedRelease::name)
    }

    /// Every entry of the route and whose it is; empty when the router could not be read.
    pub fn route_entries(&self) -> Vec<RouteEntry> {
        let Some(weights) = &self.weights else {
            return Vec::new();
        };
        let releases: Vec<&str> = self.releases.iter().map(ObservedRelease::name).collect();
        // Without a router there is no route another app's baseline could be recorded on.
        let route = self
            .router
            .as_ref()
            .map(AnyRouter::route)
            .unwrap_or_default();
        Owners {
            route: &route,
            releases: &releases,
            has_baseline: self.baseline.is_some(),
            other_apps: &self.other_apps,
            other_baselines: &self.other_baselines,
        }
        .classify(weights)
    }

    /// Refuses a route that holds another app's release (see `route::ownership`): checked by
    /// every command before it writes the route.
    pub fn check_own_route(&self) -> Result<(), RouteError> {
        let Some(router) = &self.router else {
            return Ok(());
        };
        Ok(route::check_own_route(
            &self.app,
            &router.route(),
            &self.route_entries(),
        )?)
    }

    pub fn find(&self, stack_name: &str) -> Option<&ObservedRelease> {
        self.releases
            .iter()
            .find(|release| release.name() == stack_name)
    }

    /// Where `cutover rollback` goes by default: of the healthy retained releases created before
    /// the live one, the one that lost the traffic last (what served just before; a release a
    /// rollback skipped over lost it earlier), else the newest. One without a recorded loss
    /// counts as the latest: it lost the traffic after this look was taken (a deploy's own
    /// cutover, just before its retention), or before losses were recorded.
    pub fn previous_release(&self) -> Option<&ObservedRelease> {
        let live = self.live()?;
        self.releases
            .iter()
            .filter(|release| release.tags.created <= live.tags.created)
            .filter(|release| {
                release.name() != live.name()
                    && release.role == Role::Retained
                    && release.is_healthy()
            })
            .max_by_key(|release| {
                let lost = release.tags.lost_traffic_at;
                (lost.is_none(), lost, release.tags.created)
            })
    }

    /// What `cutover rollback` goes to by default, by name: [`Self::previous_release`], else the
    /// baseline when it is not what is live.
    pub fn default_rollback_target(&self) -> Option<&str> {
        match self.previous_release() {
            Some(release) => Some(release.name()),
            None if self.baseline.is_some()
                && !self.baseline_has_traffic()
                && self.live().is_some() =>
            {
                Some(BASELINE)
            }
            None => None,
        }
    }

    /// What retention needs; `None` without the router's weights (nothing may be retired blind).
    /// The baseline is one of the entries, named [`BASELINE`]: it served before every release,
    /// so it counts as older than all of them.
    pub fn retention_facts(&self) -> Option<Vec<ReleaseFacts>> {
        self.weights.as_ref()?;
        let mut facts: Vec<ReleaseFacts> = self
            .releases
            .iter()
            .map(|release| ReleaseFacts {
                stack_name: release.name().to_string(),
                created: release.tags.created,
                weight: release.weight.unwrap_or(0),
                live: release.role == Role::Live,
                in_progress: is_in_progress(&release.stack.status),
                failed_at: release.failed_at(),
                served: release.tags.served,
            })
            .collect();
        if let Some(baseline) = &self.baseline {
            let oldest_release = facts.iter().map(|fact| fact.created).min();
            let adopted = baseline.record.adopted();
            facts.push(ReleaseFacts {
                stack_name: BASELINE.to_string(),
                created: match oldest_release {
                    Some(oldest) if oldest <= adopted => {
                        oldest.checked_sub(Duration::from_secs(1)).unwrap_or(oldest)
                    }
                    _ => adopted,
                },
                weight: baseline.weight.unwrap_or(0),
                live: self.baseline_has_traffic(),
                in_progress: false,
                failed_at: None,
                served: true,
            });
        }
        Some(facts)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error(transparent)]
    Marks(#[from] MarkError),
}

impl LiveError {
    /// Whether AWS throttled the read (after the SDK's own retries).
    pub fn is_throttled(&self) -> bool {
        match self {
            LiveError::Discovery(DiscoveryError::List { source, .. })
            | LiveError::Marks(MarkError::Read { source, .. })
            | LiveError::Baseline(BaselineError::Read { source, .. }) => source.is_throttled(),
            _ => false,
        }
    }
}

impl Diagnostic for LiveError {
    fn exit(&self) -> Exit {
        match self {
            LiveError::Discovery(error) => error.exit(),
            LiveError::Baseline(_) => Exit::Error,
            LiveError::Marks(error) => error.exit(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            LiveError::Discovery(error) => error.hint(),
            LiveError::Baseline(error) => error.hint(),
            LiveError::Marks(error) => error.hint(),
        }
    }
}

/// Pauses before reading the app again after AWS throttled a read: 1 s, then 2 s, then 4 s. The
/// SDK has already retried each call ([`crate::aws::connect`]); these pauses outlast a longer
/// burst of throttling on a busy account (`rotate --jobs 16`), where concluding from a failed
/// read would be wrong: a router that could not be read shows no live release. Other failures
/// (an endpoint that cannot be reached, a 5xx the SDK retried) are reported at once.
const OBSERVE_PAUSES: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// Reads the app's release stacks and the router's weights. A router that cannot be read is
/// reported in [`AppReleases::router_error`], not as an error: status still has something to
/// show, and the commands that change traffic refuse on their own. A read AWS throttled is read
/// again after a few pauses (`OBSERVE_PAUSES`) before it is reported.
pub async fn observe_app(ctx: &AwsContext, spec: &AppSpec) -> Result<AppReleases, LiveError> {
    for pause in OBSERVE_PAUSES {
        match observe_app_once(ctx, spec).await {
            Err(error) if error.is_throttled() => {}
            Ok(app)
                if app
                    .router_error
                    .as_ref()
                    .is_some_and(RouterError::is_throttled) => {}
            settled => return settled,
        }
        tokio::time::sleep(pause).await;
    }
    observe_app_once(ctx, spec).await
}

async fn observe_app_once(ctx: &AwsContext, spec: &AppSpec) -> Result<AppReleases, LiveError> {
    let stacks = CloudFormation::new(ctx);
    let mut account = discovery::account_releases(&stacks, &spec.name).await?;
    let marks = marks::read_all(&Ssm::new(ctx), &spec.name).await?;
    for release in &mut account.app {
        if let Some(mark) = marks.get(&release.stack.name) {
            release.tags.apply_mark(mark);
        }
    }
    let (own, other_baselines): (Vec<_>, Vec<_>) =
        route::baseline::read_all(&Ssm::new(ctx), &spec.name)
            .await?
            .into_iter()
            .partition(|(app, _)| *app == spec.name);
    let baseline = own.into_iter().next().map(|(_, record)| record);
    let releases = account.app;
    let built = build_router(
        ctx,
        spec,
        releases.iter().map(|release| &release.stack),
        baseline.as_ref(),
    )
    .await;
    let (router, weights, router_error) = match built {
        Ok(router) => match router.read_weights().await {
            Ok(weights) => (Some(router), Some(weights), None),
            Err(error) => (Some(router), None, Some(error)),
        },
        Err(error) => (None, None, Some(error)),
    };
    let baseline = observed_baseline(baseline, router.as_ref(), weights.as_ref());
    let stickiness = router.as_ref().and_then(TrafficRouter::stickiness);
    Ok(AppReleases {
        app: spec.name.clone(),
        releases: derive_roles(releases, weights.as_ref(), SystemTime::now()),
        weights,
        router,
        router_error,
        baseline,
        other_apps: account.other_apps,
        other_baselines,
        stickiness,
        marks,
    })
}

/// The recorded baseline as the router sees it, when the router applies it (same route, not
/// let go). Without a router, a recorded baseline that is not let go is still shown.
fn observed_baseline(
    record: Option<Baseline>,
    router: Option<&AnyRouter>,
    weights: Option<&Weights>,
) -> Option<ObservedBaseline> {
    let record = record.filter(|record| !record.is_released())?;
    if router.is_some_and(|router| router.route() != record.route) {
        return None;
    }
    Some(ObservedBaseline {
        record,
        weight: weights.map(|weights| weights.get(BASELINE)),
        routed: weights.is_some_and(|weights| weights.iter().any(|(key, _)| key == BASELINE)),
    })
}

impl AppReleases {
    /// The app as observed plus a release stack created since (a deploy's candidate). The router
    /// is set up again to know it, from settings already read in this run; the weights stay as
    /// read, since creating a stack moves no traffic.
    pub async fn with_new_release(
        self,
        ctx: &AwsContext,
        spec: &AppSpec,
        stack: StackFacts,
    ) -> AppReleases {
        // The known releases keep their tags as observed (marks applied); the new one is read
        // from its stack.
        let mut releases: Vec<ReleaseStack> = self
            .releases
            .into_iter()
            .filter(|known| known.stack.name != stack.name)
            .map(|release| ReleaseStack {
                stack: release.stack,
                tags: release.tags,
            })
            .collect();
        releases.extend(discovery::releases_of(&spec.name, vec![stack]));
        releases.sort_by(|a, b| {
            a.tags
                .created
                .cmp(&b.tags.created)
                .then_with(|| a.stack.name.cmp(&b.stack.name))
        });
        let built = build_router(
            ctx,
            spec,
            releases.iter().map(|release| &release.stack),
            self.baseline.as_ref().map(|baseline| &baseline.record),
        )
        .await;
        let (router, router_error) = match built {
            Ok(router) => (Some(router), self.router_error),
            Err(error) => (None, Some(error)),
        };
        AppReleases {
            releases: derive_roles(releases, self.weights.as_ref(), SystemTime::now()),
            app: self.app,
            weights: self.weights,
            router,
            router_error,
            baseline: self.baseline,
            other_apps: self.other_apps,
            other_baselines: self.other_baselines,
            stickiness: self.stickiness,
            marks: self.marks,
        }
    }

    /// The same releases under the weights a cutover just set through this router: roles
    /// follow, and no router error stands.
    pub fn with_weights(&self, weights: Weights) -> AppReleases {
        let releases = self
            .releases
            .iter()
            .map(|release| ReleaseStack {
                stack: release.stack.clone(),
                tags: release.tags.clone(),
            })
            .collect();
        let baseline = self.baseline.clone().map(|baseline| ObservedBaseline {
            weight: Some(weights.get(BASELINE)),
            routed: weights.iter().any(|(key, _)| key == BASELINE),
            ..baseline
        });
        AppReleases {
            app: self.app.clone(),
            releases: derive_roles(releases, Some(&weights), SystemTime::now()),
            weights: Some(weights),
            router: self.router.clone(),
            router_error: None,
            baseline,
            other_apps: self.other_apps.clone(),
            other_baselines: self.other_baselines.clone(),
            stickiness: self.stickiness,
            marks: self.marks.clone(),
        }
    }
}

/// The pure part of [`observe_app`]: each release's weight and role. `releases` oldest first.
pub fn derive_roles(
    releases: Vec<ReleaseStack>,
    weights: Option<&Weights>,
    now: SystemTime,
) -> Vec<ObservedRelease> {
    // The oldest release with traffic is live; newer ones with traffic are candidates taking it.
    // While the baseline has traffic it is what is live (it is older than every release).
    let live_index = weights
        .filter(|weights| weights.get(BASELINE) == 0)
        .and_then(|weights| {
            releases
                .iter()
                .position(|release| weights.get(&release.stack.name) > 0)
        });
    releases
        .into_iter()
        .enumerate()
        .map(|(index, release)| {
            let ReleaseStack { stack, tags } = release;
            let weight = weights.map(|weights| weights.get(&stack.name));
            let routed =
                weights.is_some_and(|weights| weights.iter().any(|(k, _)| k == stack.name));
            let marked_retiring = tags.attention.is_some()
                || tags.role == Some(Role::Retiring)
                || stack.status.starts_with("DELETE_");
            // A rollback that started moving the traffic away from it (and died before it could
            // mark it) left it rolled back from: without traffic, it is failed.
            let marked_failed = tags.role == Some(Role::Failed)
                || tags.rolling_back_to.is_some()
                || is_failed_status(&stack.status);
            let role = match (weights, weight) {
                (Some(_), Some(weight)) if weight > 0 => {
                    if Some(index) == live_index {
                        Role::Live
                    } else {
                        Role::Candidate
                    }
                }
                _ if marked_retiring => Role::Retiring,
                _ if marked_failed => Role::Failed,
                (Some(_), _) => match live_index {
                    Some(live) if index < live => Role::Retained,
                    // It served (a rollback skipped over it, to a release or to the baseline).
                    _ if tags.served => Role::Retained,
                    // Newer than the live release (or nothing is live yet), without traffic and
                    // never served: a release that has not taken over, or that was rolled away
                    // from unmarked. One that served was skipped over by a rollback: retained.
                    _ => Role::Candidate,
                },
                // The router could not be read: what the tags last said is all there is.
                (None, _) => match tags.role {
                    Some(role) => role,
                    None => Role::Retained,
                },
            };
            ObservedRelease {
                age: now.duration_since(tags.created).unwrap_or_default(),
                stack,
                tags,
                weight,
                routed,
                role,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::release::discovery::releases_of;

    /// App `web` as observed with these releases and weights, and nothing else.
    fn app_of(releases: Vec<ObservedRelease>, weights: Option<Weights>) -> AppReleases {
        AppReleases {
            app: "web".into(),
            releases,
            weights,
            router: None,
            router_error: None,
            baseline: None,
            other_apps: Vec::new(),
            other_baselines: Vec::new(),
            stickiness: None,
            marks: Default::default(),
        }
    }

    fn stack(name: &str, release: &str, hour: u64, extra: &[(&str, &str)]) -> StackFacts {
        let created =
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(hour * 3600))
                .to_string();
        let mut tags = vec![
            ("cutover:app".to_string(), "web".to_string()),
            ("cutover:release".to_string(), release.to_string()),
            ("cutover:created".to_string(), created),
            ("cutover:template-sha256".to_string(), "00".to_string()),
        ];
        tags.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        StackFacts {
            name: name.into(),
            id: format!("arn:stack/{name}"),
            status: "CREATE_COMPLETE".into(),
            status_reason: None,
            created: None,
            tags,
            parameters: Vec::new(),
            outputs: Vec::new(),
            termination_protection: false,
            exports: Vec::new(),
        }
    }

    fn weights(pairs: &[(&str, u8)]) -> Weights {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn roles(observed: &[ObservedRelease]) -> Vec<(&str, Role)> {
        observed.iter().map(|r| (r.name(), r.role)).collect()
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(10 * 3600)
    }

    #[test]
    fn the_router_decides_what_is_live() {
        let stacks = vec![
            stack("web-r1", "r1", 1, &[]),
            // Its tag still says live; the router says otherwise.
            stack("web-r2", "r2", 2, &[("cutover:role", "live")]),
            stack("web-r3", "r3", 3, &[]),
        ];
        let observed = derive_roles(
            releases_of("web", stacks),
            Some(&weights(&[("web-r2", 0), ("web-r3", 100)])),
            now(),
        );
        assert_eq!(
            roles(&observed),
            [
                ("web-r1", Role::Retained),
                ("web-r2", Role::Retained),
                ("web-r3", Role::Live)
            ]
        );
        assert_eq!(observed[2].weight, Some(100));
        assert!(observed[1].routed && !observed[0].routed);
        assert_eq!(observed[0].age, Duration::from_secs(9 * 3600));
    }

    #[test]
    fn mid_cutover_the_older_release_is_live_and_the_newer_a_candidate() {
        let stacks = vec![stack("web-r1", "r1", 1, &[]), stack("web-r2", "r2", 2, &[])];
        let observed = derive_roles(
            releases_of("web", stacks),
            Some(&weights(&[("web-r1", 90), ("web-r2", 10)])),
            now(),
        );
        assert_eq!(
            roles(&observed),
            [("web-r1", Role::Live), ("web-r2", Role::Candidate)]
        );
    }

    #[test]
    fn failed_retiring_and_newer_releases_without_traffic() {
        let mut deleting = stack("web-r1", "r1", 1, &[]);
        deleting.status = "DELETE_FAILED".into();
        let stacks = vec![
            deleting,
            stack("web-r2", "r2", 2, &[]),
            stack(
                "web-r3",
                "r3",
                3,
                &[
                    ("cutover:role", "failed"),
                    (FAILED_AT, "1970-01-01T05:00:00Z"),
                ],
            ),
            stack("web-r4", "r4", 4, &[]),
        ];
        let observed = derive_roles(
            releases_of("web", stacks),
            Some(&weights(&[("web-r2", 100), ("web-r3", 0)])),
            now(),
        );
        assert_eq!(
            roles(&observed),
            [
                ("web-r1", Role::Retiring),
                ("web-r2", Role::Live),
                ("web-r3", Role::Failed),
                ("web-r4", Role::Candidate)
            ]
        );
        assert_eq!(
            observed[2].failed_at(),
            Some(UNIX_EPOCH + Duration::from_secs(5 * 3600))
        );
    }

    #[test]
    fn a_release_a_rollback_skipped_over_is_retained_not_a_candidate() {
        // r3 went live after r2, then a rollback sent the traffic from r3 to r1: r2 is newer
        // than the live r1 and without traffic, but it served, so it is retained.
        let stacks = vec![
            stack("web-r1", "r1", 1, &[]),
            stack("web-r2", "r2", 2, &[]),
            stack("web-r3", "r3", 3, &[]),
        ];
        let mut releases = releases_of("web", stacks);
        releases[1].tags.served = true;
        let observed = derive_roles(
            releases.clone(),
            Some(&weights(&[("web-r1", 100), ("web-r3", 0)])),
            now(),
        );
        assert_eq!(
            roles(&observed),
            [
                ("web-r1", Role::Live),
                ("web-r2", Role::Retained),
                ("web-r3", Role::Candidate)
            ]
        );
        // Rolled back to the baseline: nothing is live among the releases, and r1 and r2,
        // which served, are retained.
        releases[0].tags.served = true;
        let observed = derive_roles(
            releases,
            Some(&weights(&[("baseline", 100), ("web-r3", 0)])),
            now(),
        );
        assert_eq!(
            roles(&observed),
            [
                ("web-r1", Role::Retained),
                ("web-r2", Role::Retained),
                ("web-r3", Role::Candidate)
            ]
        );
    }

    #[test]
    fn without_the_router_the_tags_are_the_fallback_and_nothing_can_be_retired() {
        let stacks = vec![
            stack("web-r1", "r1", 1, &[("cutover:role", "live")]),
            stack("web-r2", "r2", 2, &[]),
        ];
        let observed = derive_roles(releases_of("web", stacks), None, now());
        assert_eq!(
            roles(&observed),
            [("web-r1", Role::Live), ("web-r2", Role::Retained)]
        );
        assert_eq!(observed[0].weight, None);
        let app = app_of(observed, None);
        assert!(app.retention_facts().is_none());
    }

    #[test]
    fn previous_release_is_the_newest_healthy_retained_one_before_live() {
        let mut broken = stack("web-r2", "r2", 2, &[]);
        broken.status = "UPDATE_ROLLBACK_FAILED".into();
        let stacks = vec![
            stack("web-r1", "r1", 1, &[]),
            broken,
            stack("web-r3", "r3", 3, &[]),
            stack("web-r4", "r4", 4, &[]),
        ];
        let all = weights(&[("web-r3", 100), ("web-r1", 0), ("arn:tg/other", 0)]);
        let app = app_of(
            derive_roles(releases_of("web", stacks), Some(&all), now()),
            Some(all),
        );
        assert_eq!(app.live().map(ObservedRelease::name), Some("web-r3"));
        assert_eq!(
            app.previous_release().map(ObservedRelease::name),
            Some("web-r1")
        );
        let foreign: Vec<_> = app
            .route_entries()
            .into_iter()
            .filter(|entry| entry.owner == crate::route::Owner::Nobody)
            .map(|entry| (entry.key, entry.weight))
            .collect();
        assert_eq!(foreign, [("arn:tg/other".to_string(), 0)]);
        let facts = app.retention_facts().unwrap();
        assert!(facts[2].live && facts[2].weight == 100);
        assert!(facts[1].failed_at.is_some());
    }

    #[test]
    fn previous_release_is_the_one_that_lost_the_traffic_last() {
        // r1, r2, r3; rollback to r1 (skipping r2, which lost the traffic at hour 3); then r4
        // took it from r1 at hour 5. Undoing r4 means r1, not the newer r2.
        let stacks = vec![
            stack("web-r1", "r1", 1, &[]),
            stack("web-r2", "r2", 2, &[]),
            stack("web-r3", "r3", 3, &[("cutover:role", "failed")]),
            stack("web-r4", "r4", 4, &[]),
        ];
        let mut releases = releases_of("web", stacks);
        let at = |hour: u64| Some(UNIX_EPOCH + Duration::from_secs(hour * 3600));
        for (index, lost) in [(0, at(5)), (1, at(3))] {
            releases[index].tags.served = true;
            releases[index].tags.lost_traffic_at = lost;
        }
        let mut stale = releases.clone();
        let all = weights(&[("web-r4", 100), ("web-r1", 0)]);
        let app = app_of(derive_roles(releases, Some(&all), now()), Some(all));
        assert_eq!(
            app.previous_release().map(ObservedRelease::name),
            Some("web-r1")
        );
        // Looked at before r4's cutover recorded r1's loss (a deploy's retention works on the
        // look it took before): r1, without a loss, is still the one that lost it last.
        stale[0].tags.lost_traffic_at = None;
        let app = AppReleases {
            releases: derive_roles(stale, app.weights.as_ref(), now()),
            ..app
        };
        assert_eq!(
            app.previous_release().map(ObservedRelease::name),
            Some("web-r1")
        );
    }
}
