use std::path::{Path, PathBuf};
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
            final_bake: Duration::ZERO
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

#[test]
fn a_key_of_another_router_kind_is_refused_naming_its_kind() {
    let (_, text, line, key) = failure(&format!(
        "{}instance_output = \"InstanceId\"\n",
        with_alb("")
    ));
    assert_eq!(key, "router.instance_output");
    assert_eq!(line, 8, "{text}");
    assert!(
        text.contains("belongs to router kind `eip`, but this router is `alb`"),
        "{text}"
    );
    let (error, ..) = failure(&format!(
        "{}instance_output = \"InstanceId\"\n",
        with_alb("")
    ));
    assert_eq!(
        error.hint().unwrap(),
        "router kind `alb` takes: listener, target_group_output"
    );
}

#[test]
fn a_router_without_its_keys_says_which_is_missing() {
    let (_, text, line, key) = failure(&spec(
        "[router]\nkind = \"alb\"\ntarget_group_output = \"Tg\"\n",
    ));
    assert_eq!((line, key.as_str()), (2, "router"), "{text}");
    assert!(
        text.contains("router kind `alb` needs `listener`"),
        "{text}"
    );
    let (_, text, ..) = failure(&spec("[router]\nkind = \"nlb\"\n"));
    assert!(
        text.contains("unknown variant `nlb`") && text.contains("`route53`"),
        "{text}"
    );
    let (_, text, ..) = failure(&spec(""));
    assert!(text.contains("missing field `router`"), "{text}");
}

#[test]
fn route53_router_defaults_and_rules() {
    let base = "[router]\nkind = \"route53\"\nhosted_zone_id = { stack_output = \"dns-base\", output = \"HostedZoneId\" }\nrecord_name = \"api.example.com\"\nendpoint_output = \"EndpointDnsName\"\n";
    let app = Fixture::new().load(&spec(base)).unwrap();
    let RouterSpec::Route53 {
        record_type,
        ttl,
        alias_zone_output,
        hosted_zone_id,
        ..
    } = &app.router
    else {
        panic!()
    };
    assert_eq!(
        (*record_type, *ttl, alias_zone_output),
        (RecordType::Cname, 60, &None)
    );
    assert_eq!(
        hosted_zone_id,
        &ValueSource::StackOutput {
            stack: "dns-base".into(),
            output: "HostedZoneId".into()
        }
    );

    let (_, text, _, key) = failure(&spec(&format!("{base}alias_zone_output = \"Zone\"\n")));
    assert_eq!(key, "router.alias_zone_output");
    assert!(text.contains("not CNAME"), "{text}");
    let aliased = Fixture::new()
        .load(&spec(&format!(
            "{base}record_type = \"A\"\nalias_zone_output = \"Zone\"\n"
        )))
        .unwrap();
    assert!(matches!(
        aliased.router,
        RouterSpec::Route53 {
            record_type: RecordType::A,
            alias_zone_output: Some(_),
            ..
        }
    ));
    let (_, text, ..) = failure(&spec(&format!("{base}record_type = \"MX\"\n")));
    assert!(
        text.contains("unknown variant `MX`") && text.contains("`CNAME`"),
        "{text}"
    );
    let (_, text, _, key) = failure(&spec(&base.replace("api.example.com", "api..example.com")));
    assert_eq!(key, "router.record_name", "{text}");
}

const EIP: &str = "[router]\nkind = \"eip\"\nallocation_id = { stack_output = \"eip-base\", output = \"AllocationId\" }\ninstance_output = \"InstanceId\"\n";

#[test]
fn eip_router_is_all_at_once_only() {
    let app = Fixture::new().load(&spec(EIP)).unwrap();
    assert_eq!(app.router.kind(), "eip");
    assert!(Fixture::new()
        .load(&spec(&format!("{EIP}[strategy]\nkind = \"all-at-once\"\n")))
        .is_ok());
    for gradual in [
        "kind = \"canary\"\npercent = 10\nbake = \"1m\"",
        "kind = \"linear\"\nstep = 10\ninterval = \"1m\"",
    ] {
        let (error, text, line, key) = failure(&spec(&format!("{EIP}[strategy]\n{gradual}\n")));
        assert_eq!((line, key.as_str()), (7, "strategy.kind"), "{text}");
        assert!(text.contains("can only switch all at once"), "{text}");
        assert!(error.hint().unwrap().contains("all-at-once"));
    }
}

#[test]
fn strategies_parse_with_their_keys() {
    let load = |body: &str| {
        Fixture::new()
            .load(&with_alb(&format!("[strategy]\n{body}\n")))
            .map(|app| app.strategy.kind)
    };
    assert_eq!(
        load("kind = \"linear\"\nstep = 25\ninterval = \"2m\"").unwrap(),
        StrategyKind::Linear {
            step: 25,
            interval: Duration::from_secs(120)
        }
    );
    assert_eq!(
        load("kind = \"steps\"\nweights = [5, 25, 50, 100]\npause = \"1m\"").unwrap(),
        StrategyKind::Steps {
            weights: vec![5, 25, 50, 100],
            pause: Duration::from_secs(60)
        }
    );
    assert_eq!(
        load("kind = \"all-at-once\"\nfinal_bake = \"5m\"").unwrap(),
        StrategyKind::AllAtOnce
    );
}

#[test]
fn strategy_ranges_are_checked() {
    let reject = |body: &str, want_key: &str, want_text: &str| {
        let (_, text, _, key) = failure(&with_alb(&format!("[strategy]\n{body}\n")));
        assert_eq!(key, want_key, "{text}");
        assert!(text.contains(want_text), "{text}");
    };
    reject(
        "kind = \"canary\"\npercent = 0\nbake = \"1m\"",
        "strategy.percent",
        "from 1 to 99",
    );
    reject(
        "kind = \"canary\"\npercent = 100\nbake = \"1m\"",
        "strategy.percent",
        "from 1 to 99",
    );
    reject(
        "kind = \"canary\"\npercent = 10",
        "strategy",
        "needs `bake`",
    );
    reject(
        "kind = \"linear\"\nstep = 100\ninterval = \"1m\"",
        "strategy.step",
        "from 1 to 99",
    );
    reject(
        "kind = \"steps\"\nweights = [5, 5, 100]\npause = \"1m\"",
        "strategy.weights[1]",
        "does not increase",
    );
    reject(
        "kind = \"steps\"\nweights = [0, 100]\npause = \"1m\"",
        "strategy.weights[0]",
        "not from 1 to 100",
    );
    reject(
        "kind = \"steps\"\nweights = [10, 50]\npause = \"1m\"",
        "strategy.weights[1]",
        "last weight must be 100",
    );
    reject(
        "kind = \"steps\"\nweights = []\npause = \"1m\"",
        "strategy.weights",
        "empty",
    );
    reject(
        "kind = \"canary\"\npercent = 10\nbake = \"1m\"\nweights = [100]",
        "strategy.weights",
        "belongs to strategy kind `steps`",
    );
    reject(
        "kind = \"all-at-once\"\nbake = \"1m\"",
        "strategy.bake",
        "belongs to strategy kind `canary`",
    );
    reject(
        "kind = \"blue-green\"",
        "strategy.kind",
        "unknown variant `blue-green`",
    );
}

#[test]
fn value_source_tables_need_exactly_one_source() {
    let reject = |value: &str, want_key: &str, want_text: &str| {
        let (_, text, _, key) = failure(&with_alb(&format!("[parameters]\nP = {value}\n")));
        assert_eq!(key, want_key, "{text}");
        assert!(text.contains(want_text), "{text}");
    };
    reject(
        "{ env = \"A\", ssm = \"/b\" }",
        "parameters.P",
        "found `env` and `ssm`",
    );
    reject(
        "{ output = \"VpcId\" }",
        "parameters.P.output",
        "goes with `stack_output`",
    );
    reject(
        "{ stack_output = \"base\" }",
        "parameters.P",
        "needs `output`",
    );
    reject(
        "{ stack_output = \"base_stack\", output = \"VpcId\" }",
        "parameters.P.stack_output",
        "invalid stack name",
    );
    reject(
        "{ stack_output = \"base\", output = \"Vpc-Id\" }",
        "parameters.P.output",
        "invalid output name",
    );
    reject("{}", "parameters.P", "names no value source");
    reject(
        "{ env = \"\" }",
        "parameters.P.env",
        "not an environment variable name",
    );
    reject(
        "{ latest_ami = { owners = [], name = \"x\" } }",
        "parameters.P.latest_ami.owners",
        "at least one owner",
    );
    reject(
        "{ latest_ami = { owners = [\"amazon\"], name = \"x\", architecture = \"x64\" } }",
        "parameters.P.latest_ami.architecture",
        "unknown architecture",
    );
    reject(
        "{ latest_ami = { owners = [\"amazon\"] } }",
        "parameters.P.latest_ami",
        "missing field `name`",
    );
    reject(
        "{ ssm = 5 }",
        "parameters.P.ssm",
        "invalid type: integer `5`",
    );
    let (_, text, _, key) = failure(&with_alb("[parameters]\nDb-Password = \"x\"\n"));
    assert_eq!(key, "parameters.Db-Password", "{text}");
}

#[test]
fn gates_parse_with_defaults() {
    let app = Fixture::new()
        .load(&with_alb(
            "[gates]\ntarget_health = { min_healthy = 2 }\ninstance_status = true\nalarms = [\"web-5xx\"]\n\
             alarm_outputs = [\"LatencyAlarm\"]\nhttp = { url_output = \"HealthUrl\" }\ncommand = \"./smoke.sh\"\ninterval = \"5s\"\n",
        ))
        .unwrap();
    let gates = app.gates;
    assert_eq!(
        gates.target_health,
        Some(TargetHealthGate {
            min_healthy: 2,
            target_group_output: "TargetGroupArn".into()
        })
    );
    assert!(gates.instance_status);
    assert_eq!(
        (gates.alarms, gates.alarm_outputs),
        (vec!["web-5xx".to_owned()], vec!["LatencyAlarm".to_owned()])
    );
    assert_eq!(
        gates.http,
        Some(HttpGate {
            url: HttpTarget::Output("HealthUrl".into()),
            expect_status: 200,
            body_contains: None,
            timeout: Duration::from_secs(3),
            retries: 3
        })
    );
    assert_eq!(
        (gates.command.as_deref(), gates.interval),
        (Some("./smoke.sh"), Duration::from_secs(5))
    );
}

#[test]
fn gate_rules_are_checked() {
    let reject = |text: &str, want_key: &str, want_text: &str| {
        let (_, shown, _, key) = failure(text);
        assert_eq!(key, want_key, "{shown}");
        assert!(shown.contains(want_text), "{shown}");
    };
    reject(
        &with_alb("[gates]\nhttp = { url = \"http://x\", url_output = \"U\" }"),
        "gates.http.url_output",
        "not both",
    );
    reject(
        &with_alb("[gates]\nhttp = { expect_status = 200 }"),
        "gates.http",
        "needs `url` or `url_output`",
    );
    reject(
        &with_alb("[gates]\nhttp = { url = \"localhost:80\" }"),
        "gates.http.url",
        "not an http",
    );
    reject(
        &with_alb("[gates]\nhttp = { url = \"http://x\", expect_status = 42 }"),
        "gates.http.expect_status",
        "not an HTTP status",
    );
    reject(
        &spec(&format!(
            "{EIP}[gates]\ntarget_health = {{ min_healthy = 1 }}\n"
        )),
        "gates.target_health",
        "needs `target_group_output`",
    );
    let app = Fixture::new()
        .load(&spec(&format!(
            "{EIP}[gates]\ntarget_health = {{ target_group_output = \"Tg\" }}\n"
        )))
        .unwrap();
    assert_eq!(
        app.gates.target_health,
        Some(TargetHealthGate {
            min_healthy: 1,
            target_group_output: "Tg".into()
        })
    );
}

#[test]
fn stack_settings_parse_and_are_checked() {
    let app = Fixture::new()
        .load(&with_alb(
            "[stack]\ncapabilities = [\"CAPABILITY_IAM\", \"CAPABILITY_AUTO_EXPAND\"]\ntermination_protection = true\n\
             template_bucket = \"my-templates\"\nrollback_alarms = [\"web-5xx\"]\nrollback_monitoring = \"10m\"\n",
        ))
        .unwrap();
    assert_eq!(
        app.stack.capabilities,
        [Capability::Iam, Capability::AutoExpand]
    );
    assert_eq!(app.stack.capabilities[0].as_str(), "CAPABILITY_IAM");
    assert!(app.stack.termination_protection);
    assert_eq!(app.stack.template_bucket.as_deref(), Some("my-templates"));
    assert_eq!(
        app.stack.rollback_monitoring,
        Some(Duration::from_secs(600))
    );

    let reject = |body: &str, want_key: &str, want_text: &str| {
        let (_, text, _, key) = failure(&with_alb(&format!("[stack]\n{body}\n")));
        assert_eq!(key, want_key, "{text}");
        assert!(text.contains(want_text), "{text}");
    };
    reject(
        "capabilities = [\"CAPABILITY_ADMIN\"]",
        "stack.capabilities[0]",
        "unknown variant `CAPABILITY_ADMIN`",
    );
    reject(
        "capabilities = [\"CAPABILITY_IAM\", \"CAPABILITY_IAM\"]",
        "stack.capabilities[1]",
        "listed twice",
    );
    reject(
        "template_bucket = \"My_Bucket\"",
        "stack.template_bucket",
        "invalid bucket name",
    );
    reject(
        "rollback_alarms = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]",
        "stack.rollback_alarms",
        "more than CloudFormation's 5",
    );
    reject(
        "rollback_alarms = [\"a\"]\nrollback_monitoring = \"4h\"",
        "stack.rollback_monitoring",
        "whole minutes, from 0 to 180",
    );
    reject(
        "rollback_monitoring = \"5m\"",
        "stack.rollback_monitoring",
        "needs `rollback_alarms`",
    );
}

#[test]
fn tags_and_rotation_rules_are_checked() {
    let (_, text, _, key) = failure(&with_alb("[tags]\n\"cutover:app\" = \"x\"\n"));
    assert_eq!(key, "tags.cutover:app", "{text}");
    assert!(text.contains("reserved prefix"), "{text}");
    let (_, text, _, key) = failure(&with_alb("[rotation]\nrefresh_ami = true\n"));
    assert_eq!(key, "rotation.refresh_ami", "{text}");
    let app = Fixture::new()
        .load(&with_alb("[parameters]\nAmi = { ssm = \"/a\" }\n[rotation]\nmax_age = \"30d\"\nrefresh_ami = true\n"))
        .unwrap();
    assert_eq!(
        app.rotation,
        RotationSpec {
            max_age: Some(Duration::from_secs(30 * 86400)),
            refresh_ami: true
        }
    );
}

#[test]
fn every_example_in_the_repository_loads() {
    let stacks = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks");
    let apps = list_apps(&stacks).unwrap();
    for expected in ["api", "bastion", "web"] {
        assert!(
            apps.iter().any(|app| app == expected),
            "stacks/{expected}.toml is missing: {apps:?}"
        );
    }
    for app in &apps {
        let spec =
            load_app(&stacks, app).unwrap_or_else(|error| panic!("stacks/{app}.toml: {error}"));
        assert!(spec.template.is_file());
    }
}
