//! Runs at once on one app: two, then five (deploys, rollbacks, a rotation). Exactly one
//! proceeds; every other deploy or rollback exits 3 naming the holder and changes nothing (a
//! rotation that finds the app locked reports it skipped, as `rotate` does). Runs on two apps that
//! share the listener proceed together, each on its own rule.

use std::process::Output;

use crate::reliability::state::{differences, snapshot};
use crate::routing::world::{show, text, Account, ALB_RELEASE};

/// All at once with a final bake: the run that takes the lock holds it long enough for every
/// other run, started with it, to find it held.
fn spec(rule_output: &str) -> String {
    format!(
        "[router]\nkind = \"alb\"\nrule = {{ stack_output = \"base\", output = \"{rule_output}\" }}\ntarget_group_output = \"TargetGroupArn\"\n\n[strategy]\nkind = \"all-at-once\"\nfinal_bake = \"6s\"\n\n[retention]\nkeep = 3\n"
    )
}

/// web with r1 (adopted) and r2 deployed, r2 live: a world where a rollback has somewhere to go.
async fn web_with_two_releases() -> Account {
    let account = Account::new("shared-alb.yaml").await;
    account.write_app(
        "web",
        ALB_RELEASE,
        &spec("WebRuleArn").replace("final_bake = \"6s\"", "final_bake = \"0s\""),
    );
    for (release, adopt) in [("r1", true), ("r2", false)] {
        let mut args = vec!["deploy", "web", "--release", release, "--yes"];
        if adopt {
            args.push("--adopt");
        }
        let run = account.cutover(&args);
        assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    }
    account.write_app("web", ALB_RELEASE, &spec("WebRuleArn"));
    account
}

/// Starts every command at once and waits for all.
fn all_at_once(account: &Account, commands: &[Vec<String>]) -> Vec<Output> {
    let children: Vec<_> = commands
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            account.spawn(&args)
        })
        .collect();
    children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect()
}

fn command(words: &str) -> Vec<String> {
    words.split_whitespace().map(str::to_string).collect()
}

/// Exactly one of `outputs` proceeded (exit 0 and, for a rotation, rotated); the others were
/// refused for the lock, naming the holder, which is the one that proceeded.
fn exactly_one_proceeded(commands: &[Vec<String>], outputs: &[Output]) -> usize {
    let proceeded: Vec<usize> = outputs
        .iter()
        .enumerate()
        .filter(|(index, output)| {
            output.status.code() == Some(0)
                && !(commands[*index][0] == "rotate" && text(&output.stdout).contains("skipped"))
        })
        .map(|(index, _)| index)
        .collect();
    let all: Vec<String> = outputs.iter().map(show).collect();
    assert_eq!(proceeded.len(), 1, "exactly one run proceeds: {all:#?}");
    let winner = proceeded[0];
    let holder = match commands[winner][0].as_str() {
        "deploy" => format!("deploy web --release {}", commands[winner][3]),
        "rollback" => "rollback web".to_string(),
        _ => "rotate web".to_string(),
    };
    for (index, output) in outputs.iter().enumerate() {
        if index == winner {
            continue;
        }
        let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
        if commands[index][0] == "rotate" {
            assert_eq!(output.status.code(), Some(0), "{}", show(output));
            assert!(said.contains("skipped"), "{}", show(output));
        } else {
            assert_eq!(output.status.code(), Some(3), "{}", show(output));
        }
        assert!(
            said.contains(&holder),
            "names the holder {holder:?}: {}",
            show(output)
        );
    }
    winner
}

/// The state after a race is the state after the winner alone: the losers' stacks were never
/// created and nothing of theirs is recorded.
async fn losers_changed_nothing(account: &Account, commands: &[Vec<String>], winner: usize) {
    let stacks = account.stack_names().await;
    for (index, args) in commands.iter().enumerate() {
        if index != winner && args[0] == "deploy" {
            let stack = format!("web-{}", args[3]);
            assert!(!stacks.contains(&stack), "{stack} was created: {stacks:?}");
        }
    }
}

#[tokio::test]
async fn two_deploys_at_once_one_proceeds_the_other_exits_3_naming_it() {
    let account = web_with_two_releases().await;
    let commands = [
        command("deploy web --release r3 --yes"),
        command("deploy web --release r4 --yes"),
    ];
    let outputs = all_at_once(&account, &commands);
    let winner = exactly_one_proceeded(&commands, &outputs);
    losers_changed_nothing(&account, &commands, winner).await;
}

#[tokio::test]
async fn a_deploy_and_a_rollback_at_once_one_proceeds() {
    let account = web_with_two_releases().await;
    let commands = [
        command("deploy web --release r3 --yes"),
        command("rollback web --to r1 --yes"),
    ];
    let outputs = all_at_once(&account, &commands);
    let winner = exactly_one_proceeded(&commands, &outputs);
    losers_changed_nothing(&account, &commands, winner).await;
    // The rollback that lost moved no traffic: web-r2 or the new release is live, not r1.
    if winner == 0 {
        let status = account.status("web");
        assert!(status.to_string().contains("web-r3"), "{status}");
    }
}

#[tokio::test]
async fn a_rotation_and_a_deploy_at_once_one_proceeds() {
    let account = web_with_two_releases().await;
    let commands = [
        command("rotate web --max-age 0s"),
        command("deploy web --release r3 --yes"),
    ];
    let outputs = all_at_once(&account, &commands);
    let winner = exactly_one_proceeded(&commands, &outputs);
    losers_changed_nothing(&account, &commands, winner).await;
}

#[tokio::test]
async fn five_runs_at_once_one_proceeds_and_the_four_others_change_nothing() {
    let account = web_with_two_releases().await;
    let before = snapshot(&account).await;
    let commands = [
        command("deploy web --release r3 --yes"),
        command("deploy web --release r4 --yes"),
        command("rollback web --to r1 --yes"),
        command("deploy web --release r5 --yes"),
        command("rotate web --max-age 0s"),
    ];
    let outputs = all_at_once(&account, &commands);
    let winner = exactly_one_proceeded(&commands, &outputs);
    losers_changed_nothing(&account, &commands, winner).await;
    // Something changed (the winner's work), and only web's: no new stack but one at most.
    let after = snapshot(&account).await;
    let changed = differences(&before, &after);
    assert!(!changed.is_empty(), "the winner did its work");
    let new_stacks = changed
        .iter()
        .filter(|line| line.starts_with("new: stack "))
        .count();
    assert!(new_stacks <= 1, "{changed:#?}");
    assert!(
        changed
            .iter()
            .all(|line| !line.contains("ApiGroup") && !line.contains("/api")),
        "api untouched: {changed:#?}"
    );
}

#[tokio::test]
async fn two_apps_on_one_listener_deploy_together_each_on_its_own_rule() {
    let account = Account::new("shared-alb.yaml").await;
    for (app, rule) in [("web", "WebRuleArn"), ("api", "ApiRuleArn")] {
        account.write_app(
            app,
            ALB_RELEASE,
            &spec(rule).replace("final_bake = \"6s\"", "final_bake = \"1s\""),
        );
        let first = account.cutover(&["deploy", app, "--release", "r1", "--adopt", "--yes"]);
        assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    }
    let commands = [
        command("deploy web --release r2 --yes"),
        command("deploy api --release r2 --yes"),
    ];
    let outputs = all_at_once(&account, &commands);
    for output in &outputs {
        assert_eq!(output.status.code(), Some(0), "{}", show(output));
    }
    for (app, rule) in [("web", "WebRuleArn"), ("api", "ApiRuleArn")] {
        let arn = account.output("base", rule).await;
        let group = account.output(&format!("{app}-r2"), "TargetGroupArn").await;
        let forward: Vec<String> = account
            .rule(&arn)
            .await
            .forward
            .into_iter()
            .filter(|(_, weight)| *weight > 0)
            .map(|(group, _)| group)
            .collect();
        assert_eq!(forward, vec![group], "{app}'s rule on {app}-r2 alone");
    }
}

/// `unlock` of a run that is alive on this machine would let two runs drive the app: refused
/// (exit 3, naming the pid) unless forced; once that run is dead, it breaks the lock.
#[tokio::test]
async fn unlock_refuses_to_break_the_lock_of_a_live_run_on_this_machine() {
    let account = web_with_two_releases().await;
    let mut running = account.spawn(&["deploy", "web", "--release", "r3", "--yes"]);
    let ssm = aws_sdk_ssm::Client::new(&account.sdk);
    let mut locked = false;
    for _ in 0..200 {
        if ssm
            .get_parameter()
            .name("/cutover/locks/web")
            .send()
            .await
            .is_ok()
        {
            locked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(locked, "the deploy never took the lock");
    let refused = account.cutover(&["unlock", "web", "--yes"]);
    assert_eq!(refused.status.code(), Some(3), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains(&format!("pid {}", running.id())),
        "{}",
        show(&refused)
    );
    running.kill().unwrap();
    running.wait().unwrap();
    let broken = account.cutover(&["unlock", "web", "--yes"]);
    assert_eq!(broken.status.code(), Some(0), "{}", show(&broken));
}
