//! The ALB router: the default action of a listener in a long-lived stack, or one listener rule
//! of a load balancer several apps share, forwards to the release stacks' target groups with
//! weights.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::service_error::{router_error, to_percent};
use super::{RouterError, TrafficRouter, Weights};
use crate::aws::elbv2::{AlbRoute, Elbv2, LoadBalancerApi, WeightedTargetGroup};

/// ALB's limits on a weighted forward action (Elastic Load Balancing API reference,
/// `ForwardActionConfig` and `TargetGroupTuple`: at most 5 target groups, weights 0–999).
const MAX_TARGET_GROUPS: usize = 5;
const MAX_WEIGHT: u16 = 999;

/// Routes by target-group weights on one route (a listener's default action or a rule).
#[derive(Debug, Clone)]
pub struct AlbRouter<A = Elbv2> {
    api: A,
    route: AlbRoute,
    /// Release stack name (or [`super::BASELINE`]) → its target group ARN.
    groups: BTreeMap<String, String>,
    /// Release stacks that cannot be routed to, with the reason (an output missing).
    unroutable: BTreeMap<String, String>,
    /// Target group stickiness as of the last read.
    stickiness: Arc<Mutex<Option<Duration>>>,
}

impl<A: LoadBalancerApi> AlbRouter<A> {
    /// `groups` maps release stack names (and the baseline, if the app adopted one) to their
    /// target group ARNs; `unroutable` lists release stacks without one, so asking to route to
    /// them says why.
    pub fn new(
        api: A,
        route: AlbRoute,
        groups: impl IntoIterator<Item = (String, String)>,
        unroutable: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        AlbRouter {
            api,
            route,
            groups: groups.into_iter().collect(),
            unroutable: unroutable.into_iter().collect(),
            stickiness: Arc::default(),
        }
    }

    pub fn route(&self) -> &AlbRoute {
        &self.route
    }

    /// Every target group of the app's releases (and baseline) this router knows.
    pub fn target_groups(&self) -> Vec<&str> {
        self.groups.values().map(String::as_str).collect()
    }

    /// The target group ARN behind a weights key, when the router knows one.
    pub fn target_group(&self, key: &str) -> Option<&str> {
        self.groups.get(key).map(String::as_str)
    }

    /// The target group for a weights key: a known release stack, or the ARN of a group the
    /// listener forwards to that belongs to no known release (as `read_weights` reports it).
    fn target_group_of<'a>(&'a self, key: &'a str) -> Result<&'a str, String> {
        if let Some(arn) = self.groups.get(key) {
            return Ok(arn);
        }
        if let Some(reason) = self.unroutable.get(key) {
            return Err(format!("{key} cannot take traffic: {reason}"));
        }
        if key.starts_with("arn:") && key.contains(":targetgroup/") {
            return Ok(key);
        }
        Err(format!("{key} is not a release stack of this app"))
    }

    /// The forward action for `weights`, checked against ALB's limits before any call.
    fn forward_for(&self, weights: &Weights) -> Result<Vec<WeightedTargetGroup>, RouterError> {
        let invalid = |reason: String| RouterError::InvalidWeights {
            weights: weights.clone(),
            reason,
        };
        if weights.iter().count() > MAX_TARGET_GROUPS {
            return Err(invalid(format!(
                "an ALB listener forwards to at most {MAX_TARGET_GROUPS} target groups"
            )));
        }
        if weights.with_traffic().next().is_none() {
            return Err(invalid(
                "at least one target group needs a weight above 0".into(),
            ));
        }
        let mut forward: Vec<WeightedTargetGroup> = Vec::new();
        for (key, percent) in weights.iter() {
            let weight = u16::from(percent);
            if weight > MAX_WEIGHT {
                return Err(invalid(format!("ALB weights are 0–{MAX_WEIGHT}")));
            }
            let arn = self.target_group_of(key).map_err(invalid)?;
            if forward.iter().any(|group| group.arn == arn) {
                return Err(invalid(format!("target group {arn} is listed twice")));
            }
            forward.push(WeightedTargetGroup {
                arn: arn.to_string(),
                weight,
            });
        }
        Ok(forward)
    }
}

impl<A: LoadBalancerApi + Send> TrafficRouter for AlbRouter<A> {
    async fn read_weights(&self) -> Result<Weights, RouterError> {
        let action = self.api.forward(&self.route).await.map_err(|error| {
            router_error(
                format!("read the weights of {}", self.route),
                &self.route.to_string(),
                error,
            )
        })?;
        *self.stickiness.lock().expect("stickiness lock") = action.stickiness;
        if let Some(redirect) = action.redirect {
            // Not a release's: reported so that nothing replaces it unasked.
            return Ok(Weights::all_on(&redirect));
        }
        let forward = action.groups;
        let sum: u32 = forward.iter().map(|group| u32::from(group.weight)).sum();
        let stack_of: BTreeMap<&str, &str> = self
            .groups
            .iter()
            .map(|(stack, arn)| (arn.as_str(), stack.as_str()))
            .collect();
        Ok(forward
            .iter()
            .map(|group| {
                let key = stack_of
                    .get(group.arn.as_str())
                    .map_or_else(|| group.arn.clone(), |stack| stack.to_string());
                (key, to_percent(u32::from(group.weight), sum))
            })
            .collect())
    }

    async fn set_weights(&self, weights: &Weights) -> Result<(), RouterError> {
        let forward = self.forward_for(weights)?;
        let known: Vec<&str> = self.groups.values().map(String::as_str).collect();
        self.api
            .set_forward(&self.route, &forward, &known)
            .await
            .map_err(|error| {
                router_error(
                    format!("set weights {weights} on {}", self.route),
                    &format!("{} or one of its target groups", self.route),
                    error,
                )
            })
    }

    fn supports_gradual(&self) -> bool {
        true
    }

    fn stickiness(&self) -> Option<Duration> {
        *self.stickiness.lock().expect("stickiness lock")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::aws::elbv2::{ForwardAction, RuleFacts, TargetHealthFacts};
    use crate::aws::{AwsError, AwsErrorKind};

    const TG1: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/r1/1";
    const TG2: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/r2/2";
    const STRAY: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/manual/3";
    const LEGACY: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/legacy/4";

    #[derive(Default)]
    struct FakeListener {
        forward: Mutex<Vec<WeightedTargetGroup>>,
        stickiness: Mutex<Option<Duration>>,
        writes: Mutex<u32>,
        throttled: bool,
    }

    impl LoadBalancerApi for &FakeListener {
        async fn forward(&self, _: &AlbRoute) -> Result<ForwardAction, AwsError> {
            if self.throttled {
                let kind = AwsErrorKind::Throttled {
                    message: "Rate exceeded".into(),
                };
                return Err(AwsError::new("describe listener", kind));
            }
            Ok(ForwardAction {
                groups: self.forward.lock().unwrap().clone(),
                stickiness: *self.stickiness.lock().unwrap(),
                redirect: None,
            })
        }

        async fn set_forward(
            &self,
            _: &AlbRoute,
            groups: &[WeightedTargetGroup],
            known: &[&str],
        ) -> Result<(), AwsError> {
            *self.writes.lock().unwrap() += 1;
            let mut forward = groups.to_vec();
            for kept in self.forward.lock().unwrap().iter() {
                if !forward.iter().any(|group| group.arn == kept.arn)
                    && !known.contains(&kept.arn.as_str())
                {
                    forward.push(group(&kept.arn, 0));
                }
            }
            *self.forward.lock().unwrap() = forward;
            Ok(())
        }

        async fn rules_forwarding_to(&self, _: &str) -> Result<Vec<RuleFacts>, AwsError> {
            Ok(Vec::new())
        }

        async fn target_health(&self, _: &str) -> Result<Vec<TargetHealthFacts>, AwsError> {
            Ok(Vec::new())
        }
    }

    fn router(fake: &FakeListener) -> AlbRouter<&FakeListener> {
        AlbRouter::new(
            fake,
            AlbRoute::Rule {
                rule_arn: "arn:rule".into(),
            },
            [
                ("web-r1".to_string(), TG1.to_string()),
                ("web-r2".to_string(), TG2.to_string()),
                (super::super::BASELINE.to_string(), LEGACY.to_string()),
            ],
            [(
                "web-r3".to_string(),
                "output TargetGroupArn is missing".to_string(),
            )],
        )
    }

    fn group(arn: &str, weight: u16) -> WeightedTargetGroup {
        WeightedTargetGroup {
            arn: arn.to_string(),
            weight,
        }
    }

    #[tokio::test]
    async fn percent_is_written_as_is_and_reads_back_exactly() {
        let fake = FakeListener::default();
        let router = router(&fake);
        let weights = Weights::split("web-r2", Some("web-r1"), 10);
        router.set_weights(&weights).await.unwrap();
        assert_eq!(
            *fake.forward.lock().unwrap(),
            [group(TG1, 90), group(TG2, 10)]
        );
        assert_eq!(router.read_weights().await.unwrap(), weights);
    }

    #[tokio::test]
    async fn foreign_groups_are_reported_by_arn_and_other_scales_become_percent() {
        let fake = FakeListener::default();
        *fake.forward.lock().unwrap() = vec![group(TG1, 1), group(STRAY, 3)];
        let weights = router(&fake).read_weights().await.unwrap();
        assert_eq!(weights.get("web-r1"), 25);
        assert_eq!(weights.get(STRAY), 75);
        // Zeroing the stray group by its ARN keeps it registered with no traffic.
        let mut next = Weights::all_on("web-r1");
        next.set(STRAY, 0);
        router(&fake).set_weights(&next).await.unwrap();
        assert_eq!(
            *fake.forward.lock().unwrap(),
            [group(STRAY, 0), group(TG1, 100)]
        );
    }

    #[tokio::test]
    async fn invalid_weights_are_refused_before_any_call() {
        let fake = FakeListener::default();
        let router = router(&fake);
        let cases = [
            (
                [("web-r1".to_string(), 0), ("web-r2".to_string(), 0)]
                    .into_iter()
                    .collect(),
                "above 0",
            ),
            (Weights::all_on("web-r9"), "not a release stack"),
            (
                Weights::all_on("web-r3"),
                "output TargetGroupArn is missing",
            ),
            (
                ["a", "b", "c", "d", "e", "web-r1"]
                    .into_iter()
                    .map(|stack| (stack.to_string(), 10))
                    .collect(),
                "at most 5",
            ),
        ];
        for (weights, expected) in cases {
            let error = router.set_weights(&weights).await.unwrap_err();
            assert!(
                matches!(&error, RouterError::InvalidWeights { reason, .. } if reason.contains(expected)),
                "{weights}: {error}"
            );
        }
        assert_eq!(*fake.writes.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn the_baseline_reads_and_writes_under_its_name_and_stickiness_is_reported() {
        let fake = FakeListener::default();
        *fake.forward.lock().unwrap() = vec![group(LEGACY, 1)];
        *fake.stickiness.lock().unwrap() = Some(Duration::from_secs(3600));
        let router = router(&fake);
        assert_eq!(router.stickiness(), None, "nothing read yet");
        assert_eq!(
            router.read_weights().await.unwrap(),
            Weights::all_on(super::super::BASELINE)
        );
        assert_eq!(router.stickiness(), Some(Duration::from_secs(3600)));
        router
            .set_weights(&Weights::split("web-r1", Some(super::super::BASELINE), 10))
            .await
            .unwrap();
        assert_eq!(
            *fake.forward.lock().unwrap(),
            [group(LEGACY, 90), group(TG1, 10)]
        );
    }

    #[tokio::test]
    async fn a_group_no_release_owns_is_never_dropped_from_the_route() {
        let fake = FakeListener::default();
        *fake.forward.lock().unwrap() = vec![group(TG1, 100), group(STRAY, 0)];
        router(&fake)
            .set_weights(&Weights::split("web-r2", Some("web-r1"), 10))
            .await
            .unwrap();
        assert_eq!(
            *fake.forward.lock().unwrap(),
            [group(TG1, 90), group(TG2, 10), group(STRAY, 0)]
        );
        // The app's own releases (and baseline) that the weights leave out do leave.
        router(&fake)
            .set_weights(&Weights::all_on("web-r2"))
            .await
            .unwrap();
        assert_eq!(
            *fake.forward.lock().unwrap(),
            [group(TG2, 100), group(STRAY, 0)]
        );
    }

    #[tokio::test]
    async fn throttling_is_transient() {
        let fake = FakeListener {
            throttled: true,
            ..FakeListener::default()
        };
        let error = router(&fake).read_weights().await.unwrap_err();
        assert!(error.is_transient(), "{error}");
    }
}
