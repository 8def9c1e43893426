//! Where each map key of a template is written: the line of `Resources/Bucket/Properties/BucketName`,
//! for findings that name a file and line. Recorded while the YAML is read; JSON is scanned for
//! its keys (serde_json gives no positions).

use std::collections::HashMap;

/// Line (1-based) of each map key, by its path from the root: keys joined with `/`, list
/// indexes as numbers (`Resources/Role/Properties/Policies/0/PolicyName`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLines(HashMap<String, usize>);

/// How deep key lines are kept: deep enough for a property inside a resource's properties
/// (`Resources/R/Properties/P/Q/R`), so a large template does not keep one entry per value.
const MAX_DEPTH: usize = 12;

impl KeyLines {
    /// Records `path`'s key at `line`, and the same line for any ancestor not recorded yet: a
    /// list item has no key of its own, so it is where its first key is.
    pub(crate) fn record(&mut self, path: &[String], line: usize) {
        for depth in 1..=path.len().min(MAX_DEPTH) {
            self.0.entry(path[..depth].join("/")).or_insert(line);
        }
    }

    /// The line of `path`'s key, else of its nearest ancestor that has one.
    pub fn line_of(&self, path: &[&str]) -> Option<usize> {
        (1..=path.len().min(MAX_DEPTH))
            .rev()
            .find_map(|depth| self.0.get(&path[..depth].join("/")).copied())
    }

    /// The key lines of a JSON text (it has been parsed already: the scanner trusts its syntax).
    pub fn of_json(body: &str) -> KeyLines {
        let mut lines = KeyLines::default();
        // One entry per open container: for an object, the key whose value is being read; for
        // an array, the index of the item being read.
        let mut stack: Vec<Slot> = Vec::new();
        let mut line = 1;
        let mut chars = body.chars().peekable();
        let mut expecting_key = false;
        while let Some(c) = chars.next() {
            match c {
                '\n' => line += 1,
                '{' => {
                    stack.push(Slot::Key(None));
                    expecting_key = true;
                }
                '[' => {
                    stack.push(Slot::Index(0));
                    expecting_key = false;
                }
                '}' | ']' => {
                    stack.pop();
                    expecting_key = false;
                }
                ',' => match stack.last_mut() {
                    Some(Slot::Index(index)) => *index += 1,
                    Some(Slot::Key(_)) => expecting_key = true,
                    None => {}
                },
                ':' => expecting_key = false,
                '"' => {
                    let start_line = line;
                    let mut text = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some(escaped) = chars.next() {
                                    text.push(escaped);
                                }
                            }
                            '"' => break,
                            '\n' => {
                                line += 1;
                                text.push(c);
                            }
                            _ => text.push(c),
                        }
                    }
                    if expecting_key {
                        if let Some(Slot::Key(key)) = stack.last_mut() {
                            *key = Some(text);
                        }
                        let path: Vec<String> = stack.iter().filter_map(Slot::segment).collect();
                        lines.record(&path, start_line);
                        expecting_key = false;
                    }
                }
                _ => {}
            }
        }
        lines
    }
}

enum Slot {
    Key(Option<String>),
    Index(usize),
}

impl Slot {
    fn segment(&self) -> Option<String> {
        match self {
            Slot::Key(key) => key.clone(),
            Slot::Index(index) => Some(index.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_are_found_at_their_lines_with_list_indexes() {
        let body = "{\n  \"Resources\": {\n    \"Role\": {\n      \"Type\": \"AWS::IAM::Role\",\n      \"Properties\": {\n        \"RoleName\": \"x\\\"y\",\n        \"Policies\": [\n          {\"PolicyName\": \"a\"},\n          {\n            \"PolicyName\": \"b\"\n          }\n        ]\n      }\n    }\n  }\n}\n";
        let lines = KeyLines::of_json(body);
        assert_eq!(lines.line_of(&["Resources", "Role"]), Some(3));
        assert_eq!(
            lines.line_of(&["Resources", "Role", "Properties", "RoleName"]),
            Some(6)
        );
        assert_eq!(
            lines.line_of(&[
                "Resources",
                "Role",
                "Properties",
                "Policies",
                "1",
                "PolicyName"
            ]),
            Some(10)
        );
        // A list item is where its first key is.
        assert_eq!(
            lines.line_of(&["Resources", "Role", "Properties", "Policies", "0"]),
            Some(8)
        );
        // A path without a key of its own falls back to its nearest ancestor.
        assert_eq!(
            lines.line_of(&["Resources", "Role", "Properties", "Missing"]),
            Some(5)
        );
    }
}
