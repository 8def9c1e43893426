//! CloudFormation's quotas and the shape every template must have, checked before any AWS call
//! so the user hears about them with the file name rather than as a `ValidationError`.

use super::error::TemplateError;
use super::Node;

/// Largest template body CloudFormation accepts (from S3).
pub const BODY_LIMIT: usize = 1_048_576;
/// Largest template body that can be passed inline (`TemplateBody`); larger ones go via S3.
pub const INLINE_BODY_LIMIT: usize = 51_200;
pub const RESOURCE_LIMIT: usize = 500;
pub const PARAMETER_LIMIT: usize = 200;
pub const OUTPUT_LIMIT: usize = 200;

pub fn check_body_size(body: &str, origin: &str) -> Result<(), TemplateError> {
    if body.len() > BODY_LIMIT {
        return Err(TemplateError::TooLarge {
            origin: origin.to_string(),
            size: body.len(),
            limit: BODY_LIMIT,
        });
    }
    Ok(())
}

/// The root is a map whose `Resources` is a non-empty map of typed resources, and the
/// section sizes are within CloudFormation's limits.
pub fn check_structure(root: &Node, origin: &str) -> Result<(), TemplateError> {
    let Some(root_map) = root.as_map() else {
        return Err(TemplateError::RootNotMap {
            origin: origin.to_string(),
            found: root.kind_name(),
        });
    };
    let Some(resources) = root_map.get("Resources") else {
        return Err(TemplateError::NotCloudFormation {
            origin: origin.to_string(),
            reason: "it has no `Resources` section".to_string(),
        });
    };
    let Some(resources) = resources.as_map() else {
        return Err(TemplateError::InvalidResources {
            origin: origin.to_string(),
            problem: format!("is a {}, not a map of resources", resources.kind_name()),
        });
    };
    if resources.is_empty() {
        return Err(TemplateError::InvalidResources {
            origin: origin.to_string(),
            problem: "is empty; CloudFormation needs at least one resource".to_string(),
        });
    }
    for (name, resource) in resources {
        // A loop of the AWS::LanguageExtensions transform (`Fn::ForEach::Name: [id, list, body]`)
        // expands into resources; CloudFormation checks what it expands to.
        if name.starts_with("Fn::ForEach::") && matches!(resource, Node::List(_)) {
            continue;
        }
        let invalid = |problem: String| TemplateError::InvalidResource {
            origin: origin.to_string(),
            name: name.clone(),
            problem,
        };
        let Some(resource) = resource.as_map() else {
            return Err(invalid(format!("is a {}, not a map", resource.kind_name())));
        };
        match resource.get("Type") {
            None => return Err(invalid("has no `Type`".to_string())),
            Some(Node::String(_)) => {}
            Some(other) => {
                return Err(invalid(format!(
                    "has a `Type` that is a {}, not a string",
                    other.kind_name()
                )))
            }
        }
    }
    check_count(root, "Resources", "resources", RESOURCE_LIMIT, origin)?;
    check_count(root, "Parameters", "parameters", PARAMETER_LIMIT, origin)?;
    check_count(root, "Outputs", "outputs", OUTPUT_LIMIT, origin)?;
    Ok(())
}

fn check_count(
    root: &Node,
    key: &str,
    section: &'static str,
    limit: usize,
    origin: &str,
) -> Result<(), TemplateError> {
    let count = root
        .get(key)
        .and_then(Node::as_map)
        .map_or(0, |map| map.len());
    if count > limit {
        return Err(TemplateError::TooMany {
            origin: origin.to_string(),
            section,
            count,
            limit,
        });
    }
    Ok(())
}
