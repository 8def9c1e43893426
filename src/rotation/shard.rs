//! `--shard I/N`: a deterministic split of a fleet's apps over N workers, so a Kubernetes
//! Indexed Job, an AWS Batch array job or a CI matrix can spread one rotation over machines.
//!
//! The apps are sorted by name and dealt round-robin: the app at sorted position `p` belongs to
//! shard `p mod N`. Every app is in exactly one shard whatever N is, shard sizes differ by at
//! most one, and every worker computes the same split from the same stacks folder without
//! talking to the others. (Adding an app moves the apps sorted after it to the next shard; that
//! is harmless, because the per-app lock, not the split, is what keeps two workers from rotating
//! one app.)

use std::fmt;
use std::str::FromStr;

/// One worker's part: shard `index` of `count` (0-based, `index < count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// `--shard` as given: a fixed `I/N`, or `auto/N` with the index read from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    Fixed(Shard),
    Auto { count: usize },
}

/// Where `auto/N` reads the worker's index, in this order: the completion index of a Kubernetes
/// Indexed Job (<https://kubernetes.io/docs/concepts/workloads/controllers/job/#completion-mode>)
/// and the child index of an AWS Batch array job
/// (<https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html>).
pub const INDEX_VARIABLES: [&str; 2] = ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("--shard {given}: expected I/N (e.g. 0/3) or auto/N, with 0 <= I < N")]
    Malformed { given: String },
    #[error("--shard {given}: the index {index} is not below the shard count {count}")]
    IndexTooLarge {
        given: String,
        index: usize,
        count: usize,
    },
    #[error("--shard auto/{count}: none of {} is set", INDEX_VARIABLES.join(", "))]
    NoIndexVariable { count: usize },
    #[error("--shard auto/{count}: {variable}={value} is not an index below {count}")]
    BadIndexVariable {
        count: usize,
        variable: &'static str,
        value: String,
    },
}

impl FromStr for ShardArg {
    type Err = ShardError;

    fn from_str(given: &str) -> Result<ShardArg, ShardError> {
        let malformed = || ShardError::Malformed {
            given: given.to_string(),
        };
        let (index, count) = given.trim().split_once('/').ok_or_else(malformed)?;
        let count: usize = count.trim().parse().map_err(|_| malformed())?;
        if count == 0 {
            return Err(malformed());
        }
        let index = index.trim();
        if index == "auto" {
            return Ok(ShardArg::Auto { count });
        }
        let index: usize = index.parse().map_err(|_| malformed())?;
        if index >= count {
            return Err(ShardError::IndexTooLarge {
                given: given.to_string(),
                index,
                count,
            });
        }
        Ok(ShardArg::Fixed(Shard { index, count }))
    }
}

impl ShardArg {
    /// The worker's shard; `auto/N` takes the first of [`INDEX_VARIABLES`] that `env` knows.
    pub fn resolve(self, env: impl Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
        let count = match self {
            ShardArg::Fixed(shard) => return Ok(shard),
            ShardArg::Auto { count } => count,
        };
        let (variable, value) = INDEX_VARIABLES
            .iter()
            .find_map(|variable| env(variable).map(|value| (*variable, value)))
            .ok_or(ShardError::NoIndexVariable { count })?;
        match value.trim().parse::<usize>() {
            Ok(index) if index < count => Ok(Shard { index, count }),
            _ => Err(ShardError::BadIndexVariable {
                count,
                variable,
                value,
            }),
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The apps of `shard`, sorted by name (duplicates once).
pub fn apps_of_shard(apps: &[String], shard: Shard) -> Vec<String> {
    let mut sorted: Vec<&String> = apps.iter().collect();
    sorted.sort();
    sorted.dedup();
    sorted
        .into_iter()
        .enumerate()
        .filter(|(position, _)| position % shard.count == shard.index)
        .map(|(_, app)| app.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(count: usize) -> Vec<String> {
        // Not in name order, as a folder listing may give them.
        (0..count).rev().map(|i| format!("app-{i:02}")).collect()
    }

    #[test]
    fn shards_cover_every_app_exactly_once_for_any_count() {
        for apps in [0, 1, 2, 7, 12, 100] {
            let fleet = names(apps);
            for count in 1..=9 {
                let mut seen: Vec<String> = (0..count)
                    .flat_map(|index| apps_of_shard(&fleet, Shard { index, count }))
                    .collect();
                seen.sort();
                let mut expected = fleet.clone();
                expected.sort();
                assert_eq!(seen, expected, "{apps} apps over {count} shards");
                let sizes: Vec<usize> = (0..count)
                    .map(|index| apps_of_shard(&fleet, Shard { index, count }).len())
                    .collect();
                let (min, max) = (sizes.iter().min(), sizes.iter().max());
                assert!(max.unwrap() - min.unwrap() <= 1, "{sizes:?}");
            }
        }
    }

    #[test]
    fn the_split_depends_on_names_not_on_listing_order() {
        let mut fleet = names(12);
        let first = apps_of_shard(&fleet, Shard { index: 1, count: 3 });
        fleet.reverse();
        fleet.push("app-03".into());
        assert_eq!(apps_of_shard(&fleet, Shard { index: 1, count: 3 }), first);
        assert_eq!(first, ["app-01", "app-04", "app-07", "app-10"]);
    }

    #[test]
    fn shard_arguments_parse_and_refuse_nonsense() {
        assert_eq!(
            "2/3".parse(),
            Ok(ShardArg::Fixed(Shard { index: 2, count: 3 }))
        );
        assert_eq!("auto/4".parse(), Ok(ShardArg::Auto { count: 4 }));
        for bad in ["3", "a/3", "1/0", "-1/3", "auto/0", "1/3/4", ""] {
            assert!(
                matches!(bad.parse::<ShardArg>(), Err(ShardError::Malformed { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            "3/3".parse::<ShardArg>(),
            Err(ShardError::IndexTooLarge {
                given: "3/3".into(),
                index: 3,
                count: 3
            })
        );
    }

    #[test]
    fn auto_reads_the_kubernetes_index_before_the_batch_one() {
        let auto = ShardArg::Auto { count: 3 };
        let both = |name: &str| match name {
            "JOB_COMPLETION_INDEX" => Some("2".to_string()),
            "AWS_BATCH_JOB_ARRAY_INDEX" => Some("0".to_string()),
            _ => None,
        };
        assert_eq!(auto.resolve(both), Ok(Shard { index: 2, count: 3 }));
        let batch = |name: &str| (name == "AWS_BATCH_JOB_ARRAY_INDEX").then(|| "1".to_string());
        assert_eq!(auto.resolve(batch), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(
            auto.resolve(|_| None),
            Err(ShardError::NoIndexVariable { count: 3 })
        );
        let beyond = |name: &str| (name == "JOB_COMPLETION_INDEX").then(|| "3".to_string());
        assert!(matches!(
            auto.resolve(beyond),
            Err(ShardError::BadIndexVariable {
                variable: "JOB_COMPLETION_INDEX",
                ..
            })
        ));
        let fixed = ShardArg::Fixed(Shard { index: 0, count: 2 });
        assert_eq!(fixed.resolve(|_| None), Ok(Shard { index: 0, count: 2 }));
    }
}
