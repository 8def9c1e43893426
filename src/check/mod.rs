//! Release-safety checks: what makes a template unusable as a release stack (cutover creates a
//! new stack from it for every release while the previous ones still exist), and what a release
//! leaves behind or exposes. Pure: a template (and the app's silences) in, findings out; the
//! reporters in [`reporters`] print them as text, JSON or SARIF.
//!
//! Each rule has an id, a severity, a one-line why and fix ([`RULES`], also the README's table).
//! A finding can be silenced in the template, per resource (`Metadata: {cutover: {ignore:
//! {CO101: "reason"}}}`), or in the spec (`[check] ignore`): it is still reported, with the reason,
//! but does not count.

pub mod names;
pub mod reporters;
mod rules;
mod silence;
pub mod values;

use std::fmt;

use serde::Serialize;

use crate::error::{Diagnostic, Exit};
use crate::spec::IgnoreRule;
use crate::template::Template;

pub use rules::{check_template, SilenceError};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule: what it finds, why that matters for releases, and the usual fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    /// Short name, e.g. "fixed physical name".
    pub title: &'static str,
    pub why: &'static str,
    pub fix: &'static str,
}

/// Every rule, in id order. Errors: a second release stack would fail to create. Warnings: a
/// release leaves something behind or exposes something.
pub const RULES: &[Rule] = &[
    Rule {
        id: "CO101",
        severity: Severity::Error,
        title: "fixed physical name",
        why: "every release creates this resource again while the previous release still has it: the second release fails with \"already exists\"",
        fix: "drop the name (CloudFormation generates one) or make it per release, e.g. !Sub \"${AWS::StackName}-orders\"",
    },
    Rule {
        id: "CO102",
        severity: Severity::Error,
        title: "fixed export name",
        why: "an export name is unique in an account and region: the second release fails with \"Export with name ... is already exported\"",
        fix: "make it per release (!Sub \"${AWS::StackName}-VpcId\"), or export from a long-lived stack instead",
    },
    Rule {
        id: "CO103",
        severity: Severity::Error,
        title: "fixed DNS record",
        why: "the second release creates the same record (name, type and set identifier) again and fails; moving a name between releases is the route53 router's work",
        fix: "let the route53 router manage the name, or make the record per release (a per-release name or SetIdentifier)",
    },
    Rule {
        id: "CO104",
        severity: Severity::Error,
        title: "account singleton",
        why: "there is one of this per account and region: the second release cannot create another",
        fix: "move it to a long-lived stack that releases do not recreate",
    },
    Rule {
        id: "CO201",
        severity: Severity::Warning,
        title: "retained resource",
        why: "retiring a release leaves this resource in the account (its DeletionPolicy keeps it), once per release",
        fix: "drop the policy if the data need not outlive the release, or keep the data in a long-lived stack",
    },
    Rule {
        id: "CO202",
        severity: Severity::Warning,
        title: "stateful resource",
        why: "every release creates this data-bearing resource empty, and retiring the release deletes it with its data",
        fix: "keep data in a long-lived stack and pass its name or ARN to releases as a parameter",
    },
    Rule {
        id: "CO203",
        severity: Severity::Warning,
        title: "IAM wildcard",
        why: "an Allow for every action or every resource grants more than the release needs",
        fix: "name the actions and resources the release uses",
    },
    Rule {
        id: "CO204",
        severity: Severity::Warning,
        title: "ingress open to the world",
        why: "anyone on the internet can reach this port",
        fix: "open it to the load balancer's security group, or to known address ranges",
    },
    Rule {
        id: "CO205",
        severity: Severity::Warning,
        title: "NoEcho parameter with a default",
        why: "a default secret is in the template, in version control and in every release's recorded template",
        fix: "drop the Default and give the value from the spec ({ env = \"VAR\" } or { ssm = \"/path\" })",
    },
    Rule {
        id: "CO206",
        severity: Severity::Error,
        title: "over a CloudFormation quota",
        why: "CloudFormation refuses a template over its quotas (body size, resources, parameters, outputs)",
        fix: "split it into nested stacks or separate apps",
    },
    Rule {
        id: "CO207",
        severity: Severity::Note,
        title: "UpdateReplacePolicy on a release",
        why: "a release stack is never updated in place (each release is a new stack), so the policy never applies; retiring the release deletes the resource",
        fix: "drop it, or use DeletionPolicy if the resource must outlive its release",
    },
    Rule {
        id: "CO301",
        severity: Severity::Error,
        title: "parameter does not resolve",
        why: "the release cannot be created without this parameter's value",
        fix: "fix its source in the spec's [parameters]",
    },
    Rule {
        id: "CO302",
        severity: Severity::Error,
        title: "route or gates not usable",
        why: "the release could be created but not routed to or judged",
        fix: "fix the spec's [router] or [gates], or the base stack they name",
    },
    Rule {
        id: "CO303",
        severity: Severity::Error,
        title: "release output missing",
        why: "the spec names an output every release must have, and the template lacks it",
        fix: "add the output to the template, or fix its name in the spec",
    },
];

/// The rule with this id. Panics on an unknown id: the ids are this module's own constants.
pub fn rule(id: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|rule| rule.id == id)
        .unwrap_or_else(|| panic!("no rule {id}"))
}

/// One thing a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    /// The file it is in (the template, or the spec for app checks).
    pub file: String,
    /// 1-based, when known.
    pub line: Option<usize>,
    /// The logical id of the resource, output or parameter it is about, if any.
    pub resource: Option<String>,
    /// Where in the template: `Resources.Orders.Properties.BucketName`.
    pub path: String,
    /// What was found, specifically: `BucketName is the literal "orders"`.
    pub message: String,
    /// The fix for this finding.
    pub fix: String,
    /// Set when silenced: the reason given.
    pub silenced: Option<String>,
}

impl Finding {
    pub fn rule(&self) -> &'static Rule {
        rule(self.rule)
    }

    /// Counts toward the exit code: not silenced, at or above `threshold`.
    pub fn counts_at(&self, threshold: Severity) -> bool {
        self.silenced.is_none() && self.severity >= threshold
    }
}

/// The findings of one subject (a template file, or an app).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `templates/web.yaml`, or `app web (stacks/web.toml)`.
    pub subject: String,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether any finding counts at `threshold`.
    pub fn fails_at(&self, threshold: Severity) -> bool {
        self.findings
            .iter()
            .any(|finding| finding.counts_at(threshold))
    }
}

/// Checks one template, then applies the app's silences (the template's own are applied by the
/// rules, which see the resources' `Metadata`).
///
/// Errors (bad input): a template silence that cannot be read, or a spec silence naming a
/// resource the template does not have.
pub fn check(template: &Template, ignores: &[IgnoreRule]) -> Result<Vec<Finding>, CheckError> {
    let mut findings = check_template(template)?;
    for ignore in ignores {
        if let Some(resource) = &ignore.resource {
            let declared = |section: Option<&indexmap::IndexMap<String, crate::template::Node>>| {
                section.is_some_and(|section| section.contains_key(resource))
            };
            if !(declared(template.resources())
                || declared(template.outputs())
                || declared(template.parameters()))
            {
                return Err(CheckError::UnknownResource {
                    rule: ignore.rule.clone(),
                    resource: resource.clone(),
                    template: template.origin.clone(),
                });
            }
        }
    }
    silence::apply_spec(&mut findings, ignores);
    Ok(findings)
}

/// Silences what the spec's `[check] ignore` names among findings made outside the template
/// rules (an app's parameters, route and outputs).
pub fn apply_spec_silences(findings: &mut [Finding], ignores: &[IgnoreRule]) {
    silence::apply_spec(findings, ignores);
}

/// Why `cutover check` could not check (bad input: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{path}: not a file or an app spec in {stacks_dir}")]
    NotFound { path: String, stacks_dir: String },
    /// The silence error names the file and line itself.
    #[error(transparent)]
    Silence(#[from] SilenceError),
    #[error("the spec's [check] ignore silences {rule} for `{resource}`, which {template} does not have")]
    UnknownResource {
        rule: String,
        resource: String,
        template: String,
    },
}

impl Diagnostic for CheckError {
    fn exit(&self) -> Exit {
        Exit::Error
    }

    fn hint(&self) -> Option<String> {
        match self {
            CheckError::NotFound { .. } => Some(
                "pass template files (JSON or YAML), app names of the stacks folder, or --all"
                    .into(),
            ),
            CheckError::Silence(_) => Some(
                "write Metadata: {cutover: {ignore: {CO101: \"why\"}}} on the resource or output, or at the template's top level for the whole template".into(),
            ),
            CheckError::UnknownResource { .. } => Some(
                "`resource` is a logical id of the template (a resource, an output or a parameter); leave it out to silence the rule everywhere".into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_sorted_and_each_says_why_and_how_to_fix() {
        let ids: Vec<&str> = RULES.iter().map(|rule| rule.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted);
        for rule in RULES {
            assert!(!rule.why.is_empty() && !rule.fix.is_empty(), "{}", rule.id);
        }
    }
}
