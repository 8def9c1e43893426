//! Release-safety checks where they act on AWS: `cutover deploy` refusing a template whose second
//! release would fail (before any call), `cutover check APP` resolving a spec against the
//! account, and retirement of a release that another stack still imports from or that leaves
//! retained resources behind. The real binary against moto through the fault proxy, one account
//! per test (the lifecycle tests' world: a base stack with an ALB listener).
//!
//! moto has no ListImports: the proxy answers it from the test's script (`FaultProxy::imports`),
//! the way CloudFormation does; the importing stack itself is real (it uses `Fn::ImportValue`).

use crate::lifecycle::world::{role, show, spec, text, App};

/// A release whose target group has a fixed name (`Name: web`): the second release fails.
const FIXED_GROUP_NAME: &str = r#"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  Group:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Name: web, Port: 80, Protocol: HTTP, VpcId: !Ref Vpc}
Outputs:
  TargetGroupArn: {Value: !Ref Group}
"#;

/// A release exporting a name that is the same in every release.
const CONSTANT_EXPORT: &str = r#"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  Group:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Port: 80, Protocol: HTTP, VpcId: !Ref Vpc}
Outputs:
  TargetGroupArn: {Value: !Ref Group}
  VpcId:
    Value: !Ref Vpc
    Export: {Name: web-vpc}
"#;

/// A release exporting a per-release name, and keeping a queue after its deletion.
const EXPORTING_AND_RETAINING: &str = r#"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  Group:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Port: 80, Protocol: HTTP, VpcId: !Ref Vpc}
  DeadLetters:
    Type: AWS::SQS::Queue
    DeletionPolicy: Retain
Outputs:
  TargetGroupArn: {Value: !Ref Group}
  VpcId:
    Value: !Ref Vpc
    Export: {Name: !Sub "${AWS::StackName}-vpc"}
"#;

/// Every request the account has received, by action, minus the reads of `base`'s creation.
fn mutating_calls(app: &App) -> Vec<String> {
    let mut calls: Vec<String> = app
        .proxy
        .requests_by_action()
        .into_iter()
        .filter(|(action, _)| {
            !action.starts_with("Describe")
                && !action.starts_with("List")
                && !action.starts_with("Get")
        })
        .map(|(action, count)| format!("{action} x{count}"))
        .collect();
    calls.sort();
    calls
}

#[tokio::test]
async fn deploy_of_a_fixed_target_group_name_exits_2_naming_the_line_and_calls_nothing() {
    let app = App::new("chk-fixed-name", FIXED_GROUP_NAME, &spec(2, "")).await;
    let stacks_before = app.stacks().await;
    let before = app.proxy.requests_seen();
    let refused = app.cutover(&["deploy", &app.name, "--release", "r1", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    let stderr = text(&refused.stderr);
    // The finding names the file and line of `Name: web` (line 8 of the template), the rule and
    // the fix; the error line names the app and the template.
    assert!(stderr.contains("app.yaml:8"), "{}", show(&refused));
    assert!(stderr.contains("CO101"), "{}", show(&refused));
    assert!(stderr.contains("Group"), "{}", show(&refused));
    assert!(
        stderr.contains("${AWS::StackName}"),
        "the fix: {}",
        show(&refused)
    );
    assert!(stderr.contains("error:"), "{}", show(&refused));
    assert_eq!(
        app.proxy.requests_seen(),
        before,
        "no AWS call at all: {:?}",
        app.proxy.requests_by_action()
    );
    assert_eq!(app.stacks().await, stacks_before);
}

#[tokio::test]
async fn deploy_of_a_constant_export_exits_2_and_a_reasoned_silence_in_the_spec_lets_it_go() {
    let app = App::new("chk-export", CONSTANT_EXPORT, &spec(2, "")).await;
    let refused = app.cutover(&["deploy", &app.name, "--release", "r1", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains("CO102"),
        "{}",
        show(&refused)
    );
    assert_eq!(mutating_calls(&app), ["CreateStack x1"], "base only");

    // The user decides this app only ever has one release at a time... and says why.
    let silenced = "[check]\nignore = [{ rule = \"CO102\", resource = \"VpcId\", reason = \"one release at a time, retired before the next\" }]\n";
    app.write_spec(&spec(2, silenced));
    let deployed = app.cutover(&["deploy", &app.name, "--release", "r1", "--yes"]);
    assert_eq!(deployed.status.code(), Some(0), "{}", show(&deployed));
    assert!(app.stacks().await.contains_key(&app.stack("r1")));
}

#[tokio::test]
async fn check_of_an_app_resolves_its_spec_against_the_account_and_changes_nothing() {
    // The spec names a parameter from an SSM path that does not exist and a listener output the
    // base stack does not have; the template lacks the router's output.
    let template = "Parameters:\n  ImageId: {Type: String}\nResources:\n  Vpc:\n    Type: AWS::EC2::VPC\n    Properties: {CidrBlock: 10.0.0.0/16}\n";
    let broken_spec = r#"
template = "../templates/app.yaml"

[parameters]
ImageId = { ssm = "/chk/missing/image-id" }

[router]
kind = "alb"
listener = { stack_output = "base", output = "NoSuchListener" }
target_group_output = "TargetGroupArn"

[strategy]
kind = "all-at-once"
final_bake = "0s"
"#;
    let app = App::new("chk-app", template, broken_spec).await;
    let checked = app.cutover(&["check", &app.name, "--output", "json"]);
    assert_eq!(checked.status.code(), Some(1), "{}", show(&checked));
    let report: serde_json::Value = serde_json::from_slice(&checked.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", show(&checked)));
    let rules: Vec<&str> = report["reports"][0]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("findings: {report}"))
        .iter()
        .map(|finding| finding["rule"].as_str().unwrap())
        .collect();
    for rule in ["CO301", "CO302", "CO303"] {
        assert!(
            rules.contains(&rule),
            "{rule} in {rules:?}: {}",
            show(&checked)
        );
    }
    // App findings point at the spec's line: the parameter (line 5) and the router (line 7).
    let line_of = |rule: &str| {
        report["reports"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|finding| finding["rule"] == rule)
            .map(|finding| finding["line"].clone())
    };
    assert_eq!(line_of("CO301"), Some(serde_json::json!(5)), "{report:#}");
    assert_eq!(line_of("CO302"), Some(serde_json::json!(7)), "{report:#}");
    assert!(
        mutating_calls(&app) == ["CreateStack x1"],
        "check only reads: {:?}",
        mutating_calls(&app)
    );
}

#[tokio::test]
async fn retiring_a_release_whose_export_another_stack_imports_stops_and_keeps_it() {
    let app = App::new("chk-imports", EXPORTING_AND_RETAINING, &spec(5, "")).await;
    // Warnings do not stop a deploy; its plan lists them (the stateful queue once, by the diff).
    let first = app.cutover(&["deploy", &app.name, "--release", "r1", "--yes"]);
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    let plan = text(&first.stdout);
    assert!(plan.contains("Release checks"), "{}", show(&first));
    assert!(
        plan.contains("warning[CO201] ")
            && plan.contains("app.yaml:11: AWS::SQS::Queue has DeletionPolicy: Retain"),
        "{}",
        show(&first)
    );
    assert!(!plan.contains("CO202"), "{}", show(&first));
    assert!(
        plan.contains("Stateful resources in the new release"),
        "{}",
        show(&first)
    );
    for release in ["r2", "r3"] {
        app.deploy(release);
    }
    let r1 = app.stack("r1");
    let export = format!("{r1}-vpc");
    // Another team's stack uses r1's VPC.
    app.cloudformation()
        .create_stack()
        .stack_name("reports")
        .template_body(format!(
            "Resources:\n  Inbox:\n    Type: AWS::SQS::Queue\n    Properties:\n      Tags: [{{Key: vpc, Value: !ImportValue {export}}}]\n"
        ))
        .send()
        .await
        .expect("create the importing stack");
    app.proxy.imports(&export, &["reports"]);

    app.write_spec(&spec(1, ""));
    // A dry run finds the importer by reads alone, and marks nothing.
    let dry = app.cutover(&["retire", &app.name, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", show(&dry));
    assert!(
        text(&dry.stdout).contains(&format!(
            "would keep {r1}: other stacks import its exports ({export} by reports)"
        )),
        "{}",
        show(&dry)
    );
    assert!(app.mark(&r1).await["attention"].is_null());
    assert_ne!(role(&app.roles(), &r1).0, "retiring");
    let retired = app.cutover(&["retire", &app.name, "--yes"]);
    assert_ne!(retired.status.code(), Some(0), "{}", show(&retired));
    let said = format!("{}{}", text(&retired.stdout), text(&retired.stderr));
    assert!(said.contains(&format!("kept {r1}")), "{}", show(&retired));
    assert!(
        said.contains(&format!("{export} by reports")),
        "{}",
        show(&retired)
    );
    assert!(!app.deleted(&r1).await, "r1 stays");
    assert_eq!(
        app.proxy.requests_by_action().get("DeleteStack"),
        None,
        "no deletion was even started"
    );
    // `status` shows it as retiring, with the reason.
    assert_eq!(role(&app.roles(), &r1).0, "retiring");
    let status = app.cutover(&["status", &app.name]);
    assert!(
        text(&status.stdout).contains("reports"),
        "{}",
        show(&status)
    );
    let mark = app.mark(&r1).await;
    assert!(
        mark["attention"]
            .as_str()
            .is_some_and(|reason| reason.contains("reports")),
        "{mark}"
    );

    // Once nobody imports it, the next retirement deletes it and lists the queue it leaves.
    app.cloudformation()
        .delete_stack()
        .stack_name("reports")
        .send()
        .await
        .unwrap();
    app.proxy.imports(&export, &[]);
    // A dry run now says it would go, and what its deletion would leave.
    let dry = app.cutover(&["retire", &app.name, "--dry-run", "--output", "json"]);
    assert_eq!(dry.status.code(), Some(0), "{}", show(&dry));
    let preview: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(
        preview["outcomes"][0]["result"], "would_retire",
        "{preview}"
    );
    assert_eq!(preview["outcomes"][0]["stack"], r1.as_str());
    assert!(
        preview["outcomes"][0]["retained"][0]
            .as_str()
            .is_some_and(|line| line.starts_with("DeadLetters (AWS::SQS::Queue) ")),
        "{preview}"
    );
    assert!(!app.deleted(&r1).await);
    let retired = app.cutover(&["retire", &app.name, "--yes", "--output", "json"]);
    assert_eq!(retired.status.code(), Some(0), "{}", show(&retired));
    let report: serde_json::Value = serde_json::from_slice(&retired.stdout).unwrap();
    let outcome = &report["outcomes"][0];
    assert_eq!(outcome["result"], "deleted", "{report}");
    assert_eq!(outcome["stack"], r1.as_str());
    let retained = outcome["retained"].as_array().expect("retained listed");
    assert_eq!(retained.len(), 1, "{report}");
    let line = retained[0].as_str().unwrap();
    assert!(
        line.starts_with("DeadLetters (AWS::SQS::Queue) ") && line.contains(&r1),
        "names the queue and its URL: {line}"
    );
    assert!(app.deleted(&r1).await);
}
