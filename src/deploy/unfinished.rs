//! What a run that died left of a cutover, found from AWS and the marks, and finishing it: a
//! release with part of the traffic, one still being proven on its test route, one created and
//! never routed, or one at 100 % whose final bake never ended. Used by `resume`, `deploy` (which
//! finishes it before its own release) and `rotate`.

use super::handover::{
    after_cutover, app_groups, cut_over, test_traffic, CutoverOptions, HandoverError,
};
use crate::aws::elbv2::Elbv2;
use crate::aws::ssm::Ssm;
use crate::aws::AwsContext;
use crate::cutover::CutoverOutcome;
use crate::deploy::test_route;
use crate::notify::Announcer;
use crate::output::OutputSettings;
use crate::release::live::AppReleases;
use crate::release::lock::LockOwnership;
use crate::release::marks;
use crate::release::Role;
use crate::route::hold;
use crate::spec::AppSpec;

/// The release a cutover was moving traffic to: it has traffic but is not the live release.
/// The newest such release wins (a manual change may have left older ones weighted).
pub fn unfinished_candidate(app: &AppReleases) -> Option<String> {
    let live = app.live_name()?.to_string();
    app.releases
        .iter()
        .rev()
        .find(|release| release.name() != live && release.weight.unwrap_or(0) > 0)
        .map(|release| release.name().to_string())
}

/// The release a run was proving through its test route when it stopped, before any production
/// traffic: the app has a test rule for it (by the rule's tag, or its target group), and the
/// release still exists. `None` without `[router.test_traffic]`.
pub async fn test_route_candidate(
    ctx: &AwsContext,
    spec: &AppSpec,
    app: &AppReleases,
) -> Result<Option<String>, HandoverError> {
    let Some(router) = &app.router else {
        return Ok(None);
    };
    let Some((test_traffic, alb)) = test_traffic(spec, router) else {
        return Ok(None);
    };
    let rules = test_route::list(
        &Elbv2::new(ctx),
        test_traffic,
        alb.route(),
        &app_groups(spec, alb),
    )
    .await
    .map_err(|source| HandoverError::TestRoute {
        candidate: spec.name.clone(),
        source,
    })?;
    for release in app.releases.iter().rev() {
        let group = alb.target_group(release.name());
        let has_rule = rules.iter().any(|(rule, stack)| match stack {
            Some(stack) => stack == release.name(),
            None => group.is_some_and(|group| rule.target_groups == [group]),
        });
        if has_rule && release.is_healthy() {
            return Ok(Some(release.name().to_string()));
        }
    }
    Ok(None)
}

/// The test route of `candidate`, if it is up.
pub async fn held_test_route(
    ctx: &AwsContext,
    spec: &AppSpec,
    app: &AppReleases,
    candidate: &str,
) -> Result<Option<test_route::OpenTestRoute>, HandoverError> {
    let Some(router) = &app.router else {
        return Ok(None);
    };
    let Some((test_traffic, alb)) = test_traffic(spec, router) else {
        return Ok(None);
    };
    let Some(group) = alb.target_group(candidate) else {
        return Ok(None);
    };
    test_route::find(
        &Elbv2::new(ctx),
        test_traffic,
        alb.route(),
        &app_groups(spec, alb),
        candidate,
        group,
    )
    .await
    .map_err(|source| HandoverError::TestRoute {
        candidate: candidate.to_string(),
        source,
    })
}

/// The cutover a run left half way: a release with some traffic that is not the live one;
/// (with a test route) a release still being proven on its test route that no hold keeps; or a
/// healthy release newer than the live one that never took traffic and was never marked (the run
/// died between CreateStack and the first step: it is finished like any other).
pub async fn unfinished(
    ctx: &AwsContext,
    spec: &AppSpec,
    app: &AppReleases,
) -> Result<Option<String>, HandoverError> {
    if let Some(candidate) = unfinished_candidate(app) {
        return Ok(Some(candidate));
    }
    let held = hold::read(&Ssm::new(ctx), &spec.name).await?;
    if held.is_some() {
        return Ok(None);
    }
    if let Some(candidate) = test_route_candidate(ctx, spec, app).await? {
        return Ok(Some(candidate));
    }
    Ok(never_started_candidate(app))
}

/// A cutover that reached 100 % and died before its final bake ended. A completed cutover
/// records that the candidate took the traffic and that the previous release lost it (marks);
/// here the live release has no `took_traffic_at`, and the newest older release that is not
/// failed still has a `took_traffic_at` with no `lost_traffic_at`: it served, and no cutover
/// completed away from it. Returns the live release and that one, to turn back to. Releases from
/// before these marks existed are never taken for one.
pub async fn unbaked(
    ctx: &AwsContext,
    spec: &AppSpec,
    app: &AppReleases,
) -> Option<(String, String)> {
    let live = app.live()?;
    let marks = marks::read_all(&Ssm::new(ctx), &spec.name).await.ok()?;
    if marks
        .get(live.name())
        .is_some_and(|mark| mark.took_traffic_at.is_some())
    {
        return None;
    }
    let previous = app
        .releases
        .iter()
        .rev()
        .filter(|release| release.tags.created < live.tags.created)
        .find(|release| release.role == Role::Retained && release.is_healthy())?;
    let served = marks.get(previous.name())?;
    (served.took_traffic_at.is_some() && served.lost_traffic_at.is_none())
        .then(|| (live.name().to_string(), previous.name().to_string()))
}

/// The newest healthy release created after the live one, with no traffic and no mark (not
/// failed, shifted back, aborted): a cutover that never took its first step.
pub fn never_started_candidate(app: &AppReleases) -> Option<String> {
    let live = app.live()?;
    let newest = app.releases.last()?;
    (newest.name() != live.name()
        && newest.tags.created > live.tags.created
        && newest.weight == Some(0)
        && newest.role == Role::Candidate
        && newest.tags.rolling_back_to.is_none()
        && newest.is_healthy())
    .then(|| newest.name().to_string())
}

/// Finishes or turns back a cutover that a run left half way, if `app` (observed under the app
/// lock, which the caller holds: `lock`, checked before every traffic move) shows one. Returns the candidate and how its cutover ended.
pub async fn resume_unfinished(
    ctx: &AwsContext,
    spec: &AppSpec,
    app: &mut AppReleases,
    lock: &LockOwnership,
    announcer: &Announcer,
    settings: &OutputSettings,
) -> Result<Option<(String, CutoverOutcome)>, HandoverError> {
    let checked = CutoverOptions {
        lock: Some(lock.clone()),
        ..CutoverOptions::default()
    };
    let (candidate, options) = match unfinished(ctx, spec, app).await? {
        Some(candidate) => (candidate, checked),
        None => match unbaked(ctx, spec, app).await {
            Some((candidate, previous)) => {
                if settings.verbosity >= 0 {
                    settings.progress(&format!(
                        "{candidate} has all the traffic of app {} but its final bake never ended: baking it again, {previous} to turn back to",
                        spec.name
                    ));
                }
                let options = CutoverOptions {
                    previous: Some(previous),
                    ..checked
                };
                (candidate, options)
            }
            None => return Ok(None),
        },
    };
    if settings.verbosity >= 0 {
        settings.progress(&format!(
            "resuming the unfinished cutover of app {} to {candidate}",
            spec.name
        ));
    }
    let outcome = cut_over(ctx, spec, &candidate, app, options, announcer, settings).await?;
    after_cutover(ctx, spec, &candidate, &outcome, app, announcer, settings).await;
    Ok(Some((candidate, outcome)))
}
