//! YAML templates, read event by event so that we decide what tags and plain scalars mean
//! (CloudFormation's reading, not a generic YAML library's) and can report lines.

use indexmap::IndexMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::error::{Location, TemplateError};
use super::intrinsics;
use super::lines::KeyLines;
use super::scalars;
use super::{Format, Node};

/// Parses one YAML document into a `Node`, short-form intrinsics expanded to long forms.
pub fn parse(body: &str, origin: &str) -> Result<Node, TemplateError> {
    parse_recording(body, origin, false).map(|(root, _)| root)
}

/// The line of each map key of a YAML document (empty when it does not parse). A second pass,
/// only for what names lines: recording every key's path costs a diff of a large template
/// about as much as the rest of its reading.
pub fn key_lines(body: &str) -> KeyLines {
    parse_recording(body, "", true)
        .map(|(_, lines)| lines)
        .unwrap_or_default()
}

fn parse_recording(
    body: &str,
    origin: &str,
    record_lines: bool,
) -> Result<(Node, KeyLines), TemplateError> {
    let mut builder = Builder::new(body, origin);
    builder.record_lines = record_lines;
    let result = Parser::new_from_str(body).load(&mut builder, true);
    // An error the builder met came before whatever the parser stopped on.
    if let Some(error) = builder.error {
        return Err(error);
    }
    if let Err(scan) = result {
        let mut at = location(origin, scan.marker());
        if scan.info().contains("tab") {
            at = tab_location(body, origin, scan.marker().line()).unwrap_or(at);
        }
        return Err(TemplateError::Syntax {
            at,
            format: Format::Yaml,
            message: scan.info().to_string(),
        });
    }
    Ok((builder.root.unwrap_or(Node::Null), builder.lines))
}

/// The tab a "found a tab" error is about: yaml-rust2 may report it at the end of the scalar
/// before it (the previous line), so the first line from `line` on whose indentation holds a
/// tab is the one to show.
fn tab_location(body: &str, origin: &str, line: usize) -> Option<Location> {
    body.lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .take(3)
        .find_map(|(index, text)| {
            let indentation = &text[..text.len() - text.trim_start().len()];
            let column = indentation.find('\t')?;
            Some(Location::at(
                origin,
                index + 1,
                indentation[..column].chars().count() + 1,
            ))
        })
}

fn location(origin: &str, mark: &Marker) -> Location {
    // yaml-rust2 lines are 1-based, columns 0-based.
    Location::at(origin, mark.line(), mark.col() + 1)
}

/// Where `tag` is written: the parser marks the tagged value, which may follow the tag on the
/// same line or (for a list or map) start on a later one.
fn tag_location(body: &str, origin: &str, mark: &Marker, tag: &str) -> Location {
    const LINES_BACK: usize = 3;
    let lines: Vec<&str> = body.lines().collect();
    let last = mark.line().min(lines.len());
    for line_number in (last.saturating_sub(LINES_BACK).max(1)..=last).rev() {
        let line = lines[line_number - 1];
        let searched: String = if line_number == mark.line() {
            line.chars().take(mark.col()).collect()
        } else {
            line.to_string()
        };
        if let Some(byte) = searched.rfind(tag) {
            let column = searched[..byte].chars().count() + 1;
            return Location::at(origin, line_number, column);
        }
    }
    location(origin, mark)
}

/// What a tag asks for.
#[derive(Debug, Clone, Copy)]
enum TagMeaning {
    /// A short-form intrinsic: wrap the value in `{long_form: value}`.
    Intrinsic(&'static str),
    Str,
    Int,
    Float,
    Bool,
    Null,
    /// `!!map`, `!!seq`, or the non-specific `!`: no change.
    Plain,
}

fn tag_meaning(tag: &Tag) -> Option<TagMeaning> {
    if tag.handle == "tag:yaml.org,2002:" {
        return Some(match tag.suffix.as_str() {
            "str" => TagMeaning::Str,
            "int" => TagMeaning::Int,
            "float" => TagMeaning::Float,
            "bool" => TagMeaning::Bool,
            "null" => TagMeaning::Null,
            "map" | "seq" => TagMeaning::Plain,
            _ => return None,
        });
    }
    if tag.handle == "!" {
        if tag.suffix.is_empty() {
            return Some(TagMeaning::Plain);
        }
        return intrinsics::long_form(&tag.suffix).map(TagMeaning::Intrinsic);
    }
    None
}

fn tag_text(tag: &Tag) -> String {
    if tag.handle == "tag:yaml.org,2002:" {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

enum Container {
    List(Vec<Node>),
    Map {
        entries: IndexMap<String, Node>,
        /// Line of each key, by entry index, for duplicate-key messages.
        key_lines: Vec<usize>,
        pending_key: Option<(String, Marker)>,
    },
}

struct Frame {
    container: Container,
    tag: Option<TagMeaning>,
}

struct Builder<'a> {
    body: &'a str,
    origin: &'a str,
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    error: Option<TemplateError>,
    record_lines: bool,
    lines: KeyLines,
}

impl<'a> Builder<'a> {
    fn new(body: &'a str, origin: &'a str) -> Builder<'a> {
        Builder {
            body,
            origin,
            stack: Vec::new(),
            root: None,
            documents: 0,
            error: None,
            record_lines: false,
            lines: KeyLines::default(),
        }
    }

    fn fail(&mut self, error: TemplateError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    fn unsupported(&mut self, mark: &Marker, what: &str) {
        let at = location(self.origin, mark);
        self.fail(TemplateError::UnsupportedYaml {
            at,
            what: what.to_string(),
        });
    }

    fn resolve_tag(&mut self, tag: Option<Tag>, mark: &Marker) -> Result<Option<TagMeaning>, ()> {
        let Some(tag) = tag else { return Ok(None) };
        match tag_meaning(&tag) {
            Some(meaning) => Ok(Some(meaning)),
            None => {
                let tag = tag_text(&tag);
                let at = tag_location(self.body, self.origin, mark, &tag);
                self.fail(TemplateError::UnknownTag { at, tag });
                Err(())
            }
        }
    }

    /// The path of the value being read: each open map's pending key, each open list's next
    /// index (a map waiting for its next key adds nothing).
    fn open_path(&self) -> Vec<String> {
        self.stack
            .iter()
            .filter_map(|frame| match &frame.container {
                Container::List(items) => Some(items.len().to_string()),
                Container::Map { pending_key, .. } => {
                    pending_key.as_ref().map(|(key, _)| key.clone())
                }
            })
            .collect()
    }

    /// True when the innermost open container is a map waiting for a key.
    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame {
                container: Container::Map {
                    pending_key: None,
                    ..
                },
                ..
            })
        )
    }

    /// Places a finished value in its parent (or as the document root).
    fn add_value(&mut self, node: Node) {
        let origin = self.origin;
        let duplicate = match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                None
            }
            Some(Frame {
                container: Container::List(items),
                ..
            }) => {
                items.push(node);
                None
            }
            Some(Frame {
                container:
                    Container::Map {
                        entries,
                        key_lines,
                        pending_key,
                    },
                ..
            }) => {
                let (key, mark) = pending_key
                    .take()
                    .expect("add_value is only called for map values once a key is pending");
                match entries.get_index_of(&key) {
                    Some(index) => Some(TemplateError::DuplicateKey {
                        at: location(origin, &mark),
                        key,
                        first_line: key_lines[index],
                    }),
                    None => {
                        entries.insert(key, node);
                        key_lines.push(mark.line());
                        None
                    }
                }
            }
        };
        if let Some(error) = duplicate {
            self.fail(error);
        }
    }

    fn on_scalar(&mut self, text: String, style: TScalarStyle, tag: Option<Tag>, mark: Marker) {
        let Ok(meaning) = self.resolve_tag(tag, &mark) else {
            return;
        };
        if self.expecting_key() {
            if let Some(TagMeaning::Intrinsic(_)) = meaning {
                return self.unsupported(&mark, "an intrinsic function cannot be a map key");
            }
            if self.record_lines {
                let mut path = self.open_path();
                path.push(text.clone());
                self.lines.record(&path, mark.line());
            }
            if let Some(Frame {
                container: Container::Map { pending_key, .. },
                ..
            }) = self.stack.last_mut()
            {
                *pending_key = Some((text, mark));
            }
            return;
        }
        let node = match meaning {
            None if style == TScalarStyle::Plain => scalars::plain(text),
            None | Some(TagMeaning::Str) => Node::String(text),
            Some(TagMeaning::Plain) => Node::String(text),
            Some(TagMeaning::Int) => match scalars::integer(&text) {
                Some(number) => Node::Number(number),
                None => {
                    let what = format!("`{text}` is tagged !!int but is not a YAML 1.1 integer");
                    return self.unsupported(&mark, &what);
                }
            },
            Some(TagMeaning::Float) => {
                match scalars::float(&text).or_else(|| scalars::integer(&text)) {
                    Some(number) => Node::Number(number),
                    None => {
                        let what = format!("`{text}` is tagged !!float but is not a number");
                        return self.unsupported(&mark, &what);
                    }
                }
            }
            Some(TagMeaning::Null) => Node::Null,
            Some(TagMeaning::Bool) => match scalars::boolean(&text) {
                Some(value) => Node::Bool(value),
                None => {
                    let what = format!(
                        "`{text}` is tagged !!bool but is not true, false, yes, no, on or off"
                    );
                    return self.unsupported(&mark, &what);
                }
            },
            // The argument of a scalar short form is the text as written (`!GetAZs ''`).
            Some(TagMeaning::Intrinsic(long)) => intrinsics::wrap(long, Node::String(text)),
        };
        self.add_value(node);
    }

    fn open(&mut self, container: Container, tag: Option<Tag>, mark: Marker) {
        if self.expecting_key() {
            return self.unsupported(&mark, "a list or map cannot be a map key");
        }
        let Ok(meaning) = self.resolve_tag(tag, &mark) else {
            return;
        };
        if let Some(
            TagMeaning::Str
            | TagMeaning::Int
            | TagMeaning::Float
            | TagMeaning::Bool
            | TagMeaning::Null,
        ) = meaning
        {
            return self.unsupported(&mark, "a scalar tag (!!str, !!int, …) on a list or map");
        }
        self.stack.push(Frame {
            container,
            tag: meaning,
        });
    }

    fn close(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let node = match frame.container {
            Container::List(items) => Node::List(items),
            Container::Map { entries, .. } => Node::Map(entries),
        };
        let node = match frame.tag {
            Some(TagMeaning::Intrinsic(long)) => intrinsics::wrap(long, node),
            _ => node,
        };
        self.add_value(node);
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    let at = location(self.origin, &mark);
                    self.fail(TemplateError::MultipleDocuments { at });
                }
            }
            // Anchors (`&name`) alone change nothing; only aliases would use them.
            Event::Scalar(text, style, _anchor, tag) => {
                self.on_scalar(text, style, tag, mark)
            }
            Event::SequenceStart(_anchor, tag) => {
                self.open(Container::List(Vec::new()), tag, mark)
            }
            Event::MappingStart(_anchor, tag) => {
                let map = Container::Map {
                    entries: IndexMap::new(),
                    key_lines: Vec::new(),
                    pending_key: None,
                };
                self.open(map, tag, mark)
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            // CloudFormation does not accept YAML aliases (CloudFormation User Guide, "Template
            // format": aliases are not supported); expanding them is also how a few hundred bytes
            // of nested aliases become gigabytes. Refused at the first one, so memory and time
            // stay bounded by the file's size.
            Event::Alias(_) => self.unsupported(
                &mark,
                "a YAML alias (`*name`): CloudFormation does not accept aliases; write the value out, or use a parameter, a mapping or `Fn::Sub`",
            ),
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
#[path = "yaml_tests.rs"]
mod tests;
