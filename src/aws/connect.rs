use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use super::AwsError;

/// Where to send AWS calls, from the global flags. Unset fields fall back to the standard AWS
/// configuration chain (environment, `~/.aws/config`, SSO, credential processes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ConnectOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// A role to assume (STS AssumeRole) with the credentials the chain finds.
    pub role: Option<AssumeRole>,
}

/// A role every call of an app is made as (the spec's `[aws] role_arn`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: String,
}

impl ConnectOptions {
    pub fn from_args(args: &crate::cli::GlobalArgs) -> ConnectOptions {
        ConnectOptions {
            region: args.region.clone(),
            profile: args.profile.clone(),
            endpoint_url: args.endpoint_url.clone(),
            role: None,
        }
    }

    /// Where the calls of one app go: its spec's `[aws]` table over the global options (region,
    /// profile), and the role it names.
    pub fn for_app(args: &crate::cli::GlobalArgs, spec: &crate::spec::AppSpec) -> ConnectOptions {
        let target = &spec.aws;
        ConnectOptions {
            region: target.region.clone().or_else(|| args.region.clone()),
            profile: target.profile.clone().or_else(|| args.profile.clone()),
            endpoint_url: args.endpoint_url.clone(),
            role: target.role_arn.as_ref().map(|role_arn| AssumeRole {
                role_arn: role_arn.clone(),
                external_id: target.external_id.clone(),
                session_name: target
                    .session_name
                    .clone()
                    .unwrap_or_else(|| format!("cutover-{}", spec.name)),
            }),
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
    /// The account the credentials belong to, asked of STS once when first needed.
    account: std::sync::Arc<tokio::sync::OnceCell<Option<String>>>,
}

impl AwsContext {
    /// A context from a ready SDK configuration (tests build one pointing at moto).
    pub fn from_sdk_config(sdk: SdkConfig) -> AwsContext {
        AwsContext {
            sdk,
            outputs_memo: Default::default(),
            account: Default::default(),
        }
    }

    /// The account id of the caller (STS GetCallerIdentity, once per context); `None` when STS
    /// cannot say (it is only ever shown, never decided on).
    pub async fn account(&self) -> Option<String> {
        self.account
            .get_or_init(|| async {
                match aws_sdk_sts::Client::new(&self.sdk)
                    .get_caller_identity()
                    .send()
                    .await
                {
                    Ok(identity) => identity.account().map(str::to_string),
                    Err(error) => {
                        tracing::debug!("could not ask STS who the caller is: {error}");
                        None
                    }
                }
            })
            .await
            .clone()
    }

    /// The caller's ARN (who is deploying), for the release's `cutover:deployed-by` tag.
    pub async fn caller_arn(&self) -> Option<String> {
        aws_sdk_sts::Client::new(&self.sdk)
            .get_caller_identity()
            .send()
            .await
            .ok()
            .and_then(|identity| identity.arn().map(str::to_string))
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

    pub(crate) fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.sdk)
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
    let credentials = match &options.role {
        None => aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        // The role's credentials are assumed with the chain's, and refreshed by the SDK's
        // credentials cache before they expire: a canary longer than the session stays valid.
        Some(role) => {
            let mut base = aws_config::defaults(BehaviorVersion::latest())
                .region(region.clone())
                .credentials_provider(credentials);
            if let Some(endpoint) = &options.endpoint_url {
                base = base.endpoint_url(endpoint);
            }
            let base = base.load().await;
            let mut provider = aws_config::sts::AssumeRoleProvider::builder(&role.role_arn)
                .session_name(&role.session_name)
                .region(region.clone())
                .configure(&base);
            if let Some(external_id) = &role.external_id {
                provider = provider.external_id(external_id);
            }
            aws_credential_types::provider::SharedCredentialsProvider::new(provider.build().await)
        }
    };

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

/// One context per distinct target (region, profile, role), made on first use: `status`,
/// `rotate` and `check --all` run over apps in several accounts and regions in one run.
#[derive(Debug, Default)]
pub struct Contexts {
    made: Vec<(ConnectOptions, AwsContext)>,
}

impl Contexts {
    pub async fn get(&mut self, options: &ConnectOptions) -> Result<&AwsContext, AwsError> {
        let index = match self.made.iter().position(|(known, _)| known == options) {
            Some(index) => index,
            None => {
                let context = connect(options).await?;
                self.made.push((options.clone(), context));
                self.made.len() - 1
            }
        };
        Ok(&self.made[index].1)
    }
}
