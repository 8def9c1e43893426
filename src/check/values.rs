//! Pure: whether a template value is the same in every release stack of an app. cutover creates
//! a stack from the same template, with the same parameters, for every release, so only what the
//! stack itself contributes differs between releases: its name and id (`AWS::StackName`,
//! `AWS::StackId`) and the physical ids and attributes of the resources it creates.

use indexmap::IndexMap;

use crate::template::Node;

/// What a value is across releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Across {
    /// Differs from release to release.
    Varies,
    /// The same in every release; the text says what it is (`the literal "orders"`, `parameter
    /// BucketName`, `"orders-${AWS::Region}"`).
    Fixed(String),
    /// No value is set (`Ref: AWS::NoValue`).
    Absent,
}

/// How `value` behaves across releases of a stack with `resources` (logical id → resource).
pub fn across_releases(value: &Node, resources: &IndexMap<String, Node>) -> Across {
    match value {
        Node::String(text) => Across::Fixed(format!("the literal {text:?}")),
        Node::Number(text) => Across::Fixed(format!("the literal {text}")),
        Node::Bool(value) => Across::Fixed(format!("the literal {value}")),
        Node::Null => Across::Absent,
        Node::List(items) => all_of(items.iter().map(|item| across_releases(item, resources))),
        Node::Map(map) => intrinsic(map, resources),
    }
}

fn intrinsic(map: &IndexMap<String, Node>, resources: &IndexMap<String, Node>) -> Across {
    let Some((name, argument)) = map.iter().next().filter(|_| map.len() == 1) else {
        return Across::Fixed("a map".into());
    };
    match name.as_str() {
        "Ref" => match argument.as_str() {
            Some("AWS::StackName" | "AWS::StackId") => Across::Varies,
            Some("AWS::NoValue") => Across::Absent,
            Some(pseudo) if pseudo.starts_with("AWS::") => Across::Fixed(pseudo.to_string()),
            Some(logical) if resources.contains_key(logical) => Across::Varies,
            Some(parameter) => Across::Fixed(format!("parameter {parameter}")),
            None => Across::Fixed("a Ref".into()),
        },
        // A resource's attribute is its own in each stack.
        "Fn::GetAtt" => Across::Varies,
        "Fn::Sub" => sub(argument, resources),
        "Fn::Join" => match argument.as_list() {
            Some([_, Node::List(parts)]) => {
                match all_of(parts.iter().map(|part| across_releases(part, resources))) {
                    Across::Fixed(what) => Across::Fixed(format!("a Fn::Join of {what}")),
                    other => other,
                }
            }
            Some([_, parts]) => across_releases(parts, resources),
            _ => Across::Fixed("a Fn::Join".into()),
        },
        "Fn::Select" => match argument.as_list() {
            Some([_, list]) => across_releases(list, resources),
            _ => Across::Fixed("a Fn::Select".into()),
        },
        // Pieces of a value are as varied as the value: `!Select [2, !Split ["/", !Ref
        // AWS::StackId]]` is the stack's id, new in every release.
        "Fn::Split" => match argument.as_list() {
            Some([_, source]) => across_releases(source, resources),
            _ => Across::Fixed("a Fn::Split".into()),
        },
        "Fn::Base64" | "Fn::ToJsonString" | "Fn::Length" => across_releases(argument, resources),
        "Fn::Cidr" => match argument.as_list() {
            Some(parts) => all_of(parts.iter().map(|part| across_releases(part, resources))),
            None => Across::Fixed("a Fn::Cidr".into()),
        },
        "Fn::GetAZs" => Across::Fixed("the region's availability zones".into()),
        "Fn::If" => match argument.as_list() {
            // Fixed when one branch is: that branch is taken in some stacks.
            Some([_, then, otherwise]) => {
                match (
                    across_releases(then, resources),
                    across_releases(otherwise, resources),
                ) {
                    (fixed @ Across::Fixed(_), _) | (_, fixed @ Across::Fixed(_)) => fixed,
                    (Across::Varies, _) | (_, Across::Varies) => Across::Varies,
                    _ => Across::Absent,
                }
            }
            _ => Across::Fixed("a Fn::If".into()),
        },
        "Fn::ImportValue" => Across::Fixed("an imported value".into()),
        "Fn::FindInMap" => Across::Fixed("a mapping value".into()),
        "Fn::GetStackOutput" => Across::Fixed("another stack's output".into()),
        other => Across::Fixed(format!("a {other}")),
    }
}

/// A list (or a string built of parts) varies when one of its parts does.
fn all_of(parts: impl Iterator<Item = Across>) -> Across {
    let mut fixed = Vec::new();
    for part in parts {
        match part {
            Across::Varies => return Across::Varies,
            Across::Fixed(what) => fixed.push(what),
            Across::Absent => {}
        }
    }
    if fixed.is_empty() {
        Across::Absent
    } else {
        Across::Fixed(fixed.join(" and "))
    }
}

/// `Fn::Sub`: varies when the text names the stack, a resource of the template, or a variable
/// that varies.
fn sub(argument: &Node, resources: &IndexMap<String, Node>) -> Across {
    let (text, variables) = match argument {
        Node::String(text) => (text.as_str(), None),
        Node::List(parts) => match parts.as_slice() {
            [Node::String(text)] => (text.as_str(), None),
            [Node::String(text), Node::Map(variables)] => (text.as_str(), Some(variables)),
            _ => return Across::Fixed("a Fn::Sub".into()),
        },
        _ => return Across::Fixed("a Fn::Sub".into()),
    };
    for name in sub_variables(text) {
        let varies = match variables.and_then(|variables| variables.get(name)) {
            Some(value) => across_releases(value, resources) == Across::Varies,
            None => {
                let logical = name.split('.').next().unwrap_or(name);
                matches!(name, "AWS::StackName" | "AWS::StackId") || resources.contains_key(logical)
            }
        };
        if varies {
            return Across::Varies;
        }
    }
    Across::Fixed(format!("{text:?}"))
}

/// The `${Name}` variables of a `Fn::Sub` text (`${!Literal}` is not one).
fn sub_variables(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = after[..end].trim();
        if !name.starts_with('!') {
            names.push(name);
        }
        rest = &after[end + 1..];
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::parse;

    fn verdict(yaml: &str) -> Across {
        let template = parse(
            &format!("Parameters:\n  Env: {{Type: String}}\nResources:\n  Topic: {{Type: AWS::SNS::Topic}}\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: {yaml}\n"),
            "t.yaml",
        )
        .unwrap();
        let resources = template.resources().unwrap();
        let value = resources["Bucket"]
            .get("Properties")
            .and_then(|p| p.get("BucketName"))
            .unwrap();
        across_releases(value, resources)
    }

    #[test]
    fn what_the_stack_contributes_varies_and_nothing_else_does() {
        for varies in [
            "!Ref AWS::StackName",
            "!Sub '${AWS::StackName}-orders'",
            "!Sub 'orders-${Topic.TopicName}'",
            "!Sub ['${Prefix}-orders', {Prefix: !Ref AWS::StackId}]",
            "!Join ['-', [orders, !Ref AWS::StackName]]",
            "!GetAtt Topic.TopicName",
            "!Select [0, [!Ref Topic]]",
            "!If [C, !Ref AWS::StackName, !Ref AWS::NoValue]",
            "!Join ['-', [data, !Select [4, !Split ['-', !Select [2, !Split ['/', !Ref AWS::StackId]]]]]]",
            "!Select [1, !Split ['/', !GetAtt Topic.TopicArn]]",
            "!Base64 {Ref: AWS::StackName}",
        ] {
            assert_eq!(verdict(varies), Across::Varies, "{varies}");
        }
        for (fixed, what) in [
            ("orders", "the literal \"orders\""),
            ("!Ref Env", "parameter Env"),
            ("!Sub 'orders-${AWS::Region}'", "\"orders-${AWS::Region}\""),
            ("!Sub 'orders-${Env}'", "\"orders-${Env}\""),
            ("!Sub 'a-${!AWS::StackName}'", "\"a-${!AWS::StackName}\""),
            (
                "!Join ['-', [orders, !Ref AWS::Region]]",
                "a Fn::Join of the literal \"orders\" and AWS::Region",
            ),
            (
                "!If [C, !Ref AWS::StackName, orders]",
                "the literal \"orders\"",
            ),
            ("!ImportValue shared-name", "an imported value"),
            ("!Select [0, !Split ['-', !Ref AWS::Region]]", "AWS::Region"),
        ] {
            assert_eq!(verdict(fixed), Across::Fixed(what.into()), "{fixed}");
        }
        assert_eq!(verdict("!Ref AWS::NoValue"), Across::Absent);
    }
}
