//! The validated app spec: what the rest of the tool works with. Every value here has passed the
//! checks in `validate`, so consumers need not re-check ranges or combinations.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

/// One app: `stacks/<name>.toml`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    /// The app name: the spec file's stem. Release stacks are named `<name>-<release>`.
    pub name: String,
    /// The spec file this was loaded from.
    pub path: PathBuf,
    /// The CloudFormation template, resolved relative to the spec file's folder. It existed when
    /// the spec was loaded.
    pub template: PathBuf,
    /// Free text, used as the stack description when present.
    pub description: Option<String>,
    /// CloudFormation parameters, in the order the spec lists them.
    pub parameters: IndexMap<String, ValueSource>,
    /// The user's stack tags (cutover adds its own `cutover:*` tags, which users cannot set).
    pub tags: IndexMap<String, String>,
    pub stack: StackSettings,
    pub router: RouterSpec,
    pub strategy: StrategySpec,
    pub gates: GatesSpec,
    pub retention: RetentionSpec,
    pub rotation: RotationSpec,
    /// Findings of `cutover check` the app has decided to live with.
    pub check: CheckSpec,
    /// `[aws]`: the account (by role) and region every call for this app goes to.
    pub aws: AwsTarget,
    /// `[notify]`: where deploy, rollback and retirement events are announced.
    pub notify: NotifySpec,
}

/// `[aws]`: where the app lives. Unset fields fall back to the global options and the standard
/// AWS configuration chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AwsTarget {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Assumed with STS AssumeRole from the chain's credentials.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// Default `cutover-<app>`.
    pub session_name: Option<String>,
}

/// `[notify]`: where events go.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NotifySpec {
    /// An SNS topic ARN (usually from a base stack's output).
    pub sns_topic: Option<ValueSource>,
    pub webhook: Option<WebhookSpec>,
}

/// A webhook: JSON POSTed to `url`; the header `header.0` (e.g. `Authorization`) carries the
/// value of the environment variable `header.1` (a token: never written in the spec, read when a
/// notification is sent, never printed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSpec {
    pub url: String,
    /// (header name, environment variable).
    pub header: Option<(String, String)>,
}

/// Where a value comes from. Resolving it (reading the environment, calling SSM, CloudFormation or
/// EC2) is the deploy's job; the spec only says where to look.
///
/// Display describes the source, and shows a literal's text: callers printing parameters must
/// mask the values of `NoEcho` parameters themselves.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueSource {
    /// A literal: TOML strings as written, integers, floats and booleans as their text.
    Literal(String),
    /// `{ env = "VAR" }`: an environment variable of the process running cutover.
    Env { var: String },
    /// `{ ssm = "/path" }`: an SSM parameter (also the public AMI parameters under `/aws/service`).
    Ssm { name: String },
    /// `{ stack_output = "stack-name", output = "Key" }`: an output of another (long-lived) stack.
    StackOutput { stack: String, output: String },
    /// `{ latest_ami = { ... } }`: the newest image (by creation date) that matches.
    LatestAmi(AmiQuery),
}

/// An EC2 `DescribeImages` query; the newest match by creation date wins.
#[derive(Debug, Clone, PartialEq)]
pub struct AmiQuery {
    /// Owner account ids or aliases (`amazon`, `self`, `aws-marketplace`); at least one.
    pub owners: Vec<String>,
    /// The image name pattern (`*` and `?` wildcards), sent as the `name` filter.
    pub name: String,
    /// Sent as the `architecture` filter when set.
    pub architecture: Option<String>,
    /// Further `DescribeImages` filters, name → accepted values.
    pub filters: IndexMap<String, Vec<String>>,
}

impl fmt::Display for ValueSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueSource::Literal(text) => write!(f, "{text:?}"),
            ValueSource::Env { var } => write!(f, "environment variable {var}"),
            ValueSource::Ssm { name } => write!(f, "SSM parameter {name}"),
            ValueSource::StackOutput { stack, output } => {
                write!(f, "output {output} of stack {stack}")
            }
            ValueSource::LatestAmi(query) => write!(
                f,
                "newest AMI named {:?} owned by {}",
                query.name,
                query.owners.join(", ")
            ),
        }
    }
}

/// How the release stack itself is created.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StackSettings {
    pub capabilities: Vec<Capability>,
    pub termination_protection: bool,
    /// How long a stack creation may take before cutover gives up on it.
    pub timeout: Option<Duration>,
    /// S3 bucket for templates over 51,200 bytes.
    pub template_bucket: Option<String>,
    /// CloudWatch alarm names or ARNs, passed to CloudFormation as rollback triggers (at most 5).
    pub rollback_alarms: Vec<String>,
    /// How long CloudFormation watches the rollback alarms after creation (at most 180 minutes).
    pub rollback_monitoring: Option<Duration>,
}

/// The capabilities CloudFormation may require to create a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
pub enum Capability {
    #[serde(rename = "CAPABILITY_IAM")]
    Iam,
    #[serde(rename = "CAPABILITY_NAMED_IAM")]
    NamedIam,
    #[serde(rename = "CAPABILITY_AUTO_EXPAND")]
    AutoExpand,
}

impl Capability {
    /// The name CloudFormation uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Iam => "CAPABILITY_IAM",
            Capability::NamedIam => "CAPABILITY_NAMED_IAM",
            Capability::AutoExpand => "CAPABILITY_AUTO_EXPAND",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What moves traffic between releases.
#[derive(Debug, Clone, PartialEq)]
pub enum RouterSpec {
    /// Weighted target groups on a listener's default action, or on one listener rule.
    Alb {
        /// The listener's default action or one rule (usually outputs of a base stack).
        route: AlbRouteSpec,
        /// The output of each release stack that holds its target group ARN.
        target_group_output: String,
        /// `[router.test_traffic]`: a listener rule that sends requests carrying a header to the
        /// candidate before it takes production traffic.
        test_traffic: Option<TestTrafficSpec>,
    },
    /// Weighted records for one name; each release's record has the stack name as SetIdentifier.
    Route53 {
        hosted_zone_id: ValueSource,
        /// The record's DNS name, e.g. `api.example.com`.
        record_name: String,
        record_type: RecordType,
        /// Seconds; ignored for alias records.
        ttl: u32,
        /// The output of each release stack with the endpoint (DNS name or IP) the record points to.
        endpoint_output: String,
        /// When set, records are aliases: the output of each release stack holding the hosted zone
        /// id of the alias target (e.g. an ALB's `CanonicalHostedZoneID`).
        alias_zone_output: Option<String>,
    },
    /// An Elastic IP moved to the release's instance (all-at-once only).
    Eip {
        allocation_id: ValueSource,
        /// The output of each release stack that holds its instance id.
        instance_output: String,
    },
}

/// Where the ALB router writes its weights: exactly one of `router.listener` and `router.rule`.
#[derive(Debug, Clone, PartialEq)]
pub enum AlbRouteSpec {
    /// `listener`: the listener ARN; cutover edits its default action.
    Listener(ValueSource),
    /// `rule`: one listener rule's ARN; cutover edits only its forward action, keeping its
    /// conditions, priority and authenticate actions (several apps can share one load balancer,
    /// a rule each).
    Rule(ValueSource),
}

impl AlbRouteSpec {
    /// The spec key that holds it: `router.listener` or `router.rule`.
    pub fn key(&self) -> &'static str {
        match self {
            AlbRouteSpec::Listener(_) => "router.listener",
            AlbRouteSpec::Rule(_) => "router.rule",
        }
    }

    pub fn source(&self) -> &ValueSource {
        match self {
            AlbRouteSpec::Listener(source) | AlbRouteSpec::Rule(source) => source,
        }
    }
}

impl RouterSpec {
    /// The `kind` value that selects this router in the spec.
    pub fn kind(&self) -> &'static str {
        match self {
            RouterSpec::Alb { .. } => "alb",
            RouterSpec::Route53 { .. } => "route53",
            RouterSpec::Eip { .. } => "eip",
        }
    }
}

/// `[router.test_traffic]`: while a candidate is being proven, requests carrying
/// `header: <release id>` reach it through a listener rule of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestTrafficSpec {
    /// The request header, e.g. `X-Release` (an HTTP token of at most 40 characters, as ALB
    /// header conditions take; not `Host`).
    pub header: String,
    /// The test rule's priority (1–50000); by default the free priority just above the app's
    /// rule (or, routing through the default action, the lowest-precedence free priority).
    pub priority: Option<u32>,
}

/// DNS record types the Route 53 router manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum RecordType {
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
    #[serde(rename = "CNAME")]
    Cname,
}

impl RecordType {
    /// The name Route 53 uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How traffic moves from the live release to the candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategySpec {
    pub kind: StrategyKind,
    /// Time at 100 % with the gates watched before the previous release is let go.
    pub final_bake: Duration,
    /// With ALB target group stickiness on, clients stay on the target group they were sent to
    /// for the stickiness duration whatever the weights say: each step before 100 % is then held
    /// at least that long (default), unless this is false.
    pub hold_for_stickiness: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StrategyKind {
    /// 0 → 100 % in one step.
    AllAtOnce,
    /// `percent` (1–99) for `bake`, then 100 %.
    Canary { percent: u32, bake: Duration },
    /// `step`, 2×`step`, … (1–99 each step, capped at 100), one step every `interval`.
    Linear { step: u32, interval: Duration },
    /// Explicit weights, strictly increasing, the last one 100; `pause` after each but the last.
    Steps { weights: Vec<u32>, pause: Duration },
}

impl StrategyKind {
    /// The `kind` value that selects this strategy in the spec.
    pub fn name(&self) -> &'static str {
        match self {
            StrategyKind::AllAtOnce => "all-at-once",
            StrategyKind::Canary { .. } => "canary",
            StrategyKind::Linear { .. } => "linear",
            StrategyKind::Steps { .. } => "steps",
        }
    }
}

/// The default `gates.warmup`: ALB health checks and EC2 status checks of new instances take
/// a few minutes on AWS.
pub const DEFAULT_GATE_WARMUP: Duration = Duration::from_secs(5 * 60);

/// Health gates, checked before each traffic step and throughout every bake. All optional.
#[derive(Debug, Clone, PartialEq)]
pub struct GatesSpec {
    pub target_health: Option<TargetHealthGate>,
    /// EC2 instance status checks of the release's instances.
    pub instance_status: bool,
    /// CloudWatch alarm names (or ARNs) that must not be in ALARM.
    pub alarms: Vec<String>,
    /// Outputs of the release stack that name CloudWatch alarms that must not be in ALARM.
    pub alarm_outputs: Vec<String>,
    pub http: Option<HttpGate>,
    /// A shell command; exit status 0 passes.
    pub command: Option<String>,
    /// `[gates.compare]`: the candidate's target group metrics against the live release's.
    pub compare: Option<CompareGate>,
    /// How often gates are checked during a bake.
    pub interval: Duration,
    /// How long a new release may take to pass its gates before it takes any traffic (targets
    /// start "initial", instances "initializing"); failing past this turns the candidate back.
    pub warmup: Duration,
}

impl Default for GatesSpec {
    fn default() -> Self {
        GatesSpec {
            target_health: None,
            instance_status: false,
            alarms: Vec::new(),
            alarm_outputs: Vec::new(),
            http: None,
            command: None,
            compare: None,
            interval: Duration::from_secs(10),
            warmup: DEFAULT_GATE_WARMUP,
        }
    }
}

/// `[gates.compare]`: judges the candidate against the live release on the same minutes of
/// their target groups' CloudWatch metrics (`AWS/ApplicationELB`, one-minute periods).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareGate {
    /// The minutes compared, ending at the check.
    pub window: Duration,
    /// 0.95: the candidate is worse only when the test's p-value is under 0.05.
    pub confidence: f64,
    /// Since the candidate's first request: "not enough data" passes within it, fails after.
    pub warmup: Duration,
    /// Requests each side needs in the window for a rate to be tested.
    pub min_requests: u64,
    /// Minutes with a value each side needs for a distribution to be tested.
    pub min_minutes: usize,
    pub metrics: Vec<CompareMetric>,
}

/// One compared metric.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareMetric {
    /// The CloudWatch metric name, e.g. `HTTPCode_Target_5XX_Count`.
    pub name: String,
    pub kind: CompareKind,
    /// Rates: absolute (0.01 = one percentage point); distributions: relative (0.1 = 10 %).
    pub tolerance: f64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareKind {
    /// A count divided by the target group's `RequestCount` (Sum per minute).
    RatePerRequest,
    /// One value per minute with this statistic (`Average`, `p95`, …).
    Distribution { statistic: String },
}

/// Every registered target of the release's target group healthy, and at least `min_healthy`.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetHealthGate {
    pub min_healthy: u32,
    /// The release output holding the target group ARN: the alb router's `target_group_output`
    /// unless the gate names one (required with other routers).
    pub target_group_output: String,
}

/// An HTTP probe of the release.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpGate {
    pub url: HttpTarget,
    pub expect_status: u16,
    pub body_contains: Option<String>,
    pub timeout: Duration,
    /// Further attempts after a failed one before the gate fails.
    pub retries: u32,
}

/// Where the HTTP probe goes: exactly one of `url` and `url_output` in the spec.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpTarget {
    Url(String),
    /// An output of the release stack that holds the URL.
    Output(String),
}

/// Which previous releases stay for instant rollback.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionSpec {
    /// Previous releases kept (the live one is always kept on top of these).
    pub keep: u32,
    /// Previous releases older than this are retired even within `keep`.
    pub retire_after: Option<Duration>,
}

impl Default for RetentionSpec {
    fn default() -> Self {
        RetentionSpec {
            keep: 1,
            retire_after: None,
        }
    }
}

/// `[check]`: release-safety findings silenced for this app.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckSpec {
    pub ignore: Vec<IgnoreRule>,
}

/// One silenced rule: for one resource (its logical id, or an output's or parameter's name), or
/// for the whole app, with the reason the output repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRule {
    /// A rule id of `cutover check` (`CO101`).
    pub rule: String,
    pub resource: Option<String>,
    pub reason: String,
}

/// When `cutover rotate` redeploys the app.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RotationSpec {
    /// The live release is due once older than this.
    pub max_age: Option<Duration>,
    /// The app is due when an AMI parameter (`latest_ami` or `ssm`) resolves to a new image.
    pub refresh_ami: bool,
}
