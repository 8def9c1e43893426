//! IAM policy documents as IAM reads them, so that the diff compares meaning, not form.
//!
//! The rules (IAM User Guide, "IAM JSON policy element reference" and "Policy evaluation logic"):
//! `Action`, `NotAction`, `Resource`, `NotResource`, each principal type's value and each
//! condition key's value take a string or an array of strings, and a one-element array is the
//! same as the string; `Statement` is one statement or an array of them; the order of values and
//! of statements has no meaning.
//!
//! Policies written as trees are compared by the tree diff itself (`tree`: these values compare
//! as sets whatever their form, statements match by `Sid`, else by [`canonical_statement`]), so
//! the diff shows them as written. A policy given as a JSON string (or as `Fn::Sub` over one) is
//! text to the tree diff: [`canonical_resource`] parses it and writes it back in canonical form
//! (arrays everywhere, sorted keys, values and statements, indented), so that its line diff
//! shows only what changed. Text that is not JSON is left as it is.
//!
//! Where each resource type keeps its policies is [`policy_fields`], shared with the statement
//! summary in `iam`.

use std::borrow::Cow;

use indexmap::IndexMap;

use super::convert::node_from_json;
use super::tree::canonical_key;
use crate::template::Node;

/// The properties of `resource_type` that hold a policy document, and whether it also has
/// inline `Policies` (a list of `{PolicyName, PolicyDocument}`).
pub fn policy_fields(resource_type: &str) -> (&'static [&'static str], bool) {
    match resource_type {
        "AWS::IAM::Role" => (&["AssumeRolePolicyDocument"], true),
        "AWS::IAM::User" | "AWS::IAM::Group" => (&[], true),
        "AWS::KMS::Key" | "AWS::KMS::ReplicaKey" => (&["KeyPolicy"], false),
        "AWS::SecretsManager::ResourcePolicy" => (&["ResourcePolicy"], false),
        "AWS::ECR::Repository" => (&["RepositoryPolicyText"], false),
        "AWS::OpenSearchService::Domain" | "AWS::Elasticsearch::Domain" => {
            (&["AccessPolicies"], false)
        }
        "AWS::ApiGateway::RestApi" => (&["Policy"], false),
        "AWS::EFS::FileSystem" => (&["FileSystemPolicy"], false),
        "AWS::Backup::BackupVault" => (&["AccessPolicy"], false),
        "AWS::Events::EventBusPolicy" => (&["Statement"], false),
        "AWS::IAM::Policy"
        | "AWS::IAM::ManagedPolicy"
        | "AWS::IAM::RolePolicy"
        | "AWS::IAM::UserPolicy"
        | "AWS::IAM::GroupPolicy"
        | "AWS::S3::BucketPolicy"
        | "AWS::S3Express::BucketPolicy"
        | "AWS::SQS::QueuePolicy"
        | "AWS::SNS::TopicPolicy"
        | "AWS::Logs::ResourcePolicy" => (&["PolicyDocument"], false),
        _ => (&[], false),
    }
}

/// The resource with every policy document written as JSON text in canonical form; borrowed
/// when it has none.
pub fn canonical_resource(resource: &Node) -> Cow<'_, Node> {
    let Some(resource_type) = resource.get("Type").and_then(Node::as_str) else {
        return Cow::Borrowed(resource);
    };
    let (fields, inline) = policy_fields(resource_type);
    let Some(properties) = resource.get("Properties").and_then(Node::as_map) else {
        return Cow::Borrowed(resource);
    };
    let inline_documents = || {
        properties
            .get("Policies")
            .and_then(Node::as_list)
            .into_iter()
            .flatten()
            .filter_map(|policy| policy.get("PolicyDocument"))
    };
    let has_text = fields
        .iter()
        .filter_map(|field| properties.get(*field))
        .chain(inline.then(inline_documents).into_iter().flatten())
        .any(is_text_document);
    if !has_text {
        return Cow::Borrowed(resource);
    }
    let mut properties = properties.clone();
    for field in fields {
        if let Some(document) = properties.get_mut(*field) {
            *document = canonical_document(document);
        }
    }
    if inline {
        if let Some(Node::List(policies)) = properties.get_mut("Policies") {
            for policy in policies {
                if let Node::Map(policy) = policy {
                    if let Some(document) = policy.get_mut("PolicyDocument") {
                        *document = canonical_document(document);
                    }
                }
            }
        }
    }
    let mut resource = resource.as_map().cloned().unwrap_or_default();
    resource.insert("Properties".into(), Node::Map(properties));
    Cow::Owned(Node::Map(resource))
}

/// Every policy document of a resource, as a tree (JSON text is parsed; text that is not JSON
/// is left out), with the path of the property that holds it (`Properties`, `PolicyDocument`, or
/// `Properties`, `Policies`, `0`, `PolicyDocument`).
pub fn policy_documents(resource: &Node) -> Vec<(Vec<String>, Node)> {
    let Some(resource_type) = resource.get("Type").and_then(Node::as_str) else {
        return Vec::new();
    };
    let Some(properties) = resource.get("Properties") else {
        return Vec::new();
    };
    let (fields, inline) = policy_fields(resource_type);
    let mut documents: Vec<(Vec<String>, &Node)> = fields
        .iter()
        .filter_map(|field| {
            properties
                .get(field)
                .map(|document| (vec!["Properties".to_string(), field.to_string()], document))
        })
        .collect();
    if inline {
        for (index, policy) in properties
            .get("Policies")
            .and_then(Node::as_list)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if let Some(document) = policy.get("PolicyDocument") {
                let path = [
                    "Properties",
                    "Policies",
                    &index.to_string(),
                    "PolicyDocument",
                ];
                documents.push((path.iter().map(|part| part.to_string()).collect(), document));
            }
        }
    }
    documents
        .into_iter()
        .filter_map(|(path, document)| {
            let text = match document {
                Node::String(text) => Some(text.as_str()),
                Node::Map(map) if map.len() == 1 => match map.get("Fn::Sub") {
                    Some(Node::String(text)) => Some(text.as_str()),
                    Some(Node::List(parts)) => parts.first().and_then(Node::as_str),
                    _ => None,
                },
                _ => None,
            };
            match text {
                Some(text) => serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .map(|value| (path, node_from_json(&value))),
                None => Some((path, document.clone())),
            }
        })
        .collect()
}

fn is_text_document(document: &Node) -> bool {
    match document {
        Node::String(_) => true,
        Node::Map(map) => map.len() == 1 && map.contains_key("Fn::Sub"),
        _ => false,
    }
}

/// A policy document given as text (a string, or `Fn::Sub` over one) in canonical form; any
/// other document as it is.
pub fn canonical_document(document: &Node) -> Node {
    match document {
        Node::String(text) => Node::String(canonical_text(text).unwrap_or_else(|| text.clone())),
        Node::Map(map) if map.len() == 1 && map.contains_key("Fn::Sub") => {
            let sub = match &map["Fn::Sub"] {
                Node::String(text) => {
                    Node::String(canonical_text(text).unwrap_or_else(|| text.clone()))
                }
                Node::List(parts) => {
                    let mut parts = parts.clone();
                    if let Some(Node::String(text)) = parts.first_mut() {
                        if let Some(canonical) = canonical_text(text) {
                            *text = canonical;
                        }
                    }
                    Node::List(parts)
                }
                other => other.clone(),
            };
            Node::Map(IndexMap::from([("Fn::Sub".to_string(), sub)]))
        }
        other => other.clone(),
    }
}

/// A policy written as JSON text, canonical and indented; `None` when the text is not JSON.
fn canonical_text(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let tree = canonical_tree(&node_from_json(&value));
    let sorted = sorted_keys(&serde_json::to_value(&tree).ok()?);
    serde_json::to_string_pretty(&sorted).ok()
}

/// Arrays everywhere, value lists and statements sorted: text is compared as text.
fn canonical_tree(document: &Node) -> Node {
    let Node::Map(map) = document else {
        return document.clone();
    };
    let mut map = map.clone();
    let statements = match map.get("Statement") {
        Some(Node::List(items)) => Some(items.iter().map(canonical_statement).collect::<Vec<_>>()),
        Some(single @ Node::Map(_)) => Some(vec![canonical_statement(single)]),
        // Not a statement or a list of them (an intrinsic): left alone.
        Some(_) => None,
        // A lone statement (EventBusPolicy's `Statement` property).
        None if map.contains_key("Effect") => return canonical_statement(document),
        None => None,
    };
    if let Some(mut statements) = statements {
        statements.sort_by_key(canonical_key);
        map.insert("Statement".into(), Node::List(statements));
    }
    Node::Map(map)
}

/// One statement with its values as sorted, deduplicated lists (a string becomes a list of
/// one): two statements IAM reads alike have the same canonical statement.
pub fn canonical_statement(statement: &Node) -> Node {
    let Node::Map(map) = statement else {
        return statement.clone();
    };
    let mut map = map.clone();
    for key in ["Action", "NotAction", "Resource", "NotResource"] {
        if let Some(value) = map.get_mut(key) {
            *value = value_list(value);
        }
    }
    for key in ["Principal", "NotPrincipal"] {
        if let Some(Node::Map(principals)) = map.get_mut(key) {
            if !is_intrinsic(principals) {
                for value in principals.values_mut() {
                    *value = value_list(value);
                }
            }
        }
    }
    if let Some(Node::Map(operators)) = map.get_mut("Condition") {
        if !is_intrinsic(operators) {
            for keys in operators.values_mut() {
                if let Node::Map(keys) = keys {
                    if !is_intrinsic(keys) {
                        for value in keys.values_mut() {
                            *value = value_list(value);
                        }
                    }
                }
            }
        }
    }
    Node::Map(map)
}

/// A scalar becomes a one-element list; a list keeps its items, sorted and deduplicated. An
/// intrinsic function that may yield a list (`Fn::If`, `Ref` to a list parameter) is left
/// alone: what it yields is not known here.
fn value_list(value: &Node) -> Node {
    let mut items = match value {
        Node::List(items) => items.clone(),
        Node::Map(map) if is_intrinsic(map) && !is_scalar_intrinsic(map) => return value.clone(),
        scalar => vec![scalar.clone()],
    };
    items.sort_by_key(canonical_key);
    items.dedup_by(|a, b| canonical_key(a) == canonical_key(b));
    Node::List(items)
}

fn is_intrinsic(map: &IndexMap<String, Node>) -> bool {
    map.len() == 1
        && map
            .keys()
            .next()
            .is_some_and(|key| key == "Ref" || key.starts_with("Fn::"))
}

/// Intrinsics that always give one string (`Fn::Sub`, `Fn::GetAtt` of a scalar attribute,
/// `Fn::Join`, `Fn::ImportValue`): the same as that string written alone.
fn is_scalar_intrinsic(map: &IndexMap<String, Node>) -> bool {
    map.keys().next().is_some_and(|key| {
        matches!(
            key.as_str(),
            "Fn::Sub" | "Fn::Join" | "Fn::GetAtt" | "Fn::ImportValue"
        )
    })
}

fn sorted_keys(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key.clone(), sorted_keys(value)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(sorted_keys).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::parse;

    fn resource(yaml: &str) -> Node {
        let template = parse(&format!("Resources:\n  R:\n{yaml}"), "t.yaml").unwrap();
        template.resources().unwrap()["R"].clone()
    }

    /// Whether the whole diff finds no change between the two resources.
    fn same(a: &str, b: &str) -> bool {
        let view = |yaml: &str| {
            let template = parse(&format!("Resources:\n  R:\n{yaml}"), "t.yaml").unwrap();
            crate::diff::ReleaseView::of_template(template.root, Default::default())
        };
        let result = crate::diff::diff(Some(&view(a)), &view(b));
        !result.has_differences()
    }

    #[test]
    fn a_string_and_a_one_element_list_are_the_same_for_every_iam_list() {
        let role = |action: &str, principal: &str, condition: &str| {
            format!(
                "    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Statement:\n          Effect: Allow\n          Principal: {{AWS: {principal}}}\n          Action: {action}\n          Condition: {{StringEquals: {{aws:SourceAccount: {condition}}}}}\n"
            )
        };
        assert!(same(
            &role("sts:AssumeRole", "arn:aws:iam::1:root", "'111'"),
            &role("[sts:AssumeRole]", "[arn:aws:iam::1:root]", "['111']"),
        ));
        assert!(!same(
            &role("sts:AssumeRole", "arn:aws:iam::1:root", "'111'"),
            &role(
                "[sts:AssumeRole, sts:TagSession]",
                "arn:aws:iam::1:root",
                "'111'"
            ),
        ));
        assert!(!same(
            &role("sts:AssumeRole", "arn:aws:iam::1:root", "'111'"),
            &role("sts:AssumeRole", "arn:aws:iam::1:root", "'222'"),
        ));
    }

    #[test]
    fn condition_values_compare_as_sets() {
        let policy = |values: &str| {
            format!(
                "    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: b\n      PolicyDocument:\n        Statement:\n          - Effect: Deny\n            Principal: '*'\n            Action: 's3:*'\n            Resource: '*'\n            Condition: {{StringNotEquals: {{aws:SourceVpce: {values}}}}}\n"
            )
        };
        assert!(same(
            &policy("[vpce-1, vpce-2]"),
            &policy("[vpce-2, vpce-1]")
        ));
    }

    #[test]
    fn policies_written_as_json_text_compare_by_meaning_and_read_well() {
        let policy = |text: &str| {
            format!(
                "    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument: '{text}'\n"
            )
        };
        let a = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage","sqs:GetQueueUrl"],"Resource":"arn:q"},{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:b/*"]}]}"#;
        let b = r#"{"Statement":[{"Resource":"arn:b/*","Action":["s3:GetObject"],"Effect":"Allow"},{"Effect":"Allow","Action":["sqs:GetQueueUrl","sqs:SendMessage"],"Resource":["arn:q"]}],"Version":"2012-10-17"}"#;
        assert!(same(&policy(a), &policy(b)));
        let canonical = canonical_resource(&resource(&policy(a))).into_owned();
        let text = canonical
            .get("Properties")
            .and_then(|p| p.get("PolicyDocument"))
            .and_then(Node::as_str)
            .unwrap()
            .to_string();
        assert!(text.contains("\n"), "indented: {text}");
        // Not JSON: left as written.
        assert_eq!(
            canonical_document(&Node::String("not json".into())),
            Node::String("not json".into())
        );
    }

    #[test]
    fn a_resource_without_policies_is_not_copied() {
        let topic = resource("    Type: AWS::SNS::Topic\n    Properties: {TopicName: t}\n");
        assert!(matches!(canonical_resource(&topic), Cow::Borrowed(_)));
    }

    #[test]
    fn intrinsic_lists_are_left_alone() {
        let node = |yaml: &str| {
            parse(
                &format!("Resources: {{T: {{Type: AWS::SNS::Topic}}}}\nV: {yaml}\n"),
                "t.yaml",
            )
            .unwrap()
            .root
            .get("V")
            .unwrap()
            .clone()
        };
        let if_list = node("{Fn::If: [C, [a, b], [c]]}");
        assert_eq!(value_list(&if_list), if_list);
        let sub = node("{Fn::Sub: 'arn:${X}'}");
        assert_eq!(value_list(&sub), Node::List(vec![sub.clone()]));
    }
}
