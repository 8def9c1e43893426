//! The rules that serde cannot express: combinations of keys, ranges, AWS naming rules. Each error
//! points at the key it is about.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;

use super::error::{KeyPath, SpecError};
use super::names::{validate_bucket_name, validate_logical_id, validate_stack_name};
use super::raw::{
    RawAmiQuery, RawAws, RawCheck, RawCompare, RawDuration, RawGates, RawNotify, RawRetention,
    RawRotation, RawSourceTable, RawSpec, RawStack, RawValue,
};
use super::router_strategy::{router, strategy};
use super::source_map::SourceMap;
use super::types::{
    AmiQuery, AppSpec, AwsTarget, CheckSpec, CompareGate, CompareKind, CompareMetric, GatesSpec,
    HttpGate, HttpTarget, IgnoreRule, NotifySpec, RetentionSpec, RotationSpec, RouterSpec,
    StackSettings, TargetHealthGate, ValueSource, WebhookSpec,
};

/// CloudFormation's limits on one stack.
const MAX_PARAMETERS: usize = 200;
const MAX_TAGS: usize = 50;
const MAX_ROLLBACK_TRIGGERS: usize = 5;
const MAX_ROLLBACK_MONITORING: Duration = Duration::from_secs(180 * 60);
const ARCHITECTURES: &[&str] = &["i386", "x86_64", "arm64", "x86_64_mac", "arm64_mac"];

/// Turns errors into located ones.
pub(crate) struct Checker<'a> {
    pub(crate) map: &'a SourceMap<'a>,
}

impl Checker<'_> {
    pub(crate) fn invalid(&self, key: KeyPath, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            at: self.map.locate(&key),
            key,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn invalid_with_hint(
        &self,
        key: KeyPath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> SpecError {
        SpecError::Invalid {
            at: self.map.locate(&key),
            key,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub(crate) fn output_name(&self, key: KeyPath, name: &str) -> Result<String, SpecError> {
        validate_logical_id(name).map_err(|reason| {
            self.invalid(key, format!("invalid output name `{name}`: {reason}"))
        })?;
        Ok(name.to_owned())
    }

    pub(crate) fn positive(
        &self,
        key: KeyPath,
        duration: RawDuration,
    ) -> Result<Duration, SpecError> {
        if duration.0.is_zero() {
            return Err(self.invalid(key, "the duration must be longer than zero"));
        }
        Ok(duration.0)
    }

    /// A value the router needs (a listener, rule, hosted zone or address): like
    /// [`Self::value_source`], but an empty literal is refused here rather than sent to AWS.
    pub(crate) fn router_value(
        &self,
        key: KeyPath,
        raw: RawValue,
    ) -> Result<ValueSource, SpecError> {
        match self.value_source(key.clone(), raw)? {
            ValueSource::Literal(text) if text.trim().is_empty() => Err(self.invalid(
                key,
                "is empty; it names the listener, rule, hosted zone or Elastic IP to route through",
            )),
            value => Ok(value),
        }
    }

    pub(crate) fn value_source(
        &self,
        key: KeyPath,
        raw: RawValue,
    ) -> Result<ValueSource, SpecError> {
        match raw {
            RawValue::Literal(text) => Ok(ValueSource::Literal(text)),
            RawValue::Source(table) => self.source_table(key, *table),
        }
    }

    fn source_table(&self, key: KeyPath, table: RawSourceTable) -> Result<ValueSource, SpecError> {
        let given: Vec<&str> = [
            ("env", table.env.is_some()),
            ("ssm", table.ssm.is_some()),
            ("stack_output", table.stack_output.is_some()),
            ("latest_ami", table.latest_ami.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
        .collect();
        let hint = "a value is a literal, { env = \"VAR\" }, { ssm = \"/name\" }, \
                    { stack_output = \"stack\", output = \"Key\" } or { latest_ami = { owners = [...], name = \"pattern*\" } }";
        if given.len() > 1 {
            return Err(self.invalid_with_hint(
                key,
                format!(
                    "a value comes from one source, found `{}`",
                    given.join("` and `")
                ),
                hint,
            ));
        }
        if table.output.is_some() && table.stack_output.is_none() {
            return Err(self.invalid_with_hint(
                key.key("output"),
                "`output` goes with `stack_output`, which names the stack",
                hint,
            ));
        }
        if let Some(var) = table.env {
            if var.is_empty() || var.contains(['=', '\0']) {
                return Err(self.invalid(
                    key.key("env"),
                    format!("`{var}` is not an environment variable name"),
                ));
            }
            return Ok(ValueSource::Env { var });
        }
        if let Some(name) = table.ssm {
            if name.is_empty() || name.len() > 2048 {
                return Err(self.invalid(
                    key.key("ssm"),
                    "an SSM parameter name is 1 to 2048 characters",
                ));
            }
            return Ok(ValueSource::Ssm { name });
        }
        if let Some(stack) = table.stack_output {
            validate_stack_name(&stack).map_err(|reason| {
                self.invalid(
                    key.key("stack_output"),
                    format!("invalid stack name `{stack}`: {reason}"),
                )
            })?;
            let Some(output) = table.output else {
                return Err(self.invalid(key, format!("`stack_output = \"{stack}\"` needs `output`, the name of the output to read")));
            };
            let output = self.output_name(key.key("output"), &output)?;
            return Ok(ValueSource::StackOutput { stack, output });
        }
        if let Some(query) = table.latest_ami {
            return self
                .ami_query(key.key("latest_ami"), query)
                .map(ValueSource::LatestAmi);
        }
        Err(self.invalid_with_hint(key, "this table names no value source", hint))
    }

    fn ami_query(&self, key: KeyPath, raw: RawAmiQuery) -> Result<AmiQuery, SpecError> {
        if raw.owners.is_empty() {
            return Err(self.invalid_with_hint(
                key.key("owners"),
                "`owners` needs at least one owner",
                "e.g. owners = [\"amazon\"], or an account id, or \"self\"",
            ));
        }
        if let Some(index) = raw.owners.iter().position(|owner| owner.is_empty()) {
            return Err(self.invalid(key.key("owners").index(index), "an owner is empty"));
        }
        if raw.name.is_empty() {
            return Err(self.invalid(key.key("name"), "the image name pattern is empty"));
        }
        if let Some(architecture) = &raw.architecture {
            if !ARCHITECTURES.contains(&architecture.as_str()) {
                return Err(self.invalid(
                    key.key("architecture"),
                    format!(
                        "unknown architecture `{architecture}`, expected one of {}",
                        ARCHITECTURES.join(", ")
                    ),
                ));
            }
        }
        for (filter, values) in &raw.filters {
            let filter_key = key.key("filters").key(filter);
            if filter == "name" || filter == "architecture" {
                return Err(self.invalid(
                    filter_key,
                    format!("set the `{filter}` filter with the `{filter}` key of `latest_ami`"),
                ));
            }
            if values.is_empty() {
                return Err(self.invalid(
                    filter_key,
                    format!("filter `{filter}` needs at least one value"),
                ));
            }
        }
        Ok(AmiQuery {
            owners: raw.owners,
            name: raw.name,
            architecture: raw.architecture,
            filters: raw.filters,
        })
    }
}

/// Builds the validated spec. `name` has been validated already.
pub(crate) fn build(
    name: String,
    path: &Path,
    raw: RawSpec,
    map: &SourceMap<'_>,
) -> Result<AppSpec, SpecError> {
    let check = Checker { map };
    let root = KeyPath::root();
    let template = resolve_template(&check, path, &raw.template)?;

    if raw.parameters.len() > MAX_PARAMETERS {
        return Err(check.invalid(
            root.key("parameters"),
            format!(
                "{} parameters, more than CloudFormation's {MAX_PARAMETERS}",
                raw.parameters.len()
            ),
        ));
    }
    let mut parameters = IndexMap::new();
    for (parameter, value) in raw.parameters {
        let key = root.key("parameters").key(&parameter);
        validate_logical_id(&parameter).map_err(|reason| {
            check.invalid(
                key.clone(),
                format!("invalid parameter name `{parameter}`: {reason}"),
            )
        })?;
        let source = check.value_source(key, value)?;
        parameters.insert(parameter, source);
    }

    let tags = tags(&check, raw.tags)?;
    let stack = stack_settings(&check, raw.stack)?;
    let router = router(&check, raw.router)?;
    let strategy = strategy(&check, raw.strategy, &router)?;
    let gates = gates(&check, raw.gates, &router)?;
    let retention = retention(&check, raw.retention)?;
    let rotation = rotation(&check, raw.rotation, &parameters)?;
    let check_spec = check_section(&check, raw.check)?;
    let aws = aws_target(&check, raw.aws)?;
    let notify = notify(&check, raw.notify)?;

    Ok(AppSpec {
        name,
        path: path.to_owned(),
        template,
        description: raw.description,
        parameters,
        tags,
        stack,
        router,
        strategy,
        gates,
        retention,
        rotation,
        check: check_spec,
        aws,
        notify,
    })
}

/// What is wrong with the shape of a region name, if anything. Every AWS region is named
/// `<area>-<words>-<number>` (us-east-1, ap-southeast-2, us-gov-west-1, cn-north-1,
/// us-isob-east-1, eusc-de-east-1: AWS General Reference, "Regional endpoints"); whether the region exists is
/// AWS's to say, since new ones open every year.
pub(crate) fn region_name_problem(region: &str) -> Option<String> {
    let parts: Vec<&str> = region.split('-').collect();
    let letters = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase());
    let (last, words) = parts.split_last()?;
    // The area is two letters (`us`, `eu`), or four for the European Sovereign Cloud (`eusc`).
    let well_formed = parts.len() >= 3
        && (2..=4).contains(&parts[0].len())
        && words.iter().all(|part| letters(part))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit());
    if well_formed {
        return None;
    }
    // us-east-1a: an availability zone, one letter after the region's number.
    let zone_of = last
        .strip_suffix(|c: char| c.is_ascii_lowercase())
        .filter(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
        .map(|_| &region[..region.len() - 1])
        .filter(|candidate| region_name_problem(candidate).is_none());
    Some(match zone_of {
        Some(region_of_zone) => format!(
            "`{region}` is an availability zone, not a region: the region is `{region_of_zone}`"
        ),
        None => format!("`{region}` is not an AWS region name (e.g. eu-west-1)"),
    })
}

/// `[aws]`: a region name and a role ARN of the right shape (the rest is AWS's to judge).
fn aws_target(check: &Checker<'_>, raw: RawAws) -> Result<AwsTarget, SpecError> {
    let key = KeyPath::root().key("aws");
    if let Some(region) = &raw.region {
        if let Some(problem) = region_name_problem(region) {
            return Err(check.invalid(key.key("region"), problem));
        }
    }
    if let Some(role) = &raw.role_arn {
        let parts: Vec<&str> = role.splitn(6, ':').collect();
        let valid = parts.len() == 6
            && parts[0] == "arn"
            && parts[2] == "iam"
            && parts[4].len() == 12
            && parts[4].chars().all(|c| c.is_ascii_digit())
            && parts[5].starts_with("role/");
        if !valid {
            return Err(check.invalid_with_hint(
                key.key("role_arn"),
                format!("`{role}` is not an IAM role ARN"),
                "arn:aws:iam::<12-digit account>:role/<name>",
            ));
        }
    } else if raw.external_id.is_some() || raw.session_name.is_some() {
        return Err(check.invalid(
            key.key("role_arn"),
            "`external_id` and `session_name` go with `role_arn`",
        ));
    }
    if let Some(name) = &raw.session_name {
        // STS RoleSessionName: 2-64 of [\w+=,.@-].
        let valid = (2..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        if !valid {
            return Err(check.invalid(
                key.key("session_name"),
                format!(
                    "`{name}` is not an STS session name (2 to 64 of letters, digits and _+=,.@-)"
                ),
            ));
        }
    }
    Ok(AwsTarget {
        region: raw.region,
        profile: raw.profile,
        role_arn: raw.role_arn,
        external_id: raw.external_id,
        session_name: raw.session_name,
    })
}

/// `[notify]`: an SNS topic source and/or a webhook URL, whose token header comes from the
/// environment when a notification is sent.
fn notify(check: &Checker<'_>, raw: RawNotify) -> Result<NotifySpec, SpecError> {
    let key = KeyPath::root().key("notify");
    let sns_topic = raw
        .sns_topic
        .map(|topic| check.value_source(key.key("sns_topic"), topic))
        .transpose()?;
    if let Some(ValueSource::Literal(arn)) = &sns_topic {
        // arn:aws:sns:<region>:<account>:<name> (also arn:aws-cn:, arn:aws-us-gov:).
        let fields: Vec<&str> = arn.split(':').collect();
        if fields.len() != 6 || fields[0] != "arn" || fields[2] != "sns" || fields[5].is_empty() {
            return Err(check.invalid_with_hint(
                key.key("sns_topic"),
                format!("`{arn}` is not an SNS topic ARN"),
                "arn:aws:sns:<region>:<account>:<topic>, or { stack_output = \"…\", output = \"…\" }",
            ));
        }
    }
    let webhook = match raw.webhook {
        None => None,
        Some(webhook) => {
            let webhook_key = key.key("webhook");
            // The URL is not repeated in these messages: a chat webhook's path is a credential.
            let probe = crate::notify::Webhook {
                url: webhook.url.clone(),
                header: webhook
                    .header
                    .as_ref()
                    .map(|name| (name.clone(), "probe".to_string())),
            };
            if let Err(error) = probe.check() {
                let field = match error {
                    crate::notify::NotifyError::BadHeaderName(_) => "header",
                    _ => "url",
                };
                return Err(check.invalid(webhook_key.key(field), error.to_string()));
            }
            if let Some((_, rest)) = webhook.url.split_once("://") {
                let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                if authority.contains('@') {
                    return Err(check.invalid_with_hint(
                        webhook_key.key("url"),
                        "the URL carries a user name or password, which would be sent in clear and shown in logs",
                        "send the credential as a header whose value comes from the environment: header = \"Authorization\", header_env = \"CHAT_WEBHOOK_TOKEN\"",
                    ));
                }
            }
            let header = match (webhook.header, webhook.header_env) {
                (None, None) => None,
                (Some(name), Some(var)) => {
                    if var.is_empty() || var.contains(['=', '\0']) {
                        return Err(check.invalid(
                            webhook_key.key("header_env"),
                            format!("`{var}` is not an environment variable name"),
                        ));
                    }
                    Some((name, var))
                }
                (Some(_), None) => return Err(check.invalid_with_hint(
                    webhook_key.key("header"),
                    "the header's value comes from an environment variable: add `header_env`",
                    "a token never goes in the spec: header = \"Authorization\", header_env = \"CHAT_WEBHOOK_TOKEN\"",
                )),
                (None, Some(_)) => return Err(check.invalid(webhook_key.key("header_env"), "`header_env` goes with `header`, the header's name")),
            };
            Some(WebhookSpec {
                url: webhook.url,
                header,
            })
        }
    };
    Ok(NotifySpec { sns_topic, webhook })
}

/// `[check] ignore`: every rule id is one of `cutover check`'s, and every reason is given.
fn check_section(check: &Checker<'_>, raw: RawCheck) -> Result<CheckSpec, SpecError> {
    let mut ignore = Vec::new();
    for (index, entry) in raw.ignore.into_iter().enumerate() {
        let key = KeyPath::root().key("check").key("ignore").index(index);
        if !crate::check::RULES.iter().any(|rule| rule.id == entry.rule) {
            let ids: Vec<&str> = crate::check::RULES.iter().map(|rule| rule.id).collect();
            return Err(check.invalid_with_hint(
                key.key("rule"),
                format!("`{}` is not a rule of `cutover check`", entry.rule),
                format!("the rules are {}", ids.join(", ")),
            ));
        }
        if entry.reason.trim().is_empty() {
            return Err(check.invalid(
                key.key("reason"),
                "give the reason this finding is accepted; `cutover check` repeats it",
            ));
        }
        ignore.push(IgnoreRule {
            rule: entry.rule,
            resource: entry.resource,
            reason: entry.reason,
        });
    }
    Ok(CheckSpec { ignore })
}

fn resolve_template(
    check: &Checker<'_>,
    spec_path: &Path,
    template: &str,
) -> Result<PathBuf, SpecError> {
    let key = KeyPath::root().key("template");
    if template.is_empty() {
        return Err(check.invalid(key, "`template` is empty"));
    }
    let folder = spec_path.parent().unwrap_or(Path::new(""));
    let resolved = normalize(&folder.join(template));
    if !resolved.is_file() {
        return Err(SpecError::TemplateMissing {
            at: check.map.locate(&key),
            template: resolved,
        });
    }
    Ok(resolved)
}

/// Removes `.` and `name/..` so messages show `templates/web.yaml`, not `stacks/../templates/web.yaml`.
fn normalize(path: &Path) -> PathBuf {
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(
                    normalized.components().next_back(),
                    Some(Component::Normal(_))
                ) =>
            {
                normalized.pop();
            }
            other => normalized.push(other),
        }
    }
    if normalized.as_os_str().is_empty() {
        normalized.push(".");
    }
    normalized
}

fn tags(
    check: &Checker<'_>,
    raw: IndexMap<String, String>,
) -> Result<IndexMap<String, String>, SpecError> {
    let key = KeyPath::root().key("tags");
    if raw.len() > MAX_TAGS {
        return Err(check.invalid(
            key,
            format!(
                "{} tags, more than the {MAX_TAGS} a stack can have",
                raw.len()
            ),
        ));
    }
    for (tag, value) in &raw {
        let tag_key = key.key(tag);
        let lower = tag.to_ascii_lowercase();
        if lower.starts_with("aws:") || lower.starts_with("cutover:") {
            return Err(check.invalid_with_hint(
                tag_key,
                format!("tag `{tag}` uses a reserved prefix"),
                "`aws:` tags belong to AWS and `cutover:` tags to cutover itself",
            ));
        }
        if tag.is_empty() || tag.chars().count() > 128 {
            return Err(check.invalid(tag_key, "a tag key is 1 to 128 characters"));
        }
        if value.chars().count() > 256 {
            return Err(check.invalid(tag_key, "a tag value is at most 256 characters"));
        }
    }
    Ok(raw)
}

fn stack_settings(check: &Checker<'_>, raw: RawStack) -> Result<StackSettings, SpecError> {
    let key = KeyPath::root().key("stack");
    for (index, capability) in raw.capabilities.iter().enumerate() {
        if raw.capabilities[..index].contains(capability) {
            return Err(check.invalid(
                key.key("capabilities").index(index),
                format!("{capability} is listed twice"),
            ));
        }
    }
    let timeout = raw
        .timeout
        .map(|timeout| check.positive(key.key("timeout"), timeout))
        .transpose()?;
    if let Some(bucket) = &raw.template_bucket {
        validate_bucket_name(bucket).map_err(|reason| {
            check.invalid(
                key.key("template_bucket"),
                format!("invalid bucket name `{bucket}`: {reason}"),
            )
        })?;
    }
    if raw.rollback_alarms.len() > MAX_ROLLBACK_TRIGGERS {
        return Err(check.invalid(
            key.key("rollback_alarms"),
            format!("{} rollback alarms, more than CloudFormation's {MAX_ROLLBACK_TRIGGERS} rollback triggers", raw.rollback_alarms.len()),
        ));
    }
    alarm_names(check, &key.key("rollback_alarms"), &raw.rollback_alarms)?;
    let rollback_monitoring = match raw.rollback_monitoring {
        None => None,
        Some(RawDuration(monitoring)) => {
            let monitoring_key = key.key("rollback_monitoring");
            if monitoring > MAX_ROLLBACK_MONITORING
                || monitoring.as_secs() % 60 != 0
                || monitoring.subsec_nanos() != 0
            {
                return Err(check.invalid(
                    monitoring_key,
                    "CloudFormation monitors in whole minutes, from 0 to 180 (\"3h\")",
                ));
            }
            if raw.rollback_alarms.is_empty() {
                return Err(check.invalid(
                    monitoring_key,
                    "`rollback_monitoring` needs `rollback_alarms` to watch",
                ));
            }
            Some(monitoring)
        }
    };
    Ok(StackSettings {
        capabilities: raw.capabilities,
        termination_protection: raw.termination_protection,
        timeout,
        template_bucket: raw.template_bucket,
        rollback_alarms: raw.rollback_alarms,
        rollback_monitoring,
    })
}

fn alarm_names(check: &Checker<'_>, key: &KeyPath, alarms: &[String]) -> Result<(), SpecError> {
    for (index, alarm) in alarms.iter().enumerate() {
        if alarm.is_empty() || (alarm.len() > 255 && !alarm.starts_with("arn:")) {
            return Err(check.invalid(key.index(index), "an alarm name is 1 to 255 characters"));
        }
    }
    Ok(())
}

fn gates(check: &Checker<'_>, raw: RawGates, router: &RouterSpec) -> Result<GatesSpec, SpecError> {
    let key = KeyPath::root().key("gates");
    let target_health = match raw.target_health {
        None => None,
        Some(gate) => {
            let gate_key = key.key("target_health");
            let target_group_output = match (gate.target_group_output, router) {
                (Some(output), _) => check.output_name(gate_key.key("target_group_output"), &output)?,
                (None, RouterSpec::Alb { target_group_output, .. }) => target_group_output.clone(),
                (None, other) => {
                    return Err(check.invalid_with_hint(
                        gate_key,
                        format!("the target_health gate needs `target_group_output` with router kind `{}`", other.kind()),
                        "name the release output that holds the target group ARN, e.g. target_health = { min_healthy = 1, target_group_output = \"TargetGroupArn\" }",
                    ))
                }
            };
            Some(TargetHealthGate {
                min_healthy: gate.min_healthy.unwrap_or(1),
                target_group_output,
            })
        }
    };
    alarm_names(check, &key.key("alarms"), &raw.alarms)?;
    let mut alarm_outputs = Vec::new();
    for (index, output) in raw.alarm_outputs.iter().enumerate() {
        alarm_outputs.push(check.output_name(key.key("alarm_outputs").index(index), output)?);
    }
    let http = raw.http.map(|http| -> Result<HttpGate, SpecError> {
        let http_key = key.key("http");
        let url = match (http.url, http.url_output) {
            (Some(url), None) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(check.invalid(http_key.key("url"), format!("`{url}` is not an http:// or https:// URL")));
                }
                HttpTarget::Url(url)
            }
            (None, Some(output)) => HttpTarget::Output(check.output_name(http_key.key("url_output"), &output)?),
            (Some(_), Some(_)) => return Err(check.invalid(http_key.key("url_output"), "give `url` or `url_output`, not both")),
            (None, None) => return Err(check.invalid(http_key, "the http gate needs `url` or `url_output` (a release stack output holding the URL)")),
        };
        let expect_status = http.expect_status.unwrap_or(200);
        if !(100..=599).contains(&expect_status) {
            return Err(check.invalid(http_key.key("expect_status"), format!("{expect_status} is not an HTTP status (100 to 599)")));
        }
        let timeout = match http.timeout {
            Some(timeout) => check.positive(http_key.key("timeout"), timeout)?,
            None => Duration::from_secs(3),
        };
        Ok(HttpGate { url, expect_status, body_contains: http.body_contains, timeout, retries: http.retries.unwrap_or(3) })
    }).transpose()?;
    if raw
        .command
        .as_deref()
        .is_some_and(|command| command.trim().is_empty())
    {
        return Err(check.invalid(key.key("command"), "the command is empty"));
    }
    let interval = match raw.interval {
        Some(interval) => check.positive(key.key("interval"), interval)?,
        None => Duration::from_secs(10),
    };
    let warmup = raw
        .warmup
        .map_or(super::types::DEFAULT_GATE_WARMUP, |warmup| warmup.0);
    let compare = raw
        .compare
        .map(|raw| compare(check, raw, router))
        .transpose()?;
    Ok(GatesSpec {
        target_health,
        instance_status: raw.instance_status,
        alarms: raw.alarms,
        alarm_outputs,
        http,
        command: raw.command,
        compare,
        interval,
        warmup,
    })
}

/// Target group metrics of `AWS/ApplicationELB` that count failed requests: compared as a rate
/// per request (Elastic Load Balancing User Guide, "CloudWatch metrics for your Application
/// Load Balancer", target group dimensions).
const RATE_METRICS: &[&str] = &[
    "HTTPCode_Target_5XX_Count",
    "HTTPCode_Target_4XX_Count",
    "TargetConnectionErrorCount",
    "TargetTLSNegotiationErrorCount",
];
/// Target group metrics with a value per request, compared minute by minute.
const DISTRIBUTION_METRICS: &[&str] = &["TargetResponseTime"];
const DEFAULT_RATE_TOLERANCE: f64 = 0.005;
const DEFAULT_DISTRIBUTION_TOLERANCE: f64 = 0.1;

fn compare(
    check: &Checker<'_>,
    raw: RawCompare,
    router: &RouterSpec,
) -> Result<CompareGate, SpecError> {
    let key = KeyPath::root().key("gates").key("compare");
    if !matches!(router, RouterSpec::Alb { .. }) {
        return Err(check.invalid(
            key,
            format!(
                "the compare gate reads target group metrics: it needs router kind `alb`, not `{}`",
                router.kind()
            ),
        ));
    }
    let window = match raw.window {
        Some(window) => check.positive(key.key("window"), window)?,
        None => Duration::from_secs(10 * 60),
    };
    // Metrics come one per minute, and the minute under way is never complete: a window of N
    // minutes holds at most N − 1 whole ones.
    if window < Duration::from_secs(120) {
        return Err(check.invalid(
            key.key("window"),
            "the window is at least 2m: metrics come one per minute and the current minute is never complete",
        ));
    }
    if raw.min_requests == Some(0) {
        return Err(check.invalid(
            key.key("min_requests"),
            "at least 1 request on each side is needed to compare rates",
        ));
    }
    if raw.min_minutes == Some(0) {
        return Err(check.invalid(
            key.key("min_minutes"),
            "at least 1 minute on each side is needed to compare values",
        ));
    }
    let confidence = raw.confidence.unwrap_or(0.95);
    if !(0.5..1.0).contains(&confidence) {
        return Err(check.invalid(
            key.key("confidence"),
            format!("{confidence} is not a confidence between 0.5 and 1 (e.g. 0.95)"),
        ));
    }
    if raw.metrics.is_empty() {
        return Err(check.invalid_with_hint(
            key.key("metrics"),
            "the compare gate needs at least one metric",
            "e.g. metrics = [{ name = \"HTTPCode_Target_5XX_Count\" }, { name = \"TargetResponseTime\", statistic = \"p95\" }]",
        ));
    }
    let mut metrics = Vec::new();
    for (index, metric) in raw.metrics.into_iter().enumerate() {
        let metric_key = key.key("metrics").index(index);
        let kind = if RATE_METRICS.contains(&metric.name.as_str()) {
            if metric.statistic.is_some() {
                return Err(check.invalid(metric_key.key("statistic"), format!("{} is compared as a rate per request (Sum of errors over Sum of RequestCount): it takes no statistic", metric.name)));
            }
            CompareKind::RatePerRequest
        } else if DISTRIBUTION_METRICS.contains(&metric.name.as_str()) {
            let statistic = metric.statistic.unwrap_or_else(|| "Average".into());
            if !is_statistic(&statistic) {
                return Err(check.invalid(metric_key.key("statistic"), format!("`{statistic}` is not a CloudWatch statistic: Average, Minimum, Maximum or a percentile such as p95 or p99.9")));
            }
            CompareKind::Distribution { statistic }
        } else {
            return Err(check.invalid_with_hint(
                metric_key.key("name"),
                format!(
                    "`{}` is not a target group metric the compare gate knows",
                    metric.name
                ),
                format!(
                    "rates per request: {}; per-minute values: {}",
                    RATE_METRICS.join(", "),
                    DISTRIBUTION_METRICS.join(", ")
                ),
            ));
        };
        let tolerance = metric.tolerance.unwrap_or(match kind {
            CompareKind::RatePerRequest => DEFAULT_RATE_TOLERANCE,
            CompareKind::Distribution { .. } => DEFAULT_DISTRIBUTION_TOLERANCE,
        });
        let limit = match kind {
            CompareKind::RatePerRequest => 1.0,
            CompareKind::Distribution { .. } => 10.0,
        };
        if !(0.0..limit).contains(&tolerance) {
            return Err(check.invalid(metric_key.key("tolerance"), match kind {
                CompareKind::RatePerRequest => format!("{tolerance} is not a rate difference between 0 and 1 (0.01 is one percentage point)"),
                CompareKind::Distribution { .. } => format!("{tolerance} is not a relative tolerance between 0 and 10 (0.1 is ten per cent)"),
            }));
        }
        if metrics
            .iter()
            .any(|known: &CompareMetric| known.name == metric.name && known.kind == kind)
        {
            return Err(check.invalid(
                metric_key.key("name"),
                format!("{} is compared twice", metric.name),
            ));
        }
        metrics.push(CompareMetric {
            name: metric.name,
            kind,
            tolerance,
        });
    }
    let min_minutes = raw.min_minutes.unwrap_or(5);
    let whole_minutes = window.as_secs() / 60 - 1;
    let has_distribution = metrics
        .iter()
        .any(|metric| matches!(metric.kind, CompareKind::Distribution { .. }));
    if has_distribution && (min_minutes as u64) > whole_minutes {
        return Err(check.invalid_with_hint(
            key.key("window"),
            format!(
                "a window of {} holds at most {whole_minutes} whole minutes, fewer than min_minutes = {min_minutes}: latency could never be compared",
                humantime::format_duration(window)
            ),
            format!("make the window at least {}m, or lower min_minutes", min_minutes + 1),
        ));
    }
    Ok(CompareGate {
        window,
        confidence,
        warmup: raw.warmup.map_or(window, |warmup| warmup.0),
        min_requests: raw.min_requests.unwrap_or(100),
        min_minutes,
        metrics,
    })
}

/// `Average`, `Minimum`, `Maximum`, or a percentile `pNN` / `pNN.N` (CloudWatch statistics).
fn is_statistic(statistic: &str) -> bool {
    if matches!(statistic, "Average" | "Minimum" | "Maximum") {
        return true;
    }
    statistic
        .strip_prefix('p')
        .and_then(|number| number.parse::<f64>().ok())
        .is_some_and(|percentile| percentile > 0.0 && percentile < 100.0)
}

fn retention(check: &Checker<'_>, raw: RawRetention) -> Result<RetentionSpec, SpecError> {
    let retire_after = raw
        .retire_after
        .map(|after| check.positive(KeyPath::root().key("retention").key("retire_after"), after))
        .transpose()?;
    Ok(RetentionSpec {
        keep: raw.keep.unwrap_or(1),
        retire_after,
    })
}

fn rotation(
    check: &Checker<'_>,
    raw: RawRotation,
    parameters: &IndexMap<String, ValueSource>,
) -> Result<RotationSpec, SpecError> {
    let key = KeyPath::root().key("rotation");
    let max_age = raw
        .max_age
        .map(|age| check.positive(key.key("max_age"), age))
        .transpose()?;
    let has_ami_source = parameters
        .values()
        .any(|source| matches!(source, ValueSource::LatestAmi(_) | ValueSource::Ssm { .. }));
    if raw.refresh_ami && !has_ami_source {
        return Err(check.invalid_with_hint(
            key.key("refresh_ami"),
            "`refresh_ami = true` but no parameter comes from `latest_ami` or `ssm`",
            "give the AMI parameter a source that can change, e.g. AmiId = { ssm = \"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64\" }",
        ));
    }
    Ok(RotationSpec {
        max_age,
        refresh_ami: raw.refresh_ami,
    })
}
