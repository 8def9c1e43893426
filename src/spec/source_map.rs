//! Maps between places in a spec file and key paths, so that both serde's errors (which carry a
//! byte span) and the validation pass (which knows a key path) can report file:line:column and key.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{Array, ArrayOfTables, ImDocument, InlineTable, Item, Table, Value};

use super::error::{KeyPath, Location, Segment};

pub(crate) struct SourceMap<'a> {
    file: PathBuf,
    text: &'a str,
    /// `None` when the text is not valid TOML: then only byte offsets can be mapped.
    document: Option<ImDocument<&'a str>>,
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a Table),
    InlineTable(&'a InlineTable),
    Array(&'a Array),
    ArrayOfTables(&'a ArrayOfTables),
    Scalar(&'a Value),
    Empty,
}

impl<'a> Node<'a> {
    fn from_item(item: &'a Item) -> Self {
        match item {
            Item::None => Node::Empty,
            Item::Table(table) => Node::Table(table),
            Item::ArrayOfTables(array) => Node::ArrayOfTables(array),
            Item::Value(value) => Node::from_value(value),
        }
    }

    fn from_value(value: &'a Value) -> Self {
        match value {
            Value::InlineTable(table) => Node::InlineTable(table),
            Value::Array(array) => Node::Array(array),
            scalar => Node::Scalar(scalar),
        }
    }

    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Table(table) => table.span(),
            Node::InlineTable(table) => table.span(),
            Node::Array(array) => array.span(),
            Node::ArrayOfTables(array) => array.span(),
            Node::Scalar(value) => value.span(),
            Node::Empty => None,
        }
    }

    /// The child at `segment`, with the span of its key when it has one.
    fn child(self, segment: &Segment) -> Option<(Option<Range<usize>>, Node<'a>)> {
        match (self, segment) {
            (Node::Table(table), Segment::Key(key)) => table
                .get_key_value(key)
                .map(|(key, item)| (key.span(), Node::from_item(item))),
            (Node::InlineTable(table), Segment::Key(key)) => table
                .get_key_value(key)
                .map(|(key, item)| (key.span(), Node::from_item(item))),
            (Node::Array(array), Segment::Index(index)) => array
                .get(*index)
                .map(|value| (None, Node::from_value(value))),
            (Node::ArrayOfTables(array), Segment::Index(index)) => {
                array.get(*index).map(|table| (None, Node::Table(table)))
            }
            _ => None,
        }
    }

    /// Every child with its segment, for searching by offset.
    fn children(self) -> Vec<(Segment, Option<Range<usize>>, Node<'a>)> {
        match self {
            Node::Table(table) => table
                .iter()
                .filter_map(|(name, _)| table.get_key_value(name))
                .map(|(key, item)| {
                    let segment = Segment::Key(key.get().to_owned());
                    (segment, key.span(), Node::from_item(item))
                })
                .collect(),
            Node::InlineTable(table) => table
                .iter()
                .filter_map(|(name, _)| table.get_key_value(name))
                .map(|(key, item)| {
                    let segment = Segment::Key(key.get().to_owned());
                    (segment, key.span(), Node::from_item(item))
                })
                .collect(),
            Node::Array(array) => array
                .iter()
                .enumerate()
                .map(|(index, value)| (Segment::Index(index), None, Node::from_value(value)))
                .collect(),
            Node::ArrayOfTables(array) => array
                .iter()
                .enumerate()
                .map(|(index, table)| (Segment::Index(index), None, Node::Table(table)))
                .collect(),
            Node::Scalar(_) | Node::Empty => Vec::new(),
        }
    }
}

fn contains(span: &Option<Range<usize>>, offset: usize) -> bool {
    match span {
        Some(span) if span.is_empty() => span.start == offset,
        Some(span) => span.contains(&offset),
        None => false,
    }
}

impl<'a> SourceMap<'a> {
    pub(crate) fn new(file: &Path, text: &'a str) -> Self {
        SourceMap {
            file: file.to_owned(),
            text,
            document: ImDocument::parse(text).ok(),
        }
    }

    /// The 1-based line and column of a byte offset (columns count characters).
    pub(crate) fn location_of_offset(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let column = before[line_start..].chars().count() + 1;
        Location {
            file: self.file.clone(),
            line,
            column,
        }
    }

    /// Where the key at `path` is written; for a key that is absent, where its nearest present
    /// parent is (so "`router` needs `listener`" points at `[router]`).
    pub(crate) fn locate(&self, path: &KeyPath) -> Location {
        let offset = self.offset_of(path).unwrap_or(0);
        self.location_of_offset(offset)
    }

    fn offset_of(&self, path: &KeyPath) -> Option<usize> {
        let document = self.document.as_ref()?;
        let mut node = Node::Table(document.as_table());
        let mut best = None;
        for segment in &path.0 {
            let Some((key_span, child)) = node.child(segment) else {
                break;
            };
            if let Some(start) = key_span.or_else(|| child.span()).map(|span| span.start) {
                best = Some(start);
            }
            node = child;
        }
        best
    }

    /// The deepest key whose key or value covers `offset`.
    pub(crate) fn path_at(&self, offset: usize) -> KeyPath {
        let Some(document) = self.document.as_ref() else {
            return KeyPath::root();
        };
        let mut segments = Vec::new();
        search(Node::Table(document.as_table()), offset, &mut segments);
        KeyPath(segments)
    }
}

fn search(node: Node<'_>, offset: usize, segments: &mut Vec<Segment>) -> bool {
    for (segment, key_span, child) in node.children() {
        if contains(&key_span, offset) {
            segments.push(segment);
            return true;
        }
        // A `[table]`'s span is only its header: its keys may be anywhere below, so always look.
        let covers = contains(&child.span(), offset);
        if covers || matches!(child, Node::Table(_) | Node::ArrayOfTables(_)) {
            segments.push(segment);
            if search(child, offset, segments) || covers {
                return true;
            }
            segments.pop();
        }
    }
    false
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}
