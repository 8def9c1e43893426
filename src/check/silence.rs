//! Silencing findings: per resource in the template (`Metadata: {cutover: {ignore: ...}}`) or
//! per app in the spec (`[check] ignore`). A silenced finding is still reported, with its
//! reason, but does not count toward the exit code.

use std::collections::HashMap;

use super::Finding;
use crate::spec::IgnoreRule;
use crate::template::Node;

/// What a template's `Metadata: {cutover: {ignore: X}}` says, on a resource, an output or the
/// template itself: X maps rule ids to reasons (`{CO101: "shared bucket, made once"}`) or lists
/// rule ids (the reason is then that the template says so). `Err` with a message for anything
/// else (an unknown rule id, a key other than `ignore`, a reason that is not text): a silence
/// that silently does nothing would hide the finding it was meant to explain.
pub fn template_silence(node: &Node) -> Result<HashMap<String, String>, String> {
    let Some(cutover) = node
        .get("Metadata")
        .and_then(|metadata| metadata.get("cutover"))
    else {
        return Ok(HashMap::new());
    };
    let Some(settings) = cutover.as_map() else {
        return Err("Metadata.cutover must be a map with the key `ignore`".into());
    };
    if let Some(unknown) = settings.keys().find(|key| *key != "ignore") {
        return Err(format!(
            "unknown key `{unknown}` in Metadata.cutover: it takes `ignore`"
        ));
    }
    let Some(ignore) = settings.get("ignore") else {
        return Ok(HashMap::new());
    };
    let said = || "ignored in the template's Metadata".to_string();
    let entries: Vec<(String, String)> = match ignore {
        Node::Map(rules) => rules
            .iter()
            .map(|(rule, reason)| match reason {
                Node::Null => Ok((rule.clone(), said())),
                other => match other.scalar_text() {
                    Some(text) if !text.trim().is_empty() => Ok((rule.clone(), text.into_owned())),
                    Some(_) => Ok((rule.clone(), said())),
                    None => Err(format!(
                        "the reason for {rule} in Metadata.cutover.ignore must be text"
                    )),
                },
            })
            .collect::<Result<_, _>>()?,
        Node::List(rules) => rules
            .iter()
            .map(|rule| {
                rule.scalar_text()
                    .map(|rule| (rule.into_owned(), said()))
                    .ok_or_else(|| {
                        "Metadata.cutover.ignore lists rule ids, e.g. [CO101]".to_string()
                    })
            })
            .collect::<Result<_, _>>()?,
        single => match single.scalar_text() {
            Some(rule) => vec![(rule.into_owned(), said())],
            None => {
                return Err(
                    "Metadata.cutover.ignore maps rule ids to reasons, e.g. {CO101: \"why\"}"
                        .into(),
                )
            }
        },
    };
    for (rule, _) in &entries {
        known_rule(rule)?;
    }
    Ok(entries.into_iter().collect())
}

/// `Ok` for a rule id of [`super::RULES`]; the message suggests the right spelling.
pub fn known_rule(rule: &str) -> Result<(), String> {
    if super::RULES.iter().any(|known| known.id == rule) {
        return Ok(());
    }
    let upper = rule.to_ascii_uppercase();
    let hint = if super::RULES.iter().any(|known| known.id == upper) {
        format!(" (rule ids are upper case: {upper})")
    } else {
        " (`cutover check --help` and the README list the rules)".to_string()
    };
    Err(format!("`{rule}` is not a rule of cutover check{hint}"))
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
