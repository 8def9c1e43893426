use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use super::AwsError;

/// Where to send AWS calls, from the global flags. Unset fields fall back to the standard AWS
/// configuration chain (environment, `~/.aws/config`, SSO, credential processes).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

impl ConnectOptions {
    pub fn from_args(args: &crate::cli::GlobalArgs) -> ConnectOptions {
        ConnectOptions {
            region: args.region.clone(),
            profile: args.profile.clone(),
            endpoint_url: args.endpoint_url.clone(),
        }
    }
}

/// One resolved AWS configuration; service clients are made from it on demand (cheap).
#[derive(Debug, Clone)]
pub struct AwsContext {
    pub(crate) sdk: SdkConfig,
    /// Outputs of long-lived stacks read for `{ stack_output = .. }` values, shared by the
    /// clients of this context: one run asks for them at every look at the app.
    pub(crate) outputs_memo: super::cloudformation::OutputsMemo,
}

impl AwsContext {
    /// A context from a ready SDK configuration (tests build one pointing at moto).
    pub fn from_sdk_config(sdk: SdkConfig) -> AwsContext {
        AwsContext {
            sdk,
            outputs_memo: Default::default(),
        }
    }

    pub fn region(&self) -> Option<&str> {
        self.sdk.region().map(|region| region.as_ref())
    }

    pub fn endpoint_url(&self) -> Option<&str> {
        self.sdk.endpoint_url()
    }

    pub(crate) fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    pub(crate) fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk)
    }

    pub(crate) fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk)
    }

    pub(crate) fn route53(&self) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&self.sdk)
    }

    pub(crate) fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.sdk)
    }

    /// Path-style addressing under a custom endpoint: `bucket.127.0.0.1` does not resolve.
    pub(crate) fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.sdk.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub(crate) fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.sdk)
    }
}

/// Each attempt gets this long; the SDK has no read timeout of its own, so a server that accepts
/// and never answers would otherwise hang the tool.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(90);
/// A few quick retries per call: enough for a throttled or dropped request, short enough that an
/// unreachable endpoint is reported in seconds. Waits that must outlast throttling (the stack
/// waiter, the cutover driver, gate re-checks) retry on their own, above the SDK.
const MAX_ATTEMPTS: u32 = 4;
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// Off EC2 the metadata service is absent; fail over to the next provider at once.
const IMDS_TIMEOUT: Duration = Duration::from_millis(800);

/// Resolves region, credentials and endpoint without slow fallbacks: no region anywhere is a
/// clear error, not a wait on the instance metadata service.
pub async fn connect(options: &ConnectOptions) -> Result<AwsContext, AwsError> {
    let mut env_and_profile = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(profile) = &options.profile {
        env_and_profile = env_and_profile.profile_name(profile);
    }
    let region_chain = RegionProviderChain::first_try(options.region.clone().map(Region::new))
        .or_else(aws_config::environment::EnvironmentVariableRegionProvider::new())
        .or_else(env_and_profile.build());
    let region = region_chain.region().await.ok_or(AwsError::no_region())?;

    let imds = aws_config::imds::Client::builder()
        .connect_timeout(IMDS_TIMEOUT)
        .read_timeout(IMDS_TIMEOUT)
        .max_attempts(1)
        .build();
    let mut credentials =
        aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
            .region(region.clone())
            .imds_client(imds);
    if let Some(profile) = &options.profile {
        credentials = credentials.profile_name(profile);
    }
    let credentials = credentials.build().await;

    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(credentials)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_max_backoff(MAX_BACKOFF),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &options.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    Ok(AwsContext::from_sdk_config(loader.load().await))
}
