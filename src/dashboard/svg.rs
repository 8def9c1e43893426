//! Charts as SVG, drawn on the server from the view models: no script and no asset from the
//! network. Every chart has a `<title>` per mark and an `aria-label`, and the pages print a table
//! or list of the same facts beside it (the text equivalent). Colour is never the only cue:
//! every segment and bar carries its label or a shape, failures a cross and a hatch.
//!
//! Colours are the Okabe–Ito palette, chosen to stay distinct under the common colour-vision
//! deficiencies (M. Okabe and K. Ito, "Color Universal Design (CUD): how to make figures and
//! presentations that are friendly to colorblind people", 2008, <https://jfly.uni-koeln.de/color/>).

use std::time::{Duration, SystemTime};

use maud::{html, Markup};

use super::model::{Happening, Outcome, ReleaseView, ResourceBar, TimelineEvent};

/// Okabe–Ito bluish green: the live release, traffic.
pub const GREEN: &str = "#009E73";
/// Okabe–Ito orange: a candidate, work in progress.
pub const ORANGE: &str = "#E69F00";
/// Okabe–Ito blue: a retained release, a finished resource.
pub const BLUE: &str = "#0072B2";
/// Okabe–Ito vermillion: failures.
pub const VERMILLION: &str = "#D55E00";
/// Okabe–Ito reddish purple: a release being retired.
pub const PURPLE: &str = "#CC79A7";
/// Okabe–Ito sky blue: the test route, a skipped deletion.
pub const SKY: &str = "#56B4E9";
/// Neutral grey: the baseline, what is unknown.
pub const GREY: &str = "#999999";

/// The fill of a role, and the text colour that reads on it (contrast of at least 4.5:1).
pub fn role_colours(role: &str) -> (&'static str, &'static str) {
    match role {
        "live" => (GREEN, "#000"),
        "candidate" => (ORANGE, "#000"),
        "retained" => (BLUE, "#fff"),
        "failed" => (VERMILLION, "#000"),
        "retiring" => (PURPLE, "#000"),
        _ => (GREY, "#000"),
    }
}

/// The hatch pattern failed marks are drawn with, once per chart (ids are per chart: a page has
/// several charts and an id must be unique in it).
fn hatch(id: &str) -> Markup {
    html! {
        defs {
            pattern id=(id) width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)" {
                rect width="6" height="6" fill=(VERMILLION) {}
                line x1="0" y1="0" x2="0" y2="6" stroke="#000" stroke-width="2" stroke-opacity="0.45" {}
            }
        }
    }
}

/// Width of the traffic bar, in pixels.
pub const WEIGHTS_WIDTH: f64 = 480.0;
/// Height of the traffic bar, in pixels.
pub const WEIGHTS_HEIGHT: f64 = 30.0;

/// The traffic split as one bar [`WEIGHTS_WIDTH`] × [`WEIGHTS_HEIGHT`] px: a segment per release
/// with traffic, in the order given, as wide as its share, labelled `stack weight%` where it fits.
/// Unknown weights (the router could not be read) draw one grey bar saying so.
pub fn weights_bar(releases: &[ReleaseView]) -> Markup {
    let known = releases.iter().any(|release| release.weight.is_some());
    let with_traffic: Vec<&ReleaseView> = releases
        .iter()
        .filter(|release| release.weight.unwrap_or(0) > 0)
        .collect();
    let label = if releases.is_empty() {
        "no release stacks".to_string()
    } else if !known {
        "traffic unknown: the router could not be read".to_string()
    } else if with_traffic.is_empty() {
        "no release has traffic".to_string()
    } else {
        let parts: Vec<String> = with_traffic
            .iter()
            .map(|release| {
                format!(
                    "{} {}% ({})",
                    release.stack,
                    release.weight.unwrap_or(0),
                    release.role
                )
            })
            .collect();
        format!("traffic: {}", parts.join(", "))
    };
    let mut segments = Vec::new();
    let mut x = 0.0;
    for release in &with_traffic {
        let width = WEIGHTS_WIDTH * f64::from(release.weight.unwrap_or(0)) / 100.0;
        segments.push((x, width, *release));
        x += width;
    }
    html! {
        svg.weights xmlns="http://www.w3.org/2000/svg" width=(WEIGHTS_WIDTH) height=(WEIGHTS_HEIGHT)
            viewBox=(format!("0 0 {WEIGHTS_WIDTH} {WEIGHTS_HEIGHT}")) role="img" aria-label=(label) {
            title { (label) }
            rect x="0" y="0" width=(WEIGHTS_WIDTH) height=(WEIGHTS_HEIGHT) fill="#eee" stroke="#666" {}
            @if releases.is_empty() || !known || with_traffic.is_empty() {
                text x="8" y="20" font-size="13" fill="#000" { (label) }
            }
            @for &(x, width, release) in &segments {
                @let weight = release.weight.unwrap_or(0);
                @let (fill, ink) = role_colours(release.role);
                @let text = format!("{} {weight}%", release.stack);
                g.segment data-stack=(release.stack) data-weight=(weight) data-role=(release.role) {
                    title { (format!("{} ({}): {weight}% of the traffic", release.stack, release.role)) }
                    rect x=(fmt(x)) y="0" width=(fmt(width)) height=(WEIGHTS_HEIGHT) fill=(fill) stroke="#fff" {}
                    @if width >= 7.0 * text.chars().count() as f64 + 8.0 {
                        text x=(fmt(x + 6.0)) y="20" font-size="13" fill=(ink) { (text) }
                    }
                }
            }
        }
    }
}

/// Timeline layout: label column, plot width, lane height, axis height, in pixels.
pub const TIMELINE_LABEL: f64 = 190.0;
pub const TIMELINE_PLOT: f64 = 560.0;
pub const TIMELINE_LANE: f64 = 38.0;
pub const TIMELINE_AXIS: f64 = 22.0;

/// An app's timeline: one lane per release (in the order it first appears), time left to right
/// from the first moment to the last (or `now` when later). In a lane: a thin line for the
/// stack's life, a green band as tall as its traffic share between steps, a square when it was
/// created, a dot with the weight at each step, a cross where it failed, a bar where it was
/// deleted. Height: [`TIMELINE_AXIS`] + lanes × [`TIMELINE_LANE`] + 8.
pub fn timeline(events: &[TimelineEvent], now: SystemTime) -> Markup {
    let lanes = lanes(events);
    let width = TIMELINE_LABEL + TIMELINE_PLOT + 40.0;
    let height = TIMELINE_AXIS + lanes.len() as f64 * TIMELINE_LANE + 8.0;
    let Some(first) = events.iter().map(|event| event.at).min() else {
        return html! { p.empty { "No releases recorded." } };
    };
    let last = events.iter().map(|event| event.at).max().unwrap_or(first);
    let end = last.max(now).max(first + Duration::from_secs(60));
    let scale = Scale::new(first, end, TIMELINE_LABEL, TIMELINE_PLOT);
    let label = format!(
        "timeline of {} releases from {} to {} UTC",
        lanes.len(),
        clock(first),
        clock(end)
    );
    html! {
        svg.timeline xmlns="http://www.w3.org/2000/svg" width=(width) height=(fmt(height))
            viewBox=(format!("0 0 {width} {}", fmt(height))) role="img" aria-label=(label) {
            title { (label) }
            (hatch("timeline-hatch"))
            text x=(TIMELINE_LABEL) y="14" font-size="11" fill="#333" { (clock(first)) " UTC" }
            text x=(TIMELINE_LABEL + TIMELINE_PLOT) y="14" font-size="11" fill="#333" text-anchor="end" { (clock(end)) " UTC" }
            @for (lane, stack) in lanes.iter().enumerate() {
                @let top = TIMELINE_AXIS + lane as f64 * TIMELINE_LANE;
                @let mine: Vec<&TimelineEvent> = events.iter().filter(|event| &event.stack == stack).collect();
                @let born = mine.first().map(|event| event.at).unwrap_or(first);
                @let gone = mine.iter().find(|event| matches!(event.happening, Happening::Retired | Happening::Deleted)).map(|event| event.at).unwrap_or(end);
                g.lane data-stack=(stack) {
                    text x="4" y=(fmt(top + 23.0)) font-size="12" fill="#000" { (short(stack, 26)) }
                    line x1=(fmt(scale.x(born))) x2=(fmt(scale.x(gone))) y1=(fmt(top + 30.0)) y2=(fmt(top + 30.0)) stroke="#888" stroke-width="1" {}
                    @for (from, to, weight) in bands(&mine, gone) {
                        @let tall = 22.0 * f64::from(weight) / 100.0;
                        rect.band x=(fmt(scale.x(from))) y=(fmt(top + 30.0 - tall)) width=(fmt((scale.x(to) - scale.x(from)).max(1.0))) height=(fmt(tall)) fill=(GREEN) fill-opacity="0.55" {
                            title { (format!("{stack}: {weight}% from {} to {} UTC", clock(from), clock(to))) }
                        }
                    }
                    @let labelled = labelled_moments(&mine, &scale);
                    @for (index, event) in mine.iter().enumerate() {
                        @let x = scale.x(event.at);
                        @let label = labelled.contains(&index);
                        @let order = events.iter().position(|e| std::ptr::eq(e, *event)).unwrap_or(0);
                        g.moment data-order=(order) data-kind=(kind(event.happening)) {
                            title { (format!("{} UTC: {} {}", clock(event.at), event.stack, event.happening.describe())) }
                            @match event.happening {
                                Happening::Created => {
                                    rect x=(fmt(x - 4.0)) y=(fmt(top + 26.0)) width="8" height="8" fill="#fff" stroke="#000" {}
                                }
                                Happening::Step { weight } => {
                                    circle cx=(fmt(x)) cy=(fmt(top + 30.0 - 22.0 * f64::from(weight) / 100.0)) r="4" fill=(GREEN) stroke="#000" {}
                                    @if label {
                                        text x=(fmt(x + 5.0)) y=(fmt(top + 10.0)) font-size="10" fill="#000" { (weight) "%" }
                                    }
                                }
                                Happening::Retired | Happening::Deleted => {
                                    rect x=(fmt(x - 1.5)) y=(fmt(top + 22.0)) width="3" height="16" fill="#000" {}
                                }
                                failure => {
                                    path d=(format!("M{} {} l10 10 m0 -10 l-10 10", fmt(x - 5.0), fmt(top + 25.0))) stroke=(VERMILLION) stroke-width="3" {}
                                    @if label {
                                        text x=(fmt(x + 7.0)) y=(fmt(top + 10.0)) font-size="10" fill="#000" { (failure.describe()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The moments of a lane whose label is drawn: a label takes about [`LABEL_ROOM`] px, and one
/// that would overlap the previous drawn label is left out (its `<title>` and the list below the
/// chart still say it). The lane's last moment always has its label: it is where the release
/// stands now.
fn labelled_moments(mine: &[&TimelineEvent], scale: &Scale) -> Vec<usize> {
    let with_label = |event: &TimelineEvent| {
        !matches!(
            event.happening,
            Happening::Created | Happening::Retired | Happening::Deleted
        )
    };
    let candidates: Vec<usize> = (0..mine.len()).filter(|&i| with_label(mine[i])).collect();
    let mut kept: Vec<usize> = Vec::new();
    for (position, &index) in candidates.iter().enumerate() {
        let x = scale.x(mine[index].at);
        let is_last = position + 1 == candidates.len();
        while is_last
            && kept
                .last()
                .is_some_and(|&previous| x - scale.x(mine[previous].at) < LABEL_ROOM)
        {
            kept.pop();
        }
        if kept
            .last()
            .is_none_or(|&previous| x - scale.x(mine[previous].at) >= LABEL_ROOM)
        {
            kept.push(index);
        }
    }
    kept
}

/// Room a moment's label takes in a timeline lane, in pixels.
const LABEL_ROOM: f64 = 34.0;

/// The releases of a timeline, in the order they first appear.
fn lanes(events: &[TimelineEvent]) -> Vec<String> {
    let mut lanes: Vec<String> = Vec::new();
    for event in events {
        if !lanes.contains(&event.stack) {
            lanes.push(event.stack.clone());
        }
    }
    lanes
}

/// A lane's traffic bands: (from, to, weight) for every step with weight, until the next step
/// or the end of the lane.
fn bands(mine: &[&TimelineEvent], end: SystemTime) -> Vec<(SystemTime, SystemTime, u8)> {
    let steps: Vec<(SystemTime, u8)> = mine
        .iter()
        .filter_map(|event| match event.happening {
            Happening::Step { weight } => Some((event.at, weight)),
            _ => None,
        })
        .collect();
    steps
        .iter()
        .enumerate()
        .filter(|(_, (_, weight))| *weight > 0)
        .map(|(index, &(from, weight))| {
            let to = steps.get(index + 1).map(|next| next.0).unwrap_or(end);
            (from, to.max(from), weight)
        })
        .collect()
}

fn kind(happening: Happening) -> &'static str {
    match happening {
        Happening::Created => "created",
        Happening::Step { .. } => "step",
        Happening::Retired => "retired",
        Happening::Deleted => "deleted",
        _ => "failure",
    }
}

/// Resource chart layout: label column, plot width, row height, in pixels.
pub const RESOURCES_LABEL: f64 = 300.0;
pub const RESOURCES_PLOT: f64 = 460.0;
pub const RESOURCES_ROW: f64 = 22.0;
pub const RESOURCES_TOP: f64 = 22.0;

/// A stack's resources as bars from start to finish, one row each in the order given (by
/// start), labelled `LogicalId (Type)` with the operation, the duration after the bar. Failed
/// bars are hatched vermillion and say FAILED; in-progress ones are orange and run to `now`;
/// deletions the DeletionPolicy skipped are sky blue. Height: [`RESOURCES_TOP`] + rows ×
/// [`RESOURCES_ROW`] + 8.
pub fn resources(bars: &[ResourceBar], now: SystemTime) -> Markup {
    let Some(first) = bars.iter().map(|bar| bar.start).min() else {
        return html! { p.empty { "No stack events." } };
    };
    let end = bars
        .iter()
        .map(|bar| bar.end.unwrap_or(now))
        .max()
        .unwrap_or(first)
        .max(first + Duration::from_secs(1));
    let scale = Scale::new(first, end, RESOURCES_LABEL, RESOURCES_PLOT);
    let width = RESOURCES_LABEL + RESOURCES_PLOT + 130.0;
    let height = RESOURCES_TOP + bars.len() as f64 * RESOURCES_ROW + 8.0;
    let failed = bars
        .iter()
        .filter(|bar| bar.outcome == Outcome::Failed)
        .count();
    let label = format!(
        "{} resource operation{} from {} to {} UTC, {failed} failed",
        bars.len(),
        if bars.len() == 1 { "" } else { "s" },
        clock(first),
        clock(end)
    );
    html! {
        svg.resources xmlns="http://www.w3.org/2000/svg" width=(width) height=(fmt(height))
            viewBox=(format!("0 0 {width} {}", fmt(height))) role="img" aria-label=(label) {
            title { (label) }
            (hatch("resources-hatch"))
            text x=(RESOURCES_LABEL) y="14" font-size="11" fill="#333" { (clock(first)) " UTC" }
            text x=(RESOURCES_LABEL + RESOURCES_PLOT) y="14" font-size="11" fill="#333" text-anchor="end" { (clock(end)) " UTC" }
            @for (row, bar) in bars.iter().enumerate() {
                @let top = RESOURCES_TOP + row as f64 * RESOURCES_ROW;
                @let x = scale.x(bar.start);
                @let w = (scale.x(bar.end.unwrap_or(now)) - x).max(2.0);
                @let took = human(bar.duration(now));
                @let fill = match bar.outcome {
                    Outcome::Complete => BLUE.to_string(),
                    Outcome::Failed => "url(#resources-hatch)".to_string(),
                    Outcome::InProgress => ORANGE.to_string(),
                    Outcome::Skipped => SKY.to_string(),
                };
                @let verdict = match bar.outcome {
                    Outcome::Complete => took.clone(),
                    Outcome::Failed => format!("✕ FAILED {took}"),
                    Outcome::InProgress => format!("{took}…"),
                    Outcome::Skipped => "kept (skipped)".to_string(),
                };
                g.resource data-logical-id=(bar.logical_id) data-outcome=(outcome_word(bar.outcome)) {
                    title {
                        (format!("{} {} {}: {} at {} UTC", bar.logical_id, bar.resource_type, bar.operation.to_lowercase(), verdict, clock(bar.start)))
                        @if let Some(reason) = &bar.reason { " — " (reason) }
                    }
                    text x="4" y=(fmt(top + 15.0)) font-size="11" fill="#000" {
                        (short(&format!("{} ({})", bar.logical_id, short_type(&bar.resource_type)), 46)) " " (bar.operation.to_lowercase())
                    }
                    rect x=(fmt(x)) y=(fmt(top + 4.0)) width=(fmt(w)) height="14" fill=(fill) stroke="#000" stroke-width="0.5" {}
                    text x=(fmt(x + w + 4.0)) y=(fmt(top + 15.0)) font-size="11" fill="#000" { (verdict) }
                }
            }
        }
    }
}

/// Width and height of the weight-over-time chart of a deploy report, in pixels.
pub const WEIGHT_CHART_WIDTH: f64 = 640.0;
pub const WEIGHT_CHART_HEIGHT: f64 = 160.0;

/// The candidate's weight over a deploy as a step line from 0 % to 100 %, with a dot and the
/// weight at each change. [`WEIGHT_CHART_WIDTH`] × [`WEIGHT_CHART_HEIGHT`] px.
pub fn weight_over_time(points: &[(SystemTime, u8)], end: SystemTime) -> Markup {
    let Some(&(first, _)) = points.first() else {
        return html! { p.empty { "No traffic step." } };
    };
    let end = end.max(first + Duration::from_secs(1));
    let left = 48.0;
    let plot_w = WEIGHT_CHART_WIDTH - left - 40.0;
    let top = 14.0;
    let plot_h = WEIGHT_CHART_HEIGHT - top - 26.0;
    let scale = Scale::new(first, end, left, plot_w);
    let y = |weight: u8| top + plot_h * (1.0 - f64::from(weight) / 100.0);
    let mut path = String::new();
    for (index, &(at, weight)) in points.iter().enumerate() {
        let x = scale.x(at);
        if index == 0 {
            path.push_str(&format!("M{} {}", fmt(x), fmt(y(weight))));
        } else {
            path.push_str(&format!(" H{} V{}", fmt(x), fmt(y(weight))));
        }
    }
    path.push_str(&format!(" H{}", fmt(scale.x(end))));
    let label = format!(
        "candidate weight: {}",
        points
            .iter()
            .map(|(at, weight)| format!("{weight}% at {}", clock(*at)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    html! {
        svg.weight-chart xmlns="http://www.w3.org/2000/svg" width=(WEIGHT_CHART_WIDTH) height=(WEIGHT_CHART_HEIGHT)
            viewBox=(format!("0 0 {WEIGHT_CHART_WIDTH} {WEIGHT_CHART_HEIGHT}")) role="img" aria-label=(label) {
            title { (label) }
            @for weight in [0u8, 50, 100] {
                line x1=(left) x2=(fmt(left + plot_w)) y1=(fmt(y(weight))) y2=(fmt(y(weight))) stroke="#ccc" {}
                text x=(left - 6.0) y=(fmt(y(weight) + 4.0)) font-size="11" text-anchor="end" fill="#333" { (weight) "%" }
            }
            path d=(path) fill="none" stroke=(ORANGE) stroke-width="3" {}
            @for (index, &(at, weight)) in points.iter().enumerate() {
                g.point data-order=(index) data-weight=(weight) {
                    title { (format!("{weight}% at {} UTC", clock(at))) }
                    circle cx=(fmt(scale.x(at))) cy=(fmt(y(weight))) r="4" fill="#000" {}
                }
            }
            text x=(left) y=(fmt(WEIGHT_CHART_HEIGHT - 6.0)) font-size="11" fill="#333" { (clock(first)) " UTC" }
            text x=(fmt(left + plot_w)) y=(fmt(WEIGHT_CHART_HEIGHT - 6.0)) font-size="11" fill="#333" text-anchor="end" { (clock(end)) " UTC" }
        }
    }
}

fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Complete => "complete",
        Outcome::Failed => "failed",
        Outcome::InProgress => "in_progress",
        Outcome::Skipped => "skipped",
    }
}

/// Maps times to x positions across `width` pixels from `left`.
struct Scale {
    start: SystemTime,
    span: f64,
    left: f64,
    width: f64,
}

impl Scale {
    fn new(start: SystemTime, end: SystemTime, left: f64, width: f64) -> Scale {
        let span = end
            .duration_since(start)
            .unwrap_or_default()
            .as_secs_f64()
            .max(1.0);
        Scale {
            start,
            span,
            left,
            width,
        }
    }

    fn x(&self, at: SystemTime) -> f64 {
        let offset = at
            .duration_since(self.start)
            .unwrap_or_default()
            .as_secs_f64();
        self.left + self.width * (offset / self.span).min(1.0)
    }
}

/// A coordinate with at most one decimal, as SVG attributes want them.
fn fmt(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded:.1}")
    }
}

/// `12:04:05`: the time of day in UTC.
pub fn clock(time: SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(time).to_string();
    text.get(11..19).unwrap_or(&text).to_string()
}

/// `45s`, `3m 05s`, `1h 02m`.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// `AWS::EC2::SecurityGroup` → `EC2::SecurityGroup`.
fn short_type(resource_type: &str) -> &str {
    resource_type.strip_prefix("AWS::").unwrap_or(resource_type)
}

/// At most `max` characters, with an ellipsis when cut.
fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}
