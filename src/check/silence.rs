//! Silencing findings: per resource in the template (`Metadata: {cutover: {ignore: ...}}`) or
//! per app in the spec (`[check] ignore`). A silenced finding is still reported, with its
//! reason, but does not count toward the exit code.

use std::collections::HashMap;

use super::Finding;
use crate::spec::IgnoreRule;
use crate::template::Node;

/// Rule id → reason, from a resource's (or an output's) `Metadata: {cutover: {ignore: X}}`,
/// where X maps rule ids to reasons (`{CO101: "shared bucket, made once"}`) or lists rule ids
/// (the reason is then that the template says so).
pub fn template_silence(node: &Node) -> HashMap<String, String> {
    let Some(ignore) = node
        .get("Metadata")
        .and_then(|metadata| metadata.get("cutover"))
        .and_then(|cutover| cutover.get("ignore"))
    else {
        return HashMap::new();
    };
    match ignore {
        Node::Map(rules) => rules
            .iter()
            .map(|(rule, reason)| {
                let reason = reason
                    .scalar_text()
                    .map(|text| text.into_owned())
                    .filter(|text| !text.is_empty())
                    .unwrap_or_else(|| "ignored in the template's Metadata".into());
                (rule.clone(), reason)
            })
            .collect(),
        Node::List(rules) => rules
            .iter()
            .filter_map(|rule| rule.scalar_text())
            .map(|rule| {
                (
                    rule.into_owned(),
                    "ignored in the template's Metadata".into(),
                )
            })
            .collect(),
        single => single
            .scalar_text()
            .map(|rule| {
                (
                    rule.into_owned(),
                    "ignored in the template's Metadata".into(),
                )
            })
            .into_iter()
            .collect(),
    }
}

/// Silences what the spec's `[check] ignore` names (a rule, for one resource or for all).
pub fn apply_spec(findings: &mut [Finding], ignores: &[IgnoreRule]) {
    for finding in findings
        .iter_mut()
        .filter(|finding| finding.silenced.is_none())
    {
        let matched = ignores.iter().find(|ignore| {
            ignore.rule == finding.rule
                && ignore
                    .resource
                    .as_deref()
                    .is_none_or(|resource| finding.resource.as_deref() == Some(resource))
        });
        if let Some(ignore) = matched {
            finding.silenced = Some(format!("{} (spec)", ignore.reason));
        }
    }
}
