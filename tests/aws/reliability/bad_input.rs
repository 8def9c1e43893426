//! Bad input, one table: specs, templates (aliases, deep nesting, huge files, invalid UTF-8,
//! byte order marks, tabs, duplicate keys, JSON), parameters, names, flags, rollback targets and
//! environments (no region, no credentials, an unreachable endpoint, a missing profile). Every
//! case runs against one account that has something to lose: a live release behind a listener
//! rule with a retained one beside it, another app's release on the same load balancer, marks, a
//! baseline and another app's lock in SSM. Each case must exit 2 within [`BOUND`] and under
//! [`MEMORY_KIB`] of data memory, with a message naming the file, line, resource or value that
//! is wrong, saying each thing once, and leave the AWS state exactly as it was.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::reliability::state::{differences, snapshot};
use crate::routing::world::{show, text, Account, ALB_RELEASE};
use crate::support::sdk_env;

/// The app with the live release.
const APP: &str = "biweb";
/// Another app on the same load balancer (its own rule): a release that is not `APP`'s.
const OTHER: &str = "biapi";
/// An app another run holds the lock of.
const LOCKED: &str = "bilocked";

const BOUND: Duration = Duration::from_secs(20);
/// `ulimit -d` for every run (KiB): the largest case needs a few tens of MiB.
const MEMORY_KIB: u64 = 512 * 1024;

/// The live app's spec after its `template = ...` line (7 lines in all).
const SPEC: &str = "[router]\nkind = \"alb\"\nrule = { stack_output = \"base\", output = \"WebRuleArn\" }\ntarget_group_output = \"TargetGroupArn\"\n[strategy]\nkind = \"all-at-once\"\n";
const OTHER_SPEC: &str = "[router]\nkind = \"alb\"\nrule = { stack_output = \"base\", output = \"ApiRuleArn\" }\ntarget_group_output = \"TargetGroupArn\"\n[strategy]\nkind = \"all-at-once\"\n";

/// The live release's template with a required parameter `Size` (for the parameter cases).
fn sized_template() -> String {
    format!("Parameters:\n  Size: {{Type: String}}{ALB_RELEASE}")
}

fn full_spec(app: &str, body: &str) -> String {
    format!("template = \"../templates/{app}.yaml\"\n{body}")
}

/// One bad input: what is written over the live app's folder, what is run, in what
/// environment, and what the message must name.
struct Case {
    name: &'static str,
    /// Files (relative to the case's folder, which holds `stacks/` and `templates/`).
    files: Vec<(String, Vec<u8>)>,
    /// Arguments after `--stacks-dir`; `{dir}` is the case's folder.
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// Variables of the usual test environment left out.
    unset: Vec<&'static str>,
    /// Text stderr must contain.
    expect: Vec<String>,
}

impl Case {
    fn new(name: &'static str, args: &[&str], expect: &[&str]) -> Case {
        Case {
            name,
            files: Vec::new(),
            args: args.iter().map(|arg| arg.to_string()).collect(),
            env: Vec::new(),
            unset: Vec::new(),
            expect: expect.iter().map(|text| text.to_string()).collect(),
        }
    }

    fn file(mut self, path: &str, body: impl Into<Vec<u8>>) -> Case {
        self.files.push((path.to_string(), body.into()));
        self
    }

    fn spec(self, body: &str) -> Case {
        self.file(&format!("stacks/{APP}.toml"), full_spec(APP, body))
    }

    fn template(self, body: impl Into<Vec<u8>>) -> Case {
        self.file(&format!("templates/{APP}.yaml"), body)
    }

    fn env(mut self, name: &'static str, value: &str) -> Case {
        self.env.push((name, value.to_string()));
        self
    }

    fn unset(mut self, names: &[&'static str]) -> Case {
        self.unset.extend_from_slice(names);
        self
    }
}

const DEPLOY: &[&str] = &["deploy", APP, "--release", "r9", "--yes"];

/// A spec case: the live spec plus `tail`, deployed.
fn spec_tail(name: &'static str, tail: &str, expect: &[&str]) -> Case {
    Case::new(name, DEPLOY, expect).spec(&format!("{SPEC}{tail}"))
}

/// A spec case: the live spec with `from` replaced by `to`, deployed.
fn spec_edit(name: &'static str, from: &str, to: &str, expect: &[&str]) -> Case {
    assert!(SPEC.contains(from), "{name}: {from}");
    Case::new(name, DEPLOY, expect).spec(&SPEC.replace(from, to))
}

/// A template case, deployed.
fn template(name: &'static str, body: impl Into<Vec<u8>>, expect: &[&str]) -> Case {
    Case::new(name, DEPLOY, expect).template(body)
}

/// A parameter case: the template needs `Size`, the spec gives it `source`.
fn parameter(name: &'static str, source: &str, expect: &[&str]) -> Case {
    Case::new(name, DEPLOY, expect)
        .template(sized_template())
        .spec(&format!("{SPEC}[parameters]\nSize = {source}\n"))
}

fn nested(open: &str, middle: &str, close: &str, depth: usize) -> String {
    format!(
        "Resources:\n  Deep: {}{middle}{}\n",
        open.repeat(depth),
        close.repeat(depth)
    )
}

fn cases() -> Vec<Case> {
    let canary = |percent: &str, bake: &str| {
        SPEC.replace(
            "kind = \"all-at-once\"\n",
            &format!("kind = \"canary\"\npercent = {percent}\nbake = {bake}\n"),
        )
    };
    let laughs = {
        let mut body = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..10 {
            let previous = format!("*l{}", level - 1);
            body.push_str(&format!(
                "l{level}: &l{level} [{}]\n",
                [previous.as_str(); 9].join(", ")
            ));
        }
        body + ALB_RELEASE
    };
    let huge = format!(
        "Description: {}\n{ALB_RELEASE}",
        "x".repeat(2 * 1024 * 1024 + 100)
    );
    let many = {
        let mut body = String::from("Resources:\n");
        for index in 0..501 {
            body.push_str(&format!(
                "  Vpc{index}:\n    Type: AWS::EC2::VPC\n    Properties: {{CidrBlock: 10.0.0.0/16}}\n"
            ));
        }
        body
    };
    let long_release = "r".repeat(130);
    vec![
        // ---- specs
        spec_tail("TOML syntax error", "[strategy\n", &["biweb.toml:8", "table header"]),
        spec_tail("unknown key", "[gates]\nalrams = [\"x\"]\n", &["biweb.toml:9", "alrams", "gates.alrams"]),
        spec_edit("unknown key in a value", "output = \"WebRuleArn\" }", "output = \"WebRuleArn\", extra = 1 }", &["biweb.toml:4", "extra", "router.rule.extra"]),
        spec_edit("missing router output key", "target_group_output = \"TargetGroupArn\"\n", "", &["biweb.toml", "target_group_output"]),
        spec_edit("misspelt stack output of the router", "WebRuleArn", "WebRulArn", &["WebRulArn", "router.rule", "base"]),
        spec_edit("router output the release template lacks", "\"TargetGroupArn\"", "\"TargetGroupArm\"", &["biweb.yaml", "TargetGroupArm", "router.target_group_output"]),
        Case::new("no router", DEPLOY, &["biweb.toml:1", "router"]).spec(""),
        Case::new("template file missing", DEPLOY, &["biweb.toml:1", "nope.yaml", "does not exist"])
            .file("stacks/biweb.toml", format!("template = \"../templates/nope.yaml\"\n{SPEC}")),
        Case::new("wrong value type", DEPLOY, &["biweb.toml:8", "\"ten\"", "strategy.percent"]).spec(&canary("\"ten\"", "\"5m\"")),
        Case::new("percent out of range", DEPLOY, &["biweb.toml:8", "150", "strategy.percent"]).spec(&canary("150", "\"5m\"")),
        Case::new("bad duration", DEPLOY, &["biweb.toml:9", "5 fortnights", "strategy.bake"]).spec(&canary("10", "\"5 fortnights\"")),
        spec_tail("zero gate interval", "[gates]\ninterval = \"0s\"\n", &["biweb.toml:9", "gates.interval"]),
        spec_edit("a key of another strategy kind", "kind = \"all-at-once\"\n", "kind = \"linear\"\npercent = 10\n", &["biweb.toml:8", "strategy.percent", "linear"]),
        spec_edit("weights that do not increase", "kind = \"all-at-once\"\n", "kind = \"steps\"\nweights = [50, 25, 100]\npause = \"1s\"\n", &["biweb.toml:8", "strategy.weights[1]"]),
        Case::new("eip router with a canary", DEPLOY, &["biweb.toml", "eip", "strategy.kind"]).spec(
            "[router]\nkind = \"eip\"\nallocation_id = \"eipalloc-1\"\ninstance_output = \"InstanceId\"\n[strategy]\nkind = \"canary\"\npercent = 10\nbake = \"1m\"\n",
        ),
        spec_tail("reserved tag", "[tags]\n\"cutover:app\" = \"x\"\n", &["biweb.toml:9", "tags.cutover:app"]),
        spec_tail("webhook URL with a password", "[notify]\nwebhook = { url = \"https://user:pw@chat.example.com/h\" }\n", &["biweb.toml:9", "notify.webhook.url"]),
        spec_tail("test header Host", "[router.test_traffic]\nheader = \"Host\"\n", &["biweb.toml:9", "router.test_traffic.header"]),
        spec_tail("probe URL not http", "[gates]\nhttp = { url = \"ftp://example.com/\" }\n", &["biweb.toml:9", "ftp://example.com/", "gates.http.url"]),
        spec_tail("refresh_ami without an AMI source", "[rotation]\nrefresh_ami = true\n", &["biweb.toml:9", "rotation.refresh_ami"]),
        spec_tail("role that is not an ARN", "[aws]\nrole_arn = \"deployer\"\n", &["biweb.toml:9", "aws.role_arn"]),
        spec_tail("gate alarm that does not exist", "[gates]\nalarms = [\"biweb-no-such-alarm\"]\n", &["biweb.toml", "biweb-no-such-alarm", "gates.alarms"]),
        Case::new("app name not allowed", &["deploy", "Bad_App", "--yes"], &["Bad_App"])
            .file("stacks/Bad_App.toml", full_spec(APP, SPEC)),
        // ---- parameters
        Case::new("parameter with no value source", DEPLOY, &["biweb.toml", "Size"]).template(sized_template()),
        spec_tail("parameter the template does not declare", "[parameters]\nNope = \"x\"\n", &["biweb.toml", "Nope"]),
        parameter("parameter from an unset variable", "{ env = \"BI_UNSET_VARIABLE\" }", &["biweb.toml", "Size", "BI_UNSET_VARIABLE"]),
        parameter("parameter from a missing SSM parameter", "{ ssm = \"/bi/no/such\" }", &["biweb.toml", "Size", "/bi/no/such"]),
        parameter("parameter from a missing output", "{ stack_output = \"base\", output = \"Nope\" }", &["biweb.toml", "Size", "Nope", "base"]),
        parameter("parameter from a missing stack", "{ stack_output = \"bi-no-stack\", output = \"Vpc\" }", &["biweb.toml", "Size", "bi-no-stack"]),
        parameter("parameter from an AMI that does not exist", "{ latest_ami = { owners = [\"self\"], name = \"bi-nothing-*\" } }", &["biweb.toml", "Size", "bi-nothing-*"]),
        parameter("parameter with two sources", "{ env = \"A\", ssm = \"/b\" }", &["biweb.toml:9", "parameters.Size"]),
        // ---- templates
        template("YAML alias", "Resources:\n  Vpc:\n    Type: AWS::EC2::VPC\n    Properties: &props {CidrBlock: 10.0.0.0/16}\n  Vpc2:\n    Type: AWS::EC2::VPC\n    Properties: *props\n", &["biweb.yaml:7", "alias"]),
        template("billion laughs", laughs, &["biweb.yaml:2", "alias"]),
        template("10,000 nested lists", nested("[", "1", "]", 10_000), &["biweb.yaml:2"]),
        template("10,000 nested maps", nested("{a: ", "1", "}", 10_000), &["biweb.yaml:2"]),
        template("10,000 nested JSON arrays", format!("{{\"Resources\": {{\"Deep\": {}1{}}}}}", "[".repeat(10_000), "]".repeat(10_000)), &["biweb.yaml:1", "JSON"]),
        template("2 MB template", huge, &["biweb.yaml", "1048576"]),
        template("501 resources", many, &["biweb.yaml", "501 resources", "500"]),
        template("invalid UTF-8", b"Resources:\n  Vpc:\n    Type: AWS::EC2::VPC\n    Properties: {CidrBlock: \"10.0.0.0/16 \xff\xfe\"}\n".to_vec(), &["biweb.yaml", "UTF-8"]),
        template("byte order mark and a syntax error", b"\xef\xbb\xbfResources:\n  Vpc:\n    Type: [AWS::EC2::VPC\n".to_vec(), &["biweb.yaml:4", "YAML"]),
        template("tab indentation", "Resources:\n\tVpc:\n\t\tType: AWS::EC2::VPC\n", &["biweb.yaml:2", "tab"]),
        template("duplicate keys", "Resources:\n  Vpc:\n    Type: AWS::EC2::VPC\n    Properties: {CidrBlock: 10.0.0.0/16}\n  Vpc:\n    Type: AWS::EC2::VPC\n", &["biweb.yaml:5", "`Vpc`", "line 2"]),
        template("JSON syntax error", "{\"Resources\": {\"Vpc\": {\"Type\": \"AWS::EC2::VPC\",\n \"Properties\": {\"CidrBlock\": \"10.0.0.0/16\",}}}}\n", &["biweb.yaml:2", "JSON"]),
        template("unknown intrinsic tag", ALB_RELEASE.replace("!Ref Vpc", "!Reff Vpc"), &["biweb.yaml:8", "!Reff"]),
        template("two YAML documents", format!("{ALB_RELEASE}---\nResources: {{}}\n"), &["biweb.yaml:11", "second YAML document"]),
        template("resource without a Type", "Resources:\n  Group:\n    Properties: {Port: 80}\n", &["biweb.yaml", "`Group`", "Type"]),
        template("top level a list", "- Resources\n- Outputs\n", &["biweb.yaml", "top level"]),
        template("empty template", "", &["biweb.yaml"]),
        template("silence of an unknown rule", format!("Metadata:\n  cutover:\n    ignore: [CO999]\n{ALB_RELEASE}"), &["biweb.yaml:2", "CO999"]),
        template("fixed physical name (CO101)", ALB_RELEASE.replace("Resources:\n", "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: orders}\n"), &["biweb.yaml", "CO101", "BucketName"]),
        Case::new("bad template of a locked app", &["deploy", LOCKED, "--yes"], &["bilocked.yaml:2", "tab"])
            .file("templates/bilocked.yaml", "Resources:\n\tVpc: {}\n"),
        // ---- names and flags
        Case::new("release id with a slash", &["deploy", APP, "--release", "a/b", "--yes"], &["a/b"]),
        Case::new("release id with an underscore", &["deploy", APP, "--release", "r_1", "--yes"], &["r_1"]),
        Case::new("release id too long", &["deploy", APP, "--release", &long_release, "--yes"], &["longer than"]),
        Case::new("empty release id", &["deploy", APP, "--release", "", "--yes"], &["release id", "empty"]),
        Case::new("unknown app", &["deploy", "bi-no-such-app", "--yes"], &["bi-no-such-app", "does not exist"]),
        Case::new("unknown flag", &["deploy", APP, "--yes", "--frobnicate"], &["--frobnicate"]),
        Case::new("conflicting flags", &["deploy", APP, "--yes", "-q", "-v"], &["--quiet", "--verbose"]),
        Case::new("bad --timeout", &["deploy", APP, "--yes", "--timeout", "banana"], &["banana", "--timeout"]),
        Case::new("bad --output", &["status", "--output", "xml"], &["xml", "--output"]),
        Case::new("unlock of a name that is no app", &["unlock", "bad_name", "--yes"], &["bad_name"]),
        Case::new("diff of a file that does not exist", &["diff", "{dir}/nope.json", "{dir}/templates/biweb.yaml"], &["nope.json"]),
        Case::new("check of a file that is not a template", &["check", "{dir}/stacks/biweb.toml"], &["biweb.toml"]),
        // ---- rollback targets
        Case::new("rollback to a stack that does not exist", &["rollback", APP, "--to", "biweb-r7", "--yes"], &["biweb-r7", "no such stack"]),
        Case::new("rollback to another app's release", &["rollback", APP, "--to", "biapi-r1", "--yes"], &["biapi-r1", "biapi"]),
        Case::new("rollback to a stack that is no release", &["rollback", APP, "--to", "base", "--yes"], &["base", "not a release"]),
        Case::new("rollback to garbage", &["rollback", APP, "--to", "../../etc/passwd", "--yes"], &["../../etc/passwd"]),
        Case::new("rollback with a misspelt router output", &["rollback", APP, "--yes"], &["WebRulArn"]).spec(&SPEC.replace("WebRuleArn", "WebRulArn")),
        Case::new("retire through a misspelt target group output", &["retire", APP, "--yes"], &["not retiring", "no release of the app", "biweb-r2-Group"]).spec(&SPEC.replace("\"TargetGroupArn\"", "\"TargetGroupArm\"")),
        // ---- environment
        Case::new("no region", DEPLOY, &["region"]).unset(&["AWS_REGION", "AWS_EC2_METADATA_DISABLED"]),
        Case::new("no region, status", &["status"], &["region"]).unset(&["AWS_REGION", "AWS_EC2_METADATA_DISABLED"]),
        Case::new("no credentials", DEPLOY, &["credentials"]).unset(&["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"]),
        Case::new("unreachable endpoint", DEPLOY, &["could not reach the AWS endpoint"]).env("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        Case::new("a profile that does not exist", &["--profile", "bi-no-profile", "deploy", APP, "--release", "r9", "--yes"], &["bi-no-profile"]),
        spec_tail("a spec profile that does not exist", "[aws]\nprofile = \"bi-no-profile\"\n", &["bi-no-profile"]),
    ]
}

/// Runs one case in its own folder (the live apps' specs and templates, then the case's files)
/// with `HOME` an empty folder, under the memory limit.
fn run(account: &Account, case: &Case) -> (Output, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let write = |path: &str, body: &[u8]| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    };
    for app in [APP, OTHER, LOCKED] {
        let spec = if app == OTHER { OTHER_SPEC } else { SPEC };
        write(
            &format!("stacks/{app}.toml"),
            full_spec(app, spec).as_bytes(),
        );
        write(&format!("templates/{app}.yaml"), ALB_RELEASE.as_bytes());
    }
    for (path, body) in &case.files {
        write(path, body);
    }
    let folder = dir.path().to_str().unwrap();
    let mut args = vec!["--stacks-dir".to_string(), format!("{folder}/stacks")];
    args.extend(case.args.iter().map(|arg| arg.replace("{dir}", folder)));
    let mut env = sdk_env(account.proxy.url());
    env.push(("HOME".into(), home.path().display().to_string()));
    env.retain(|(name, _)| !case.unset.contains(&name.as_str()));
    for (name, value) in &case.env {
        env.retain(|(have, _)| have != name);
        env.push((name.to_string(), value.clone()));
    }
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -d {MEMORY_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_cutover"))
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("AWS_") || name.starts_with("CUTOVER_") {
            command.env_remove(name.as_ref());
        }
    }
    command.envs(env.iter().map(|(name, value)| (name, value)));
    let started = Instant::now();
    let output = command.output().expect("run cutover");
    (output, started.elapsed())
}

/// What is wrong with a case's run; empty when it behaved.
fn problems(case: &Case, output: &Output, took: Duration) -> Vec<String> {
    let mut problems = Vec::new();
    if output.status.code() != Some(2) {
        problems.push(format!("exit {:?}, not 2", output.status.code()));
    }
    if took > BOUND {
        problems.push(format!("took {took:?}, over {BOUND:?}"));
    }
    let stderr = text(&output.stderr);
    for expected in &case.expect {
        if !stderr.contains(expected.as_str()) {
            problems.push(format!("stderr does not name {expected:?}"));
        }
    }
    if !stderr.contains("error:") {
        problems.push("no `error:` line".into());
    }
    problems.extend(said_twice(&stderr));
    problems
}

/// Each message says a thing once: within one message (an `error:` line and the lines after it
/// up to the next `error:`), no `caused by:` line repeats (or is a part of, or contains) the
/// `error:` line, and no line appears twice. (Separate messages may share a cause: `status`
/// reports each app that cannot connect.)
fn said_twice(stderr: &str) -> Vec<String> {
    let mut messages: Vec<Vec<&str>> = Vec::new();
    for line in stderr.lines().map(str::trim) {
        if line.starts_with("error:") || messages.is_empty() {
            messages.push(Vec::new());
        }
        messages.last_mut().unwrap().push(line);
    }
    let mut twice = Vec::new();
    for lines in &messages {
        let errors = lines.iter().filter_map(|line| line.strip_prefix("error:"));
        for error in errors.map(str::trim) {
            let causes = lines
                .iter()
                .filter_map(|line| line.strip_prefix("caused by:"));
            for cause in causes.map(str::trim) {
                if !cause.is_empty() && (error.contains(cause) || cause.contains(error)) {
                    twice.push(format!(
                        "said twice: `error: {error}` and `caused by: {cause}`"
                    ));
                }
            }
        }
        for (index, line) in lines.iter().enumerate() {
            if !line.is_empty() && lines[..index].contains(line) {
                twice.push(format!("line printed twice in one message: {line}"));
            }
        }
    }
    twice
}

/// The account: `biweb` live on r2 (r1 retained, both adopted from the web rule's legacy
/// group), `biapi` live on r1 on the api rule, and a lock another run holds on `bilocked`.
async fn world() -> Account {
    let account = Account::new("shared-alb.yaml").await;
    account.write_app(APP, ALB_RELEASE, SPEC);
    account.write_app(OTHER, ALB_RELEASE, OTHER_SPEC);
    for args in [
        vec!["deploy", APP, "--release", "r1", "--adopt", "--yes"],
        vec!["deploy", APP, "--release", "r2", "--yes"],
        vec!["deploy", OTHER, "--release", "r1", "--adopt", "--yes"],
    ] {
        let output = account.cutover(&args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", show(&output));
    }
    aws_sdk_ssm::Client::new(&account.sdk)
        .put_parameter()
        .name(format!("/cutover/locks/{LOCKED}"))
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .value(format!(
            "{{\"holder\":\"ci\",\"host\":\"runner-7\",\"pid\":4242,\"command\":\"cutover deploy {LOCKED}\",\"since\":\"2026-01-01T00:00:00Z\",\"expires\":\"2099-01-01T00:00:00Z\",\"token\":\"bi-token\"}}"
        ))
        .send()
        .await
        .expect("put the lock");
    account
}

#[tokio::test]
async fn every_bad_input_exits_2_naming_the_problem_once_and_changes_nothing() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|case| case.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are distinct");

    let account = world().await;
    let before = snapshot(&account).await;
    assert!(
        before
            .keys()
            .any(|key| key.starts_with("parameter /cutover/marks/"))
            && before
                .keys()
                .any(|key| key.starts_with("parameter /cutover/locks/"))
            && before.keys().any(|key| key.starts_with("rule ")),
        "the world has state to protect: {before:#?}"
    );
    let mut failures = Vec::new();
    for case in &cases {
        println!("case: {}", case.name);
        let (output, took) = run(&account, case);
        let mut wrong = problems(case, &output, took);
        let after = snapshot(&account).await;
        let changed = differences(&before, &after);
        if !changed.is_empty() {
            wrong.push(format!("AWS state changed:\n  {}", changed.join("\n  ")));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "case `{}` ({took:?}):\n  {}\n{}",
                case.name,
                wrong.join("\n  "),
                show(&output)
            ));
        }
        if !changed.is_empty() {
            // Every later case would report this one's change too.
            break;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases misbehaved:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// A `Ref` to something the template does not declare is a template mistake like the others: it
/// should be refused with the file, line and name before any AWS call, not sent to
/// CloudFormation (moto even accepts it and then cannot list stacks). Its own account for that
/// reason.
#[tokio::test]
async fn a_ref_to_nothing_is_refused_before_any_aws_call() {
    let account = Account::new("shared-alb.yaml").await;
    account.write_app(APP, &ALB_RELEASE.replace("!Ref Vpc", "!Ref Vcp"), SPEC);
    let creates = account.creates();
    let started = Instant::now();
    let output = account.cutover(&["deploy", APP, "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(started.elapsed() < BOUND);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("biweb.yaml:8") && stderr.contains("Vcp"),
        "{}",
        show(&output)
    );
    assert_eq!(account.creates(), creates, "no stack was created");
    assert!(said_twice(&stderr).is_empty(), "{}", show(&output));
}

/// A rollback to a release through a misspelt `target_group_output`: the target has no such
/// output, which can be seen before anything changes. Today the rollback takes the lock and
/// starts the cutover, fails half way ("the cutover to biweb-r1 stopped ..."), and hints at
/// `cutover resume`; moto's SSM is left unable to list parameters afterwards (so its own account).
#[tokio::test]
async fn a_rollback_through_a_misspelt_target_group_output_is_refused_up_front() {
    let account = world().await;
    let before = snapshot(&account).await;
    let case = Case::new(
        "rollback to a release through a misspelt target group output",
        &["rollback", APP, "--to", "biweb-r1", "--yes"],
        &["TargetGroupArm", "biweb-r1"],
    )
    .spec(&SPEC.replace("\"TargetGroupArn\"", "\"TargetGroupArm\""));
    let (output, took) = run(&account, &case);
    let wrong = problems(&case, &output, took);
    assert!(wrong.is_empty(), "{wrong:#?}\n{}", show(&output));
    assert!(
        !text(&output.stderr).contains("cutover resume"),
        "{}",
        show(&output)
    );
    let after = snapshot(&account).await;
    assert_eq!(before, after, "{:#?}", differences(&before, &after));
}

#[test]
fn the_repetition_check_sees_a_message_said_twice() {
    let twice = "error: could not set up the alb router of app web\ncaused by: could not set up the alb router of app web\n";
    assert_eq!(said_twice(twice).len(), 1, "{:?}", said_twice(twice));
    let once = "error: could not list the release stacks of app web\ncaused by: no AWS credentials found\nhint: configure credentials\n";
    assert!(said_twice(once).is_empty());
    let apps = "error: could not connect to app a\ncaused by: no region\nerror: could not connect to app b\ncaused by: no region\n";
    assert!(said_twice(apps).is_empty(), "{:?}", said_twice(apps));
    let inside = "error: x\ncaused by: y\ncaused by: y\n";
    assert_eq!(said_twice(inside).len(), 1);
}
