//! The two one-sided tests the comparison gate uses, as plain functions of their samples.
//!
//! - Error rates: a two-proportion z-test (normal approximation to the binomial). With no margin
//!   the standard error is pooled, the textbook test of H0 p₁ = p₂ (e.g. OpenStax, *Introductory
//!   Statistics*, "Comparing Two Independent Population Proportions"); with a margin δ > 0 it is
//!   the unpooled (Wald) error of a non-inferiority test of H0 p₁ − p₂ ≤ δ.
//! - Per-minute values (latency): the Mann-Whitney U test (Wilcoxon rank-sum), from `statrs`
//!   (exact for small samples without ties, normal approximation with tie and continuity
//!   corrections otherwise, as scipy's `mannwhitneyu`).

use statrs::distribution::{ContinuousCDF, Normal};
use statrs::stats_tests::mannwhitneyu::{mannwhitneyu, MannWhitneyUMethod};
use statrs::stats_tests::Alternative;

/// Events out of trials: 5xx responses out of requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counts {
    pub events: f64,
    pub trials: f64,
}

impl Counts {
    /// events / trials; 0 without trials.
    pub fn rate(&self) -> f64 {
        if self.trials > 0.0 {
            self.events / self.trials
        } else {
            0.0
        }
    }
}

/// A one-sided test's statistic and p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// z for the proportion test, U (of the first sample) for Mann-Whitney.
    pub statistic: f64,
    pub p_value: f64,
}

/// One-sided two-proportion z-test of H1: rate(first) − rate(second) > `margin`.
/// Both samples need trials > 0 (the caller checks sample sizes first).
pub fn two_proportion_greater(first: Counts, second: Counts, margin: f64) -> TestResult {
    let (p1, p2) = (first.rate(), second.rate());
    let (n1, n2) = (first.trials, second.trials);
    let variance = if margin == 0.0 {
        let pooled = (first.events + second.events) / (n1 + n2);
        pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    } else {
        p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2
    };
    let excess = p1 - p2 - margin;
    if variance <= 0.0 {
        // No spread at all (both rates 0 or 1): the difference is certain.
        let (statistic, p_value) = if excess > 0.0 {
            (f64::INFINITY, 0.0)
        } else {
            (f64::NEG_INFINITY, 1.0)
        };
        return TestResult { statistic, p_value };
    }
    let z = excess / variance.sqrt();
    TestResult {
        statistic: z,
        p_value: 1.0 - standard_normal().cdf(z),
    }
}

/// One-sided Mann-Whitney U test of H1: `first` is stochastically greater than `second`.
/// `None` when a sample is empty or holds a NaN.
pub fn mann_whitney_greater(first: &[f64], second: &[f64]) -> Option<TestResult> {
    let (u, p_value) = mannwhitneyu(
        first,
        second,
        MannWhitneyUMethod::Automatic,
        Alternative::Greater,
    )
    .ok()?;
    Some(TestResult {
        statistic: u,
        p_value,
    })
}

fn standard_normal() -> Normal {
    Normal::standard()
}

/// The median of a sample; 0 for an empty one.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(|a, b| a.total_cmp(b));
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, within: f64) -> bool {
        (actual - expected).abs() <= within
    }

    #[test]
    fn two_proportions_match_the_openstax_hives_example() {
        // OpenStax, Introductory Statistics, "Comparing Two Independent Population
        // Proportions": medication A 20 of 200 still had hives, B 12 of 200; pooled proportion
        // 0.08; the two-tailed p-value is 0.1404, so one tail is 0.0702 (z ≈ 1.474).
        let a = Counts {
            events: 20.0,
            trials: 200.0,
        };
        let b = Counts {
            events: 12.0,
            trials: 200.0,
        };
        let result = two_proportion_greater(a, b, 0.0);
        assert!(close(result.statistic, 1.474, 0.001), "{result:?}");
        assert!(close(2.0 * result.p_value, 0.1404, 0.0001), "{result:?}");
        // The other direction is the other tail.
        let reverse = two_proportion_greater(b, a, 0.0);
        assert!(close(reverse.p_value, 1.0 - result.p_value, 1e-12));
    }

    #[test]
    fn a_margin_tests_non_inferiority_with_the_unpooled_error() {
        let candidate = Counts {
            events: 30.0,
            trials: 1000.0,
        };
        let live = Counts {
            events: 10.0,
            trials: 1000.0,
        };
        // 3 % vs 1 %: clearly worse with no margin, not beyond a 5-point margin.
        assert!(two_proportion_greater(candidate, live, 0.0).p_value < 0.001);
        let lenient = two_proportion_greater(candidate, live, 0.05);
        assert!(lenient.p_value > 0.99, "{lenient:?}");
        // Wald error: sqrt(.03·.97/1000 + .01·.99/1000) = 0.0062450; z = (0.02 − 0.01)/0.0062450.
        let margin = two_proportion_greater(candidate, live, 0.01);
        assert!(close(margin.statistic, 1.6013, 0.0005), "{margin:?}");
    }

    #[test]
    fn no_spread_is_certain_either_way() {
        let none = Counts {
            events: 0.0,
            trials: 500.0,
        };
        assert_eq!(two_proportion_greater(none, none, 0.0).p_value, 1.0);
        let all = Counts {
            events: 500.0,
            trials: 500.0,
        };
        assert_eq!(two_proportion_greater(all, none, 0.5).p_value, 0.0);
    }

    #[test]
    fn mann_whitney_matches_the_scipy_and_wikipedia_examples() {
        // scipy.stats.mannwhitneyu documentation example (after Shier 2004): ages of male and
        // female participants, U = 17; the normal approximation with continuity correction,
        // alternative "greater", gives p = 0.0556734.
        let male = [19.0, 22.0, 16.0, 29.0, 24.0];
        let female = [20.0, 11.0, 17.0, 12.0];
        let result = mann_whitney_greater(&male, &female).unwrap();
        assert_eq!(result.statistic, 17.0);
        // Small samples without ties: the exact distribution, P(U >= 17) = 7/126.
        assert!(close(result.p_value, 7.0 / 126.0, 1e-12), "{result:?}");
        // Wikipedia, "Mann–Whitney U test", tortoise and hare: the hares' U is 11 (finish order
        // T H H H H H T T T T T H).
        let order = "THHHHHTTTTTH";
        let (mut tortoises, mut hares) = (Vec::new(), Vec::new());
        for (place, who) in order.chars().enumerate() {
            let finish = (place + 1) as f64;
            if who == 'T' {
                tortoises.push(finish);
            } else {
                hares.push(finish);
            }
        }
        assert_eq!(
            mann_whitney_greater(&hares, &tortoises).unwrap().statistic,
            11.0
        );
        assert_eq!(
            mann_whitney_greater(&tortoises, &hares).unwrap().statistic,
            25.0
        );
        assert!(mann_whitney_greater(&[], &female).is_none());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
