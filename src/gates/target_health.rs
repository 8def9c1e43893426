//! The target-health gate: every target registered in the release's target group healthy, and
//! at least the spec's minimum.

use super::{GateOutcome, GateResult};
use crate::aws::elbv2::TargetHealthFacts;
use crate::aws::AwsError;

pub const GATE: &str = "target_health";

/// The gate's result from what DescribeTargetHealth answered for the group (the answer is shared
/// with the instance-status gate, which checks the same targets' instances).
pub fn result_of(
    target_group_arn: &str,
    answer: &Result<Vec<TargetHealthFacts>, AwsError>,
    min_healthy: u32,
) -> GateResult {
    let outcome = match answer {
        Ok(targets) => judge(target_group_arn, targets, min_healthy),
        Err(error) if error.is_not_found() => {
            GateOutcome::Fail(format!("target group {target_group_arn} does not exist"))
        }
        Err(error) => GateOutcome::Error(error.to_string()),
    };
    GateResult::new(GATE, outcome)
}

/// Pass when no target is anything but healthy and enough are.
pub fn judge(
    target_group_arn: &str,
    targets: &[TargetHealthFacts],
    min_healthy: u32,
) -> GateOutcome {
    let unhealthy: Vec<String> = targets
        .iter()
        .filter(|target| target.state != "healthy")
        .map(describe_target)
        .collect();
    let healthy = targets.len() - unhealthy.len();
    if !unhealthy.is_empty() {
        return GateOutcome::Fail(format!(
            "{healthy} of {} targets healthy in {}; not healthy: {}",
            targets.len(),
            short_group(target_group_arn),
            unhealthy.join(", ")
        ));
    }
    if (healthy as u64) < u64::from(min_healthy) {
        return GateOutcome::Fail(format!(
            "{healthy} healthy targets in {}, at least {min_healthy} required",
            short_group(target_group_arn)
        ));
    }
    GateOutcome::Pass
}

/// `i-0abc:80 unhealthy (Target.FailedHealthChecks)`.
fn describe_target(target: &TargetHealthFacts) -> String {
    let mut text = target.id.clone();
    if let Some(port) = target.port {
        text.push_str(&format!(":{port}"));
    }
    text.push(' ');
    text.push_str(&target.state);
    if let Some(reason) = target.reason.as_deref().or(target.description.as_deref()) {
        text.push_str(&format!(" ({reason})"));
    }
    text
}

/// `targetgroup/web-r2/73e2d6bc24d8a067` from the full ARN: enough to recognise it.
fn short_group(arn: &str) -> &str {
    arn.find("targetgroup/").map_or(arn, |start| &arn[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-r2/abc";

    fn target(id: &str, state: &str, reason: Option<&str>) -> TargetHealthFacts {
        TargetHealthFacts {
            id: id.into(),
            port: Some(80),
            state: state.into(),
            reason: reason.map(str::to_string),
            description: None,
        }
    }

    #[test]
    fn all_healthy_and_enough_passes() {
        let targets = [
            target("i-1", "healthy", None),
            target("i-2", "healthy", None),
        ];
        assert_eq!(judge(ARN, &targets, 2), GateOutcome::Pass);
    }

    #[test]
    fn names_every_target_that_is_not_healthy() {
        let targets = [
            target("i-1", "healthy", None),
            target("i-2", "unhealthy", Some("Target.FailedHealthChecks")),
            target("i-3", "initial", None),
        ];
        assert_eq!(
            judge(ARN, &targets, 1),
            GateOutcome::Fail(
                "1 of 3 targets healthy in targetgroup/web-r2/abc; not healthy: \
                 i-2:80 unhealthy (Target.FailedHealthChecks), i-3:80 initial"
                    .into()
            )
        );
    }

    #[test]
    fn too_few_targets_fails_even_when_all_are_healthy() {
        assert_eq!(
            judge(ARN, &[], 1),
            GateOutcome::Fail(
                "0 healthy targets in targetgroup/web-r2/abc, at least 1 required".into()
            )
        );
    }
}
