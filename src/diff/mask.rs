//! NoEcho values never leave the engine: every string of a finished diff is scrubbed.

use std::collections::BTreeSet;

use indexmap::IndexMap;

use super::model::{
    EntryChange, Path, PathSegment, PropertyChange, StackDiff, Statement, ValueChange,
};
use crate::template::Node;

pub const MASK: &str = "****";

/// Secrets shorter than this are masked only where they are a whole value: masking every `1`
/// or `yes` inside other text would wreck the output and reveal the secret's shape anyway.
const MIN_SUBSTRING_SECRET: usize = 4;

pub struct Scrubber {
    /// Longest first, so that a secret containing another is masked whole.
    secrets: Vec<String>,
}

impl Scrubber {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Scrubber {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|secret| !secret.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        Scrubber { secrets }
    }

    /// The text with every secret masked; `None` when nothing needed masking.
    pub fn scrub(&self, text: &str) -> Option<String> {
        let mut result: Option<String> = None;
        for secret in &self.secrets {
            let current = result.as_deref().unwrap_or(text);
            if current == secret {
                return Some(MASK.to_string());
            }
            if secret.len() >= MIN_SUBSTRING_SECRET && current.contains(secret.as_str()) {
                result = Some(current.replace(secret.as_str(), MASK));
            }
        }
        result
    }

    pub fn scrub_string(&self, text: &mut String) {
        if let Some(clean) = self.scrub(text) {
            *text = clean;
        }
    }

    pub fn scrub_node(&self, node: &mut Node) {
        match node {
            Node::Null => {}
            Node::Bool(flag) => {
                if self.scrub(if *flag { "true" } else { "false" }).is_some() {
                    *node = Node::String(MASK.to_string());
                }
            }
            Node::Number(text) | Node::String(text) => {
                if let Some(clean) = self.scrub(text) {
                    *node = Node::String(clean);
                }
            }
            Node::List(items) => items.iter_mut().for_each(|item| self.scrub_node(item)),
            Node::Map(map) => {
                if map.keys().any(|key| self.scrub(key).is_some()) {
                    let entries: IndexMap<String, Node> = std::mem::take(map)
                        .into_iter()
                        .map(|(key, value)| (self.scrub(&key).unwrap_or(key), value))
                        .collect();
                    *map = entries;
                }
                map.values_mut().for_each(|value| self.scrub_node(value));
            }
        }
    }

    fn scrub_path(&self, path: &mut Path) {
        for segment in &mut path.0 {
            if let PathSegment::Key(key) = segment {
                self.scrub_string(key);
            }
        }
    }

    fn scrub_change(&self, change: &mut PropertyChange) {
        self.scrub_path(&mut change.path);
        change.old.iter_mut().for_each(|node| self.scrub_node(node));
        change.new.iter_mut().for_each(|node| self.scrub_node(node));
    }

    fn scrub_statement(&self, statement: &mut Statement) {
        let Statement {
            sid,
            effect,
            actions,
            not_actions,
            resources,
            not_resources,
            principals,
            not_principals,
            condition,
        } = statement;
        sid.iter_mut().for_each(|text| self.scrub_string(text));
        self.scrub_string(effect);
        for list in [
            actions,
            not_actions,
            resources,
            not_resources,
            principals,
            not_principals,
        ] {
            list.iter_mut().for_each(|text| self.scrub_string(text));
        }
        condition
            .iter_mut()
            .for_each(|text| self.scrub_string(text));
    }

    fn scrub_value_change(&self, change: &mut ValueChange) {
        self.scrub_string(&mut change.name);
        change
            .old
            .iter_mut()
            .for_each(|text| self.scrub_string(text));
        change
            .new
            .iter_mut()
            .for_each(|text| self.scrub_string(text));
    }

    /// Masks every string a renderer could print.
    pub fn scrub_diff(&self, diff: &mut StackDiff) {
        if self.secrets.is_empty() {
            return;
        }
        for resource in &mut diff.resources {
            self.scrub_string(&mut resource.logical_id);
            resource
                .changes
                .iter_mut()
                .for_each(|change| self.scrub_change(change));
        }
        for section in &mut diff.sections {
            for entry in &mut section.entries {
                self.scrub_entry(entry);
            }
        }
        diff.template
            .iter_mut()
            .for_each(|change| self.scrub_change(change));
        diff.parameter_values
            .iter_mut()
            .chain(diff.tags.iter_mut())
            .for_each(|change| self.scrub_value_change(change));
        for change in &mut diff.security.statements {
            self.scrub_string(&mut change.logical_id);
            self.scrub_string(&mut change.location);
            self.scrub_statement(&mut change.statement);
            change
                .old
                .iter_mut()
                .for_each(|statement| self.scrub_statement(statement));
            change
                .broadening
                .iter_mut()
                .for_each(|text| self.scrub_string(text));
        }
        for rule in &mut diff.security.rules {
            for text in [
                &mut rule.logical_id,
                &mut rule.group,
                &mut rule.protocol,
                &mut rule.ports,
                &mut rule.peer,
            ] {
                self.scrub_string(text);
            }
            rule.broadening
                .iter_mut()
                .for_each(|text| self.scrub_string(text));
        }
        for resource in &mut diff.stateful {
            self.scrub_string(&mut resource.logical_id);
        }
    }

    fn scrub_entry(&self, entry: &mut EntryChange) {
        self.scrub_string(&mut entry.name);
        entry.old.iter_mut().for_each(|node| self.scrub_node(node));
        entry.new.iter_mut().for_each(|node| self.scrub_node(node));
        entry
            .changes
            .iter_mut()
            .for_each(|change| self.scrub_change(change));
    }
}

/// A NoEcho parameter's declaration with its default masked, whatever its length.
pub fn mask_declaration(declaration: &mut Node) {
    if let Node::Map(map) = declaration {
        if let Some(default) = map.get_mut("Default") {
            *default = Node::String(MASK.to_string());
        }
    }
}

/// Masks the defaults of NoEcho parameter entries and their resolved values.
pub fn mask_no_echo(diff: &mut StackDiff, no_echo: &BTreeSet<String>) {
    for section in diff
        .sections
        .iter_mut()
        .filter(|section| section.name == "Parameters")
    {
        for entry in section
            .entries
            .iter_mut()
            .filter(|entry| no_echo.contains(&entry.name))
        {
            entry.old.iter_mut().for_each(mask_declaration);
            entry.new.iter_mut().for_each(mask_declaration);
            for change in &mut entry.changes {
                if change.path.key(0) == Some("Default") {
                    for side in [&mut change.old, &mut change.new] {
                        if side.is_some() {
                            *side = Some(Node::String(MASK.to_string()));
                        }
                    }
                }
            }
        }
    }
    for change in diff
        .parameter_values
        .iter_mut()
        .filter(|change| no_echo.contains(&change.name))
    {
        for side in [&mut change.old, &mut change.new] {
            if side.is_some() {
                *side = Some(MASK.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_secrets_are_masked_inside_text_and_short_ones_only_whole() {
        let scrubber = Scrubber::new(["hunter22".to_string(), "ab".to_string()]);
        assert_eq!(
            scrubber.scrub("password=hunter22;").as_deref(),
            Some("password=****;")
        );
        assert_eq!(scrubber.scrub("ab").as_deref(), Some("****"));
        assert_eq!(scrubber.scrub("tab"), None);
    }

    #[test]
    fn nodes_are_scrubbed_in_keys_numbers_and_nested_values() {
        let scrubber = Scrubber::new(["123456".to_string()]);
        let mut node = Node::Map(IndexMap::from([
            ("k123456".to_string(), Node::Number("123456".into())),
            (
                "list".to_string(),
                Node::List(vec![Node::String("x-123456-y".into())]),
            ),
        ]));
        scrubber.scrub_node(&mut node);
        let text = serde_json::to_string(&node).unwrap();
        assert!(!text.contains("123456"), "{text}");
        assert!(text.contains("x-****-y"), "{text}");
    }
}
