//! Short-form intrinsic functions (`!Ref X`) and their long forms (`Ref: X`), so that both
//! spellings load into the same tree.

use indexmap::IndexMap;

use super::Node;

/// The long-form key for a YAML short-form tag name (without the `!`), or `None` if the tag
/// is not one CloudFormation understands.
pub fn long_form(tag_name: &str) -> Option<&'static str> {
    Some(match tag_name {
        "Ref" => "Ref",
        "Condition" => "Condition",
        "Sub" => "Fn::Sub",
        "GetAtt" => "Fn::GetAtt",
        "Join" => "Fn::Join",
        "If" => "Fn::If",
        "Equals" => "Fn::Equals",
        "Not" => "Fn::Not",
        "And" => "Fn::And",
        "Or" => "Fn::Or",
        "FindInMap" => "Fn::FindInMap",
        "Select" => "Fn::Select",
        "Split" => "Fn::Split",
        "Base64" => "Fn::Base64",
        "Cidr" => "Fn::Cidr",
        "GetAZs" => "Fn::GetAZs",
        "ImportValue" => "Fn::ImportValue",
        "GetStackOutput" => "Fn::GetStackOutput",
        "Transform" => "Fn::Transform",
        // Rule functions (the `Rules` section) have short forms too.
        "Contains" => "Fn::Contains",
        "EachMemberEquals" => "Fn::EachMemberEquals",
        "EachMemberIn" => "Fn::EachMemberIn",
        "RefAll" => "Fn::RefAll",
        "ValueOf" => "Fn::ValueOf",
        "ValueOfAll" => "Fn::ValueOfAll",
        // Under the AWS::LanguageExtensions transform.
        "Length" => "Fn::Length",
        "ToJsonString" => "Fn::ToJsonString",
        _ => return None,
    })
}

/// `{long: value}`, the long form of a short-form intrinsic.
pub fn wrap(long: &str, value: Node) -> Node {
    let mut map = IndexMap::with_capacity(1);
    map.insert(long.to_string(), value);
    Node::Map(map)
}

/// Rewrites the spellings of one intrinsic that mean the same thing to one form, so that twins
/// written differently compare equal. Applied to the whole tree after loading.
///
/// `Fn::GetAtt: "Resource.Attribute"` becomes `Fn::GetAtt: [Resource, Attribute]`, splitting on
/// the first dot only (attribute names such as `Endpoint.Address` contain dots).
///
/// The argument of `Fn::GetAZs` becomes `""` when it names the stack's own region: a bare YAML
/// `!GetAZs`, `""`, `null` and `{"Ref": "AWS::Region"}` all do. `""` is the canonical form
/// because it is what AWS documents for "the region the stack is created in", it is what the
/// YAML short form loads to, and it is a scalar, unlike `null` (which other values never equal)
/// or the `Ref` map (which would make a diff point into a nested intrinsic). An explicit region
/// (`Fn::GetAZs: us-east-1`) is kept: it differs from the stack's region in any other region.
pub fn normalise(node: &mut Node) {
    match node {
        Node::Map(map) => {
            if map.len() == 1 {
                if let Some(value) = map.get_mut("Fn::GetAtt") {
                    split_get_att(value);
                } else if let Some(value) = map.get_mut("Fn::GetAZs") {
                    if names_the_stack_region(value) {
                        *value = Node::String(String::new());
                    }
                }
            }
            for value in map.values_mut() {
                normalise(value);
            }
        }
        Node::List(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

fn names_the_stack_region(get_azs_argument: &Node) -> bool {
    match get_azs_argument {
        Node::Null => true,
        Node::String(region) => region.is_empty(),
        Node::Map(map) => {
            map.len() == 1 && map.get("Ref").and_then(Node::as_str) == Some("AWS::Region")
        }
        _ => false,
    }
}

fn split_get_att(value: &mut Node) {
    if let Node::String(text) = value {
        if let Some((resource, attribute)) = text.split_once('.') {
            *value = Node::List(vec![
                Node::String(resource.to_string()),
                Node::String(attribute.to_string()),
            ]);
        }
    }
}
