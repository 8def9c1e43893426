//! `Ref` and `Fn::GetAtt` to names the template does not declare: CloudFormation refuses such a
//! template at CreateStack ("Unresolved resource dependencies"); cutover says so before any AWS
//! call, with the line. Pseudo parameters (`AWS::…`) are declared by CloudFormation itself.
//! Templates with a `Transform` are not checked: a macro (SAM, say) declares resources of its
//! own that only CloudFormation sees.

use super::node::Node;
use super::Template;

/// One reference to nothing: where it is (the key path of the intrinsic) and the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeclared {
    pub path: Vec<String>,
    pub name: String,
    /// `Ref` or `Fn::GetAtt`.
    pub function: &'static str,
}

/// Every `Ref` (to neither a parameter, a resource nor a pseudo parameter) and `Fn::GetAtt`
/// (to no resource) in `Resources`, `Outputs` and `Conditions`, in template order.
pub fn undeclared_references(template: &Template) -> Vec<Undeclared> {
    if template.root.get("Transform").is_some() {
        return Vec::new();
    }
    let declared = |name: &str, resources_only: bool| {
        template.resources().is_some_and(|r| r.contains_key(name))
            || (!resources_only
                && (name.starts_with("AWS::")
                    || template.parameters().is_some_and(|p| p.contains_key(name))))
    };
    let mut found = Vec::new();
    for section in ["Resources", "Outputs", "Conditions"] {
        if let Some(node) = template.root.get(section) {
            let mut path = vec![section.to_string()];
            walk(node, &mut path, &declared, &mut found);
        }
    }
    found
}

fn walk(
    node: &Node,
    path: &mut Vec<String>,
    declared: &dyn Fn(&str, bool) -> bool,
    found: &mut Vec<Undeclared>,
) {
    match node {
        Node::Map(map) => {
            if map.len() == 1 {
                if let Some(name) = map.get("Ref").and_then(Node::as_str) {
                    if !declared(name, false) {
                        found.push(Undeclared {
                            path: path.clone(),
                            name: name.to_string(),
                            function: "Ref",
                        });
                    }
                }
                if let Some(target) = map.get("Fn::GetAtt") {
                    let resource = match target {
                        Node::List(parts) => parts.first().and_then(Node::as_str),
                        Node::String(text) => text.split('.').next(),
                        _ => None,
                    };
                    if let Some(resource) = resource.filter(|name| !declared(name, true)) {
                        found.push(Undeclared {
                            path: path.clone(),
                            name: resource.to_string(),
                            function: "Fn::GetAtt",
                        });
                    }
                }
            }
            for (key, value) in map {
                path.push(key.clone());
                walk(value, path, declared, found);
                path.pop();
            }
        }
        Node::List(items) => {
            for (index, item) in items.iter().enumerate() {
                path.push(index.to_string());
                walk(item, path, declared, found);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(body: &str) -> Vec<(String, &'static str)> {
        let template = crate::template::parse(body, "t.yaml").unwrap();
        undeclared_references(&template)
            .into_iter()
            .map(|found| (found.name, found.function))
            .collect()
    }

    #[test]
    fn refs_and_getatts_to_nothing_are_found_and_declared_names_are_not() {
        let body = "Parameters:\n  Size: {Type: String}\nResources:\n  Vpc:\n    Type: AWS::EC2::VPC\n    Properties: {CidrBlock: !Ref Size}\n  Group:\n    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n    Properties: {VpcId: !Ref Vcp, Name: !Sub '${AWS::StackName}-g', Port: !GetAtt Vpx.Port, Region: !Ref AWS::Region}\nOutputs:\n  Id: {Value: !GetAtt Vpc.VpcId}\n  Missing: {Value: !Ref Nothing}\n";
        assert_eq!(
            names(body),
            [
                ("Vcp".to_string(), "Ref"),
                ("Vpx".to_string(), "Fn::GetAtt"),
                ("Nothing".to_string(), "Ref")
            ]
        );
    }

    #[test]
    fn a_transform_declares_what_only_cloudformation_sees() {
        let body = "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Role: !GetAtt FnRole.Arn}\n";
        assert!(names(body).is_empty());
    }
}
