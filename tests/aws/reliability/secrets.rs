//! Secrets in no output: an app with two NoEcho parameters (one from the environment, one from
//! SSM), a webhook whose token comes from the environment, and distinctive credentials (secret
//! key and session token). Every command runs in a success form and a failure form (a gate that
//! prints the secrets and fails, a template error, an unreachable endpoint, a missing target),
//! at `-vvv`, as text and JSON; no secret may appear in stdout, stderr, the files cutover
//! writes (`--report`, `--html`), the dashboard's pages, the marks in SSM or anything the
//! webhook receives (the token only in the header it is meant for).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::reliability::state::snapshot;
use crate::routing::world::{show, text, Account, ALB_RELEASE};
use crate::support::{sdk_env, WebhookReceiver};

const APP: &str = "secweb";
/// The NoEcho value from the environment.
const NOECHO_ENV: &str = "S3cr3t-Value-9f2c";
/// The NoEcho value from SSM.
const NOECHO_SSM: &str = "Ssm-S3cr3t-3e7a";
/// The webhook token.
const TOKEN: &str = "T0ken-Value-7b1e";
const SECRET_KEY: &str = "Cr3d-Secret-4a8d";
const SESSION_TOKEN: &str = "Sess-T0ken-51c0-FwoGZXIvYXdzEJr";
const SECRETS: [&str; 5] = [NOECHO_ENV, NOECHO_SSM, TOKEN, SECRET_KEY, SESSION_TOKEN];
const SSM_NAME: &str = "/secweb/api-key";

/// The release: both NoEcho values reach a resource (tags of the VPC).
fn release() -> String {
    ALB_RELEASE
        .replace(
            "Resources:",
            "Parameters:\n  DbPassword: {Type: String, NoEcho: true}\n  ApiKey: {Type: String, NoEcho: true}\nResources:",
        )
        .replace(
            "Properties: {CidrBlock: 10.0.0.0/16}",
            "Properties:\n      CidrBlock: 10.0.0.0/16\n      Tags: [{Key: db, Value: !Ref DbPassword}, {Key: api, Value: !Ref ApiKey}]",
        )
}

fn spec(hook: &str, gates: &str) -> String {
    format!(
        "template = \"../templates/{APP}.yaml\"\n\
         [parameters]\nDbPassword = {{ env = \"SECWEB_DB_PASSWORD\" }}\nApiKey = {{ ssm = \"{SSM_NAME}\" }}\n\
         [router]\nkind = \"alb\"\nrule = {{ stack_output = \"base\", output = \"WebRuleArn\" }}\ntarget_group_output = \"TargetGroupArn\"\n\
         [strategy]\nkind = \"all-at-once\"\n\
         [retention]\nkeep = 2\n\
         [rotation]\nmax_age = \"1s\"\n\
         [notify]\nwebhook = {{ url = \"{hook}\", header = \"Authorization\", header_env = \"SECWEB_HOOK_TOKEN\" }}\n\
         {gates}"
    )
}

/// A gate that prints every secret it can reach and fails.
const LEAKY_GATE: &str = "[gates]\ncommand = \"echo db=$SECWEB_DB_PASSWORD token=$SECWEB_HOOK_TOKEN key=$AWS_SECRET_ACCESS_KEY session=$AWS_SESSION_TOKEN >&2; exit 1\"\ninterval = \"1s\"\nwarmup = \"0s\"\n";

/// The app's folder, the account it lives in, and the environment every run gets.
struct World {
    account: Account,
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
    hook: String,
}

impl World {
    fn write(&self, gates: &str, template: &str) {
        std::fs::create_dir_all(self.dir.path().join("stacks")).unwrap();
        std::fs::create_dir_all(self.dir.path().join("templates")).unwrap();
        std::fs::write(
            self.dir.path().join(format!("stacks/{APP}.toml")),
            spec(&self.hook, gates),
        )
        .unwrap();
        std::fs::write(
            self.dir.path().join(format!("templates/{APP}.yaml")),
            template,
        )
        .unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = sdk_env(self.account.proxy.url());
        let mut set = |name: &str, value: &str| {
            env.retain(|(have, _)| have != name);
            env.push((name.to_string(), value.to_string()));
        };
        set("HOME", &self.home.path().display().to_string());
        set("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        set("AWS_SESSION_TOKEN", SESSION_TOKEN);
        set("SECWEB_DB_PASSWORD", NOECHO_ENV);
        set("SECWEB_HOOK_TOKEN", &format!("Bearer {TOKEN}"));
        for (name, value) in extra {
            set(name, value);
        }
        env
    }

    fn command(&self, args: &[&str], extra: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cutover"));
        command
            .arg("--stacks-dir")
            .arg(self.path("stacks"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null());
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("AWS_") || name.starts_with("CUTOVER_") {
                command.env_remove(name.as_ref());
            }
        }
        command.envs(self.env(extra));
        command
    }

    /// Runs `args` (with `{dir}` the app's folder), checks the exit code and that no secret is
    /// in its output.
    fn run(&self, args: &[&str], extra: &[(&str, &str)], exit: i32) -> Output {
        let folder = self.dir.path().display().to_string();
        let args: Vec<String> = args
            .iter()
            .map(|arg| arg.replace("{dir}", &folder))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = self.command(&args, extra).output().expect("run cutover");
        assert_eq!(
            output.status.code(),
            Some(exit),
            "{args:?}: {}",
            show(&output)
        );
        no_secret(&format!("{args:?}"), &text(&output.stdout), &output);
        no_secret(&format!("{args:?}"), &text(&output.stderr), &output);
        output
    }
}

fn no_secret(what: &str, haystack: &str, output: &Output) {
    for secret in SECRETS {
        assert!(
            !haystack.contains(secret),
            "{secret} is in {what}: {}",
            show(output)
        );
    }
}

fn file_has_no_secret(path: &Path) {
    let body = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("{} was written: {error}", path.display()));
    assert!(!body.is_empty(), "{} is empty", path.display());
    for secret in SECRETS {
        assert!(!body.contains(secret), "{secret} is in {}", path.display());
    }
}

/// A GET on the dashboard: the whole response.
async fn get(address: &str, path: &str) -> String {
    let authority = address
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = TcpStream::connect(&authority).await.expect("connect");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut response),
    )
    .await
    .expect("the dashboard answers")
    .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

// Multi-threaded: the webhook receiver answers on one worker while the binary runs on another.
/// The account (base stack, the SSM secret), the webhook receiver and the app's folder.
async fn world() -> (World, WebhookReceiver) {
    let account = Account::new("shared-alb.yaml").await;
    let ssm = aws_sdk_ssm::Client::new(&account.sdk);
    ssm.put_parameter()
        .name(SSM_NAME)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value(NOECHO_SSM)
        .send()
        .await
        .expect("put the SSM secret");
    let receiver = WebhookReceiver::start().await;
    let world = World {
        account,
        dir: tempfile::tempdir().unwrap(),
        home: tempfile::tempdir().unwrap(),
        hook: receiver.url.clone(),
    };
    (world, receiver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_shows_in_any_output_of_any_command() {
    let (world, received) = world().await;
    let release = release();
    world.write("", &release);
    let r = |release: &str| format!("{APP}-{release}");

    // ---- success forms
    world.run(
        &["deploy", APP, "--release", "r1", "--adopt", "--yes", "-vvv"],
        &[],
        0,
    );
    let plan = world.run(
        &["deploy", APP, "--dry-run", "--release", "r2", "-vvv"],
        &[],
        0,
    );
    assert!(
        text(&plan.stdout).contains("****"),
        "the plan shows the NoEcho values masked: {}",
        show(&plan)
    );
    world.run(
        &[
            "deploy",
            APP,
            "--dry-run",
            "--release",
            "r2",
            "--output",
            "json",
        ],
        &[],
        0,
    );
    world.run(
        &[
            "deploy",
            APP,
            "--release",
            "r2",
            "--yes",
            "--output",
            "json",
            "-vvv",
            "--report",
            "{dir}/deploy.html",
        ],
        &[],
        0,
    );
    file_has_no_secret(&world.path("deploy.html"));
    world.run(&["deploy", APP, "--release", "r3", "--yes", "-vvv"], &[], 0);
    world.run(&["diff", APP, "-vvv"], &[], 0);
    world.run(&["diff", APP, "--output", "json"], &[], 0);
    world.run(&["check", APP, "-vvv"], &[], 0);
    world.run(&["check", APP, "--output", "json"], &[], 0);
    for args in [
        vec!["status", "-vvv"],
        vec!["status", APP, "--output", "json"],
        vec!["history", APP, "-vvv"],
        vec![
            "history",
            APP,
            "--output",
            "json",
            "--html",
            "{dir}/history.html",
        ],
    ] {
        world.run(&args, &[], 0);
    }
    file_has_no_secret(&world.path("history.html"));
    world.run(
        &["rollback", APP, "--to", &r("r2"), "--yes", "-vvv"],
        &[],
        0,
    );
    world.run(&["resume", APP, "--yes", "-vvv"], &[], 0);
    world.run(&["retire", APP, "--dry-run", "-vvv"], &[], 0);
    world.run(
        &["retire", APP, "--yes", "--output", "json", "-vvv"],
        &[],
        0,
    );
    world.run(&["rotate", APP, "--dry-run", "-vvv"], &[], 0);
    world.run(&["rotate", APP, "-vvv"], &[], 0);
    world.run(&["unlock", APP, "--yes", "-vvv"], &[], 0);

    // The dashboard: its data and a page.
    let mut dashboard = world
        .command(&["dashboard", "--listen", "127.0.0.1:0", "-vvv"], &[])
        .stdout(Stdio::piped())
        // A file, not a pipe: at -vvv the logs would fill a pipe nobody reads while it runs.
        .stderr(std::fs::File::create(world.path("dashboard.log")).unwrap())
        .spawn()
        .expect("start the dashboard");
    let mut first_line = String::new();
    BufReader::new(dashboard.stdout.as_mut().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let address = first_line.trim().to_string();
    assert!(address.starts_with("http://127.0.0.1:"), "{address:?}");
    let data = get(&address, "/api/dashboard.json").await;
    let page = get(&address, &format!("/apps/{APP}")).await;
    let home = get(&address, "/").await;
    dashboard.kill().expect("stop the dashboard");
    let stopped = dashboard.wait_with_output().unwrap();
    assert!(
        data.contains(APP) && data.starts_with("HTTP/1.1 200"),
        "{data}"
    );
    assert!(home.contains(APP), "{home}");
    for (what, body) in [
        ("the dashboard JSON", &data),
        ("an app page", &page),
        ("the home page", &home),
    ] {
        no_secret(what, body, &stopped);
    }
    let log = std::fs::read_to_string(world.path("dashboard.log")).unwrap();
    assert!(!log.is_empty(), "the dashboard logs at -vvv");
    no_secret("the dashboard's stderr", &log, &stopped);

    // ---- failure forms
    // A gate that prints the secrets and fails: the deploy is shifted back.
    world.write(LEAKY_GATE, &release);
    let shifted = world.run(&["deploy", APP, "--release", "r5", "--yes", "-vvv"], &[], 1);
    assert!(
        text(&shifted.stderr).contains("****"),
        "the gate's words are shown, masked: {}",
        show(&shifted)
    );
    world.run(
        &[
            "deploy",
            APP,
            "--release",
            "r6",
            "--yes",
            "--output",
            "json",
            "--report",
            "{dir}/failed.html",
        ],
        &[],
        1,
    );
    file_has_no_secret(&world.path("failed.html"));
    world.write("", &release);
    // A template error.
    world.write("", &format!("{release}  Broken: [\n"));
    for args in [
        vec!["deploy", APP, "--release", "r7", "--yes", "-vvv"],
        vec!["diff", APP, "-vvv"],
        vec!["check", APP, "--output", "json", "-vvv"],
    ] {
        world.run(&args, &[], 2);
    }
    world.write("", &release);
    // Targets and names that do not exist.
    world.run(
        &["rollback", APP, "--to", &r("r99"), "--yes", "-vvv"],
        &[],
        2,
    );
    world.run(
        &["deploy", APP, "--release", "bad/id", "--yes", "-vvv"],
        &[],
        2,
    );
    // No AWS at the other end.
    let unreachable = [("AWS_ENDPOINT_URL", "http://127.0.0.1:9")];
    for args in [
        vec!["deploy", APP, "--release", "r8", "--yes", "-vvv"],
        vec!["diff", APP, "-vvv"],
        vec!["status", APP, "--output", "json", "-vvv"],
        vec!["history", APP, "-vvv"],
        vec!["rollback", APP, "--yes", "-vvv"],
        vec!["retire", APP, "--yes", "-vvv"],
        vec!["resume", APP, "--yes", "-vvv"],
        vec!["unlock", APP, "--yes", "-vvv"],
    ] {
        world.run(&args, &unreachable, 2);
    }
    world.run(&["rotate", APP, "-vvv"], &unreachable, 1);

    // The webhook got the deploys' events; the token only in its Authorization header.
    let requests = received.requests();
    assert!(
        requests
            .iter()
            .any(|request| request.contains("deploy_succeeded"))
            && requests
                .iter()
                .any(|request| request.contains("deploy_failed"))
            && requests
                .iter()
                .any(|request| request.contains("rollback_done"))
            && requests
                .iter()
                .any(|request| request.contains("rotate_summary")),
        "{requests:#?}"
    );
    for request in &requests {
        let (head, body) = request.split_once("\r\n\r\n").unwrap();
        let authorization = head
            .lines()
            .find(|line| line.to_ascii_lowercase().starts_with("authorization:"))
            .unwrap_or_else(|| panic!("the token header is sent: {request}"));
        assert_eq!(
            authorization.split_once(':').unwrap().1.trim(),
            format!("Bearer {TOKEN}")
        );
        let elsewhere: String = head
            .lines()
            .filter(|line| !line.to_ascii_lowercase().starts_with("authorization:"))
            .chain(std::iter::once(body))
            .collect::<Vec<_>>()
            .join("\n");
        for secret in SECRETS {
            assert!(
                !elsewhere.contains(secret),
                "{secret} in a notification: {request}"
            );
        }
    }

    // What cutover recorded in the account: marks, lock, baseline, tags of the release stacks.
    let state = snapshot(&world.account).await;
    // (Stack parameters are left out for the NoEcho values: moto, unlike CloudFormation, does
    // not mask them in DescribeStacks; the SSM secret is its own parameter.)
    let mut marks = 0;
    for (key, value) in &state {
        marks += usize::from(key.starts_with("parameter /cutover/marks/"));
        let noecho = !key.starts_with("stack ") && key != &format!("parameter {SSM_NAME}");
        for secret in SECRETS {
            let checked = noecho || [TOKEN, SECRET_KEY, SESSION_TOKEN].contains(&secret);
            assert!(
                !checked || !value.contains(secret),
                "{secret} in {key}: {value}"
            );
        }
    }
    assert!(marks > 0, "the marks were read: {state:#?}");
}

/// A rollback whose gate prints the secrets and fails: rollback resolves no parameters and reads
/// the webhook token only when it sends, so neither is known to the masking when the gate's
/// words are printed, and its final line on stdout is not masked at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_whose_gate_fails_shows_no_secret() {
    let (world, received) = world().await;
    let release = release();
    world.write("", &release);
    world.run(
        &["deploy", APP, "--release", "r1", "--adopt", "--yes"],
        &[],
        0,
    );
    world.run(&["deploy", APP, "--release", "r2", "--yes"], &[], 0);
    world.write(LEAKY_GATE, &release);
    let failed = world.run(
        &[
            "rollback",
            APP,
            "--to",
            &format!("{APP}-r1"),
            "--yes",
            "-vvv",
        ],
        &[],
        1,
    );
    assert!(text(&failed.stdout).contains("****"), "{}", show(&failed));
    let requests = received.requests();
    assert!(
        requests
            .iter()
            .any(|request| request.contains("rollback_failed")),
        "{requests:#?}"
    );
    for request in &requests {
        for secret in [NOECHO_ENV, NOECHO_SSM, SECRET_KEY, SESSION_TOKEN] {
            assert!(!request.contains(secret), "{secret}: {request}");
        }
    }
}
