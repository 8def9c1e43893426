use serde_json::json;

use super::*;
use crate::diff::convert::node_from_json;

fn changes(old: serde_json::Value, new: serde_json::Value) -> Vec<(String, ChangeKind)> {
    let mut out = Vec::new();
    diff_nodes(
        &mut Path::default(),
        &node_from_json(&old),
        &node_from_json(&new),
        &mut out,
    );
    out.into_iter()
        .map(|change| (change.path.to_string(), change.kind))
        .collect()
}

fn paths(old: serde_json::Value, new: serde_json::Value) -> Vec<String> {
    changes(old, new)
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn equal_scalars_by_text_and_maps_by_content_give_no_change() {
    assert!(changes(
        json!({"Port": 80, "On": true, "M": {"a": 1, "b": 2}}),
        json!({"M": {"b": "2", "a": "1"}, "On": "true", "Port": "80"})
    )
    .is_empty());
}

#[test]
fn nested_paths_name_keys_and_indexes() {
    let rules = |cidr: &str| {
        json!({"Properties": {"SecurityGroupIngress": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.0.0.0/8"},
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "10.0.0.0/8"},
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": cidr},
        ]}})
    };
    assert_eq!(
        changes(rules("10.0.0.0/8"), rules("0.0.0.0/0")),
        vec![(
            "Properties.SecurityGroupIngress[2].CidrIp".to_string(),
            ChangeKind::Modified
        )]
    );
}

#[test]
fn tags_match_by_key_whatever_the_order() {
    let old = json!({"Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]});
    let reordered = json!({"Tags": [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]});
    assert!(changes(old.clone(), reordered).is_empty());
    let changed = json!({"Tags": [{"Key": "b", "Value": "3"}, {"Key": "a", "Value": "1"}]});
    assert_eq!(paths(old.clone(), changed), vec!["Tags[0].Value"]);
    let renamed = json!({"Tags": [{"Key": "a", "Value": "1"}, {"Key": "c", "Value": "2"}]});
    assert_eq!(
        changes(old, renamed),
        vec![
            ("Tags[1]".to_string(), ChangeKind::Removed),
            ("Tags[1]".to_string(), ChangeKind::Added)
        ]
    );
}

#[test]
fn statements_match_by_sid_and_unnamed_ones_by_effect() {
    let old = json!({"Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
    ]});
    let new = json!({"Statement": [
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
        {"Sid": "Read", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"},
    ]});
    assert_eq!(
        changes(old, new),
        vec![("Statement[1].Action[0]".to_string(), ChangeKind::Added)]
    );
}

#[test]
fn plain_lists_align_by_longest_common_subsequence() {
    let old = json!({"L": ["a", "b", "c", "d"]});
    let new = json!({"L": ["a", "c", "d", "e"]});
    assert_eq!(
        changes(old, new),
        vec![
            ("L[1]".to_string(), ChangeKind::Removed),
            ("L[3]".to_string(), ChangeKind::Added)
        ]
    );
    let replaced = changes(
        json!({"L": [{"x": 1, "y": 1}, "keep"]}),
        json!({"L": [{"x": 2, "y": 1}, "keep"]}),
    );
    assert_eq!(replaced, vec![("L[0].x".to_string(), ChangeKind::Modified)]);
}

#[test]
fn a_different_intrinsic_is_one_changed_value() {
    assert_eq!(
        changes(
            json!({"V": {"Fn::Sub": "${A}-x"}}),
            json!({"V": {"Fn::Join": ["-", [{"Ref": "A"}, "x"]]}})
        ),
        vec![("V".to_string(), ChangeKind::Modified)]
    );
}

#[test]
fn keys_that_would_be_ambiguous_are_quoted_in_paths() {
    assert_eq!(
        paths(
            json!({"files": {"/etc/app.conf": {"mode": "000644"}}}),
            json!({"files": {"/etc/app.conf": {"mode": "000600"}}})
        ),
        vec![r#"files["/etc/app.conf"].mode"#]
    );
}

#[test]
fn canonical_keys_agree_with_semantic_equality() {
    let a = node_from_json(&json!({"b": [1, true], "a": null}));
    let b = node_from_json(&json!({"a": null, "b": ["1", "true"]}));
    assert_eq!(canonical_key(&a), canonical_key(&b));
    let c = node_from_json(&json!({"a": null, "b": ["1", "false"]}));
    assert_ne!(canonical_key(&a), canonical_key(&c));
}
