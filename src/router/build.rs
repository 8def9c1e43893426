//! Builds the app's router from its spec and its release stacks' outputs, behind one type.

use super::alb::AlbRouter;
use super::eip::EipRouter;
use super::route53::{Endpoint, RecordName, Route53Router};
use super::{RouterError, TrafficRouter, Weights};
use crate::aws::addresses::Ec2Addresses;
use crate::aws::cloudformation::StackFacts;
use crate::aws::elbv2::Elbv2;
use crate::aws::route53::Route53;
use crate::aws::AwsContext;
use crate::release::aws_sources::AwsSources;
use crate::release::params::ParamError;
use crate::spec::{AppSpec, RouterSpec, ValueSource};

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
/// hold or take traffic: the live one, the candidate, any left over). A release without the
/// output the router needs is kept as "cannot take traffic", so asking for it says why.
pub async fn build_router<'a>(
    ctx: &AwsContext,
    app: &AppSpec,
    releases: impl IntoIterator<Item = &'a StackFacts>,
) -> Result<AnyRouter, RouterError> {
    let releases: Vec<&StackFacts> = releases.into_iter().collect();
    match &app.router {
        RouterSpec::Alb {
            listener,
            target_group_output,
        } => {
            let listener = resolve(ctx, app, "router.listener", listener).await?;
            let groups = outputs_named(releases.iter().copied(), target_group_output);
            Ok(AnyRouter::Alb(AlbRouter::new(
                Elbv2::new(ctx),
                listener,
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
            Ok(AnyRouter::Route53(Route53Router::new(
                Route53::new(ctx),
                record,
                found,
                missing,
            )))
        }
        RouterSpec::Eip {
            allocation_id,
            instance_output,
        } => {
            let allocation = resolve(ctx, app, "router.allocation_id", allocation_id).await?;
            let instances = outputs_named(releases.iter().copied(), instance_output);
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
        Err(_) => Err(RouterError::NotFound {
            action,
            missing: format!("{what} ({source})"),
        }),
    }
}
