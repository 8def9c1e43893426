//! `--rebuild`: a retired release recreated as a new release from what CloudFormation recorded
//! for the deleted stack (template and parameters stay readable by its stack id). NoEcho
//! parameters come back masked from AWS, so those are resolved again from the spec. The new
//! stack goes through the deploy's own create-and-wait path.

use std::time::SystemTime;

use indexmap::IndexMap;

use super::{RetiredStack, RollbackError};
use crate::aws::cloudformation::{CloudFormation, StackApi};
use crate::aws::s3::S3;
use crate::aws::AwsContext;
use crate::deploy::plan::{Candidate, Delivery, Plan, DEFAULT_TIMEOUT};
use crate::deploy::wait::WaitDisplay;
use crate::deploy::{create_and_wait, upload, DeployError, Healthy};
use crate::release::aws_sources::AwsSources;
use crate::release::params::{ResolvedParameters, ResolvedValue};
use crate::release::tags::PREFIX;
use crate::release::{self, ReleaseId, ReleaseTags};
use crate::spec::AppSpec;
use crate::template::Template;

/// Tag on a rebuilt release naming the retired stack it was rebuilt from.
pub const REBUILT_FROM: &str = "cutover:rebuilt-from";

/// What the rebuild will create, decided before anything is created (shown by `--dry-run`).
#[derive(Debug, Clone)]
pub struct RebuildPlan {
    pub from: RetiredStack,
    pub plan: Plan,
    /// NoEcho parameters whose values were resolved again from the spec.
    pub re_resolved: Vec<String>,
}

/// Reads the retired stack's template and parameters and plans the new release. Only reads.
pub async fn plan_rebuild(
    ctx: &AwsContext,
    spec: &AppSpec,
    retired: &RetiredStack,
    now: SystemTime,
) -> Result<RebuildPlan, RollbackError> {
    let stacks = CloudFormation::new(ctx);
    let body =
        stacks
            .template_body(&retired.id)
            .await
            .map_err(|source| RollbackError::Recorded {
                stack: retired.name.clone(),
                source,
            })?;
    let origin = format!("the recorded template of stack {}", retired.name);
    let template = crate::template::parse(&body, &origin).map_err(|source| {
        RollbackError::RecordedTemplate {
            stack: retired.name.clone(),
            source,
        }
    })?;
    let (parameters, re_resolved) = recorded_parameters(ctx, spec, retired, &template).await?;
    let candidate = candidate(spec, retired, template, now)?;
    let alarms = spec
        .stack
        .rollback_alarms
        .iter()
        .filter(|alarm| alarm.starts_with("arn:"))
        .cloned()
        .collect();
    Ok(RebuildPlan {
        from: retired.clone(),
        plan: Plan::new(spec, candidate, parameters, alarms, None),
        re_resolved,
    })
}

/// Creates the planned release and waits until it is healthy (or explains why not and cleans it
/// up, exactly as a deploy does).
pub async fn rebuild_release(
    ctx: &AwsContext,
    rebuild: &RebuildPlan,
    display: &mut dyn WaitDisplay,
) -> Result<Healthy, RollbackError> {
    let stacks = CloudFormation::new(ctx);
    let template = upload::template_source(&S3::new(ctx), &rebuild.plan.candidate).await?;
    Ok(create_and_wait(&stacks, &rebuild.plan, template, false, display).await?)
}

/// The recorded parameter values, with every NoEcho one resolved again from the spec.
async fn recorded_parameters(
    ctx: &AwsContext,
    spec: &AppSpec,
    retired: &RetiredStack,
    template: &Template,
) -> Result<(ResolvedParameters, Vec<String>), RollbackError> {
    let no_echo = template.no_echo_parameters();
    let aws = AwsSources::new(ctx);
    let sources = aws.sources();
    let mut values = Vec::new();
    let mut re_resolved = Vec::new();
    for (name, recorded) in &retired.facts.parameters {
        if !no_echo.contains(name) {
            values.push((name.clone(), ResolvedValue::new(recorded, false)));
            continue;
        }
        let Some(source) = spec.parameters.get(name) else {
            return Err(RollbackError::MaskedSecret {
                stack: retired.name.clone(),
                parameter: name.clone(),
                spec: spec.path.display().to_string(),
            });
        };
        let value = sources
            .resolve_value(&format!("parameter {name}"), source, &spec.path)
            .await
            .map_err(|source| RollbackError::Resolve {
                stack: retired.name.clone(),
                parameter: name.clone(),
                source,
            })?;
        values.push((
            name.clone(),
            ResolvedValue::new(value.expose().to_string(), true),
        ));
        re_resolved.push(name.clone());
    }
    Ok((values.into_iter().collect(), re_resolved))
}

/// The new release: a fresh id, the recorded template, the retired stack's own user tags (not
/// today's spec's) and cutover's tags with a pointer to where it came from.
fn candidate(
    spec: &AppSpec,
    retired: &RetiredStack,
    template: Template,
    now: SystemTime,
) -> Result<Candidate, RollbackError> {
    let release = ReleaseId::generate(now);
    let stack_name = release::stack_name(&spec.name, &release).map_err(DeployError::from)?;
    let delivery = match (template.fits_inline(), &spec.stack.template_bucket) {
        (true, _) => Delivery::Inline,
        (false, Some(bucket)) => Delivery::Bucket(bucket.clone()),
        (false, None) => {
            return Err(DeployError::TemplateNeedsBucket {
                template: template.origin.clone(),
                bytes: template.body.len(),
            }
            .into())
        }
    };
    let user_tags: IndexMap<String, String> = retired
        .facts
        .tags
        .iter()
        .filter(|(key, _)| !key.starts_with(PREFIX))
        .cloned()
        .collect();
    let facts = ReleaseTags::new_candidate(&spec.name, release.clone(), now, template.sha256_hex());
    let mut tags: Vec<(String, String)> = release::release_tags(&user_tags, &facts)
        .map_err(DeployError::from)?
        .into_iter()
        .map(|tag| (tag.key, tag.value))
        .collect();
    tags.push((REBUILT_FROM.to_string(), retired.name.clone()));
    Ok(Candidate {
        app: spec.name.clone(),
        release,
        stack_name,
        no_echo: template.no_echo_parameters(),
        template,
        delivery,
        created: now,
        tags,
        timeout: spec.stack.timeout.unwrap_or(DEFAULT_TIMEOUT),
    })
}
