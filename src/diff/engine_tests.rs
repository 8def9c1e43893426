use serde_json::json;

use super::*;
use crate::diff::convert::node_from_json;

fn view(template: serde_json::Value) -> ReleaseView {
    ReleaseView::of_template(node_from_json(&template), BTreeSet::new())
}

#[test]
fn reordered_tags_make_no_modified_resource() {
    let old = view(
        json!({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {
        "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}}}}),
    );
    let new = view(
        json!({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {
        "Tags": [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": 1}]}}}}),
    );
    let result = diff(Some(&old), &new);
    assert!(!result.has_differences(), "{result:?}");
    assert_eq!(result.stateful.len(), 1);
}

#[test]
fn without_an_old_release_everything_is_added() {
    let new = view(json!({
        "Parameters": {"P": {"Type": "String"}},
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}, "T": {"Type": "AWS::SNS::Topic"}}
    }));
    let result = diff(None, &new);
    assert_eq!(result.count_resources(ChangeKind::Added), 2);
    assert_eq!(result.sections[0].name, "Parameters");
    assert_eq!(result.sections[0].entries[0].kind, ChangeKind::Added);
}

#[test]
fn resolved_values_and_tags_are_compared_and_no_echo_values_masked() {
    let template = json!({
        "Parameters": {"Secret": {"Type": "String", "NoEcho": true}, "Size": {"Type": "String"}},
        "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q-s3cr3t-value"}}}
    });
    let mut old = view(template.clone());
    old.parameters
        .insert("Secret".into(), "s3cr3t-value".into());
    old.parameters.insert("Size".into(), "1".into());
    old.tags.insert("team".into(), "web".into());
    let mut new = view(template);
    new.parameters
        .insert("Secret".into(), "other-s3cr3t".into());
    new.parameters.insert("Size".into(), "2".into());
    new.tags.insert("team".into(), "api".into());
    let result = diff(Some(&old), &new);
    let values: Vec<_> = result
        .parameter_values
        .iter()
        .map(|change| {
            (
                change.name.as_str(),
                change.old.as_deref(),
                change.new.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        values,
        vec![
            ("Secret", Some(MASK), Some(MASK)),
            ("Size", Some("1"), Some("2"))
        ]
    );
    assert_eq!(result.tags[0].new.as_deref(), Some("api"));
    let text = render_text(&result, crate::output::Palette { enabled: false });
    let json = render_json(&result).to_string();
    for output in [&text, &json] {
        assert!(!output.contains("s3cr3t"), "{output}");
    }
}

#[test]
fn replacement_is_marked_on_the_property_and_the_resource() {
    let instance = |image: &str, size: &str| {
        view(json!({"Resources": {"W": {"Type": "AWS::EC2::Instance",
            "Properties": {"ImageId": image, "InstanceType": size}}}}))
    };
    let resized = diff(
        Some(&instance("ami-1", "t3.micro")),
        &instance("ami-1", "t3.large"),
    );
    assert!(!resized.resources[0].replacement());
    let reimaged = diff(
        Some(&instance("ami-1", "t3.micro")),
        &instance("ami-2", "t3.micro"),
    );
    assert!(reimaged.resources[0].replacement());
    assert_eq!(
        reimaged.resources[0].changes[0].path.to_string(),
        "Properties.ImageId"
    );
}
