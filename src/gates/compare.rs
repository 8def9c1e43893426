//! The comparison gate: the candidate's target group metrics against the live release's, over
//! the same minutes (`AWS/ApplicationELB`, one-minute periods, dimensions `TargetGroup` and
//! `LoadBalancer` as ALB publishes them). [`queries`] says what to read; [`judge`] decides from
//! what was read, purely; `AppGates` does the reading.
//!
//! When it judges: only once the candidate has production traffic (before, the test route's
//! requests are no sample of production) and has served requests. Too few samples pass as "not
//! enough data" within `warmup` of the candidate's first request in the lookback, and fail
//! after it: a canary that never gets enough traffic to be judged is not proven.

use std::time::{Duration, SystemTime};

use super::{GateContext, GateResult};
use crate::aws::cloudwatch::{MetricQuery, Series};
use crate::compare::{
    judge_distribution, judge_rate, Counts, DistributionRule, Outcome, RateRule, Verdict,
};
use crate::spec::{CompareGate, CompareKind};

pub const GATE: &str = "compare";

const NAMESPACE: &str = "AWS/ApplicationELB";
const REQUEST_COUNT: &str = "RequestCount";
/// CloudWatch's ALB metrics come one per minute.
pub const PERIOD: Duration = Duration::from_secs(60);

/// What the candidate is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The live release's stack name (or `baseline`), for messages.
    pub live: String,
    /// Its target group ARN.
    pub live_target_group: String,
    /// The `LoadBalancer` dimension: `app/<name>/<id>`.
    pub load_balancer: String,
}

/// The `TargetGroup` dimension of a target group ARN: `targetgroup/<name>/<id>` (ELB User
/// Guide, "CloudWatch metrics for your Application Load Balancer", dimensions).
pub fn target_group_dimension(arn: &str) -> Option<String> {
    arn.find("targetgroup/")
        .map(|start| arn[start..].to_string())
}

/// The `LoadBalancer` dimension (`app/<name>/<id>`) of a listener, listener rule or load
/// balancer ARN: `…:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2` gives
/// `app/web/50dc6c495c0c9188`.
pub fn load_balancer_dimension(arn: &str) -> Option<String> {
    let start = arn.find("/app/")? + 1;
    let parts: Vec<&str> = arn[start..].split('/').take(3).collect();
    (parts.len() == 3).then(|| parts.join("/"))
}

/// The series to read, in this order: per side (candidate, then live) its `RequestCount`, then
/// each metric.
pub fn queries(
    gate: &CompareGate,
    comparison: &Comparison,
    candidate_group: &str,
) -> Vec<MetricQuery> {
    let mut queries = Vec::new();
    for group in [candidate_group, comparison.live_target_group.as_str()] {
        let dimensions = vec![
            (
                "TargetGroup".to_string(),
                target_group_dimension(group).unwrap_or_else(|| group.to_string()),
            ),
            ("LoadBalancer".to_string(), comparison.load_balancer.clone()),
        ];
        let query = |name: &str, statistic: &str| MetricQuery {
            namespace: NAMESPACE.to_string(),
            name: name.to_string(),
            dimensions: dimensions.clone(),
            statistic: statistic.to_string(),
        };
        queries.push(query(REQUEST_COUNT, "Sum"));
        for metric in &gate.metrics {
            queries.push(match &metric.kind {
                CompareKind::RatePerRequest => query(&metric.name, "Sum"),
                CompareKind::Distribution { statistic } => query(&metric.name, statistic),
            });
        }
    }
    queries
}

/// How far back to read: the window, and the warm-up before it (to find the first request).
pub fn lookback(gate: &CompareGate) -> Duration {
    gate.window + gate.warmup
}

/// The gate's result from the series [`queries`] asked for, read over [`lookback`] up to `now`.
///
/// Only minutes of production traffic count: from the first whole minute after the candidate's
/// first step (requests through the test route before it are no sample of production), within
/// the window. Before any production traffic, and at 100 % (the live release then has no traffic
/// to compare with: the comparison is made while traffic is split), the gate passes, saying so.
pub fn judge(
    gate: &CompareGate,
    comparison: &Comparison,
    series: &[Series],
    now: SystemTime,
    context: GateContext,
) -> GateResult {
    let per_side = 1 + gate.metrics.len();
    if series.len() != 2 * per_side {
        return GateResult::error(
            GATE,
            format!(
                "CloudWatch answered {} series for {} queries",
                series.len(),
                2 * per_side
            ),
        );
    }
    let Some(production_for) = context
        .production_for
        .filter(|_| context.candidate_weight > 0)
    else {
        return GateResult::pass(GATE)
            .with_note("no production traffic yet: compared once the candidate has some");
    };
    if context.candidate_weight >= 100 {
        return GateResult::pass(GATE).with_note(format!(
            "the candidate has all the traffic: {} has none to compare with (compared while traffic was split)",
            comparison.live
        ));
    }
    let (candidate, live) = series.split_at(per_side);
    // Points are stamped with the start of their minute: the minute production began counts
    // (its first seconds may also hold test-route requests); the minutes before it do not.
    let production_start = start_of_minute(
        now.checked_sub(production_for)
            .unwrap_or(SystemTime::UNIX_EPOCH),
    );
    let window_start = now
        .checked_sub(gate.window)
        .unwrap_or(SystemTime::UNIX_EPOCH)
        .max(production_start);
    let in_window = |series: &Series| -> Vec<f64> {
        series
            .iter()
            .filter(|(at, _)| *at >= window_start)
            .map(|(_, value)| *value)
            .collect()
    };
    let requests = |side: &[Series]| in_window(&side[0]).iter().sum::<f64>();
    let window = now.duration_since(window_start).unwrap_or_default();
    let verdicts: Vec<Verdict> = gate
        .metrics
        .iter()
        .enumerate()
        .map(|(index, metric)| match &metric.kind {
            CompareKind::RatePerRequest => judge_rate(
                &format!("{} per request", metric.name),
                Counts {
                    events: in_window(&candidate[index + 1]).iter().sum(),
                    trials: requests(candidate),
                },
                Counts {
                    events: in_window(&live[index + 1]).iter().sum(),
                    trials: requests(live),
                },
                &RateRule {
                    tolerance: metric.tolerance,
                    confidence: gate.confidence,
                    min_trials: gate.min_requests,
                },
                window,
            ),
            CompareKind::Distribution { statistic } => judge_distribution(
                &format!("{} {statistic}", metric.name),
                &in_window(&candidate[index + 1]),
                &in_window(&live[index + 1]),
                &DistributionRule {
                    tolerance: metric.tolerance,
                    confidence: gate.confidence,
                    min_samples: gate.min_minutes,
                },
                window,
            ),
        })
        .collect();
    let describe = |verdicts: &[&Verdict]| {
        verdicts
            .iter()
            .map(|verdict| verdict.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let worse: Vec<&Verdict> = verdicts
        .iter()
        .filter(|verdict| verdict.is_worse())
        .collect();
    let short: Vec<&Verdict> = verdicts
        .iter()
        .filter(|verdict| verdict.outcome == Outcome::NotEnoughData)
        .collect();
    let vs = format!("vs {}", comparison.live);
    let shown =
        |duration: Duration| humantime::format_duration(Duration::from_secs(duration.as_secs()));
    let result = if !worse.is_empty() {
        GateResult::fail(
            GATE,
            format!("worse than {}: {}", comparison.live, describe(&worse)),
        )
    } else if !short.is_empty() && production_for >= gate.warmup {
        GateResult::fail(
            GATE,
            format!(
                "still not enough data after {} of production traffic (warm-up {}): {}",
                shown(production_for),
                shown(gate.warmup),
                describe(&short)
            ),
        )
    } else if !short.is_empty() {
        GateResult::pass(GATE).with_note(format!(
            "{vs}, not enough data yet ({} of warm-up left): {}",
            shown(gate.warmup.saturating_sub(production_for)),
            describe(&verdicts.iter().collect::<Vec<_>>())
        ))
    } else {
        GateResult::pass(GATE).with_note(format!(
            "{vs}: {}",
            describe(&verdicts.iter().collect::<Vec<_>>())
        ))
    };
    result.with_comparison(verdicts)
}

/// The start of the minute `time` is in (CloudWatch stamps a one-minute point so).
pub fn start_of_minute(time: SystemTime) -> SystemTime {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs() / 60 * 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::GateOutcome;
    use crate::spec::CompareMetric;

    const MINUTE: Duration = Duration::from_secs(60);

    fn gate() -> CompareGate {
        CompareGate {
            window: 10 * MINUTE,
            confidence: 0.95,
            warmup: 10 * MINUTE,
            min_requests: 100,
            min_minutes: 5,
            metrics: vec![CompareMetric {
                name: "HTTPCode_Target_5XX_Count".into(),
                kind: CompareKind::RatePerRequest,
                tolerance: 0.005,
            }],
        }
    }

    fn comparison() -> Comparison {
        Comparison {
            live: "web-r1".into(),
            live_target_group: "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/r1/aaa".into(),
            load_balancer: "app/shared/123".into(),
        }
    }

    /// One point per minute for the last `minutes` minutes before `now`.
    fn per_minute(now: SystemTime, minutes: u64, value: f64) -> Series {
        (1..=minutes)
            .rev()
            .map(|ago| (now - MINUTE * ago as u32, value))
            .collect()
    }

    #[test]
    fn dimensions_come_from_the_arns() {
        assert_eq!(
            target_group_dimension(
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-r1/6d0ecf831eec9f09"
            )
            .as_deref(),
            Some("targetgroup/web-r1/6d0ecf831eec9f09")
        );
        for arn in [
            "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2",
            "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee",
            "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/shared/50dc6c495c0c9188",
        ] {
            assert_eq!(load_balancer_dimension(arn).as_deref(), Some("app/shared/50dc6c495c0c9188"), "{arn}");
        }
        let queries = queries(
            &gate(),
            &comparison(),
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/r2/bbb",
        );
        let names: Vec<(&str, &str, &str)> = queries
            .iter()
            .map(|query| {
                (
                    query.name.as_str(),
                    query.statistic.as_str(),
                    query.dimensions[0].1.as_str(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("RequestCount", "Sum", "targetgroup/r2/bbb"),
                ("HTTPCode_Target_5XX_Count", "Sum", "targetgroup/r2/bbb"),
                ("RequestCount", "Sum", "targetgroup/r1/aaa"),
                ("HTTPCode_Target_5XX_Count", "Sum", "targetgroup/r1/aaa"),
            ]
        );
        assert_eq!(
            queries[0].dimensions[1],
            ("LoadBalancer".to_string(), "app/shared/123".to_string())
        );
    }

    fn at(weight: u8, production_minutes: Option<u64>) -> GateContext {
        GateContext {
            candidate_weight: weight,
            production_for: production_minutes.map(|minutes| MINUTE * minutes as u32),
        }
    }

    fn now() -> SystemTime {
        // On a whole minute, as CloudWatch's periods are.
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn a_worse_candidate_fails_naming_both_rates_and_the_p_value() {
        let now = now();
        let series = vec![
            per_minute(now, 10, 100.0),
            per_minute(now, 10, 6.0),
            per_minute(now, 10, 900.0),
            per_minute(now, 10, 9.0),
        ];
        let result = judge(&gate(), &comparison(), &series, now, at(10, Some(20)));
        let GateOutcome::Fail(reason) = &result.outcome else {
            panic!("{result:?}")
        };
        assert!(reason.contains("worse than web-r1"), "{reason}");
        assert!(
            reason.contains("candidate 6.00% (1000 requests) vs live 1.00% (9000 requests)"),
            "{reason}"
        );
        assert!(reason.contains("p = < 0.0001"), "{reason}");
        assert_eq!(result.comparison.len(), 1);
    }

    #[test]
    fn an_equal_candidate_passes_and_says_why() {
        let now = now();
        let series = vec![
            per_minute(now, 10, 100.0),
            per_minute(now, 10, 1.0),
            per_minute(now, 10, 900.0),
            per_minute(now, 10, 9.0),
        ];
        let result = judge(&gate(), &comparison(), &series, now, at(10, Some(20)));
        assert_eq!(result.outcome, GateOutcome::Pass);
        let note = result.note.unwrap();
        assert!(
            note.starts_with("vs web-r1: HTTPCode_Target_5XX_Count per request: candidate 1.00%"),
            "{note}"
        );
        assert!(note.contains("not worse"), "{note}");
    }

    #[test]
    fn only_minutes_of_production_traffic_count() {
        let now = now();
        // Minutes 10 to 3 ago: test-route requests, half of them errors; the last 2 minutes:
        // production, clean.
        let mut candidate_requests = per_minute(now, 10, 100.0);
        let mut candidate_errors: Series = (3..=10)
            .rev()
            .map(|ago| (now - MINUTE * ago, 50.0))
            .collect();
        candidate_errors.extend(per_minute(now, 2, 0.0));
        candidate_requests.sort_by_key(|point| point.0);
        let series = vec![
            candidate_requests,
            candidate_errors,
            per_minute(now, 10, 900.0),
            per_minute(now, 10, 9.0),
        ];
        let result = judge(&gate(), &comparison(), &series, now, at(10, Some(2)));
        assert_eq!(result.outcome, GateOutcome::Pass, "{result:?}");
        assert_eq!(
            result.comparison[0].candidate_samples, 200,
            "two production minutes"
        );
        // Production began half way through a minute: that minute counts, the one before not.
        let mid_minute = GateContext {
            candidate_weight: 10,
            production_for: Some(Duration::from_secs(150)),
        };
        let partial = judge(&gate(), &comparison(), &series, now, mid_minute);
        assert_eq!(
            partial.comparison[0].candidate_samples, 300,
            "the minute production began counts"
        );
    }

    #[test]
    fn too_few_requests_pass_within_the_warm_up_and_fail_after_it() {
        let now = now();
        let young = vec![
            per_minute(now, 10, 10.0),
            per_minute(now, 10, 1.0),
            per_minute(now, 10, 900.0),
            per_minute(now, 10, 9.0),
        ];
        let result = judge(&gate(), &comparison(), &young, now, at(10, Some(3)));
        assert_eq!(result.outcome, GateOutcome::Pass, "{result:?}");
        assert!(result
            .note
            .unwrap()
            .contains("not enough data yet (7m of warm-up left)"));
        let old = vec![
            per_minute(now, 20, 1.0),
            per_minute(now, 20, 0.0),
            per_minute(now, 20, 900.0),
            per_minute(now, 20, 9.0),
        ];
        let result = judge(&gate(), &comparison(), &old, now, at(10, Some(20)));
        let GateOutcome::Fail(reason) = &result.outcome else {
            panic!("{result:?}")
        };
        assert!(
            reason.contains("still not enough data after 20m of production traffic"),
            "{reason}"
        );
        assert!(
            reason.contains("needs at least 100 requests on each side"),
            "{reason}"
        );
        // A candidate the metrics never show a request for is not proven either.
        let silent = vec![
            Vec::new(),
            Vec::new(),
            per_minute(now, 20, 900.0),
            per_minute(now, 20, 0.0),
        ];
        let result = judge(&gate(), &comparison(), &silent, now, at(10, Some(20)));
        assert!(matches!(result.outcome, GateOutcome::Fail(_)), "{result:?}");
    }

    #[test]
    fn before_production_traffic_and_at_all_of_it_there_is_nothing_to_compare() {
        let now = now();
        let worse = vec![
            per_minute(now, 10, 100.0),
            per_minute(now, 10, 50.0),
            per_minute(now, 10, 900.0),
            per_minute(now, 10, 0.0),
        ];
        let result = judge(&gate(), &comparison(), &worse, now, at(0, None));
        assert_eq!(result.outcome, GateOutcome::Pass);
        assert!(result.note.unwrap().contains("no production traffic yet"));
        let result = judge(&gate(), &comparison(), &worse, now, at(100, Some(30)));
        assert_eq!(result.outcome, GateOutcome::Pass);
        assert!(result.note.unwrap().contains("has none to compare with"));
    }
}
