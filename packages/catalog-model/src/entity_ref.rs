//! Entity references: the `[<kind>:][<namespace>/]<name>` string form, the compound
//! form, their defaults, the canonical lower-cased string and comparisons (spec §4).
//!
//! Parsing follows Backstage's current parser exactly: no trimming, no case folding,
//! and colons or slashes after the first separator belong to the name. Only the
//! canonical form ([`EntityRef::to_canonical`]) is lower-cased.

use std::fmt;

use serde_json::Value;

/// The namespace used when neither the reference nor its context names one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A complete `(kind, namespace, name)` triplet, with the parts spelled as written.
///
/// The derived `PartialEq` compares spelling exactly; use [`EntityRef::same_entity`]
/// to ask whether two references denote the same entity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl EntityRef {
    /// Builds a reference from its three parts, keeping their spelling.
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The canonical string `kind:namespace/name`, every part lower-cased.
    pub fn to_canonical(&self) -> String {
        stringify_entity_ref(&self.kind, Some(&self.namespace), &self.name)
    }

    /// Whether both references denote the same entity (case-insensitive on all parts).
    pub fn same_entity(&self, other: &EntityRef) -> bool {
        lower(&self.kind) == lower(&other.kind)
            && lower(&self.namespace) == lower(&other.namespace)
            && lower(&self.name) == lower(&other.name)
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_canonical())
    }
}

/// Context defaults applied to the parts a reference leaves out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefDefaults<'a> {
    pub kind: Option<&'a str>,
    pub namespace: Option<&'a str>,
}

impl<'a> RefDefaults<'a> {
    /// Defaults with a kind only.
    pub fn kind(kind: &'a str) -> Self {
        Self {
            kind: Some(kind),
            namespace: None,
        }
    }

    /// Defaults with both a kind and a namespace.
    pub fn kind_and_namespace(kind: &'a str, namespace: &'a str) -> Self {
        Self {
            kind: Some(kind),
            namespace: Some(namespace),
        }
    }
}

/// Why a reference could not be turned into a complete triplet.
///
/// The messages follow Backstage's wording; `<json>` parts are the input rendered
/// as JSON, as Backstage does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("Entity reference must not be empty")]
    Empty,
    #[error("Entity reference \"{0}\" was not on the form [<kind>:][<namespace>/]<name>")]
    Malformed(String),
    #[error(
        "Entity reference {0} had missing or empty kind (e.g. did not start with \"component:\" or similar)"
    )]
    MissingKind(String),
    #[error("Entity reference {0} had missing or empty namespace")]
    MissingNamespace(String),
    #[error("Entity reference {0} had missing or empty name")]
    MissingName(String),
}

/// The parts of a string reference as written, before defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefParts<'s> {
    pub kind: Option<&'s str>,
    pub namespace: Option<&'s str>,
    pub name: &'s str,
}

/// Splits a string reference into its parts without applying any defaults (§4.2).
pub fn split_entity_ref(input: &str) -> Result<RefParts<'_>, RefError> {
    if input.is_empty() {
        return Err(RefError::Empty);
    }
    let slash = input.find('/');
    // A colon that appears only after the first slash belongs to the name.
    let colon = match (input.find(':'), slash) {
        (Some(c), Some(s)) if s < c => None,
        (c, _) => c,
    };
    let kind = colon.map(|c| &input[..c]);
    let name_start = match (colon, slash) {
        (Some(c), Some(s)) => (c + 1).max(s + 1),
        (Some(c), None) => c + 1,
        (None, Some(s)) => s + 1,
        (None, None) => 0,
    };
    let namespace = slash.map(|s| {
        let start = colon.map_or(0, |c| c + 1);
        // `start <= s` always holds because a colon after the slash was discarded.
        input.get(start..s).unwrap_or("")
    });
    let name = &input[name_start..];
    if kind == Some("") || namespace == Some("") || name.is_empty() {
        return Err(RefError::Malformed(input.to_owned()));
    }
    Ok(RefParts {
        kind,
        namespace,
        name,
    })
}

/// Parses a string reference and applies the defaults of §4.3.
pub fn parse_entity_ref(input: &str, defaults: RefDefaults<'_>) -> Result<EntityRef, RefError> {
    let parts = split_entity_ref(input)?;
    let json = || json_string(input);
    complete(
        parts.kind.or(defaults.kind),
        parts.namespace.or_else(|| default_namespace(defaults)),
        Some(parts.name),
        json,
    )
}

/// The compound `{kind?, namespace?, name}` form used by APIs and code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompoundRef {
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: String,
}

/// Applies defaults to a compound reference. Unlike absent parts, explicitly empty
/// strings are not replaced by defaults and are therefore errors.
pub fn parse_compound_ref(
    input: &CompoundRef,
    defaults: RefDefaults<'_>,
) -> Result<EntityRef, RefError> {
    // Rendered by hand so the keys keep Backstage's order (kind, namespace, name).
    let json = || {
        let mut parts = Vec::with_capacity(3);
        if let Some(kind) = &input.kind {
            parts.push(format!("\"kind\":{}", json_string(kind)));
        }
        if let Some(ns) = &input.namespace {
            parts.push(format!("\"namespace\":{}", json_string(ns)));
        }
        parts.push(format!("\"name\":{}", json_string(&input.name)));
        format!("{{{}}}", parts.join(","))
    };
    complete(
        input.kind.as_deref().or(defaults.kind),
        input
            .namespace
            .as_deref()
            .or_else(|| default_namespace(defaults)),
        Some(input.name.as_str()),
        json,
    )
}

/// Canonical string of a reference: lower-cased, `default` inserted for a missing namespace.
///
/// An explicitly empty namespace is kept empty, as Backstage does.
pub fn stringify_entity_ref(kind: &str, namespace: Option<&str>, name: &str) -> String {
    let namespace = namespace.unwrap_or(DEFAULT_NAMESPACE);
    // One buffer for the whole reference: every processed entity builds a
    // dozen of these for its relations, and three lower-cased copies plus a
    // `format!` per reference were 4 % of a bulk load's CPU.
    let mut out = String::with_capacity(kind.len() + namespace.len() + name.len() + 2);
    push_lower(&mut out, kind);
    out.push(':');
    push_lower(&mut out, namespace);
    out.push('/');
    push_lower(&mut out, name);
    out
}

/// Appends `s` lower-cased as [`lower`] does; ASCII text, by far the common
/// case, takes the byte-wise path.
fn push_lower(out: &mut String, s: &str) {
    if s.is_ascii() {
        out.extend(s.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        out.extend(s.chars().flat_map(char::to_lowercase));
    }
}

/// The reference of an entity (`getCompoundEntityRef`): kind and name as written,
/// a missing, empty or non-string namespace replaced by `default`.
///
/// Returns `None` when `kind` or `metadata.name` is not a string.
pub fn entity_ref_of(entity: &Value) -> Option<EntityRef> {
    let kind = entity.get("kind")?.as_str()?;
    let metadata = entity.get("metadata")?;
    let name = metadata.get("name")?.as_str()?;
    let namespace = metadata
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE);
    Some(EntityRef::new(kind, namespace, name))
}

/// Whether `entity` is the entity that `reference` denotes under `defaults`.
///
/// A reference that does not parse matches nothing.
pub fn entity_matches_ref(entity: &Value, reference: &str, defaults: RefDefaults<'_>) -> bool {
    match (entity_ref_of(entity), parse_entity_ref(reference, defaults)) {
        (Some(own), Ok(other)) => own.same_entity(&other),
        _ => false,
    }
}

/// Lower-cases with per-character Unicode mappings, so that the result does not
/// depend on context (e.g. the final-sigma rule of `str::to_lowercase`).
pub(crate) fn lower(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

fn default_namespace<'a>(defaults: RefDefaults<'a>) -> Option<&'a str> {
    // An empty default namespace falls back to `default`, like Backstage's `||`.
    Some(
        defaults
            .namespace
            .filter(|ns| !ns.is_empty())
            .unwrap_or(DEFAULT_NAMESPACE),
    )
}

fn complete(
    kind: Option<&str>,
    namespace: Option<&str>,
    name: Option<&str>,
    json: impl Fn() -> String,
) -> Result<EntityRef, RefError> {
    let kind = kind
        .filter(|k| !k.is_empty())
        .ok_or_else(|| RefError::MissingKind(json()))?;
    let namespace = namespace
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RefError::MissingNamespace(json()))?;
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RefError::MissingName(json()))?;
    Ok(EntityRef::new(kind, namespace, name))
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}
