//! Renders the next release of an app against the live one: the deploy plan, which is also what
//! `cutover diff APP` shows. Reads AWS (parameters, the app's stacks, the router), changes nothing.

use super::plan::{self, Candidate, Plan, Previous};
use super::DeployError;
use crate::aws::cloudformation::{CloudFormation, StackApi};
use crate::aws::AwsContext;
use crate::release::aws_sources::AwsSources;
use crate::release::discovery::ReleaseStack;
use crate::release::live::AppReleases;
use crate::spec::AppSpec;

/// Resolves the candidate's parameters and diffs it against the release the router says is live
/// in `app` (the app as just observed; the newest release when the router cannot be read or
/// nothing is live yet).
pub async fn render_plan(
    context: &AwsContext,
    spec: &AppSpec,
    candidate: Candidate,
    rollback_alarm_arns: Vec<String>,
    app: &AppReleases,
) -> Result<Plan, DeployError> {
    let stacks = CloudFormation::new(context);
    let parameters = AwsSources::new(context)
        .sources()
        .resolve_parameters(spec, &candidate.template)
        .await?;

    // An output the router or the gates need, under a condition these parameters make false.
    let defaults = candidate.template.parameters();
    let region = context.region().map(str::to_string);
    let value_of = |name: &str| -> Option<String> {
        match name {
            "AWS::StackName" => Some(candidate.stack_name.clone()),
            "AWS::Region" => region.clone(),
            _ => parameters
                .get(name)
                .map(|value| value.expose().to_string())
                .or_else(|| {
                    defaults?
                        .get(name)?
                        .get("Default")?
                        .scalar_text()
                        .map(|text| text.into_owned())
                }),
        }
    };
    super::preflight::check_output_conditions(spec, &candidate.template, &value_of)?;
    if let Some(existing) = app.find(&candidate.stack_name) {
        return Err(DeployError::StackExists {
            stack: existing.stack.name.clone(),
            status: existing.stack.status.clone(),
        });
    }
    // Another app's release, or a stack made by hand, under the release's name: found before
    // anything is recorded (a baseline) or created.
    if let Some(existing) = stacks.describe_stack(&candidate.stack_name).await? {
        let owner = match existing.tag(crate::release::tags::APP) {
            Some(other) if other != spec.name => format!("a release of app {other}"),
            _ => "not a release of this app".to_string(),
        };
        return Err(DeployError::StackExists {
            stack: existing.name.clone(),
            status: format!("{owner}, {}", existing.status),
        });
    }
    // The route already holds an entry under the release's name that no release owns (a
    // weighted record whose set identifier is the stack name): the release's record would
    // overwrite it.
    if app
        .weights
        .as_ref()
        .is_some_and(|weights| weights.iter().any(|(key, _)| key == candidate.stack_name))
    {
        return Err(DeployError::RouteEntryTaken {
            stack: candidate.stack_name.clone(),
            route: app
                .router
                .as_ref()
                .map(|router| router.route())
                .unwrap_or_else(|| "route".into()),
        });
    }
    if let Some(error) = &app.router_error {
        // Not a warning: the route check that follows refuses the deploy with this error.
        tracing::debug!("{error}; comparing with the newest release instead of the live one");
    }
    let live = app.live();
    let previous = match live.or(app.releases.last()) {
        Some(release) => {
            let is_live = live.is_some();
            let release = ReleaseStack {
                stack: release.stack.clone(),
                tags: release.tags.clone(),
            };
            let body = stacks.template_body(&release.stack.id).await?;
            Some(Previous {
                view: plan::previous_view(&release, &body)?,
                release,
                live: is_live,
                baseline_live: app.baseline_has_traffic(),
            })
        }
        None => None,
    };
    Ok(Plan::new(
        spec,
        candidate,
        parameters,
        rollback_alarm_arns,
        previous,
    ))
}
