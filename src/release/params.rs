//! Resolving the spec's `[parameters]` into the strings CloudFormation receives, and checking them
//! against the template's `Parameters` before anything is created.
//!
//! The pure checks (every required template parameter has a value, every spec parameter is
//! declared, environment variables are set) run first, so bad input fails with exit 2 and no AWS
//! call. Remote look-ups (SSM, other stacks' outputs, newest AMI) then run in parallel, each
//! distinct look-up once.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};

use futures_util::future::join_all;
use indexmap::IndexMap;

use crate::aws::AwsError;
use crate::error::{Diagnostic, Exit};
use crate::spec::{AmiQuery, AppSpec, ValueSource};
use crate::template::Template;

pub use super::resolved::{ResolvedParameters, ResolvedValue, MASK};

/// SSM Parameter Store, read with decryption.
pub trait ParameterStore: Sync {
    /// The parameter's value; `None` when it does not exist.
    fn get_parameter(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<StoredParameter>, AwsError>> + Send;
}

/// One SSM parameter's value. `secure` for SecureString: treated as a secret from then on.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredParameter {
    pub value: String,
    pub secure: bool,
}

impl fmt::Debug for StoredParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.secure { MASK } else { &self.value };
        f.debug_struct("StoredParameter")
            .field("value", &value)
            .field("secure", &self.secure)
            .finish()
    }
}

/// EC2 machine images.
pub trait ImageCatalog: Sync {
    /// The available images matching the query (owners, name pattern, architecture, filters).
    fn find_images(
        &self,
        query: &AmiQuery,
    ) -> impl Future<Output = Result<Vec<ImageFacts>, AwsError>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    pub id: String,
    pub name: Option<String>,
    /// As EC2 gives it: RFC 3339, e.g. `2026-03-01T09:12:44.000Z`.
    pub creation_date: Option<String>,
}

/// Outputs of other (long-lived) stacks.
pub trait StackOutputs: Sync {
    /// The stack's outputs, key → value; `None` when the stack does not exist.
    fn stack_outputs(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Option<IndexMap<String, String>>, AwsError>> + Send;
}

/// Reads an environment variable; the process environment in the tool, a map in tests.
pub type EnvLookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// The process environment, as an [`EnvLookup`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    #[error("{what} in {}: environment variable {var} is not set", spec.display())]
    MissingEnv {
        what: String,
        var: String,
        spec: PathBuf,
    },
    #[error("{what} in {}: SSM parameter {name} does not exist", spec.display())]
    SsmMissing {
        what: String,
        name: String,
        spec: PathBuf,
    },
    #[error("{what} in {}: stack {stack} does not exist", spec.display())]
    StackMissing {
        what: String,
        stack: String,
        spec: PathBuf,
    },
    #[error("{what} in {}: stack {stack} has no output {output} (its outputs: {})", spec.display(), list_or_none(available))]
    OutputMissing {
        what: String,
        stack: String,
        output: String,
        available: Vec<String>,
        spec: PathBuf,
    },
    #[error("{what} in {}: no available AMI matches {query}", spec.display())]
    NoImage {
        what: String,
        query: String,
        spec: PathBuf,
    },
    #[error("could not resolve {what} in {} from {source_text}", spec.display())]
    Lookup {
        what: String,
        source_text: String,
        spec: PathBuf,
        #[source]
        source: AwsError,
    },
    #[error(
        "{} sets {} that the template {template} does not declare: {}",
        spec.display(),
        plural(names.len(), "a parameter", "parameters"),
        names.join(", ")
    )]
    Undeclared {
        names: Vec<String>,
        declared: Vec<String>,
        template: String,
        spec: PathBuf,
    },
    #[error(
        "the template {template} requires {} with no Default, and {} gives no value: {}",
        plural(names.len(), "a parameter", "parameters"),
        spec.display(),
        names.join(", ")
    )]
    MissingValues {
        names: Vec<String>,
        template: String,
        spec: PathBuf,
    },
}

impl Diagnostic for ParamError {
    fn exit(&self) -> Exit {
        match self {
            ParamError::Lookup { source, .. } => source.exit(),
            _ => Exit::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ParamError::MissingEnv { var, .. } => Some(format!(
                "export {var} before running cutover, or give the parameter another source"
            )),
            ParamError::SsmMissing { .. } | ParamError::StackMissing { .. } => {
                Some("check the name, the region (--region) and the account".into())
            }
            ParamError::NoImage { .. } => Some(
                "check owners, name pattern and architecture, e.g. with `aws ec2 describe-images`"
                    .into(),
            ),
            ParamError::Undeclared {
                names, declared, ..
            } => {
                let suggestions: Vec<String> = names
                    .iter()
                    .filter_map(|name| {
                        closest(name, declared).map(|found| format!("{name} → {found}?"))
                    })
                    .collect();
                if suggestions.is_empty() {
                    Some(format!("the template declares: {}", list_or_none(declared)))
                } else {
                    Some(format!("did you mean {}", suggestions.join(", ")))
                }
            }
            ParamError::MissingValues { names, spec, .. } => Some(format!(
                "add `{} = ...` under [parameters] in {}",
                names[0],
                spec.display()
            )),
            ParamError::Lookup { source, .. } => source.hint(),
            ParamError::OutputMissing { .. } => None,
        }
    }
}

fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        one.to_string()
    } else {
        many.to_string()
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// A declared name that differs only in case or by one or two edits: the likely typo.
fn closest<'a>(name: &str, declared: &'a [String]) -> Option<&'a str> {
    declared
        .iter()
        .map(|candidate| {
            (
                edit_distance(&name.to_lowercase(), &candidate.to_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Where values come from: the three AWS look-ups and the environment.
pub struct Sources<'a, P, I, S> {
    pub parameters: &'a P,
    pub images: &'a I,
    pub stacks: &'a S,
    pub env: EnvLookup<'a>,
}

/// One distinct remote look-up; parameters that share one share its answer.
#[derive(Debug, Clone, PartialEq)]
enum Lookup {
    Ssm(String),
    Stack(String),
    Ami(AmiQuery),
}

#[derive(Debug)]
enum Answer {
    Ssm(Option<StoredParameter>),
    Stack(Option<IndexMap<String, String>>),
    Ami(Option<ImageFacts>),
}

impl<P: ParameterStore, I: ImageCatalog, S: StackOutputs> Sources<'_, P, I, S> {
    /// Resolves the spec's parameters and checks them against the template.
    pub async fn resolve_parameters(
        &self,
        spec: &AppSpec,
        template: &Template,
    ) -> Result<ResolvedParameters, ParamError> {
        check_against_template(spec, template)?;
        let no_echo = template.no_echo_parameters();
        let whats: Vec<String> = spec
            .parameters
            .keys()
            .map(|name| format!("parameter {name}"))
            .collect();
        let sources: Vec<(&str, &ValueSource)> = whats
            .iter()
            .map(String::as_str)
            .zip(spec.parameters.values())
            .collect();
        let values = self.resolve_all(&sources, &spec.path).await?;
        Ok(spec
            .parameters
            .keys()
            .zip(values)
            .map(|(name, value)| {
                let secret = value.is_secret() || no_echo.contains(name);
                if secret {
                    // From here on, no output of this process shows it.
                    crate::output::secrets::register([value.expose().to_string()]);
                }
                (name.clone(), ResolvedValue::new(value.expose(), secret))
            })
            .collect())
    }

    /// Resolves one value that is not a template parameter (a router's listener, a zone id).
    /// `what` names it in messages, e.g. "router.listener".
    pub async fn resolve_value(
        &self,
        what: &str,
        source: &ValueSource,
        spec: &Path,
    ) -> Result<ResolvedValue, ParamError> {
        let mut values = self.resolve_all(&[(what, source)], spec).await?;
        let value = values.remove(0);
        if value.is_secret() {
            crate::output::secrets::register([value.expose().to_string()]);
        }
        Ok(value)
    }

    /// Local sources first (so a missing variable fails before any AWS call), then every distinct
    /// remote look-up at once.
    async fn resolve_all(
        &self,
        sources: &[(&str, &ValueSource)],
        spec: &Path,
    ) -> Result<Vec<ResolvedValue>, ParamError> {
        let mut lookups: Vec<Lookup> = Vec::new();
        for (what, source) in sources {
            let lookup = match source {
                ValueSource::Env { var } => {
                    if (self.env)(var).is_none() {
                        return Err(ParamError::MissingEnv {
                            what: what.to_string(),
                            var: var.clone(),
                            spec: spec.to_path_buf(),
                        });
                    }
                    continue;
                }
                ValueSource::Literal(_) => continue,
                ValueSource::Ssm { name } => Lookup::Ssm(name.clone()),
                ValueSource::StackOutput { stack, .. } => Lookup::Stack(stack.clone()),
                ValueSource::LatestAmi(query) => Lookup::Ami(query.clone()),
            };
            if !lookups.contains(&lookup) {
                lookups.push(lookup);
            }
        }
        let mut answers = join_all(lookups.iter().map(|lookup| self.look_up(lookup))).await;

        let mut values = Vec::with_capacity(sources.len());
        for (what, source) in sources {
            let spec = spec.to_path_buf();
            let what = what.to_string();
            let remote = match source {
                ValueSource::Literal(text) => {
                    values.push(ResolvedValue::new(text.clone(), false));
                    continue;
                }
                ValueSource::Env { var } => {
                    values.push(ResolvedValue::new(
                        (self.env)(var).unwrap_or_default(),
                        false,
                    ));
                    continue;
                }
                ValueSource::Ssm { name } => Lookup::Ssm(name.clone()),
                ValueSource::StackOutput { stack, .. } => Lookup::Stack(stack.clone()),
                ValueSource::LatestAmi(query) => Lookup::Ami(query.clone()),
            };
            let index = lookups
                .iter()
                .position(|known| *known == remote)
                .expect("every remote source was looked up");
            // The first failure ends the resolution, so its error can be moved out.
            if answers[index].is_err() {
                let error = answers.swap_remove(index).unwrap_err();
                return Err(ParamError::Lookup {
                    what,
                    source_text: source.to_string(),
                    spec,
                    source: error,
                });
            }
            let value = match (source, &answers[index]) {
                (_, Err(_)) => unreachable!("errors were returned above"),
                (_, Ok(Answer::Ssm(Some(stored)))) => {
                    ResolvedValue::new(stored.value.clone(), stored.secure)
                }
                (ValueSource::Ssm { name }, Ok(_)) => {
                    return Err(ParamError::SsmMissing {
                        what,
                        name: name.clone(),
                        spec,
                    })
                }
                (ValueSource::StackOutput { stack, output }, Ok(Answer::Stack(Some(outputs)))) => {
                    match outputs.get(output) {
                        Some(value) => ResolvedValue::new(value.clone(), false),
                        None => {
                            return Err(ParamError::OutputMissing {
                                what,
                                stack: stack.clone(),
                                output: output.clone(),
                                available: outputs.keys().cloned().collect(),
                                spec,
                            })
                        }
                    }
                }
                (ValueSource::StackOutput { stack, .. }, Ok(_)) => {
                    return Err(ParamError::StackMissing {
                        what,
                        stack: stack.clone(),
                        spec,
                    })
                }
                (_, Ok(Answer::Ami(Some(image)))) => ResolvedValue::new(image.id.clone(), false),
                (ValueSource::LatestAmi(query), Ok(_)) => {
                    return Err(ParamError::NoImage {
                        what,
                        query: describe_query(query),
                        spec,
                    })
                }
                (ValueSource::Literal(_) | ValueSource::Env { .. }, Ok(_)) => {
                    unreachable!("local sources were handled above")
                }
            };
            values.push(value);
        }
        Ok(values)
    }

    async fn look_up(&self, lookup: &Lookup) -> Result<Answer, AwsError> {
        match lookup {
            Lookup::Ssm(name) => self.parameters.get_parameter(name).await.map(Answer::Ssm),
            Lookup::Stack(stack) => self.stacks.stack_outputs(stack).await.map(Answer::Stack),
            Lookup::Ami(query) => {
                let images = self.images.find_images(query).await?;
                Ok(Answer::Ami(newest_image(&images).cloned()))
            }
        }
    }
}

fn describe_query(query: &AmiQuery) -> String {
    let mut text = format!("name {:?} owned by {}", query.name, query.owners.join(", "));
    if let Some(architecture) = &query.architecture {
        text.push_str(&format!(", architecture {architecture}"));
    }
    for (filter, values) in &query.filters {
        text.push_str(&format!(", {filter} = {}", values.join(" | ")));
    }
    text
}

/// The image with the latest creation date; ties go to the greatest id, so the choice is stable.
pub fn newest_image(images: &[ImageFacts]) -> Option<&ImageFacts> {
    images.iter().max_by(|a, b| {
        let created = |image: &ImageFacts| {
            image
                .creation_date
                .as_deref()
                .and_then(|date| humantime::parse_rfc3339_weak(date).ok())
        };
        created(a).cmp(&created(b)).then_with(|| a.id.cmp(&b.id))
    })
}

/// Pure: every spec parameter is declared by the template, every template parameter without a
/// Default has a spec value.
pub fn check_against_template(spec: &AppSpec, template: &Template) -> Result<(), ParamError> {
    let declared = template.parameters().cloned().unwrap_or_default();
    let undeclared: Vec<String> = spec
        .parameters
        .keys()
        .filter(|name| !declared.contains_key(*name))
        .cloned()
        .collect();
    if !undeclared.is_empty() {
        return Err(ParamError::Undeclared {
            names: undeclared,
            declared: declared.keys().cloned().collect(),
            template: template.origin.clone(),
            spec: spec.path.clone(),
        });
    }
    let missing: Vec<String> = declared
        .iter()
        .filter(|(name, declaration)| {
            declaration.get("Default").is_none() && !spec.parameters.contains_key(*name)
        })
        .map(|(name, _)| name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(ParamError::MissingValues {
            names: missing,
            template: template.origin.clone(),
            spec: spec.path.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
