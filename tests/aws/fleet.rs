//! Rotation for a fleet: twelve apps on one shared load balancer (a listener rule each, every
//! rule already forwarding to the service it ran before cutover), eight of them due: four whose
//! live release is older than their `max_age`, four whose AMI parameter now resolves to a newer
//! image. `rotate --all --jobs 4` rotates exactly those, each under its lock, one failing
//! without stopping the others; three runs at once rotate each due app once; shards split the
//! fleet.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::routing::world::{host_rules_base, show, text, Account};
use crate::support::FailMode;

const APPS: usize = 12;
/// The age-due apps' `max_age`: their first release must be older than this when a test
/// rotates, and the release a rotation makes must stay younger than this until the test ends.
const MAX_AGE_SECS: u64 = 20;

/// Each release: its own target group, built from the image the spec resolves.
const RELEASE: &str = r#"
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

fn app(i: usize) -> String {
    format!("app{i:02}")
}

/// What makes app `i` due: 0–3 age, 4–7 a new image, 8–11 nothing.
fn is_age_due(i: usize) -> bool {
    i < 4
}

fn is_ami_due(i: usize) -> bool {
    (4..8).contains(&i)
}

fn is_due(i: usize) -> bool {
    is_age_due(i) || is_ami_due(i)
}

const OLD_AMI: &str = "ami-0000000000000aaaa";
const NEW_AMI: &str = "ami-0000000000000bbbb";

struct Fleet {
    account: Account,
    /// `keep` of the app's retention.
    keep: Vec<u32>,
}

impl Fleet {
    /// Twelve apps with release r1 live (adopted from the rule's target group), the four
    /// image-due apps' AMI parameters moved on, and the age-due apps' r1 older than their
    /// `max_age` when this returns.
    async fn new(keep: impl Fn(usize) -> u32) -> Fleet {
        let account =
            Account::with_base(&host_rules_base(&(0..APPS).map(app).collect::<Vec<_>>())).await;
        let keep: Vec<u32> = (0..APPS).map(keep).collect();
        for (i, keep) in keep.iter().enumerate() {
            let rotation = if is_age_due(i) {
                format!("max_age = \"{MAX_AGE_SECS}s\"")
            } else {
                "max_age = \"30d\"\nrefresh_ami = true".to_string()
            };
            account.write_app(
                &app(i),
                RELEASE,
                &format!(
                    "[parameters]\nImageId = {{ ssm = \"/fleet/{name}/ami\" }}\n\n[router]\nkind = \"alb\"\nrule = {{ stack_output = \"base\", output = \"Rule{i:02}Arn\" }}\ntarget_group_output = \"TargetGroupArn\"\n\n[strategy]\nkind = \"all-at-once\"\nfinal_bake = \"0s\"\n\n[rotation]\n{rotation}\n\n[retention]\nkeep = {}\n",
                    keep,
                    name = app(i),
                ),
            );
            put_ami(&account, i, OLD_AMI).await;
        }
        let fleet = Fleet { account, keep };
        // The age-due apps first, so that their releases are the oldest.
        fleet.deploy_first_releases((0..APPS).filter(|&i| is_age_due(i)));
        let aged_from = Instant::now();
        fleet.deploy_first_releases((0..APPS).filter(|&i| !is_age_due(i)));
        for i in (0..APPS).filter(|&i| is_ami_due(i)) {
            put_ami(&fleet.account, i, NEW_AMI).await;
        }
        let old_enough = aged_from + Duration::from_secs(MAX_AGE_SECS + 1);
        tokio::time::sleep(old_enough.saturating_duration_since(Instant::now())).await;
        fleet
    }

    fn deploy_first_releases(&self, apps: impl Iterator<Item = usize>) {
        let runs: Vec<_> = apps
            .map(|i| {
                let name = app(i);
                let child =
                    self.account
                        .spawn(&["deploy", &name, "--release", "r1", "--adopt", "--yes"]);
                (name, child)
            })
            .collect();
        for (name, child) in runs {
            let output = child.wait_with_output().unwrap();
            assert_eq!(
                output.status.code(),
                Some(0),
                "deploy {name}: {}",
                show(&output)
            );
        }
    }

    /// The stacks of app `i` that exist, by name.
    async fn stacks_of(&self, i: usize) -> BTreeSet<String> {
        let prefix = format!("{}-", app(i));
        self.account
            .stack_names()
            .await
            .into_iter()
            .filter(|name| name.starts_with(&prefix))
            .collect()
    }

    /// The target groups app `i`'s rule forwards to.
    async fn rule_targets(&self, i: usize) -> BTreeSet<String> {
        let rule = self.account.output("base", &format!("Rule{i:02}Arn")).await;
        self.account
            .rule(&rule)
            .await
            .forward
            .into_iter()
            .filter(|(_, weight)| *weight > 0)
            .map(|(group, _)| group)
            .collect()
    }
}

async fn put_ami(account: &Account, i: usize, ami: &str) {
    aws_sdk_ssm::Client::new(&account.sdk)
        .put_parameter()
        .name(format!("/fleet/{}/ami", app(i)))
        .value(ami)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .expect("put the AMI parameter");
}

/// `rotate … --output json`'s rows by app.
fn rows(output: &std::process::Output) -> BTreeMap<String, Value> {
    let parsed: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("rotate's JSON: {error}\n{}", show(output)));
    parsed["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .map(|row| (row["app"].as_str().unwrap().to_string(), row.clone()))
        .collect()
}

#[tokio::test]
async fn rotate_all_rotates_exactly_the_due_apps_and_one_failure_stops_no_other() {
    let fleet = Fleet::new(|i| (i % 2) as u32).await;
    let account = &fleet.account;
    let setup = account.creates();

    // Shards, looked at without changing anything: together they are the fleet, once each.
    let mut seen = Vec::new();
    for index in 0..3 {
        let shard = format!("{index}/3");
        let dry = account.cutover(&[
            "rotate",
            "--all",
            "--shard",
            &shard,
            "--dry-run",
            "--output",
            "json",
        ]);
        assert_eq!(dry.status.code(), Some(0), "{}", show(&dry));
        let rows = rows(&dry);
        for (name, row) in &rows {
            let i: usize = name[3..].parse().unwrap();
            assert_eq!(row["due"], Value::Bool(is_due(i)), "{name}: {row}");
        }
        seen.extend(rows.into_keys());
    }
    seen.sort();
    assert_eq!(seen, (0..APPS).map(app).collect::<Vec<_>>());
    // `auto/3` reads the Kubernetes Indexed Job's index.
    let auto = account.cutover_with_env(
        &[
            "rotate",
            "--all",
            "--shard",
            "auto/3",
            "--dry-run",
            "--output",
            "json",
        ],
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    let fixed = account.cutover(&[
        "rotate",
        "--all",
        "--shard",
        "1/3",
        "--dry-run",
        "--output",
        "json",
    ]);
    assert_eq!(
        rows(&auto).keys().collect::<Vec<_>>(),
        rows(&fixed).keys().collect::<Vec<_>>()
    );
    let no_index = account.cutover(&["rotate", "--all", "--shard", "auto/3", "--dry-run"]);
    assert_eq!(no_index.status.code(), Some(2), "{}", show(&no_index));
    assert!(
        text(&no_index.stderr).contains("JOB_COMPLETION_INDEX"),
        "{}",
        show(&no_index)
    );
    assert_eq!(account.creates(), setup, "dry runs create nothing");

    // app05's next release fails to create.
    account.proxy.fail_stacks_created_with_prefix(
        "app05-",
        FailMode::CreateFailed {
            resource: "Group".into(),
            reason: "Resource handler returned message: quota exceeded".into(),
        },
    );
    let before: Vec<BTreeSet<String>> = {
        let mut all = Vec::new();
        for i in 0..APPS {
            all.push(fleet.stacks_of(i).await);
        }
        all
    };
    let run = account.cutover(&["rotate", "--all", "--jobs", "4", "--output", "json"]);
    assert_eq!(
        run.status.code(),
        Some(1),
        "one failed app makes the exit code 1: {}",
        show(&run)
    );
    let rows = rows(&run);
    assert_eq!(rows.len(), APPS);
    for (i, before) in before.iter().enumerate() {
        let name = app(i);
        let row = &rows[&name];
        let now = fleet.stacks_of(i).await;
        let r1 = format!("{name}-r1");
        let expected = match i {
            5 => "failed",
            _ if is_due(i) => "rotated",
            _ => "not_due",
        };
        assert_eq!(row["result"], expected, "{name}: {row}\n{}", show(&run));
        match expected {
            "rotated" => {
                let new = row["release"].as_str().unwrap().to_string();
                assert!(now.contains(&new), "{name}: {now:?}");
                let group = account.output(&new, "TargetGroupArn").await;
                assert_eq!(
                    fleet.rule_targets(i).await,
                    BTreeSet::from([group]),
                    "{name}"
                );
                // Retention: keep 0 retires r1 once the cutover is done, keep 1 keeps it.
                assert_eq!(now.contains(&r1), fleet.keep[i] == 1, "{name}: {now:?}");
                assert_eq!(now.len(), 1 + fleet.keep[i] as usize, "{name}: {now:?}");
                if is_ami_due(i) {
                    assert_eq!(account.output(&new, "ImageId").await, NEW_AMI);
                }
            }
            "failed" => {
                assert!(row["reason"].is_object(), "the reason it was due: {row}");
                assert!(row["exit_code"].as_u64().unwrap() > 0, "{row}");
                assert!(
                    row["error"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("quota exceeded")
                        || text(&run.stderr).contains("quota exceeded"),
                    "{}",
                    show(&run)
                );
                assert_eq!(&now, before, "the failed release is cleaned up, r1 stays");
                let group = account.output(&r1, "TargetGroupArn").await;
                assert_eq!(
                    fleet.rule_targets(i).await,
                    BTreeSet::from([group]),
                    "r1 keeps the traffic"
                );
            }
            _ => {
                assert_eq!(row["due"], false, "{row}");
                assert_eq!(&now, before, "{name}");
            }
        }
    }
    // 12 first releases, 8 rotations (one of them failed to create): nothing else was created.
    assert_eq!(account.creates(), setup + 8);
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("[app00] "),
        "progress lines carry the app: {stderr}"
    );
}

#[tokio::test]
async fn three_runs_at_once_rotate_each_due_app_exactly_once() {
    let fleet = Fleet::new(|_| 1).await;
    let account = &fleet.account;
    let setup = account.creates();
    let runs: Vec<_> = (0..3)
        .map(|_| account.spawn(&["rotate", "--all", "--jobs", "4", "--output", "json"]))
        .collect();
    let outputs: Vec<_> = runs
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    for output in &outputs {
        assert_eq!(output.status.code(), Some(0), "{}", show(output));
    }
    let results: Vec<BTreeMap<String, Value>> = outputs.iter().map(rows).collect();
    for i in 0..APPS {
        let name = app(i);
        let said: Vec<&str> = results
            .iter()
            .map(|rows| rows[&name]["result"].as_str().unwrap())
            .collect();
        let stacks = fleet.stacks_of(i).await;
        if is_due(i) {
            assert_eq!(
                said.iter().filter(|result| **result == "rotated").count(),
                1,
                "{name} is rotated by one run: {said:?}"
            );
            for result in said.iter().filter(|result| **result != "rotated") {
                assert!(
                    ["skipped_locked", "rotated_meanwhile", "not_due"].contains(result),
                    "{name}: {said:?}"
                );
            }
            // keep = 1: r1 and the one new release.
            assert_eq!(stacks.len(), 2, "{name}: {stacks:?}");
        } else {
            assert_eq!(said, ["not_due"; 3], "{name}");
            assert_eq!(stacks.len(), 1, "{name}: {stacks:?}");
        }
    }
    assert_eq!(account.creates(), setup + 8, "one new release per due app");
}

#[tokio::test]
async fn eight_jobs_under_an_account_rate_limit_slow_down_instead_of_failing() {
    let fleet = Fleet::new(|_| 0).await;
    let account = &fleet.account;
    // AWS throttles per account: here 8 requests a second, bursts of 8.
    account.proxy.set_rate_limit(Some((8.0, 8.0)));
    let run = account.cutover(&["rotate", "--all", "--jobs", "8", "--output", "json"]);
    let throttled = account.proxy.rate_limited();
    account.proxy.set_rate_limit(None);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert!(throttled > 0, "the limit throttled nothing");
    let rows = rows(&run);
    let rotated = (0..APPS)
        .filter(|&i| rows[&app(i)]["result"] == "rotated")
        .count();
    assert_eq!(rotated, 8, "{}", show(&run));
    eprintln!("{throttled} requests throttled by the account's rate");
}
