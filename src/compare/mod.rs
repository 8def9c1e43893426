//! Judging a candidate against the live release (the comparison gate), purely: from the two
//! releases' metric samples over the same minutes to a [`Verdict`] that explains itself.
//!
//! Two kinds of metric:
//! - **rates** (`HTTPCode_Target_5XX_Count` per `RequestCount`): the requests of the window are
//!   the trials, the errors the events; worse means the candidate's rate exceeds the live one's
//!   by more than `tolerance` (an absolute difference: 0.01 is one percentage point), by a
//!   one-sided two-proportion z-test;
//! - **distributions** (`TargetResponseTime`, one value per minute): worse means the
//!   candidate's per-minute values are stochastically greater than the live ones scaled by
//!   `1 + tolerance` (0.1: ten per cent slower is tolerated), by a one-sided Mann-Whitney U test.
//!
//! Worse is declared only with statistical confidence: the p-value must be under
//! `1 - confidence`. Too few samples give [`Outcome::NotEnoughData`]; whether that passes is
//! the gate's call (it does within the warm-up only).

mod stats;

use std::fmt;
use std::time::Duration;

use serde::Serialize;

pub use stats::{mann_whitney_greater, median, two_proportion_greater, Counts, TestResult};

/// What the comparison concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Worse beyond the tolerance, with the configured confidence.
    Worse,
    /// Not shown to be worse.
    NotWorse,
    /// Too few samples to test.
    NotEnoughData,
}

/// The statistical test behind a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    TwoProportionZ,
    MannWhitneyU,
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Test::TwoProportionZ => "one-sided two-proportion z-test",
            Test::MannWhitneyU => "one-sided Mann-Whitney U test",
        })
    }
}

/// How a rate is judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateRule {
    /// Allowed excess of the candidate's rate, absolute (0.01 = one percentage point).
    pub tolerance: f64,
    /// 0.95: worse only when p < 0.05.
    pub confidence: f64,
    /// Fewer requests than this on either side is not enough data.
    pub min_trials: u64,
}

/// How a per-minute distribution is judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistributionRule {
    /// Allowed excess, relative to the live values (0.1 = ten per cent).
    pub tolerance: f64,
    pub confidence: f64,
    /// Fewer minutes with a value than this on either side is not enough data.
    pub min_samples: usize,
}

/// One metric's comparison, with everything needed to explain it: both values, the
/// difference, the test, its p-value, the window and the sample sizes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// What was compared: `HTTPCode_Target_5XX_Count per request`, `TargetResponseTime p95`.
    pub metric: String,
    pub outcome: Outcome,
    pub test: Test,
    /// The candidate's rate (0–1), or the median of its per-minute values.
    pub candidate: f64,
    pub live: f64,
    /// candidate − live.
    pub difference: f64,
    pub tolerance: f64,
    /// `None` when there was not enough data to test.
    pub p_value: Option<f64>,
    /// The p-value under which the candidate is worse: 1 − confidence.
    pub alpha: f64,
    /// Requests (rates) or minutes with a value (distributions).
    pub candidate_samples: u64,
    pub live_samples: u64,
    /// How many samples each side needed.
    pub min_samples: u64,
    #[serde(rename = "window_secs")]
    pub window: u64,
}

/// Its numbers come from finite counts and samples, never NaN, so equality is an equivalence.
impl Eq for Verdict {}

impl Verdict {
    pub fn is_worse(&self) -> bool {
        self.outcome == Outcome::Worse
    }
}

/// Judges error rates: `candidate` and `live` are the window's errors and requests.
pub fn judge_rate(
    metric: &str,
    candidate: Counts,
    live: Counts,
    rule: &RateRule,
    window: Duration,
) -> Verdict {
    let enough = candidate.trials >= rule.min_trials as f64
        && live.trials >= rule.min_trials as f64
        && candidate.trials > 0.0
        && live.trials > 0.0;
    let tested = enough.then(|| two_proportion_greater(candidate, live, rule.tolerance));
    verdict(
        metric,
        Test::TwoProportionZ,
        (candidate.rate(), live.rate()),
        rule.tolerance,
        rule.confidence,
        tested,
        (candidate.trials as u64, live.trials as u64, rule.min_trials),
        window,
    )
}

/// Judges per-minute values (one sample per minute that has one).
pub fn judge_distribution(
    metric: &str,
    candidate: &[f64],
    live: &[f64],
    rule: &DistributionRule,
    window: Duration,
) -> Verdict {
    let enough =
        candidate.len() >= rule.min_samples.max(1) && live.len() >= rule.min_samples.max(1);
    let tolerated: Vec<f64> = live
        .iter()
        .map(|value| value * (1.0 + rule.tolerance))
        .collect();
    let tested = if enough {
        mann_whitney_greater(candidate, &tolerated)
    } else {
        None
    };
    verdict(
        metric,
        Test::MannWhitneyU,
        (median(candidate), median(live)),
        rule.tolerance,
        rule.confidence,
        tested,
        (
            candidate.len() as u64,
            live.len() as u64,
            rule.min_samples as u64,
        ),
        window,
    )
}

#[allow(clippy::too_many_arguments)]
fn verdict(
    metric: &str,
    test: Test,
    (candidate, live): (f64, f64),
    tolerance: f64,
    confidence: f64,
    tested: Option<TestResult>,
    (candidate_samples, live_samples, min_samples): (u64, u64, u64),
    window: Duration,
) -> Verdict {
    // Rounded to the nanounit: `1 - 0.95` is 0.050000000000000044 in binary, and these numbers
    // are shown and sent as JSON.
    let tidy = |value: f64| {
        let rounded = (value * 1e9).round() / 1e9;
        if rounded == 0.0 {
            0.0
        } else {
            rounded
        }
    };
    let alpha = tidy(1.0 - confidence);
    let outcome = match tested {
        None => Outcome::NotEnoughData,
        Some(result) if result.p_value < alpha => Outcome::Worse,
        Some(_) => Outcome::NotWorse,
    };
    Verdict {
        metric: metric.to_string(),
        outcome,
        test,
        candidate: tidy(candidate),
        live: tidy(live),
        difference: tidy(candidate - live),
        tolerance,
        p_value: tested.map(|result| result.p_value),
        alpha,
        candidate_samples,
        live_samples,
        min_samples,
        window: window.as_secs(),
    }
}

/// `HTTPCode_Target_5XX_Count per request: candidate 4.80% (1000 requests) vs live 1.00%
/// (1000 requests), +3.80 points (tolerance 1.00), worse: one-sided two-proportion z-test
/// p = 0.0000 < 0.05, over the last 10m`.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let window = humantime::format_duration(Duration::from_secs(self.window));
        let value = |v: f64| match self.test {
            Test::TwoProportionZ => format!("{:.2}%", v * 100.0),
            Test::MannWhitneyU => format!("{v:.4} (median)"),
        };
        let (unit, difference, tolerance) = match self.test {
            Test::TwoProportionZ => (
                "requests",
                format!("{:+.2} points", self.difference * 100.0),
                format!("tolerance {:.2} points", self.tolerance * 100.0),
            ),
            Test::MannWhitneyU => (
                "minutes",
                format!("{:+.4}", self.difference),
                format!("tolerance {:.0}%", self.tolerance * 100.0),
            ),
        };
        write!(
            f,
            "{}: candidate {} ({} {unit}) vs live {} ({} {unit}), {difference} ({tolerance}), ",
            self.metric,
            value(self.candidate),
            self.candidate_samples,
            value(self.live),
            self.live_samples,
        )?;
        match (self.outcome, self.p_value) {
            (Outcome::NotEnoughData, _) | (_, None) => write!(
                f,
                "not enough data: {} needs at least {} {unit} on each side, over the last {window}",
                self.test, self.min_samples
            ),
            (outcome, Some(p)) => write!(
                f,
                "{}: {} p = {} {} {}, over the last {window}",
                if outcome == Outcome::Worse {
                    "worse"
                } else {
                    "not worse"
                },
                self.test,
                format_p(p),
                if outcome == Outcome::Worse { "<" } else { ">=" },
                format_p(self.alpha),
            ),
        }
    }
}

/// Four significant places, or `< 0.0001`.
fn format_p(p: f64) -> String {
    if p < 0.0001 {
        "< 0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(600);

    fn rule() -> RateRule {
        RateRule {
            tolerance: 0.0,
            confidence: 0.95,
            min_trials: 100,
        }
    }

    #[test]
    fn a_clearly_higher_error_rate_is_worse_and_says_why() {
        let candidate = Counts {
            events: 48.0,
            trials: 1000.0,
        };
        let live = Counts {
            events: 10.0,
            trials: 1000.0,
        };
        let verdict = judge_rate(
            "HTTPCode_Target_5XX_Count per request",
            candidate,
            live,
            &rule(),
            WINDOW,
        );
        assert_eq!(verdict.outcome, Outcome::Worse);
        let text = verdict.to_string();
        for part in [
            "candidate 4.80% (1000 requests)",
            "live 1.00% (1000 requests)",
            "+3.80 points",
            "one-sided two-proportion z-test",
            "p = < 0.0001 < 0.0500",
            "last 10m",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
    }

    #[test]
    fn equal_rates_are_not_worse_and_a_tolerance_absorbs_a_small_excess() {
        let same = Counts {
            events: 10.0,
            trials: 1000.0,
        };
        assert_eq!(
            judge_rate("5xx", same, same, &rule(), WINDOW).outcome,
            Outcome::NotWorse
        );
        let candidate = Counts {
            events: 25.0,
            trials: 1000.0,
        };
        assert_eq!(
            judge_rate("5xx", candidate, same, &rule(), WINDOW).outcome,
            Outcome::Worse
        );
        let lenient = RateRule {
            tolerance: 0.02,
            ..rule()
        };
        assert_eq!(
            judge_rate("5xx", candidate, same, &lenient, WINDOW).outcome,
            Outcome::NotWorse
        );
    }

    #[test]
    fn too_few_requests_is_not_enough_data() {
        let few = Counts {
            events: 5.0,
            trials: 20.0,
        };
        let live = Counts {
            events: 0.0,
            trials: 1000.0,
        };
        let verdict = judge_rate("5xx", few, live, &rule(), WINDOW);
        assert_eq!(verdict.outcome, Outcome::NotEnoughData);
        assert_eq!(verdict.p_value, None);
        assert!(verdict.to_string().contains("not enough data: one-sided two-proportion z-test needs at least 100 requests on each side"), "{verdict}");
    }

    #[test]
    fn slower_minutes_are_worse_beyond_the_tolerance_only() {
        let live = [
            0.100, 0.110, 0.105, 0.098, 0.102, 0.107, 0.099, 0.103, 0.101, 0.104,
        ];
        let slower: Vec<f64> = live.iter().map(|v| v * 1.5).collect();
        let rule = DistributionRule {
            tolerance: 0.0,
            confidence: 0.95,
            min_samples: 5,
        };
        let verdict = judge_distribution("TargetResponseTime p95", &slower, &live, &rule, WINDOW);
        assert_eq!(verdict.outcome, Outcome::Worse, "{verdict}");
        assert!(verdict
            .to_string()
            .contains("one-sided Mann-Whitney U test"));
        let same = judge_distribution("TargetResponseTime p95", &live, &live, &rule, WINDOW);
        assert_eq!(same.outcome, Outcome::NotWorse, "{same}");
        let tolerant = DistributionRule {
            tolerance: 0.6,
            ..rule
        };
        assert_eq!(
            judge_distribution("t", &slower, &live, &tolerant, WINDOW).outcome,
            Outcome::NotWorse
        );
        let short = judge_distribution("t", &slower[..3], &live, &rule, WINDOW);
        assert_eq!(short.outcome, Outcome::NotEnoughData);
        assert!(
            short.to_string().contains("needs at least 5 minutes"),
            "{short}"
        );
    }

    #[test]
    fn json_shape() {
        let verdict = judge_rate(
            "5xx",
            Counts {
                events: 1.0,
                trials: 100.0,
            },
            Counts {
                events: 1.0,
                trials: 100.0,
            },
            &rule(),
            WINDOW,
        );
        let json = serde_json::to_value(&verdict).unwrap();
        assert_eq!(json["outcome"], "not_worse");
        assert_eq!(json["test"], "two_proportion_z");
        assert_eq!(json["window_secs"], 600);
        assert!(json["p_value"].as_f64().is_some());
    }
}
