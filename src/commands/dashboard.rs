//! `cutover dashboard`: a read-only web page of every app of the stacks folder, served locally.
//! A reader looks at every app each `--interval` (each in its own account and region) and keeps
//! the newest view; pages draw it ([`crate::dashboard`]) and a server-sent event stream
//! (`/events`) pushes each changed view to the open pages. Only GET routes: nothing on the page
//! can change anything in AWS.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::{watch, Mutex};

use super::history::{self as app_history, DeletedReleases};
use crate::aws::cloudformation::{CloudFormation, StackApi};
use crate::aws::ssm::Ssm;
use crate::aws::{ConnectOptions, Contexts};
use crate::cli::{DashboardArgs, GlobalArgs};
use crate::dashboard::model::{self, AppView, DashboardView, Place};
use crate::dashboard::page;
use crate::error::{Diagnostic, Exit};
use crate::output::OutputSettings;
use crate::release::history::Entry;
use crate::release::live::observe_app;
use crate::release::lock::AppLocks;
use crate::release::retire::error_line;
use crate::spec::{self, AppSpec, RouterSpec, SpecError};

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("could not listen on {address}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the dashboard's server stopped")]
    Serve(#[source] std::io::Error),
}

impl Diagnostic for DashboardError {
    fn exit(&self) -> Exit {
        match self {
            DashboardError::Spec(error) => error.exit(),
            DashboardError::Listen { .. } | DashboardError::Serve(_) => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            DashboardError::Spec(error) => error.hint(),
            DashboardError::Listen { source, .. } => Some(
                match source.kind() {
                    std::io::ErrorKind::AddrInUse => {
                        "another program uses that port: pass --listen 127.0.0.1:0 to take any free one"
                    }
                    std::io::ErrorKind::AddrNotAvailable | std::io::ErrorKind::PermissionDenied => {
                        "serve on an address of this machine, on a port above 1023 unless you may bind lower ones"
                    }
                    _ => "the host must be an address of this machine or a name that resolves to one (say 127.0.0.1 or localhost)",
                }
                .to_string(),
            ),
            DashboardError::Serve(_) => None,
        }
    }
}

/// Deleted release stacks are listed again this often at most (a listing of every deleted stack
/// of the account), or when a release stack disappears.
const DELETED_REFRESH: Duration = Duration::from_secs(60);

pub async fn run(
    args: DashboardArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, DashboardError> {
    // Every spec is read and checked before the server starts or AWS is called.
    let specs: Vec<AppSpec> = spec::list_apps(&global.stacks_dir)?
        .iter()
        .map(|app| spec::load_app(&global.stacks_dir, app))
        .collect::<Result<_, _>>()?;
    // A name (localhost) is resolved here; the first of its addresses that binds is served.
    let listener = tokio::net::TcpListener::bind(args.listen.as_str())
        .await
        .map_err(|source| DashboardError::Listen {
            address: args.listen.clone(),
            source,
        })?;
    let address = listener
        .local_addr()
        .map_err(|source| DashboardError::Listen {
            address: args.listen.clone(),
            source,
        })?;
    if !address.ip().is_loopback() {
        eprintln!(
            "{} serving on {address}, which other machines may reach: the page has no login and shows every app's accounts, stacks and traffic",
            settings.stderr_palette().warning("warning:")
        );
    }
    let reader = Arc::new(Reader {
        specs,
        global: global.clone(),
        contexts: Contexts::default(),
        deleted: Mutex::new(HashMap::new()),
    });
    // Served at once, the first read follows: one slow account does not hold the page up, and
    // Ctrl-C works from the start.
    let pending = DashboardView {
        read_at: SystemTime::now(),
        apps: reader
            .specs
            .iter()
            .map(|spec| model::pending_app(&spec.name))
            .collect(),
    };
    let (publish, views) = watch::channel(Arc::new(pending));
    let publish = Arc::new(publish);
    // The address on stdout (data: a script or test reads it, e.g. with --listen 127.0.0.1:0),
    // the rest on stderr.
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "http://{address}/");
        let _ = stdout.flush();
    }
    if settings.verbosity >= 0 {
        eprintln!(
            "dashboard of {} apps at http://{address}/ (read-only, every {}; Ctrl-C stops it)",
            reader.specs.len(),
            humantime::format_duration(args.interval)
        );
    }
    let refresher = tokio::spawn({
        let reader = reader.clone();
        let publish = publish.clone();
        async move {
            let mut first = true;
            loop {
                // Read while someone looks: an open page's event stream (or a request) holds a
                // receiver besides the server's own. Idle, nothing is read.
                if first || publish.receiver_count() > 1 {
                    let view = reader.read_all().await;
                    publish.send_replace(Arc::new(view));
                    first = false;
                }
                tokio::time::sleep(args.interval).await;
            }
        }
    });
    let routes = Router::new()
        .route("/", get(overview))
        .route("/apps/{app}", get(app_page))
        .route("/apps/{app}/releases/{stack}", get(release_page))
        .route("/events", get(events))
        .route("/api/dashboard.json", get(dashboard_json))
        .layer(axum::middleware::from_fn_with_state(
            address,
            only_this_host,
        ))
        .with_state(Served {
            reader,
            views,
            publish,
            interval: args.interval,
        });
    let served = axum::serve(listener, routes)
        .with_graceful_shutdown(crate::interrupt::requested())
        .await;
    refresher.abort();
    served.map_err(DashboardError::Serve)?;
    Ok(Exit::Success)
}

/// Looks at the apps; shared by the refresher and the per-request pages.
struct Reader {
    specs: Vec<AppSpec>,
    global: GlobalArgs,
    contexts: Contexts,
    /// Per app: its deleted releases as last listed.
    deleted: Mutex<HashMap<String, DeletedListing>>,
}

/// When an app's deleted stacks were listed, the release stacks that existed then, and what was
/// found.
type DeletedListing = (Instant, Vec<String>, DeletedReleases);

impl Reader {
    /// Every app, read at once. `read_at` is when the reading started: a page compares it with
    /// its own (see [`page`]'s script), and what was read can be no newer than that.
    async fn read_all(&self) -> DashboardView {
        let started = SystemTime::now();
        let apps = futures_util::future::join_all(
            self.specs
                .iter()
                .map(|spec| async move { self.read_app(spec).await.0 }),
        )
        .await;
        DashboardView {
            read_at: started,
            apps,
        }
    }

    /// One app's view and history. What cannot be read is said in the view, never an error:
    /// one app's account being unreachable does not blank the page.
    async fn read_app(&self, spec: &AppSpec) -> (AppView, Vec<Entry>) {
        let options = ConnectOptions::for_app(&self.global, spec);
        let context = match self.contexts.get(&options).await {
            Ok(context) => context,
            Err(error) => {
                let place = Place {
                    account: None,
                    region: options.region.clone(),
                };
                return (
                    model::unreadable_app(&spec.name, place, error_line(&error)),
                    Vec::new(),
                );
            }
        };
        let place = Place {
            account: context.account().await,
            region: context.region().map(str::to_string),
        };
        let app = match observe_app(&context, spec).await {
            Ok(app) => app,
            Err(error) => {
                return (
                    model::unreadable_app(&spec.name, place, error_line(&error)),
                    Vec::new(),
                )
            }
        };
        let ssm = Ssm::new(&context);
        let deleted = self.deleted_of(&context, spec, &app).await;
        let entries = app_history::entries(&app, &deleted, &app.marks);
        let lock_holder = match AppLocks::new(ssm.clone()).holder(&spec.name).await {
            Ok(Some(record)) if record.is_expired(SystemTime::now()) => {
                Some(format!("{record} (expired: `cutover unlock` breaks it)"))
            }
            Ok(record) => record.map(|record| record.to_string()),
            Err(error) => {
                tracing::warn!("{}", error_line(&error));
                None
            }
        };
        let mut view = model::app_view(&app, &entries, place, lock_holder);
        let can_hold = matches!(
            &spec.router,
            RouterSpec::Alb {
                test_traffic: Some(_),
                ..
            }
        );
        if can_hold {
            if let Ok(Some(hold)) = crate::route::hold::read(&ssm, &spec.name).await {
                view.held = Some(format!(
                    "{} ({}: {}), by {}",
                    hold.candidate, hold.header, hold.value, hold.held_by
                ));
            }
        }
        (view, entries)
    }

    /// The app's deleted releases, listed again when a release stack has gone since the last
    /// listing or after [`DELETED_REFRESH`].
    async fn deleted_of(
        &self,
        context: &crate::aws::AwsContext,
        spec: &AppSpec,
        app: &crate::release::live::AppReleases,
    ) -> DeletedReleases {
        let existing: Vec<String> = app
            .releases
            .iter()
            .map(|release| release.name().to_string())
            .collect();
        {
            let cache = self.deleted.lock().await;
            if let Some((listed_at, then, found)) = cache.get(&spec.name) {
                let gone = then.iter().any(|stack| !existing.contains(stack));
                if !gone && listed_at.elapsed() < DELETED_REFRESH {
                    return found.clone();
                }
            }
        }
        match app_history::read_deleted(context, spec).await {
            Ok(found) => {
                self.deleted
                    .lock()
                    .await
                    .insert(spec.name.clone(), (Instant::now(), existing, found.clone()));
                found
            }
            Err(error) => {
                tracing::warn!("{}", error_line(&error));
                DeletedReleases::default()
            }
        }
    }

    fn spec(&self, app: &str) -> Option<&AppSpec> {
        self.specs.iter().find(|spec| spec.name == app)
    }
}

#[derive(Clone)]
struct Served {
    reader: Arc<Reader>,
    views: watch::Receiver<Arc<DashboardView>>,
    publish: Arc<watch::Sender<Arc<DashboardView>>>,
    interval: Duration,
}

impl Served {
    /// The newest view, read again first when it is older than two intervals (nobody was
    /// looking, so the refresher was idle).
    async fn fresh_view(&self) -> Arc<DashboardView> {
        let view = self.views.borrow().clone();
        let stale = view
            .read_at
            .elapsed()
            .map_or(true, |age| age > self.interval * 2);
        if !stale || view.apps.iter().any(|app| app.reading) {
            return view;
        }
        let view = Arc::new(self.reader.read_all().await);
        self.publish.send_replace(view.clone());
        view
    }
}

async fn overview(State(served): State<Served>) -> Html<String> {
    Html(page::overview(&*served.fresh_view().await))
}

async fn app_page(State(served): State<Served>, Path(app): Path<String>) -> Response {
    let Some(spec) = served.reader.spec(&app) else {
        return not_found(&format!("no app {app} in the stacks folder"));
    };
    let started = SystemTime::now();
    let (view, entries) = served.reader.read_app(spec).await;
    Html(page::app_page(&view, &entries, started)).into_response()
}

async fn release_page(
    State(served): State<Served>,
    Path((app, stack)): Path<(String, String)>,
) -> Response {
    let Some(spec) = served.reader.spec(&app) else {
        return not_found(&format!("no app {app} in the stacks folder"));
    };
    // Only the app's own release stacks: the page is not a window on any stack of the account.
    if crate::release::parse_stack_name(&app, &stack).is_err() {
        return not_found(&format!("{stack} is not a release stack of app {app}"));
    }
    let options = ConnectOptions::for_app(&served.reader.global, spec);
    let events = match served.reader.contexts.get(&options).await {
        Ok(context) => {
            let stacks = CloudFormation::new(&context);
            // Its own tags must say it is this app's release (a name alone could be another
            // app's, `web-api-r1`, or no release at all).
            match stacks.describe_stack(&stack).await {
                Ok(Some(facts)) if is_release_of(&facts, &app) => stacks
                    .stack_events(&stack, None)
                    .await
                    .map_err(|error| error_line(&error)),
                Ok(_) => return not_found(&format!("{stack} is not a release stack of app {app}")),
                Err(error) => Err(error_line(&error)),
            }
        }
        Err(error) => Err(error_line(&error)),
    };
    let (bars, error) = match events {
        Ok(events) => (model::resource_bars(&events), None),
        Err(error) => (Vec::new(), Some(error)),
    };
    Html(page::release_page(
        &app,
        &stack,
        &bars,
        error.as_deref(),
        SystemTime::now(),
    ))
    .into_response()
}

/// The newest view at once, then each changed one, as `snapshot` events whose data is
/// [`page::live_parts`] as JSON.
async fn events(
    State(served): State<Served>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let stream =
        futures_util::stream::unfold((served.views, true), |(mut views, first)| async move {
            if !first {
                views.changed().await.ok()?;
            }
            let view = views.borrow_and_update().clone();
            let data = serde_json::to_string(&page::live_parts(&view)).ok()?;
            Some((
                Ok(Event::default().event("snapshot").data(data)),
                (views, false),
            ))
        });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn dashboard_json(State(served): State<Served>) -> Response {
    let view = served.fresh_view().await;
    let json = serde_json::to_string_pretty(&*view).expect("views always serialize");
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::output::secrets::scrub(&json).into_owned(),
    )
        .into_response()
}

fn not_found(why: &str) -> Response {
    (StatusCode::NOT_FOUND, why.to_string()).into_response()
}

fn is_release_of(facts: &crate::aws::cloudformation::StackFacts, app: &str) -> bool {
    let pairs = facts.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    matches!(
        crate::release::ReleaseTags::from_stack_tags(pairs),
        Ok(Some(tags)) if tags.app == app
    )
}

/// Answers only requests addressed to the dashboard itself: on a loopback address, a `Host`
/// other than a loopback name is refused (421), so a web page elsewhere cannot read the
/// dashboard through DNS rebinding. Every answer says `nosniff`.
async fn only_this_host(
    State(address): State<SocketAddr>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if address.ip().is_loopback() {
        let host = request
            .headers()
            .get(axum::http::header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if !is_loopback_host(host) {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                "this dashboard answers requests to localhost only",
            )
                .into_response();
        }
    }
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    response
}

/// `127.0.0.1:8080`, `localhost`, `[::1]:8080`: a loopback name, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port))
            if !name.is_empty()
                && port.chars().all(|c| c.is_ascii_digit())
                && !host.ends_with(']') =>
        {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_names_are_this_host() {
        for host in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]:8080",
            "[::1]",
            "127.0.0.2",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "attacker.example.com",
            "attacker.example.com:8080",
            "10.0.0.1:8080",
            "",
            "localhost.evil.com",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
