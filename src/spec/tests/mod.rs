//! Unit tests of spec loading: parsing and locations here, per-table rules in `rules`, the
//! repository's examples and docs in `examples`.

mod examples;
mod rules;

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::error::{Diagnostic, Exit};

/// A stacks folder with `templates/app.yaml` next to it, as in the repository layout.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("templates/app.yaml"), "Resources: {}\n").unwrap();
        Fixture { dir }
    }

    fn stacks(&self) -> PathBuf {
        self.dir.path().join("stacks")
    }

    fn write(&self, app: &str, text: &str) -> PathBuf {
        let path = self.stacks().join(format!("{app}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load(&self, text: &str) -> Result<AppSpec, SpecError> {
        load_file(&self.write("web", text))
    }
}

const ALB: &str = r#"
[router]
kind = "alb"
listener = { stack_output = "base", output = "ListenerArn" }
target_group_output = "TargetGroupArn"
"#;

fn spec(body: &str) -> String {
    format!("template = \"../templates/app.yaml\"\n{body}")
}

fn with_alb(body: &str) -> String {
    spec(&format!("{body}\n{ALB}"))
}

/// The error of loading `text`, with its Display, line and key path.
fn failure(text: &str) -> (SpecError, String, usize, String) {
    let error = Fixture::new()
        .load(text)
        .expect_err("the spec should be rejected");
    let (line, key) = match &error {
        SpecError::Parse { at, key, .. } | SpecError::Invalid { at, key, .. } => {
            (at.line, key.to_string())
        }
        SpecError::TemplateMissing { at, .. } => (at.line, "template".to_owned()),
        other => panic!("expected a located error, got {other:?}"),
    };
    let shown = error.to_string();
    (error, shown, line, key)
}

#[test]
fn a_minimal_spec_gets_the_documented_defaults() {
    let app = Fixture::new().load(&with_alb("")).unwrap();
    assert_eq!(app.name, "web");
    assert!(app.template.ends_with("templates/app.yaml"));
    assert!(
        !app.template.to_string_lossy().contains(".."),
        "{}",
        app.template.display()
    );
    assert_eq!(
        app.strategy,
        StrategySpec {
            kind: StrategyKind::AllAtOnce,
            final_bake: Duration::ZERO,
            hold_for_stickiness: true,
        }
    );
    assert_eq!(app.gates, GatesSpec::default());
    assert_eq!(app.gates.interval, Duration::from_secs(10));
    assert_eq!(
        app.retention,
        RetentionSpec {
            keep: 1,
            retire_after: None
        }
    );
    assert_eq!(
        app.rotation,
        RotationSpec {
            max_age: None,
            refresh_ami: false
        }
    );
    assert_eq!(app.stack, StackSettings::default());
    assert!(app.parameters.is_empty() && app.tags.is_empty() && app.description.is_none());
}

#[test]
fn every_value_source_form_parses() {
    let app = Fixture::new()
        .load(&with_alb(
            r#"
[parameters]
Text = "t3.micro"
Count = 2
Ratio = 1.0
Enabled = true
Subnets = ["subnet-1", "subnet-2"]
Day = 2024-05-01
Secret = { env = "WEB_DB_PASSWORD" }
Ami = { ssm = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64" }
Vpc = { stack_output = "cutover-demo-base", output = "VpcId" }
Latest = { latest_ami = { owners = ["amazon"], name = "al2023-ami-2023.*", architecture = "arm64", filters = { "virtualization-type" = ["hvm"] } } }
Plain = { latest_ami = { owners = ["self", "123456789012"], name = "my-*" } }
"#,
        ))
        .unwrap();
    let literal = |text: &str| ValueSource::Literal(text.to_owned());
    let p = &app.parameters;
    assert_eq!(p["Text"], literal("t3.micro"));
    assert_eq!(p["Count"], literal("2"));
    assert_eq!(p["Ratio"], literal("1.0"));
    assert_eq!(p["Enabled"], literal("true"));
    assert_eq!(p["Subnets"], literal("subnet-1,subnet-2"));
    assert_eq!(p["Day"], literal("2024-05-01"));
    assert_eq!(
        p["Secret"],
        ValueSource::Env {
            var: "WEB_DB_PASSWORD".into()
        }
    );
    assert_eq!(
        p["Ami"],
        ValueSource::Ssm {
            name: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64".into()
        }
    );
    assert_eq!(
        p["Vpc"],
        ValueSource::StackOutput {
            stack: "cutover-demo-base".into(),
            output: "VpcId".into()
        }
    );
    let ValueSource::LatestAmi(query) = &p["Latest"] else {
        panic!("{:?}", p["Latest"])
    };
    assert_eq!(query.owners, ["amazon"]);
    assert_eq!(query.name, "al2023-ami-2023.*");
    assert_eq!(query.architecture.as_deref(), Some("arm64"));
    assert_eq!(query.filters["virtualization-type"], ["hvm"]);
    let ValueSource::LatestAmi(plain) = &p["Plain"] else {
        panic!("{:?}", p["Plain"])
    };
    assert_eq!(
        (plain.architecture.as_ref(), plain.filters.len()),
        (None, 0)
    );
    // The order of the spec is kept: parameters are shown to users in it.
    assert_eq!(p.keys().next().map(String::as_str), Some("Text"));
}

#[test]
fn an_unknown_top_level_key_is_named_with_its_line_and_the_valid_keys() {
    let (error, text, line, key) = failure(&with_alb("descripton = \"typo\""));
    assert!(matches!(error, SpecError::Parse { .. }));
    assert_eq!(line, 2, "{text}");
    assert_eq!(key, "descripton");
    assert!(text.contains("unknown field `descripton`"), "{text}");
    assert!(
        text.contains("`description`") && text.contains("`router`"),
        "{text}"
    );
    assert!(text.contains("web.toml:2:1"), "{text}");
}

#[test]
fn an_unknown_key_in_a_table_is_located() {
    let (_, text, line, key) = failure(&with_alb(
        "[gates]\ninstance_status = true\nalrams = [\"x\"]\n",
    ));
    assert_eq!((line, key.as_str()), (4, "gates.alrams"), "{text}");
    assert!(text.contains("`alarms`"), "{text}");
}

#[test]
fn an_unknown_key_in_a_value_source_is_located_and_lists_the_sources() {
    let (_, text, line, key) = failure(&with_alb(
        "[parameters]\nA = 1\nVpc = { stack = \"base\" }\n",
    ));
    assert_eq!((line, key.as_str()), (4, "parameters.Vpc.stack"), "{text}");
    assert!(text.contains("unknown field `stack`"), "{text}");
    assert!(
        text.contains("`stack_output`") && text.contains("`latest_ami`"),
        "{text}"
    );
    let (_, text, line, key) =
        failure(&with_alb("[parameters]\nAmi = { latest_ami = { owners = [\"amazon\"], name = \"x\", arch = \"arm64\" } }\n"));
    assert_eq!(
        (line, key.as_str()),
        (3, "parameters.Ami.latest_ami.arch"),
        "{text}"
    );
    assert!(text.contains("`architecture`"), "{text}");
}

#[test]
fn a_wrong_type_is_located() {
    let (error, text, line, key) = failure(&with_alb("[retention]\nkeep = \"one\"\n"));
    assert!(matches!(error, SpecError::Parse { .. }));
    assert_eq!((line, key.as_str()), (3, "retention.keep"), "{text}");
    assert!(text.contains("invalid type: string \"one\""), "{text}");
    let (_, text, line, key) = failure(&with_alb("[stack]\ntermination_protection = \"yes\"\n"));
    assert_eq!(
        (line, key.as_str()),
        (3, "stack.termination_protection"),
        "{text}"
    );
    let (_, text2, _, key) = failure(&with_alb("[tags]\nteam = 5\n"));
    assert_eq!(key, "tags.team", "{text} / {text2}");
}

#[test]
fn durations_take_humantime_forms_and_reject_others() {
    let app = Fixture::new()
        .load(&with_alb(
            "[strategy]\nkind = \"canary\"\npercent = 10\nbake = \"0\"\nfinal_bake = \"1h 30m\"\n\
             [retention]\nretire_after = \"30d\"\n[stack]\ntimeout = \"30m\"\n",
        ))
        .unwrap();
    assert_eq!(
        app.strategy.kind,
        StrategyKind::Canary {
            percent: 10,
            bake: Duration::ZERO
        }
    );
    assert_eq!(app.strategy.final_bake, Duration::from_secs(5400));
    assert_eq!(
        app.retention.retire_after,
        Some(Duration::from_secs(30 * 86400))
    );
    assert_eq!(app.stack.timeout, Some(Duration::from_secs(1800)));

    let (_, text, line, key) = failure(&with_alb(
        "[strategy]\nkind = \"canary\"\npercent = 10\nbake = \"5 minutes please\"\n",
    ));
    assert_eq!((line, key.as_str()), (5, "strategy.bake"), "{text}");
    assert!(
        text.contains("invalid duration \"5 minutes please\""),
        "{text}"
    );
    let (_, text, _, key) = failure(&with_alb("[gates]\ninterval = 10\n"));
    assert_eq!(key, "gates.interval");
    assert!(text.contains("a duration string such as \"30s\""), "{text}");
    let (_, text, _, key) = failure(&with_alb("[gates]\ninterval = \"0s\"\n"));
    assert_eq!(key, "gates.interval");
    assert!(text.contains("longer than zero"), "{text}");
}

#[test]
fn a_toml_syntax_error_has_line_and_column() {
    let (error, text, line, _) =
        failure("template = \"../templates/app.yaml\"\n[router\nkind = \"alb\"\n");
    assert!(
        matches!(error, SpecError::Parse { ref at, .. } if at.column == 8),
        "{text}"
    );
    assert_eq!(line, 2, "{text}");
}

#[test]
fn invalid_app_names_are_refused_before_reading() {
    let fixture = Fixture::new();
    let path = fixture.write("my_app", &with_alb(""));
    let error = load_file(&path).unwrap_err();
    assert!(
        matches!(error, SpecError::AppName { ref name, .. } if name == "my_app"),
        "{error:?}"
    );
    assert!(error.to_string().contains("`_` is not allowed"), "{error}");
    assert!(error.to_string().contains("my_app.toml"), "{error}");
    assert!(error.hint().unwrap().contains("<app>-<release>"));
    for bad in ["1web", "", "web.api", &"a".repeat(101)] {
        let error = load_app(&fixture.stacks(), bad).unwrap_err();
        assert!(
            matches!(error, SpecError::AppName { .. }),
            "{bad}: {error:?}"
        );
    }
    assert!(load_app(&fixture.stacks(), &"a".repeat(100))
        .is_err_and(|e| matches!(e, SpecError::NotFound { .. })));
}

#[test]
fn stack_names_follow_cloudformation_rules() {
    assert!(validate_stack_name("cutover-demo-base").is_ok());
    assert!(validate_stack_name(&format!("a{}", "b".repeat(127))).is_ok());
    assert!(validate_stack_name(&"a".repeat(129))
        .unwrap_err()
        .contains("129"));
    assert!(validate_stack_name("9lives")
        .unwrap_err()
        .contains("letter"));
    assert!(validate_stack_name("web_1").unwrap_err().contains("`_`"));
    assert!(validate_stack_name("").is_err());
}

#[test]
fn a_missing_spec_lists_the_apps_that_exist() {
    let fixture = Fixture::new();
    fixture.write("web", &with_alb(""));
    fixture.write("api", &with_alb(""));
    std::fs::write(fixture.stacks().join("notes.md"), "not a spec").unwrap();
    assert_eq!(list_apps(&fixture.stacks()).unwrap(), ["api", "web"]);
    let error = load_app(&fixture.stacks(), "wbe").unwrap_err();
    assert!(
        error.to_string().contains("wbe.toml does not exist"),
        "{error}"
    );
    assert_eq!(error.hint().as_deref(), Some("apps found there: api, web"));
    assert_eq!(error.exit(), Exit::Error);
    assert!(load_app(&fixture.stacks(), "web").is_ok());

    let error = list_apps(&fixture.dir.path().join("nowhere")).unwrap_err();
    assert!(matches!(error, SpecError::ListApps { .. }), "{error:?}");
}

#[test]
fn a_missing_template_names_the_spec_line_and_the_resolved_path() {
    let (error, text, line, _) = failure(&format!(
        "description = \"x\"\ntemplate = \"../templates/nope.yaml\"\n{ALB}"
    ));
    let SpecError::TemplateMissing { template, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(
        template.ends_with("templates/nope.yaml") && !template.to_string_lossy().contains("..")
    );
    assert_eq!(line, 2, "{text}");
    assert!(text.contains("web.toml:2:1: the template "), "{text}");
    assert!(error
        .hint()
        .unwrap()
        .contains("relative to the folder of the spec file"));
}
