//! The view models (history and events to timelines, bars and report steps) and the SVG they draw
//! (sizes, order, labels, colours), without AWS.

use std::time::{Duration, SystemTime};

use super::model::{
    self, app_view, report_steps, resource_bars, timeline, Outcome, Place, ReleaseView,
};
use super::{page, svg};
use crate::aws::cloudformation::{StackEvent, StackFacts};
use crate::cutover::CutoverEvent;
use crate::gates::{GateReport, GateResult};
use crate::output::journal::JournalEntry;
use crate::release::history::{Entry, State};
use crate::release::live::{AppReleases, ObservedRelease};
use crate::release::marks::{Ending, GateCheck, TrafficStep};
use crate::release::{ReleaseId, ReleaseTags, Role};
use crate::router::Weights;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn text(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

fn entry(stack: &str, created: u64, state: State) -> Entry {
    Entry {
        release: stack.trim_start_matches("web-").to_string(),
        stack: stack.to_string(),
        created: humantime::format_rfc3339_seconds(at(created)).to_string(),
        state,
        ending: None,
        reason: None,
        ended_at: None,
        took_traffic_at: None,
        lost_traffic_at: None,
        retired_at: None,
        retained: Vec::new(),
        template_sha256: "ab".repeat(32),
        deployed_by: None,
        weight: None,
        steps: Vec::new(),
        gates: None,
    }
}

fn steps(list: &[(u64, u8)]) -> Vec<TrafficStep> {
    list.iter()
        .map(|&(secs, weight)| TrafficStep {
            at: text(at(secs)),
            weight,
        })
        .collect()
}

/// r1 live since its deploy; r2 canaried to 10 %, took everything, was rolled back from; r0 retired
/// long ago, recorded before steps were (only when it took and lost the traffic).
fn history() -> Vec<Entry> {
    let mut r2 = entry("web-r2", 100, State::Failed);
    r2.steps = steps(&[(110, 10), (140, 100), (200, 0)]);
    r2.ending = Some(Ending::RolledBackFrom);
    r2.ended_at = Some(humantime::format_rfc3339_seconds(at(200)).to_string());
    let mut r1 = entry("web-r1", 50, State::Live);
    // The same second as r2's creation: r1 lost its traffic only later.
    r1.steps = steps(&[(60, 100), (110, 90), (140, 0), (200, 100)]);
    let mut r0 = entry("web-r0", 0, State::Retired);
    r0.took_traffic_at = Some(humantime::format_rfc3339_seconds(at(5)).to_string());
    r0.lost_traffic_at = Some(humantime::format_rfc3339_seconds(at(60)).to_string());
    r0.retired_at = Some(humantime::format_rfc3339_seconds(at(300)).to_string());
    // Newest first, as history gives them.
    vec![r2, r1, r0]
}

fn said(events: &[model::TimelineEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| format!("{} {}", event.stack, event.happening.describe()))
        .collect()
}

#[test]
fn the_timeline_is_in_time_order_with_older_releases_first_within_a_second() {
    let events = timeline(&history());
    assert_eq!(
        said(&events),
        [
            "web-r0 created",
            "web-r0 took all the traffic (100%)",
            "web-r1 created",
            "web-r0 lost its traffic (0%)",
            "web-r1 took all the traffic (100%)",
            "web-r2 created",
            "web-r1 90% of the traffic",
            "web-r2 10% of the traffic",
            "web-r1 lost its traffic (0%)",
            "web-r2 took all the traffic (100%)",
            "web-r1 took all the traffic (100%)",
            "web-r2 lost its traffic (0%)",
            "web-r2 rolled back from",
            "web-r0 retired (stack deleted)",
        ]
    );
    assert!(events.windows(2).all(|pair| pair[0]
        .at
        .duration_since(pair[1].at)
        .unwrap_or_default()
        < Duration::from_secs(1)));
    assert!(events[12].happening.is_failure());
}

#[test]
fn a_failed_creation_and_an_unparseable_time_are_handled() {
    let mut failed = entry("web-r3", 10, State::Deleted);
    failed.ending = Some(Ending::FailedToCreate);
    failed.retired_at = Some(humantime::format_rfc3339_seconds(at(20)).to_string());
    failed.took_traffic_at = Some("not a time".to_string());
    let events = timeline(&[failed]);
    assert_eq!(
        said(&events),
        [
            "web-r3 created",
            "web-r3 failed to create",
            "web-r3 stack deleted"
        ]
    );
}

fn stack_event(
    logical: &str,
    kind: &str,
    status: &str,
    secs: u64,
    reason: Option<&str>,
) -> StackEvent {
    StackEvent {
        id: format!("{logical}-{status}-{secs}"),
        timestamp: Some(at(secs)),
        logical_id: logical.to_string(),
        physical_id: None,
        resource_type: kind.to_string(),
        status: status.to_string(),
        reason: reason.map(str::to_string),
    }
}

#[test]
fn stack_events_become_one_bar_per_resource_and_operation_in_start_order() {
    // Newest first, as CloudFormation lists them.
    let mut events = vec![
        stack_event(
            "web-r2",
            "AWS::CloudFormation::Stack",
            "CREATE_IN_PROGRESS",
            0,
            Some("User Initiated"),
        ),
        stack_event("Vpc", "AWS::EC2::VPC", "CREATE_IN_PROGRESS", 1, None),
        stack_event(
            "Vpc",
            "AWS::EC2::VPC",
            "CREATE_IN_PROGRESS",
            2,
            Some("Resource creation Initiated"),
        ),
        stack_event(
            "Group",
            "AWS::ElasticLoadBalancingV2::TargetGroup",
            "CREATE_IN_PROGRESS",
            3,
            None,
        ),
        stack_event("Vpc", "AWS::EC2::VPC", "CREATE_COMPLETE", 9, None),
        stack_event(
            "Group",
            "AWS::ElasticLoadBalancingV2::TargetGroup",
            "CREATE_FAILED",
            12,
            Some("quota exceeded"),
        ),
        stack_event("Logs", "AWS::S3::Bucket", "DELETE_SKIPPED", 13, None),
        stack_event(
            "Fleet",
            "AWS::AutoScaling::AutoScalingGroup",
            "CREATE_IN_PROGRESS",
            14,
            None,
        ),
    ];
    events.reverse();
    events.push(StackEvent {
        timestamp: None,
        ..stack_event("Ghost", "AWS::SNS::Topic", "CREATE_COMPLETE", 0, None)
    });
    let bars = resource_bars(&events);
    let rows: Vec<(&str, &str, Outcome, u64, Option<u64>)> = bars
        .iter()
        .map(|bar| {
            let secs = |time: SystemTime| time.duration_since(at(0)).unwrap().as_secs();
            (
                bar.logical_id.as_str(),
                bar.operation.as_str(),
                bar.outcome,
                secs(bar.start),
                bar.end.map(secs),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("web-r2", "CREATE", Outcome::InProgress, 0, None),
            ("Vpc", "CREATE", Outcome::Complete, 1, Some(9)),
            ("Group", "CREATE", Outcome::Failed, 3, Some(12)),
            ("Logs", "DELETE", Outcome::Skipped, 13, Some(13)),
            ("Fleet", "CREATE", Outcome::InProgress, 14, None),
        ]
    );
    assert_eq!(bars[2].reason.as_deref(), Some("quota exceeded"));
    assert_eq!(bars[1].duration(at(100)), Duration::from_secs(8));
    assert_eq!(
        bars[4].duration(at(20)),
        Duration::from_secs(6),
        "runs to now"
    );
}

fn weights(pairs: &[(&str, u8)]) -> Weights {
    let mut weights = Weights::new();
    for (stack, weight) in pairs {
        weights.set(stack, *weight);
    }
    weights
}

#[test]
fn report_steps_keep_traffic_and_verdicts_and_merge_repeated_checks() {
    let passed = GateReport::new(vec![GateResult::pass("target_health")]);
    let journal: Vec<JournalEntry> = [
        CutoverEvent::WeightsSet {
            weights: weights(&[("web-r1", 90), ("web-r2", 10)]),
            step: crate::cutover::StepRef {
                index: 0,
                count: 2,
                weight: 10,
            },
        },
        CutoverEvent::GatesChecked {
            release: "web-r2".into(),
            passed: true,
            report: passed.clone(),
        },
        CutoverEvent::GatesChecked {
            release: "web-r2".into(),
            passed: true,
            report: passed.clone(),
        },
        CutoverEvent::GatesChecked {
            release: "web-r2".into(),
            passed: true,
            report: passed,
        },
        CutoverEvent::Retrying {
            action: "describe rules".into(),
            attempt: 1,
            delay: Duration::from_secs(1),
            error: "throttled".into(),
        },
        CutoverEvent::Completed {
            weights: weights(&[("web-r1", 0), ("web-r2", 100)]),
        },
    ]
    .into_iter()
    .enumerate()
    .map(|(index, event)| JournalEntry {
        at: at(index as u64),
        event,
    })
    .collect();
    let steps = report_steps(&journal, "web-r2");
    let kinds: Vec<&str> = steps.iter().map(|step| step.kind).collect();
    assert_eq!(kinds, ["weights", "gates", "completed"]);
    assert_eq!(steps[0].candidate_weight, Some(10));
    assert_eq!(steps[1].passed, Some(true));
    assert!(
        steps[1]
            .text
            .ends_with(&format!("(checked 3 times until {})", svg::clock(at(3)))),
        "{}",
        steps[1].text
    );
    assert_eq!(steps[2].candidate_weight, Some(100));
}

fn release(stack: &str, created: u64, role: Role, weight: Option<u8>) -> ObservedRelease {
    let app = "web";
    let label = stack.trim_start_matches("web-");
    ObservedRelease {
        stack: StackFacts {
            name: stack.to_string(),
            id: format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{stack}/1"),
            status: "CREATE_COMPLETE".to_string(),
            status_reason: None,
            created: Some(at(created)),
            tags: Vec::new(),
            parameters: Vec::new(),
            outputs: Vec::new(),
            termination_protection: false,
            exports: Vec::new(),
        },
        tags: ReleaseTags::new_candidate(app, ReleaseId::new(label).unwrap(), at(created), "ab"),
        weight,
        routed: weight.is_some(),
        role,
        age: Duration::from_secs(60),
    }
}

#[test]
fn the_app_view_lists_releases_oldest_first_and_the_newest_gate_check() {
    let app = AppReleases {
        app: "web".into(),
        releases: vec![
            release("web-r1", 50, Role::Live, Some(90)),
            release("web-r2", 100, Role::Candidate, Some(10)),
        ],
        weights: None,
        router: None,
        router_error: None,
        baseline: None,
        other_apps: Vec::new(),
        other_baselines: Vec::new(),
        stickiness: None,
        marks: Default::default(),
    };
    let mut entries = history();
    entries[1].gates = Some(GateCheck {
        at: humantime::format_rfc3339_seconds(at(60)).to_string(),
        passed: true,
        summary: "all gates passed".into(),
    });
    entries[0].gates = Some(GateCheck {
        at: humantime::format_rfc3339_seconds(at(150)).to_string(),
        passed: false,
        summary: "alarm web-5xx is in ALARM".into(),
    });
    let place = Place {
        account: Some("123456789012".into()),
        region: Some("eu-west-1".into()),
    };
    let view = app_view(&app, &entries, place, Some("deploy web by ci".into()));
    let roles: Vec<(&str, &str, Option<u8>)> = view
        .releases
        .iter()
        .map(|release| (release.stack.as_str(), release.role, release.weight))
        .collect();
    assert_eq!(
        roles,
        [
            ("web-r1", "live", Some(90)),
            ("web-r2", "candidate", Some(10))
        ]
    );
    let gates = view.gates.as_ref().unwrap();
    assert_eq!((gates.stack.as_str(), gates.passed), ("web-r2", false));
    assert_eq!(view.lock_holder.as_deref(), Some("deploy web by ci"));
    assert_eq!(view.timeline.len(), 14);
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["account"], "123456789012");
    assert_eq!(json["timeline"][0]["kind"], "created");
}

fn views(pairs: &[(&str, &'static str, Option<u8>)]) -> Vec<ReleaseView> {
    pairs
        .iter()
        .map(|&(stack, role, weight)| ReleaseView {
            stack: stack.to_string(),
            role,
            weight,
            status: "CREATE_COMPLETE".into(),
            created: Some(at(0)),
        })
        .collect()
}

/// The value of `attribute` on every element that has it, in document order.
fn attributes(svg: &str, attribute: &str) -> Vec<String> {
    let needle = format!(" {attribute}=\"");
    svg.match_indices(&needle)
        .map(|(index, _)| {
            let rest = &svg[index + needle.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

#[test]
fn the_traffic_bar_is_as_wide_as_each_share_in_order_with_labels_that_fit() {
    let markup = svg::weights_bar(&views(&[
        ("web-r1", "live", Some(90)),
        ("web-r2", "candidate", Some(10)),
        ("web-r0", "retained", Some(0)),
    ]))
    .into_string();
    assert!(markup.starts_with("<svg class=\"weights\""), "{markup}");
    assert_eq!(
        attributes(&markup, "data-stack"),
        ["web-r1", "web-r2"],
        "no segment at 0 %"
    );
    assert_eq!(
        attributes(&markup, "width")[..4],
        ["480", "480", "432", "48"]
    );
    assert_eq!(attributes(&markup, "x"), ["0", "0", "6", "432"]);
    assert!(markup.contains(">web-r1 90%</text>"), "{markup}");
    // 48 px cannot hold "web-r2 10%": the label is in the title (and the table) only.
    assert!(!markup.contains(">web-r2 10%</text>"), "{markup}");
    assert!(
        markup.contains("web-r2 (candidate): 10% of the traffic"),
        "{markup}"
    );
    assert!(markup.contains("aria-label=\"traffic: web-r1 90% (live), web-r2 10% (candidate)\""));
}

#[test]
fn unknown_weights_say_so_and_names_are_escaped() {
    let markup = svg::weights_bar(&views(&[("web-<r1>", "live", None)])).into_string();
    assert!(
        markup.contains("traffic unknown: the router could not be read"),
        "{markup}"
    );
    let markup = svg::weights_bar(&views(&[("a<b>&\"c", "live", Some(100))])).into_string();
    assert!(!markup.contains("a<b>"), "{markup}");
    assert!(markup.contains("a&lt;b&gt;&amp;&quot;c"), "{markup}");
}

#[test]
fn the_timeline_has_a_lane_per_release_and_its_moments_in_order() {
    let events = timeline(&history());
    let markup = svg::timeline(&events, at(400)).into_string();
    let height = svg::TIMELINE_AXIS + 3.0 * svg::TIMELINE_LANE + 8.0;
    assert!(markup.contains(&format!("height=\"{height}\"")), "{markup}");
    assert_eq!(
        attributes(&markup, "data-stack"),
        ["web-r0", "web-r1", "web-r2"]
    );
    // Within each lane the moments come in time order.
    let orders: Vec<usize> = attributes(&markup, "data-order")
        .iter()
        .map(|order| order.parse().unwrap())
        .collect();
    assert_eq!(orders.len(), events.len());
    let lane_of = |order: usize| events[order].stack.clone();
    for pair in orders.windows(2) {
        if lane_of(pair[0]) == lane_of(pair[1]) {
            assert!(pair[0] < pair[1], "{orders:?}");
        }
    }
    let kinds = attributes(&markup, "data-kind");
    assert_eq!(kinds.iter().filter(|kind| *kind == "failure").count(), 1);
    assert_eq!(kinds.iter().filter(|kind| *kind == "retired").count(), 1);
    assert!(
        markup.contains(&format!("stroke=\"{}\"", svg::VERMILLION)),
        "the failure's cross"
    );
    assert!(markup.contains("web-r2 rolled back from"), "its title");
    // Every moment has a title, with its time.
    assert_eq!(markup.matches("<g class=\"moment\"").count(), events.len());
    assert!(markup.contains(&format!("{} UTC: web-r0 created", svg::clock(at(0)))));
}

#[test]
fn crowded_step_labels_are_left_to_the_titles_and_the_last_is_kept() {
    let mut r1 = entry("web-r1", 0, State::Live);
    r1.steps = steps(&[(1000, 10), (1001, 50), (1002, 100)]);
    let markup = svg::timeline(&timeline(&[r1]), at(1002)).into_string();
    // Three steps within 2 s of a 1002 s axis: one label, the last one.
    assert!(markup.contains(">100%</text>"), "{markup}");
    assert!(!markup.contains(">10%</text>"), "{markup}");
    assert!(!markup.contains(">50%</text>"), "{markup}");
    assert_eq!(
        markup.matches("<circle").count(),
        3,
        "every step keeps its dot"
    );
}

#[test]
fn the_resource_chart_has_a_row_per_bar_failures_hatched_and_in_progress_to_now() {
    let bars = resource_bars(&[
        stack_event(
            "Fleet",
            "AWS::AutoScaling::AutoScalingGroup",
            "CREATE_IN_PROGRESS",
            5,
            None,
        ),
        stack_event(
            "Group",
            "AWS::ElasticLoadBalancingV2::TargetGroup",
            "CREATE_FAILED",
            4,
            Some("quota"),
        ),
        stack_event(
            "Group",
            "AWS::ElasticLoadBalancingV2::TargetGroup",
            "CREATE_IN_PROGRESS",
            2,
            None,
        ),
        stack_event("Vpc", "AWS::EC2::VPC", "CREATE_COMPLETE", 3, None),
        stack_event("Vpc", "AWS::EC2::VPC", "CREATE_IN_PROGRESS", 0, None),
    ]);
    let markup = svg::resources(&bars, at(10)).into_string();
    let height = svg::RESOURCES_TOP + 3.0 * svg::RESOURCES_ROW + 8.0;
    assert!(markup.contains(&format!("height=\"{height}\"")), "{markup}");
    assert_eq!(
        attributes(&markup, "data-logical-id"),
        ["Vpc", "Group", "Fleet"]
    );
    assert_eq!(
        attributes(&markup, "data-outcome"),
        ["complete", "failed", "in_progress"]
    );
    assert!(markup.contains("fill=\"url(#resources-hatch)\""));
    assert!(markup.contains("✕ FAILED 2s"), "{markup}");
    assert!(
        markup.contains(">5s…</text>"),
        "in progress until now: {markup}"
    );
    assert!(
        markup.contains(">Group (ElasticLoadBalancingV2::TargetGroup) create<"),
        "{markup}"
    );
    assert!(
        markup.contains(" — quota"),
        "the failure's reason in its title"
    );
    // The plot spans the first start to now: the in-progress bar ends at the right edge.
    let widths = attributes(&markup, "width");
    assert!(
        widths.contains(&format!("{}", svg::RESOURCES_PLOT / 2.0)),
        "Fleet from 5 s to 10 s: {widths:?}"
    );
}

#[test]
fn empty_charts_say_so_in_words() {
    assert!(svg::timeline(&[], at(0))
        .into_string()
        .contains("No releases recorded."));
    assert!(svg::resources(&[], at(0))
        .into_string()
        .contains("No stack events."));
    assert!(svg::weight_over_time(&[], at(0))
        .into_string()
        .contains("No traffic step."));
}

#[test]
fn the_weight_chart_steps_through_each_weight() {
    let markup =
        svg::weight_over_time(&[(at(0), 0), (at(10), 10), (at(20), 100)], at(20)).into_string();
    assert_eq!(attributes(&markup, "data-weight"), ["0", "10", "100"]);
    let path = &attributes(&markup, "d")[0];
    assert!(path.starts_with("M48 "), "{path}");
    assert_eq!(path.matches(" H").count(), 3, "{path}");
}

/// WCAG 2 relative luminance and contrast ratio (<https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio>).
fn contrast(a: &str, b: &str) -> f64 {
    let luminance = |hex: &str| {
        let hex = hex.trim_start_matches('#');
        let hex = if hex.len() == 3 {
            hex.chars().flat_map(|c| [c, c]).collect::<String>()
        } else {
            hex.to_string()
        };
        let channel = |i: usize| {
            let value = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
            if value <= 0.03928 {
                value / 12.92
            } else {
                ((value + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
    };
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[test]
fn role_colours_are_distinct_and_their_labels_readable() {
    let roles = [
        "live",
        "candidate",
        "retained",
        "failed",
        "retiring",
        "baseline",
    ];
    let fills: Vec<&str> = roles.iter().map(|role| svg::role_colours(role).0).collect();
    for (i, a) in fills.iter().enumerate() {
        for b in &fills[i + 1..] {
            assert_ne!(a, b);
        }
    }
    for role in roles {
        let (fill, ink) = svg::role_colours(role);
        assert!(
            contrast(fill, ink) >= 4.5,
            "{role}: {fill} on {ink} is {:.2}:1",
            contrast(fill, ink)
        );
    }
}

#[test]
fn live_parts_carry_each_apps_card_and_timeline_and_the_read_time() {
    let view = model::DashboardView {
        read_at: at(7),
        apps: vec![model::unreadable_app(
            "web",
            Place::default(),
            "no route to host".into(),
        )],
    };
    let parts = page::live_parts(&view);
    assert!(parts["app-web"]
        .as_str()
        .unwrap()
        .contains("could not be read: no route to host"));
    assert!(parts.contains_key("timeline-web"));
    let millis = at(7)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert_eq!(parts["_read_at_ms"], millis);
    let html = page::overview(&view);
    assert!(
        html.contains(&format!("data-read-at-ms=\"{millis}\"")),
        "the page's own read time"
    );
    assert!(
        html.contains("<script>"),
        "the live page follows the server"
    );
    assert!(!html.contains("src="), "nothing loaded from elsewhere");
}

#[test]
fn reports_are_whole_pages_without_script_or_outside_assets() {
    let report = model::DeployReport {
        app: "web".into(),
        place: Place::default(),
        stack: "web-r2".into(),
        outcome: "cutover complete: web-r1 0%, web-r2 100%".into(),
        succeeded: true,
        steps: Vec::new(),
        resources: Vec::new(),
        events_error: Some("the stack's events could not be read: gone".into()),
        written_at: at(0),
    };
    let html = page::deploy_report(&report);
    assert!(html.starts_with("<!DOCTYPE html>"));
    for outside in ["<script", "src=", "href=\"http", "@import"] {
        assert!(!html.contains(outside), "{outside} in {html}");
    }
    assert!(html.contains("The cutover did not start."));
    assert!(html.contains("gone"));
}
