//! Naming rules that AWS enforces (and moto does not), checked before any call.

/// CloudFormation's limit on stack names.
pub const MAX_STACK_NAME: usize = 128;

/// App names leave room for `-<release>` in the stack name.
pub const MAX_APP_NAME: usize = 100;

/// Checks a CloudFormation stack name: a letter first, then letters, digits and hyphens, at most
/// 128 characters. The error says what is wrong, for the caller to put in context.
pub fn validate_stack_name(name: &str) -> Result<(), String> {
    check_name(name, MAX_STACK_NAME)
}

/// Checks an app name: the stack name rules with at most 100 characters, so that
/// `<app>-<release>` can still be a stack name.
pub fn validate_app_name(name: &str) -> Result<(), String> {
    check_name(name, MAX_APP_NAME)
}

fn check_name(name: &str, max: usize) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("the name is empty".to_owned());
    };
    if !first.is_ascii_alphabetic() {
        return Err(format!("it starts with `{first}`, not a letter"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(format!(
            "`{bad}` is not allowed (only letters, digits and hyphens)"
        ));
    }
    let length = name.chars().count();
    if length > max {
        return Err(format!(
            "it is {length} characters long, more than the {max} allowed"
        ));
    }
    Ok(())
}

/// CloudFormation logical ids (parameter and output names): ASCII letters and digits, 1–255.
pub(crate) fn validate_logical_id(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".to_owned());
    }
    if let Some(bad) = name.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Err(format!(
            "`{bad}` is not allowed in a CloudFormation logical id (letters and digits only)"
        ));
    }
    if name.len() > 255 {
        return Err("it is longer than 255 characters".to_owned());
    }
    Ok(())
}

/// S3 bucket names: 3–63 characters, lowercase letters, digits, dots and hyphens, starting and
/// ending with a letter or digit.
pub(crate) fn validate_bucket_name(name: &str) -> Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err("a bucket name is 3 to 63 characters long".to_owned());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "`{bad}` is not allowed in a bucket name (lowercase letters, digits, dots, hyphens)"
        ));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return Err("a bucket name starts and ends with a letter or digit".to_owned());
    }
    Ok(())
}
