//! `cutover check FILE` end to end (no AWS): a fixture with one planted problem per template
//! rule is reported with exactly those findings, at their lines, in text, JSON and SARIF (the
//! SARIF validated against the SARIF 2.1.0 JSON schema with `jsonschema` from `.venv`); the
//! repository's own templates are clean; bad input exits 2.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cutover(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(args)
        .current_dir(manifest_dir())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("run cutover")
}

const PLANTED: &str = "tests/fixtures/check/planted.yaml";

/// (rule, line, silenced) as the planted fixture has them.
fn expected() -> BTreeSet<(String, u64, bool)> {
    [
        ("CO101", 12, false),
        ("CO201", 15, false),
        ("CO202", 17, false),
        ("CO103", 26, false),
        ("CO104", 31, false),
        ("CO203", 40, false),
        ("CO204", 51, false),
        ("CO101", 60, true),
        ("CO202", 53, true),
        ("CO102", 68, false),
        ("CO207", 63, false),
        ("CO205", 7, false),
    ]
    .into_iter()
    .map(|(rule, line, silenced)| (rule.to_string(), line, silenced))
    .collect()
}

#[test]
fn every_planted_problem_is_found_at_its_line_in_text_json_and_sarif() {
    let text = cutover(&["check", PLANTED]);
    assert_eq!(text.status.code(), Some(1), "{text:?}");
    let stdout = String::from_utf8(text.stdout).unwrap();
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|row| row.trim_start().starts_with(&format!("{PLANTED}:")))
        .collect();
    assert_eq!(rows.len(), expected().len(), "{stdout}");
    for (rule, line, _) in expected() {
        let needle = format!("{PLANTED}:{line}: ");
        assert!(
            rows.iter()
                .any(|row| row.contains(&needle) && row.contains(&format!("[{rule}]"))),
            "{rule} at line {line} missing:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("silenced: a queue another team reads by name"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "4 error(s), 5 warning(s), 1 note(s), 2 silenced; failing at --fail-on error"
        ),
        "{stdout}"
    );

    let json = cutover(&["check", "--output", "json", PLANTED]);
    assert_eq!(json.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let found: BTreeSet<(String, u64, bool)> = value["reports"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| {
            (
                finding["rule"].as_str().unwrap().to_string(),
                finding["line"].as_u64().unwrap(),
                !finding["silenced"].is_null(),
            )
        })
        .collect();
    assert_eq!(found, expected());
    assert_eq!(value["summary"]["errors"], 4, "{value:#}");
    assert_eq!(value["summary"]["warnings"], 5, "{value:#}");
    assert_eq!(value["summary"]["silenced"], 2, "{value:#}");

    let sarif = cutover(&["check", "--output", "sarif", PLANTED]);
    assert_eq!(sarif.status.code(), Some(1));
    let log: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    let found: BTreeSet<(String, u64, bool)> = results
        .iter()
        .map(|result| {
            (
                result["ruleId"].as_str().unwrap().to_string(),
                result["locations"][0]["physicalLocation"]["region"]["startLine"]
                    .as_u64()
                    .unwrap(),
                result.get("suppressions").is_some(),
            )
        })
        .collect();
    assert_eq!(found, expected());
    validate_sarif(&sarif.stdout);
}

/// The committed table of physical-name properties is exactly what the resource provider
/// schemas of the pinned cfn-lint say: every type with a name property is in it (the generator
/// regenerates it in memory and compares).
#[test]
fn the_physical_name_table_is_generated_from_every_schema() {
    let python = venv_python();
    let output = Command::new(python)
        .arg(manifest_dir().join("scripts/gen-physical-names.py"))
        .arg("--check")
        .output()
        .expect("run scripts/gen-physical-names.py");
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    // "1854 resource types, 748 with a physical name property."
    println!("{}", said.trim());
    assert!(output.status.success(), "{said}");
    assert!(said.contains("with a physical name property"), "{said}");
}

fn venv_python() -> std::path::PathBuf {
    let python = manifest_dir().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run the README's test command once, which creates .venv",
        python.display()
    );
    python
}

/// Validates a SARIF log against the SARIF 2.1.0 schema (OASIS, as shipped by serde-sarif) with
/// Python's jsonschema, which `.venv` has (cfn-lint needs it).
fn validate_sarif(log: &[u8]) {
    let python = venv_python();
    let schema = manifest_dir().join("tests/fixtures/check/sarif-schema-2.1.0.json");
    let mut child = Command::new(python)
        .arg("-c")
        .arg("import json, sys, jsonschema\nschema = json.load(open(sys.argv[1]))\njsonschema.Draft7Validator.check_schema(schema)\nerrors = sorted(str(e.message) for e in jsonschema.Draft7Validator(schema).iter_errors(json.load(sys.stdin)))\nprint('\\n'.join(errors))\nsys.exit(1 if errors else 0)")
        .arg(schema)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(log).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the SARIF log does not validate:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn the_repositorys_own_templates_are_clean() {
    let templates: Vec<String> = std::fs::read_dir(manifest_dir().join("templates"))
        .unwrap()
        .map(|entry| format!("templates/{}", entry.unwrap().file_name().to_string_lossy()))
        .collect();
    let mut args = vec!["check", "--fail-on", "note"];
    args.extend(templates.iter().map(String::as_str));
    let output = cutover(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn the_threshold_and_bad_input_set_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let warnings_only = dir.path().join("warn.yaml");
    std::fs::write(
        &warnings_only,
        "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    DeletionPolicy: Retain\n",
    )
    .unwrap();
    let path = warnings_only.to_str().unwrap();
    assert_eq!(cutover(&["check", path]).status.code(), Some(0));
    assert_eq!(
        cutover(&["check", "--fail-on", "warning", path])
            .status
            .code(),
        Some(1)
    );
    let missing = cutover(&["check", "no/such/template.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/template.yaml"));
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "Resources:\n  A: [unclosed\n").unwrap();
    let broken_run = cutover(&["check", broken.to_str().unwrap()]);
    assert_eq!(broken_run.status.code(), Some(2));
    assert!(broken_run.stdout.is_empty());
    assert!(String::from_utf8_lossy(&broken_run.stderr)
        .contains("broken.yaml:3:1: cannot parse the template"));
    // One broken file among others: the others are still reported, and the exit code is 2.
    let mixed = cutover(&[
        "check",
        "--fail-on",
        "warning",
        path,
        broken.to_str().unwrap(),
        path,
    ]);
    assert_eq!(mixed.status.code(), Some(2));
    let report = String::from_utf8_lossy(&mixed.stdout);
    assert_eq!(
        report.matches("warning[CO201]").count(),
        1,
        "named twice, checked once: {report}"
    );
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("broken.yaml"));
    let sarif_elsewhere = cutover(&["status", "--output", "sarif"]);
    assert_eq!(sarif_elsewhere.status.code(), Some(2));
}

/// The README's rules table names every rule, with its severity and title, and no other.
#[test]
fn the_readme_rules_table_is_the_rules() {
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    let rows: Vec<Vec<&str>> = readme
        .lines()
        .filter(|line| line.starts_with("| CO"))
        .map(|line| line.split('|').map(str::trim).collect())
        .collect();
    let documented: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|cells| (cells[1], cells[2], cells[3]))
        .collect();
    let rules: Vec<(&str, String, &str)> = cutover::check::RULES
        .iter()
        .map(|rule| (rule.id, rule.severity.to_string(), rule.title))
        .collect();
    let rules: Vec<(&str, &str, &str)> = rules
        .iter()
        .map(|(id, severity, title)| (*id, severity.as_str(), *title))
        .collect();
    assert_eq!(documented, rules);
}

/// The ready files of README "Running rotation on a schedule": the CloudFormation template is
/// valid for the pinned cfn-lint and has no release-check error, and the Kubernetes Indexed Job
/// and the GitHub Actions matrix split the fleet into as many shards as they run workers.
#[test]
fn the_scheduling_examples_are_valid_and_shard_consistently() {
    let dir = manifest_dir().join("examples/schedule");
    let template = dir.join("eventbridge-ecs-rotate.yaml");
    let lint = Command::new(manifest_dir().join(".venv/bin/cfn-lint"))
        .arg(&template)
        .output()
        .expect("run cfn-lint");
    assert!(
        lint.status.success(),
        "cfn-lint: {}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    let checked = cutover(&["check", template.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(0), "{checked:?}");

    let python = venv_python();
    let script = r#"
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
job = next(d for d in docs if d["kind"] == "CronJob")["spec"]["jobTemplate"]["spec"]
args = job["template"]["spec"]["containers"][0]["args"]
assert job["completionMode"] == "Indexed", job
shard = args[args.index("--shard") + 1]
assert shard == f"auto/{job['completions']}", (shard, job["completions"])
assert job["parallelism"] == job["completions"]
flow = yaml.safe_load(open(sys.argv[2]))
rotate = flow["jobs"]["rotate"]
shards = rotate["strategy"]["matrix"]["shard"]
assert shards == list(range(len(shards))), shards
command = rotate["steps"][-1]["run"]
assert f"--shard ${{{{ matrix.shard }}}}/{len(shards)}" in command, command
print("ok")
"#;
    let output = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(dir.join("kubernetes-cronjob.yaml"))
        .arg(dir.join("github-actions-rotate.yml"))
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
