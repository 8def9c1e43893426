//! The deploy plan: everything decided before the stack is created, shown to the user (text or
//! JSON) and then turned into the CreateStack request. Building it is pure apart from reading
//! the previous release's template, which the caller passes in as a [`ReleaseView`].

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use indexmap::IndexMap;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::preflight::{stickiness_note, RouteCheck};
use super::DeployError;
use crate::aws::cloudformation::{CreateStackRequest, TemplateSource};
use crate::check::Finding;
use crate::diff::{self, ReleaseView, StackDiff, MASK};
use crate::output::Palette;
use crate::release::discovery::ReleaseStack;
use crate::release::params::{self, ResolvedParameters};
use crate::release::{self, ReleaseId, ReleaseTags};
use crate::router::Weights;
use crate::spec::{AppSpec, StrategyKind};
use crate::template::{Template, INLINE_BODY_LIMIT};

/// How long a creation may take when neither the flag nor the spec says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// How the template reaches CloudFormation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Inline,
    /// Uploaded to this bucket first, then passed as TemplateURL.
    Bucket(String),
}

/// The next release, decided from the spec and the template alone (no AWS call).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub app: String,
    pub release: ReleaseId,
    pub stack_name: String,
    pub template: Template,
    pub delivery: Delivery,
    pub created: SystemTime,
    /// The spec's tags then cutover's own.
    pub tags: Vec<(String, String)>,
    pub timeout: Duration,
    pub no_echo: BTreeSet<String>,
}

/// What the command line adds to the spec.
#[derive(Debug, Clone, Default)]
pub struct CandidateOptions {
    pub release: Option<String>,
    pub timeout: Option<Duration>,
    pub template_bucket: Option<String>,
}

/// Checks everything that can be checked without AWS and names the next release.
pub fn prepare(
    spec: &AppSpec,
    template: Template,
    options: &CandidateOptions,
    now: SystemTime,
) -> Result<Candidate, DeployError> {
    let release = match &options.release {
        Some(label) => ReleaseId::new(label.as_str())?,
        None => ReleaseId::generate(now),
    };
    let stack_name = release::stack_name(&spec.name, &release)?;
    params::check_against_template(spec, &template)?;
    let delivery = if template.fits_inline() {
        Delivery::Inline
    } else {
        let bucket = options
            .template_bucket
            .clone()
            .or_else(|| spec.stack.template_bucket.clone());
        match bucket {
            Some(bucket) => Delivery::Bucket(bucket),
            None => {
                return Err(DeployError::TemplateNeedsBucket {
                    template: template.origin.clone(),
                    bytes: template.body.len(),
                })
            }
        }
    };
    let release_tags =
        ReleaseTags::new_candidate(&spec.name, release.clone(), now, template.sha256_hex());
    let tags = release::release_tags(&spec.tags, &release_tags)?
        .into_iter()
        .map(|tag| (tag.key, tag.value))
        .collect();
    let no_echo = template.no_echo_parameters();
    Ok(Candidate {
        app: spec.name.clone(),
        release,
        stack_name,
        delivery,
        created: now,
        tags,
        timeout: options
            .timeout
            .or(spec.stack.timeout)
            .unwrap_or(DEFAULT_TIMEOUT),
        no_echo,
        template,
    })
}

/// The release the candidate is compared with: the newest existing release of the app.
#[derive(Debug, Clone)]
pub struct Previous {
    pub release: ReleaseStack,
    pub view: ReleaseView,
    /// The router says it serves traffic; otherwise it is only the newest release.
    pub live: bool,
    /// The app's baseline holds the traffic (so no release does).
    pub baseline_live: bool,
}

/// Reads a previous release's view from what CloudFormation recorded for it.
pub fn previous_view(
    release: &ReleaseStack,
    template_body: &str,
) -> Result<ReleaseView, DeployError> {
    let origin = format!("the template of stack {}", release.stack.name);
    let template = crate::template::parse(template_body, &origin).map_err(|source| {
        DeployError::PreviousTemplate {
            stack: release.stack.name.clone(),
            source,
        }
    })?;
    Ok(ReleaseView {
        no_echo: template.no_echo_parameters(),
        template: template.root,
        parameters: release.stack.parameters.iter().cloned().collect(),
        tags: user_tags(&release.stack.tags),
    })
}

/// The values the stack will have: those passed, then template defaults for the rest, since
/// CloudFormation records defaults among a stack's parameters too (the live side of the diff).
fn effective_parameters(
    template: &Template,
    parameters: &ResolvedParameters,
) -> IndexMap<String, String> {
    let mut values: IndexMap<String, String> =
        parameters.to_stack_parameters().into_iter().collect();
    for (name, declaration) in template.parameters().into_iter().flatten() {
        if values.contains_key(name) {
            continue;
        }
        if let Some(default) = declaration.get("Default").and_then(|d| d.scalar_text()) {
            values.insert(name.clone(), default.into_owned());
        }
    }
    values
}

/// Tags users set; cutover's own change with every release and would only add noise to a diff.
fn user_tags(tags: &[(String, String)]) -> IndexMap<String, String> {
    tags.iter()
        .filter(|(key, _)| !key.starts_with(release::tags::PREFIX))
        .cloned()
        .collect()
}

/// The whole plan: the candidate, its resolved parameters, and what changes against the previous
/// release.
#[derive(Debug, Clone)]
pub struct Plan {
    pub candidate: Candidate,
    pub parameters: ResolvedParameters,
    pub previous: Option<Previous>,
    pub diff: StackDiff,
    pub capabilities: Vec<String>,
    pub termination_protection: bool,
    pub rollback_alarm_arns: Vec<String>,
    pub rollback_monitoring: Option<Duration>,
    /// One line on what happens to traffic after the stack is healthy.
    pub traffic: String,
    /// The route as checked before the stack is created (not set for a rebuild).
    pub route: Option<RoutePlan>,
    /// What `cutover check` finds below error (errors stop the deploy before the plan).
    pub findings: Vec<Finding>,
}

/// The route part of a deploy plan.
#[derive(Debug, Clone)]
pub struct RoutePlan {
    pub check: RouteCheck,
    /// The router's weights when the plan was made.
    pub traffic_now: Option<Weights>,
    /// What target group stickiness means for the strategy; `None` when it is off.
    pub stickiness: Option<String>,
}

impl Plan {
    pub fn new(
        spec: &AppSpec,
        candidate: Candidate,
        parameters: ResolvedParameters,
        rollback_alarm_arns: Vec<String>,
        previous: Option<Previous>,
    ) -> Plan {
        let new_view = ReleaseView {
            template: candidate.template.root.clone(),
            parameters: effective_parameters(&candidate.template, &parameters),
            tags: spec.tags.clone(),
            no_echo: candidate
                .no_echo
                .union(&parameters.secret_names())
                .cloned()
                .collect(),
        };
        let diff = diff::diff(previous.as_ref().map(|p| &p.view), &new_view);
        Plan {
            parameters,
            previous,
            diff,
            capabilities: spec
                .stack
                .capabilities
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
            termination_protection: spec.stack.termination_protection,
            rollback_alarm_arns,
            rollback_monitoring: spec.stack.rollback_monitoring,
            traffic: traffic_summary(spec),
            route: None,
            findings: Vec::new(),
            candidate,
        }
    }

    /// The plan with the release-safety findings of the template (warnings, notes, silenced).
    pub fn with_findings(mut self, findings: Vec<Finding>) -> Plan {
        self.findings = findings;
        self
    }

    /// The plan with the route as checked (`hold_for_stickiness` from the spec's strategy).
    pub fn with_route(
        mut self,
        check: RouteCheck,
        strategy: &StrategyKind,
        hold_for_stickiness: bool,
        traffic_now: Option<Weights>,
    ) -> Plan {
        self.route = Some(RoutePlan {
            stickiness: stickiness_note(check.stickiness, strategy, hold_for_stickiness),
            check,
            traffic_now,
        });
        self
    }

    /// The values that must never be shown or sent: NoEcho parameters and secret sources.
    pub fn secret_values(&self) -> Vec<String> {
        self.parameters
            .iter()
            .filter(|(name, value)| value.is_secret() || self.candidate.no_echo.contains(*name))
            .map(|(_, value)| value.expose().to_string())
            .collect()
    }

    /// Parameter values as they may be shown: NoEcho ones masked.
    pub fn shown_parameters(&self) -> Vec<(String, String)> {
        self.parameters
            .iter()
            .map(|(name, value)| {
                let shown = if value.is_secret() || self.candidate.no_echo.contains(name) {
                    MASK.to_string()
                } else {
                    value.expose().to_string()
                };
                (name.to_string(), shown)
            })
            .collect()
    }

    /// Derived from the stack name and template hash, so a retried call (by the SDK or by a
    /// rerun of the same release) cannot create a second stack.
    pub fn client_request_token(&self) -> String {
        let digest = Sha256::digest(
            format!(
                "{}\n{}",
                self.candidate.stack_name,
                self.candidate.template.sha256_hex()
            )
            .as_bytes(),
        );
        let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
        format!("cutover-{hex}")
    }

    pub fn create_request(&self, template: TemplateSource) -> CreateStackRequest {
        CreateStackRequest {
            name: self.candidate.stack_name.clone(),
            template,
            parameters: self.parameters.to_stack_parameters(),
            tags: self.candidate.tags.clone(),
            capabilities: self.capabilities.clone(),
            termination_protection: self.termination_protection,
            rollback_alarm_arns: self.rollback_alarm_arns.clone(),
            rollback_monitoring_minutes: self
                .rollback_monitoring
                .map(|d| d.as_secs().div_ceil(60) as i32),
            client_request_token: self.client_request_token(),
            // CloudFormation's own timeout backs ours up: a stack we stop following still ends.
            timeout_minutes: Some(self.candidate.timeout.as_secs().div_ceil(60).max(1) as i32),
        }
    }

    pub fn render_text(&self, palette: Palette) -> String {
        let candidate = &self.candidate;
        let mut out = String::new();
        match &self.previous {
            Some(previous) => out.push_str(&format!(
                "{} {} → {} (changes against {}, {})\n\n",
                palette.bold("Plan for"),
                candidate.app,
                candidate.stack_name,
                previous.release.stack.name,
                if previous.live {
                    "the live release"
                } else if previous.baseline_live {
                    "the newest release; the adopted baseline holds the traffic"
                } else {
                    "the newest release; none holds traffic"
                }
            )),
            None => out.push_str(&format!(
                "{} {} → {} (first release: everything is added)\n\n",
                palette.bold("Plan for"),
                candidate.app,
                candidate.stack_name
            )),
        }
        out.push_str(&diff::render_text(&self.diff, palette));
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&palette.bold("What happens next"));
        out.push('\n');
        let mut row = |label: &str, value: String| {
            out.push_str(&format!("  {label:<24}{value}\n"));
        };
        row("create stack", candidate.stack_name.clone());
        row("template", self.template_line());
        row("parameters", join_pairs(&self.shown_parameters(), " = "));
        row("tags", join_pairs(&candidate.tags, "="));
        row("capabilities", none_if_empty(self.capabilities.join(", ")));
        row(
            "termination protection",
            if self.termination_protection {
                "on"
            } else {
                "off"
            }
            .into(),
        );
        row(
            "rollback alarms",
            none_if_empty(self.rollback_alarm_arns.join(", ")),
        );
        row(
            "timeout",
            humantime::format_duration(candidate.timeout).to_string(),
        );
        if let Some(route) = &self.route {
            row("route", route.check.route.clone());
            if let Some(weights) = &route.traffic_now {
                row("traffic now", weights.to_string());
            }
            if let Some(adoption) = &route.check.adoption {
                row(
                    "adopt",
                    format!(
                        "{} becomes the app's baseline: traffic moves from it by the strategy and back to it if a gate fails; it is never deleted",
                        adoption.key
                    ),
                );
            }
            if let Some(stickiness) = &route.stickiness {
                row("stickiness", stickiness.clone());
            }
        }
        row("then", self.traffic.clone());
        // Stateful resources (CO202) are listed above by the diff, with their hint.
        let shown: Vec<&Finding> = self
            .findings
            .iter()
            .filter(|finding| finding.silenced.is_none() && finding.rule != "CO202")
            .collect();
        if !shown.is_empty() {
            out.push('\n');
            out.push_str(&palette.bold("Release checks"));
            out.push('\n');
            for finding in shown {
                let line = finding
                    .line
                    .map(|line| format!(":{line}"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "  {}[{}] {}{line}: {}\n",
                    finding.severity, finding.rule, finding.file, finding.message
                ));
            }
        }
        out
    }

    fn template_line(&self) -> String {
        let template = &self.candidate.template;
        let size = template.body.len();
        match &self.candidate.delivery {
            Delivery::Inline => format!("{}, {size} bytes, sent inline", template.origin),
            Delivery::Bucket(bucket) => format!(
                "{}, {size} bytes (over {INLINE_BODY_LIMIT}), uploaded to s3://{bucket}/{}",
                template.origin,
                super::upload::object_key(&self.candidate)
            ),
        }
    }

    pub fn to_json(&self) -> Value {
        let candidate = &self.candidate;
        let pairs = |items: &[(String, String)]| -> Value {
            Value::Object(
                items
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        };
        json!({
            "app": candidate.app,
            "release": candidate.release.as_str(),
            "stack": candidate.stack_name,
            "previous": self.previous.as_ref().map(|p| json!({
                "stack": p.release.stack.name,
                "live": p.live,
                "release": p.release.tags.release.as_str(),
                "status": p.release.stack.status,
            })),
            "diff": diff::render_json(&self.diff),
            "template": {
                "path": candidate.template.origin,
                "bytes": candidate.template.body.len(),
                "sha256": candidate.template.sha256_hex(),
                "delivery": match &candidate.delivery {
                    Delivery::Inline => json!("inline"),
                    Delivery::Bucket(bucket) => json!({
                        "s3_bucket": bucket,
                        "s3_key": super::upload::object_key(candidate),
                    }),
                },
            },
            "parameters": pairs(&self.shown_parameters()),
            "tags": pairs(&candidate.tags),
            "capabilities": self.capabilities,
            "termination_protection": self.termination_protection,
            "rollback_alarms": self.rollback_alarm_arns,
            "timeout_seconds": candidate.timeout.as_secs(),
            "traffic": self.traffic,
            "findings": self.findings,
            "route": self.route.as_ref().map(|route| {
                let mut value = route.check.to_json();
                value["traffic_now"] = json!(route.traffic_now);
                value["stickiness"] = json!(route.stickiness);
                value
            }),
        })
    }
}

fn join_pairs(pairs: &[(String, String)], separator: &str) -> String {
    none_if_empty(
        pairs
            .iter()
            .map(|(k, v)| format!("{k}{separator}{v}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn none_if_empty(text: String) -> String {
    if text.is_empty() {
        "none".into()
    } else {
        text
    }
}

fn traffic_summary(spec: &AppSpec) -> String {
    let strategy = match &spec.strategy.kind {
        StrategyKind::AllAtOnce => "all at once".to_string(),
        StrategyKind::Canary { percent, bake } => format!(
            "canary {percent} % for {}, then 100 %",
            humantime::format_duration(*bake)
        ),
        StrategyKind::Linear { step, interval } => format!(
            "linear +{step} % every {}",
            humantime::format_duration(*interval)
        ),
        StrategyKind::Steps { weights, pause } => format!(
            "steps {} % with {} pauses",
            weights
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            humantime::format_duration(*pause)
        ),
    };
    format!(
        "wait for the stack to be healthy; traffic then moves through the {} router: {strategy}, final bake {}",
        spec.router.kind(),
        humantime::format_duration(spec.strategy.final_bake)
    )
}
