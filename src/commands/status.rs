//! `cutover status [APP]`: every release of one app (or of every app in the stacks folder) with
//! its status, age, traffic weight and role. Read-only: no lock, no change.

use std::io::Write;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::aws::cloudformation::CloudFormation;
use crate::aws::stack_lifecycle::{StackLifecycle, StackLifecycleApi};
use crate::aws::{self, AwsError, ConnectOptions};
use crate::cli::{GlobalArgs, StatusArgs};
use crate::error::{Diagnostic, Exit};
use crate::output::{OutputSettings, Palette};
use crate::release::discovery;
use crate::release::live::{
    derive_roles, observe_app, AppReleases, LiveError, ObservedBaseline, ObservedRelease,
};
use crate::release::retire::error_line;
use crate::release::tags::APP;
use crate::release::Role;
use crate::route::{Owner, RouteEntry};
use crate::router::BASELINE;
use crate::spec::{self, AppSpec, SpecError};

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("could not connect to AWS")]
    Connect(#[source] AwsError),
    #[error("could not connect to the account and region of app {app}")]
    ConnectApp {
        app: String,
        #[source]
        source: AwsError,
    },
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error("could not list the apps of this account")]
    List(#[source] AwsError),
    #[error("could not write the status")]
    Write(#[source] std::io::Error),
}

impl Diagnostic for StatusError {
    fn exit(&self) -> Exit {
        match self {
            StatusError::Spec(error) => error.exit(),
            StatusError::Connect(error) | StatusError::List(error) => error.exit(),
            StatusError::ConnectApp { source, .. } => source.exit(),
            StatusError::Live(error) => error.exit(),
            StatusError::Write(_) => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            StatusError::Spec(error) => error.hint(),
            StatusError::Connect(error) | StatusError::List(error) => error.hint(),
            StatusError::ConnectApp { source, .. } => source.hint(),
            StatusError::Live(error) => error.hint(),
            StatusError::Write(_) => None,
        }
    }
}

pub async fn run(
    args: StatusArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, StatusError> {
    // Every spec is read and checked before the first AWS call.
    let specs: Vec<AppSpec> = match &args.app {
        Some(app) => vec![spec::load_app(&global.stacks_dir, app)?],
        None => spec::list_apps(&global.stacks_dir)?
            .iter()
            .map(|app| spec::load_app(&global.stacks_dir, app))
            .collect::<Result<_, _>>()?,
    };
    let contexts = aws::Contexts::default();
    let mut apps = Vec::new();
    let mut holds = Vec::new();
    let mut targets = Vec::new();
    // With every app asked for, one that cannot be read (its account unreachable, its profile
    // gone) is reported and the others are shown; the exit code then says something failed.
    let mut unreadable: Vec<(String, String)> = Vec::new();
    for spec in &specs {
        match look_at_app(&contexts, global, spec).await {
            Ok((app, hold, target)) => {
                if let Some(error) = &app.router_error {
                    eprintln!(
                        "{} could not read the router of app {}: {}",
                        settings.stderr_palette().warning("warning:"),
                        app.app,
                        error_line(error)
                    );
                }
                apps.push(app);
                holds.push(hold);
                targets.push(target);
            }
            Err(error) if args.app.is_none() => {
                crate::output::print_error(
                    &error,
                    error.hint().as_deref(),
                    settings.stderr_palette(),
                );
                unreadable.push((spec.name.clone(), error_line(&error)));
            }
            Err(error) => return Err(error),
        }
    }
    // Without an APP, also the apps AWS knows by their tags but the stacks folder does not.
    let mut without_spec = Vec::new();
    let mut default_target: Target = (None, None);
    if args.app.is_none() {
        match apps_without_spec(&contexts, global, &specs).await {
            Ok((found, target)) => {
                without_spec = found;
                default_target = target;
            }
            Err(error) => {
                crate::output::print_error(
                    &error,
                    error.hint().as_deref(),
                    settings.stderr_palette(),
                );
                unreadable.push(("(apps without a spec)".to_string(), error_line(&error)));
            }
        }
    }
    let text = if settings.json() {
        let with = apps
            .iter()
            .zip(&holds)
            .zip(&targets)
            .map(|((app, hold), (account, region))| {
                let mut value = app_json(app, true);
                value["held"] = serde_json::to_value(hold).expect("a hold always serializes");
                value["account"] = json!(account);
                value["region"] = json!(region);
                value
            });
        let without = without_spec.iter().map(|app| {
            let mut value = app_json(app, false);
            value["account"] = json!(default_target.0);
            value["region"] = json!(default_target.1);
            value
        });
        let failed = unreadable
            .iter()
            .map(|(app, error)| json!({ "app": app, "spec": true, "error": error }));
        let value = json!({ "apps": with.chain(without).chain(failed).collect::<Vec<_>>() });
        format!("{value:#}\n")
    } else if apps.is_empty() && without_spec.is_empty() && unreadable.is_empty() {
        format!(
            "No apps in {} and no release stacks in AWS.\n",
            global.stacks_dir.display()
        )
    } else {
        let palette = settings.stdout_palette();
        let dir = global.stacks_dir.display().to_string();
        apps.iter()
            .zip(&holds)
            .zip(&targets)
            .map(|((app, hold), target)| {
                let mut text = with_target(render_app(app, palette, None), target);
                if let Some(hold) = hold {
                    text.push_str(&format!(
                        "  held: {} on its test route (`{}: {}`), by {}: `cutover promote {}` or `cutover abort {}`\n",
                        hold.candidate, hold.header, hold.value, hold.held_by, app.app, app.app
                    ));
                }
                text
            })
            .chain(
                without_spec
                    .iter()
                    .map(|app| with_target(render_app(app, palette, Some(&dir)), &default_target)),
            )
            .chain(unreadable.iter().map(|(app, error)| {
                format!("{app}  (could not be read: {error})\n")
            }))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(StatusError::Write)?;
    Ok(if unreadable.is_empty() {
        Exit::Success
    } else {
        Exit::Error
    })
}

/// One app as `status` shows it: its releases and router, its held release, its account and
/// region.
async fn look_at_app(
    contexts: &aws::Contexts,
    global: &GlobalArgs,
    spec: &AppSpec,
) -> Result<(AppReleases, Option<crate::route::hold::Hold>, Target), StatusError> {
    // Each app in its own account and region.
    let context = contexts
        .get(&ConnectOptions::for_app(global, spec))
        .await
        .map_err(|source| StatusError::ConnectApp {
            app: spec.name.clone(),
            source,
        })?;
    let target = (
        context.account().await,
        context.region().map(str::to_string),
    );
    let app = observe_app(&context, spec).await?;
    // Only an app with a test route can hold a release.
    let can_hold = matches!(
        &spec.router,
        spec::RouterSpec::Alb {
            test_traffic: Some(_),
            ..
        }
    );
    let hold = if can_hold {
        crate::route::hold::read(&crate::aws::ssm::Ssm::new(&context), &spec.name)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!("{}", error_line(&error));
                None
            })
    } else {
        None
    };
    Ok((app, hold, target))
}

/// The apps AWS knows by their stacks' tags (in the default account and region) that the stacks
/// folder does not: their stacks are shown, their traffic cannot be (the router is in the missing
/// spec).
async fn apps_without_spec(
    contexts: &aws::Contexts,
    global: &GlobalArgs,
    specs: &[AppSpec],
) -> Result<(Vec<AppReleases>, Target), StatusError> {
    let context = contexts
        .get(&ConnectOptions::from_args(global))
        .await
        .map_err(StatusError::Connect)?;
    let target = (
        context.account().await,
        context.region().map(str::to_string),
    );
    let stacks = CloudFormation::new(&context);
    let known = StackLifecycle::new(&context)
        .tag_values(APP)
        .await
        .map_err(StatusError::List)?;
    let mut without_spec = Vec::new();
    for app in known
        .iter()
        .filter(|app| !specs.iter().any(|spec| &spec.name == *app))
    {
        let mut releases = discovery::app_releases(&stacks, app)
            .await
            .map_err(LiveError::from)?;
        // What happened to each release later is in its mark, as for an app with a spec.
        let marks = crate::release::marks::read_all(&crate::aws::ssm::Ssm::new(&context), app)
            .await
            .map_err(LiveError::from)?;
        for release in &mut releases {
            if let Some(mark) = marks.get(&release.stack.name) {
                release.tags.apply_mark(mark);
            }
        }
        without_spec.push(AppReleases {
            app: app.clone(),
            releases: derive_roles(releases, None, SystemTime::now()),
            weights: None,
            router: None,
            router_error: None,
            baseline: None,
            other_apps: Vec::new(),
            other_baselines: Vec::new(),
            stickiness: None,
            marks,
        });
    }
    Ok((without_spec, target))
}

/// The account and region on the app's first line: `web  …  [123456789012/us-east-1]`.
fn with_target(mut text: String, (account, region): &Target) -> String {
    if let Some(end) = text.find('\n') {
        text.insert_str(
            end,
            &format!(
                "  [{}/{}]",
                account.as_deref().unwrap_or("account ?"),
                region.as_deref().unwrap_or("region ?")
            ),
        );
    }
    text
}

/// The account id and region an app lives in, as far as known.
type Target = (Option<String>, Option<String>);

pub(crate) fn release_json(release: &ObservedRelease) -> Value {
    json!({
        "stack": release.name(),
        "release": release.tags.release.as_str(),
        "status": release.stack.status,
        "created": humantime::format_rfc3339_seconds(release.tags.created).to_string(),
        "age_secs": release.age.as_secs(),
        "weight": release.weight,
        "role": release.role,
        "note": release.note(),
    })
}

fn app_json(app: &AppReleases, has_spec: bool) -> Value {
    json!({
        "app": app.app,
        "spec": has_spec,
        "weights": app.weights,
        "router_error": app.router_error.as_ref().map(|error| error_line(error)),
        "live": app.live_name(),
        "route": app.router.as_ref().map(|router| router.route()),
        "stickiness_secs": app.stickiness.map(|hold| hold.as_secs()),
        "baseline": app.baseline.as_ref().map(baseline_json),
        "releases": app.releases.iter().map(release_json).collect::<Vec<_>>(),
        "foreign_weights": foreign_entries(app).into_iter().map(|entry| json!({ "target": entry.key, "weight": entry.weight, "owner": entry.owner })).collect::<Vec<_>>(),
    })
}

fn baseline_json(baseline: &ObservedBaseline) -> Value {
    json!({
        "role": Role::Baseline,
        "target": baseline.record.target,
        "route": baseline.record.route,
        "adopted_at": baseline.record.adopted_at,
        "adopted_by": baseline.record.adopted_by,
        "weight": baseline.weight,
        "routed": baseline.routed,
    })
}

/// Entries of the route that are neither a release of this app nor its baseline.
fn foreign_entries(app: &AppReleases) -> Vec<RouteEntry> {
    app.route_entries()
        .into_iter()
        .filter(|entry| !matches!(entry.owner, Owner::Release | Owner::Baseline))
        .collect()
}

/// `missing_spec_in`: the stacks folder, for an app known only by its stacks' tags.
fn render_app(app: &AppReleases, palette: Palette, missing_spec_in: Option<&str>) -> String {
    let mut out = palette.bold(&app.app);
    let stickiness = app
        .stickiness
        .map(|hold| {
            format!(
                "; target group stickiness on: clients stay on their release up to {}",
                humantime::format_duration(hold)
            )
        })
        .unwrap_or_default();
    match (&app.weights, missing_spec_in) {
        (Some(weights), _) => out.push_str(&format!("  (traffic: {weights}{stickiness})\n")),
        (None, Some(dir)) => out.push_str(&format!(
            "  (no spec in {dir}: traffic unknown, roles from tags)\n"
        )),
        (None, None) => out.push_str("  (traffic: unknown, the router could not be read)\n"),
    }
    if app.releases.is_empty() && app.baseline.is_none() {
        out.push_str("  no releases\n");
        out.push_str(&foreign_notes(app, palette));
        return out;
    }
    let header = ["STACK", "RELEASE", "STATUS", "AGE", "WEIGHT", "ROLE"];
    let now = SystemTime::now();
    let baseline_row = app.baseline.as_ref().map(|baseline| {
        let mut role = Role::Baseline.to_string();
        if app.baseline_has_traffic() {
            role.push_str(" (live)");
        }
        [
            BASELINE.to_string(),
            "-".to_string(),
            "adopted".to_string(),
            short_age(
                now.duration_since(baseline.record.adopted())
                    .unwrap_or_default(),
            ),
            baseline
                .weight
                .map_or_else(|| "?".to_string(), |weight| format!("{weight}%")),
            role,
        ]
    });
    let rows: Vec<[String; 6]> = baseline_row
        .into_iter()
        .chain(app.releases.iter().map(|release| {
            let mut role = release.role.to_string();
            if let Some(note) = release.note() {
                role.push_str(&format!(" ({note})"));
            }
            [
                release.name().to_string(),
                release.tags.release.to_string(),
                release.stack.status.clone(),
                short_age(release.age),
                release
                    .weight
                    .map_or_else(|| "?".to_string(), |weight| format!("{weight}%")),
                role,
            ]
        }))
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index + 1 == cells.len() {
                text.push_str(&format!("  {cell}"));
            } else {
                text.push_str(&format!("  {cell:<width$}", width = widths[index]));
            }
        }
        text.push('\n');
        text
    };
    out.push_str(&palette.dim(&line(header)));
    let roles = app
        .baseline
        .iter()
        .map(|_| {
            if app.baseline_has_traffic() {
                Role::Live
            } else {
                Role::Baseline
            }
        })
        .chain(app.releases.iter().map(|release| release.role));
    for (row, role) in rows.iter().zip(roles) {
        let text = line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
        out.push_str(&match role {
            Role::Live => palette.added(&text),
            Role::Failed | Role::Retiring => palette.warning(&text),
            _ => text,
        });
    }
    if let Some(baseline) = &app.baseline {
        out.push_str(&format!(
            "  baseline: {}, adopted {} by {}\n",
            baseline.record.target, baseline.record.adopted_at, baseline.record.adopted_by
        ));
    }
    out.push_str(&foreign_notes(app, palette));
    out
}

/// One note per route entry that is neither a release of this app nor its baseline.
fn foreign_notes(app: &AppReleases, palette: Palette) -> String {
    let mut out = String::new();
    for entry in foreign_entries(app) {
        let whose = match &entry.owner {
            Owner::OtherApp { app, stack } => format!("{stack}, a release of app {app}"),
            Owner::OtherAppsBaseline { app } => {
                format!("{}, the baseline of app {app}", entry.key)
            }
            _ => format!("{}, which no release of this app owns", entry.key),
        };
        out.push_str(&format!(
            "  {} the router sends {}% to {whose}\n",
            palette.warning("note:"),
            entry.weight
        ));
    }
    if app.releases.is_empty()
        && app.baseline.is_none()
        && out.contains("no release of this app owns")
    {
        out.push_str(&format!(
            "  {} `cutover deploy {} --adopt` takes that traffic as the app's baseline\n",
            palette.dim("hint:"),
            app.app
        ));
    }
    out
}

/// `2d 4h`, `3h 12m`, `5m`, `40s`: the two largest units are enough for an age.
pub(crate) fn short_age(age: Duration) -> String {
    let secs = age.as_secs();
    let (days, hours, minutes) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::aws::cloudformation::StackFacts;
    use crate::release::discovery::releases_of;
    use crate::release::live::derive_roles;
    use crate::router::Weights;

    fn stack(name: &str, release: &str, status: &str, extra: &[(&str, &str)]) -> StackFacts {
        let mut tags: Vec<(String, String)> = [
            ("cutover:app", "web"),
            ("cutover:release", release),
            ("cutover:created", "2026-11-23T10:00:00Z"),
            ("cutover:template-sha256", "00"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        tags.sort();
        StackFacts {
            name: name.into(),
            id: format!("id/{name}"),
            status: status.into(),
            status_reason: None,
            created: None,
            tags,
            parameters: Vec::new(),
            outputs: Vec::new(),
            termination_protection: false,
            exports: Vec::new(),
        }
    }

    fn app(weights: Option<Weights>) -> AppReleases {
        let stacks = vec![
            stack(
                "web-r1",
                "r1",
                "DELETE_FAILED",
                &[("cutover:attention", "Logs: bucket not empty")],
            ),
            stack("web-r2", "r2", "CREATE_COMPLETE", &[]),
        ];
        let now = humantime::parse_rfc3339("2026-11-23T12:30:00Z").unwrap();
        AppReleases {
            app: "web".into(),
            releases: derive_roles(releases_of("web", stacks), weights.as_ref(), now),
            weights,
            router: None,
            router_error: None,
            baseline: None,
            other_apps: Vec::new(),
            other_baselines: Vec::new(),
            stickiness: None,
            marks: Default::default(),
        }
    }

    #[test]
    fn the_table_has_one_aligned_row_per_release_and_the_json_the_same_data() {
        let weights: Weights = [("web-r2".to_string(), 100), ("arn:tg/stray".to_string(), 0)]
            .into_iter()
            .collect();
        let app = app(Some(weights));
        let text = render_app(&app, Palette { enabled: false }, None);
        assert_eq!(
            text,
            "web  (traffic: arn:tg/stray 0%, web-r2 100%)\n\
             \x20 STACK   RELEASE  STATUS           AGE     WEIGHT  ROLE\n\
             \x20 web-r1  r1       DELETE_FAILED    2h 30m  0%      retiring (Logs: bucket not empty)\n\
             \x20 web-r2  r2       CREATE_COMPLETE  2h 30m  100%    live\n\
             \x20 note: the router sends 0% to arn:tg/stray, which no release of this app owns\n"
        );
        let json = app_json(&app, true);
        assert_eq!(json["live"], "web-r2");
        assert_eq!(json["releases"][0]["role"], "retiring");
        assert_eq!(json["releases"][0]["note"], "Logs: bucket not empty");
        assert_eq!(json["releases"][1]["weight"], 100);
        assert_eq!(json["releases"][1]["age_secs"], 9000);
    }

    #[test]
    fn without_the_router_weights_are_unknown() {
        let text = render_app(&app(None), Palette { enabled: false }, None);
        assert!(text.starts_with("web  (traffic: unknown, the router could not be read)\n"));
        assert!(text.contains("  ?       "));
        assert_eq!(
            app_json(&app(None), true)["releases"][1]["weight"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn ages_show_two_units() {
        assert_eq!(short_age(Duration::from_secs(40)), "40s");
        assert_eq!(short_age(Duration::from_secs(5 * 60 + 3)), "5m");
        assert_eq!(short_age(Duration::from_secs(3 * 3600 + 12 * 60)), "3h 12m");
        assert_eq!(
            short_age(Duration::from_secs(2 * 86_400 + 4 * 3600 + 5)),
            "2d 4h"
        );
    }
}
