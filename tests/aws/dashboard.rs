//! `cutover dashboard`, `deploy --report` and `history --html` in a real headless browser
//! (Debian's Chromium, driven through ChromeDriver by the `fantoccini` WebDriver client), against
//! moto, on the routing tests' shared load balancer (`web` on a host rule, `api` on a path rule).
//!
//! Without Chromium and ChromeDriver the browser test fails, saying so, unless
//! `CUTOVER_BROWSER_TESTS=skip` (what `scripts/test` sets when it cannot install them). The
//! screenshot is saved to `target/test-artifacts/dashboard.png`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::json;

use crate::routing::world::{show, text, Account, ALB_RELEASE};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn web_spec(strategy: &str) -> String {
    format!(
        "[router]\nkind = \"alb\"\nrule = {{ stack_output = \"base\", output = \"WebRuleArn\" }}\ntarget_group_output = \"TargetGroupArn\"\n{strategy}\n[retention]\nkeep = 1\n"
    )
}

/// A canary of 10 % held for `bake`, behind a gate command that passes.
fn canary(bake: &str) -> String {
    format!(
        "[strategy]\nkind = \"canary\"\npercent = 10\nbake = \"{bake}\"\nfinal_bake = \"0s\"\n\n[gates]\ncommand = \"true\"\ninterval = \"1s\"\nwarmup = \"0s\"\n"
    )
}

/// Whether the browser can run here; `None` means go on, `Some(why)` means skip (only when
/// asked to), else the test fails saying what is missing.
fn browser_missing() -> Option<String> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return None;
    }
    let why = format!(
        "no browser for the dashboard test: {} not installed (Debian: `apt-get install chromium chromium-driver`; scripts/test installs them where it can)",
        missing.join(" and ")
    );
    if std::env::var("CUTOVER_BROWSER_TESTS").as_deref() == Ok("skip") {
        return Some(why);
    }
    panic!("{why}; set CUTOVER_BROWSER_TESTS=skip to skip this test");
}

/// ChromeDriver on a free loopback port, and a headless Chromium session through it with no
/// network but loopback (the flags the machine's notes give: no background networking).
struct Browser {
    driver: Child,
    client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,1400",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let capabilities = capabilities.as_object().unwrap().clone();
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connected =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities.clone())
                    .connect(&format!("http://127.0.0.1:{port}"))
                    .await;
            match connected {
                Ok(client) => break client,
                Err(error) if Instant::now() > deadline => {
                    panic!("could not start a Chromium session: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Browser {
            driver,
            client,
            _profile: profile,
        }
    }

    /// The text of every element `css` matches, read at once in the page (the live parts are
    /// replaced while the page follows the server, so elements found one call earlier may be
    /// gone by the next).
    async fn texts(&self, css: &str) -> Vec<String> {
        let found = self
            .client
            .execute(
                "return Array.from(document.querySelectorAll(arguments[0])).map(e => (e.innerText === undefined ? e.textContent : e.innerText).trim().replace(/\\s+/g, ' '));",
                vec![json!(css)],
            )
            .await
            .unwrap();
        serde_json::from_value(found).unwrap()
    }

    /// The traffic cell of a release on the overview, `None` while it has no row.
    async fn weight_of(&self, stack: &str) -> Option<String> {
        self.texts(&format!("#app-web tr[data-stack='{stack}'] td.weight"))
            .await
            .into_iter()
            .next()
    }

    async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `cutover dashboard --listen 127.0.0.1:0`, and the address it printed on stdout.
fn start_dashboard(account: &Account) -> (Child, String) {
    let mut child = account.spawn(&["dashboard", "--listen", "127.0.0.1:0", "--interval", "1s"]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("the dashboard's address");
    if !line.starts_with("http://127.0.0.1:") {
        let output = child.wait_with_output().unwrap();
        panic!("stdout: {line:?}; {}", show(&output));
    }
    (child, line.trim().to_string())
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_follows_a_canary_and_a_rollback_in_a_real_browser() {
    if let Some(why) = browser_missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let account = Account::new("shared-alb.yaml").await;
    account.write_app(
        "web",
        ALB_RELEASE,
        &web_spec("[strategy]\nkind = \"all-at-once\"\n"),
    );
    let first = account.cutover(&["deploy", "web", "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    account.write_app("web", ALB_RELEASE, &web_spec(&canary("5s")));

    let (mut dashboard, url) = start_dashboard(&account);
    let browser = Browser::start().await;
    browser.client.goto(&url).await.unwrap();
    assert_eq!(browser.texts("#app-web h2").await, ["web"]);
    assert_eq!(browser.weight_of("web-r1").await.as_deref(), Some("100%"));
    // A mark on the window: a reload would lose it.
    browser
        .client
        .execute(
            "window.cutoverNoReload = 'still here'; return true;",
            vec![],
        )
        .await
        .unwrap();

    // A canary deploy while the page is open: the page shows web-r2 at 10 %, then at 100 %.
    let report = tempfile::tempdir().unwrap();
    let report_file = report.path().join("deploy.html");
    let deploy = account.spawn(&[
        "deploy",
        "web",
        "--release",
        "r2",
        "--yes",
        "--report",
        report_file.to_str().unwrap(),
    ]);
    let mut seen: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while seen.last().map(String::as_str) != Some("100%") {
        assert!(
            Instant::now() < deadline,
            "the page showed web-r2 as {seen:?}"
        );
        if let Some(weight) = browser.weight_of("web-r2").await {
            if seen.last() != Some(&weight) {
                seen.push(weight);
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let deployed = deploy.wait_with_output().unwrap();
    assert_eq!(deployed.status.code(), Some(0), "{}", show(&deployed));
    assert!(
        seen.contains(&"10%".to_string()),
        "the page never showed the canary step: {seen:?}"
    );
    let still = browser
        .client
        .execute("return window.cutoverNoReload || null;", vec![])
        .await
        .unwrap();
    assert_eq!(still, json!("still here"), "the page was reloaded");

    // A rollback to r1: the page shows r1 live at 100 %.
    let back = account.cutover(&["rollback", "web", "--to", "r1", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", show(&back));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = browser
            .texts("#app-web tr[data-stack='web-r1'] td")
            .await
            .join(" ");
        if live.contains("live") && live.contains("100%") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "web-r1 after the rollback: {live}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(browser.texts("#app-api h2").await, Vec::<String>::new());

    // The app's page: its timeline has the steps in order.
    browser
        .client
        .goto(&format!("{url}apps/web"))
        .await
        .unwrap();
    let timeline = browser.texts("ol.timeline li").await;
    let position = |wanted: &str| {
        timeline
            .iter()
            .position(|line| line.contains(wanted))
            .unwrap_or_else(|| {
                panic!(
                    "no {wanted:?} in the timeline: {timeline:#?}\nsnapshot: {}",
                    text(
                        &std::process::Command::new("curl")
                            .args(["-s", &format!("{url}api/dashboard.json")])
                            .output()
                            .unwrap()
                            .stdout
                    )
                )
            })
    };
    let r1_created = position("web-r1: created");
    let r2_created = position("web-r2: created");
    let r2_canary = position("web-r2: 10% of the traffic");
    let r2_all = position("web-r2: took all the traffic");
    let r2_back = position("web-r2: rolled back from");
    let r1_again = timeline
        .iter()
        .rposition(|line| line.contains("web-r1: took all the traffic"))
        .unwrap();
    assert!(
        r1_created < r2_created
            && r2_created < r2_canary
            && r2_canary < r2_all
            && r2_all < r1_again,
        "{timeline:#?}"
    );
    assert!(r2_all < r2_back, "{timeline:#?}");
    let lanes = browser.texts("svg.timeline g.lane").await;
    assert_eq!(lanes.len(), 2, "one lane per release: {lanes:?}");
    let screenshot = browser.client.screenshot().await.unwrap();
    assert!(screenshot.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(artifacts().join("dashboard.png"), &screenshot).unwrap();

    // A release's page: its stack's events as bars (moto has stack-level events only; the
    // failed-deploy test below has a resource's).
    browser
        .client
        .goto(&format!("{url}apps/web/releases/web-r1"))
        .await
        .unwrap();
    let rows = browser
        .texts("table.resources tr[data-outcome='complete']")
        .await;
    assert!(
        rows.iter()
            .any(|row| row.starts_with("web-r1 AWS::CloudFormation::Stack create")),
        "{rows:?}"
    );
    assert_eq!(
        browser.texts("svg.resources g.resource").await.len(),
        rows.len()
    );

    // Read-only: nothing but GET.
    let posted = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            &url,
        ])
        .output()
        .unwrap();
    assert_eq!(text(&posted.stdout), "405");
    let code = |extra: &[&str], path: &str| {
        let mut args = vec!["-s", "-o", "/dev/null", "-w", "%{http_code}"];
        args.extend_from_slice(extra);
        let target = format!("{url}{path}");
        args.push(&target);
        text(
            &std::process::Command::new("curl")
                .args(&args)
                .output()
                .unwrap()
                .stdout,
        )
    };
    // Another site's page cannot read it through DNS rebinding; only the app's own release
    // stacks have pages.
    assert_eq!(
        code(&["-H", "Host: attacker.example.com"], "api/dashboard.json"),
        "421"
    );
    assert_eq!(code(&[], "apps/web/releases/web-nope"), "404");
    assert_eq!(code(&[], "apps/web/releases/base"), "404");
    assert_eq!(code(&[], "apps/nobody"), "404");

    // The deploy's report opens in the same browser from the file, with no request at all.
    let report_html = std::fs::read_to_string(&report_file).unwrap();
    assert!(!report_html.contains("http://") || !report_html.contains("src=\"http"));
    browser
        .client
        .goto(&format!("file://{}", report_file.display()))
        .await
        .unwrap();
    let steps = browser
        .texts("table.steps tr[data-kind='weights'] td:nth-child(3)")
        .await;
    assert_eq!(steps, ["10%", "100%"], "the report's traffic steps");
    let gates = browser.texts("table.steps tr[data-kind='gates']").await;
    assert!(
        !gates.is_empty() && gates.iter().all(|line| line.contains("passed")),
        "{gates:?}"
    );
    let stack_rows = browser.texts("table.resources td:first-child").await;
    assert!(stack_rows.contains(&"web-r2".to_string()), "{stack_rows:?}");
    let requests = browser
        .client
        .execute(
            "return performance.getEntriesByType('resource').length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(requests, json!(0), "the report loaded something");
    std::fs::write(
        artifacts().join("deploy-report.png"),
        browser.client.screenshot().await.unwrap(),
    )
    .unwrap();

    browser.stop().await;
    let _ = dashboard.kill();
    let _ = dashboard.wait();
}

#[tokio::test]
async fn history_html_is_one_file_with_the_timeline_and_no_asset_from_elsewhere() {
    let account = Account::new("shared-alb.yaml").await;
    account.write_app(
        "web",
        ALB_RELEASE,
        &web_spec("[strategy]\nkind = \"all-at-once\"\n"),
    );
    for release in ["r1", "r2"] {
        let mut args = vec!["deploy", "web", "--release", release, "--yes"];
        if release == "r1" {
            args.push("--adopt");
        }
        let deployed = account.cutover(&args);
        assert_eq!(deployed.status.code(), Some(0), "{}", show(&deployed));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("history.html");
    let run = account.cutover(&["history", "web", "--html", file.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert!(
        text(&run.stdout).contains("web-r2"),
        "the text still goes to stdout"
    );
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html:.80}");
    for wanted in [
        "web-r1: created",
        "web-r2: took all the traffic (100%)",
        "<svg class=\"timeline\"",
        "<svg class=\"weights\"",
    ] {
        assert!(html.contains(wanted), "no {wanted:?} in the history page");
    }
    assert!(
        html.find("web-r1: took all the traffic").unwrap() < html.find("web-r2: created").unwrap(),
        "timeline in order: {}",
        &html[html.find("<ol").unwrap_or(0)..]
    );
    for outside in [
        "src=\"http",
        "href=\"http",
        "<script",
        "@import",
        "url(http",
    ] {
        assert!(!html.contains(outside), "the page loads {outside}");
    }
    // A deploy whose report cannot be written stops before it changes anything.
    let creates = account.creates();
    let refused = account.cutover(&[
        "deploy",
        "web",
        "--release",
        "r3",
        "--yes",
        "--report",
        "/nonexistent-dir/r.html",
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains("/nonexistent-dir/r.html"),
        "{}",
        show(&refused)
    );
    assert_eq!(account.creates(), creates, "nothing created");
    // A path that cannot be written: exit 2 naming it (the text was printed first).
    let bad = account.cutover(&["history", "web", "--html", "/nonexistent-dir/h.html"]);
    assert_eq!(bad.status.code(), Some(2), "{}", show(&bad));
    assert!(text(&bad.stdout).contains("web-r2"), "{}", show(&bad));
    assert!(
        text(&bad.stderr).contains("/nonexistent-dir/h.html"),
        "{}",
        show(&bad)
    );
}

#[tokio::test]
async fn a_failed_deploys_report_marks_the_resource_that_failed_and_why() {
    use crate::support::FailMode;
    let account = Account::new("shared-alb.yaml").await;
    account.write_app(
        "web",
        ALB_RELEASE,
        &web_spec("[strategy]\nkind = \"all-at-once\"\n"),
    );
    let first = account.cutover(&["deploy", "web", "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    account.proxy.fail_stack(
        "web-r2",
        FailMode::CreateFailed {
            resource: "Group".into(),
            reason: "quota of target groups exceeded".into(),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    let run = account.cutover(&[
        "deploy",
        "web",
        "--release",
        "r2",
        "--yes",
        "--keep-failed",
        "--report",
        file.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.contains("did not succeed"), "{html}");
    assert!(
        html.contains("The cutover did not start."),
        "no traffic step: {html}"
    );
    // The resource's bar is marked failed (hatched, with a cross) and its row says why.
    let row = &html[html
        .find("<tr data-outcome=\"failed\"><td>Group</td>")
        .expect("Group failed")..];
    assert!(row[..row.find("</tr>").unwrap()].contains("quota of target groups exceeded"));
    assert!(
        html.contains("data-logical-id=\"Group\" data-outcome=\"failed\""),
        "{html}"
    );
    assert!(html.contains("✕ FAILED"), "{html}");
    assert!(html.contains("fill=\"url(#resources-hatch)\""), "{html}");
}

/// One HTTP/1.0 GET over a plain socket: the status line.
fn get_status_line(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let host = address
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut socket = std::net::TcpStream::connect(&host).expect("the dashboard accepts");
    write!(socket, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = socket.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn the_dashboard_listens_on_a_host_name_or_a_bare_port_and_refuses_a_bad_address() {
    let account = Account::new("shared-alb.yaml").await;
    account.write_app(
        "web",
        ALB_RELEASE,
        &web_spec("[strategy]\nkind = \"all-at-once\"\n"),
    );
    for listen in ["localhost:0", "0"] {
        let mut child = account.spawn(&["dashboard", "--listen", listen]);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let address = line.trim().to_string();
        let loopback =
            address.starts_with("http://127.0.0.1:") || address.starts_with("http://[::1]:");
        let status = loopback.then(|| get_status_line(&address, "/api/dashboard.json"));
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        assert!(loopback, "--listen {listen}: {line:?}; {}", show(&output));
        assert!(
            status.as_deref().is_some_and(|line| line.contains(" 200 ")),
            "--listen {listen}: {status:?}"
        );
        assert!(
            !text(&output.stderr).contains("warning:"),
            "a loopback address is served without the warning: {}",
            show(&output)
        );
    }
    for (listen, says) in [
        (
            "nosuchhost.invalid:8080",
            "could not listen on nosuchhost.invalid:8080",
        ),
        ("localhost:http", "\"http\" is not a port"),
        ("::1:8080", "in brackets"),
        ("localhost", "expected HOST:PORT"),
    ] {
        let refused = account.cutover(&["dashboard", "--listen", listen]);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "--listen {listen}: {}",
            show(&refused)
        );
        assert!(
            text(&refused.stderr).contains(says),
            "--listen {listen}: {}",
            show(&refused)
        );
    }
}
