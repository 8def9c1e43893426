//! Everything the router and the gates need, checked before the release stack is created: a
//! deploy that cannot route to its release or judge it must stop while nothing exists yet.
//!
//! - The outputs the spec names (`target_group_output`, `endpoint_output`, `alias_zone_output`,
//!   `instance_output`, gate outputs) are in the template's `Outputs` (pure, no AWS call).
//! - The route resolves and can be read: a misspelt `router.listener` output, a rule, a hosted
//!   zone or an Elastic IP that does not exist.
//! - The CloudWatch alarms the gates name exist.
//! - The route is this app's (no other app's release in it), and traffic nobody owns is adopted
//!   only with `--adopt` (see `route::ownership`).

use std::time::Duration;

use serde_json::{json, Value};

use super::DeployError;
use crate::aws::cloudwatch::{AlarmApi, CloudWatch};
use crate::aws::elbv2::Elbv2;
use crate::aws::AwsContext;
use crate::gates::alarms::alarm_name;
use crate::release::live::AppReleases;
use crate::route::{plan_adoption, Adoption, BaselineTarget, OwnershipError, RouteError};
use crate::router::AnyRouter;
use crate::router::TrafficRouter;
use crate::spec::{AppSpec, HttpTarget, RouterSpec, StrategyKind};
use crate::template::Template;

/// The spec keys naming outputs of each release stack, with the output each names.
pub fn release_outputs(spec: &AppSpec) -> Vec<(&'static str, &str)> {
    let mut named: Vec<(&'static str, &str)> = match &spec.router {
        RouterSpec::Alb {
            target_group_output,
            ..
        } => vec![("router.target_group_output", target_group_output)],
        RouterSpec::Route53 {
            endpoint_output,
            alias_zone_output,
            ..
        } => {
            let mut named = vec![("router.endpoint_output", endpoint_output.as_str())];
            named.extend(
                alias_zone_output
                    .as_deref()
                    .map(|output| ("router.alias_zone_output", output)),
            );
            named
        }
        RouterSpec::Eip {
            instance_output, ..
        } => vec![("router.instance_output", instance_output)],
    };
    let gates = &spec.gates;
    if let Some(health) = &gates.target_health {
        named.push((
            "gates.target_health.target_group_output",
            &health.target_group_output,
        ));
    }
    named.extend(
        gates
            .alarm_outputs
            .iter()
            .map(|output| ("gates.alarm_outputs", output.as_str())),
    );
    if let Some(HttpTarget::Output(output)) = gates.http.as_ref().map(|http| &http.url) {
        named.push(("gates.http.url_output", output));
    }
    named
}

/// Refuses a template with a `Ref` or `Fn::GetAtt` to a name it does not declare (CloudFormation
/// would refuse it at CreateStack), naming the file and line of the first.
pub fn check_references(template: &Template) -> Result<(), DeployError> {
    let Some(first) = crate::template::references::undeclared_references(template)
        .into_iter()
        .next()
    else {
        return Ok(());
    };
    let path: Vec<&str> = first.path.iter().map(String::as_str).collect();
    let at = match template.lines().line_of(&path) {
        Some(line) => format!("{}:{line}", template.origin),
        None => template.origin.clone(),
    };
    Err(DeployError::UndeclaredReference {
        at,
        function: first.function,
        name: first.name,
    })
}

/// Refuses a template whose `Outputs` lack an output the spec names: every release would be a
/// stack the router cannot route to or the gates cannot judge.
pub fn check_release_outputs(spec: &AppSpec, template: &Template) -> Result<(), DeployError> {
    let outputs = template.outputs();
    let missing: Vec<(&'static str, &str)> = release_outputs(spec)
        .into_iter()
        .filter(|(_, output)| outputs.is_none_or(|outputs| !outputs.contains_key(*output)))
        .collect();
    match missing.first() {
        None => Ok(()),
        Some((key, output)) => Err(DeployError::MissingOutput {
            template: template.origin.clone(),
            output: output.to_string(),
            key,
            declared: outputs
                .map(|outputs| outputs.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
        }),
    }
}

/// Refuses a release output the spec names that the template declares under a `Condition`
/// which is false for this release's parameters (`value_of` gives a `Ref`'s value): the
/// release would be created without it, and could not be routed to or judged.
pub fn check_output_conditions(
    spec: &AppSpec,
    template: &Template,
    value_of: &dyn Fn(&str) -> Option<String>,
) -> Result<(), DeployError> {
    let Some(outputs) = template.outputs() else {
        return Ok(());
    };
    for (key, output) in release_outputs(spec) {
        let Some(condition) = outputs
            .get(output)
            .and_then(|declared| declared.get("Condition"))
            .and_then(crate::template::Node::as_str)
        else {
            continue;
        };
        if crate::template::conditions::evaluate(template, condition, value_of) == Some(false) {
            let at = match template.lines().line_of(&["Outputs", output, "Condition"]) {
                Some(line) => format!("{}:{line}", template.origin),
                None => template.origin.clone(),
            };
            return Err(DeployError::OutputConditionFalse {
                at,
                output: output.to_string(),
                key,
                condition: condition.to_string(),
            });
        }
    }
    Ok(())
}

/// What the route looks like for this deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteCheck {
    /// `listener rule arn:…`, `CNAME record api.example.com in hosted zone Z…`, …
    pub route: String,
    /// Set when this deploy adopts traffic nobody owns as the app's baseline.
    pub adoption: Option<PlannedAdoption>,
    /// ALB target group stickiness of the route's forward action.
    pub stickiness: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedAdoption {
    /// The weights key the router reported it under (the raw target).
    pub key: String,
    pub target: BaselineTarget,
}

impl RouteCheck {
    pub fn to_json(&self) -> Value {
        json!({
            "route": self.route,
            "adopt": self.adoption.as_ref().map(|adoption| json!({
                "target": adoption.key,
                "baseline": adoption.target,
            })),
            "stickiness_secs": self.stickiness.map(|duration| duration.as_secs()),
        })
    }
}

/// Checks the router, the gates' alarms and the route's ownership on `app` as just observed,
/// and decides the adoption. Only reads.
pub async fn check_route(
    ctx: &AwsContext,
    spec: &AppSpec,
    app: &AppReleases,
    adopt: bool,
) -> Result<RouteCheck, DeployError> {
    let router = match (&app.router, &app.router_error) {
        (Some(router), None) => router,
        (_, Some(error)) => {
            return Err(DeployError::RouterUnavailable {
                reason: crate::release::retire::error_line(error),
                hint: crate::error::Diagnostic::hint(error),
            })
        }
        (None, None) => unreachable!("observe_app sets a router or says why not"),
    };
    router
        .check_writable()
        .await
        .map_err(|error| DeployError::RouterUnavailable {
            reason: crate::release::retire::error_line(&error),
            hint: crate::error::Diagnostic::hint(&error),
        })?;
    check_alarms(&CloudWatch::new(ctx), spec).await?;
    let route = router.route();
    let entries = app.route_entries();
    let not_adoptable = |key: String, weight: u8| {
        let (what, instead) = match spec.router {
            RouterSpec::Alb { .. } => (
                "the target group a listener or rule forwards to",
                "route the app through a listener rule of its own (`router.rule`), or make this route forward to a target group (or answer with a fixed response) first",
            ),
            RouterSpec::Route53 { .. } => (
                "a record of the name",
                "route the app through a record name of its own",
            ),
            RouterSpec::Eip { .. } => (
                "the instance that holds the address",
                "route the app through an Elastic IP of its own, or associate this one with an instance first",
            ),
        };
        DeployError::from(RouteError::from(OwnershipError::NotAdoptable {
            why: format!("a baseline can only be {what}, and cutover would replace this"),
            instead: instead.to_string(),
            route: route.clone(),
            target: key,
            weight,
        }))
    };
    let adoption = match plan_adoption(&spec.name, &route, &entries, adopt) {
        Ok(Adoption::Nothing) => None,
        Ok(Adoption::Adopt { key }) => match router.baseline_target_for(&key) {
            Some(target) => Some(PlannedAdoption { key, target }),
            None => {
                let weight = entries
                    .iter()
                    .find(|entry| entry.key == key)
                    .map_or(100, |entry| entry.weight);
                return Err(not_adoptable(key, weight));
            }
        },
        // Without --adopt, traffic that --adopt could not take either is named as such, so
        // the hint does not send the user to a flag that will refuse it.
        Err(OwnershipError::Unowned { target, weight, .. })
            if router.baseline_target_for(&target).is_none() =>
        {
            return Err(not_adoptable(target, weight));
        }
        Err(error) => return Err(RouteError::from(error).into()),
    };
    // The test route must have a place on the listener before a release is created for it.
    if let (
        RouterSpec::Alb {
            test_traffic: Some(test_traffic),
            ..
        },
        AnyRouter::Alb(alb),
    ) = (&spec.router, router)
    {
        super::test_route::check_placeable(
            &Elbv2::new(ctx),
            test_traffic,
            alb.route(),
            &super::test_route::AppGroups {
                app: &spec.name,
                groups: alb.target_groups(),
            },
        )
        .await?;
    }
    Ok(RouteCheck {
        route,
        adoption,
        stickiness: router.stickiness(),
    })
}

/// The spec's rollback alarms as CloudFormation takes them (rollback triggers are ARNs).
pub fn rollback_alarm_arns(spec: &AppSpec) -> Result<Vec<String>, DeployError> {
    match spec
        .stack
        .rollback_alarms
        .iter()
        .find(|alarm| !alarm.starts_with("arn:"))
    {
        Some(name) => Err(DeployError::AlarmNotArn {
            spec: spec.path.display().to_string(),
            alarm: name.clone(),
        }),
        None => Ok(spec.stack.rollback_alarms.clone()),
    }
}

/// What target group stickiness means for this strategy, for the plan: `None` when it is off.
/// Each step before 100 % is held at least the stickiness duration unless the spec says
/// `strategy.hold_for_stickiness = false`; the final bake is the spec's (at 100 % every new
/// client goes to the candidate).
pub fn stickiness_note(
    stickiness: Option<Duration>,
    strategy: &StrategyKind,
    hold_for_stickiness: bool,
) -> Option<String> {
    let duration = stickiness?;
    let shown = humantime::format_duration(duration);
    let step_hold = match strategy {
        StrategyKind::AllAtOnce => None,
        StrategyKind::Canary { bake, .. } => Some(*bake),
        StrategyKind::Linear { interval, .. } => Some(*interval),
        StrategyKind::Steps { pause, .. } => Some(*pause),
    };
    Some(match step_hold {
        None => format!(
            "target group stickiness on ({shown}): all at once has no step to hold; clients stuck to the previous release follow within {shown}"
        ),
        Some(hold) if !hold_for_stickiness => format!(
            "target group stickiness on ({shown}): steps are held {} as the strategy says (strategy.hold_for_stickiness = false), so clients stuck to the previous release stay there up to {shown} whatever the weights",
            humantime::format_duration(hold)
        ),
        Some(hold) if hold < duration => format!(
            "target group stickiness on ({shown}): each step before 100 % is held {shown} instead of {}, so stuck clients have moved before the next step",
            humantime::format_duration(hold)
        ),
        Some(_) => format!(
            "target group stickiness on ({shown}): each step is already held at least that long"
        ),
    })
}

/// The alarms `gates.alarms` names exist (an alarm a release creates is checked by its gate).
pub async fn check_alarms(api: &impl AlarmApi, spec: &AppSpec) -> Result<(), DeployError> {
    if spec.gates.alarms.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = spec
        .gates
        .alarms
        .iter()
        .map(|alarm| alarm_name(alarm).to_string())
        .collect();
    let found = api
        .alarms(&names)
        .await
        .map_err(|source| DeployError::Alarms { source })?;
    let missing: Vec<(usize, String)> = names
        .into_iter()
        .enumerate()
        .filter(|(_, name)| !found.iter().any(|alarm| alarm.name == *name))
        .collect();
    let Some((first, _)) = missing.first() else {
        return Ok(());
    };
    Err(DeployError::MissingAlarms {
        spec: crate::spec::key_location(
            &spec.path,
            &crate::spec::KeyPath::root()
                .key("gates")
                .key("alarms")
                .index(*first),
        ),
        alarms: missing
            .into_iter()
            .map(|(_, name)| name)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(router: &str, gates: &str) -> AppSpec {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.yaml"), "Resources: {}\n").unwrap();
        let path = dir.path().join("web.toml");
        std::fs::write(
            &path,
            format!("template = \"app.yaml\"\n[router]\n{router}\n[gates]\n{gates}\n"),
        )
        .unwrap();
        crate::spec::load_file(&path).unwrap()
    }

    fn template(outputs: &str) -> Template {
        crate::template::parse(
            &format!("Resources:\n  A: {{Type: AWS::SNS::Topic}}\n{outputs}"),
            "templates/web.yaml",
        )
        .unwrap()
    }

    const ALB: &str =
        "kind = \"alb\"\nlistener = \"arn:l\"\ntarget_group_output = \"TargetGroupArn\"";

    #[test]
    fn every_output_the_spec_names_must_be_declared() {
        let spec = spec(
            ALB,
            "alarm_outputs = [\"LatencyAlarm\"]\nhttp = { url_output = \"HealthUrl\" }",
        );
        let complete = template(
            "Outputs:\n  TargetGroupArn: {Value: x}\n  LatencyAlarm: {Value: y}\n  HealthUrl: {Value: z}\n",
        );
        check_release_outputs(&spec, &complete).unwrap();
        let without_url =
            template("Outputs:\n  TargetGroupArn: {Value: x}\n  LatencyAlarm: {Value: y}\n");
        let error = check_release_outputs(&spec, &without_url).unwrap_err();
        assert_eq!(
            error.to_string(),
            "templates/web.yaml has no output HealthUrl, which gates.http.url_output names"
        );
        assert!(crate::error::Diagnostic::hint(&error)
            .unwrap()
            .contains("TargetGroupArn, LatencyAlarm"));
        let error = check_release_outputs(&spec, &template("")).unwrap_err();
        assert!(
            error.to_string().contains("router.target_group_output"),
            "{error}"
        );
        assert_eq!(
            crate::error::Diagnostic::exit(&error),
            crate::error::Exit::Error
        );
    }

    #[test]
    fn stickiness_is_named_with_what_it_does_to_each_strategy() {
        let hour = Some(Duration::from_secs(3600));
        let canary = StrategyKind::Canary {
            percent: 10,
            bake: Duration::from_secs(300),
        };
        assert_eq!(stickiness_note(None, &canary, true), None);
        assert_eq!(
            stickiness_note(hour, &canary, true).unwrap(),
            "target group stickiness on (1h): each step before 100 % is held 1h instead of 5m, so stuck clients have moved before the next step"
        );
        assert!(stickiness_note(hour, &canary, false)
            .unwrap()
            .contains("hold_for_stickiness = false"));
        assert!(stickiness_note(hour, &StrategyKind::AllAtOnce, true)
            .unwrap()
            .contains("no step to hold"));
        let long_steps = StrategyKind::Steps {
            weights: vec![50, 100],
            pause: Duration::from_secs(7200),
        };
        assert!(stickiness_note(hour, &long_steps, true)
            .unwrap()
            .contains("already held"));
    }

    #[test]
    fn route53_and_eip_outputs_are_named_with_their_keys() {
        let dns = spec(
            "kind = \"route53\"\nhosted_zone_id = \"Z1\"\nrecord_name = \"api.example.com\"\nrecord_type = \"A\"\nendpoint_output = \"Dns\"\nalias_zone_output = \"Zone\"",
            "target_health = { target_group_output = \"Group\" }",
        );
        assert_eq!(
            release_outputs(&dns),
            [
                ("router.endpoint_output", "Dns"),
                ("router.alias_zone_output", "Zone"),
                ("gates.target_health.target_group_output", "Group"),
            ]
        );
        let eip = spec(
            "kind = \"eip\"\nallocation_id = \"eipalloc-1\"\ninstance_output = \"InstanceId\"",
            "",
        );
        assert_eq!(
            release_outputs(&eip),
            [("router.instance_output", "InstanceId")]
        );
    }
}
