//! The test route, planned purely: a listener rule that forwards requests carrying
//! `<header>: <release id>` to the candidate's target group before it takes production traffic
//! (`[router.test_traffic]`, ALB router).
//!
//! Where it goes, from the listener's rules as read:
//! - an app routing through a listener rule at priority P: the test rule copies that rule's
//!   conditions, adds the header, and takes priority P − 1, so that it is evaluated just before
//!   the app's rule and after every rule that came before it (no other app's request can reach
//!   it first); P − 1 taken (or P = 1) is bad input: the spec must name a `priority`;
//! - an app routing through the listener's default action: the header alone, at the free
//!   priority evaluated last (the highest number), so that it only sees requests no other rule
//!   takes, which are the requests the default action gets;
//! - `priority` in the spec: that one, which must be free.
//!
//! Its identity: a rule of the listener with an `http-header` condition on the spec's header
//! whose forward action only lists the app's target groups. That is how a run after a crash, a
//! `promote` or an `abort` finds it without a record of its ARN.

use crate::aws::elbv2::AlbRoute;
use crate::aws::listener_rules::{Condition, ListenerRule};
use crate::error::{Diagnostic, Exit};
use crate::spec::TestTrafficSpec;

/// ALB's highest rule priority, and its limit of condition values per rule (Elastic Load
/// Balancing User Guide, "Listener rules").
pub const MAX_PRIORITY: u32 = 50_000;
pub const MAX_CONDITION_VALUES: usize = 5;

/// The rule to add.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRoute {
    pub listener_arn: String,
    pub priority: u32,
    pub conditions: Vec<Condition>,
    pub target_group: String,
    /// The header and the value that reach the candidate: `X-Release`, `r42`.
    pub header: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestRouteError {
    #[error(
        "[router.test_traffic] priority {priority} is taken on listener {listener} by rule {rule}"
    )]
    PriorityTaken {
        priority: u32,
        listener: String,
        rule: String,
    },
    #[error("the test rule must go just above the app's rule (priority {app_priority}) on listener {listener}, but {}", taken_by.as_ref().map_or_else(|| "there is no priority above 1".to_string(), |rule| format!("priority {} is taken by rule {rule}", app_priority - 1)))]
    NoRoomAbove {
        app_priority: u32,
        listener: String,
        taken_by: Option<String>,
    },
    #[error("listener {listener} has no free rule priority for the test rule")]
    ListenerFull { listener: String },
    #[error("the app's rule {rule} is not on listener {listener}")]
    AppRuleMissing { rule: String, listener: String },
    #[error("the app's rule matches {count} condition values; with the test header that is over ALB's {MAX_CONDITION_VALUES} per rule")]
    TooManyConditions { count: usize },
}

impl Diagnostic for TestRouteError {
    fn exit(&self) -> Exit {
        Exit::Error
    }

    fn hint(&self) -> Option<String> {
        match self {
            TestRouteError::PriorityTaken { .. } | TestRouteError::NoRoomAbove { .. } | TestRouteError::ListenerFull { .. } => Some(
                "give a free priority evaluated before the app's rule as `priority` under [router.test_traffic], or free the one just above the app's rule".into(),
            ),
            TestRouteError::AppRuleMissing { .. } => Some("check router.rule in the spec".into()),
            TestRouteError::TooManyConditions { .. } => Some(
                "route the app through a rule with fewer condition values, or leave test_traffic out".into(),
            ),
        }
    }
}

/// The app's test rules among `rules`: an `http-header` condition on `header` (names compare
/// without case, as ALB does) and a forward action that lists only groups of `app_groups`.
pub fn test_rules<'a>(
    rules: &'a [ListenerRule],
    header: &str,
    app_groups: &[&str],
) -> Vec<&'a ListenerRule> {
    rules
        .iter()
        .filter(|rule| {
            rule.conditions.iter().any(|condition| {
                condition
                    .header()
                    .is_some_and(|(name, _)| name.eq_ignore_ascii_case(header))
            }) && !rule.target_groups.is_empty()
                && rule
                    .target_groups
                    .iter()
                    .all(|group| app_groups.contains(&group.as_str()))
        })
        .collect()
}

/// Plans the candidate's test rule on `listener` (the listener of `route`), `rules` being the
/// listener's rules as read and `replaced` the app's own test rules that go first.
///
/// Errors: the priority cannot be chosen (taken, no room above the app's rule, a full listener),
/// the app's rule is not on the listener, or too many condition values: all before any change.
pub fn plan(
    spec: &TestTrafficSpec,
    listener: &str,
    route: &AlbRoute,
    rules: &[ListenerRule],
    replaced: &[&ListenerRule],
    candidate_group: &str,
    release_id: &str,
) -> Result<TestRoute, TestRouteError> {
    let others: Vec<&ListenerRule> = rules
        .iter()
        .filter(|rule| !replaced.iter().any(|own| own.arn == rule.arn))
        .collect();
    let taken_by = |priority: u32| others.iter().find(|rule| rule.priority == priority);
    let (app_conditions, default_priority) = match route {
        AlbRoute::Rule { rule_arn } => {
            let app_rule = others
                .iter()
                .find(|rule| rule.arn == *rule_arn)
                .ok_or_else(|| TestRouteError::AppRuleMissing {
                    rule: rule_arn.clone(),
                    listener: listener.to_string(),
                })?;
            let above = app_rule.priority.checked_sub(1).filter(|&p| p >= 1);
            let free_above = above.filter(|&p| taken_by(p).is_none());
            let chosen = match (spec.priority, free_above) {
                (Some(_), _) => None,
                (None, Some(priority)) => Some(priority),
                (None, None) => {
                    return Err(TestRouteError::NoRoomAbove {
                        app_priority: app_rule.priority,
                        listener: listener.to_string(),
                        taken_by: above.and_then(taken_by).map(|rule| rule.arn.clone()),
                    })
                }
            };
            (app_rule.conditions.clone(), chosen)
        }
        AlbRoute::DefaultAction { .. } => {
            let last_free = (1..=MAX_PRIORITY).rev().find(|&p| taken_by(p).is_none());
            match (spec.priority, last_free) {
                (None, None) => {
                    return Err(TestRouteError::ListenerFull {
                        listener: listener.to_string(),
                    })
                }
                (_, chosen) => (Vec::new(), chosen),
            }
        }
    };
    let priority = match spec.priority {
        Some(priority) => {
            if let Some(rule) = taken_by(priority) {
                return Err(TestRouteError::PriorityTaken {
                    priority,
                    listener: listener.to_string(),
                    rule: rule.arn.clone(),
                });
            }
            priority
        }
        None => default_priority.expect("chosen above when the spec gives none"),
    };
    let count: usize = app_conditions.iter().map(Condition::value_count).sum();
    if count + 1 > MAX_CONDITION_VALUES {
        return Err(TestRouteError::TooManyConditions { count });
    }
    let mut conditions = app_conditions;
    conditions.push(Condition::http_header(&spec.header, &[release_id]));
    Ok(TestRoute {
        listener_arn: listener.to_string(),
        priority,
        conditions,
        target_group: candidate_group.to_string(),
        header: spec.header.clone(),
        value: release_id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTENER: &str = "arn:listener";
    const SHOP: &str = "arn:tg/shop-r1";
    const CANDIDATE: &str = "arn:tg/shop-r2";

    fn spec(priority: Option<u32>) -> TestTrafficSpec {
        TestTrafficSpec {
            header: "X-Release".into(),
            priority,
        }
    }

    fn rule(arn: &str, priority: u32, conditions: Vec<Condition>, groups: &[&str]) -> ListenerRule {
        ListenerRule {
            arn: arn.into(),
            priority,
            conditions,
            target_groups: groups.iter().map(|group| group.to_string()).collect(),
        }
    }

    fn world() -> Vec<ListenerRule> {
        vec![
            rule(
                "arn:rule/api",
                5,
                vec![Condition::http_header("X-Api", &["1"])],
                &["arn:tg/api"],
            ),
            rule(
                "arn:rule/shop",
                10,
                vec![Condition::http_header("Host-Like", &["shop"])],
                &[SHOP],
            ),
            rule("arn:rule/blog", 20, vec![], &["arn:tg/blog"]),
        ]
    }

    #[test]
    fn an_app_rule_gets_its_test_rule_just_above_with_its_conditions_and_the_header() {
        let rules = world();
        let route = AlbRoute::Rule {
            rule_arn: "arn:rule/shop".into(),
        };
        let planned = plan(&spec(None), LISTENER, &route, &rules, &[], CANDIDATE, "r2").unwrap();
        assert_eq!(planned.priority, 9);
        let described: Vec<String> = planned.conditions.iter().map(Condition::describe).collect();
        assert_eq!(
            described,
            ["http-header Host-Like=shop", "http-header X-Release=r2"]
        );
        assert_eq!(planned.target_group, CANDIDATE);
    }

    #[test]
    fn a_taken_slot_above_or_a_taken_spec_priority_is_bad_input() {
        let mut rules = world();
        rules.push(rule("arn:rule/other", 9, vec![], &["arn:tg/other"]));
        let route = AlbRoute::Rule {
            rule_arn: "arn:rule/shop".into(),
        };
        let error = plan(&spec(None), LISTENER, &route, &rules, &[], CANDIDATE, "r2").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("priority 9 is taken by rule arn:rule/other"),
            "{error}"
        );
        let error = plan(
            &spec(Some(20)),
            LISTENER,
            &route,
            &rules,
            &[],
            CANDIDATE,
            "r2",
        )
        .unwrap_err();
        assert!(
            matches!(error, TestRouteError::PriorityTaken { priority: 20, .. }),
            "{error}"
        );
        let chosen = plan(
            &spec(Some(3)),
            LISTENER,
            &route,
            &rules,
            &[],
            CANDIDATE,
            "r2",
        )
        .unwrap();
        assert_eq!(chosen.priority, 3);
        // The app's own old test rule at 9 is replaced, so its slot is free again.
        let own = rule(
            "arn:rule/test",
            9,
            vec![Condition::http_header("x-release", &["r1"])],
            &[SHOP],
        );
        let mut with_own = world();
        with_own.push(own.clone());
        let found = test_rules(&with_own, "X-Release", &[SHOP, CANDIDATE]);
        assert_eq!(found, [&own]);
        assert_eq!(
            plan(
                &spec(None),
                LISTENER,
                &route,
                &with_own,
                &found,
                CANDIDATE,
                "r2"
            )
            .unwrap()
            .priority,
            9
        );
        // Priority 1 has nothing above it.
        let first = vec![rule("arn:rule/shop", 1, vec![], &[SHOP])];
        assert!(matches!(
            plan(&spec(None), LISTENER, &route, &first, &[], CANDIDATE, "r2"),
            Err(TestRouteError::NoRoomAbove { taken_by: None, .. })
        ));
    }

    #[test]
    fn a_default_action_app_tests_at_the_last_free_priority_with_the_header_alone() {
        let mut rules = world();
        rules.push(rule("arn:rule/last", MAX_PRIORITY, vec![], &["arn:tg/x"]));
        let route = AlbRoute::DefaultAction {
            listener_arn: LISTENER.into(),
        };
        let planned = plan(&spec(None), LISTENER, &route, &rules, &[], CANDIDATE, "r7").unwrap();
        assert_eq!(planned.priority, MAX_PRIORITY - 1);
        assert_eq!(planned.conditions.len(), 1);
        assert_eq!(planned.value, "r7");
    }

    #[test]
    fn another_apps_header_rule_is_not_ours() {
        let rules = vec![
            rule(
                "arn:rule/theirs",
                3,
                vec![Condition::http_header("X-Release", &["r9"])],
                &["arn:tg/api-r9"],
            ),
            rule(
                "arn:rule/mixed",
                4,
                vec![Condition::http_header("X-Release", &["r1"])],
                &[SHOP, "arn:tg/api"],
            ),
        ];
        assert!(test_rules(&rules, "X-Release", &[SHOP, CANDIDATE]).is_empty());
    }

    #[test]
    fn five_condition_values_leave_no_room_for_the_header() {
        let crowded = vec![rule(
            "arn:rule/shop",
            10,
            vec![
                Condition::http_header("A", &["1", "2", "3"]),
                Condition::http_header("B", &["1", "2"]),
            ],
            &[SHOP],
        )];
        let route = AlbRoute::Rule {
            rule_arn: "arn:rule/shop".into(),
        };
        assert_eq!(
            plan(
                &spec(None),
                LISTENER,
                &route,
                &crowded,
                &[],
                CANDIDATE,
                "r2"
            ),
            Err(TestRouteError::TooManyConditions { count: 5 })
        );
    }
}
