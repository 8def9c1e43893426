//! See `super`.

use std::collections::BTreeMap;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use crate::reliability::state::{differences, snapshot};
use crate::routing::world::{host_rules_base, show, text, Account, ALB_RELEASE, DNS_RELEASE};
use crate::support::FailMode;

// ---------------------------------------------------------------------------------------------
// Worlds

/// Where an app's traffic goes.
#[derive(Debug, Clone)]
enum Route {
    /// A listener rule (ARN).
    Rule(String),
    /// A weighted name in a hosted zone.
    Dns { zone: String, name: String },
}

/// One app of a test account, as the convergence check looks at it.
struct App<'a> {
    account: &'a Account,
    name: String,
    route: Route,
    keep: usize,
}

/// The gates every app here has: one CloudWatch alarm (OK unless a test flips it), checked every
/// second, no warm-up.
fn gates(alarm: &str) -> String {
    format!("[gates]\nalarms = [\"{alarm}\"]\ninterval = \"1s\"\nwarmup = \"0s\"\n")
}

/// A canary of 10 % for `bake`, then 100 % for `final_bake`; stickiness (the web rule has 2 s)
/// does not stretch the steps.
fn canary(bake: &str, final_bake: &str) -> String {
    format!("[strategy]\nkind = \"canary\"\npercent = 10\nbake = \"{bake}\"\nfinal_bake = \"{final_bake}\"\nhold_for_stickiness = false\n")
}

fn all_at_once(final_bake: &str) -> String {
    format!("[strategy]\nkind = \"all-at-once\"\nfinal_bake = \"{final_bake}\"\nhold_for_stickiness = false\n")
}

/// App `web` of `shared-alb.yaml` on its listener rule (which forwarded to `LegacyWeb` before
/// cutover).
fn web_spec(strategy: &str, keep: usize) -> String {
    format!(
        "[router]\nkind = \"alb\"\nrule = {{ stack_output = \"base\", output = \"WebRuleArn\" }}\ntarget_group_output = \"TargetGroupArn\"\n\n{strategy}\n{}\n[retention]\nkeep = {keep}\n",
        gates("web-5xx")
    )
}

/// `shared-alb.yaml` with app `web` onboarded: its first release r1 adopted the rule's legacy
/// target group and took all the traffic. The spec is then `web_spec(strategy, keep)`.
async fn web_with_r1(strategy: &str, keep: usize) -> (Account, Route) {
    let account = Account::new("shared-alb.yaml").await;
    account.put_alarm("web-5xx").await;
    account.write_app("web", ALB_RELEASE, &web_spec(&all_at_once("0s"), keep));
    let first = account.cutover(&["deploy", "web", "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    account.write_app("web", ALB_RELEASE, &web_spec(strategy, keep));
    let rule = account.output("base", "WebRuleArn").await;
    (account, Route::Rule(rule))
}

impl<'a> App<'a> {
    fn new(account: &'a Account, name: &str, route: &Route, keep: usize) -> App<'a> {
        App {
            account,
            name: name.to_string(),
            route: route.clone(),
            keep,
        }
    }

    fn stack(&self, release: &str) -> String {
        format!("{}-{release}", self.name)
    }

    /// The app's release stacks that exist (tagged `cutover:app`, not deleted): name → (status,
    /// creation time in seconds, outputs).
    async fn releases(&self) -> BTreeMap<String, Release> {
        let described = self
            .account
            .cloudformation()
            .describe_stacks()
            .send()
            .await
            .expect("describe_stacks");
        let mut releases = BTreeMap::new();
        for stack in described.stacks() {
            let status = stack
                .stack_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            let ours = stack
                .tags()
                .iter()
                .any(|tag| tag.key() == Some("cutover:app") && tag.value() == Some(&self.name));
            if !ours || status == "DELETE_COMPLETE" {
                continue;
            }
            let outputs = stack
                .outputs()
                .iter()
                .map(|output| {
                    (
                        output.output_key().unwrap_or_default().to_string(),
                        output.output_value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let created = stack
                .creation_time()
                .map(|time| time.as_secs_f64())
                .unwrap_or_default();
            releases.insert(
                stack.stack_name().unwrap_or_default().to_string(),
                Release {
                    status,
                    created,
                    outputs,
                },
            );
        }
        releases
    }

    async fn parameter(&self, name: &str) -> Option<String> {
        aws_sdk_ssm::Client::new(&self.account.sdk)
            .get_parameter()
            .name(name)
            .send()
            .await
            .ok()
            .and_then(|got| got.parameter().and_then(|p| p.value().map(str::to_string)))
    }

    async fn lock(&self) -> Option<String> {
        self.parameter(&format!("/cutover/locks/{}", self.name))
            .await
    }

    async fn baseline(&self) -> Option<String> {
        self.parameter(&format!("/cutover/baselines/{}", self.name))
            .await
    }

    async fn mark(&self, stack: &str) -> Option<serde_json::Value> {
        self.parameter(&format!("/cutover/marks/{}/{stack}", self.name))
            .await
            .map(|value| serde_json::from_str(&value).expect("a mark is JSON"))
    }

    /// Every entry of the route, named by its owner (a release stack, `baseline`, or `unowned
    /// <id>`), with its weight as the router holds it.
    async fn route(&self) -> BTreeMap<String, i64> {
        let releases = self.releases().await;
        let baseline = self.baseline().await.unwrap_or_default();
        let owner = |output: &str, id: &str| -> String {
            releases
                .iter()
                .find(|(_, release)| release.outputs.get(output).map(String::as_str) == Some(id))
                .map(|(name, _)| name.clone())
                .unwrap_or_else(|| {
                    if !baseline.is_empty() && baseline.contains(id) {
                        "baseline".to_string()
                    } else {
                        format!("unowned {id}")
                    }
                })
        };
        match &self.route {
            Route::Rule(rule) => self
                .account
                .rule(rule)
                .await
                .forward
                .into_iter()
                .map(|(group, weight)| (owner("TargetGroupArn", &group), weight as i64))
                .collect(),
            Route::Dns { zone, name } => self
                .account
                .records(zone, name)
                .await
                .into_iter()
                .map(|(id, weight, value)| {
                    let who = match id {
                        Some(id) if id == "baseline" || releases.contains_key(&id) => id,
                        Some(id) => format!("unowned {id}"),
                        None => format!("unowned plain {value}"),
                    };
                    (who, weight.unwrap_or(100))
                })
                .collect(),
        }
    }

    /// The release's share of the route in percent (0 when it is not in it).
    async fn weight_of(&self, release: &str) -> i64 {
        let route = self.route().await;
        let total: i64 = route.values().sum();
        if total == 0 {
            return 0;
        }
        route.get(&self.stack(release)).copied().unwrap_or(0) * 100 / total
    }

    /// `cutover status APP --output json`.
    fn status(&self) -> serde_json::Value {
        self.account.status(&self.name)
    }

    /// The convergence check, after the recovery run: exactly one release (or the baseline)
    /// takes all the traffic and is a healthy stack; every other release stack of the app is
    /// kept by retention (a retained release older than the live one, at most `keep` of them,
    /// or a release marked failed, kept for inspection); nothing is half created or half
    /// deleted; the lock is free. Returns the owner of the traffic.
    async fn assert_converged(&self) -> String {
        let route = self.route().await;
        let releases = self.releases().await;
        let status = self.status();
        let context = format!(
            "app {}: route {route:?}\nreleases {releases:?}\nstatus {status:#}",
            self.name
        );
        // All the traffic on one entry.
        let with_traffic: Vec<&String> = route
            .iter()
            .filter(|(_, weight)| **weight > 0)
            .map(|(owner, _)| owner)
            .collect();
        let live = match with_traffic.as_slice() {
            [one] => (*one).clone(),
            // Route 53 reads all-zero weights as equal shares: one record at 0 is all of it.
            [] if route.len() == 1 => route.keys().next().unwrap().clone(),
            _ => panic!("the traffic is not on exactly one entry: {context}"),
        };
        assert!(
            !live.starts_with("unowned"),
            "the traffic goes to something that is neither a release nor the baseline: {context}"
        );
        let live_created = if live == "baseline" {
            assert!(
                self.baseline().await.is_some(),
                "the baseline has the traffic but is not recorded: {context}"
            );
            f64::MIN
        } else {
            let release = releases
                .get(&live)
                .unwrap_or_else(|| panic!("the live release {live} has no stack: {context}"));
            assert_eq!(
                release.status, "CREATE_COMPLETE",
                "the live release is not a healthy stack: {context}"
            );
            release.created
        };
        assert_eq!(
            status["live"], live,
            "cutover status agrees on what is live: {context}"
        );
        // Every other release is kept by retention, or is an orphan.
        let mut retained = Vec::new();
        for (name, release) in &releases {
            if *name == live {
                continue;
            }
            assert_eq!(
                release.status, "CREATE_COMPLETE",
                "{name} is half created or half deleted: {context}"
            );
            let mark = self.mark(name).await;
            let failed = mark.as_ref().is_some_and(|mark| mark["role"] == "failed");
            if failed {
                continue; // kept 24 h for inspection
            }
            assert!(
                release.created < live_created,
                "{name} is newer than the live {live}, has no traffic and is not marked failed: an orphan nobody will finish or retire: {context}\nmark {mark:?}"
            );
            retained.push(name.clone());
        }
        assert!(
            retained.len() <= self.keep,
            "more releases retained than keep = {}: {retained:?}: {context}",
            self.keep
        );
        // cutover itself sees no cutover under way and nothing to retire.
        for release in status["releases"].as_array().expect("releases") {
            let role = release["role"].as_str().unwrap_or_default();
            assert!(
                matches!(role, "live" | "retained" | "failed"),
                "{} has role {role}: {context}",
                release["stack"]
            );
        }
        assert_eq!(
            self.lock().await,
            None,
            "the lock is free after the recovery: {context}"
        );
        live
    }
}

#[derive(Debug, Clone)]
struct Release {
    status: String,
    created: f64,
    outputs: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// Killing

/// Polls `probe` every 50 ms until it gives a value; panics after `limit` naming `what`.
async fn until<T>(what: &str, limit: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGKILL, asserting the run was still going (a kill point that was missed fails the test).
fn kill(mut child: Child, phase: &str) -> Output {
    if let Some(status) = child.try_wait().expect("try_wait") {
        let output = child.wait_with_output().unwrap();
        panic!(
            "the run ended ({status}) before it could be killed {phase}: {}",
            show(&output)
        );
    }
    child.kill().expect("SIGKILL");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&output.status),
        Some(9),
        "{}",
        show(&output)
    );
    output
}

/// A killed run left its lock: the next deploy exits 3 at once naming the holder (its command
/// and pid) and creates nothing; `cutover unlock` shows the holder and breaks the lock.
async fn assert_lock_left_and_broken(app: &App<'_>, holder_command: &str, pid: u32) {
    let record = app
        .lock()
        .await
        .unwrap_or_else(|| panic!("the killed `{holder_command}` left no lock"));
    assert!(record.contains(holder_command), "{record}");
    let creates = app.account.creates();
    let blocked = app
        .account
        .cutover(&["deploy", &app.name, "--release", "blocked", "--yes"]);
    assert_eq!(blocked.status.code(), Some(3), "{}", show(&blocked));
    let said = text(&blocked.stderr);
    assert!(
        said.contains(&format!("`{holder_command}`")) && said.contains(&format!("pid {pid}")),
        "the holder is named: {}",
        show(&blocked)
    );
    assert!(
        said.contains(&format!("cutover unlock {}", app.name)),
        "{}",
        show(&blocked)
    );
    assert_eq!(
        app.account.creates(),
        creates,
        "a locked-out deploy creates nothing"
    );
    break_lock(app, holder_command, pid).await;
}

/// `cutover unlock APP` names the holder and breaks its lock.
async fn break_lock(app: &App<'_>, holder_command: &str, pid: u32) {
    let unlock = app.account.cutover(&["unlock", &app.name, "--yes"]);
    assert_eq!(unlock.status.code(), Some(0), "{}", show(&unlock));
    let said = format!("{}{}", text(&unlock.stdout), text(&unlock.stderr));
    assert!(
        said.contains(&format!("Broke the lock of app {}", app.name))
            && said.contains(&format!("`{holder_command}`"))
            && said.contains(&format!("pid {pid}")),
        "{}",
        show(&unlock)
    );
    assert_eq!(app.lock().await, None, "unlock removed the lock");
}

/// Follows a release's share of the route every 50 ms until it reaches `target`; returns every
/// distinct share seen on the way.
async fn ride(app: &App<'_>, release: &str, target: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    until(
        &format!("{} at {target}%", app.stack(release)),
        Duration::from_secs(60),
        async || {
            let weight = app.weight_of(release).await;
            if seen.last() != Some(&weight) {
                seen.push(weight);
            }
            (weight == target).then_some(())
        },
    )
    .await;
    seen
}

fn said(output: &Output) -> String {
    format!("{}{}", text(&output.stdout), text(&output.stderr))
}

fn assert_ok(output: &Output) {
    assert_eq!(output.status.code(), Some(0), "{}", show(output));
}

const DNS_NAME: &str = "web.routing.example.com";

fn dns_spec(strategy: &str) -> String {
    // Stickiness is the ALB's alone.
    let strategy = strategy.replace("hold_for_stickiness = false\n", "");
    format!(
        "[router]\nkind = \"route53\"\nhosted_zone_id = {{ stack_output = \"base\", output = \"ZoneId\" }}\nrecord_name = \"{DNS_NAME}\"\nttl = 30\nendpoint_output = \"Endpoint\"\n\n{strategy}\n{}\n[retention]\nkeep = 1\n",
        gates("web-5xx")
    )
}

/// App `web` behind Route 53: `zone.yaml`, the plain CNAME it had before cutover adopted by its
/// first release r1 (all at once). The spec is then `dns_spec(strategy)`, keep = 1.
async fn web_on_dns_with_r1(strategy: &str) -> (Account, Route) {
    let account = Account::new("zone.yaml").await;
    let zone = account.output("base", "ZoneId").await;
    let name = DNS_NAME;
    account
        .create_plain_cname(&zone, name, "legacy-lb.example.net")
        .await;
    account.put_alarm("web-5xx").await;
    account.write_app("web", DNS_RELEASE, &dns_spec(&all_at_once("0s")));
    let first = account.cutover(&["deploy", "web", "--release", "r1", "--adopt", "--yes"]);
    assert_ok(&first);
    account.write_app("web", DNS_RELEASE, &dns_spec(strategy));
    (
        account,
        Route::Dns {
            zone,
            name: name.to_string(),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Kill points

/// Killed while CreateStack is on its way (the proxy holds it 2 s: CloudFormation creates the
/// stack, the run never sees the answer). The lock is left; once it is broken, `resume` must
/// pick the dead run's release up (finish its cutover, or turn it back and mark it): the README
/// says a run that dies half way is picked up by `resume`, and `deploy` records the baseline
/// before CreateStack precisely so that "a run that dies after CreateStack leaves a cutover that
/// `resume` can finish or turn back".
#[tokio::test]
async fn a_deploy_killed_right_after_create_stack_was_sent_is_picked_up_by_resume() {
    let (account, route) = web_with_r1(&canary("1s", "0s"), 1).await;
    let app = App::new(&account, "web", &route, 1);
    let creates = account.creates();
    account.proxy.only_actions(&["CreateStack"]);
    account.proxy.set_latency(Duration::from_secs(2));
    let doomed = account.spawn(&["deploy", "web", "--release", "r2", "--yes"]);
    let pid = doomed.id();
    until(
        "the CreateStack of web-r2",
        Duration::from_secs(30),
        async || (account.creates() > creates).then_some(()),
    )
    .await;
    kill(doomed, "after CreateStack was sent");
    account.proxy.set_latency(Duration::ZERO);
    let r2 = app.stack("r2");
    until("web-r2 to exist", Duration::from_secs(10), async || {
        app.releases().await.contains_key(&r2).then_some(())
    })
    .await;
    assert_eq!(app.weight_of("r2").await, 0, "no traffic moved");
    assert_eq!(app.weight_of("r1").await, 100);
    assert_lock_left_and_broken(&app, "deploy web --release r2", pid).await;

    let resume = account.cutover(&["resume", "web", "--yes"]);
    assert_ok(&resume);
    app.assert_converged().await;
}

/// Killed while the release stack is still being created (the proxy shows it
/// CREATE_IN_PROGRESS and the run is polling it): no traffic moved, the lock is left naming the
/// deploy. Once it is broken and the stack is done, the next deploy converges.
#[tokio::test]
async fn a_deploy_killed_while_waiting_for_its_stack_leaves_traffic_alone_and_the_next_deploy_converges(
) {
    let (account, route) = web_with_r1(&canary("1s", "0s"), 1).await;
    let app = App::new(&account, "web", &route, 1);
    let r2 = app.stack("r2");
    account.proxy.fail_stack(&r2, FailMode::StuckCreating);
    let doomed = account.spawn(&["deploy", "web", "--release", "r2", "--yes"]);
    let pid = doomed.id();
    until(
        "web-r2 CREATE_IN_PROGRESS",
        Duration::from_secs(30),
        async || {
            app.releases()
                .await
                .get(&r2)
                .filter(|release| release.status == "CREATE_IN_PROGRESS")
                .map(|_| ())
        },
    )
    .await;
    let polls = || {
        account
            .proxy
            .requests_by_action()
            .get("DescribeStacks")
            .copied()
            .unwrap_or(0)
    };
    let before = polls();
    until(
        "the run to poll its stack",
        Duration::from_secs(30),
        async || (polls() > before + 1).then_some(()),
    )
    .await;
    kill(doomed, "while waiting for the stack");
    assert_eq!(app.weight_of("r1").await, 100, "{:?}", app.route().await);
    assert_lock_left_and_broken(&app, "deploy web --release r2", pid).await;
    account.proxy.clear_stack_fault(&r2);

    let next = account.cutover(&["deploy", "web", "--release", "r3", "--yes"]);
    assert_ok(&next);
    assert_eq!(app.assert_converged().await, app.stack("r3"));
}

/// Killed at every traffic step of a steps strategy (10 %, 50 %, 100 % in its final bake): the
/// deploy at 10 %, then each `resume` at the next step. Each resume starts from the weight the
/// dead run left (never back down), each leaves a lock naming it, and the last run converges.
#[tokio::test]
async fn killed_at_each_traffic_step_resume_goes_on_from_the_weight_it_finds_and_converges() {
    // Each step is held 2 s (the window to kill it in); the final bake 60 s.
    let steps = |final_bake: &str| {
        format!("[strategy]\nkind = \"steps\"\nweights = [10, 50, 100]\npause = \"2s\"\nfinal_bake = \"{final_bake}\"\nhold_for_stickiness = false\n")
    };
    let (account, route) = web_with_r1(&steps("60s"), 1).await;
    let app = App::new(&account, "web", &route, 1);

    let doomed = account.spawn(&["deploy", "web", "--release", "r2", "--yes"]);
    let pid = doomed.id();
    let seen = ride(&app, "r2", 10).await;
    assert_eq!(seen, [0, 10]);
    kill(doomed, "at the 10 % step");
    assert_eq!(app.weight_of("r1").await, 90, "{:?}", app.route().await);
    assert_lock_left_and_broken(&app, "deploy web --release r2", pid).await;

    for (from, to) in [(10, 50), (50, 100)] {
        let doomed = account.spawn(&["resume", "web", "--yes"]);
        let pid = doomed.id();
        let seen = ride(&app, "r2", to).await;
        assert!(
            seen.iter().all(|weight| *weight >= from),
            "resume went back below {from}%: {seen:?}"
        );
        kill(doomed, &format!("at the {to} % step"));
        assert_eq!(app.weight_of("r2").await, to, "{:?}", app.route().await);
        assert_lock_left_and_broken(&app, "resume web", pid).await;
    }

    account.write_app("web", ALB_RELEASE, &web_spec(&steps("0s"), 1));
    let last = account.cutover(&["resume", "web", "--yes"]);
    assert_ok(&last);
    assert_eq!(app.assert_converged().await, app.stack("r2"));
}

/// Killed in the final bake, with all the traffic on r2: the bake never ended, so r2 was never
/// proven. `resume` bakes it again, with r1 to turn back to; r2's alarm is in ALARM now, so all
/// the traffic goes back to r1 and r2 is marked failed.
#[tokio::test]
async fn a_deploy_killed_in_its_final_bake_is_baked_again_by_resume_and_turned_back_when_it_fails()
{
    let (account, route) = web_with_r1(&all_at_once("60s"), 1).await;
    let app = App::new(&account, "web", &route, 1);
    let doomed = account.spawn(&["deploy", "web", "--release", "r2", "--yes"]);
    let pid = doomed.id();
    ride(&app, "r2", 100).await;
    kill(doomed, "in the final bake");
    assert_lock_left_and_broken(&app, "deploy web --release r2", pid).await;
    account
        .set_alarm("web-5xx", aws_sdk_cloudwatch::types::StateValue::Alarm)
        .await;
    account.write_app("web", ALB_RELEASE, &web_spec(&all_at_once("2s"), 1));
    let resume = account.cutover(&["resume", "web", "--yes"]);
    assert_eq!(resume.status.code(), Some(1), "{}", show(&resume));
    assert!(
        said(&resume).contains("its final bake never ended"),
        "{}",
        show(&resume)
    );
    assert_eq!(app.weight_of("r1").await, 100, "{:?}", app.route().await);
    account
        .set_alarm("web-5xx", aws_sdk_cloudwatch::types::StateValue::Ok)
        .await;
    assert_eq!(app.assert_converged().await, app.stack("r1"));
    // Nothing is left to resume: r2 is marked failed, not baked again.
    let again = account.cutover(&["resume", "web", "--yes"]);
    assert_ok(&again);
    assert!(
        said(&again).contains("nothing to resume"),
        "{}",
        show(&again)
    );
}

/// A Route 53 deploy killed during its canary bake (after gate checks of the bake) leaves the
/// name split 90/10 and its lock. Once the lock is broken, the next deploy finishes that cutover
/// first, then deploys its own release: converged on r3.
#[tokio::test]
async fn a_dns_deploy_killed_during_a_bake_is_finished_by_the_next_deploy_before_its_own_release() {
    let (account, route) = web_on_dns_with_r1(&canary("60s", "0s")).await;
    let app = App::new(&account, "web", &route, 1);
    let doomed = account.spawn(&["deploy", "web", "--release", "r2", "--yes"]);
    let pid = doomed.id();
    ride(&app, "r2", 10).await;
    let checks = || {
        account
            .proxy
            .requests_by_action()
            .get("DescribeAlarms")
            .copied()
            .unwrap_or(0)
    };
    let at_step = checks();
    until(
        "two gate checks in the bake",
        Duration::from_secs(30),
        async || (checks() >= at_step + 2).then_some(()),
    )
    .await;
    kill(doomed, "during the bake");
    assert_eq!(app.weight_of("r2").await, 10, "{:?}", app.route().await);
    assert_eq!(app.weight_of("r1").await, 90, "{:?}", app.route().await);
    assert_lock_left_and_broken(&app, "deploy web --release r2", pid).await;

    account.write_app("web", DNS_RELEASE, &dns_spec(&canary("1s", "0s")));
    let next = account.cutover(&["deploy", "web", "--release", "r3", "--yes"]);
    assert_ok(&next);
    assert!(
        said(&next).contains("the unfinished cutover to web-r2 ended"),
        "{}",
        show(&next)
    );
    assert_eq!(app.assert_converged().await, app.stack("r3"));
}

/// Killed in retention (keep = 0) after the retiring r1 was taken out of the rule and before its
/// stack was deleted (the proxy holds the GetTemplate that comes between for 3 s): r1 is out of
/// the route, never routed again, still exists. The next deploy, once the lock is broken,
/// retires it.
#[tokio::test]
async fn a_deploy_killed_between_unrouting_and_deleting_a_retiring_release_the_next_deploy_retires_it(
) {
    let (account, route) = web_with_r1(&all_at_once("0s"), 0).await;
    let app = App::new(&account, "web", &route, 0);
    let r1 = app.stack("r1");
    let doomed = account.spawn(&["deploy", "web", "--release", "r2", "--yes"]);
    let pid = doomed.id();
    ride(&app, "r2", 100).await;
    account.proxy.only_actions(&["GetTemplate"]);
    account.proxy.set_latency(Duration::from_secs(3));
    until(
        "web-r1 out of the rule",
        Duration::from_secs(30),
        async || (!app.route().await.contains_key(&r1)).then_some(()),
    )
    .await;
    kill(doomed, "between unrouting and deleting web-r1");
    account.proxy.set_latency(Duration::ZERO);
    assert_eq!(
        app.releases().await.get(&r1).map(|r| r.status.as_str()),
        Some("CREATE_COMPLETE"),
        "web-r1 was not deleted yet"
    );
    assert_eq!(
        app.route().await,
        BTreeMap::from([(app.stack("r2"), 100)]),
        "web-r1 is out of the route"
    );
    assert_lock_left_and_broken(&app, "deploy web --release r2", pid).await;

    let next = account.cutover(&["deploy", "web", "--release", "r3", "--yes"]);
    assert_ok(&next);
    assert!(said(&next).contains("retired web-r1"), "{}", show(&next));
    assert!(!app.releases().await.contains_key(&r1));
    assert_eq!(app.assert_converged().await, app.stack("r3"));
}

/// Killed right after it took the lock, before it changed anything (from the moment the lock
/// exists every call is held 2 s, and the run dies within that): the account differs from before
/// by the lock parameter alone; a deploy exits 3 naming the holder, `unlock` breaks the lock and
/// leaves the account exactly as it was, and the same deploy then goes through.
#[tokio::test]
async fn a_run_killed_while_holding_the_lock_changed_nothing_else_and_unlock_breaks_it() {
    let (account, route) = web_with_r1(&canary("1s", "0s"), 1).await;
    let app = App::new(&account, "web", &route, 1);
    let before = snapshot(&account).await;
    let creates = account.creates();
    let doomed = account.spawn(&["deploy", "web", "--release", "r2", "--yes"]);
    let pid = doomed.id();
    until("the lock", Duration::from_secs(30), async || {
        let locked = app.lock().await.is_some();
        if locked {
            account.proxy.set_latency(Duration::from_secs(2));
        }
        locked.then_some(())
    })
    .await;
    kill(doomed, "while holding the lock");
    account.proxy.set_latency(Duration::ZERO);
    assert_eq!(account.creates(), creates, "killed before CreateStack");
    // Whatever the dead run had sent is through the proxy by now.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let killed = snapshot(&account).await;
    let changed = differences(&before, &killed);
    assert!(
        changed.len() == 1 && changed[0].starts_with("new: parameter /cutover/locks/web:"),
        "{changed:#?}"
    );
    assert_lock_left_and_broken(&app, "deploy web --release r2", pid).await;
    assert_eq!(
        differences(&before, &snapshot(&account).await),
        Vec::<String>::new()
    );

    let again = account.cutover(&["deploy", "web", "--release", "r2", "--yes"]);
    assert_ok(&again);
    assert_eq!(app.assert_converged().await, app.stack("r2"));
}

/// `web` with r1 and r2 deployed (r2 live), then a rollback to r1 whose gate checks the proxy
/// holds 2 s each.
async fn web_rolling_back() -> (Account, Route) {
    let (account, route) = web_with_r1(&all_at_once("0s"), 1).await;
    assert_ok(&account.cutover(&["deploy", "web", "--release", "r2", "--yes"]));
    account.proxy.only_actions(&["DescribeAlarms"]);
    account.proxy.set_latency(Duration::from_secs(2));
    (account, route)
}

/// A rollback killed under its lock while it checks the gates before moving anything: r2 keeps
/// all the traffic; once the lock is broken, the same rollback run again goes through.
#[tokio::test]
async fn a_rollback_killed_before_it_moved_traffic_is_done_by_running_it_again() {
    let (account, route) = web_rolling_back().await;
    let app = App::new(&account, "web", &route, 1);
    let doomed = account.spawn(&["rollback", "web", "--to", "r1", "--yes"]);
    let pid = doomed.id();
    until("the rollback's lock", Duration::from_secs(30), async || {
        app.lock().await
    })
    .await;
    kill(doomed, "during the rollback's gate check");
    // The gate check the dead run had sent is through by now: still nothing moved.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    account.proxy.set_latency(Duration::ZERO);
    assert_eq!(app.weight_of("r2").await, 100, "{:?}", app.route().await);
    assert_lock_left_and_broken(&app, "rollback web --to r1", pid).await;

    let again = account.cutover(&["rollback", "web", "--to", "r1", "--yes"]);
    assert_ok(&again);
    assert_eq!(app.assert_converged().await, app.stack("r1"));
    assert_eq!(
        app.mark("web-r2").await.unwrap()["role"],
        "failed",
        "rolled back from"
    );
}

/// A rollback refused half way through another cutover (r2 at 80 %, r3 at 20 %, a default target
/// that is neither) leaves no intent on the releases it would have left: once r3's cutover is
/// finished, r3 is an ordinary live release, not one rolled back from.
#[tokio::test]
async fn a_refused_rollback_leaves_no_intent_behind() {
    let (account, route) = web_with_r1(&all_at_once("0s"), 2).await;
    let app = App::new(&account, "web", &route, 2);
    assert_ok(&account.cutover(&["deploy", "web", "--release", "r2", "--yes"]));
    account.write_app("web", ALB_RELEASE, &web_spec(&canary("60s", "0s"), 2));
    let doomed = account.spawn(&["deploy", "web", "--release", "r3", "--yes"]);
    ride(&app, "r3", 10).await;
    kill(doomed, "at the canary step");
    assert_ok(&account.cutover(&["unlock", "web", "--yes"]));
    let refused = account.cutover(&["rollback", "web", "--yes"]);
    assert_ne!(refused.status.code(), Some(0), "{}", show(&refused));
    for stack in ["web-r2", "web-r3"] {
        let mark = app.mark(stack).await.unwrap_or_default();
        assert!(mark.get("rolling_back_to").is_none(), "{stack}: {mark}");
    }
    account.write_app("web", ALB_RELEASE, &web_spec(&canary("0s", "0s"), 2));
    assert_ok(&account.cutover(&["resume", "web", "--yes"]));
    assert_eq!(app.assert_converged().await, app.stack("r3"));
}

/// A rollback killed right after it moved the traffic (during its gate check after the move,
/// before it marked r2 rolled back from): r1 has all the traffic. Running the rollback again
/// must leave r2 marked failed ("rolled back from"), not an unmarked release newer than the live
/// one; as it is, r2 stays a `candidate`, and the next deploy keeps it as the rollback target
/// and retires r1.
#[tokio::test]
async fn a_rollback_killed_after_it_moved_traffic_leaves_the_release_it_left_marked_after_a_rerun()
{
    let (account, route) = web_rolling_back().await;
    let app = App::new(&account, "web", &route, 1);
    let doomed = account.spawn(&["rollback", "web", "--to", "r1", "--yes"]);
    let pid = doomed.id();
    ride(&app, "r1", 100).await;
    kill(doomed, "after the rollback moved the traffic");
    account.proxy.set_latency(Duration::ZERO);
    assert_lock_left_and_broken(&app, "rollback web --to r1", pid).await;

    let again = account.cutover(&["rollback", "web", "--to", "r1", "--yes"]);
    assert_ok(&again);
    assert_eq!(app.assert_converged().await, app.stack("r1"));
}

/// The first deploy of an app onto a rule that already forwards (`--adopt`), killed at its
/// canary step (baseline 90 %, r1 10 %): the lock names the adopting deploy; after unlock,
/// `resume` finishes the cutover from the recorded baseline to r1.
#[tokio::test]
async fn an_adoption_killed_at_its_canary_step_is_finished_by_resume() {
    let account = Account::new("shared-alb.yaml").await;
    account.put_alarm("web-5xx").await;
    account.write_app("web", ALB_RELEASE, &web_spec(&canary("60s", "0s"), 1));
    let route = Route::Rule(account.output("base", "WebRuleArn").await);
    let app = App::new(&account, "web", &route, 1);
    let doomed = account.spawn(&["deploy", "web", "--release", "r1", "--adopt", "--yes"]);
    let pid = doomed.id();
    ride(&app, "r1", 10).await;
    kill(doomed, "during the adoption's canary");
    assert_eq!(
        app.route().await,
        BTreeMap::from([("baseline".to_string(), 90), (app.stack("r1"), 10)])
    );
    assert_lock_left_and_broken(&app, "deploy web --release r1 --adopt", pid).await;

    account.write_app("web", ALB_RELEASE, &web_spec(&canary("1s", "0s"), 1));
    let resume = account.cutover(&["resume", "web", "--yes"]);
    assert_ok(&resume);
    assert!(
        said(&resume).contains("resuming the unfinished cutover of app web to web-r1"),
        "{}",
        show(&resume)
    );
    assert_eq!(app.assert_converged().await, app.stack("r1"));
    assert_eq!(
        app.route().await.get("baseline"),
        Some(&0),
        "the baseline stays in the rule at 0"
    );
}

/// The apps of the rotation world.
const FLEET: [&str; 3] = ["shop", "cart", "search"];
const OLD_AMI: &str = "ami-0000000000000aaaa";
const NEW_AMI: &str = "ami-0000000000000bbbb";

/// A release of a rotated app: its own target group, built from the image the spec resolves.
const IMAGE_RELEASE: &str = r#"
Parameters:
  ImageId: {Type: String}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  Group:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Port: 80, Protocol: HTTP, VpcId: !Ref Vpc}
Outputs:
  TargetGroupArn: {Value: !Ref Group}
  ImageId: {Value: !Ref ImageId}
"#;

fn fleet_spec(i: usize, strategy: &str) -> String {
    format!(
        "[parameters]\nImageId = {{ ssm = \"/crash/{app}/ami\" }}\n\n[router]\nkind = \"alb\"\nrule = {{ stack_output = \"base\", output = \"Rule{i:02}Arn\" }}\ntarget_group_output = \"TargetGroupArn\"\n\n{strategy}\n{}\n[rotation]\nmax_age = \"30d\"\nrefresh_ami = true\n\n[retention]\nkeep = 1\n",
        gates("fleet-5xx"),
        app = FLEET[i],
    )
}

async fn put_ami(account: &Account, app: &str, ami: &str) {
    aws_sdk_ssm::Client::new(&account.sdk)
        .put_parameter()
        .name(format!("/crash/{app}/ami"))
        .value(ami)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .expect("put the AMI parameter");
}

/// `rotate … --output json`'s rows by app.
fn rotation_rows(output: &Output) -> BTreeMap<String, serde_json::Value> {
    let parsed: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("rotate's JSON: {error}\n{}", show(output)));
    parsed["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .map(|row| (row["app"].as_str().unwrap().to_string(), row.clone()))
        .collect()
}

/// The rotation world, killed: three apps on one load balancer, each onboarded with r1 on
/// the old image, then the image moved on; `rotate --all --jobs 2` killed once two of them are at
/// their canary step (the third not started). Returns the apps' routes, the two killed
/// mid-canary with the dead run's candidate, and the killed run's pid.
async fn killed_rotation(account: &Account) -> (Vec<Route>, BTreeMap<String, String>, u32) {
    account.put_alarm("fleet-5xx").await;
    let mut routes = Vec::new();
    for (i, name) in FLEET.iter().enumerate() {
        put_ami(account, name, OLD_AMI).await;
        account.write_app(name, IMAGE_RELEASE, &fleet_spec(i, &all_at_once("0s")));
        let first = account.cutover(&["deploy", name, "--release", "r1", "--adopt", "--yes"]);
        assert_ok(&first);
        put_ami(account, name, NEW_AMI).await;
        account.write_app(name, IMAGE_RELEASE, &fleet_spec(i, &canary("60s", "0s")));
        let rule = account.output("base", &format!("Rule{i:02}Arn")).await;
        routes.push(Route::Rule(rule));
    }
    let apps: Vec<App> = FLEET
        .iter()
        .zip(&routes)
        .map(|(name, route)| App::new(account, name, route, 1))
        .collect();
    // App → the release that took part of its traffic from r1.
    let candidates = async || {
        let mut split = BTreeMap::new();
        for app in &apps {
            for (owner, weight) in app.route().await {
                if weight > 0 && owner != app.stack("r1") && owner != "baseline" {
                    split.insert(app.name.clone(), owner);
                }
            }
        }
        split
    };
    let doomed = account.spawn(&["rotate", "--all", "--jobs", "2", "--output", "json"]);
    let pid = doomed.id();
    let split = until(
        "two apps at their canary step",
        Duration::from_secs(60),
        async || {
            let split = candidates().await;
            (split.len() == 2).then_some(split)
        },
    )
    .await;
    kill(doomed, "during the rotation");
    for app in &apps {
        match split.get(&app.name) {
            Some(_) => {
                let record = app.lock().await.expect("a rotating app's lock is left");
                assert!(record.contains(&format!("rotate {}", app.name)), "{record}");
                assert_eq!(app.weight_of("r1").await, 90, "{:?}", app.route().await);
            }
            None => assert_eq!(app.lock().await, None, "the third app was not started"),
        }
    }
    for (i, name) in FLEET.iter().enumerate() {
        account.write_app(name, IMAGE_RELEASE, &fleet_spec(i, &canary("1s", "0s")));
    }
    (routes, split, pid)
}

/// A rotation of several apps killed mid-canary: the next rotation skips the two locked apps
/// naming their holder (exit 0) and rotates the third; once the locks are broken, the one after
/// finishes the two: every app converges on a release built from the new image.
#[tokio::test]
async fn a_rotation_of_several_apps_killed_mid_canary_converges_after_unlock_and_rotate() {
    let account = Account::with_base(&host_rules_base(&FLEET.map(String::from))).await;
    let (routes, split, pid) = killed_rotation(&account).await;
    let apps: Vec<App> = FLEET
        .iter()
        .zip(&routes)
        .map(|(name, route)| App::new(&account, name, route, 1))
        .collect();
    let (locked, free): (Vec<&App>, Vec<&App>) =
        apps.iter().partition(|app| split.contains_key(&app.name));

    let creates = account.creates();
    let skipping = account.cutover(&["rotate", "--all", "--output", "json"]);
    assert_ok(&skipping);
    let rows = rotation_rows(&skipping);
    for app in &locked {
        let row = &rows[&app.name];
        assert_eq!(row["result"], "skipped_locked", "{row}");
        let holder = row["holder"].as_str().unwrap_or_default();
        assert!(
            holder.contains(&format!("`rotate {}`", app.name))
                && holder.contains(&format!("pid {pid}")),
            "{row}"
        );
    }
    assert_eq!(
        rows[&free[0].name]["result"],
        "rotated",
        "{}",
        show(&skipping)
    );
    assert_eq!(
        account.creates(),
        creates + 1,
        "only the free app was rotated"
    );
    free[0].assert_converged().await;

    for app in &locked {
        break_lock(app, &format!("rotate {}", app.name), pid).await;
    }
    let recovery = account.cutover(&["rotate", "--all", "--output", "json"]);
    assert_ok(&recovery);
    let rows = rotation_rows(&recovery);
    for app in &locked {
        assert_eq!(rows[&app.name]["result"], "rotated", "{}", show(&recovery));
    }
    for app in &apps {
        let live = app.assert_converged().await;
        assert_eq!(
            account.output(&live, "ImageId").await,
            NEW_AMI,
            "{} runs the new image",
            app.name
        );
    }
}

/// The rotation a killed run left half way already runs the new image: the retried rotation
/// finishes it and stops there. The README promises that "a retried pod ... never rotate[s] an
/// app twice"; as it is, the retry finishes the dead run's release, then builds and cuts over to
/// a second new release from the same image (decided due from the split it saw under the lock).
#[tokio::test]
async fn a_retried_rotation_finishes_the_killed_ones_release_and_does_not_rotate_again() {
    let account = Account::with_base(&host_rules_base(&FLEET.map(String::from))).await;
    let (routes, split, pid) = killed_rotation(&account).await;
    let apps: Vec<App> = FLEET
        .iter()
        .zip(&routes)
        .map(|(name, route)| App::new(&account, name, route, 1))
        .collect();
    for app in apps.iter().filter(|app| split.contains_key(&app.name)) {
        break_lock(app, &format!("rotate {}", app.name), pid).await;
    }
    let creates = account.creates();
    let retry = account.cutover(&["rotate", "--all", "--output", "json"]);
    assert_ok(&retry);
    for app in &apps {
        let live = app.assert_converged().await;
        assert_eq!(account.output(&live, "ImageId").await, NEW_AMI);
        if let Some(candidate) = split.get(&app.name) {
            assert_eq!(
                &live,
                candidate,
                "{}: the killed run's release is the one that ends live: {}",
                app.name,
                show(&retry)
            );
        }
    }
    assert_eq!(
        account.creates(),
        creates + 1,
        "one new stack: the third app's rotation; {}",
        show(&retry)
    );
}
