//! YAML reading with Backstage's semantics and with a position for every value.
//!
//! Backstage reads descriptors with the JavaScript `yaml` library: YAML 1.2 core
//! schema (`yes`/`on` stay strings), merge keys off, every document of a stream
//! handled on its own so that one broken document does not hide its siblings.
//! This module is the only place that calls the YAML parser, always with the
//! strict options below, and it returns plain `serde_json::Value`s plus a
//! [`Positions`] tree that maps any [`FieldPath`] back to a line and column.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{DuplicateKeyPolicy, MergeKeyPolicy, Options, Spanned};

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

/// The parser options that make serde-saphyr read YAML the way Backstage does.
fn backstage_options() -> Options {
    serde_saphyr::options! {
        strict_booleans: true,
        underscored_numbers_as_strings: true,
        merge_keys: MergeKeyPolicy::AsOrdinary,
        duplicate_keys: DuplicateKeyPolicy::Error,
        with_snippet: false,
    }
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

fn parse_chunk(text: &str) -> Result<Option<Node>, ChunkError> {
    match serde_saphyr::from_str_with_options::<Option<Spanned<RawNode>>>(text, backstage_options())
    {
        Ok(Some(spanned)) => Ok(Some(Node::from_spanned(spanned, None))),
        Ok(None) => Ok(None),
        Err(e) => {
            let pos = e.location().and_then(|l| {
                (l.line() > 0).then(|| Pos {
                    line: l.line(),
                    column: l.column().max(1),
                })
            });
            Err(ChunkError {
                pos,
                message: plain_message(&e.to_string()),
            })
        }
    }
}

/// Keeps the first line of the parser's message and drops its own position suffix,
/// since callers print the position themselves.
fn plain_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    let first = match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    // The parser suggests one of its own options; that advice is not for our users.
    let first = match first.find(", set DuplicateKeyPolicy") {
        Some(i) => &first[..i],
        None => first,
    };
    first.to_owned()
}

/// A parsed YAML value with the position of every node.
#[derive(Debug)]
enum Node {
    Scalar(Value, Pos),
    Seq(Vec<Node>, Pos),
    Map(Vec<(String, Pos, Node)>, Pos),
}

impl Node {
    fn from_spanned(spanned: Spanned<RawNode>, _key: Option<Pos>) -> Self {
        let pos = Pos {
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
        };
        match spanned.value {
            RawNode::Scalar(v) => Node::Scalar(v, pos),
            RawNode::Seq(items) => Node::Seq(
                items
                    .into_iter()
                    .map(|i| Node::from_spanned(i, None))
                    .collect(),
                pos,
            ),
            RawNode::Map(entries) => Node::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let kpos = Pos {
                            line: k.referenced.line(),
                            column: k.referenced.column(),
                        };
                        (k.value.0, kpos, Node::from_spanned(v, Some(kpos)))
                    })
                    .collect(),
                pos,
            ),
        }
    }

    fn pos(&self) -> Pos {
        match self {
            Node::Scalar(_, p) | Node::Seq(_, p) | Node::Map(_, p) => *p,
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

/// What serde-saphyr hands us for one node, before positions are flattened.
enum RawNode {
    Scalar(Value),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<Key>, Spanned<RawNode>)>),
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawNodeVisitor)
    }
}

struct RawNodeVisitor;

/// Turns a YAML number into a JSON number the way JavaScript would print it:
/// integral floats become integers (`1e3` is `1000`, `1.0` is `1`), and values
/// JSON cannot hold (`.inf`, `.nan`) become `null`, as `JSON.stringify` does.
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

impl<'de> Visitor<'de> for RawNodeVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode::Scalar(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawNode, E> {
        Ok(RawNode::Scalar(Value::Number(v.into())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNode, E> {
        Ok(RawNode::Scalar(Value::Number(v.into())))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawNode, E> {
        #[expect(
            clippy::cast_precision_loss,
            reason = "JavaScript numbers are doubles too"
        )]
        Ok(RawNode::Scalar(number_from_f64(v as f64)))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawNode, E> {
        #[expect(
            clippy::cast_precision_loss,
            reason = "JavaScript numbers are doubles too"
        )]
        Ok(RawNode::Scalar(number_from_f64(v as f64)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawNode, E> {
        Ok(RawNode::Scalar(number_from_f64(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode::Scalar(Value::String(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode::Scalar(Value::String(v)))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<RawNode, E> {
        Ok(RawNode::Scalar(Value::String(
            String::from_utf8_lossy(v).into_owned(),
        )))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawNode, E> {
        Ok(RawNode::Scalar(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<RawNode, E> {
        Ok(RawNode::Scalar(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
        RawNode::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<Spanned<RawNode>>()? {
            items.push(item);
        }
        Ok(RawNode::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
        let mut entries: Vec<(Spanned<Key>, Spanned<RawNode>)> =
            Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(key) = map.next_key::<Spanned<Key>>()? {
            let value = map.next_value::<Spanned<RawNode>>()?;
            // The parser rejects repeated keys itself; keys that only become equal once
            // turned into strings (`1` and `"1"`) are caught here.
            if entries.iter().any(|(k, _)| k.value.0 == key.value.0) {
                return Err(de::Error::custom(format!(
                    "duplicate mapping key '{}' at line {}, column {}",
                    key.value.0,
                    key.referenced.line(),
                    key.referenced.column()
                )));
            }
            entries.push((key, value));
        }
        Ok(RawNode::Map(entries))
    }
}

/// A mapping key. JSON keys are strings, so scalar keys are written as JavaScript
/// would print them (`1: a` has the key `"1"`); collections as keys are refused.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Key, E> {
        Ok(Key(match number_from_f64(v) {
            Value::Number(n) => n.to_string(),
            _ => "null".to_owned(),
        }))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Key, E> {
        Ok(Key(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
        Ok(Key(String::new()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Key, E> {
        Ok(Key(String::new()))
    }
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
