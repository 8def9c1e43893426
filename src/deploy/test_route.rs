//! Acting on the test route (`[router.test_traffic]`): reading the listener's rules, adding the
//! candidate's rule where [`crate::route::test_route::plan`] says, and taking the app's test
//! rules away when the cutover is over. The decisions are the planner's; this file only calls.

use crate::aws::elbv2::AlbRoute;
use crate::aws::listener_rules::{listener_of, ListenerRule, ListenerRulesApi};
use crate::aws::AwsError;
use crate::error::{Diagnostic, Exit};
use crate::route::test_route::{plan, test_rules, TestRouteError, APP_TAG, STACK_TAG};

use crate::spec::TestTrafficSpec;

/// The candidate's test route, up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTestRoute {
    pub rule_arn: String,
    pub priority: u32,
    pub header: String,
    pub value: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TestRouteDriveError {
    #[error(transparent)]
    Plan(#[from] TestRouteError),
    #[error("could not find the listener of {route}")]
    NoListener { route: String },
    #[error("could not read or change the test route")]
    Aws(#[from] AwsError),
}

impl Diagnostic for TestRouteDriveError {
    fn exit(&self) -> Exit {
        match self {
            TestRouteDriveError::Aws(error) => error.exit(),
            _ => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            TestRouteDriveError::Plan(error) => error.hint(),
            TestRouteDriveError::NoListener { .. } => {
                Some("check router.rule or router.listener in the spec".into())
            }
            TestRouteDriveError::Aws(error) => error.hint(),
        }
    }
}

/// The listener of `route`, its rules, and which of them are the app's test rules.
async fn read(
    api: &impl ListenerRulesApi,
    spec: &TestTrafficSpec,
    route: &AlbRoute,
    app: &AppGroups<'_>,
) -> Result<(String, Vec<ListenerRule>, Vec<ListenerRule>), TestRouteDriveError> {
    let listener = listener_of(route).ok_or_else(|| TestRouteDriveError::NoListener {
        route: route.to_string(),
    })?;
    let rules = api.rules_of_listener(&listener).await?;
    let own: Vec<ListenerRule> = test_rules(&rules, &spec.header, app.app, &app.groups)
        .into_iter()
        .cloned()
        .collect();
    Ok((listener, rules, own))
}

/// The app, and its releases' target groups (what identifies its untagged test rules).
pub struct AppGroups<'a> {
    pub app: &'a str,
    pub groups: Vec<&'a str>,
}

/// Whether `rule` is the test rule of `stack` (by its tag) or forwards only to `group`.
fn is_for(rule: &ListenerRule, stack: &str, group: &str) -> bool {
    match rule.tag(STACK_TAG) {
        Some(tagged) => tagged == stack,
        None => rule.target_groups == [group],
    }
}

fn header_value(rule: &ListenerRule) -> Option<String> {
    rule.conditions
        .iter()
        .find_map(|condition| condition.header())
        .and_then(|(_, values)| values.first().map(|value| value.to_string()))
}

/// Before anything is created: a test rule can be placed for a release of this app.
pub async fn check_placeable(
    api: &impl ListenerRulesApi,
    spec: &TestTrafficSpec,
    route: &AlbRoute,
    app: &AppGroups<'_>,
) -> Result<(), TestRouteDriveError> {
    let (listener, rules, own) = read(api, spec, route, app).await?;
    let own: Vec<&ListenerRule> = own.iter().collect();
    plan(
        spec,
        &listener,
        route,
        &rules,
        &own,
        "arn:candidate",
        "check",
    )?;
    Ok(())
}

/// The app's test rules that are up, with the release stack each is for (from its tag; `None`
/// for an untagged one): what a run that died left.
pub async fn list(
    api: &impl ListenerRulesApi,
    spec: &TestTrafficSpec,
    route: &AlbRoute,
    app: &AppGroups<'_>,
) -> Result<Vec<(ListenerRule, Option<String>)>, TestRouteDriveError> {
    let (_, _, own) = read(api, spec, route, app).await?;
    Ok(own
        .into_iter()
        .map(|rule| {
            let stack = rule.tag(STACK_TAG).map(str::to_string);
            (rule, stack)
        })
        .collect())
}

/// The app's test rule for the candidate, if one is up (a held or crashed run's).
pub async fn find(
    api: &impl ListenerRulesApi,
    spec: &TestTrafficSpec,
    route: &AlbRoute,
    app: &AppGroups<'_>,
    candidate: &str,
    candidate_group: &str,
) -> Result<Option<OpenTestRoute>, TestRouteDriveError> {
    let (_, _, own) = read(api, spec, route, app).await?;
    Ok(own
        .iter()
        .find(|rule| is_for(rule, candidate, candidate_group))
        .and_then(|rule| {
            Some(OpenTestRoute {
                rule_arn: rule.arn.clone(),
                priority: rule.priority,
                header: spec.header.clone(),
                value: header_value(rule)?,
            })
        }))
}

/// Puts the candidate's test route up: an existing one for it is kept, the app's other test
/// rules (left by earlier runs) are removed first.
pub async fn open(
    api: &impl ListenerRulesApi,
    spec: &TestTrafficSpec,
    route: &AlbRoute,
    app: &AppGroups<'_>,
    candidate: &str,
    candidate_group: &str,
    release_id: &str,
) -> Result<OpenTestRoute, TestRouteDriveError> {
    let (listener, rules, own) = read(api, spec, route, app).await?;
    let mut stale = Vec::new();
    for rule in &own {
        let forwards_to_candidate =
            is_for(rule, candidate, candidate_group) && rule.target_groups == [candidate_group];
        if forwards_to_candidate && header_value(rule).as_deref() == Some(release_id) {
            return Ok(OpenTestRoute {
                rule_arn: rule.arn.clone(),
                priority: rule.priority,
                header: spec.header.clone(),
                value: release_id.to_string(),
            });
        }
        stale.push(rule);
    }
    let planned = plan(
        spec,
        &listener,
        route,
        &rules,
        &stale,
        candidate_group,
        release_id,
    )?;
    for rule in stale {
        api.delete_rule(&rule.arn).await?;
    }
    let tags = [
        (APP_TAG.to_string(), app.app.to_string()),
        (STACK_TAG.to_string(), candidate.to_string()),
    ];
    let rule_arn = api
        .create_forward_rule(
            &listener,
            planned.priority,
            &planned.conditions,
            candidate_group,
            &tags,
        )
        .await?;
    Ok(OpenTestRoute {
        rule_arn,
        priority: planned.priority,
        header: planned.header,
        value: planned.value,
    })
}

/// Removes every test rule of the app; the ARNs removed.
pub async fn close_all(
    api: &impl ListenerRulesApi,
    spec: &TestTrafficSpec,
    route: &AlbRoute,
    app: &AppGroups<'_>,
) -> Result<Vec<String>, TestRouteDriveError> {
    let (_, _, own) = read(api, spec, route, app).await?;
    let mut removed = Vec::new();
    for rule in own {
        api.delete_rule(&rule.arn).await?;
        removed.push(rule.arn);
    }
    Ok(removed)
}
