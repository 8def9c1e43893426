//! Retiring the releases retention no longer keeps: out of the router first, then termination
//! protection lifted, the stack deleted and its DELETE_COMPLETE confirmed. A deletion that fails
//! is explained (the resources that failed and why) and the stack is tagged for attention, so it
//! is not forgotten. Used by `cutover retire` and at the end of every deploy.
//!
//! Safety rails on top of the retention plan's own: only stacks tagged as this app's releases
//! are ever candidates; a stack with traffic, the live release and the rollback target are never
//! touched; nothing is retired when the router cannot be read, or when the route holds another
//! app's release; a release that a listener rule other than the app's own route still forwards
//! to is kept, and the rule named (CloudFormation could not delete its target group anyway).
//!
//! The baseline is let go, never deleted: it is taken out of the route and recorded as released
//! (it is not cutover's).

use std::future::Future;
use std::time::{Duration, SystemTime};

use super::live::{observe_app, AppReleases, LiveError};
use super::marks::{self, MarkError, MarkStore};
use super::retention::{plan_retirement, KeepReason, Kept, RetentionPolicy};
pub use super::retire_report::{RetireOutcome, RetirementReport};
use super::Role;
use crate::aws::cloudformation::{CloudFormation, StackApi, StackEvent, StackFacts};
use crate::aws::elbv2::{AlbRoute, Elbv2, LoadBalancerApi};
use crate::aws::ssm::Ssm;
use crate::aws::{AwsContext, AwsError};
use crate::deploy::wait::{Operation, Outcome, StackWatch, WaitDisplay, WaitError};
use crate::error::{Diagnostic, Exit};
use crate::route::{self, Baseline, BaselineStore, Owner, RouteError};
use crate::router::{AnyRouter, RouterError, TrafficRouter, Weights, BASELINE};
use crate::spec::{AppSpec, RouterSpec};

/// How long one deletion may take when the spec sets no `stack.timeout`.
const DEFAULT_DELETE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Default)]
pub struct RetireOptions {
    /// Plan only.
    pub dry_run: bool,
    /// Kept whatever retention says (a rollback's target). Default: the release `cutover
    /// rollback` would go back to, when the spec keeps any previous release.
    pub rollback_target: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RetireError {
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("not retiring any release of app {app}: its router could not be read, so which releases carry traffic is unknown")]
    RouterUnreadable {
        app: String,
        #[source]
        source: Option<RouterError>,
    },
    #[error("not retiring any release of app {app}: the route sends {weight}% of the traffic to {target}, which is no release of the app, so which releases carry traffic is unknown")]
    UnknownTraffic {
        app: String,
        target: String,
        weight: u8,
    },
    #[error("could not read the hold of app {app}")]
    Hold {
        app: String,
        #[source]
        source: route::hold::HoldError,
    },
}

impl Diagnostic for RetireError {
    fn exit(&self) -> Exit {
        match self {
            RetireError::Live(error) => error.exit(),
            RetireError::Route(error) => error.exit(),
            RetireError::RouterUnreadable { .. } | RetireError::UnknownTraffic { .. } => {
                Exit::Error
            }
            RetireError::Hold { source, .. } => source.exit(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            RetireError::Live(error) => error.hint(),
            RetireError::Route(error) => error.hint(),
            RetireError::RouterUnreadable { source, .. } => {
                source.as_ref().and_then(|source| source.hint())
            }
            RetireError::UnknownTraffic { .. } => Some(
                "check the router's *_output keys in the spec: each release stack's output must name what the route holds".into(),
            ),
            RetireError::Hold { source, .. } => source.hint(),
        }
    }
}

/// Plans retention for the app as AWS shows it now and, unless `dry_run`, retires what the plan
/// lets go. The caller holds the app lock. Failures to retire one release are in the report
/// (exit 1), not an error: the others are still retired.
pub async fn apply_retention(
    ctx: &AwsContext,
    spec: &AppSpec,
    options: &RetireOptions,
    display: &mut dyn WaitDisplay,
) -> Result<RetirementReport, RetireError> {
    let app = observe_app(ctx, spec).await?;
    apply_retention_to(ctx, spec, app, options, display).await
}

/// [`apply_retention`] on the app as the caller has just seen it (a deploy after its cutover).
/// The router is still read again before anything is taken out of it.
pub async fn apply_retention_to(
    ctx: &AwsContext,
    spec: &AppSpec,
    app: AppReleases,
    options: &RetireOptions,
    display: &mut dyn WaitDisplay,
) -> Result<RetirementReport, RetireError> {
    let (Some(mut facts), Some(router)) = (app.retention_facts(), app.router.as_ref()) else {
        return Err(RetireError::RouterUnreadable {
            app: app.app.clone(),
            source: app.router_error,
        });
    };
    app.check_own_route()?;
    // Traffic to something that is no release (a misspelt `target_group_output`, say): the live
    // release is not known, so nothing is safe to retire.
    if let Some(entry) = app
        .route_entries()
        .into_iter()
        .find(|entry| entry.owner == Owner::Nobody && entry.weight > 0)
    {
        return Err(RetireError::UnknownTraffic {
            app: app.app.clone(),
            target: entry.key,
            weight: entry.weight,
        });
    }
    // A held release is neither a candidate retention may take nor a rollback place: it waits
    // for `promote` or `abort`.
    let held = route::hold::read(&Ssm::new(ctx), &spec.name)
        .await
        .map_err(|source| RetireError::Hold {
            app: spec.name.clone(),
            source,
        })?
        .map(|held| held.candidate)
        .filter(|held| facts.iter().any(|fact| fact.stack_name == *held));
    if let Some(held) = &held {
        facts.retain(|fact| fact.stack_name != *held);
    }
    let policy = RetentionPolicy::new(spec.retention.keep, spec.retention.retire_after);
    let now = SystemTime::now();
    let mut rollback_target = options.rollback_target.clone();
    let mut plan = plan_retirement(&facts, &policy, now, rollback_target.as_deref());
    // While the spec keeps any previous release, the one a rollback would go to stays even when
    // `retire_after` says it is too old. Only then is it named as the rollback target: named
    // up front, it would not hold one of the `keep` places and an older release would take it.
    if rollback_target.is_none() && spec.retention.keep > 0 {
        if let Some(previous) = app.default_rollback_target() {
            if plan
                .retire
                .iter()
                .any(|retired| retired.stack_name == previous)
            {
                rollback_target = Some(previous.to_string());
                plan = plan_retirement(&facts, &policy, now, rollback_target.as_deref());
            }
        }
    }
    if let Some(held) = held {
        plan.keep.insert(
            0,
            Kept {
                stack_name: held,
                why: KeepReason::Held,
            },
        );
    }
    let mut report = RetirementReport {
        app: app.app.clone(),
        dry_run: options.dry_run,
        rollback_target,
        plan,
        outcomes: Vec::new(),
        warnings: Vec::new(),
    };
    if report.plan.retire.is_empty() {
        return Ok(report);
    }
    let retiring: Vec<String> = report
        .plan
        .retire
        .iter()
        .map(|retired| retired.stack_name.clone())
        .collect();
    let context = Retirement {
        stacks: &CloudFormation::new(ctx),
        marks: &Ssm::new(ctx),
        router,
        spec,
        other_routes: &OtherRules::of(ctx, spec, router),
        baselines: &Ssm::new(ctx),
    };
    if options.dry_run {
        report.outcomes = context.preview(&app, &retiring, &mut report.warnings).await;
        return Ok(report);
    }
    let (cleared, mut outcomes) = context
        .take_out_of_router(&app, &retiring, report.rollback_target.as_deref())
        .await;
    for (stack, unrouted) in cleared {
        outcomes.push(match stack {
            Cleared::Baseline => context.release_baseline(&app, unrouted).await,
            Cleared::Stack(stack) => {
                context
                    .delete(&stack, unrouted, display, &mut report.warnings)
                    .await
            }
        });
    }
    report.outcomes = outcomes;
    Ok(report)
}

/// Who else routes to a release: the rules (default actions included) of its load balancer
/// other than the app's own route that still forward to its target group.
pub trait OtherRoutes: Sync {
    /// One line per such rule (`rule arn:… (priority 10)`); empty when there is none.
    fn routes_to(
        &self,
        release: &StackFacts,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
}

/// [`OtherRoutes`] over ELBv2 for the ALB router; no rule can forward to the releases of the
/// other routers.
pub struct OtherRules {
    alb: Option<(Elbv2, AlbRoute, String)>,
}

impl OtherRules {
    pub fn of(ctx: &AwsContext, spec: &AppSpec, router: &AnyRouter) -> OtherRules {
        let alb = match (router, &spec.router) {
            (
                AnyRouter::Alb(router),
                RouterSpec::Alb {
                    target_group_output,
                    ..
                },
            ) => Some((
                Elbv2::new(ctx),
                router.route().clone(),
                target_group_output.clone(),
            )),
            _ => None,
        };
        OtherRules { alb }
    }
}

impl OtherRoutes for OtherRules {
    async fn routes_to(&self, release: &StackFacts) -> Result<Vec<String>, AwsError> {
        let Some((api, own, output)) = &self.alb else {
            return Ok(Vec::new());
        };
        let Some(group) = release.output(output) else {
            return Ok(Vec::new());
        };
        Ok(api
            .rules_forwarding_to(group)
            .await?
            .iter()
            .filter(|rule| !own.is(rule))
            .map(ToString::to_string)
            .collect())
    }
}

/// Why a release retention lets go must stay, as a reason for the user.
enum Dependents {
    /// Another listener rule forwards to its target group.
    Routes(String),
    /// Other stacks import its exports (the release is marked for attention when retiring).
    Importers(String),
}

impl Dependents {
    fn into_reason(self) -> String {
        match self {
            Dependents::Routes(reason) | Dependents::Importers(reason) => reason,
        }
    }
}

/// What the router let go of and may now be deleted (a stack) or recorded released (the
/// baseline).
enum Cleared {
    Stack(Box<StackFacts>),
    Baseline,
}

impl Cleared {
    fn name(&self) -> &str {
        match self {
            Cleared::Stack(stack) => &stack.name,
            Cleared::Baseline => BASELINE,
        }
    }
}

struct Retirement<'a, A, M, R, O, B> {
    stacks: &'a A,
    marks: &'a M,
    router: &'a R,
    spec: &'a AppSpec,
    other_routes: &'a O,
    baselines: &'a B,
}

impl<A, M, R, O, B> Retirement<'_, A, M, R, O, B>
where
    A: StackApi,
    M: MarkStore,
    R: TrafficRouter + Sync,
    O: OtherRoutes,
    B: BaselineStore,
{
    /// Checks the rails once more against what the router says now and removes the releases
    /// from its configuration. Returns what is safe to delete or let go (with whether it had
    /// been routed) and the outcomes of those that are not.
    async fn take_out_of_router(
        &self,
        app: &AppReleases,
        retiring: &[String],
        rollback_target: Option<&str>,
    ) -> (Vec<(Cleared, bool)>, Vec<RetireOutcome>) {
        let mut refused = Vec::new();
        let weights = match self.router.read_weights().await {
            Ok(weights) => weights,
            Err(error) => {
                let reason = format!(
                    "the router could not be read again before the deletion: {}",
                    error_line(&error)
                );
                let outcomes = retiring
                    .iter()
                    .map(|stack| RetireOutcome::Error {
                        stack: stack.clone(),
                        reason: reason.clone(),
                    })
                    .collect();
                return (Vec::new(), outcomes);
            }
        };
        let mut kept_in_place: Vec<Cleared> = Vec::new();
        let mut candidates: Vec<(Cleared, bool)> = Vec::new();
        for name in retiring {
            let refuse = |reason: String| RetireOutcome::Refused {
                stack: name.clone(),
                reason,
            };
            let routed = weights.iter().any(|(key, _)| key == name);
            if name == BASELINE && app.baseline.is_some() {
                if weights.get(name) > 0 {
                    refused.push(refuse(format!(
                        "it carries {}% of the traffic now",
                        weights.get(name)
                    )));
                } else if rollback_target == Some(BASELINE) {
                    refused.push(refuse("it is the rollback target".into()));
                } else if self.router.keeps_let_go_baseline() {
                    // Its entry is the operator's own (a Route 53 record): it stays at 0 and
                    // only stops being the app's.
                    kept_in_place.push(Cleared::Baseline);
                } else {
                    candidates.push((Cleared::Baseline, routed));
                }
                continue;
            }
            let Some(release) = app.find(name) else {
                refused.push(refuse("not a release stack of this app".into()));
                continue;
            };
            if weights.get(name) > 0 {
                refused.push(refuse(format!(
                    "it carries {}% of the traffic now",
                    weights.get(name)
                )));
            } else if release.role == Role::Live {
                refused.push(refuse("it is the live release".into()));
            } else if rollback_target == Some(name.as_str()) {
                refused.push(refuse("it is the rollback target".into()));
            } else if release.stack.tag(super::tags::APP) != Some(app.app.as_str()) {
                refused.push(refuse("its cutover:app tag names another app".into()));
            } else {
                match self.still_needed(&release.stack).await {
                    Ok(None) => {
                        candidates.push((Cleared::Stack(Box::new(release.stack.clone())), routed))
                    }
                    Ok(Some(reason)) => refused.push(refuse(reason)),
                    Err(reason) => refused.push(RetireOutcome::Error {
                        stack: name.clone(),
                        reason,
                    }),
                }
            }
        }
        let with_kept = |mut candidates: Vec<(Cleared, bool)>| {
            candidates.extend(kept_in_place.into_iter().map(|kept| (kept, false)));
            candidates
        };
        if !candidates.iter().any(|(_, routed)| *routed) {
            return (with_kept(candidates), refused);
        }
        let remaining: Weights = weights
            .iter()
            .filter(|(key, _)| !candidates.iter().any(|(cleared, _)| cleared.name() == *key))
            .map(|(key, weight)| (key.to_string(), weight))
            .collect();
        let written = self.router.set_weights(&remaining).await;
        let confirmed = match written {
            Ok(()) => self.router.read_weights().await.map_err(|error| {
                format!(
                    "could not read the router back after taking the releases out: {}",
                    error_line(&error)
                )
            }),
            Err(error) => Err(format!(
                "could not take it out of the router: {}",
                error_line(&error)
            )),
        };
        let mut cleared = Vec::new();
        for (candidate, routed) in candidates {
            match &confirmed {
                Ok(now) if !now.iter().any(|(key, _)| key == candidate.name()) => {
                    cleared.push((candidate, routed))
                }
                Ok(_) => refused.push(RetireOutcome::Error {
                    stack: candidate.name().to_string(),
                    reason: "the router still lists it after it was taken out".into(),
                }),
                // A release the router never listed is safe to delete whatever the write did.
                Err(_) if !routed => cleared.push((candidate, routed)),
                Err(reason) => refused.push(RetireOutcome::Error {
                    stack: candidate.name().to_string(),
                    reason: reason.clone(),
                }),
            }
        }
        (with_kept(cleared), refused)
    }

    /// Why a release another stack still depends on must stay: a listener rule other than the
    /// app's route that forwards to its target group, or another stack that imports one of its
    /// exports (CloudFormation would refuse the deletion, after a long wait, with "Export …
    /// cannot be deleted as it is in use by …"). An imported release is also marked for
    /// attention, so `status` shows it as retiring with the reason.
    async fn still_needed(&self, stack: &StackFacts) -> Result<Option<String>, String> {
        let Some(dependents) = self.dependents(stack).await? else {
            return Ok(None);
        };
        if let Dependents::Importers(reason) = &dependents {
            if let Err(error) = self.mark_for_attention(stack, reason).await {
                tracing::warn!(
                    "could not mark {} for attention: {}",
                    stack.name,
                    error_line(&error)
                );
            }
        }
        Ok(Some(dependents.into_reason()))
    }

    /// What the real run would do with each release the plan lets go, found by reads alone:
    /// kept because something depends on it, or deleted leaving what its `DeletionPolicy` keeps.
    /// A check that fails is a warning (the real run checks again before deleting).
    async fn preview(
        &self,
        app: &AppReleases,
        retiring: &[String],
        warnings: &mut Vec<String>,
    ) -> Vec<RetireOutcome> {
        let mut outcomes = Vec::new();
        for name in retiring {
            if let (BASELINE, Some(baseline)) = (name.as_str(), &app.baseline) {
                outcomes.push(RetireOutcome::WouldRelease {
                    stack: name.clone(),
                    target: baseline.record.target.to_string(),
                });
                continue;
            }
            let Some(release) = app.find(name) else {
                continue;
            };
            let dependents = self
                .dependents(&release.stack)
                .await
                .unwrap_or_else(|reason| {
                    warnings.push(format!("{name}: {reason}"));
                    None
                });
            outcomes.push(match dependents {
                Some(dependents) => RetireOutcome::WouldKeep {
                    stack: name.clone(),
                    reason: dependents.into_reason(),
                },
                None => RetireOutcome::WouldRetire {
                    stack: name.clone(),
                    retained: self.retained_resources(&release.stack, warnings).await,
                },
            });
        }
        outcomes
    }

    /// Who depends on a release, by reads alone: the listener rules other than the app's route
    /// that forward to its target group, else the stacks that import its exports.
    async fn dependents(&self, stack: &StackFacts) -> Result<Option<Dependents>, String> {
        let rules = self.other_routes.routes_to(stack).await.map_err(|error| {
            format!(
                "could not check which listener rules forward to it: {}",
                error_line(&error)
            )
        })?;
        if !rules.is_empty() {
            return Ok(Some(Dependents::Routes(format!(
                "another route still forwards to its target group: {}",
                rules.join("; ")
            ))));
        }
        let mut imported = Vec::new();
        for export in &stack.exports {
            let importers = self.stacks.list_imports(export).await.map_err(|error| {
                format!(
                    "could not check which stacks import its export {export}: {}",
                    error_line(&error)
                )
            })?;
            if !importers.is_empty() {
                imported.push(format!("{export} by {}", importers.join(", ")));
            }
        }
        if imported.is_empty() {
            return Ok(None);
        }
        Ok(Some(Dependents::Importers(format!(
            "other stacks import its exports ({}); CloudFormation cannot delete it until they stop",
            imported.join("; ")
        ))))
    }

    /// What deleting `stack` leaves in the account: the resources its template keeps with
    /// `DeletionPolicy: Retain` (or `RetainExceptOnCreate`, `Snapshot`), with their physical ids.
    /// Best effort: what cannot be read is left out with a warning.
    async fn retained_resources(
        &self,
        stack: &StackFacts,
        warnings: &mut Vec<String>,
    ) -> Vec<String> {
        let body = match self.stacks.template_body(&stack.id).await {
            Ok(body) => body,
            Err(error) => {
                warnings.push(format!(
                    "could not read the template of {} to list what its deletion keeps: {}",
                    stack.name,
                    error_line(&error)
                ));
                return Vec::new();
            }
        };
        let Ok(template) = crate::template::parse(&body, &stack.name) else {
            return Vec::new();
        };
        let kept: Vec<(String, String)> = template
            .resources()
            .into_iter()
            .flatten()
            .filter_map(|(logical_id, resource)| {
                let policy = resource
                    .get("DeletionPolicy")
                    .and_then(crate::template::Node::as_str)?;
                matches!(policy, "Retain" | "RetainExceptOnCreate" | "Snapshot")
                    .then(|| (logical_id.clone(), policy.to_string()))
            })
            .collect();
        if kept.is_empty() {
            return Vec::new();
        }
        let resources = self
            .stacks
            .stack_resources(&stack.id)
            .await
            .unwrap_or_default();
        kept.into_iter()
            .map(|(logical_id, policy)| {
                let resource = resources
                    .iter()
                    .find(|resource| resource.logical_id == logical_id);
                let kind = resource.map_or("", |resource| resource.resource_type.as_str());
                let physical = resource
                    .and_then(|resource| resource.physical_id.as_deref())
                    .unwrap_or("(no physical id)");
                let what = if policy == "Snapshot" {
                    "a final snapshot of "
                } else {
                    ""
                };
                format!("{what}{logical_id} ({kind}) {physical}")
            })
            .collect()
    }

    /// Records the baseline as released: no longer routed, no longer a rollback target.
    async fn release_baseline(&self, app: &AppReleases, unrouted: bool) -> RetireOutcome {
        let Some(baseline) = &app.baseline else {
            return RetireOutcome::Error {
                stack: BASELINE.into(),
                reason: "the app has no baseline".into(),
            };
        };
        let released: Baseline = baseline.record.released(SystemTime::now());
        match route::baseline::write(self.baselines, &app.app, &released).await {
            Ok(()) => RetireOutcome::Released {
                stack: BASELINE.into(),
                target: baseline.record.target.to_string(),
                unrouted,
            },
            Err(error) => RetireOutcome::Error {
                stack: BASELINE.into(),
                reason: error_line(&error),
            },
        }
    }

    async fn delete(
        &self,
        stack: &StackFacts,
        unrouted: bool,
        display: &mut dyn WaitDisplay,
        warnings: &mut Vec<String>,
    ) -> RetireOutcome {
        let name = stack.name.clone();
        if stack.termination_protection {
            // Some endpoints (moto) cannot lift it and do not enforce it either: a protection that
            // really holds shows up as a refused deletion below.
            if let Err(error) = self
                .stacks
                .set_termination_protection(&stack.id, false)
                .await
            {
                warnings.push(format!(
                    "{}; deleting stack {name} anyway",
                    error_line(&error)
                ));
            }
        }
        // Read before the deletion: afterwards the stack's resources are gone from its record.
        let retained = self.retained_resources(stack, warnings).await;
        // A second of slack for a clock that runs a little ahead of CloudFormation's.
        let deletion_started = SystemTime::now() - Duration::from_secs(1);
        if let Err(error) = self.stacks.delete_stack(&stack.id).await {
            return RetireOutcome::Error {
                stack: name,
                reason: error_line(&error),
            };
        }
        let timeout = self.spec.stack.timeout.unwrap_or(DEFAULT_DELETE_TIMEOUT);
        let mut watch = StackWatch::new(self.stacks, &stack.id, &name);
        let mut deletion_events = EventsSince {
            inner: display,
            since: deletion_started,
        };
        let waited = watch
            .wait(Operation::Delete, timeout, &mut deletion_events)
            .await;
        deletion_events.finish();
        match waited {
            // The wait ends successfully only on DELETE_COMPLETE (by id) or a stack gone.
            Ok(Outcome::Succeeded(_)) => {
                // Remembered for `history`: the stack is gone, its mark stays.
                let recorded = marks::update(self.marks, &self.spec.name, &name, |mark| {
                    mark.retired_at = Some(marks::now());
                    mark.retained = retained.clone();
                    mark.role = None;
                    mark.attention = None;
                })
                .await;
                if let Err(error) = recorded {
                    warnings.push(error_line(&error));
                }
                RetireOutcome::Deleted {
                    stack: name,
                    unrouted,
                    retained,
                }
            }
            Ok(Outcome::Failed(failure)) => {
                let resources = self.failed_resources(&stack.id).await;
                let reason = failure.explanation();
                let attention_mark_error = self
                    .mark_for_attention(stack, &reason)
                    .await
                    .err()
                    .map(|error| error_line(&error));
                RetireOutcome::DeleteFailed {
                    stack: name,
                    status: failure.stack.status.clone(),
                    reason,
                    resources,
                    attention_mark_error,
                }
            }
            Err(error @ WaitError::TimedOut { .. }) => {
                let reason = error_line(&error);
                if let Err(tag_error) = self.mark_for_attention(stack, &reason).await {
                    warnings.push(error_line(&tag_error));
                }
                RetireOutcome::Error {
                    stack: name,
                    reason,
                }
            }
            Err(error) => RetireOutcome::Error {
                stack: name,
                reason: error_line(&error),
            },
        }
    }

    /// `Bucket (AWS::S3::Bucket): The bucket you tried to delete is not empty`, for every
    /// resource CloudFormation could not delete.
    async fn failed_resources(&self, stack_id: &str) -> Vec<String> {
        match self.stacks.stack_resources(stack_id).await {
            Ok(resources) => resources
                .iter()
                .filter(|resource| resource.status == "DELETE_FAILED")
                .map(|resource| {
                    format!(
                        "{} ({}): {}",
                        resource.logical_id,
                        resource.resource_type,
                        resource.reason.as_deref().unwrap_or("no reason given")
                    )
                })
                .collect(),
            Err(error) => vec![format!(
                "(the failed resources could not be listed: {})",
                error_line(&error)
            )],
        }
    }

    /// Records (beside the lock, not on the stack) that the release is being retired and why
    /// it needs a look.
    async fn mark_for_attention(&self, stack: &StackFacts, reason: &str) -> Result<(), MarkError> {
        marks::update(
            self.marks,
            &self.spec.name,
            &stack.name,
            marks::retiring(reason),
        )
        .await
    }
}

/// Shows only the events of the deletion: a retired stack's log starts with its creation, which
/// is no news.
struct EventsSince<'a> {
    inner: &'a mut dyn WaitDisplay,
    since: SystemTime,
}

impl WaitDisplay for EventsSince<'_> {
    fn event(&mut self, stack: &str, event: &StackEvent) {
        if event.timestamp.is_none_or(|at| at >= self.since) {
            self.inner.event(stack, event);
        }
    }

    fn status(&mut self, stack: &str, status: &str) {
        self.inner.status(stack, status);
    }

    fn finish(&mut self) {
        self.inner.finish();
    }
}

/// The error and its causes on one line, for reports and warnings that do not stop the run.
pub fn error_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[path = "retire_tests.rs"]
mod tests;
