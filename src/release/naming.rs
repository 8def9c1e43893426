//! Release ids and stack names. A release is exactly one stack named `<app>-<release>`, so both
//! labels are checked here against CloudFormation's stack-name rule (a letter first, then letters,
//! digits and hyphens, at most 128 characters) before any AWS call is made.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use crate::error::{Diagnostic, Exit};

/// CloudFormation's limit on stack names.
pub const MAX_STACK_NAME_LEN: usize = 128;

/// A validated release label: letters, digits and hyphens, starting and ending with a letter or a
/// digit. Generated ids look like `r20261123-140501` (UTC), so they sort by time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamingError {
    #[error("invalid release id {label:?}: {rule}")]
    InvalidRelease { label: String, rule: &'static str },
    #[error("invalid app name {name:?}: {rule}")]
    InvalidApp { name: String, rule: String },
    #[error(
        "stack name {name:?} is {len} characters long; CloudFormation allows at most {MAX_STACK_NAME_LEN}"
    )]
    StackNameTooLong { name: String, len: usize },
    #[error("stack {stack:?} is not a release of app {app:?} (expected `{app}-<release>`)")]
    NotAReleaseStack { stack: String, app: String },
}

impl Diagnostic for NamingError {
    fn exit(&self) -> Exit {
        Exit::Error
    }

    fn hint(&self) -> Option<String> {
        match self {
            NamingError::InvalidRelease { .. } => Some(
                "use letters, digits and hyphens, e.g. `--release r42` or `--release 2026-11-23a`"
                    .into(),
            ),
            NamingError::InvalidApp { .. } => Some(
                "the app name is the spec file's stem (`stacks/<app>.toml`); rename the file"
                    .into(),
            ),
            NamingError::StackNameTooLong { .. } => Some("use a shorter release id".into()),
            NamingError::NotAReleaseStack { .. } => None,
        }
    }
}

const RELEASE_RULE: &str =
    "use only letters, digits and hyphens, starting and ending with a letter or a digit";

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

impl ReleaseId {
    /// Validates a user-given label.
    pub fn new(label: impl Into<String>) -> Result<ReleaseId, NamingError> {
        let label = label.into();
        let invalid = |rule| NamingError::InvalidRelease {
            label: label.clone(),
            rule,
        };
        if label.is_empty() {
            return Err(invalid("it is empty"));
        }
        // `rollback --to baseline` names the adopted baseline: a release may not be called so.
        if label == crate::router::BASELINE {
            return Err(invalid(
                "`baseline` names the app's adopted baseline (as in `rollback --to baseline`)",
            ));
        }
        if !label.chars().all(is_label_char) || label.starts_with('-') || label.ends_with('-') {
            return Err(invalid(RELEASE_RULE));
        }
        // Even with a one-letter app name the stack name must fit.
        if label.len() > MAX_STACK_NAME_LEN - 2 {
            return Err(invalid("it is longer than 126 characters"));
        }
        Ok(ReleaseId(label))
    }

    /// A release id from the time: `r` + UTC `YYYYMMDD-HHMMSS`.
    pub fn generate(now: SystemTime) -> ReleaseId {
        // "2026-11-23T14:05:01Z" → "20261123", "140501".
        let stamp = humantime::format_rfc3339_seconds(now).to_string();
        let (date, time) = stamp.split_once('T').unwrap_or((&stamp, ""));
        let date: String = date.chars().filter(char::is_ascii_digit).collect();
        let time: String = time.chars().filter(char::is_ascii_digit).collect();
        ReleaseId(format!("r{date}-{time}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReleaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ReleaseId {
    type Err = NamingError;

    fn from_str(label: &str) -> Result<ReleaseId, NamingError> {
        ReleaseId::new(label)
    }
}

impl AsRef<str> for ReleaseId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Checks that an app name can start a stack name (the spec loader's rule).
pub fn check_app_name(name: &str) -> Result<(), NamingError> {
    crate::spec::validate_app_name(name).map_err(|rule| NamingError::InvalidApp {
        name: name.to_string(),
        rule,
    })
}

/// The stack of one release: `<app>-<release>`, checked against CloudFormation's rules.
pub fn stack_name(app: &str, release: &ReleaseId) -> Result<String, NamingError> {
    check_app_name(app)?;
    let name = format!("{app}-{release}");
    if name.len() > MAX_STACK_NAME_LEN {
        return Err(NamingError::StackNameTooLong {
            len: name.len(),
            name,
        });
    }
    Ok(name)
}

/// Reads the release back from a stack name of `app`. The tags are the authority on which app a
/// stack belongs to (`web` and `web-api` share prefixes); this is for names users type.
pub fn parse_stack_name(app: &str, stack: &str) -> Result<ReleaseId, NamingError> {
    let not_ours = || NamingError::NotAReleaseStack {
        stack: stack.to_string(),
        app: app.to_string(),
    };
    let release = stack
        .strip_prefix(app)
        .and_then(|rest| rest.strip_prefix('-'))
        .ok_or_else(not_ours)?;
    ReleaseId::new(release).map_err(|_| not_ours())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn generated_ids_are_utc_stamps() {
        // 2026-11-23T14:05:01Z
        let now = UNIX_EPOCH + Duration::from_secs(1_795_442_701);
        let id = ReleaseId::generate(now);
        assert_eq!(id.as_str(), "r20261123-140501");
        assert!(ReleaseId::new(id.as_str()).is_ok());
    }

    #[test]
    fn generated_ids_sort_by_time() {
        let earlier = ReleaseId::generate(UNIX_EPOCH + Duration::from_secs(1_795_442_701));
        let later = ReleaseId::generate(UNIX_EPOCH + Duration::from_secs(1_795_442_702));
        assert!(earlier < later);
    }

    #[test]
    fn labels_follow_the_rule() {
        for good in ["r1", "2026-11-23a", "blue", "R-42-x", "7"] {
            assert!(ReleaseId::new(good).is_ok(), "{good} should be valid");
        }
        for bad in [
            "", "-r1", "r1-", "r_1", "r.1", "r 1", "rélease", "a/b", "baseline",
        ] {
            let error = ReleaseId::new(bad).unwrap_err();
            assert!(
                matches!(&error, NamingError::InvalidRelease { label, .. } if label == bad),
                "{bad}: {error}"
            );
        }
        let too_long = "a".repeat(127);
        assert!(ReleaseId::new(too_long).is_err());
    }

    #[test]
    fn the_message_names_the_label_and_the_rule() {
        let error = ReleaseId::new("r_1").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("\"r_1\""), "{text}");
        assert!(text.contains("letters, digits and hyphens"), "{text}");
        assert_eq!(error.exit(), Exit::Error);
        assert!(error.hint().is_some());
    }

    #[test]
    fn stack_names_join_app_and_release() {
        let release = ReleaseId::new("r7").unwrap();
        assert_eq!(stack_name("web", &release).unwrap(), "web-r7");
        assert!(matches!(
            stack_name("1web", &release),
            Err(NamingError::InvalidApp { .. })
        ));
        assert!(matches!(
            stack_name("web_api", &release),
            Err(NamingError::InvalidApp { .. })
        ));
    }

    #[test]
    fn stack_names_longer_than_128_are_refused() {
        let app = "a".repeat(100);
        let release = ReleaseId::new("b".repeat(28)).unwrap();
        let error = stack_name(&app, &release).unwrap_err();
        assert!(matches!(
            error,
            NamingError::StackNameTooLong { len: 129, .. }
        ));
        let fits = ReleaseId::new("b".repeat(27)).unwrap();
        assert_eq!(stack_name(&app, &fits).unwrap().len(), 128);
    }

    #[test]
    fn stack_names_parse_back() {
        assert_eq!(parse_stack_name("web", "web-r7").unwrap().as_str(), "r7");
        assert_eq!(
            parse_stack_name("web", "web-api-r7").unwrap().as_str(),
            "api-r7"
        );
        for other in ["api-r7", "web", "web-", "webr7", "web--r7"] {
            assert!(
                matches!(
                    parse_stack_name("web", other),
                    Err(NamingError::NotAReleaseStack { .. })
                ),
                "{other}"
            );
        }
    }
}
