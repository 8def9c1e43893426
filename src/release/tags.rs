//! cutover's own stack tags: the state of an app lives in AWS as these tags, not in a local file.
//! Building the full tag list for a new release, and reading a release's facts back from a stack.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use indexmap::IndexMap;

use super::naming::{NamingError, ReleaseId};
use crate::error::{Diagnostic, Exit};

/// Tags under this prefix belong to cutover; specs may not set them.
pub const PREFIX: &str = "cutover:";
pub const APP: &str = "cutover:app";
pub const RELEASE: &str = "cutover:release";
/// When the release was created, RFC 3339 UTC.
pub const CREATED: &str = "cutover:created";
/// SHA-256 (hex) of the rendered template the stack was created from.
pub const TEMPLATE_SHA256: &str = "cutover:template-sha256";
/// What the release was last known as: see [`Role`]. The router is the authority on what is live.
pub const ROLE: &str = "cutover:role";
pub const TOOL_VERSION: &str = "cutover:tool-version";
/// Why the release failed (its root cause), when it did.
pub const FAILED_REASON: &str = "cutover:failed-reason";
/// Set when an operator must look at the stack (e.g. DELETE_FAILED), with the reason.
pub const ATTENTION: &str = "cutover:attention";
/// Who created the release stack: the caller identity (ARN) at deploy time. Written when the
/// stack is created, never updated.
pub const DEPLOYED_BY: &str = "cutover:deployed-by";

/// CloudFormation's limits on stack tags.
pub const MAX_TAGS: usize = 50;
pub const MAX_KEY_LEN: usize = 128;
pub const MAX_VALUE_LEN: usize = 256;

/// One stack tag, SDK-free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// What a release was last known as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Being deployed; not yet holding all the traffic.
    Candidate,
    /// Serving traffic.
    Live,
    /// A previous release kept for rollback.
    Retained,
    /// Failed to create or failed its gates.
    Failed,
    /// Being taken out of the router and deleted.
    Retiring,
    /// Not a release: the traffic an app's first deploy adopted (`--adopt`), a shift-back and
    /// rollback target until retention lets it go. Never a stack tag.
    Baseline,
}

impl Role {
    /// The roles a release stack's `cutover:role` tag may hold.
    pub const ALL: [Role; 5] = [
        Role::Candidate,
        Role::Live,
        Role::Retained,
        Role::Failed,
        Role::Retiring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Candidate => "candidate",
            Role::Live => "live",
            Role::Retained => "retained",
            Role::Failed => "failed",
            Role::Retiring => "retiring",
            Role::Baseline => "baseline",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = TagError;

    fn from_str(text: &str) -> Result<Role, TagError> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| TagError::Malformed {
                key: ROLE,
                value: text.to_string(),
                reason: "expected candidate, live, retained, failed or retiring".into(),
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("tag {key:?} uses the prefix `cutover:`, which is reserved for cutover's own tags")]
    ReservedPrefix { key: String },
    #[error("tag {key:?} uses the prefix `aws:`, which is reserved by AWS")]
    AwsPrefix { key: String },
    #[error("tag key {key:?} must be 1 to {MAX_KEY_LEN} characters long")]
    KeyLength { key: String },
    #[error("the value of tag {key:?} is longer than {MAX_VALUE_LEN} characters")]
    ValueTooLong { key: String },
    #[error(
        "{count} tags in all (the spec's and cutover's); CloudFormation allows at most {MAX_TAGS}"
    )]
    TooMany { count: usize },
    #[error("stack tag {key} is missing")]
    Missing { key: &'static str },
    #[error("stack tag {key} has the unreadable value {value:?}: {reason}")]
    Malformed {
        key: &'static str,
        value: String,
        reason: String,
    },
}

impl Diagnostic for TagError {
    fn exit(&self) -> Exit {
        Exit::Error
    }

    fn hint(&self) -> Option<String> {
        match self {
            TagError::ReservedPrefix { .. } => Some(
                "rename the tag in the spec's [tags]; cutover sets cutover:app, cutover:release, … itself"
                    .into(),
            ),
            TagError::TooMany { .. } => Some("remove some tags from the spec's [tags]".into()),
            _ => None,
        }
    }
}

/// The facts cutover records on every release stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseTags {
    pub app: String,
    pub release: ReleaseId,
    pub created: SystemTime,
    pub template_sha256: String,
    /// `None` on stacks whose role tag is absent (made by hand or by an older tool).
    pub role: Option<Role>,
    pub tool_version: Option<String>,
    pub failed_reason: Option<String>,
    pub attention: Option<String>,
    /// When it was marked failed (a mark, or the `cutover:failed-at` tag older versions wrote).
    pub failed_at: Option<SystemTime>,
    /// The target of a rollback that started moving traffic away from it (a mark).
    pub rolling_back_to: Option<String>,
    /// A cutover or rollback once gave it all the traffic (a mark's `took_traffic_at`): a
    /// release without traffic now that served before was superseded or skipped over by a
    /// rollback, not a candidate that never took over.
    pub served: bool,
    /// When a later cutover or rollback took all the traffic from it (a mark's
    /// `lost_traffic_at`): the release that lost it last is what "undo the last deploy" means.
    pub lost_traffic_at: Option<SystemTime>,
}

impl ReleaseTags {
    /// The tags of a brand-new release, stamped with this tool's version.
    pub fn new_candidate(
        app: impl Into<String>,
        release: ReleaseId,
        created: SystemTime,
        template_sha256: impl Into<String>,
    ) -> ReleaseTags {
        ReleaseTags {
            app: app.into(),
            release,
            created,
            template_sha256: template_sha256.into(),
            role: Some(Role::Candidate),
            tool_version: Some(env!("CARGO_PKG_VERSION").to_string()),
            failed_reason: None,
            attention: None,
            failed_at: None,
            rolling_back_to: None,
            served: false,
            lost_traffic_at: None,
        }
    }

    /// What the release's mark says, over what its stack's tags said: marks are newer (the tags
    /// were written when the stack was created, or by older versions that updated them).
    pub fn apply_mark(&mut self, mark: &super::marks::Mark) {
        if let Some(role) = mark.role {
            self.role = Some(role.role());
        }
        if mark.failed_reason.is_some() {
            self.failed_reason = mark.failed_reason.clone();
        }
        if mark.attention.is_some() {
            self.attention = mark.attention.clone();
        }
        if let Some(target) = &mark.rolling_back_to {
            self.rolling_back_to = Some(target.clone());
            if self.failed_reason.is_none() {
                self.failed_reason = Some(format!(
                    "a rollback to {target} moved the traffic away from it"
                ));
            }
        }
        if mark.took_traffic_at.is_some() {
            self.served = true;
        }
        if let Some(at) = mark
            .lost_traffic_at
            .as_deref()
            .and_then(|text| humantime::parse_rfc3339(text).ok())
        {
            self.lost_traffic_at = Some(at);
        }
        if let Some(at) = mark
            .failed_at
            .as_deref()
            .and_then(|text| humantime::parse_rfc3339(text).ok())
        {
            self.failed_at = Some(at);
        }
    }

    /// cutover's own tags only, values cut to CloudFormation's limit.
    pub fn to_tags(&self) -> Vec<Tag> {
        let mut tags = vec![
            Tag::new(APP, &self.app),
            Tag::new(RELEASE, self.release.as_str()),
            Tag::new(
                CREATED,
                humantime::format_rfc3339_seconds(self.created).to_string(),
            ),
            Tag::new(TEMPLATE_SHA256, &self.template_sha256),
        ];
        if let Some(role) = self.role {
            tags.push(Tag::new(ROLE, role.as_str()));
        }
        let optional = [
            (TOOL_VERSION, &self.tool_version),
            (FAILED_REASON, &self.failed_reason),
            (ATTENTION, &self.attention),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                tags.push(Tag::new(key, truncate_value(value)));
            }
        }
        tags
    }

    /// Reads a stack's tags. `Ok(None)`: not a cutover release (no `cutover:app` tag).
    /// An error: it claims to be one, but a required tag is missing or unreadable.
    pub fn from_stack_tags<'a>(
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Option<ReleaseTags>, TagError> {
        let tags: IndexMap<&str, &str> = tags.into_iter().collect();
        let Some(app) = tags.get(APP) else {
            return Ok(None);
        };
        let required = |key: &'static str| tags.get(key).copied().ok_or(TagError::Missing { key });
        let release_text = required(RELEASE)?;
        let release =
            ReleaseId::new(release_text).map_err(|error: NamingError| TagError::Malformed {
                key: RELEASE,
                value: release_text.to_string(),
                reason: error.to_string(),
            })?;
        let created_text = required(CREATED)?;
        let created =
            humantime::parse_rfc3339(created_text).map_err(|error| TagError::Malformed {
                key: CREATED,
                value: created_text.to_string(),
                reason: error.to_string(),
            })?;
        let role = tags.get(ROLE).map(|text| text.parse()).transpose()?;
        let optional = |key: &str| tags.get(key).map(|value| value.to_string());
        Ok(Some(ReleaseTags {
            app: app.to_string(),
            release,
            created,
            template_sha256: required(TEMPLATE_SHA256)?.to_string(),
            role,
            tool_version: optional(TOOL_VERSION),
            failed_reason: optional(FAILED_REASON),
            attention: optional(ATTENTION),
            failed_at: tags
                .get(super::live::FAILED_AT)
                .and_then(|text| humantime::parse_rfc3339(text).ok()),
            rolling_back_to: None,
            served: false,
            lost_traffic_at: None,
        }))
    }
}

/// Checks the user's tags from the spec: no reserved prefixes, within CloudFormation's limits.
pub fn check_user_tags(spec_tags: &IndexMap<String, String>) -> Result<(), TagError> {
    for (key, value) in spec_tags {
        if key.starts_with(PREFIX) {
            return Err(TagError::ReservedPrefix { key: key.clone() });
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(TagError::AwsPrefix { key: key.clone() });
        }
        if key.is_empty() || key.chars().count() > MAX_KEY_LEN {
            return Err(TagError::KeyLength { key: key.clone() });
        }
        if value.chars().count() > MAX_VALUE_LEN {
            return Err(TagError::ValueTooLong { key: key.clone() });
        }
    }
    Ok(())
}

/// The full tag list of a release stack: the spec's tags, then cutover's own.
pub fn release_tags(
    spec_tags: &IndexMap<String, String>,
    release: &ReleaseTags,
) -> Result<Vec<Tag>, TagError> {
    check_user_tags(spec_tags)?;
    let mut tags: Vec<Tag> = spec_tags
        .iter()
        .map(|(key, value)| Tag::new(key, value))
        .collect();
    tags.extend(release.to_tags());
    if tags.len() > MAX_TAGS {
        return Err(TagError::TooMany { count: tags.len() });
    }
    Ok(tags)
}

/// Root causes can be long; a tag value holds at most 256 characters.
fn truncate_value(value: &str) -> String {
    if value.chars().count() <= MAX_VALUE_LEN {
        return value.to_string();
    }
    let mut cut: String = value.chars().take(MAX_VALUE_LEN - 1).collect();
    cut.push('…');
    cut
}

/// A value cut to CloudFormation's tag value limit ([`MAX_VALUE_LEN`] characters), marked `…`.
pub fn cut_to_tag_limit(value: &str) -> String {
    if value.chars().count() <= MAX_VALUE_LEN {
        return value.to_string();
    }
    let mut cut: String = value.chars().take(MAX_VALUE_LEN - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn facts() -> ReleaseTags {
        ReleaseTags::new_candidate(
            "web",
            ReleaseId::new("r7").unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_795_442_701),
            "ab".repeat(32),
        )
    }

    fn spec_tags(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn full_list_has_the_spec_tags_then_cutovers() {
        let tags = release_tags(&spec_tags(&[("team", "storefront")]), &facts()).unwrap();
        let pairs: Vec<(&str, &str)> = tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        assert_eq!(pairs[0], ("team", "storefront"));
        assert!(pairs.contains(&(APP, "web")));
        assert!(pairs.contains(&(RELEASE, "r7")));
        assert!(pairs.contains(&(CREATED, "2026-11-23T14:05:01Z")));
        assert!(pairs.contains(&(ROLE, "candidate")));
        assert!(pairs.contains(&(TOOL_VERSION, env!("CARGO_PKG_VERSION"))));
        assert!(!pairs.iter().any(|(k, _)| *k == FAILED_REASON));
    }

    #[test]
    fn spec_tags_may_not_use_reserved_prefixes() {
        let error = release_tags(&spec_tags(&[("cutover:role", "live")]), &facts()).unwrap_err();
        assert_eq!(
            error,
            TagError::ReservedPrefix {
                key: "cutover:role".into()
            }
        );
        assert!(error.to_string().contains("cutover:role"));
        assert!(matches!(
            check_user_tags(&spec_tags(&[("aws:cloudformation:x", "1")])),
            Err(TagError::AwsPrefix { .. })
        ));
        assert!(matches!(
            check_user_tags(&spec_tags(&[("k", &"v".repeat(257))])),
            Err(TagError::ValueTooLong { .. })
        ));
    }

    #[test]
    fn too_many_tags_are_refused() {
        let many: IndexMap<String, String> =
            (0..46).map(|i| (format!("t{i}"), "x".into())).collect();
        assert!(matches!(
            release_tags(&many, &facts()),
            Err(TagError::TooMany { count: 52 })
        ));
    }

    #[test]
    fn tags_round_trip() {
        let mut original = facts();
        original.role = Some(Role::Failed);
        original.failed_reason = Some("Instance i-1: capacity".into());
        let tags = original.to_tags();
        let parsed =
            ReleaseTags::from_stack_tags(tags.iter().map(|t| (t.key.as_str(), t.value.as_str())))
                .unwrap()
                .unwrap();
        assert_eq!(parsed, original);
    }

    #[test]
    fn stacks_without_the_app_tag_are_not_releases() {
        let parsed = ReleaseTags::from_stack_tags([("team", "x")]).unwrap();
        assert!(parsed.is_none());
    }

    #[test]
    fn broken_release_tags_are_reported() {
        let missing = ReleaseTags::from_stack_tags([(APP, "web"), (RELEASE, "r1")]).unwrap_err();
        assert_eq!(missing, TagError::Missing { key: CREATED });
        let bad_role = ReleaseTags::from_stack_tags([
            (APP, "web"),
            (RELEASE, "r1"),
            (CREATED, "2026-11-23T14:05:01Z"),
            (TEMPLATE_SHA256, "00"),
            (ROLE, "boss"),
        ])
        .unwrap_err();
        assert!(matches!(bad_role, TagError::Malformed { key: ROLE, .. }));
        let bad_time = ReleaseTags::from_stack_tags([
            (APP, "web"),
            (RELEASE, "r1"),
            (CREATED, "yesterday"),
            (TEMPLATE_SHA256, "00"),
        ])
        .unwrap_err();
        assert!(matches!(bad_time, TagError::Malformed { key: CREATED, .. }));
    }

    #[test]
    fn long_reasons_are_cut_to_the_tag_limit() {
        let mut release = facts();
        release.failed_reason = Some("x".repeat(1000));
        let reason = release
            .to_tags()
            .into_iter()
            .find(|t| t.key == FAILED_REASON)
            .unwrap();
        assert_eq!(reason.value.chars().count(), MAX_VALUE_LEN);
    }
}
