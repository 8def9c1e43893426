//! Full blue/green cycles through the fault proxy with a fifth of the AWS calls throttled, failed
//! with a 5xx, reset after they were read, or delayed: each cycle is a canary deploy of a new
//! release, a rollback to the previous one and a deploy again (retention `keep = 1` retiring the
//! oldest). Every step must end in the right state: the right release alone on web's listener
//! rule, at 100 %; exactly the stacks retention keeps; one CreateStack per release (no
//! duplicate); the lock released; api's rule, on the same listener, untouched.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::routing::world::{show, Account, ALB_RELEASE};

/// Cycles per fault kind: each is two deploys and a rollback.
const CYCLES: usize = 2;

fn web_spec() -> String {
    "[router]\nkind = \"alb\"\nrule = { stack_output = \"base\", output = \"WebRuleArn\" }\ntarget_group_output = \"TargetGroupArn\"\n\n[strategy]\nkind = \"canary\"\npercent = 10\nbake = \"1s\"\nfinal_bake = \"0s\"\n\n[gates]\ncommand = \"true\"\ninterval = \"1s\"\nwarmup = \"0s\"\n\n[retention]\nkeep = 1\n".to_string()
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Throttle,
    ServerError,
    Reset,
    Delay,
}

struct Cycling {
    account: Account,
    web_rule: String,
    api_before: String,
    deploys: usize,
    next: usize,
}

impl Cycling {
    async fn new() -> Cycling {
        let account = Account::new("shared-alb.yaml").await;
        account.write_app(
            "web",
            ALB_RELEASE,
            &web_spec().replace(
                "kind = \"canary\"\npercent = 10\nbake = \"1s\"",
                "kind = \"all-at-once\"",
            ),
        );
        let first = account.cutover(&["deploy", "web", "--release", "r1", "--adopt", "--yes"]);
        assert_eq!(first.status.code(), Some(0), "{}", show(&first));
        account.write_app("web", ALB_RELEASE, &web_spec());
        let web_rule = account.output("base", "WebRuleArn").await;
        let api_rule = account.output("base", "ApiRuleArn").await;
        let api_before = format!("{:?}", account.rule(&api_rule).await.forward);
        Cycling {
            account,
            web_rule,
            api_before,
            deploys: 1,
            next: 2,
        }
    }

    fn faults(&self, fault: Option<Fault>) {
        let proxy = &self.account.proxy;
        proxy.set_throttle_rate(0.0);
        proxy.set_server_error_rate(0.0);
        proxy.set_reset_rate(0.0);
        proxy.set_latency(Duration::ZERO);
        match fault {
            Some(Fault::Throttle) => proxy.set_throttle_rate(0.2),
            Some(Fault::ServerError) => proxy.set_server_error_rate(0.2),
            Some(Fault::Reset) => proxy.set_reset_rate(0.2),
            // The proxy delays every call alike (a superset of "a fifth of them").
            Some(Fault::Delay) => proxy.set_latency(Duration::from_millis(60)),
            None => {}
        }
    }

    async fn deploy(&mut self) -> String {
        let release = format!("r{}", self.next);
        self.next += 1;
        let run = self
            .account
            .cutover(&["deploy", "web", "--release", &release, "--yes"]);
        assert_eq!(
            run.status.code(),
            Some(0),
            "deploy {release}: {}",
            show(&run)
        );
        self.deploys += 1;
        format!("web-{release}")
    }

    async fn rollback(&self, to: &str) {
        let run = self
            .account
            .cutover(&["rollback", "web", "--to", to, "--yes"]);
        assert_eq!(
            run.status.code(),
            Some(0),
            "rollback to {to}: {}",
            show(&run)
        );
    }

    /// `live` alone on web's rule at 100 %, exactly `stacks` among web's stacks, no duplicate
    /// CreateStack, the lock released, api's rule as it was.
    async fn assert_state(&self, live: &str, stacks: &[String]) {
        let group = self.account.output(live, "TargetGroupArn").await;
        let rule = self.account.rule(&self.web_rule).await;
        assert_eq!(
            rule.forward
                .into_iter()
                .filter(|(_, weight)| *weight > 0)
                .map(|(group, _)| group)
                .collect::<Vec<_>>(),
            vec![group],
            "{live} alone on web's rule"
        );
        let existing: BTreeSet<String> = self
            .account
            .stack_names()
            .await
            .into_iter()
            .filter(|name| name.starts_with("web-"))
            .collect();
        let wanted: BTreeSet<String> = stacks.iter().cloned().collect();
        assert_eq!(existing, wanted, "web's stacks");
        // No duplicate: every release name was created once (a retried CreateStack included),
        // deleted ones counted, and no stack was created that is not a release.
        let mut ever: BTreeMap<String, usize> = BTreeMap::new();
        let listed = self
            .account
            .cloudformation()
            .list_stacks()
            .send()
            .await
            .expect("list_stacks");
        for summary in listed.stack_summaries() {
            let name = summary.stack_name().unwrap_or_default();
            if name.starts_with("web-") {
                *ever.entry(name.to_string()).or_default() += 1;
            }
        }
        assert!(
            ever.values().all(|count| *count == 1),
            "a release created twice: {ever:?}"
        );
        assert_eq!(ever.len(), self.deploys, "one stack per release: {ever:?}");
        let ssm = aws_sdk_ssm::Client::new(&self.account.sdk);
        let lock = ssm.get_parameter().name("/cutover/locks/web").send().await;
        assert!(lock.is_err(), "the lock is released: {lock:?}");
        let api_rule = self.account.output("base", "ApiRuleArn").await;
        assert_eq!(
            format!("{:?}", self.account.rule(&api_rule).await.forward),
            self.api_before,
            "api's rule untouched"
        );
    }
}

/// Runs the cycles under `fault` and returns how many faults the proxy injected.
async fn cycles_under(fault: Fault) -> usize {
    let mut world = Cycling::new().await;
    let mut live = "web-r1".to_string();
    // Releases rolled back from: failed, kept for inspection (a day), never a `keep` place.
    let mut failed: Vec<String> = Vec::new();
    let expected = |kept: &[&String], failed: &[String]| -> Vec<String> {
        let mut all: Vec<String> = kept.iter().map(|name| name.to_string()).collect();
        all.extend(failed.iter().cloned());
        all
    };
    for _ in 0..CYCLES {
        world.faults(Some(fault));
        let candidate = world.deploy().await;
        world.faults(None);
        // keep = 1: the candidate live, the previous retained, older ones retired.
        world
            .assert_state(&candidate, &expected(&[&candidate, &live], &failed))
            .await;

        world.faults(Some(fault));
        world.rollback(&live).await;
        world.faults(None);
        // The rollback builds nothing and deletes nothing; the candidate is now failed.
        failed.push(candidate.clone());
        world
            .assert_state(&live, &expected(&[&live], &failed))
            .await;

        world.faults(Some(fault));
        let next = world.deploy().await;
        world.faults(None);
        // The next deploy replaces the live release, which is kept for rollback.
        world
            .assert_state(&next, &expected(&[&next, &live], &failed))
            .await;
        live = next;
    }
    let proxy = &world.account.proxy;
    let injected = proxy.throttled() + proxy.server_errors() + proxy.resets();
    eprintln!(
        "faults {fault:?}: {CYCLES} cycles, {} deploys, {} throttled, {} 5xx, {} resets, {} requests",
        world.deploys - 1,
        proxy.throttled(),
        proxy.server_errors(),
        proxy.resets(),
        proxy.requests_seen()
    );
    injected
}

#[tokio::test]
async fn cycles_with_a_fifth_of_the_calls_throttled_end_right() {
    assert!(
        cycles_under(Fault::Throttle).await > 0,
        "nothing was throttled"
    );
}

#[tokio::test]
async fn cycles_with_a_fifth_of_the_calls_failing_with_5xx_end_right() {
    assert!(
        cycles_under(Fault::ServerError).await > 0,
        "no 5xx was injected"
    );
}

#[tokio::test]
async fn cycles_with_a_fifth_of_the_connections_reset_end_right() {
    assert!(
        cycles_under(Fault::Reset).await > 0,
        "no connection was reset"
    );
}

#[tokio::test]
async fn cycles_with_every_call_delayed_end_right() {
    cycles_under(Fault::Delay).await;
}
