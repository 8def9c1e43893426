//! The instance-status gate: the release's instances running with both EC2 status checks ok.
//!
//! The instances are the union of: those tagged `aws:cloudformation:stack-name = <stack>`
//! (CloudFormation tags the instances it creates, and on AWS its auto scaling groups pass the tag
//! on), the instances registered in the release's target group (how moto's auto scaling
//! instances are found: moto does not tag them), and the instance named by the EIP router's
//! output. Any one source alone misses instances on one of AWS or moto.

use super::{GateOutcome, GateResult};
use crate::aws::instances::{InstanceApi, InstanceStatusFacts};

pub const GATE: &str = "instance_status";

/// Finds the stack's tagged instances, adds `extra` (from its target group or instance output)
/// and judges their status.
pub async fn check(api: &impl InstanceApi, stack_name: &str, extra: &[String]) -> GateResult {
    let result = |outcome| GateResult::new(GATE, outcome);
    let mut ids = match api.stack_instances(stack_name).await {
        Ok(ids) => ids,
        Err(error) => return result(GateOutcome::Error(error.to_string())),
    };
    for id in extra {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    if ids.is_empty() {
        return result(GateOutcome::Fail(format!(
            "stack {stack_name} has no pending or running instances"
        )));
    }
    match api.instance_statuses(&ids).await {
        Ok(statuses) => result(judge(&ids, &statuses)),
        Err(error) if error.is_not_found() => result(GateOutcome::Fail(error.to_string())),
        Err(error) => result(GateOutcome::Error(error.to_string())),
    }
}

/// Stopped or impaired instances fail; checks that are still initializing are not a verdict
/// yet, so they count as an error the driver re-checks.
pub fn judge(ids: &[String], statuses: &[InstanceStatusFacts]) -> GateOutcome {
    let mut failed = Vec::new();
    let mut pending = Vec::new();
    for id in ids {
        let Some(status) = statuses.iter().find(|status| &status.instance_id == id) else {
            pending.push(format!("{id} has no status yet"));
            continue;
        };
        if status.state != "running" {
            failed.push(format!("{id} is {}", status.state));
            continue;
        }
        for (check, value) in [
            ("instance", &status.instance_check),
            ("system", &status.system_check),
        ] {
            match value.as_str() {
                "ok" => {}
                "initializing" | "insufficient-data" => {
                    pending.push(format!("{id} {check} check {value}"))
                }
                _ => failed.push(format!("{id} {check} check {value}")),
            }
        }
    }
    if !failed.is_empty() {
        GateOutcome::Fail(failed.join(", "))
    } else if !pending.is_empty() {
        GateOutcome::Error(pending.join(", "))
    } else {
        GateOutcome::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(id: &str, state: &str, instance: &str, system: &str) -> InstanceStatusFacts {
        InstanceStatusFacts {
            instance_id: id.into(),
            state: state.into(),
            instance_check: instance.into(),
            system_check: system.into(),
        }
    }

    #[test]
    fn verdicts() {
        let ids = vec!["i-1".to_string(), "i-2".to_string()];
        let ok = [
            status("i-1", "running", "ok", "ok"),
            status("i-2", "running", "ok", "ok"),
        ];
        assert_eq!(judge(&ids, &ok), GateOutcome::Pass);
        let impaired = [
            status("i-1", "running", "impaired", "ok"),
            status("i-2", "stopped", "not-applicable", "not-applicable"),
        ];
        assert_eq!(
            judge(&ids, &impaired),
            GateOutcome::Fail("i-1 instance check impaired, i-2 is stopped".into())
        );
        let initializing = [status("i-1", "running", "initializing", "ok")];
        assert_eq!(
            judge(&ids, &initializing),
            GateOutcome::Error("i-1 instance check initializing, i-2 has no status yet".into())
        );
    }
}
