//! Problems found in an entity: what is wrong, and where in the entity it is.
//!
//! Every check in this crate reports through [`Problem`], so that callers can
//! print a message, point at a field (the CLI maps a [`FieldPath`] to a line and
//! column through [`crate::yaml::Positions`]) or collect many problems at once.

use std::fmt;

/// One step into a JSON value: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// The location of a value inside an entity, as a list of keys and indices.
///
/// It displays in Backstage's dotted form (`metadata.name`, `spec.steps.0.action`),
/// which is ambiguous for keys that contain dots; code that needs the exact path
/// uses [`FieldPath::segments`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath {
    segments: Vec<PathSegment>,
}

impl FieldPath {
    /// The empty path, which denotes the whole entity (or document).
    pub fn root() -> Self {
        Self::default()
    }

    /// A path made of object keys only, e.g. `FieldPath::keys(&["metadata", "name"])`.
    pub fn keys(keys: &[&str]) -> Self {
        Self {
            segments: keys
                .iter()
                .map(|k| PathSegment::Key((*k).to_owned()))
                .collect(),
        }
    }

    /// This path extended by one object key.
    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.segments.clone();
        segments.push(PathSegment::Key(key.to_owned()));
        Self { segments }
    }

    /// This path extended by one array index.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.segments.clone();
        segments.push(PathSegment::Index(index));
        Self { segments }
    }

    pub fn segments(&self) -> &[PathSegment] {
        &self.segments
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The path as a JSON pointer the way Backstage's schema validator (ajv)
    /// spells an `instancePath`: `/metadata/labels/a~1b`, or `<root>` for the
    /// whole entity, since that is how its messages name the root.
    pub fn json_pointer(&self) -> String {
        if self.segments.is_empty() {
            return "<root>".to_owned();
        }
        let mut out = String::new();
        for segment in &self.segments {
            out.push('/');
            match segment {
                PathSegment::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
                PathSegment::Index(n) => out.push_str(&n.to_string()),
            }
        }
        out
    }
}

impl From<Vec<PathSegment>> for FieldPath {
    fn from(segments: Vec<PathSegment>) -> Self {
        Self { segments }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match segment {
                PathSegment::Key(k) => f.write_str(k)?,
                PathSegment::Index(n) => write!(f, "{n}")?,
            }
        }
        Ok(())
    }
}

/// Which stage of Backstage's pipeline a problem belongs to.
///
/// The names follow the steps of the processing pipeline in the catalog-model
/// spec (§2), so that a message can say which rule was broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The YAML or JSON text could not be read as documents.
    Syntax,
    /// A document is not an entity envelope (`apiVersion`, `kind`, `metadata.name`).
    Envelope,
    /// The root entity schema (types, required fields, unknown root fields).
    Schema,
    /// A field's format rule (names, namespaces, labels, annotations, tags, links).
    Format,
    /// The kind's own schema (`spec` of Component, API, ...), or an unknown kind.
    Kind,
    /// An entity reference that cannot be parsed or lacks a kind.
    Reference,
    /// A `$text`, `$json` or `$yaml` placeholder that could not be resolved.
    Placeholder,
    /// A `catalog.rules` violation.
    Rules,
}

impl ProblemKind {
    /// A short stable name, used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::Envelope => "envelope",
            Self::Schema => "schema",
            Self::Format => "format",
            Self::Kind => "kind",
            Self::Reference => "reference",
            Self::Placeholder => "placeholder",
            Self::Rules => "rules",
        }
    }
}

/// One thing wrong with an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The field the problem is about; the root path when it concerns the whole entity.
    pub path: FieldPath,
    /// A readable message in Backstage's wording where Backstage has one.
    pub message: String,
}

impl Problem {
    pub fn new(kind: ProblemKind, path: FieldPath, message: impl Into<String>) -> Self {
        Self {
            kind,
            path,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}
