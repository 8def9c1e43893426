//! The dashboard's pages and the HTML reports, as whole documents: styles (and, for the live
//! pages, one small script) embedded, charts inline SVG, nothing loaded from the network. Text
//! is escaped by `maud`; NoEcho values are masked over the finished page
//! ([`crate::output::secrets::scrub`]).

use std::path::Path;
use std::time::SystemTime;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::model::{AppView, DashboardView, DeployReport, ResourceBar, TimelineEvent};
use super::svg;
use crate::release::history::Entry;

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #111; background: #fafafa; }
header { background: #1d2b36; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; }
header a { color: #fff; }
header .updated { margin-left: auto; font-size: 12px; opacity: .85; }
main { padding: 16px 20px; max-width: 1100px; }
section.app { background: #fff; border: 1px solid #ccc; border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; }
h2 { margin: 0 0 4px; font-size: 18px; }
.place, .meta { color: #444; font-size: 12px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #e3e3e3; vertical-align: top; }
.role { display: inline-block; padding: 0 6px; border-radius: 3px; border: 1px solid #000; font-size: 12px; }
.warn { color: #8a3b00; }
.fail { color: #8a3b00; font-weight: 600; }
.pass { color: #00573f; font-weight: 600; }
.empty { color: #666; font-style: italic; }
ol.timeline li { margin: 2px 0; }
svg { display: block; margin: 6px 0; max-width: 100%; height: auto; }
code { font-size: 12px; }
"#;

/// Follows the server's snapshots (server-sent events on `/events`): each names an element id and
/// its new content, replaced in place. No reload, no other request.
const LIVE_SCRIPT: &str = r#"
(function () {
  if (!window.EventSource) { return; }
  var source = new EventSource("/events");
  var shown = Number(document.body.getAttribute("data-read-at-ms") || 0);
  source.addEventListener("snapshot", function (message) {
    var parts = JSON.parse(message.data);
    // A snapshot read before what the page shows would take it back in time.
    if (parts._read_at_ms < shown) { return; }
    shown = parts._read_at_ms;
    Object.keys(parts).forEach(function (id) {
      if (id.charAt(0) === "_") { return; }
      var element = document.getElementById(id);
      if (element) { element.innerHTML = parts[id]; }
    });
  });
})();
"#;

/// A whole page. `live`: the time its data was read, for pages that follow the server (the
/// script takes no snapshot older than that).
fn document(title: &str, live: Option<SystemTime>, updated: &str, body: Markup) -> String {
    let read_at_ms = live.map(millis).unwrap_or(0);
    let live = live.is_some();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // Nothing from elsewhere, even if a name read from AWS tried: only this page's
                // own styles and script, and (live pages) its event stream.
                meta http-equiv="Content-Security-Policy" content=(if live {
                    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:"
                } else {
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
                });
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body data-read-at-ms=(read_at_ms) {
                header {
                    strong { a href=(if live { "/" } else { "#" }) { "cutover" } }
                    span { (title) }
                    span.updated #updated { (updated) }
                }
                main { (body) }
                @if live {
                    script { (PreEscaped(LIVE_SCRIPT)) }
                }
            }
        }
    };
    crate::output::secrets::scrub(&page.into_string()).into_owned()
}

fn millis(time: SystemTime) -> u128 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

fn read_at(time: SystemTime) -> String {
    format!("read {}", humantime::format_rfc3339_seconds(time))
}

/// `app-web`: the element holding an app's card.
pub fn card_id(app: &str) -> String {
    format!("app-{app}")
}

/// `timeline-web`: the element holding an app's timeline.
pub fn timeline_id(app: &str) -> String {
    format!("timeline-{app}")
}

/// The overview: every app's card, following the server.
pub fn overview(view: &DashboardView) -> String {
    let body = html! {
        @if view.apps.is_empty() {
            p.empty { "No apps in the stacks folder." }
        }
        @for app in &view.apps {
            section.app id=(card_id(&app.app)) { (card(app, true)) }
        }
    };
    document("apps", Some(view.read_at), &read_at(view.read_at), body)
}

/// One app's card: where it lives, its lock and hold, the traffic bar and its table, the last
/// gate check. `links` adds links to the app's page (not in reports).
pub fn card(app: &AppView, links: bool) -> Markup {
    html! {
        h2 {
            @if links { a href=(format!("/apps/{}", app.app)) { (app.app) } } @else { (app.app) }
        }
        div.place {
            "account " (app.place.account.as_deref().unwrap_or("?"))
            " · region " (app.place.region.as_deref().unwrap_or("?"))
        }
        @if app.reading {
            p.empty { "reading…" }
        } @else if let Some(error) = &app.error {
            p.fail { "could not be read: " (error) }
        } @else {
            @if let Some(holder) = &app.lock_holder {
                p.warn.lock { "locked by " (holder) }
            }
            @if let Some(held) = &app.held {
                p.warn { "held on its test route: " (held) }
            }
            @if let Some(error) = &app.router_error {
                p.warn { "router not readable: " (error) }
            }
            (svg::weights_bar(&app.releases))
            (releases_table(app, links))
            @if let Some(gates) = &app.gates {
                p.gates {
                    "gates of " (gates.stack) " at " (gates.at) ": "
                    @if gates.passed { span.pass { "passed" } } @else { span.fail { "failed" } }
                    " — " (gates.summary)
                }
            }
        }
    }
}

fn releases_table(app: &AppView, links: bool) -> Markup {
    html! {
        @if app.releases.is_empty() {
            p.empty { "No release stacks." }
        } @else {
            table.releases {
                thead { tr { th { "release stack" } th { "role" } th { "traffic" } th { "stack status" } th { "created (UTC)" } } }
                tbody {
                    @for release in &app.releases {
                        @let (fill, ink) = svg::role_colours(release.role);
                        tr data-stack=(release.stack) {
                            td {
                                @if links && release.stack != crate::router::BASELINE {
                                    a href=(format!("/apps/{}/releases/{}", app.app, release.stack)) { (release.stack) }
                                } @else { (release.stack) }
                            }
                            td { span.role style=(format!("background:{fill};color:{ink}")) { (release.role) } }
                            td.weight { @match release.weight { Some(weight) => { (weight) "%" } None => { "unknown" } } }
                            td { (release.status) }
                            td { @if let Some(created) = release.created { (humantime::format_rfc3339_seconds(created)) } @else { "-" } }
                        }
                    }
                }
            }
        }
    }
}

/// An app's timeline: the chart and the same moments as an ordered list.
pub fn timeline_section(events: &[TimelineEvent], now: SystemTime) -> Markup {
    html! {
        (svg::timeline(events, now))
        ol.timeline {
            @for event in events {
                li data-kind=(event_kind(event)) {
                    (humantime::format_rfc3339_seconds(event.at)) " — " (event.stack) ": " (event.happening.describe())
                }
            }
        }
    }
}

fn event_kind(event: &TimelineEvent) -> &'static str {
    use super::model::Happening;
    match event.happening {
        Happening::Created => "created",
        Happening::Step { .. } => "step",
        Happening::Retired | Happening::Deleted => "deleted",
        _ => "failure",
    }
}

fn history_table(entries: &[Entry]) -> Markup {
    html! {
        @if entries.is_empty() {
            p.empty { "No releases in this account and region." }
        } @else {
        table.history {
            thead { tr { th { "release" } th { "stack" } th { "created" } th { "state" } th { "all traffic" } th { "deployed by" } } }
            tbody {
                @for entry in entries {
                    tr {
                        td { (entry.release) }
                        td { (entry.stack) }
                        td { (entry.created) }
                        td {
                            (serde_json::to_value(entry.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
                            @if let Some(ending) = entry.ending { " (" (serde_json::to_value(ending).ok().and_then(|v| v.as_str().map(|s| s.replace('_', " "))).unwrap_or_default()) ")" }
                            @if let Some(reason) = &entry.reason { br; span.meta { (reason) } }
                        }
                        td { (entry.took_traffic_at.as_deref().unwrap_or("-")) " → " (entry.lost_traffic_at.as_deref().unwrap_or("")) }
                        td { (entry.deployed_by.as_deref().unwrap_or("-")) }
                    }
                }
            }
        }
        }
    }
}

/// One app's page on the dashboard: its card and timeline follow the server; its history as
/// read when the page was asked for.
pub fn app_page(app: &AppView, entries: &[Entry], read_at: SystemTime) -> String {
    let body = html! {
        section.app id=(card_id(&app.app)) { (card(app, true)) }
        section.app {
            h2 { "timeline" }
            div id=(timeline_id(&app.app)) { (timeline_section(&app.timeline, read_at)) }
        }
        section.app {
            h2 { "history" }
            (history_table(entries))
        }
    };
    document(
        &format!("app {}", app.app),
        Some(read_at),
        &self::read_at(read_at),
        body,
    )
}

/// A release stack's events as bars and as a table.
pub fn release_page(
    app: &str,
    stack: &str,
    bars: &[ResourceBar],
    error: Option<&str>,
    read_at: SystemTime,
) -> String {
    let body = html! {
        section.app {
            h2 { a href=(format!("/apps/{app}")) { (app) } " / " (stack) }
            @if let Some(error) = error { p.fail { "could not read the stack's events: " (error) } }
            (resources_section(bars, read_at))
        }
    };
    document(
        &format!("release {stack}"),
        None,
        &self::read_at(read_at),
        body,
    )
}

fn resources_section(bars: &[ResourceBar], now: SystemTime) -> Markup {
    html! {
        (svg::resources(bars, now))
        @if !bars.is_empty() {
            table.resources {
                thead { tr { th { "resource" } th { "type" } th { "operation" } th { "started (UTC)" } th { "took" } th { "result" } } }
                tbody {
                    @for bar in bars {
                        tr data-outcome=(format!("{:?}", bar.outcome).to_lowercase()) {
                            td { (bar.logical_id) }
                            td { (bar.resource_type) }
                            td { (bar.operation.to_lowercase()) }
                            td { (svg::clock(bar.start)) }
                            td { (svg::human(bar.duration(now))) }
                            td {
                                @match bar.outcome {
                                    super::model::Outcome::Failed => { span.fail { "failed" } }
                                    super::model::Outcome::InProgress => { "in progress" }
                                    super::model::Outcome::Skipped => { "kept (DeletionPolicy)" }
                                    super::model::Outcome::Complete => { "complete" }
                                }
                                @if let Some(reason) = &bar.reason { br; span.meta { (reason) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `history APP --html`: the app's card, timeline and history in one file.
pub fn history_report(app: &AppView, entries: &[Entry], written_at: SystemTime) -> String {
    let body = html! {
        section.app { (card(app, false)) }
        section.app { h2 { "timeline" } (timeline_section(&app.timeline, written_at)) }
        section.app { h2 { "history" } (history_table(entries)) }
    };
    document(
        &format!("history of {}", app.app),
        None,
        &format!("written {}", humantime::format_rfc3339_seconds(written_at)),
        body,
    )
}

/// `deploy --report`: how the deploy ended, its steps (chart and table) and its stack's events.
pub fn deploy_report(report: &DeployReport) -> String {
    let points: Vec<(SystemTime, u8)> = report
        .steps
        .iter()
        .filter_map(|step| step.candidate_weight.map(|weight| (step.at, weight)))
        .collect();
    let end = report
        .steps
        .last()
        .map(|step| step.at)
        .unwrap_or(report.written_at);
    let body = html! {
        section.app {
            h2 { (report.app) " → " (report.stack) }
            div.place {
                "account " (report.place.account.as_deref().unwrap_or("?"))
                " · region " (report.place.region.as_deref().unwrap_or("?"))
            }
            p.outcome {
                @if report.succeeded { span.pass { "succeeded" } } @else { span.fail { "did not succeed" } }
                ": " (report.outcome)
            }
        }
        section.app {
            h2 { "traffic steps" }
            (svg::weight_over_time(&points, end))
            @if report.steps.is_empty() {
                p.empty { "The cutover did not start." }
            } @else {
                table.steps {
                    thead { tr { th { "time (UTC)" } th { "step" } th { "candidate" } th { "what happened" } } }
                    tbody {
                        @for step in &report.steps {
                            tr data-kind=(step.kind) {
                                td { (svg::clock(step.at)) }
                                td { (step.kind.replace('_', " ")) }
                                td { @if let Some(weight) = step.candidate_weight { (weight) "%" } }
                                td {
                                    @if let Some(passed) = step.passed {
                                        @if passed { span.pass { "passed " } } @else { span.fail { "failed " } }
                                    }
                                    (step.text)
                                }
                            }
                        }
                    }
                }
            }
        }
        section.app {
            h2 { "stack events of " (report.stack) }
            @if let Some(error) = &report.events_error { p.warn { (error) } }
            (resources_section(&report.resources, end.max(report.written_at)))
        }
    };
    document(
        &format!("deploy of {}", report.app),
        None,
        &format!(
            "written {}",
            humantime::format_rfc3339_seconds(report.written_at)
        ),
        body,
    )
}

/// The parts of the live pages that follow a new snapshot, by element id: each app's card and
/// timeline, and the time it was read.
pub fn live_parts(view: &DashboardView) -> serde_json::Map<String, serde_json::Value> {
    let mut parts = serde_json::Map::new();
    for app in &view.apps {
        let card = crate::output::secrets::scrub(&card(app, true).into_string()).into_owned();
        parts.insert(card_id(&app.app), card.into());
        let timeline = crate::output::secrets::scrub(
            &timeline_section(&app.timeline, view.read_at).into_string(),
        )
        .into_owned();
        parts.insert(timeline_id(&app.app), timeline.into());
    }
    parts.insert("updated".to_string(), read_at(view.read_at).into());
    parts.insert(
        "_read_at_ms".to_string(),
        serde_json::Value::from(millis(view.read_at) as u64),
    );
    parts
}

/// Whether a report can be written at `path`, checked before a deploy changes anything: the
/// folder exists and a file can be created in it (the probe is removed at once).
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is a folder",
        ));
    }
    let probe = partial_path(path);
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

fn partial_path(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report.html".to_string());
    path.with_file_name(format!(".{name}.partial"))
}

/// Writes a report file whole (a temporary file beside it, then renamed), so a CI artifact is
/// never half a page.
pub fn write_report(path: &Path, html: &str) -> std::io::Result<()> {
    let partial = partial_path(path);
    std::fs::write(&partial, html)?;
    std::fs::rename(&partial, path)
}
