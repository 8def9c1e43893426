//! An app's release stacks, found by their `cutover:app` tag (not by name: `web` and `web-api`
//! share a prefix). Which one is live is the router's call, not the tags'.

use std::time::SystemTime;

use crate::aws::cloudformation::{StackApi, StackFacts};
use crate::aws::AwsError;
use crate::error::{Diagnostic, Exit};

use super::tags::{ReleaseTags, APP};

/// One release stack with cutover's tags read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseStack {
    pub stack: StackFacts,
    pub tags: ReleaseTags,
}

impl ReleaseStack {
    pub fn created(&self) -> SystemTime {
        self.tags.created
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("could not list the release stacks of app {app}")]
    List {
        app: String,
        #[source]
        source: AwsError,
    },
}

impl Diagnostic for DiscoveryError {
    fn exit(&self) -> Exit {
        Exit::Error
    }

    fn hint(&self) -> Option<String> {
        match self {
            DiscoveryError::List { source, .. } => source.hint(),
        }
    }
}

/// One app's release stacks and, from the same listing, every other app's in the account and
/// region (what tells whose release a route carries).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountReleases {
    /// The app's own, oldest first.
    pub app: Vec<ReleaseStack>,
    /// Every other app's, in no particular order.
    pub other_apps: Vec<ReleaseStack>,
}

/// The app's release stacks that still exist, oldest first. Stacks whose cutover tags cannot be
/// read are left out with a warning: they were not made by cutover, or were edited by hand.
pub async fn app_releases(
    api: &impl StackApi,
    app: &str,
) -> Result<Vec<ReleaseStack>, DiscoveryError> {
    Ok(account_releases(api, app).await?.app)
}

/// The app's release stacks (as [`app_releases`]) and every other app's, in one listing.
pub async fn account_releases(
    api: &impl StackApi,
    app: &str,
) -> Result<AccountReleases, DiscoveryError> {
    let stacks = api
        .list_stacks_tagged(APP)
        .await
        .map_err(|source| DiscoveryError::List {
            app: app.to_string(),
            source,
        })?;
    let (mine, others): (Vec<StackFacts>, Vec<StackFacts>) = stacks
        .into_iter()
        .partition(|stack| stack.tag(APP) == Some(app));
    Ok(AccountReleases {
        app: releases_of(app, mine),
        other_apps: others.into_iter().filter_map(read_release).collect(),
    })
}

fn read_release(stack: StackFacts) -> Option<ReleaseStack> {
    let pairs = stack
        .tags
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()));
    match ReleaseTags::from_stack_tags(pairs) {
        Ok(Some(tags)) => Some(ReleaseStack { stack, tags }),
        _ => None,
    }
}

/// The pure part of [`app_releases`]: read the tags, keep the app's, sort by creation.
pub fn releases_of(app: &str, stacks: Vec<StackFacts>) -> Vec<ReleaseStack> {
    let mut releases: Vec<ReleaseStack> = stacks
        .into_iter()
        .filter_map(|stack| {
            let pairs = stack
                .tags
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str()));
            match ReleaseTags::from_stack_tags(pairs) {
                Ok(Some(tags)) if tags.app == app => Some(ReleaseStack { stack, tags }),
                Ok(_) => None,
                Err(error) => {
                    tracing::warn!(stack = %stack.name, "ignoring stack tagged as app {app}: {error}");
                    None
                }
            }
        })
        .collect();
    // The creation tag is ours and second-precise; the stack's own creation time breaks ties.
    releases.sort_by(|a, b| {
        (a.tags.created, a.stack.created, &a.stack.name).cmp(&(
            b.tags.created,
            b.stack.created,
            &b.stack.name,
        ))
    });
    releases
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn stack(name: &str, tags: &[(&str, &str)], created_secs: u64) -> StackFacts {
        StackFacts {
            name: name.into(),
            id: format!("id/{name}"),
            status: "CREATE_COMPLETE".into(),
            status_reason: None,
            created: Some(UNIX_EPOCH + Duration::from_secs(created_secs)),
            tags: tags
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            parameters: Vec::new(),
            outputs: Vec::new(),
            termination_protection: false,
            exports: Vec::new(),
        }
    }

    fn release_tags<'a>(
        app: &'a str,
        release: &'a str,
        created: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        vec![
            ("cutover:app", app),
            ("cutover:release", release),
            ("cutover:created", created),
            ("cutover:template-sha256", "abc"),
            ("team", "storefront"),
        ]
    }

    #[test]
    fn sorted_by_creation_tag_and_other_apps_and_broken_tags_left_out() {
        let stacks = vec![
            stack(
                "web-r3",
                &release_tags("web", "r3", "2026-11-23T14:00:00Z"),
                30,
            ),
            stack(
                "web-r1",
                &release_tags("web", "r1", "2026-11-21T09:00:00Z"),
                10,
            ),
            stack(
                "web-api-r1",
                &release_tags("web-api", "r1", "2026-11-20T09:00:00Z"),
                5,
            ),
            stack(
                "web-r2",
                &release_tags("web", "r2", "2026-11-22T09:00:00Z"),
                20,
            ),
            stack(
                "web-odd",
                &[("cutover:app", "web"), ("cutover:release", "odd")],
                25,
            ),
        ];
        let releases = releases_of("web", stacks);
        let names: Vec<&str> = releases.iter().map(|r| r.stack.name.as_str()).collect();
        assert_eq!(names, ["web-r1", "web-r2", "web-r3"]);
        assert_eq!(releases[2].tags.release.as_str(), "r3");
    }

    #[test]
    fn same_second_falls_back_to_the_stack_creation_time() {
        let at = "2026-11-23T14:00:00Z";
        let stacks = vec![
            stack("web-b", &release_tags("web", "b", at), 20),
            stack("web-a", &release_tags("web", "a", at), 10),
        ];
        let names: Vec<String> = releases_of("web", stacks)
            .into_iter()
            .map(|r| r.stack.name)
            .collect();
        assert_eq!(names, ["web-a", "web-b"]);
    }
}
