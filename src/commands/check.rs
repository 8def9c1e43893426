//! `cutover check APP… | FILE… | --all`: release-safety findings. A file is checked without any
//! AWS call; an app is its template checked with the app's silences, plus (read-only) that every
//! parameter source resolves, that the route and the gates' alarms exist, and that the template
//! has every output the spec names.

use std::io::Write;
use std::path::Path;

use crate::aws::cloudwatch::CloudWatch;
use crate::aws::{self, AwsContext, AwsError, ConnectOptions};
use crate::check::{self, reporters, CheckError, Finding, Report, Severity};
use crate::cli::{self, CheckArgs, GlobalArgs, OutputFormat};
use crate::deploy::{preflight, DeployError};
use crate::error::{Diagnostic, Exit};
use crate::output::OutputSettings;
use crate::release::aws_sources::AwsSources;
use crate::release::live::observe_app;
use crate::release::retire::error_line;
use crate::spec::{self, AppSpec, SpecError};
use crate::template::{self, Template, TemplateError};

#[derive(Debug, thiserror::Error)]
pub enum CheckCommandError {
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("could not connect to AWS to check app {app}")]
    Connect {
        app: String,
        #[source]
        source: AwsError,
    },
    #[error("nothing to check: name template files or apps, or pass --all")]
    NoTargets,
    #[error("nothing to check: {stacks_dir} holds no app specs (<app>.toml)")]
    NoApps { stacks_dir: String },
    #[error("could not write the findings")]
    Write(#[source] std::io::Error),
}

impl Diagnostic for CheckCommandError {
    fn exit(&self) -> Exit {
        match self {
            CheckCommandError::Spec(error) => error.exit(),
            CheckCommandError::Template(error) => error.exit(),
            _ => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            CheckCommandError::Check(error) => error.hint(),
            CheckCommandError::Spec(error) => error.hint(),
            CheckCommandError::Template(error) => error.hint(),
            CheckCommandError::Connect { source, .. } => source.hint(),
            CheckCommandError::NoTargets => Some(
                "e.g. `cutover check templates/web.yaml`, `cutover check web`, `cutover check --all`"
                    .into(),
            ),
            CheckCommandError::NoApps { .. } => {
                Some("pass --stacks-dir (or CUTOVER_STACKS_DIR) to the folder of the specs".into())
            }
            CheckCommandError::Write(_) => None,
        }
    }
}

/// What one argument names.
enum Subject {
    File(String),
    App(Box<AppSpec>),
}

pub async fn run(
    args: CheckArgs,
    global: &GlobalArgs,
    settings: &OutputSettings,
) -> Result<Exit, CheckCommandError> {
    let threshold = match args.fail_on {
        cli::Severity::Error => Severity::Error,
        cli::Severity::Warning => Severity::Warning,
        cli::Severity::Note => Severity::Note,
    };
    // Every argument is read before anything is checked: a typo fails fast.
    let names = if args.all {
        spec::list_apps(&global.stacks_dir)?
    } else {
        args.targets.clone()
    };
    if names.is_empty() {
        return Err(if args.all {
            CheckCommandError::NoApps {
                stacks_dir: global.stacks_dir.display().to_string(),
            }
        } else {
            CheckCommandError::NoTargets
        });
    }
    // The same target named twice is checked once.
    let mut seen = std::collections::HashSet::new();
    let names: Vec<String> = names
        .into_iter()
        .filter(|name| seen.insert(name.clone()))
        .collect();
    // A subject that cannot be checked (a missing file, a broken spec) is reported on stderr and
    // makes the exit code 2, but the others are still checked and reported: a CI job gets every
    // finding it can, not an empty report.
    let mut problems: Vec<CheckCommandError> = Vec::new();
    let mut subjects = Vec::new();
    for name in &names {
        let is_file = Path::new(name).is_file();
        let is_app = spec::spec_path(&global.stacks_dir, name).is_file();
        if is_file && is_app {
            tracing::warn!(
                "{name} is both a file and an app of {}: checking the file",
                global.stacks_dir.display()
            );
        }
        if is_file {
            subjects.push(Subject::File(name.clone()));
        } else if is_app {
            match spec::load_app(&global.stacks_dir, name) {
                Ok(spec) => subjects.push(Subject::App(Box::new(spec))),
                Err(error) => problems.push(error.into()),
            }
        } else {
            problems.push(
                CheckError::NotFound {
                    path: name.clone(),
                    stacks_dir: global.stacks_dir.display().to_string(),
                }
                .into(),
            );
        }
    }
    let contexts = aws::Contexts::default();
    let mut reports = Vec::new();
    for subject in subjects {
        match check_subject(subject, global, &contexts).await {
            Ok(report) => reports.push(report),
            Err(error) => problems.push(error),
        }
    }
    let text = match settings.format {
        OutputFormat::Sarif => reporters::sarif::render(&reports),
        OutputFormat::Json => reporters::json::render(&reports, threshold),
        OutputFormat::Text => {
            reporters::text::render(&reports, threshold, settings.stdout_palette())
        }
    };
    // A text report of nothing would read as "all clear"; data formats are always written, so a
    // CI step that uploads them finds a valid file.
    if !(reports.is_empty() && settings.format == OutputFormat::Text) {
        write_out(&text)?;
    }
    let failed = reports.iter().any(|report| report.fails_at(threshold));
    match problems.len() {
        0 => Ok(if failed { Exit::Changes } else { Exit::Success }),
        1 => Err(problems.remove(0)),
        count => {
            // Each one is reported; the last is the command's error.
            let last = problems.pop().expect("more than one");
            for problem in &problems {
                crate::output::print_error(
                    problem,
                    problem.hint().as_deref(),
                    settings.stderr_palette(),
                );
            }
            tracing::debug!("{count} subjects could not be checked");
            Err(last)
        }
    }
}

/// One file or app, checked.
async fn check_subject(
    subject: Subject,
    global: &GlobalArgs,
    contexts: &aws::Contexts,
) -> Result<Report, CheckCommandError> {
    Ok(match subject {
        Subject::File(path) => {
            let (template, _) = template::load_file_for_diff(Path::new(&path))?;
            let mut findings = check::check(&template, &[])?;
            findings.extend(quota_findings(&template));
            Report {
                subject: path,
                findings,
            }
        }
        Subject::App(spec) => {
            let (template, _) = template::load_file_for_diff(&spec.template)?;
            let mut findings = check::check(&template, &spec.check.ignore)?;
            let mut more: Vec<Finding> = quota_findings(&template);
            more.extend(missing_outputs(&spec, &template));
            let ctx = contexts
                .get(&ConnectOptions::for_app(global, &spec))
                .await
                .map_err(|source| CheckCommandError::Connect {
                    app: spec.name.clone(),
                    source,
                })?;
            more.extend(app_findings(&ctx, &spec, &template).await);
            check::apply_spec_silences(&mut more, &spec.check.ignore);
            findings.extend(more);
            Report {
                subject: format!("app {} ({})", spec.name, spec.path.display()),
                findings,
            }
        }
    })
}

/// Writes the report; a reader that stopped early (`| head`) is not an error.
fn write_out(text: &str) -> Result<(), CheckCommandError> {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                stdout.write_all(b"\n")
            }
        })
        .and_then(|()| stdout.flush());
    match written {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(CheckCommandError::Write),
    }
}

/// CO206: the template is over one of CloudFormation's quotas.
fn quota_findings(template: &Template) -> Vec<Finding> {
    let rule = check::rule("CO206");
    let finding = |path: &str, line: Option<usize>, message: String| Finding {
        rule: rule.id,
        severity: rule.severity,
        file: template.origin.clone(),
        line,
        resource: None,
        path: path.to_string(),
        message,
        fix: rule.fix.to_string(),
        silenced: None,
    };
    let mut findings = Vec::new();
    if template.body.len() > template::BODY_LIMIT {
        findings.push(finding(
            "(template body)",
            None,
            format!(
                "the template is {} bytes, over CloudFormation's limit of {} bytes",
                template.body.len(),
                template::BODY_LIMIT
            ),
        ));
    }
    let sections = [
        ("Resources", template.resources(), template::RESOURCE_LIMIT),
        (
            "Parameters",
            template.parameters(),
            template::PARAMETER_LIMIT,
        ),
        ("Outputs", template.outputs(), template::OUTPUT_LIMIT),
    ];
    for (section, entries, limit) in sections {
        let count = entries.map_or(0, |entries| entries.len());
        if count > limit {
            findings.push(finding(
                section,
                template.lines().line_of(&[section]),
                format!(
                    "{count} {}, over CloudFormation's limit of {limit}",
                    section.to_ascii_lowercase()
                ),
            ));
        }
    }
    findings
}

/// CO303: outputs the spec names that the template lacks.
fn missing_outputs(spec: &AppSpec, template: &Template) -> Vec<Finding> {
    let declared = template.outputs();
    let rule = check::rule("CO303");
    preflight::release_outputs(spec)
        .into_iter()
        .filter(|(_, output)| declared.is_none_or(|outputs| !outputs.contains_key(*output)))
        .map(|(key, output)| Finding {
            rule: rule.id,
            severity: rule.severity,
            file: template.origin.clone(),
            line: template.lines().line_of(&["Outputs"]),
            resource: Some(output.to_string()),
            path: format!("Outputs.{output}"),
            message: format!("the template has no output {output}, which the spec's {key} names"),
            fix: rule.fix.to_string(),
            silenced: None,
        })
        .collect()
}

/// CO301 and CO302: what only AWS can tell, read-only.
async fn app_findings(ctx: &AwsContext, spec: &AppSpec, template: &Template) -> Vec<Finding> {
    let spec_file = spec.path.display().to_string();
    let finding = |id: &'static str, resource: Option<String>, path: String, message: String| {
        let rule = check::rule(id);
        // The spec key the finding is about (`parameters.VpcId`, `gates.alarms`, `router`).
        let key = path
            .split('.')
            .fold(crate::spec::KeyPath::root(), |key, segment| {
                key.key(segment)
            });
        Finding {
            rule: rule.id,
            severity: rule.severity,
            file: spec_file.clone(),
            line: crate::spec::key_line(&spec.path, &key),
            resource,
            path,
            message,
            fix: rule.fix.to_string(),
            silenced: None,
        }
    };
    let mut findings = Vec::new();
    let aws = AwsSources::new(ctx);
    let sources = aws.sources();
    for (name, source) in &spec.parameters {
        // Only parameters the template declares are sent; the spec's check refuses others.
        if template
            .parameters()
            .is_some_and(|declared| !declared.contains_key(name))
        {
            continue;
        }
        if let Err(error) = sources
            .resolve_value(&format!("parameter {name}"), source, &spec.path)
            .await
        {
            findings.push(finding(
                "CO301",
                Some(name.clone()),
                format!("parameters.{name}"),
                error_line(&error),
            ));
        }
    }
    if let Err(error) = preflight::rollback_alarm_arns(spec) {
        findings.push(finding(
            "CO302",
            None,
            "stack.rollback_alarms".into(),
            error_line(&error),
        ));
    }
    // The gates' alarms are checked whatever the route's state.
    let alarms = preflight::check_alarms(&CloudWatch::new(ctx), spec).await;
    if let Err(error) = &alarms {
        findings.push(finding(
            "CO302",
            None,
            "gates.alarms".into(),
            error_line(error),
        ));
    }
    let route = match observe_app(ctx, spec).await {
        Ok(app) => preflight::check_route(ctx, spec, &app, true)
            .await
            .map(|_| ()),
        Err(error) => Err(crate::deploy::DeployError::from(
            crate::deploy::handover::HandoverError::from(error),
        )),
    };
    match route {
        // Already reported above.
        Err(DeployError::MissingAlarms { .. } | DeployError::Alarms { .. }) if alarms.is_err() => {}
        Err(error) => findings.push(finding("CO302", None, "router".into(), error_line(&error))),
        Ok(()) => {}
    }
    findings
}
