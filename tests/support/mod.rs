//! Shared helpers for the integration tests that talk to moto: the server, isolated accounts,
//! the fault proxy, SDK configuration and running the `cutover` binary.
//!
//! `tests/aws/main.rs` includes it with `#[path = "../support/mod.rs"] mod support;`; a feature's
//! tests go in a module of that binary (e.g. `tests/aws/deploy.rs`, `mod deploy;` in main.rs).
//!
//! ```ignore
//! use crate::support::{fresh_account, moto_endpoint, run_cutover, sdk_config, sdk_env, FailMode, FaultProxy};
//!
//! #[tokio::test]
//! async fn a_failed_release_is_reported() {
//!     let proxy = FaultProxy::start(moto_endpoint(), &fresh_account()); // own, empty account
//!     let config = sdk_config(proxy.url()).await;      // the real SDK, through the proxy
//!     // ... create the base stack with aws_sdk_cloudformation::Client::new(&config) ...
//!     proxy.fail_stack("web-r1", FailMode::CreateFailed { resource: "Fleet".into(), reason: "no capacity".into() });
//!     proxy.only_actions(&["DescribeStacks"]);
//!     proxy.set_throttle_rate(0.2);                     // every 5th DescribeStacks is throttled
//!     let output = run_cutover(["deploy", "web", "--release", "r1", "--yes"], &sdk_env(proxy.url()));
//!     assert_eq!(output.status.code(), Some(1));
//!     assert!(proxy.requests_by_action()["DescribeStacks"] > 0);
//! }
//! ```
#![allow(dead_code)]

mod faults;
mod http1;
mod moto;
mod proxy;
mod rewrite;
mod webhook;

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use moto::moto_endpoint;
pub use proxy::{FailMode, FaultProxy};
pub use webhook::WebhookReceiver;

/// A 12-digit account id no other test of any test binary uses: moto keeps one isolated, empty
/// set of resources per `x-moto-account-id`, so tests with their own account run in parallel.
pub fn fresh_account() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let sequence = NEXT.fetch_add(1, Ordering::Relaxed) % 100_000;
    // pid ≤ 4,194,304 (7 digits) × 10^5 + sequence (5 digits) < 10^12.
    let account = u64::from(std::process::id()) % 10_000_000 * 100_000 + sequence;
    format!("{account:012}")
}

/// The environment that points the `cutover` binary (or any SDK client) at `endpoint`, with
/// dummy credentials and without the instance-metadata wait.
pub fn sdk_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("NO_COLOR", "1"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect()
}

/// Runs the `cutover` binary built for this test run and waits for it. Every inherited `AWS_*`
/// variable is removed first so a developer's profile never reaches a test. Blocking is fine
/// from an async test: the fault proxies run on their own runtime.
pub fn run_cutover<I, S>(args: I, env: &[(String, String)]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_cutover"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().map(|(name, value)| (name, value)));
    command.output().expect("could not run the cutover binary")
}

/// SDK configuration for `endpoint` (normally a [`FaultProxy`] URL): dummy credentials,
/// us-east-1, standard retries with a short backoff so retried faults cost milliseconds, and
/// an attempt timeout so a server that never answers fails the test instead of hanging it.
/// Adjust with `sdk_config(..).to_builder()`.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    use aws_sdk_cloudformation::config::Credentials;

    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(10))
                .with_max_backoff(Duration::from_millis(200)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await
}

/// A listener's default forward weights as ELBv2 holds them: target group ARN → weight.
pub async fn listener_weights(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    listener: &str,
) -> std::collections::BTreeMap<String, i32> {
    let described = elbv2
        .describe_listeners()
        .listener_arns(listener)
        .send()
        .await
        .expect("describe_listeners");
    let mut weights = std::collections::BTreeMap::new();
    for action in described.listeners()[0].default_actions() {
        if let Some(forward) = action.forward_config() {
            for group in forward.target_groups() {
                weights.insert(
                    group.target_group_arn().unwrap_or_default().to_string(),
                    group.weight().unwrap_or(1),
                );
            }
        }
    }
    weights
}
