use serde_json::json;

use super::*;
use crate::diff::convert::node_from_json;

fn resources(value: serde_json::Value) -> IndexMap<String, Node> {
    match node_from_json(&value) {
        Node::Map(map) => map,
        other => panic!("not a map: {other:?}"),
    }
}

fn role(actions: serde_json::Value) -> serde_json::Value {
    json!({"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "app", "PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": "arn:aws:s3:::b/*"}]}}]}}})
}

#[test]
fn an_added_action_is_a_modified_broadening_statement() {
    let changes = statement_changes(
        &resources(role(json!(["s3:GetObject"]))),
        &resources(role(json!(["s3:GetObject", "s3:*"]))),
    );
    assert_eq!(changes.len(), 1, "{changes:?}");
    let change = &changes[0];
    assert_eq!(change.kind, ChangeKind::Modified);
    assert_eq!(change.location, "Properties.Policies[app].PolicyDocument");
    assert_eq!(change.statement.actions, vec!["s3:*", "s3:GetObject"]);
    assert_eq!(
        change.broadening,
        vec!["adds actions s3:*", "wildcard action `s3:*`"]
    );
}

#[test]
fn reordered_actions_are_no_change_and_removed_actions_do_not_broaden() {
    assert!(statement_changes(
        &resources(role(json!(["a:B", "a:A"]))),
        &resources(role(json!(["a:A", "a:B"])))
    )
    .is_empty());
    let narrowed = statement_changes(
        &resources(role(json!(["a:A", "a:B"]))),
        &resources(role(json!(["a:A"]))),
    );
    assert_eq!(narrowed.len(), 1);
    assert!(narrowed[0].broadening.is_empty());
}

#[test]
fn a_new_role_adds_its_statements_and_resource_policies_in_strings_are_read() {
    let added = statement_changes(&IndexMap::new(), &resources(role(json!("s3:GetObject"))));
    assert_eq!(added.len(), 2);
    assert!(added.iter().all(|change| change.kind == ChangeKind::Added));
    assert_eq!(
        added[0].statement.principals,
        vec!["Service:ec2.amazonaws.com"]
    );

    let policy = |principal: &str| {
        let document = json!({"Statement": [{"Effect": "Allow", "Principal": principal,
            "Action": "sqs:SendMessage", "Resource": "*"}]});
        resources(json!({"P": {"Type": "AWS::SQS::QueuePolicy",
            "Properties": {"PolicyDocument": document.to_string()}}}))
    };
    let changes = statement_changes(&policy("arn:aws:iam::1:root"), &policy("*"));
    let reasons: Vec<&String> = changes.iter().flat_map(|c| &c.broadening).collect();
    assert!(
        reasons
            .iter()
            .any(|reason| reason.contains("principal `*`")),
        "{changes:?}"
    );
}

#[test]
fn lambda_permissions_are_statements() {
    let permission = |principal: &str| {
        resources(
            json!({"Perm": {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "Fn"}, "Principal": principal}}}),
        )
    };
    let changes = statement_changes(&permission("s3.amazonaws.com"), &permission("*"));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].statement.resources, vec!["Fn"]);
    assert!(changes[0]
        .broadening
        .contains(&"wildcard principal `*`".to_string()));
}

#[test]
fn wildcards_cover_what_they_match_and_everyone_covers_any_aws_principal() {
    let strings = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    assert!(wildcard_match("s3:*", "s3:getobject"));
    assert!(wildcard_match("s3:Get*", "s3:Get*"));
    assert!(wildcard_match(
        "arn:aws:s3:::b/*/logs?",
        "arn:aws:s3:::b/x/y/logs1"
    ));
    assert!(!wildcard_match("s3:Get*", "s3:*"));
    assert!(!wildcard_match("a?", "a"));
    assert!(gained(
        &strings(&["s3:*"]),
        &strings(&["S3:GetObject"]),
        Case::Insensitive
    )
    .is_empty());
    assert_eq!(
        gained(
            &strings(&["s3:Get*"]),
            &strings(&["s3:*"]),
            Case::Insensitive
        ),
        ["s3:*"]
    );
    assert!(gained(&strings(&["*"]), &strings(&["AWS:*"]), Case::Sensitive).is_empty());
    assert_eq!(
        gained(&strings(&["AWS:*"]), &strings(&["*"]), Case::Sensitive),
        ["*"],
        "everyone (anonymous too) is more than any AWS principal"
    );
    assert_eq!(
        gained(
            &strings(&["arn:b/*"]),
            &strings(&["arn:B/x"]),
            Case::Sensitive
        ),
        ["arn:B/x"],
        "resources are case-sensitive"
    );
}

#[test]
fn principal_everyone_to_any_aws_principal_is_not_broadening() {
    let policy = |principal: serde_json::Value| {
        resources(
            json!({"P": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": "b", "PolicyDocument": {"Statement": [{"Sid": "Read", "Effect": "Allow",
            "Principal": principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}}}}),
        )
    };
    let narrowed = statement_changes(&policy(json!("*")), &policy(json!({"AWS": "*"})));
    assert_eq!(narrowed.len(), 1, "{narrowed:?}");
    assert!(narrowed[0].broadening.is_empty(), "{narrowed:?}");
    let widened = statement_changes(&policy(json!({"AWS": "*"})), &policy(json!("*")));
    assert!(!widened[0].broadening.is_empty(), "{widened:?}");
}
