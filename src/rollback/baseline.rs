//! Before traffic goes back to the baseline: is it still there to take it? The release gates
//! cannot judge it (it has no outputs), but what it is can be looked at: a target group needs a
//! healthy target, an instance must be running. A Route 53 record answers as long as it exists,
//! which the router sees itself. `--force` moves the traffic anyway.

use super::RollbackError;
use crate::aws::elbv2::{Elbv2, LoadBalancerApi, TargetHealthFacts};
use crate::aws::instances::{Ec2Instances, InstanceApi, InstanceStatusFacts};
use crate::aws::AwsContext;
use crate::route::BaselineTarget;

/// What was seen of the baseline's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineFacts {
    /// The target group's registered targets and their health.
    TargetGroup(Vec<TargetHealthFacts>),
    /// The instance's status; `None` when EC2 does not know it.
    Instance(Option<InstanceStatusFacts>),
    /// Nothing to look at (a Route 53 record).
    Record,
}

/// Why the baseline cannot take the traffic back, if it cannot. Pure.
pub fn unready(target: &BaselineTarget, facts: &BaselineFacts) -> Option<String> {
    match (target, facts) {
        (BaselineTarget::TargetGroup { arn }, BaselineFacts::TargetGroup(targets)) => {
            let healthy = targets
                .iter()
                .filter(|target| target.state == "healthy")
                .count();
            (healthy == 0).then(|| {
                let states: Vec<String> = targets
                    .iter()
                    .map(|target| format!("{} {}", target.id, target.state))
                    .collect();
                if states.is_empty() {
                    format!("target group {arn} has no registered target")
                } else {
                    format!(
                        "target group {arn} has no healthy target ({})",
                        states.join(", ")
                    )
                }
            })
        }
        (BaselineTarget::Instance { instance_id }, BaselineFacts::Instance(status)) => match status
        {
            None => Some(format!("instance {instance_id} does not exist")),
            Some(status) if status.state != "running" => {
                Some(format!("instance {instance_id} is {}", status.state))
            }
            Some(_) => None,
        },
        _ => None,
    }
}

/// Looks at the baseline's target and says why it cannot take the traffic, if it cannot.
pub async fn check_ready(ctx: &AwsContext, target: &BaselineTarget) -> Result<(), RollbackError> {
    let lookup = |source| RollbackError::BaselineLookup {
        target: target.to_string(),
        source,
    };
    let facts = match target {
        BaselineTarget::TargetGroup { arn } => {
            BaselineFacts::TargetGroup(Elbv2::new(ctx).target_health(arn).await.map_err(lookup)?)
        }
        BaselineTarget::Instance { instance_id } => {
            let statuses = Ec2Instances::new(ctx)
                .instance_statuses(std::slice::from_ref(instance_id))
                .await;
            match statuses {
                Ok(statuses) => BaselineFacts::Instance(statuses.into_iter().next()),
                Err(error) if error.is_not_found() => BaselineFacts::Instance(None),
                Err(error) => return Err(lookup(error)),
            }
        }
        BaselineTarget::WeightedRecord { .. } | BaselineTarget::PlainRecord { .. } => {
            BaselineFacts::Record
        }
    };
    match unready(target, &facts) {
        Some(reason) => Err(RollbackError::BaselineUnready { reason }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(id: &str, state: &str) -> TargetHealthFacts {
        TargetHealthFacts {
            id: id.into(),
            port: Some(80),
            state: state.into(),
            reason: None,
            description: None,
        }
    }

    fn instance(state: &str) -> InstanceStatusFacts {
        InstanceStatusFacts {
            instance_id: "i-1".into(),
            state: state.into(),
            instance_check: "ok".into(),
            system_check: "ok".into(),
        }
    }

    #[test]
    fn a_target_group_needs_one_healthy_target_and_an_instance_must_run() {
        let group = BaselineTarget::TargetGroup {
            arn: "arn:tg".into(),
        };
        let facts = |targets| BaselineFacts::TargetGroup(targets);
        assert_eq!(
            unready(&group, &facts(vec![])).as_deref(),
            Some("target group arn:tg has no registered target")
        );
        assert_eq!(
            unready(
                &group,
                &facts(vec![target("i-1", "unhealthy"), target("i-2", "draining")])
            )
            .as_deref(),
            Some("target group arn:tg has no healthy target (i-1 unhealthy, i-2 draining)")
        );
        assert_eq!(
            unready(
                &group,
                &facts(vec![target("i-1", "unhealthy"), target("i-2", "healthy")])
            ),
            None
        );
        let server = BaselineTarget::Instance {
            instance_id: "i-1".into(),
        };
        assert_eq!(
            unready(&server, &BaselineFacts::Instance(None)).as_deref(),
            Some("instance i-1 does not exist")
        );
        assert_eq!(
            unready(&server, &BaselineFacts::Instance(Some(instance("stopped")))).as_deref(),
            Some("instance i-1 is stopped")
        );
        assert_eq!(
            unready(&server, &BaselineFacts::Instance(Some(instance("running")))),
            None
        );
        let record = BaselineTarget::PlainRecord {
            set_identifier: "baseline".into(),
            record: None,
        };
        assert_eq!(unready(&record, &BaselineFacts::Record), None);
    }
}
