//! `catalog.rules`: which kinds may enter the catalog from which locations (spec §12).
//!
//! Rules are checked against the *origin* location of the processing entity, i.e.
//! the registered root location, even for entities reached through nested
//! Location files. Location patterns use a small case-insensitive glob matcher
//! (`*`, `**`, `?`, `[...]`, backslash escapes; dot-files are matched; brace
//! expansion is not supported).

use std::path::{Component, Path, PathBuf};

use serde_json::Value;
use url::Url;

use crate::entity_ref::{entity_ref_of, lower, stringify_entity_ref};
use crate::location_ref::LocationRef;
use crate::problem::{FieldPath, Problem, ProblemKind};

/// A configuration error in `catalog.rules` or `catalog.locations[].rules`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("Invalid catalog rules configuration at {path}: {message}")]
    Invalid { path: String, message: String },
    #[error("A catalog rule location cannot have both exact and pattern values (at {0})")]
    ExactAndPattern(String),
}

/// One `allow` entry: a kind, optionally narrowed to a `spec.type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    pub kind: String,
    pub spec_type: Option<String>,
}

/// One location matcher of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationMatcher {
    pub location_type: String,
    pub exact: Option<String>,
    pub pattern: Option<String>,
}

/// One rule: the kinds it allows, and where (`None` = any location).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRule {
    pub allow: Vec<AllowEntry>,
    pub locations: Option<Vec<LocationMatcher>>,
}

/// The effective rule set: global rules (or the default) plus per-location rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRules {
    pub rules: Vec<CatalogRule>,
}

impl Default for CatalogRules {
    /// Backstage's built-in default: `allow: [Component, API, Location]` anywhere.
    fn default() -> Self {
        Self {
            rules: vec![CatalogRule {
                allow: ["Component", "API", "Location"]
                    .into_iter()
                    .map(|kind| AllowEntry {
                        kind: kind.to_owned(),
                        spec_type: None,
                    })
                    .collect(),
                locations: None,
            }],
        }
    }
}

impl CatalogRules {
    /// Builds the rules from `catalog.rules` and `catalog.locations`.
    ///
    /// Present global rules replace the default, even when empty. Rules of a
    /// configured location are restricted to exactly that location; `file` targets
    /// are made absolute against `cwd` first.
    pub fn from_config(
        rules: Option<&Value>,
        locations: Option<&Value>,
        cwd: &Path,
    ) -> Result<CatalogRules, RulesError> {
        let mut out = Vec::new();
        match rules {
            None | Some(Value::Null) => out.extend(Self::default().rules),
            Some(value) => {
                for (i, rule) in array(value, "catalog.rules")?.iter().enumerate() {
                    out.push(parse_rule(rule, &format!("catalog.rules[{i}]"), true)?);
                }
            }
        }
        if let Some(value) = locations.filter(|v| !v.is_null()) {
            for (i, location) in array(value, "catalog.locations")?.iter().enumerate() {
                let at = format!("catalog.locations[{i}]");
                let Some(loc_rules) = location.get("rules").filter(|v| !v.is_null()) else {
                    continue;
                };
                let location_type = string_field(location, "type", &at)?;
                let target = string_field(location, "target", &at)?;
                let exact = if location_type == "file" {
                    absolute_path(cwd, &target)
                } else {
                    target
                };
                for (j, rule) in array(loc_rules, &format!("{at}.rules"))?.iter().enumerate() {
                    let mut parsed = parse_rule(rule, &format!("{at}.rules[{j}]"), false)?;
                    parsed.locations = Some(vec![LocationMatcher {
                        location_type: location_type.clone(),
                        exact: Some(exact.clone()),
                        pattern: None,
                    }]);
                    out.push(parsed);
                }
            }
        }
        Ok(CatalogRules { rules: out })
    }

    /// Whether some rule matches both the (origin) location and the entity.
    pub fn is_allowed(&self, entity: &Value, location: &LocationRef) -> bool {
        self.rules.iter().any(|rule| {
            matches_location(rule.locations.as_deref(), location)
                && rule.allow.iter().any(|entry| matches_entity(entry, entity))
        })
    }

    /// Checks every emitted child against the origin location and reports the first
    /// one that is not allowed, in Backstage's `NotAllowedError` wording.
    pub fn check_children<'v>(
        &self,
        children: impl IntoIterator<Item = &'v Value>,
        location: &LocationRef,
        origin: &LocationRef,
    ) -> Result<(), Problem> {
        let Some(child) = children.into_iter().find(|c| !self.is_allowed(c, origin)) else {
            return Ok(());
        };
        let entity_ref = match entity_ref_of(child) {
            Some(r) => r.to_canonical(),
            None => stringify_entity_ref(
                child.get("kind").and_then(Value::as_str).unwrap_or(""),
                None,
                child
                    .get("metadata")
                    .and_then(|m| m.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            ),
        };
        Err(Self::not_allowed(&entity_ref, location, origin))
    }

    /// The problem [`CatalogRules::check_children`] reports for a child that is not
    /// allowed, for callers that checked each child with [`CatalogRules::is_allowed`]
    /// as it was emitted and kept only its ref.
    pub fn not_allowed(entity_ref: &str, location: &LocationRef, origin: &LocationRef) -> Problem {
        Problem::new(
            ProblemKind::Rules,
            FieldPath::root(),
            format!(
                "NotAllowedError: Entity {entity_ref} at {location}, originated at {origin}, is not of an allowed kind for that location"
            ),
        )
    }
}

fn array<'v>(value: &'v Value, at: &str) -> Result<&'v Vec<Value>, RulesError> {
    value
        .as_array()
        .ok_or_else(|| invalid(at, "expected an array"))
}

fn invalid(at: &str, message: &str) -> RulesError {
    RulesError::Invalid {
        path: at.to_owned(),
        message: message.to_owned(),
    }
}

fn string_field(value: &Value, key: &str, at: &str) -> Result<String, RulesError> {
    match value.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(invalid(&format!("{at}.{key}"), "expected a string")),
    }
}

fn optional_string(value: &Value, key: &str, at: &str) -> Result<Option<String>, RulesError> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(&format!("{at}.{key}"), "expected a string")),
    }
}

fn parse_rule(rule: &Value, at: &str, with_locations: bool) -> Result<CatalogRule, RulesError> {
    if !rule.is_object() {
        return Err(invalid(at, "expected an object"));
    }
    let allow_at = format!("{at}.allow");
    let allow_value = rule
        .get("allow")
        .ok_or_else(|| invalid(&allow_at, "missing required value"))?;
    let mut allow = Vec::new();
    for (i, entry) in array(allow_value, &allow_at)?.iter().enumerate() {
        let entry_at = format!("{allow_at}[{i}]");
        allow.push(match entry {
            Value::String(kind) => AllowEntry {
                kind: kind.clone(),
                spec_type: None,
            },
            Value::Object(_) => AllowEntry {
                kind: string_field(entry, "kind", &entry_at)?,
                spec_type: optional_string(entry, "spec.type", &entry_at)?,
            },
            _ => {
                return Err(invalid(
                    &entry_at,
                    "expected a kind name or {kind, spec.type}",
                ));
            }
        });
    }
    let locations = match rule
        .get("locations")
        .filter(|v| with_locations && !v.is_null())
    {
        None => None,
        Some(value) => {
            let locations_at = format!("{at}.locations");
            let mut matchers = Vec::new();
            for (i, matcher) in array(value, &locations_at)?.iter().enumerate() {
                let matcher_at = format!("{locations_at}[{i}]");
                let location_type = string_field(matcher, "type", &matcher_at)?;
                let exact = optional_string(matcher, "exact", &matcher_at)?;
                let pattern = optional_string(matcher, "pattern", &matcher_at)?;
                if exact.is_some() && pattern.is_some() {
                    return Err(RulesError::ExactAndPattern(matcher_at));
                }
                matchers.push(LocationMatcher {
                    location_type,
                    exact,
                    pattern,
                });
            }
            Some(matchers)
        }
    };
    Ok(CatalogRule { allow, locations })
}

fn matches_entity(entry: &AllowEntry, entity: &Value) -> bool {
    let Some(kind) = entity.get("kind").and_then(Value::as_str) else {
        return false;
    };
    if lower(kind) != lower(&entry.kind) {
        return false;
    }
    match &entry.spec_type {
        // An empty filter is falsy in Backstage and so restricts nothing.
        Some(wanted) if !wanted.is_empty() => entity
            .get("spec")
            .and_then(|s| s.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|t| lower(t) == lower(wanted)),
        _ => true,
    }
}

fn matches_location(matchers: Option<&[LocationMatcher]>, location: &LocationRef) -> bool {
    let Some(matchers) = matchers else {
        return true;
    };
    let is_url = location.location_type == "url";
    let canonical_target = if is_url {
        match canonical_url(&location.target) {
            Some(t) => t,
            None => return false,
        }
    } else {
        location.target.clone()
    };
    matchers.iter().any(|m| {
        if m.location_type != location.location_type {
            return false;
        }
        if let Some(exact) = m.exact.as_deref().filter(|e| !e.is_empty()) {
            let exact = if is_url {
                canonical_url(exact)
            } else {
                Some(exact.to_owned())
            };
            if exact.as_deref() != Some(canonical_target.as_str()) {
                return false;
            }
        }
        if let Some(pattern) = m.pattern.as_deref().filter(|p| !p.is_empty())
            && !glob_match(pattern, &location.target)
        {
            return false;
        }
        true
    })
}

/// The canonical form of a URL for comparisons: parsed (which percent-encodes and
/// resolves dot segments), then with encoded dots, slashes and backslashes decoded
/// and backslashes turned into slashes, and parsed again so that smuggled `..`
/// segments are resolved too.
fn canonical_url(raw: &str) -> Option<String> {
    let mut url = Url::parse(raw).ok()?;
    let path = url.path().to_owned();
    let mut decoded = String::with_capacity(path.len());
    let mut rest = path.as_str();
    while let Some(c) = rest.chars().next() {
        let lower3 = rest.get(..3).map(str::to_ascii_lowercase);
        match lower3.as_deref() {
            Some("%2e") => {
                decoded.push('.');
                rest = &rest[3..];
            }
            Some("%2f" | "%5c") => {
                decoded.push('/');
                rest = &rest[3..];
            }
            _ => {
                decoded.push(if c == '\\' { '/' } else { c });
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    url.set_path(&decoded);
    // A second parse resolves dot segments that only appeared after decoding.
    Url::parse(url.as_str()).ok().map(String::from)
}

/// `path.resolve(cwd, target)`: joined and normalised lexically.
fn absolute_path(cwd: &Path, target: &str) -> String {
    let joined = cwd.join(target);
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out.to_string_lossy().into_owned()
}

/// One element of a glob segment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyChar,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Case-insensitive glob match of a whole string; `/` separates segments, `*` and
/// `?` never cross it, a segment that is exactly `**` matches any number of
/// segments, and leading dots are matched like any other character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern = lower(pattern);
    let text = lower(text);
    let pattern_segments: Vec<&str> = pattern.split('/').collect();
    let text_segments: Vec<&str> = text.split('/').collect();
    // Classic greedy matching with backtracking to the last `**`, over segments.
    let (mut p, mut t) = (0usize, 0usize);
    let mut resume: Option<(usize, usize)> = None;
    while t < text_segments.len() {
        if p < pattern_segments.len() && pattern_segments[p] == "**" {
            resume = Some((p, t));
            p += 1;
        } else if p < pattern_segments.len()
            && segment_match(&tokenize(pattern_segments[p]), text_segments[t])
        {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = resume {
            p = star_p + 1;
            t = star_t + 1;
            resume = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern_segments[p..].iter().all(|s| *s == "**")
}

fn tokenize(segment: &str) -> Vec<Token> {
    let chars: Vec<char> = segment.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                // Consecutive stars inside a segment behave like one.
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
                i += 1;
            }
            '?' => {
                tokens.push(Token::AnyChar);
                i += 1;
            }
            '\\' if i + 1 < chars.len() => {
                tokens.push(Token::Literal(chars[i + 1]));
                i += 2;
            }
            '[' => match parse_class(&chars, i) {
                Some((token, next)) => {
                    tokens.push(token);
                    i = next;
                }
                None => {
                    tokens.push(Token::Literal('['));
                    i += 1;
                }
            },
            c => {
                tokens.push(Token::Literal(c));
                i += 1;
            }
        }
    }
    tokens
}

/// Parses `[...]` starting at `start`; `None` when the bracket is never closed.
fn parse_class(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut i = start + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        if c == ']' && !first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        let (lo, next) = if c == '\\' && i + 1 < chars.len() {
            (chars[i + 1], i + 2)
        } else {
            (c, i + 1)
        };
        if chars.get(next) == Some(&'-') && chars.get(next + 1).is_some_and(|h| *h != ']') {
            let hi = chars[next + 1];
            ranges.push((lo, hi));
            i = next + 2;
        } else {
            ranges.push((lo, lo));
            i = next;
        }
    }
    None
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::AnyChar => true,
        Token::Star => false,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
        }
    }
}

/// Greedy single-segment matching with backtracking to the last `*`.
fn segment_match(tokens: &[Token], text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0usize, 0usize);
    let mut resume: Option<(usize, usize)> = None;
    while t < chars.len() {
        if p < tokens.len() && tokens[p] == Token::Star {
            resume = Some((p, t));
            p += 1;
        } else if p < tokens.len() && token_matches(&tokens[p], chars[t]) {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = resume {
            p = star_p + 1;
            t = star_t + 1;
            resume = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    tokens[p..].iter().all(|tok| *tok == Token::Star)
}

/// Same as [`CatalogRules::from_config`], as a free function.
pub fn from_config(
    rules: Option<&Value>,
    locations: Option<&Value>,
    cwd: &Path,
) -> Result<CatalogRules, RulesError> {
    CatalogRules::from_config(rules, locations, cwd)
}
