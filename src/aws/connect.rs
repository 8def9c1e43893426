use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};

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

/// The context's one client of a service, made on first use. Its retry partition (the SDK's
/// retry quota and, in adaptive mode, its client-side rate limiter) is named after the service,
/// the region and the target, so every task of a run that calls one account and region slows
/// down together when AWS throttles, and another account's calls are not slowed with them.
macro_rules! shared_client {
    ($context:expr, $field:ident, $crate_name:ident, $service:literal) => {
        $context
            .clients
            .$field
            .get_or_init(|| {
                let config = $crate_name::config::Builder::from(&$context.sdk)
                    .retry_classifier($crate::aws::connect::RefusedConnectionIsFinal)
                    .retry_partition($crate_name::config::retry::RetryPartition::new(
                        $context.clients.partition($service, $context.region()),
                    ))
                    .build();
                $crate_name::Client::from_conf(config)
            })
            .clone()
    };
}

/// The service clients of one context, shared by all its clones (and so by every concurrent
/// task of a run that works in the same account and region).
#[derive(Debug, Default)]
struct Clients {
    /// Which credentials the calls are made with (`default`, a profile name or a role ARN): part
    /// of the retry partition's name, because AWS throttles per account and region.
    target: String,
    cloudformation: OnceLock<aws_sdk_cloudformation::Client>,
    ec2: OnceLock<aws_sdk_ec2::Client>,
    elbv2: OnceLock<aws_sdk_elasticloadbalancingv2::Client>,
    route53: OnceLock<aws_sdk_route53::Client>,
    ssm: OnceLock<aws_sdk_ssm::Client>,
    sns: OnceLock<aws_sdk_sns::Client>,
    sts: OnceLock<aws_sdk_sts::Client>,
    s3: OnceLock<aws_sdk_s3::Client>,
    cloudwatch: OnceLock<aws_sdk_cloudwatch::Client>,
}

impl Clients {
    fn for_target(target: String) -> Clients {
        Clients {
            target,
            ..Clients::default()
        }
    }

    /// `cloudformation-us-east-1-arn:aws:iam::123456789012:role/deployer`.
    fn partition(&self, service: &str, region: Option<&str>) -> String {
        format!(
            "{service}-{}-{}",
            region.unwrap_or("no-region"),
            self.target
        )
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
    clients: Arc<Clients>,
}

impl AwsContext {
    /// A context from a ready SDK configuration (tests build one pointing at moto).
    pub fn from_sdk_config(sdk: SdkConfig) -> AwsContext {
        AwsContext::for_target(sdk, "default".to_string())
    }

    fn for_target(sdk: SdkConfig, target: String) -> AwsContext {
        AwsContext {
            sdk,
            outputs_memo: Default::default(),
            account: Default::default(),
            clients: Arc::new(Clients::for_target(target)),
        }
    }

    /// The account id of the caller (STS GetCallerIdentity, once per context); `None` when STS
    /// cannot say (it is only ever shown, never decided on).
    pub async fn account(&self) -> Option<String> {
        self.account
            .get_or_init(|| async {
                match self.sts().get_caller_identity().send().await {
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
        self.sts()
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
        shared_client!(
            self,
            cloudformation,
            aws_sdk_cloudformation,
            "cloudformation"
        )
    }

    pub(crate) fn ec2(&self) -> aws_sdk_ec2::Client {
        shared_client!(self, ec2, aws_sdk_ec2, "ec2")
    }

    pub(crate) fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        shared_client!(
            self,
            elbv2,
            aws_sdk_elasticloadbalancingv2,
            "elasticloadbalancingv2"
        )
    }

    pub(crate) fn route53(&self) -> aws_sdk_route53::Client {
        shared_client!(self, route53, aws_sdk_route53, "route53")
    }

    pub(crate) fn ssm(&self) -> aws_sdk_ssm::Client {
        shared_client!(self, ssm, aws_sdk_ssm, "ssm")
    }

    pub(crate) fn sns(&self) -> aws_sdk_sns::Client {
        shared_client!(self, sns, aws_sdk_sns, "sns")
    }

    pub(crate) fn sts(&self) -> aws_sdk_sts::Client {
        shared_client!(self, sts, aws_sdk_sts, "sts")
    }

    /// Path-style addressing under a custom endpoint: `bucket.127.0.0.1` does not resolve.
    pub(crate) fn s3(&self) -> aws_sdk_s3::Client {
        self.clients
            .s3
            .get_or_init(|| {
                let config = aws_sdk_s3::config::Builder::from(&self.sdk)
                    .force_path_style(self.sdk.endpoint_url().is_some())
                    .retry_classifier(RefusedConnectionIsFinal)
                    .retry_partition(aws_sdk_s3::config::retry::RetryPartition::new(
                        self.clients.partition("s3", self.region()),
                    ))
                    .build();
                aws_sdk_s3::Client::from_conf(config)
            })
            .clone()
    }

    pub(crate) fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        shared_client!(self, cloudwatch, aws_sdk_cloudwatch, "cloudwatch")
    }
}

/// Each attempt gets this long; the SDK has no read timeout of its own, so a server that accepts
/// and never answers would otherwise hang the tool.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(90);
/// Attempts per call: enough to outlast a burst of throttling on a busy account, where each
/// retry waits up to [`MAX_BACKOFF`] (full jitter). The retry mode is adaptive: after a
/// `Throttling` answer the SDK's client-side rate limiter (shared by every task that calls the
/// same account, region and service, see [`shared_client!`]) slows all of them down, so
/// `rotate --jobs 16` backs off together instead of failing one by one. A refused connection is
/// not retried at all ([`RefusedConnectionIsFinal`]), so a wrong endpoint is reported at once.
/// Waits that must outlast longer trouble (the stack waiter, the cutover driver, gate re-checks)
/// retry on their own, above the SDK.
const MAX_ATTEMPTS: u32 = 10;
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// Off EC2 the metadata service is absent; fail over to the next provider at once.
const IMDS_TIMEOUT: Duration = Duration::from_millis(800);

/// Resolves region, credentials and endpoint without slow fallbacks: no region anywhere is a
/// clear error, not a wait on the instance metadata service.
pub async fn connect(options: &ConnectOptions) -> Result<AwsContext, AwsError> {
    let mut profile_region = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(profile) = &options.profile {
        profile_region = profile_region.profile_name(profile);
    }
    // A profile that is named (the spec's `[aws] profile`, `--profile`) decides the region and
    // the credentials over the environment: a CI job's AWS_REGION and access keys must not send
    // an app to another account than its spec says.
    let region_chain = match &options.profile {
        Some(_) => RegionProviderChain::first_try(options.region.clone().map(Region::new))
            .or_else(profile_region.build())
            .or_else(aws_config::environment::EnvironmentVariableRegionProvider::new()),
        None => RegionProviderChain::first_try(options.region.clone().map(Region::new))
            .or_else(aws_config::environment::EnvironmentVariableRegionProvider::new())
            .or_else(profile_region.build()),
    };
    let region = region_chain.region().await.ok_or(AwsError::no_region())?;
    // `--region` and `[aws] region` were checked when read; the environment's and a profile's
    // are checked here, before any call goes to an endpoint that does not exist.
    if let Some(problem) = crate::spec::region_name_problem(region.as_ref()) {
        return Err(AwsError::new(
            "load AWS configuration",
            super::AwsErrorKind::InvalidRegion { problem },
        ));
    }

    let imds = aws_config::imds::Client::builder()
        .connect_timeout(IMDS_TIMEOUT)
        .read_timeout(IMDS_TIMEOUT)
        .max_attempts(1)
        .build();
    let credentials = match &options.profile {
        Some(profile) => {
            let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
                .configure(
                    &aws_config::provider_config::ProviderConfig::default()
                        .with_region(Some(region.clone())),
                )
                .profile_name(profile)
                .build();
            // Asked now, so that a profile that is not defined (or an expired SSO session) is
            // reported with its name instead of as missing credentials at the first call.
            use aws_credential_types::provider::ProvideCredentials;
            if let Err(error) = provider.provide_credentials().await {
                return Err(AwsError::no_credentials(
                    format!("load the credentials of AWS profile {profile}"),
                    error,
                ));
            }
            aws_credential_types::provider::SharedCredentialsProvider::new(provider)
        }
        None => aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                .region(region.clone())
                .imds_client(imds)
                .build()
                .await,
        ),
    };
    let credentials = match &options.role {
        None => credentials,
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
            RetryConfig::adaptive()
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
    let target = match (&options.role, &options.profile) {
        (Some(role), _) => role.role_arn.clone(),
        (None, Some(profile)) => format!("profile-{profile}"),
        (None, None) => "default".to_string(),
    };
    Ok(AwsContext::for_target(loader.load().await, target))
}

/// One context per distinct target (region, profile, role), made on first use and shared by
/// every task of the run: `status`, `rotate` and `check --all` run over apps in several accounts
/// and regions in one run, `rotate --jobs N` from several tasks at once.
#[derive(Debug, Default)]
pub struct Contexts {
    made: tokio::sync::Mutex<Vec<(ConnectOptions, AwsContext)>>,
}

impl Contexts {
    /// The context for `options` (a cheap clone sharing the clients), connecting on first use.
    /// A task that asks while another connects waits for that connection.
    pub async fn get(&self, options: &ConnectOptions) -> Result<AwsContext, AwsError> {
        let mut made = self.made.lock().await;
        if let Some((_, context)) = made.iter().find(|(known, _)| known == options) {
            return Ok(context.clone());
        }
        let context = connect(options).await?;
        made.push((options.clone(), context.clone()));
        Ok(context)
    }
}

/// Retry classifier: a connection the endpoint refused is final. Nothing listens there (a wrong
/// `--endpoint-url`, a local server not started), and retrying it [`MAX_ATTEMPTS`] times would
/// only delay saying so. Resets, timeouts and 5xx answers are still retried by the SDK's own
/// classifiers; this one runs before them and only ever forbids.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefusedConnectionIsFinal;

impl ClassifyRetry for RefusedConnectionIsFinal {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let refused = match ctx.output_or_error() {
            Some(Err(error)) => error
                .as_connector_error()
                .is_some_and(|error| connection_refused(error)),
            _ => false,
        };
        if refused {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "cutover: a refused connection is final"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_before(RetryClassifierPriority::http_status_code_classifier())
    }
}

/// Whether an I/O error with kind `ConnectionRefused` is anywhere in the error's chain.
fn connection_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        next = error.source();
    }
    false
}

#[cfg(test)]
mod refused_tests {
    use super::connection_refused;

    /// An error that wraps another, the way hyper wraps the socket's error.
    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("tcp connect error")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn only_a_refused_connection_anywhere_in_the_chain_is_final() {
        let refused = Wrapped(std::io::ErrorKind::ConnectionRefused.into());
        let reset = Wrapped(std::io::ErrorKind::ConnectionReset.into());
        assert!(connection_refused(&refused));
        assert!(!connection_refused(&reset));
        assert!(!connection_refused(&std::io::Error::from(
            std::io::ErrorKind::TimedOut
        )));
    }
}
