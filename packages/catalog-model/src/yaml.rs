//! YAML reading with Backstage's semantics and with a position for every value.
//!
//! Backstage reads descriptors with the JavaScript `yaml` library: YAML 1.2 core
//! schema (`yes`/`on` stay strings), merge keys off, every document of a stream
//! handled on its own so that one broken document does not hide its siblings.
//! This module is the only place that calls the YAML parser: it builds plain
//! `serde_json::Value`s from the parser's events, resolving scalars by the core
//! schema itself, plus a [`Positions`] tree that maps any [`FieldPath`] back to a
//! line and column.

use std::fmt;

use serde_json::{Map, Number, Value};

use crate::problem::{FieldPath, PathSegment};

/// The largest document this module will read. Descriptor files are small;
/// anything larger is refused rather than parsed.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// A one-based line and column in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Where each value of a parsed document stands in the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions {
    /// Where the value starts.
    pub pos: Pos,
    /// Where the key that holds this value starts, when the parent is a mapping.
    pub key_pos: Option<Pos>,
    pub children: PositionChildren,
}

/// The positions of a mapping's or sequence's children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PositionChildren {
    #[default]
    Leaf,
    Map(Vec<(String, Positions)>),
    Seq(Vec<Positions>),
}

impl Positions {
    /// The position of the value at `path`, or of the nearest ancestor that exists.
    ///
    /// A problem about a field that is missing (say `spec.owner`) therefore points at
    /// its parent (`spec`). A field reached through a key points at its key, which is
    /// where a reader looks first.
    pub fn lookup(&self, path: &FieldPath) -> Pos {
        let mut node = self;
        let mut best = self.key_pos.unwrap_or(self.pos);
        for segment in path.segments() {
            let next = match (&node.children, segment) {
                (PositionChildren::Map(entries), PathSegment::Key(key)) => {
                    entries.iter().find(|(k, _)| k == key).map(|(_, p)| p)
                }
                (PositionChildren::Seq(items), PathSegment::Index(i)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(child) => {
                    node = child;
                    best = child.key_pos.unwrap_or(child.pos);
                }
                None => break,
            }
        }
        best
    }

    fn shifted(mut self, lines: u64) -> Self {
        self.shift(lines);
        self
    }

    fn shift(&mut self, lines: u64) {
        self.pos.line += lines;
        if let Some(k) = &mut self.key_pos {
            k.line += lines;
        }
        match &mut self.children {
            PositionChildren::Leaf => {}
            PositionChildren::Map(entries) => entries.iter_mut().for_each(|(_, p)| p.shift(lines)),
            PositionChildren::Seq(items) => items.iter_mut().for_each(|p| p.shift(lines)),
        }
    }
}

/// One non-empty document of a YAML stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Zero-based index of the document in the stream, counting empty documents too.
    pub index: usize,
    /// Where the document starts (its `---` line if it has one).
    pub start: Pos,
    pub value: Value,
    pub positions: Positions,
}

/// A document that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub index: usize,
    pub pos: Pos,
    pub message: String,
}

/// Reads every document of a YAML (or JSON) stream.
///
/// Empty documents (nothing, only comments, or `null`) are skipped as Backstage
/// skips them. Each remaining document yields either its value or an error, so a
/// caller can report every broken document and still use the good ones.
pub fn parse_documents(text: &str) -> Vec<Result<Document, YamlError>> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return vec![Err(YamlError {
            index: 0,
            pos: Pos { line: 1, column: 1 },
            message: format!(
                "YAML text is {} bytes, more than the limit of {MAX_DOCUMENT_BYTES} bytes",
                text.len()
            ),
        })];
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (index, chunk) in split_documents(text).into_iter().enumerate() {
        if !chunk.has_content {
            continue;
        }
        match parse_chunk(chunk.text) {
            Ok(None) => {}
            Ok(Some(node)) => {
                let positions = node.positions().shifted(chunk.first_line);
                out.push(Ok(Document {
                    index,
                    start: Pos {
                        line: chunk.first_line + 1,
                        column: 1,
                    },
                    value: node.into_value(),
                    positions,
                }));
            }
            Err(e) => out.push(Err(YamlError {
                index,
                pos: e.pos.map_or(
                    Pos {
                        line: chunk.first_line + 1,
                        column: 1,
                    },
                    |p| Pos {
                        line: p.line + chunk.first_line,
                        column: p.column,
                    },
                ),
                message: e.message,
            })),
        }
    }
    out
}

/// Reads a stream that must hold exactly one document, as `$yaml` placeholders need.
///
/// Returns the document count in the error when it is not one.
pub fn parse_single(text: &str) -> Result<Value, SingleDocumentError> {
    let mut docs = Vec::new();
    let mut total = 0usize;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for chunk in split_documents(text) {
        // Backstage counts every document of the stream, including an empty one
        // made by a trailing `---`; an empty stream has none.
        if !chunk.has_content && !chunk.explicit {
            continue;
        }
        total += 1;
        if chunk.has_content {
            match parse_chunk(chunk.text) {
                Ok(node) => docs.push(node.map_or(Value::Null, Node::into_value)),
                Err(e) => return Err(SingleDocumentError::Invalid(e.message)),
            }
        }
    }
    if total != 1 {
        return Err(SingleDocumentError::Count(total));
    }
    Ok(docs.pop().unwrap_or(Value::Null))
}

/// Why [`parse_single`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SingleDocumentError {
    #[error("expected exactly one document, found {0}")]
    Count(usize),
    #[error("{0}")]
    Invalid(String),
}

/// Reads one YAML value, for config files and tests. Empty text reads as `null`.
pub fn parse_value(text: &str) -> Result<Value, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match parse_chunk(text) {
        Ok(node) => Ok(node.map_or(Value::Null, Node::into_value)),
        Err(e) => Err(YamlError {
            index: 0,
            pos: e.pos.unwrap_or(Pos { line: 1, column: 1 }),
            message: e.message,
        }),
    }
}

/// Reads one YAML value and its positions. Empty text reads as `None`.
pub fn parse_value_with_positions(text: &str) -> Result<Option<(Value, Positions)>, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match parse_chunk(text) {
        Ok(node) => Ok(node.map(|n| {
            let positions = n.positions();
            (n.into_value(), positions)
        })),
        Err(e) => Err(YamlError {
            index: 0,
            pos: e.pos.unwrap_or(Pos { line: 1, column: 1 }),
            message: e.message,
        }),
    }
}

struct Chunk<'a> {
    text: &'a str,
    /// Zero-based line number of the chunk's first line in the whole stream.
    first_line: u64,
    /// Whether any line holds something other than blanks, comments and markers.
    has_content: bool,
    /// Whether the chunk starts with an explicit `---` marker.
    explicit: bool,
}

/// Splits a stream at its document markers.
///
/// A `---` or `...` at the start of a line always ends a document in YAML (the
/// spec forbids them inside scalars), so splitting on lines is exact. Each
/// document is then parsed on its own, which keeps a syntax error in one document
/// from hiding the others, as in Backstage.
fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut start_line = 0u64;
    let mut has_content = false;
    let mut explicit = false;
    let mut offset = 0usize;
    for (line_no, line) in (0u64..).zip(text.split_inclusive('\n')) {
        let trimmed = line.trim_end_matches(['\n', '\r']);
        let is_start = is_marker(trimmed, "---");
        let is_end = is_marker(trimmed, "...");
        if is_start {
            if offset > start && (has_content || explicit) {
                chunks.push(Chunk {
                    text: &text[start..offset],
                    first_line: start_line,
                    has_content,
                    explicit,
                });
            }
            start = offset;
            start_line = line_no;
            explicit = true;
            // Content may follow the marker on the same line (`--- |` or `--- {a: 1}`).
            has_content = !trimmed[3..].trim().is_empty() && !trimmed[3..].trim().starts_with('#');
        } else if is_end {
            let end = offset + line.len();
            if has_content || explicit {
                chunks.push(Chunk {
                    text: &text[start..end],
                    first_line: start_line,
                    has_content,
                    explicit,
                });
            }
            start = end;
            start_line = line_no + 1;
            has_content = false;
            explicit = false;
        } else {
            let t = trimmed.trim_start();
            // A `%` line before any content is a directive, not content.
            let directive = t.starts_with('%') && !has_content;
            if !t.is_empty() && !t.starts_with('#') && !directive {
                has_content = true;
            }
        }
        offset += line.len();
    }
    if start < text.len() && (has_content || explicit) {
        chunks.push(Chunk {
            text: &text[start..],
            first_line: start_line,
            has_content,
            explicit,
        });
    } else if start == text.len() && explicit {
        chunks.push(Chunk {
            text: "",
            first_line: start_line,
            has_content: false,
            explicit,
        });
    }
    chunks
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.starts_with(marker)
        && line[marker.len()..]
            .chars()
            .next()
            .is_none_or(|c| c == ' ' || c == '\t')
}

struct ChunkError {
    pos: Option<Pos>,
    message: String,
}

/// The most nodes one document may expand to. Aliases copy their anchor's value,
/// so a few lines can describe an enormous value (the "billion laughs"); the bound
/// turns that into an error instead of exhausting memory.
const MAX_NODES_PER_DOCUMENT: usize = 1_000_000;

/// Builds a [`Node`] tree from the parser's events.
///
/// Working on events rather than through serde gives one pass with positions for
/// free, and the YAML 1.2 core-schema resolution of plain scalars stays in our
/// hands, where it can match the JavaScript library Backstage uses exactly.
fn parse_chunk(text: &str) -> Result<Option<Node>, ChunkError> {
    let mut builder = Builder::default();
    for event in granit_parser::Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| ChunkError {
            pos: Some(Pos {
                line: e.marker().line() as u64,
                column: e.marker().col() as u64 + 1,
            }),
            message: e.info(),
        })?;
        let pos = Pos {
            line: span.start.line() as u64,
            column: span.start.col() as u64 + 1,
        };
        builder.event(event, pos)?;
        if builder.done {
            break;
        }
    }
    Ok(builder
        .root
        .filter(|node| !matches!(node, Node::Scalar(Value::Null, _))))
}

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
    },
    Map {
        entries: Vec<(String, Pos, Node)>,
        pending_key: Option<(String, Pos)>,
        pos: Pos,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
    documents: usize,
    done: bool,
}

impl Builder {
    fn event(&mut self, event: granit_parser::Event<'_>, pos: Pos) -> Result<(), ChunkError> {
        use granit_parser::Event;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Anchor(..) => {}
            Event::StreamEnd => self.done = true,
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 && self.root.is_some() {
                    // The caller splits streams into documents; a second one here means
                    // a marker the splitter could not see, so stop at the first.
                    self.done = true;
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let value = resolve_scalar(&value, style, tag.as_deref()).map_err(|message| {
                    ChunkError {
                        pos: Some(pos),
                        message,
                    }
                })?;
                self.push(Node::Scalar(value, pos), anchor, pos)?;
            }
            Event::SequenceStart(_, anchor, _) => self.stack.push(Frame::Seq {
                items: Vec::new(),
                pos,
                anchor,
            }),
            Event::MappingStart(_, anchor, _) => self.stack.push(Frame::Map {
                entries: Vec::new(),
                pending_key: None,
                pos,
                anchor,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, at) = match self.stack.pop() {
                    Some(Frame::Seq { items, pos, anchor }) => (Node::Seq(items, pos), anchor, pos),
                    Some(Frame::Map {
                        entries,
                        pos,
                        anchor,
                        ..
                    }) => (Node::Map(entries, pos), anchor, pos),
                    None => {
                        return Err(ChunkError {
                            pos: Some(pos),
                            message: "unbalanced collection end".to_owned(),
                        });
                    }
                };
                self.push(node, anchor, at)?;
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| ChunkError {
                    pos: Some(pos),
                    message: "alias to an unknown anchor".to_owned(),
                })?;
                self.nodes += node.count();
                self.push(node.moved_to(pos), 0, pos)?;
            }
            Event::UnresolvedAlias(name) => {
                return Err(ChunkError {
                    pos: Some(pos),
                    message: format!("unknown anchor '{name}'"),
                });
            }
            // Comment events exist only when another crate turns on the parser's
            // `comments` feature; they carry no data.
            #[allow(
                unreachable_patterns,
                reason = "reachable only with the comments feature"
            )]
            _ => {}
        }
        Ok(())
    }

    fn push(&mut self, node: Node, anchor: usize, pos: Pos) -> Result<(), ChunkError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES_PER_DOCUMENT {
            return Err(ChunkError {
                pos: Some(pos),
                message: format!("document expands to more than {MAX_NODES_PER_DOCUMENT} values"),
            });
        }
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => {
                    let key = match node {
                        Node::Scalar(value, key_pos) => (key_string(&value), key_pos),
                        _ => {
                            return Err(ChunkError {
                                pos: Some(pos),
                                message: "mapping keys must be scalars".to_owned(),
                            });
                        }
                    };
                    if has_key(entries, &key.0) {
                        return Err(ChunkError {
                            pos: Some(key.1),
                            message: format!("duplicate mapping key: {}", key.0),
                        });
                    }
                    *pending_key = Some(key);
                }
                Some((key, key_pos)) => entries.push((key, key_pos, node)),
            },
        }
        Ok(())
    }
}

fn has_key(entries: &[(String, Pos, Node)], key: &str) -> bool {
    entries.iter().any(|(k, _, _)| k == key)
}

/// A mapping key as JavaScript would print it: `1: a` has the key `"1"`, `~: a` the key `""`.
fn key_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Resolves a scalar by YAML 1.2's core schema, as the `yaml` JavaScript library does.
fn resolve_scalar(
    text: &str,
    style: granit_parser::ScalarStyle,
    tag: Option<&granit_parser::Tag>,
) -> Result<Value, String> {
    if let Some(tag) = tag {
        if tag.is_yaml_core_schema() {
            return match tag.suffix() {
                "str" => Ok(Value::String(text.to_owned())),
                "null" => Ok(Value::Null),
                "bool" => resolve_plain(text)
                    .filter(Value::is_boolean)
                    .ok_or_else(|| format!("'{text}' is not a boolean")),
                "int" => resolve_plain(text)
                    .filter(|v| v.is_i64() || v.is_u64())
                    .ok_or_else(|| format!("'{text}' is not an integer")),
                "float" => resolve_plain(text)
                    .filter(|v| v.is_number() || v.is_null())
                    .ok_or_else(|| format!("'{text}' is not a number")),
                // Other core tags (binary, timestamp, ...) keep the text, as the
                // JavaScript library does under its default schema.
                _ => Ok(Value::String(text.to_owned())),
            };
        }
        // An application tag such as `!foo` is unknown to Backstage's parser, which
        // keeps the scalar's text.
        return Ok(Value::String(text.to_owned()));
    }
    if style != granit_parser::ScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    Ok(resolve_plain(text).unwrap_or_else(|| Value::String(text.to_owned())))
}

/// The core schema's null, boolean, integer and float forms; `None` for a string.
fn resolve_plain(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return Some(Value::Null),
        _ => {}
    }
    let bytes = text.as_bytes();
    let first = *bytes.first()?;
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return None;
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return integer_from_radix(hex, 16);
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return integer_from_radix(oct, 8);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(n) => Some(Value::Number(n.into())),
            // Beyond 64 bits JavaScript still has a (rounded) number.
            Err(_) => text.parse::<f64>().ok().map(number_from_f64),
        };
    }
    if is_core_float(digits) {
        return text.parse::<f64>().ok().map(number_from_f64);
    }
    None
}

fn integer_from_radix(digits: &str, radix: u32) -> Option<Value> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    match u64::from_str_radix(digits, radix) {
        Ok(n) => Some(Value::Number(n.into())),
        Err(_) => {
            // Too large for 64 bits: approximate as JavaScript does.
            let mut value = 0f64;
            for c in digits.chars() {
                value = value * f64::from(radix) + f64::from(c.to_digit(radix)?);
            }
            Some(number_from_f64(value))
        }
    }
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float
/// form without its sign.
fn is_core_float(text: &str) -> bool {
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        // `1.`, `.5` and `1.5` are floats; a lone `.` is not.
        Some((int, frac)) => {
            all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && all_digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

/// A parsed YAML value with the position of every node.
#[derive(Debug, Clone)]
enum Node {
    Scalar(Value, Pos),
    Seq(Vec<Node>, Pos),
    Map(Vec<(String, Pos, Node)>, Pos),
}

impl Node {
    fn pos(&self) -> Pos {
        match self {
            Node::Scalar(_, p) | Node::Seq(_, p) | Node::Map(_, p) => *p,
        }
    }

    /// The same value placed at `pos`, as an alias is where it is used.
    fn moved_to(mut self, pos: Pos) -> Self {
        match &mut self {
            Node::Scalar(_, p) | Node::Seq(_, p) | Node::Map(_, p) => *p = pos,
        }
        self
    }

    fn count(&self) -> usize {
        match self {
            Node::Scalar(..) => 1,
            Node::Seq(items, _) => 1 + items.iter().map(Node::count).sum::<usize>(),
            Node::Map(entries, _) => 1 + entries.iter().map(|(_, _, v)| v.count()).sum::<usize>(),
        }
    }

    fn positions(&self) -> Positions {
        let children = match self {
            Node::Scalar(..) => PositionChildren::Leaf,
            Node::Seq(items, _) => {
                PositionChildren::Seq(items.iter().map(Node::positions).collect())
            }
            Node::Map(entries, _) => PositionChildren::Map(
                entries
                    .iter()
                    .map(|(k, kpos, v)| {
                        let mut p = v.positions();
                        p.key_pos = Some(*kpos);
                        (k.clone(), p)
                    })
                    .collect(),
            ),
        };
        Positions {
            pos: self.pos(),
            key_pos: None,
            children,
        }
    }

    fn into_value(self) -> Value {
        match self {
            Node::Scalar(v, _) => v,
            Node::Seq(items, _) => Value::Array(items.into_iter().map(Node::into_value).collect()),
            Node::Map(entries, _) => {
                let mut map = Map::with_capacity(entries.len());
                for (k, _, v) in entries {
                    map.insert(k, v.into_value());
                }
                Value::Object(map)
            }
        }
    }
}

/// Turns a number into a JSON number the way JavaScript would print it:
/// integral floats become integers (`1e3` is `1000`, `1.0` is `1`), and values
/// JSON cannot hold (infinities, NaN) become `null`, as `JSON.stringify` does.
fn number_from_f64(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        // The guard keeps the value inside the range where f64 holds integers exactly.
        #[expect(
            clippy::cast_possible_truncation,
            reason = "checked integral and in range above"
        )]
        return Value::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Value {
        match parse_documents(text).pop() {
            Some(Ok(doc)) => doc.value,
            other => panic!("expected one document, got {other:?}"),
        }
    }

    #[test]
    fn core_schema_scalars_match_backstage() {
        let v = one(
            "a: yes\nb: on\nc: 0755\nd: 1e3\ne: 1_000\nf: 0x1F\ng: ~\nh: true\ni: 2024-01-01\nj: 1.5\nk: '7'\n",
        );
        assert_eq!(
            v,
            serde_json::json!({
                "a": "yes", "b": "on", "c": 755, "d": 1000, "e": "1_000", "f": 31,
                "g": null, "h": true, "i": "2024-01-01", "j": 1.5, "k": "7"
            })
        );
    }

    #[test]
    fn plain_scalars_resolve_by_the_core_schema() {
        let cases: &[(&str, Value)] = &[
            ("1.5e2", serde_json::json!(150)),
            (".5", serde_json::json!(0.5)),
            ("-.5", serde_json::json!(-0.5)),
            ("+12", serde_json::json!(12)),
            ("-0", serde_json::json!(0)),
            ("0o17", serde_json::json!(15)),
            ("0o19", serde_json::json!("0o19")),
            ("0xZZ", serde_json::json!("0xZZ")),
            (".", serde_json::json!(".")),
            ("1e", serde_json::json!("1e")),
            ("1.2.3", serde_json::json!("1.2.3")),
            (
                "12345678901234567890123",
                serde_json::json!(1.2345678901234568e22),
            ),
            (".inf", Value::Null),
            ("-.Inf", Value::Null),
            (".NaN", Value::Null),
            ("Null", Value::Null),
            ("TRUE", serde_json::json!(true)),
            ("tRue", serde_json::json!("tRue")),
            ("off", serde_json::json!("off")),
            ("v1.2", serde_json::json!("v1.2")),
        ];
        for (text, expected) in cases {
            assert_eq!(&one(&format!("a: {text}\n"))["a"], expected, "{text}");
        }
    }

    #[test]
    fn quoted_block_and_tagged_scalars() {
        let v = one(
            "a: '12'\nb: \"true\"\nc: !!str 7\nd: !!int '8'\ne: !custom 9\nf: |\n  x\n  y\ng: >-\n  p\n  q\n",
        );
        assert_eq!(
            v,
            serde_json::json!({"a": "12", "b": "true", "c": "7", "d": 8, "e": "9", "f": "x\ny\n", "g": "p q"})
        );
        let docs = parse_documents("a: !!int nope\n");
        assert!(docs[0].is_err(), "{docs:?}");
    }

    #[test]
    fn keys_are_printed_like_javascript() {
        let v = one("1: a\ntrue: b\n~: c\n1.5: d\n");
        assert_eq!(
            v,
            serde_json::json!({"1": "a", "true": "b", "": "c", "1.5": "d"})
        );
        // `1` and `1.0` print the same, so they collide as keys.
        let docs = parse_documents("1: a\n1.0: b\n");
        assert!(docs[0].is_err(), "{docs:?}");
        let docs = parse_documents("? [a]\n: b\n");
        assert!(docs[0].is_err(), "collection keys are refused: {docs:?}");
    }

    #[test]
    fn anchors_expand_and_bombs_are_bounded() {
        let v = one("base: &b {x: 1}\ncopy: *b\nlist: [&n 5, *n]\n");
        assert_eq!(v["copy"], serde_json::json!({"x": 1}));
        assert_eq!(v["list"], serde_json::json!([5, 5]));
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h"])
        {
            bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let docs = parse_documents(&bomb);
        let err = docs[0]
            .as_ref()
            .expect_err("ten million values is too many");
        assert!(err.message.contains("more than"), "{err:?}");
    }

    #[test]
    fn merge_keys_stay_ordinary_keys() {
        let v = one("base: &b {x: 1}\nother:\n  <<: *b\n");
        assert_eq!(v["other"]["<<"], serde_json::json!({"x": 1}));
    }

    #[test]
    fn duplicate_keys_are_errors_with_a_line() {
        let docs = parse_documents("a: 1\nb:\n  c: 1\n  c: 2\n");
        let err = docs[0].as_ref().expect_err("duplicate key must fail");
        assert_eq!(err.pos.line, 4, "{err:?}");
    }

    #[test]
    fn documents_are_independent_and_positions_are_absolute() {
        let text = "a: 1\n---\n# only a comment\n---\nb: [\n---\nc:\n  d: 2\n";
        let docs = parse_documents(text);
        assert_eq!(docs.len(), 3, "{docs:?}");
        assert!(docs[0].is_ok());
        assert!(docs[1].is_err());
        let third = docs[2].as_ref().expect("third document parses");
        assert_eq!(third.index, 3);
        let pos = third.positions.lookup(&FieldPath::keys(&["c", "d"]));
        assert_eq!(pos, Pos { line: 8, column: 3 });
        // A missing field points at its nearest existing parent.
        let pos = third.positions.lookup(&FieldPath::keys(&["c", "missing"]));
        assert_eq!(pos, Pos { line: 7, column: 1 });
    }

    #[test]
    fn empty_and_null_documents_are_skipped() {
        assert!(parse_documents("").is_empty());
        assert!(parse_documents("---\n---\n").is_empty());
        assert!(parse_documents("~\n").is_empty());
    }

    #[test]
    fn single_document_counts_trailing_marker() {
        assert_eq!(parse_single("a: 1\n"), Ok(serde_json::json!({"a": 1})));
        assert_eq!(
            parse_single("a: 1\n---\n"),
            Err(SingleDocumentError::Count(2))
        );
        assert_eq!(
            parse_single("a: 1\n---\nb: 2\n"),
            Err(SingleDocumentError::Count(2))
        );
    }
}
