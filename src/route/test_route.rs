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
//! Its identity: a rule of the listener with an `http-header` condition on the spec's header,
//! tagged `cutover:app = <app>` (and `cutover:test-route = <release stack>`) when it was made.
//! That is how a run after a crash, a `promote` or an `abort` finds it, even when the release's
//! stack is gone. (A rule without tags whose forward action lists only the app's target groups is
//! taken as the app's too.)

use crate::aws::elbv2::AlbRoute;
use crate::aws::listener_rules::{Condition, ListenerRule};
use crate::error::{Diagnostic, Exit};
use crate::spec::TestTrafficSpec;

/// The tags that mark a test rule as the app's, and for which release stack.
pub const APP_TAG: &str = "cutover:app";
pub const STACK_TAG: &str = "cutover:test-route";

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
    #[error("listener {listener} has a rule at the last priority ({MAX_PRIORITY}): no place after every other rule for the test rule")]
    ListenerFull { listener: String },
    #[error("the app's rule {rule} is not on listener {listener}")]
    AppRuleMissing { rule: String, listener: String },
    #[error("the app's rule matches {count} condition values; with the test header that is over ALB's {MAX_CONDITION_VALUES} per rule")]
    TooManyConditions { count: usize },
    #[error("[router.test_traffic] priority {priority} is not just above the app's rule (priority {app_priority}): {why}")]
    NotJustAbove {
        priority: u32,
        app_priority: u32,
        why: String,
    },
    #[error("[router.test_traffic] priority {priority} would be evaluated before rule {rule} (priority {before}): the test rule must come after every other rule of a default-action app")]
    NotLast {
        priority: u32,
        rule: String,
        before: u32,
    },
    #[error("the app's rule already matches the header {header}: the test header would make it match nothing")]
    HeaderInUse { header: String },
}

impl Diagnostic for TestRouteError {
    fn exit(&self) -> Exit {
        Exit::Error
    }

    fn hint(&self) -> Option<String> {
        match self {
            // The test rule sees exactly the app's requests only with no rule between the two,
            // so the one place is the priority just above the app's rule.
            TestRouteError::NoRoomAbove {
                app_priority,
                taken_by: Some(rule),
                ..
            } => Some(format!(
                "move rule {rule} off priority {}, or move the app's rule to a priority with a free one just above it",
                app_priority - 1
            )),
            TestRouteError::NoRoomAbove { taken_by: None, .. } => Some(
                "move the app's rule to a priority above 1, so the test rule can go just above it".into(),
            ),
            TestRouteError::PriorityTaken { .. } => Some(
                "leave `priority` out to let cutover place the rule just above the app's, or give a free one with no other rule between it and the app's".into(),
            ),
            TestRouteError::ListenerFull { .. } => Some(
                "free the listener's last priority (50000), or route the app through a rule of its own (`router.rule`)".into(),
            ),
            TestRouteError::AppRuleMissing { .. } => Some("check router.rule in the spec".into()),
            TestRouteError::NotJustAbove { .. } | TestRouteError::NotLast { .. } => Some(
                "leave `priority` out to let cutover place the rule, or give one with no other rule between it and the app's".into(),
            ),
            TestRouteError::HeaderInUse { .. } => Some(
                "give [router.test_traffic] a header the app's rule does not match on".into(),
            ),
            TestRouteError::TooManyConditions { .. } => Some(
                "route the app through a rule with fewer condition values, or leave test_traffic out".into(),
            ),
        }
    }
}

/// The app's test rules among `rules`: an `http-header` condition on `header` (names compare
/// without case, as ALB does), and either the `cutover:app` tag naming `app`, or no such tag and a
/// forward action that lists only groups of `app_groups`.
pub fn test_rules<'a>(
    rules: &'a [ListenerRule],
    header: &str,
    app: &str,
    app_groups: &[&str],
) -> Vec<&'a ListenerRule> {
    rules
        .iter()
        .filter(|rule| {
            let has_header = rule.conditions.iter().any(|condition| {
                condition
                    .header()
                    .is_some_and(|(name, _)| name.eq_ignore_ascii_case(header))
            });
            let ours = match rule.tag(APP_TAG) {
                Some(owner) => owner == app,
                None => {
                    !rule.target_groups.is_empty()
                        && rule
                            .target_groups
                            .iter()
                            .all(|group| app_groups.contains(&group.as_str()))
                }
            };
            has_header && ours
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
    let (app_conditions, priority) = match route {
        AlbRoute::Rule { rule_arn } => {
            let app_rule = others
                .iter()
                .find(|rule| rule.arn == *rule_arn)
                .ok_or_else(|| TestRouteError::AppRuleMissing {
                    rule: rule_arn.clone(),
                    listener: listener.to_string(),
                })?;
            let app_priority = app_rule.priority;
            let priority = match spec.priority {
                // Just above: lower than the app's rule, with no other rule in between (one there
                // would lose the header-carrying requests it takes today).
                Some(priority) => {
                    if let Some(rule) = taken_by(priority) {
                        return Err(TestRouteError::PriorityTaken {
                            priority,
                            listener: listener.to_string(),
                            rule: rule.arn.clone(),
                        });
                    }
                    if priority >= app_priority {
                        return Err(TestRouteError::NotJustAbove {
                            priority,
                            app_priority,
                            why: "the app's rule would be evaluated first and take every request"
                                .into(),
                        });
                    }
                    if let Some(between) = others
                        .iter()
                        .find(|rule| rule.priority > priority && rule.priority < app_priority)
                    {
                        return Err(TestRouteError::NotJustAbove {
                            priority,
                            app_priority,
                            why: format!(
                                "rule {} (priority {}) lies between them",
                                between.arn, between.priority
                            ),
                        });
                    }
                    priority
                }
                None => {
                    let above = app_priority.checked_sub(1).filter(|&p| p >= 1);
                    match above.filter(|&p| taken_by(p).is_none()) {
                        Some(priority) => priority,
                        None => {
                            return Err(TestRouteError::NoRoomAbove {
                                app_priority,
                                listener: listener.to_string(),
                                taken_by: above.and_then(taken_by).map(|rule| rule.arn.clone()),
                            })
                        }
                    }
                }
            };
            if let Some((name, _)) = app_rule
                .conditions
                .iter()
                .filter_map(Condition::header)
                .find(|(name, _)| name.eq_ignore_ascii_case(&spec.header))
            {
                return Err(TestRouteError::HeaderInUse {
                    header: name.to_string(),
                });
            }
            (app_rule.conditions.clone(), priority)
        }
        AlbRoute::DefaultAction { .. } => {
            // After every other rule: the test rule sees only what would reach the default action.
            let last = others.iter().max_by_key(|rule| rule.priority);
            let priority = match (spec.priority, last) {
                (Some(priority), Some(last)) if priority <= last.priority => {
                    return Err(TestRouteError::NotLast {
                        priority,
                        rule: last.arn.clone(),
                        before: last.priority,
                    })
                }
                (Some(priority), _) => priority,
                (None, None) => MAX_PRIORITY,
                (None, Some(last)) if last.priority < MAX_PRIORITY => MAX_PRIORITY,
                (None, Some(_)) => {
                    return Err(TestRouteError::ListenerFull {
                        listener: listener.to_string(),
                    })
                }
            };
            (Vec::new(), priority)
        }
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
            tags: Vec::new(),
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

    fn shop_route() -> AlbRoute {
        AlbRoute::Rule {
            rule_arn: "arn:rule/shop".into(),
        }
    }

    #[test]
    fn an_app_rule_gets_its_test_rule_just_above_with_its_conditions_and_the_header() {
        let rules = world();
        let planned = plan(
            &spec(None),
            LISTENER,
            &shop_route(),
            &rules,
            &[],
            CANDIDATE,
            "r2",
        )
        .unwrap();
        assert_eq!(planned.priority, 9);
        let described: Vec<String> = planned.conditions.iter().map(Condition::describe).collect();
        assert_eq!(
            described,
            ["http-header Host-Like=shop", "http-header X-Release=r2"]
        );
        assert_eq!(planned.target_group, CANDIDATE);
    }

    #[test]
    fn a_spec_priority_must_be_free_and_just_above_with_nothing_between() {
        let rules = world();
        let route = shop_route();
        let chosen = plan(
            &spec(Some(7)),
            LISTENER,
            &route,
            &rules,
            &[],
            CANDIDATE,
            "r2",
        )
        .unwrap();
        assert_eq!(chosen.priority, 7);
        // Taken, below the app's rule, or with api's rule (5) between it and the app's (10).
        assert!(matches!(
            plan(
                &spec(Some(5)),
                LISTENER,
                &route,
                &rules,
                &[],
                CANDIDATE,
                "r2"
            ),
            Err(TestRouteError::PriorityTaken { priority: 5, .. })
        ));
        let below = plan(
            &spec(Some(25)),
            LISTENER,
            &route,
            &rules,
            &[],
            CANDIDATE,
            "r2",
        )
        .unwrap_err();
        assert!(
            below
                .to_string()
                .contains("the app's rule would be evaluated first"),
            "{below}"
        );
        let across = plan(
            &spec(Some(3)),
            LISTENER,
            &route,
            &rules,
            &[],
            CANDIDATE,
            "r2",
        )
        .unwrap_err();
        assert!(
            across
                .to_string()
                .contains("rule arn:rule/api (priority 5) lies between them"),
            "{across}"
        );
    }

    #[test]
    fn a_taken_slot_above_is_bad_input_and_an_own_old_test_rule_is_replaced() {
        let mut rules = world();
        rules.push(rule("arn:rule/other", 9, vec![], &["arn:tg/other"]));
        let error = plan(
            &spec(None),
            LISTENER,
            &shop_route(),
            &rules,
            &[],
            CANDIDATE,
            "r2",
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("priority 9 is taken by rule arn:rule/other"),
            "{error}"
        );
        // The app's own old test rule at 9 is replaced, so its slot is free again.
        let mut own = rule(
            "arn:rule/test",
            9,
            vec![Condition::http_header("x-release", &["r1"])],
            &[SHOP],
        );
        let mut with_own = world();
        with_own.push(own.clone());
        let found = test_rules(&with_own, "X-Release", "shop", &[SHOP, CANDIDATE]);
        assert_eq!(found, [&own]);
        assert_eq!(
            plan(
                &spec(None),
                LISTENER,
                &shop_route(),
                &with_own,
                &found,
                CANDIDATE,
                "r2"
            )
            .unwrap()
            .priority,
            9
        );
        // Tagged as the app's, it is found even when its release (and target group) is gone.
        own.tags = vec![
            (APP_TAG.into(), "shop".into()),
            (STACK_TAG.into(), "shop-r1".into()),
        ];
        own.target_groups = vec!["arn:tg/deleted".into()];
        assert_eq!(
            test_rules(
                std::slice::from_ref(&own),
                "X-Release",
                "shop",
                &[CANDIDATE]
            ),
            [&own]
        );
        assert!(test_rules(std::slice::from_ref(&own), "X-Release", "web", &[SHOP]).is_empty());
        // Priority 1 has nothing above it.
        let first = vec![rule("arn:rule/shop", 1, vec![], &[SHOP])];
        assert!(matches!(
            plan(
                &spec(None),
                LISTENER,
                &shop_route(),
                &first,
                &[],
                CANDIDATE,
                "r2"
            ),
            Err(TestRouteError::NoRoomAbove { taken_by: None, .. })
        ));
    }

    #[test]
    fn a_default_action_app_tests_after_every_other_rule() {
        let route = AlbRoute::DefaultAction {
            listener_arn: LISTENER.into(),
        };
        let planned = plan(
            &spec(None),
            LISTENER,
            &route,
            &world(),
            &[],
            CANDIDATE,
            "r7",
        )
        .unwrap();
        assert_eq!(planned.priority, MAX_PRIORITY);
        assert_eq!(planned.conditions.len(), 1);
        assert_eq!(planned.value, "r7");
        let mut full = world();
        full.push(rule("arn:rule/last", MAX_PRIORITY, vec![], &["arn:tg/x"]));
        assert!(matches!(
            plan(&spec(None), LISTENER, &route, &full, &[], CANDIDATE, "r7"),
            Err(TestRouteError::ListenerFull { .. })
        ));
        let early = plan(
            &spec(Some(15)),
            LISTENER,
            &route,
            &world(),
            &[],
            CANDIDATE,
            "r7",
        )
        .unwrap_err();
        assert!(
            matches!(early, TestRouteError::NotLast { before: 20, .. }),
            "{early}"
        );
        assert_eq!(
            plan(
                &spec(Some(21)),
                LISTENER,
                &route,
                &world(),
                &[],
                CANDIDATE,
                "r7"
            )
            .unwrap()
            .priority,
            21
        );
    }

    #[test]
    fn another_apps_header_rule_is_not_ours() {
        let mut tagged = rule(
            "arn:rule/tagged",
            2,
            vec![Condition::http_header("X-Release", &["r3"])],
            &[SHOP],
        );
        tagged.tags = vec![(APP_TAG.into(), "api".into())];
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
            tagged,
        ];
        assert!(test_rules(&rules, "X-Release", "shop", &[SHOP, CANDIDATE]).is_empty());
    }

    #[test]
    fn an_app_rule_matching_the_header_already_or_with_five_values_is_bad_input() {
        let same_header = vec![rule(
            "arn:rule/shop",
            10,
            vec![Condition::http_header("x-release", &["stable"])],
            &[SHOP],
        )];
        assert!(matches!(
            plan(
                &spec(None),
                LISTENER,
                &shop_route(),
                &same_header,
                &[],
                CANDIDATE,
                "r2"
            ),
            Err(TestRouteError::HeaderInUse { .. })
        ));
        let crowded = vec![rule(
            "arn:rule/shop",
            10,
            vec![
                Condition::http_header("A", &["1", "2", "3"]),
                Condition::http_header("B", &["1", "2"]),
            ],
            &[SHOP],
        )];
        assert_eq!(
            plan(
                &spec(None),
                LISTENER,
                &shop_route(),
                &crowded,
                &[],
                CANDIDATE,
                "r2"
            ),
            Err(TestRouteError::TooManyConditions { count: 5 })
        );
    }
}
