//! The template's `Conditions`, evaluated as CloudFormation would for one release's parameter
//! values, where that can be known before the stack exists: so a release output the spec needs
//! but declares under a condition that is false is found before CreateStack, not after.
//!
//! Evaluated: `Fn::Equals` of scalars and `Ref`s, `Fn::Not`, `Fn::And`, `Fn::Or` and
//! `Condition` (the condition functions of the CloudFormation User Guide, "Condition
//! functions"). Anything else (`Fn::FindInMap`, `Fn::Select`, a pseudo parameter the caller does
//! not know) makes the answer unknown, never a guess.

use super::node::Node;
use super::Template;

/// Deeper `Condition` chains than this are taken as a cycle (CloudFormation refuses cycles).
const MAX_DEPTH: usize = 32;

/// What condition `name` evaluates to, with `value_of` giving the value of a `Ref`: a
/// parameter's (as given, or its `Default`) or a pseudo parameter's. `None` when the answer
/// cannot be known here (the condition is missing, or uses something unknown).
pub fn evaluate(
    template: &Template,
    name: &str,
    value_of: &dyn Fn(&str) -> Option<String>,
) -> Option<bool> {
    condition(template, name, value_of, 0)
}

fn condition(
    template: &Template,
    name: &str,
    value_of: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Option<bool> {
    if depth > MAX_DEPTH {
        return None;
    }
    let node = template.root.get("Conditions")?.get(name)?;
    truth(template, node, value_of, depth + 1)
}

fn truth(
    template: &Template,
    node: &Node,
    value_of: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Option<bool> {
    let map = node.as_map().filter(|map| map.len() == 1)?;
    let (function, argument) = map.iter().next()?;
    let arguments = || argument.as_list();
    match function.as_str() {
        "Fn::Equals" => match arguments()? {
            [left, right] => Some(text(left, value_of)? == text(right, value_of)?),
            _ => None,
        },
        "Fn::Not" => match arguments()? {
            [inner] => truth(template, inner, value_of, depth).map(|value| !value),
            _ => None,
        },
        // Every operand is evaluated: one that cannot be known makes the whole unknown, unless
        // another already decides it.
        "Fn::And" | "Fn::Or" => {
            let decisive = function == "Fn::Or";
            let mut unknown = false;
            for operand in arguments()? {
                match truth(template, operand, value_of, depth) {
                    Some(value) if value == decisive => return Some(decisive),
                    Some(_) => {}
                    None => unknown = true,
                }
            }
            (!unknown).then_some(!decisive)
        }
        "Condition" => condition(template, argument.as_str()?, value_of, depth),
        _ => None,
    }
}

/// The string a `Fn::Equals` operand stands for: a scalar, or a `Ref`.
fn text(node: &Node, value_of: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(text) = node.scalar_text() {
        return Some(text.into_owned());
    }
    let map = node.as_map().filter(|map| map.len() == 1)?;
    value_of(map.get("Ref")?.as_str()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Env: {Type: String, Default: staging}
  Size: {Type: Number}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  BigProd: !And [!Condition IsProd, !Equals [!Ref Size, 3]]
  ProdOrUs: !Or [!Condition IsProd, !Equals [!Ref "AWS::Region", us-east-1]]
  FromMap: !Equals [!FindInMap [M, a, b], x]
  Loop: !Condition Loop
Resources:
  Topic: {Type: AWS::SNS::Topic}
"#;

    fn values(env: &'static str) -> impl Fn(&str) -> Option<String> {
        move |name| match name {
            "Env" => Some(env.to_string()),
            "Size" => Some("3".to_string()),
            _ => None,
        }
    }

    #[test]
    fn condition_functions_evaluate_as_cloudformation_does() {
        let template = crate::template::parse(TEMPLATE, "t.yaml").unwrap();
        let staging = values("staging");
        let prod = values("prod");
        assert_eq!(evaluate(&template, "IsProd", &staging), Some(false));
        assert_eq!(evaluate(&template, "IsProd", &prod), Some(true));
        assert_eq!(evaluate(&template, "NotProd", &staging), Some(true));
        assert_eq!(evaluate(&template, "BigProd", &prod), Some(true));
        assert_eq!(evaluate(&template, "BigProd", &staging), Some(false));
        // The region is not known here: Or is decided only by a true operand.
        assert_eq!(evaluate(&template, "ProdOrUs", &prod), Some(true));
        assert_eq!(evaluate(&template, "ProdOrUs", &staging), None);
    }

    #[test]
    fn what_cannot_be_known_here_is_unknown_not_false() {
        let template = crate::template::parse(TEMPLATE, "t.yaml").unwrap();
        let staging = values("staging");
        assert_eq!(evaluate(&template, "FromMap", &staging), None);
        assert_eq!(evaluate(&template, "Loop", &staging), None);
        assert_eq!(evaluate(&template, "Missing", &staging), None);
    }
}
