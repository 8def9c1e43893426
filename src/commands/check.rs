//! `cutover check APP… | FILE… | --all`: release-safety findings. A file is checked without any
//! AWS call; an app is its template checked with the app's silences, plus (read-only) that every
//! parameter source resolves, that the route and the gates' alarms exist, and that the template
//! has every output the spec names.

use std::io::Write;
use std::path::Path;

use crate::aws::{self, AwsContext, AwsError, ConnectOptions};
use crate::check::{self, reporters, CheckError, Finding, Report, Severity};
use crate::cli::{self, CheckArgs, GlobalArgs, OutputFormat};
use crate::deploy::preflight;
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
        return Err(CheckCommandError::NoTargets);
    }
    let mut subjects = Vec::new();
    for name in &names {
        if Path::new(name).is_file() {
            subjects.push(Subject::File(name.clone()));
        } else if spec::spec_path(&global.stacks_dir, name).is_file() {
            subjects.push(Subject::App(Box::new(spec::load_app(
                &global.stacks_dir,
                name,
            )?)));
        } else {
            return Err(CheckError::NotFound {
                path: name.clone(),
                stacks_dir: global.stacks_dir.display().to_string(),
            }
            .into());
        }
    }
    let mut context: Option<AwsContext> = None;
    let mut reports = Vec::new();
    for subject in subjects {
        reports.push(match subject {
            Subject::File(path) => {
                let (template, over_quota) = template::load_file_for_diff(Path::new(&path))?;
                let mut findings = check::check(&template, &[]);
                findings.extend(quota_finding(&template, over_quota));
                Report {
                    subject: path,
                    findings,
                }
            }
            Subject::App(spec) => {
                let (template, over_quota) = template::load_file_for_diff(&spec.template)?;
                let mut findings = check::check(&template, &spec.check.ignore);
                findings.extend(quota_finding(&template, over_quota));
                findings.extend(missing_outputs(&spec, &template));
                if context.is_none() {
                    let connected = aws::connect(&ConnectOptions::from_args(global))
                        .await
                        .map_err(|source| CheckCommandError::Connect {
                            app: spec.name.clone(),
                            source,
                        })?;
                    context = Some(connected);
                }
                let ctx = context.as_ref().expect("connected above");
                findings.extend(app_findings(ctx, &spec, &template).await);
                Report {
                    subject: format!("app {} ({})", spec.name, spec.path.display()),
                    findings,
                }
            }
        });
    }
    let text = match settings.format {
        OutputFormat::Sarif => reporters::sarif::render(&reports),
        OutputFormat::Json => reporters::json::render(&reports, threshold),
        OutputFormat::Text => {
            reporters::text::render(&reports, threshold, settings.stdout_palette())
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                stdout.write_all(b"\n")
            }
        })
        .and_then(|()| stdout.flush())
        .map_err(CheckCommandError::Write)?;
    Ok(if reports.iter().any(|report| report.fails_at(threshold)) {
        Exit::Changes
    } else {
        Exit::Success
    })
}

/// CO206: the template is over one of CloudFormation's quotas.
fn quota_finding(template: &Template, over_quota: Option<TemplateError>) -> Option<Finding> {
    let error = over_quota?;
    let rule = check::rule("CO206");
    Some(Finding {
        rule: rule.id,
        severity: rule.severity,
        file: template.origin.clone(),
        line: None,
        resource: None,
        path: "(template)".into(),
        message: error.to_string(),
        fix: rule.fix.to_string(),
        silenced: None,
    })
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
        Finding {
            rule: rule.id,
            severity: rule.severity,
            file: spec_file.clone(),
            line: None,
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
    let route = match observe_app(ctx, spec).await {
        Ok(app) => preflight::check_route(ctx, spec, &app, true)
            .await
            .map(|_| ())
            .map_err(|error| error_line(&error)),
        Err(error) => Err(error_line(&error)),
    };
    if let Err(message) = route {
        findings.push(finding("CO302", None, "router".into(), message));
    }
    findings
}
