//! Builds the app's router from its spec and its release stacks' outputs, behind one type.

use std::time::Duration;

use super::alb::AlbRouter;
use super::eip::EipRouter;
use super::route53::{Endpoint, RecordName, Route53Router};
use super::{RouterError, TrafficRouter, Weights, BASELINE};
use crate::aws::addresses::Ec2Addresses;
use crate::aws::cloudformation::StackFacts;
use crate::aws::elbv2::{AlbRoute, Elbv2};
use crate::aws::route53::Route53;
use crate::aws::AwsContext;
use crate::release::aws_sources::AwsSources;
use crate::release::params::ParamError;
use crate::route::{Baseline, BaselineTarget};
use crate::spec::{AlbRouteSpec, AppSpec, RouterSpec, ValueSource};

/// One of the three routers, so the driver stays generic over a single type.
#[derive(Debug, Clone)]
pub enum AnyRouter {
    Alb(AlbRouter),
    Route53(Route53Router),
    Eip(EipRouter),
}

impl TrafficRouter for AnyRouter {
    async fn read_weights(&self) -> Result<Weights, RouterError> {
        match self {
            AnyRouter::Alb(router) => router.read_weights().await,
            AnyRouter::Route53(router) => router.read_weights().await,
            AnyRouter::Eip(router) => router.read_weights().await,
        }
    }

    async fn set_weights(&self, weights: &Weights) -> Result<(), RouterError> {
        match self {
            AnyRouter::Alb(router) => router.set_weights(weights).await,
            AnyRouter::Route53(router) => router.set_weights(weights).await,
            AnyRouter::Eip(router) => router.set_weights(weights).await,
        }
    }

    fn supports_gradual(&self) -> bool {
        match self {
            AnyRouter::Alb(router) => router.supports_gradual(),
            AnyRouter::Route53(router) => router.supports_gradual(),
            AnyRouter::Eip(router) => router.supports_gradual(),
        }
    }

    fn keeps_let_go_baseline(&self) -> bool {
        match self {
            AnyRouter::Alb(router) => router.keeps_let_go_baseline(),
            AnyRouter::Route53(router) => router.keeps_let_go_baseline(),
            AnyRouter::Eip(router) => router.keeps_let_go_baseline(),
        }
    }

    fn stickiness(&self) -> Option<Duration> {
        match self {
            AnyRouter::Alb(router) => router.stickiness(),
            AnyRouter::Route53(router) => router.stickiness(),
            AnyRouter::Eip(router) => router.stickiness(),
        }
    }
}

impl AnyRouter {
    /// What a read of the weights cannot show but a write would trip over, checked once before
    /// anything is created: a Route 53 record name outside its hosted zone.
    pub async fn check_writable(&self) -> Result<(), RouterError> {
        match self {
            AnyRouter::Route53(router) => router.check_name_in_zone().await,
            AnyRouter::Alb(_) | AnyRouter::Eip(_) => Ok(()),
        }
    }

    /// The route this router writes, as messages and the baseline record name it:
    /// `listener arn:…`, `listener rule arn:…`, `CNAME record api.example.com in hosted zone
    /// Z…`, `Elastic IP eipalloc-…`.
    pub fn route(&self) -> String {
        match self {
            AnyRouter::Alb(router) => router.route().to_string(),
            AnyRouter::Route53(router) => route53_route(router.record()),
            AnyRouter::Eip(router) => format!("Elastic IP {}", router.allocation_id()),
        }
    }

    /// What adopting the raw weights key `key` (as this router reports an entry no release
    /// owns) as the baseline means; `None` for a key this router cannot have reported.
    pub fn baseline_target_for(&self, key: &str) -> Option<BaselineTarget> {
        match self {
            AnyRouter::Alb(_) => {
                (key.starts_with("arn:") && key.contains(":targetgroup/")).then(|| {
                    BaselineTarget::TargetGroup {
                        arn: key.to_string(),
                    }
                })
            }
            AnyRouter::Route53(router) => Some(router.baseline_target_for(key)),
            AnyRouter::Eip(_) => key.starts_with("i-").then(|| BaselineTarget::Instance {
                instance_id: key.to_string(),
            }),
        }
    }
}

fn route53_route(record: &RecordName) -> String {
    format!(
        "{} record {} in hosted zone {}",
        record.record_type,
        record.name.trim_end_matches('.'),
        record.hosted_zone_id.trim_start_matches("/hostedzone/")
    )
}

/// The baseline's target, when it was adopted on `route` and not let go since.
fn baseline_on<'a>(baseline: Option<&'a Baseline>, route: &str) -> Option<&'a BaselineTarget> {
    let baseline = baseline.filter(|baseline| !baseline.is_released())?;
    if baseline.route != route {
        tracing::warn!(
            "the baseline was adopted on the {}, but the spec now routes through the {route}: it is ignored",
            baseline.route
        );
        return None;
    }
    Some(&baseline.target)
}

/// Release stack name → the value of one of its outputs, and the stacks that lack it.
struct OutputsByStack {
    found: Vec<(String, String)>,
    missing: Vec<(String, String)>,
}

fn outputs_named<'a>(
    releases: impl IntoIterator<Item = &'a StackFacts>,
    output: &str,
) -> OutputsByStack {
    let mut by_stack = OutputsByStack {
        found: Vec::new(),
        missing: Vec::new(),
    };
    for release in releases {
        match release.output(output) {
            Some(value) if !value.is_empty() => by_stack
                .found
                .push((release.name.clone(), value.to_string())),
            _ => by_stack.missing.push((
                release.name.clone(),
                format!("the stack has no output {output}"),
            )),
        }
    }
    by_stack
}

/// The router the app's spec asks for, knowing the given release stacks (every release that may
/// hold or take traffic: the live one, the candidate, any left over) and the app's baseline, if
/// it adopted one on this route. A release without the output the router needs is kept as
/// "cannot take traffic", so asking for it says why.
pub async fn build_router<'a>(
    ctx: &AwsContext,
    app: &AppSpec,
    releases: impl IntoIterator<Item = &'a StackFacts>,
    baseline: Option<&Baseline>,
) -> Result<AnyRouter, RouterError> {
    let releases: Vec<&StackFacts> = releases.into_iter().collect();
    match &app.router {
        RouterSpec::Alb {
            route,
            target_group_output,
            ..
        } => {
            let arn = resolve(ctx, app, route.key(), route.source()).await?;
            let route = match route {
                AlbRouteSpec::Listener(_) => AlbRoute::DefaultAction { listener_arn: arn },
                AlbRouteSpec::Rule(_) => AlbRoute::Rule { rule_arn: arn },
            };
            let mut groups = outputs_named(releases.iter().copied(), target_group_output);
            if let Some(BaselineTarget::TargetGroup { arn }) =
                baseline_on(baseline, &route.to_string())
            {
                groups.found.push((BASELINE.to_string(), arn.clone()));
            }
            Ok(AnyRouter::Alb(AlbRouter::new(
                Elbv2::new(ctx),
                route,
                groups.found,
                groups.missing,
            )))
        }
        RouterSpec::Route53 {
            hosted_zone_id,
            record_name,
            record_type,
            ttl,
            endpoint_output,
            alias_zone_output,
        } => {
            let zone = resolve(ctx, app, "router.hosted_zone_id", hosted_zone_id).await?;
            let endpoints = outputs_named(releases.iter().copied(), endpoint_output);
            let mut missing = endpoints.missing;
            let mut found = Vec::new();
            for (stack, value) in endpoints.found {
                let endpoint = match alias_zone_output {
                    None => Endpoint::Value(value),
                    Some(zone_output) => {
                        let facts = releases.iter().find(|release| release.name == stack);
                        match facts.and_then(|facts| facts.output(zone_output)) {
                            Some(zone) => Endpoint::Alias {
                                hosted_zone_id: zone.to_string(),
                                dns_name: value,
                            },
                            None => {
                                missing.push((
                                    stack,
                                    format!("the stack has no output {zone_output}"),
                                ));
                                continue;
                            }
                        }
                    }
                };
                found.push((stack, endpoint));
            }
            let record = RecordName {
                hosted_zone_id: zone,
                name: record_name.clone(),
                record_type: record_type.as_str().to_string(),
                ttl: *ttl,
            };
            let baseline = match baseline_on(baseline, &route53_route(&record)) {
                Some(BaselineTarget::WeightedRecord {
                    set_identifier,
                    record,
                    health_check_id,
                }) => Some((
                    set_identifier.clone(),
                    record.clone(),
                    health_check_id.clone(),
                )),
                Some(BaselineTarget::PlainRecord {
                    set_identifier,
                    record,
                }) => Some((set_identifier.clone(), record.clone(), None)),
                _ => None,
            };
            let router = Route53Router::new(Route53::new(ctx), record, found, missing);
            Ok(AnyRouter::Route53(match baseline {
                Some((set_identifier, record, health_check_id)) => router
                    .with_baseline(set_identifier, record)
                    .with_baseline_health_check(health_check_id),
                None => router,
            }))
        }
        RouterSpec::Eip {
            allocation_id,
            instance_output,
        } => {
            let allocation = resolve(ctx, app, "router.allocation_id", allocation_id).await?;
            let mut instances = outputs_named(releases.iter().copied(), instance_output);
            if let Some(BaselineTarget::Instance { instance_id }) =
                baseline_on(baseline, &format!("Elastic IP {allocation}"))
            {
                instances
                    .found
                    .push((BASELINE.to_string(), instance_id.clone()));
            }
            Ok(AnyRouter::Eip(EipRouter::new(
                Ec2Addresses::new(ctx),
                allocation,
                instances.found,
                instances.missing,
            )))
        }
    }
}

/// Resolves a router setting with the same rules as template parameters.
async fn resolve(
    ctx: &AwsContext,
    app: &AppSpec,
    what: &str,
    source: &ValueSource,
) -> Result<String, RouterError> {
    let aws = AwsSources::new(ctx);
    let sources = aws.sources();
    let action = format!(
        "set up the {} router of app {}",
        app.router.kind(),
        app.name
    );
    match sources.resolve_value(what, source, &app.path).await {
        Ok(value) => Ok(value.expose().to_string()),
        Err(ParamError::Lookup { source: error, .. }) if error.is_transient() => {
            Err(RouterError::Transient {
                action,
                source: Some(Box::new(error)),
            })
        }
        Err(ParamError::Lookup { source: error, .. }) => Err(RouterError::Rejected {
            action,
            source: Some(Box::new(error)),
        }),
        // Name what is missing: the stack itself, or only its output.
        Err(ParamError::StackMissing { stack, .. }) => Err(RouterError::NotFound {
            action,
            missing: format!("stack {stack}, named by {what},"),
        }),
        Err(ParamError::OutputMissing {
            stack,
            output,
            available,
            ..
        }) => Err(RouterError::NotFound {
            action,
            missing: format!(
                "output {output} of stack {stack} ({what}; its outputs: {})",
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                }
            ),
        }),
        Err(_) => Err(RouterError::NotFound {
            action,
            missing: format!("{source} ({what})"),
        }),
    }
}
