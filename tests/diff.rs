//! `cutover diff OLD NEW` end to end: the binary on fixture pairs (snapshots of text and JSON),
//! exit codes, NoEcho masking at -vvv, bad input, and the corpus's JSON/YAML twins.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use std::collections::BTreeSet;

use cutover::diff::{diff, ChangeKind, ReleaseView, StackDiff};
use cutover::template::{self, differing_paths, Template};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    manifest_dir()
        .join("tests/fixtures/diff")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs the binary with colour off and no inherited log filter.
fn cutover(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run cutover")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let output = cutover(args);
    Run {
        code: output.status.code().expect("exit code"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// The text and JSON diffs of one fixture pair, both checked for the same exit code.
fn diff_pair(old: &str, new: &str) -> (Run, serde_json::Value) {
    let (old, new) = (fixture(old), fixture(new));
    let text = run(&["diff", &old, &new]);
    let json = run(&["--output", "json", "diff", &old, &new]);
    assert_eq!(text.code, json.code, "text and JSON exit alike");
    assert!(text.stderr.is_empty(), "stderr: {}", text.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON on stdout");
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["differences"], text.code == 1);
    (text, value)
}

fn fail_on_broadening(old: &str, new: &str) -> i32 {
    run(&[
        "diff",
        &fixture(old),
        &fixture(new),
        "--fail-on",
        "broadening",
    ])
    .code
}

#[test]
fn json_and_yaml_twins_have_no_differences() {
    let (text, json) = diff_pair("twin.json", "twin.yaml");
    assert_eq!(text.code, 0);
    assert_eq!(text.stdout, "no differences\n");
    assert_eq!(json["resources"], serde_json::json!([]));
    assert_eq!(fail_on_broadening("twin.json", "twin.yaml"), 0);
}

#[test]
fn security_group_opened_to_the_world() {
    let (text, json) = diff_pair("sg_old.yaml", "sg_new.yaml");
    assert_eq!(text.code, 1);
    assert!(text
        .stdout
        .contains("~ Properties.SecurityGroupIngress[2].CidrIp: \"10.0.0.0/8\" -> \"0.0.0.0/0\""));
    assert_eq!(json["broadening"], true);
    assert_eq!(fail_on_broadening("sg_old.yaml", "sg_new.yaml"), 1);
    insta::assert_snapshot!("sg_text", text.stdout);
    insta::assert_json_snapshot!("sg_json", json);
}

#[test]
fn iam_wildcards_and_removed_deny_broaden() {
    let (text, json) = diff_pair("iam_old.yaml", "iam_new.yaml");
    assert_eq!(text.code, 1);
    assert!(text.stdout.contains("wildcard action `*`"));
    assert!(text.stdout.contains("wildcard principal `*`"));
    assert!(text.stdout.contains("Deny statement removed"));
    assert_eq!(fail_on_broadening("iam_old.yaml", "iam_new.yaml"), 1);
    insta::assert_snapshot!("iam_text", text.stdout);
    insta::assert_json_snapshot!("iam_json", json);
}

#[test]
fn user_data_changes_show_as_line_diffs() {
    let (text, json) = diff_pair("userdata_old.yaml", "userdata_new.yaml");
    assert_eq!(text.code, 1);
    assert!(text
        .stdout
        .contains("+ dnf install -y nginx amazon-cloudwatch-agent"));
    assert_eq!(json["broadening"], false);
    // Differences, but none that widen access: the CI gate passes.
    assert_eq!(
        fail_on_broadening("userdata_old.yaml", "userdata_new.yaml"),
        0
    );
    insta::assert_snapshot!("userdata_text", text.stdout);
    insta::assert_json_snapshot!("userdata_json", json);
}

#[test]
fn reordered_tags_are_no_difference_and_a_changed_value_is_one() {
    let (reordered, _) = diff_pair("tags_old.yaml", "tags_reordered.yaml");
    assert_eq!(reordered.code, 0);
    assert_eq!(reordered.stdout, "no differences\n");
    let (changed, json) = diff_pair("tags_old.yaml", "tags_changed.yaml");
    assert_eq!(changed.code, 1);
    insta::assert_snapshot!("tags_changed_text", changed.stdout);
    insta::assert_json_snapshot!("tags_changed_json", json);
}

#[test]
fn added_removed_and_retyped_resources_and_every_section() {
    let (text, json) = diff_pair("resources_old.json", "resources_new.yaml");
    assert_eq!(text.code, 1);
    insta::assert_snapshot!("resources_text", text.stdout);
    insta::assert_json_snapshot!("resources_json", json);
}

#[test]
fn data_bearing_resources_in_the_new_release_are_flagged() {
    let (text, json) = diff_pair("stateful_old.yaml", "stateful_new.yaml");
    assert_eq!(text.code, 1);
    assert!(text.stdout.contains("long-lived stack"));
    assert_eq!(json["summary"]["stateful_resources"], 3);
    insta::assert_snapshot!("stateful_text", text.stdout);
    insta::assert_json_snapshot!("stateful_json", json);
}

#[test]
fn no_echo_values_never_appear_in_any_output() {
    let secrets = [
        "Tr0ub4dor-and-3",
        "Tr0ub4dor-and-3-rotated",
        "tok-old-9f8e7d6c5b",
        "tok-new-1a2b3c4d5e",
    ];
    let (old, new) = (fixture("noecho_old.yaml"), fixture("noecho_new.yaml"));
    // The secrets really are in the inputs, so this test can fail.
    let inputs = std::fs::read_to_string(&old).unwrap() + &std::fs::read_to_string(&new).unwrap();
    assert!(secrets.iter().all(|secret| inputs.contains(secret)));
    for format in ["text", "json"] {
        for (a, b) in [(&old, &new), (&new, &old)] {
            let result = run(&["-vvv", "--output", format, "diff", a, b]);
            assert_eq!(result.code, 1, "{}", result.stderr);
            assert!(result.stdout.contains("****"), "{}", result.stdout);
            for secret in secrets {
                assert!(
                    !result.stdout.contains(secret) && !result.stderr.contains(secret),
                    "{secret} printed in {format}:\n{}\n{}",
                    result.stdout,
                    result.stderr
                );
            }
        }
    }
}

#[test]
fn unreadable_and_invalid_templates_exit_2_naming_the_file() {
    let missing = run(&["diff", &fixture("no-such-file.yaml"), &fixture("twin.yaml")]);
    assert_eq!(missing.code, 2);
    assert!(missing.stdout.is_empty());
    assert!(
        missing.stderr.contains("no-such-file.yaml"),
        "{}",
        missing.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "Resources:\n  A:\n    Type: [unclosed\n").unwrap();
    let invalid = run(&["diff", &fixture("twin.yaml"), broken.to_str().unwrap()]);
    assert_eq!(invalid.code, 2);
    assert!(invalid.stdout.is_empty());
    assert!(
        invalid.stderr.contains("broken.yaml:"),
        "{}",
        invalid.stderr
    );
}

/// The corpus folder from `CUTOVER_CORPUS_DIR` (`.ci/run` sets it); `None`, with one line saying
/// how to run the test, when it is not set.
fn corpus_root() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("CUTOVER_CORPUS_DIR") else {
        eprintln!(
            "skipped: set CUTOVER_CORPUS_DIR to the aws-cloudformation-templates corpus to run the corpus tests (.ci/run does)"
        );
        return None;
    };
    Some(PathBuf::from(dir))
}

fn view(template: &Template) -> ReleaseView {
    ReleaseView::of_template(template.root.clone(), template.no_echo_parameters())
}

fn twins(dir: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in &entries {
        if path.is_dir() {
            twins(path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            for ext in ["yaml", "yml"] {
                let twin = path.with_extension(ext);
                if twin.is_file() {
                    out.push((path.clone(), twin));
                }
            }
        }
    }
}

/// The top-level places (`Resources/Web`, `Parameters/Env`, `Description`) a diff reports.
fn reported_places(result: &StackDiff) -> BTreeSet<String> {
    let mut places = BTreeSet::new();
    for resource in &result.resources {
        assert!(
            resource.kind != ChangeKind::Modified
                || !resource.changes.is_empty()
                || resource.old_type.is_some(),
            "a modified resource without paths: {resource:?}"
        );
        assert!(resource
            .changes
            .iter()
            .all(|change| !change.path.0.is_empty()));
        places.insert(format!("Resources/{}", resource.logical_id));
    }
    for section in &result.sections {
        for entry in &section.entries {
            places.insert(format!("{}/{}", section.name, entry.name));
        }
    }
    for change in &result.template {
        places.insert(change.path.to_string());
    }
    places
}

/// The same places from the loader's JSON Pointer paths.
fn differing_places(paths: &[String]) -> BTreeSet<String> {
    paths
        .iter()
        .map(|path| {
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            match parts.as_slice() {
                [single] => single.to_string(),
                ["AWSTemplateFormatVersion" | "Description" | "Transform", ..] => {
                    parts[0].to_string()
                }
                [section, name, ..] => format!("{section}/{name}"),
                [] => String::new(),
            }
        })
        .collect()
}

/// Every twin whose trees are equal diffs to nothing; every other one reports changes with
/// paths, at exactly the resources and entries where the loader's plain tree comparison finds
/// the trees differ.
#[test]
fn corpus_twins_diff_to_nothing_or_to_the_differing_places() {
    let Some(root) = corpus_root() else { return };
    let mut pairs = Vec::new();
    twins(&root, &mut pairs);
    assert!(
        pairs.len() > 100,
        "corpus twins missing under {}",
        root.display()
    );
    let (mut equal, mut unequal) = (0, 0);
    for (json, yaml) in &pairs {
        // Files the loader rejects (Rain templates, non-templates) are its own test's business.
        let (Ok(a), Ok(b)) = (template::load_file(json), template::load_file(yaml)) else {
            continue;
        };
        let result = diff(Some(&view(&a)), &view(&b));
        let paths = differing_paths(&a.root, &b.root);
        if paths.is_empty() {
            equal += 1;
            assert!(!result.has_differences(), "{}: {result:?}", json.display());
        } else {
            unequal += 1;
            assert!(result.has_differences(), "{}", json.display());
            assert_eq!(
                reported_places(&result),
                differing_places(&paths),
                "{}",
                json.display()
            );
        }
    }
    // The corpus as stored: most twins mean the same, some differ on purpose (the list is
    // `DIFFERING_TWINS` in tests/template_corpus.rs; `Fn::GetAZs` spellings of the stack's region
    // are one form since the loader normalises them).
    assert_eq!((equal, unequal), (105, 20), "(equal, unequal) twins");
}

/// `cutover diff` on two small templates written to a scratch folder: (exit code, stdout,
/// stderr) of the text run, after checking the JSON run exits alike.
fn diff_texts(old: &[u8], new: &[u8], extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let ext = |body: &[u8]| {
        let text = String::from_utf8_lossy(body);
        if text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('{')
        {
            "json"
        } else {
            "yaml"
        }
    };
    let old_path = dir.path().join(format!("old.{}", ext(old)));
    let new_path = dir.path().join(format!("new.{}", ext(new)));
    std::fs::write(&old_path, old).unwrap();
    std::fs::write(&new_path, new).unwrap();
    let (old_path, new_path) = (old_path.to_str().unwrap(), new_path.to_str().unwrap());
    let mut args = vec!["diff"];
    args.extend_from_slice(extra);
    args.extend([old_path, new_path]);
    let text = run(&args);
    let mut json_args = vec!["--output", "json"];
    json_args.extend_from_slice(&args);
    let json = run(&json_args);
    assert_eq!(
        text.code, json.code,
        "text and JSON exit alike: {}",
        text.stderr
    );
    (text.code, text.stdout, text.stderr)
}

fn topic(property: &str) -> String {
    format!("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      {property}\n")
}

#[test]
fn yaml_1_1_scalars_diff_as_cloudformation_reads_them() {
    // (old property, new property, a change?)
    let cases = [
        ("DisplayName: \"OFF\"", "DisplayName: OFF", true),
        ("DisplayName: \"off\"", "DisplayName: Off", true),
        ("DisplayName: \"true\"", "DisplayName: yes", false),
        ("DisplayName: \"false\"", "DisplayName: NO", false),
        ("DisplayName: \"true\"", "DisplayName: On", false),
        ("DisplayName: \"y\"", "DisplayName: y", false),
        (
            "DisplayName: \"0123456789\"",
            "DisplayName: 0123456789",
            false,
        ),
        ("DisplayName: \"01234567\"", "DisplayName: 01234567", true),
        ("DisplayName: \"342391\"", "DisplayName: 01234567", false),
        ("DisplayName: \"31\"", "DisplayName: 0x1F", false),
        ("DisplayName: \"1.30\"", "DisplayName: 1.30", true),
        ("DisplayName: \"1.3\"", "DisplayName: 1.30", false),
        ("DisplayName: \"1000\"", "DisplayName: 1_000", false),
        (
            "DisplayName: \"2010-09-09\"",
            "DisplayName: 2010-09-09",
            false,
        ),
        ("DisplayName: \"\"", "DisplayName: ~", true),
        ("DisplayName: 'no'", "DisplayName: \"no\"", false),
    ];
    for (old, new, changed) in cases {
        let (code, stdout, stderr) = diff_texts(topic(old).as_bytes(), topic(new).as_bytes(), &[]);
        assert_eq!(code, i32::from(changed), "{old} -> {new}: {stdout}{stderr}");
        if changed {
            assert!(stdout.contains("DisplayName"), "{old} -> {new}: {stdout}");
        }
    }
}

#[test]
fn a_byte_order_mark_changes_nothing_in_json_or_yaml() {
    let yaml = topic("TopicName: alerts");
    let with_bom = |text: &str| [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
    assert_eq!(diff_texts(yaml.as_bytes(), &with_bom(&yaml), &[]).0, 0);
    let json = r#"{"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}}}}"#;
    assert_eq!(diff_texts(&with_bom(json), json.as_bytes(), &[]).0, 0);
    assert_eq!(diff_texts(&with_bom(json), yaml.as_bytes(), &[]).0, 0);
}

#[test]
fn aliases_are_refused_with_the_line_and_bounded_cost() {
    let mut bomb = topic("TopicName: alerts");
    bomb.push_str("Metadata:\n  x0: &x0 [a, a, a, a, a, a, a, a, a, a, a, a]\n");
    for level in 1..10 {
        let items = vec![format!("*x{}", level - 1); 12].join(", ");
        bomb.push_str(&format!("  x{level}: &x{level} [{items}]\n"));
    }
    let (code, stdout, stderr) =
        diff_texts(topic("TopicName: alerts").as_bytes(), bomb.as_bytes(), &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("new.yaml:8:") && stderr.contains("alias"),
        "{stderr}"
    );
}

#[test]
fn iam_forms_that_mean_the_same_are_no_difference_and_never_broadening() {
    let role = |statements: &str| {
        format!("Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Statement: {statements}\n")
    };
    let same = [
        (
            "[{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]",
            "{Effect: Allow, Principal: {Service: [ec2.amazonaws.com]}, Action: [sts:AssumeRole]}",
        ),
        (
            "[{Effect: Allow, Principal: {AWS: [a, b]}, Action: [x:A, x:B]}, {Effect: Deny, Principal: '*', Action: x:C, Condition: {StringEquals: {k: [v1, v2]}}}]",
            "[{Effect: Deny, Principal: '*', Action: [x:C], Condition: {StringEquals: {k: [v2, v1]}}}, {Effect: Allow, Principal: {AWS: [b, a]}, Action: [x:B, x:A]}]",
        ),
    ];
    for (old, new) in same {
        let (code, stdout, _) = diff_texts(role(old).as_bytes(), role(new).as_bytes(), &[]);
        assert_eq!(code, 0, "{old} vs {new}: {stdout}");
    }
    // A policy given as JSON text: the same rules, and the text line diff shows only the change.
    let queue = |document: &str| {
        format!("Resources:\n  Policy:\n    Type: AWS::SQS::QueuePolicy\n    Properties:\n      Queues: [q]\n      PolicyDocument: '{document}'\n")
    };
    let a = r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["sqs:SendMessage"], "Resource": "arn:q"}]}"#;
    let b = r#"{"Statement": {"Resource": ["arn:q"], "Action": "sqs:SendMessage", "Principal": "*", "Effect": "Allow"}}"#;
    assert_eq!(
        diff_texts(queue(a).as_bytes(), queue(b).as_bytes(), &[]).0,
        0
    );
    let c = r#"{"Statement": {"Resource": ["arn:q"], "Action": ["sqs:SendMessage", "sqs:DeleteMessage"], "Principal": "*", "Effect": "Allow"}}"#;
    let (code, stdout, _) = diff_texts(queue(a).as_bytes(), queue(c).as_bytes(), &[]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("+ ") && stdout.contains("sqs:DeleteMessage"),
        "{stdout}"
    );
    // "*" to {"AWS": "*"}: not broadening; the other way is.
    let bucket = |principal: &str| {
        format!("Resources:\n  Policy:\n    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: b\n      PolicyDocument:\n        Statement:\n          - Sid: Read\n            Effect: Allow\n            Principal: {principal}\n            Action: s3:GetObject\n            Resource: arn:aws:s3:::b/*\n")
    };
    let broadening = ["--fail-on", "broadening"];
    assert_eq!(
        diff_texts(
            bucket("'*'").as_bytes(),
            bucket("{AWS: '*'}").as_bytes(),
            &broadening
        )
        .0,
        0
    );
    assert_eq!(
        diff_texts(
            bucket("{AWS: '*'}").as_bytes(),
            bucket("'*'").as_bytes(),
            &broadening
        )
        .0,
        1
    );
}

#[test]
fn a_value_that_only_lost_its_final_newline_says_so() {
    let launch = |chomp: &str| {
        format!("Resources:\n  L:\n    Type: AWS::EC2::LaunchTemplate\n    Properties:\n      LaunchTemplateData:\n        UserData: {chomp}\n          #!/bin/bash\n          echo ready\n")
    };
    let (code, stdout, _) = diff_texts(launch("|").as_bytes(), launch("|-").as_bytes(), &[]);
    assert_eq!(code, 1);
    assert!(stdout.contains("no newline at the end"), "{stdout}");
}

#[test]
fn a_tab_in_the_indentation_is_reported_on_its_line() {
    let tabbed = "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: x\n\tDisplayName: y\n";
    let (code, _, stderr) = diff_texts(topic("TopicName: x").as_bytes(), tabbed.as_bytes(), &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("new.yaml:6:1:"), "{stderr}");
}
