//! Traffic routers: ALB weighted target groups, Route 53 weighted records, Elastic IP.
//!
//! This file holds only what the cutover driver needs: the [`TrafficRouter`] trait, the
//! [`Weights`] it reads and writes, and [`RouterError`]. Each AWS-backed router lives in its own
//! file next to this one and converts percent weights to its service's scale (ALB 0–999,
//! Route 53 0–255, an Elastic IP is all or nothing).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use crate::error::Diagnostic;

pub mod alb;
mod build;
pub mod eip;
pub mod route53;
mod service_error;

pub use alb::AlbRouter;
pub use build::{build_router, AnyRouter};
pub use eip::EipRouter;
pub use route53::{Endpoint, RecordName, Route53Router};

/// The key under which a router reports and takes the app's **baseline**: the traffic an app's
/// first deploy adopted with `--adopt` (a target group, a Route 53 record or an instance that no
/// release owns). No release stack can have this name: release stacks are `<app>-<release>`.
pub const BASELINE: &str = "baseline";

/// An error from an AWS SDK or any other layer below a router, kept as the source of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Splits traffic between release stacks.
///
/// Writes must be idempotent: the driver repeats a write after a transient error, and a resumed
/// run may write weights the router already has.
pub trait TrafficRouter {
    /// The weights the service holds now, by release stack name. Stacks the router does not
    /// know are absent; a stack the router knows at weight 0 is present with 0.
    fn read_weights(&self) -> impl Future<Output = Result<Weights, RouterError>> + Send;

    /// Makes the service hold exactly these weights. A stack absent from `weights` gets no
    /// traffic; a stack present at 0 stays registered (for instant rollback) with no traffic.
    fn set_weights(
        &self,
        weights: &Weights,
    ) -> impl Future<Output = Result<(), RouterError>> + Send;

    /// False for routers that can only move all traffic at once (Elastic IP).
    fn supports_gradual(&self) -> bool;

    /// Whether an adopted baseline that retention lets go stays in the route at weight 0 rather
    /// than being taken out: where its entry is the operator's own configuration (a weighted
    /// Route 53 record someone made), not a reference to something that lives on elsewhere.
    fn keeps_let_go_baseline(&self) -> bool {
        false
    }

    /// How long a client stays on the target it was first sent to whatever the weights say
    /// (ALB target group stickiness on the forward action), as of the last read; `None` when
    /// stickiness is off or the router has no such setting.
    fn stickiness(&self) -> Option<Duration> {
        None
    }
}

/// Traffic share per release stack name, in percent (0..=100).
///
/// A map and not a pair because the router may hold weights for stacks other than the two a
/// cutover is about (a crashed run, a manual change), and the controller must see them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Weights(BTreeMap<String, u8>);

impl Weights {
    pub fn new() -> Self {
        Self::default()
    }

    /// All traffic on one stack.
    pub fn all_on(stack: &str) -> Self {
        let mut weights = Self::new();
        weights.set(stack, 100);
        weights
    }

    /// `candidate_percent` on the candidate and the rest on the previous release. Without a
    /// previous release the candidate is the only entry. The previous release stays present at
    /// weight 0 when the candidate takes everything, so it remains registered for rollback.
    pub fn split(candidate: &str, previous: Option<&str>, candidate_percent: u8) -> Self {
        let candidate_percent = candidate_percent.min(100);
        let mut weights = Self::new();
        weights.set(candidate, candidate_percent);
        if let Some(previous) = previous {
            weights.set(previous, 100 - candidate_percent);
        }
        weights
    }

    /// These weights, with the app's [`BASELINE`] kept registered at 0 when `current` has it and
    /// these leave it out. A cutover or rollback writes only the two entries it moves between;
    /// the baseline is not cutover's to drop (it is a rollback target until retention lets it
    /// go, which writes weights without it on purpose, not through this).
    pub fn keeping_baseline_of(mut self, current: &Weights) -> Self {
        if current.0.contains_key(BASELINE) && !self.0.contains_key(BASELINE) {
            self.set(BASELINE, 0);
        }
        self
    }

    /// Sets one stack's weight, clamped to 100.
    pub fn set(&mut self, stack: &str, percent: u8) {
        self.0.insert(stack.to_owned(), percent.min(100));
    }

    /// The stored weight of a stack, 0 when absent.
    pub fn get(&self, stack: &str) -> u8 {
        self.0.get(stack).copied().unwrap_or(0)
    }

    /// The sum of all weights; 100 when the router is consistent, 0 when nothing gets traffic.
    pub fn sum(&self) -> u32 {
        self.0.values().map(|&weight| u32::from(weight)).sum()
    }

    /// The stack's share of the traffic in percent, rounded to nearest: routers that convert
    /// from a finer scale (ALB 0–999) may read back weights that do not add up to exactly 100.
    pub fn share_of(&self, stack: &str) -> u8 {
        let sum = self.sum();
        if sum == 0 {
            return 0;
        }
        let share = (u32::from(self.get(stack)) * 100 + sum / 2) / sum;
        share.min(100) as u8
    }

    /// The stack that holds all the traffic, if exactly one does.
    pub fn holder_of_all(&self) -> Option<&str> {
        let mut with_traffic = self.with_traffic();
        match (with_traffic.next(), with_traffic.next()) {
            (Some((stack, _)), None) => Some(stack),
            _ => None,
        }
    }

    /// Stacks with a weight above 0, in name order.
    pub fn with_traffic(&self) -> impl Iterator<Item = (&str, u8)> {
        self.iter().filter(|&(_, weight)| weight > 0)
    }

    /// Every stack the router knows, with its weight, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u8)> {
        self.0
            .iter()
            .map(|(stack, &weight)| (stack.as_str(), weight))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether both send the same share of the traffic to every stack: `{r2: 100}` and
    /// `{r1: 0, r2: 100}` are the same traffic (a router may drop an entry at 0, an Elastic IP
    /// reports only its holder), and so are weights on another scale that round to the same
    /// shares.
    pub fn same_traffic(&self, other: &Weights) -> bool {
        self.iter()
            .chain(other.iter())
            .all(|(stack, _)| self.share_of(stack) == other.share_of(stack))
    }

    /// The same weights with `key` renamed to `to` (a router that learns what a raw target is).
    pub fn renamed(&self, key: &str, to: &str) -> Weights {
        self.iter()
            .map(|(stack, weight)| {
                let name = if stack == key { to } else { stack };
                (name.to_string(), weight)
            })
            .collect()
    }
}

impl FromIterator<(String, u8)> for Weights {
    fn from_iter<I: IntoIterator<Item = (String, u8)>>(iter: I) -> Self {
        let mut weights = Self::new();
        for (stack, percent) in iter {
            weights.set(&stack, percent);
        }
        weights
    }
}

/// `web-r2 10%, web-r1 90%`, or `no traffic` when nothing is routed.
impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no traffic");
        }
        for (index, (stack, weight)) in self.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{stack} {weight}%")?;
        }
        Ok(())
    }
}

/// Why a router could not read or write weights. `action` names what was attempted, e.g.
/// "read the weights of listener arn:…" or "set weights web-r2 10%, web-r1 90%".
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// Throttling, a timeout, a dropped connection: the same call may succeed later.
    #[error("could not {action}: the service did not answer in time or throttled the call")]
    Transient {
        action: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The service understood and refused the call; repeating it will not help.
    #[error("could not {action}: the service rejected the call")]
    Rejected {
        action: String,
        #[source]
        source: Option<BoxError>,
    },
    /// A listener, target group, hosted zone, record or address the router needs is missing.
    #[error("could not {action}: {missing} does not exist")]
    NotFound { action: String, missing: String },
    /// The weights cannot be expressed by this router (checked before any call).
    #[error("cannot set weights {weights}: {reason}")]
    InvalidWeights { weights: Weights, reason: String },
    /// What the route holds rules out this router's writes (a CNAME beside other records of
    /// the name).
    #[error("cannot use the {route}: {reason}")]
    Conflict {
        route: String,
        reason: String,
        hint: String,
    },
}

impl RouterError {
    /// Whether the driver may repeat the call that failed.
    pub fn is_transient(&self) -> bool {
        matches!(self, RouterError::Transient { .. })
    }

    /// Whether AWS throttled the call (a transient error whose cause says `Throttling`).
    pub fn is_throttled(&self) -> bool {
        match self {
            RouterError::Transient {
                source: Some(source),
                ..
            } => source
                .downcast_ref::<crate::aws::AwsError>()
                .is_some_and(crate::aws::AwsError::is_throttled),
            _ => false,
        }
    }
}

impl Diagnostic for RouterError {
    fn hint(&self) -> Option<String> {
        match self {
            RouterError::Transient { .. } => Some(
                "traffic may be between two steps; run `cutover resume APP` to finish or shift back"
                    .to_owned(),
            ),
            RouterError::NotFound { .. } => Some(
                "check the [router] section of the app spec and the base stack outputs".to_owned(),
            ),
            RouterError::Conflict { hint, .. } => Some(hint.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_previous_registered_at_zero() {
        let weights = Weights::split("web-r2", Some("web-r1"), 100);
        assert_eq!(weights.get("web-r2"), 100);
        assert_eq!(
            weights.iter().collect::<Vec<_>>(),
            [("web-r1", 0), ("web-r2", 100)]
        );
        assert_eq!(weights.holder_of_all(), Some("web-r2"));
    }

    #[test]
    fn split_without_previous_has_only_the_candidate() {
        let weights = Weights::split("web-r1", None, 100);
        assert_eq!(weights.iter().collect::<Vec<_>>(), [("web-r1", 100)]);
    }

    #[test]
    fn share_rounds_weights_that_do_not_add_up_to_100() {
        let weights: Weights = [
            ("a".to_owned(), 33),
            ("b".to_owned(), 33),
            ("c".to_owned(), 33),
        ]
        .into_iter()
        .collect();
        assert_eq!(weights.sum(), 99);
        assert_eq!(weights.share_of("a"), 33);
        let weights: Weights = [("a".to_owned(), 1), ("b".to_owned(), 1)]
            .into_iter()
            .collect();
        assert_eq!(weights.share_of("a"), 50);
        assert_eq!(Weights::new().share_of("a"), 0);
    }

    #[test]
    fn holder_of_all_needs_exactly_one_stack_with_traffic() {
        assert_eq!(Weights::split("a", Some("b"), 50).holder_of_all(), None);
        assert_eq!(Weights::split("a", Some("b"), 0).holder_of_all(), Some("b"));
        assert_eq!(Weights::new().holder_of_all(), None);
    }

    #[test]
    fn display_and_json() {
        let weights = Weights::split("web-r2", Some("web-r1"), 10);
        assert_eq!(weights.to_string(), "web-r1 90%, web-r2 10%");
        assert_eq!(
            serde_json::to_string(&weights).unwrap(),
            r#"{"web-r1":90,"web-r2":10}"#
        );
        assert_eq!(Weights::new().to_string(), "no traffic");
    }

    #[test]
    fn same_traffic_ignores_entries_at_zero_and_the_scale() {
        let written = Weights::split("web-r2", Some("web-r1"), 100);
        assert!(written.same_traffic(&Weights::all_on("web-r2")));
        assert!(Weights::all_on("web-r2").same_traffic(&written));
        assert!(!written.same_traffic(&Weights::all_on("web-r1")));
        let tenth = Weights::split("web-r2", Some("web-r1"), 10);
        assert!(!tenth.same_traffic(&written));
        let scaled: Weights = [("web-r1".to_owned(), 18), ("web-r2".to_owned(), 2)]
            .into_iter()
            .collect();
        assert!(tenth.same_traffic(&scaled));
        assert!(Weights::new().same_traffic(&Weights::new()));
        assert!(!Weights::new().same_traffic(&written));
    }

    #[test]
    fn renamed_moves_one_key() {
        let weights = Weights::split("web-r1", Some("arn:tg"), 10).renamed("arn:tg", BASELINE);
        assert_eq!(weights.to_string(), "baseline 90%, web-r1 10%");
    }

    #[test]
    fn set_clamps_to_100() {
        let mut weights = Weights::new();
        weights.set("a", 250);
        assert_eq!(weights.get("a"), 100);
    }
}
