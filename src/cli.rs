//! Command-line interface: clap derive types only. Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Immutable CloudFormation releases: every release is a new stack, traffic moves behind
/// health gates, old releases stay for instant rollback.
#[derive(Debug, Parser)]
#[command(
    name = "cutover",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// AWS region (default: the standard AWS configuration chain)
    #[arg(long, global = true, value_name = "REGION", value_parser = parse_region)]
    pub region: Option<String>,

    /// Named profile from ~/.aws/config
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Send every AWS call to this endpoint (also AWS_ENDPOINT_URL), e.g. a local moto server
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Folder holding the app specs `<app>.toml`
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "stacks",
        env = "CUTOVER_STACKS_DIR"
    )]
    pub stacks_dir: PathBuf,

    /// Format of the data written to stdout
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// More logging on stderr (-v, -vv, -vvv)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// No colour (also when NO_COLOR is set or the output is not a terminal)
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    /// SARIF 2.1.0, for `cutover check` (CI systems show the findings on the template's lines)
    Sarif,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what the next release changes against the live stack, or diff two template files
    Diff(DiffArgs),
    /// Check templates or apps for what breaks a second release (fixed names, exports, ...)
    Check(CheckArgs),
    /// Create the next release as a new stack and cut traffic over to it
    Deploy(DeployArgs),
    /// Pick up an interrupted cutover from what AWS shows and finish it or shift back
    Resume(ResumeArgs),
    /// Move production traffic to the release a `deploy --hold` left proven on its test route
    Promote(HoldArgs),
    /// Give up the release a `deploy --hold` left on its test route; production is untouched
    Abort(HoldArgs),
    /// List the releases of one app or of every app, with role, status and traffic weight
    Status(StatusArgs),
    /// Every release an app has had, newest first, deleted ones included, and how each ended
    History(HistoryArgs),
    /// Serve a read-only local web page of every app: releases, traffic, gates, locks, timelines
    Dashboard(DashboardArgs),
    /// Send traffic back to a retained release, by stack name or release id
    Rollback(RollbackArgs),
    /// Retire the releases that retention no longer keeps
    Retire(RetireArgs),
    /// Rebuild the apps whose live release is too old or runs a stale machine image
    Rotate(RotateArgs),
    /// Break an app's lock left behind by a run that died
    Unlock(UnlockArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// An app name (compare its next release with its live stack), or two template files OLD NEW
    #[arg(value_name = "APP | OLD NEW", num_args = 1..=2, required = true)]
    pub targets: Vec<String>,

    /// Release id to render the next release as (default: generated)
    #[arg(long, value_name = "RELEASE")]
    pub release: Option<String>,

    /// Exit 1 only for changes of this kind (`broadening`: IAM or network access widened)
    #[arg(long, value_enum, value_name = "KIND")]
    pub fail_on: Option<FailOn>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Template files (checked without any AWS call) or app names of the stacks folder (their
    /// rendered release, parameter sources, router and gates, read-only)
    #[arg(value_name = "APP | FILE")]
    pub targets: Vec<String>,

    /// Check every app in the stacks folder
    #[arg(long, conflicts_with = "targets")]
    pub all: bool,

    /// Exit 1 when a finding of this severity or above is not silenced
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t = Severity::Error)]
    pub fail_on: Severity,
}

/// How much a `cutover check` finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any difference (the default behaviour of exit code 1)
    Any,
    /// IAM statements or security-group rules that widen access
    Broadening,
}

#[derive(Debug, Clone, Args)]
pub struct ChangeArgs {
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The app to deploy (`stacks/<APP>.toml`)
    pub app: String,

    /// Release id; the stack is `<APP>-<RELEASE>` (default: generated from the time)
    #[arg(long, value_name = "RELEASE")]
    pub release: Option<String>,

    #[command(flatten)]
    pub change: ChangeArgs,

    /// Keep a stack that failed to create, for inspection
    #[arg(long)]
    pub keep_failed: bool,

    /// Give up waiting for the stack after this long (default: the spec's `stack.timeout`)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,

    /// S3 bucket for templates over 51,200 bytes (default: the spec's `stack.template_bucket`)
    #[arg(long, value_name = "BUCKET")]
    pub template_bucket: Option<String>,

    /// On the app's first deploy, take the traffic the route already sends somewhere no release
    /// owns (a target group, a plain DNS record, an instance holding the Elastic IP) as the
    /// app's baseline: traffic moves from it by the strategy and back to it if a gate fails
    #[arg(long)]
    pub adopt: bool,

    /// Stop once the release is healthy, its test route (`[router.test_traffic]`) is up and its
    /// gates pass there, before any production traffic moves; `cutover promote APP` goes on,
    /// `cutover abort APP` gives it up
    #[arg(long)]
    pub hold: bool,

    /// Write an HTML report of this deploy (its traffic steps, gate checks and the release
    /// stack's events), one self-contained file for CI artifacts; written however it ends
    #[arg(long, value_name = "FILE.html", conflicts_with = "dry_run")]
    pub report: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct HoldArgs {
    /// The app whose held release to promote or abort
    pub app: String,

    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The app whose cutover to resume
    pub app: String,

    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The app whose releases to list
    pub app: String,

    /// Also write the history as one self-contained HTML page (timeline, releases, traffic)
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Address to serve on: HOST:PORT (an IP address, an IPv6 one in brackets, or a name such
    /// as localhost) or a bare PORT on 127.0.0.1; port 0 takes any free one. Anything but a
    /// loopback address is served with a warning (the page has no login)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080", value_parser = parse_listen)]
    pub listen: String,

    /// How often the apps are read from AWS while a page is open (at least 1s)
    #[arg(long, value_name = "DURATION", value_parser = parse_interval, default_value = "2s")]
    pub interval: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The app (default: every app in the stacks folder)
    pub app: Option<String>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The app to roll back
    pub app: String,

    /// Stack name or release id to roll back to (default: the previous release)
    #[arg(long, value_name = "STACK | RELEASE")]
    pub to: Option<String>,

    /// Skip the gates
    #[arg(long)]
    pub force: bool,

    /// Recreate the target from its recorded template and parameters if it was retired
    #[arg(long)]
    pub rebuild: bool,

    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct RetireArgs {
    /// The app whose old releases to retire
    pub app: String,

    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Apps to consider
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub apps: Vec<String>,

    /// Consider every app in the stacks folder
    #[arg(long)]
    pub all: bool,

    /// Apps rotated at once, each under its own lock
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,

    /// Only this worker's part of the apps: I/N (0-based), or auto/N to read I from
    /// JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch)
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::rotation::shard::ShardArg>,

    /// Print which apps are due and why, change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Rebuild live releases older than this, whatever the specs' `rotation.max_age` says
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub max_age: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The app whose lock to break
    pub app: String,

    /// Break it even though its holder is a cutover run still alive on this machine
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// A dashboard interval: a duration of at least one second (each read costs several AWS calls per
/// app, and a deploy running at the same time shares the account's request rate).
/// A region name of the right shape (see [`crate::spec::region_name_problem`]).
fn parse_region(text: &str) -> Result<String, String> {
    match crate::spec::region_name_problem(text) {
        Some(problem) => Err(problem),
        None => Ok(text.to_string()),
    }
}

/// `HOST:PORT` as given, or `127.0.0.1:PORT` for a bare port. The host is resolved when the
/// server binds, so a name is checked there.
fn parse_listen(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.parse::<u16>().is_ok() {
        return Ok(format!("127.0.0.1:{text}"));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text} is not a port (0 to 65535)"));
    }
    if text.contains("://") {
        return Err(
            "give HOST:PORT without a scheme: localhost:9000, not http://localhost:9000".into(),
        );
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| "expected HOST:PORT (say 127.0.0.1:8080) or a bare PORT".to_string())?;
    if host.is_empty() {
        return Err("no host before the port: say 127.0.0.1:PORT, or just PORT".to_string());
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err("an IPv6 address goes in brackets: [::1]:8080".to_string());
    }
    port.parse::<u16>()
        .map_err(|_| format!("{port:?} is not a port (0 to 65535)"))?;
    Ok(text.to_string())
}

fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let interval = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if interval < std::time::Duration::from_secs(1) {
        return Err("at least 1s: every read costs several AWS calls per app".to_string());
    }
    Ok(interval)
}
