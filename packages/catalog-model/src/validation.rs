//! Entity validation: the field-format predicates of spec §3 and the policy chain plus kind validation of §2 B.3–B.6.
//!
//! Unlike Backstage, which stops at the first failing rule, [`EntityValidator`]
//! reports every problem it finds, each pointing at the offending field. The
//! happy path allocates nothing: paths and messages are only built for problems.

use std::fmt;

use serde_json::{Map, Value};

use crate::kinds::KindSet;
use crate::problem::{FieldPath, Problem, ProblemKind};

/// How much of an offending value a message quotes, so huge values keep messages small.
const MAX_QUOTED_CHARS: usize = 200;

/// The sentence Backstage appends to field-format errors.
const FORMAT_HELP: &str = "To learn more about entity file format, visit: \
     https://backstage.io/docs/features/software-catalog/descriptor-format";

/// `DNS_LABEL`: 1–63 of `[a-z0-9]` in runs separated by one or more `-`.
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let lower_alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            b.len() <= 63
                && lower_alnum(first)
                && lower_alnum(last)
                && b.iter().all(|c| lower_alnum(c) || *c == b'-')
        }
        _ => false,
    }
}

/// `DNS_SUBDOMAIN`: 1–253 characters, every `.`-separated segment a [`is_dns_label`].
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// `OBJECT_NAME`: 1–63 characters, alphanumeric at both ends, `[-A-Za-z0-9_.]` inside.
pub fn is_valid_object_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            b.len() <= 63
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `PREFIXED(s, P, N)`: one `/`-part must satisfy `name`; two parts `prefix` then `name`.
fn is_prefixed(s: &str, prefix: fn(&str) -> bool, name: fn(&str) -> bool) -> bool {
    let mut parts = s.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(only), None, _) => name(only),
        (Some(p), Some(n), None) => prefix(p) && name(n),
        _ => false,
    }
}

/// The version part of an apiVersion: 1–63 ASCII alphanumerics.
fn is_api_version_part(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.bytes().all(|c| c.is_ascii_alphanumeric())
}

/// `apiVersion`: an optional DNS-subdomain prefix and `/`, then 1–63 alphanumerics.
pub fn is_valid_api_version(s: &str) -> bool {
    is_prefixed(s, is_dns_subdomain, is_api_version_part)
}

/// `kind`: 1–63 characters, a letter followed by letters and digits.
pub fn is_valid_kind(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.len() <= 63
        && b.iter().all(u8::is_ascii_alphanumeric)
}

/// `metadata.name`: [`is_valid_object_name`].
pub fn is_valid_entity_name(s: &str) -> bool {
    is_valid_object_name(s)
}

/// `metadata.namespace`: [`is_dns_label`] (lower case only, unlike what the docs suggest).
pub fn is_valid_namespace(s: &str) -> bool {
    is_dns_label(s)
}

/// A label key: an optional DNS-subdomain prefix and `/`, then an object name.
pub fn is_valid_label_key(s: &str) -> bool {
    is_prefixed(s, is_dns_subdomain, is_valid_object_name)
}

/// A label value: empty, or an object name.
pub fn is_valid_label_value(s: &str) -> bool {
    s.is_empty() || is_valid_object_name(s)
}

/// An annotation key: same rule as [`is_valid_label_key`].
pub fn is_valid_annotation_key(s: &str) -> bool {
    is_prefixed(s, is_dns_subdomain, is_valid_object_name)
}

/// An annotation value: any string, including empty; nothing else.
pub fn is_valid_annotation_value(v: &Value) -> bool {
    v.is_string()
}

/// A tag: 1–63 of `[a-z0-9:+#]` in runs separated by single `-`.
pub fn is_valid_tag(s: &str) -> bool {
    let b = s.as_bytes();
    let tag_char =
        |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b':' | b'+' | b'#');
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            b.len() <= 63
                && tag_char(first)
                && tag_char(last)
                && b.iter().all(|c| tag_char(c) || *c == b'-')
                && !b.windows(2).any(|w| w == b"--")
        }
        _ => false,
    }
}

/// `URL`: parses as an absolute URL with any scheme.
pub fn is_valid_url(s: &str) -> bool {
    url::Url::parse(s).is_ok()
}

/// `NONBLANK`: something other than whitespace.
pub fn is_non_blank(s: &str) -> bool {
    !s.trim().is_empty()
}

/// The nine replaceable field predicates of Backstage's field-format policy.
#[derive(Debug, Clone, Copy)]
pub struct Validators {
    pub api_version: fn(&str) -> bool,
    pub kind: fn(&str) -> bool,
    pub entity_name: fn(&str) -> bool,
    pub namespace: fn(&str) -> bool,
    pub label_key: fn(&str) -> bool,
    pub label_value: fn(&str) -> bool,
    pub annotation_key: fn(&str) -> bool,
    pub annotation_value: fn(&Value) -> bool,
    pub tag: fn(&str) -> bool,
}

impl Default for Validators {
    fn default() -> Self {
        Self {
            api_version: is_valid_api_version,
            kind: is_valid_kind,
            entity_name: is_valid_entity_name,
            namespace: is_valid_namespace,
            label_key: is_valid_label_key,
            label_value: is_valid_label_value,
            annotation_key: is_valid_annotation_key,
            annotation_value: is_valid_annotation_value,
            tag: is_valid_tag,
        }
    }
}

/// Validates descriptor entities: root schema, namespace, root fields, field formats, then kind.
#[derive(Debug, Default)]
pub struct EntityValidator {
    pub validators: Validators,
    pub kinds: KindSet,
}

/// Validates with the default predicates and all nine built-in kinds.
pub fn validate_entity(entity: &Value) -> Vec<Problem> {
    EntityValidator::default().validate(entity)
}

/// What a format rule expects, for messages.
mod expect {
    pub(super) const API_VERSION: &str = "a version of up to 63 characters [a-zA-Z0-9], \
        optionally preceded by a DNS subdomain and a slash";
    pub(super) const KIND: &str = "a string that starts with a letter followed by [a-zA-Z0-9], at most 63 characters in total";
    pub(super) const NAME: &str = "a string that is sequences of [a-zA-Z0-9] separated by any of \
        [-_.], at most 63 characters in total";
    pub(super) const NAMESPACE: &str =
        "a string that is sequences of [a-z0-9] separated by [-], at most 63 characters in total";
    pub(super) const KEY: &str = "a name (sequences of [a-zA-Z0-9] separated by any of [-_.], at \
        most 63 characters), optionally preceded by a DNS subdomain of at most 253 characters and a \
        slash";
    pub(super) const LABEL_VALUE: &str = "an empty string, or sequences of [a-zA-Z0-9] separated by \
        any of [-_.], at most 63 characters in total";
    pub(super) const ANNOTATION_VALUE: &str = "a string";
    pub(super) const TAG: &str = "a string that is sequences of [a-z0-9:+#] separated by [-], at most 63 characters in total";
    pub(super) const URL: &str = "an absolute URL";
    pub(super) const NON_BLANK: &str = "a non-blank string";
}

/// A format predicate and the description of what it expects.
type FormatRule = (fn(&str) -> bool, &'static str);

/// A string field's constraints: schema `minLength: 1` and an optional format rule.
struct StrRule {
    non_empty: bool,
    format: Option<FormatRule>,
}

impl StrRule {
    const PLAIN: Self = Self {
        non_empty: false,
        format: None,
    };
    const NON_EMPTY: Self = Self {
        non_empty: true,
        format: None,
    };
    const fn format(check: fn(&str) -> bool, expectation: &'static str) -> Self {
        Self {
            non_empty: true,
            format: Some((check, expectation)),
        }
    }
}

impl EntityValidator {
    /// Checks a descriptor entity and returns every problem found; empty means valid.
    ///
    /// Kind validation only runs when `apiVersion` and `kind` are themselves
    /// valid, since otherwise "no processor recognized the entity" would only
    /// repeat the problem already reported.
    pub fn validate(&self, entity: &Value) -> Vec<Problem> {
        let mut out = Vec::new();
        let Some(root) = entity.as_object() else {
            out.push(Problem::new(
                ProblemKind::Schema,
                FieldPath::root(),
                "entity must be object",
            ));
            return out;
        };
        for field in ["apiVersion", "kind", "metadata"] {
            if !root.contains_key(field) {
                out.push(schema(
                    FieldPath::keys(&[field]),
                    format!("must have required property '{field}'"),
                ));
            }
        }
        let mut header_ok = root.contains_key("apiVersion") && root.contains_key("kind");
        let mut spec_reported = false;
        for (key, value) in root {
            match key.as_str() {
                "apiVersion" => {
                    let rule = StrRule::format(self.validators.api_version, expect::API_VERSION);
                    header_ok &= check_str(
                        value,
                        "apiVersion",
                        &rule,
                        || FieldPath::keys(&["apiVersion"]),
                        &mut out,
                    );
                }
                "kind" => {
                    let rule = StrRule::format(self.validators.kind, expect::KIND);
                    header_ok &= check_str(
                        value,
                        "kind",
                        &rule,
                        || FieldPath::keys(&["kind"]),
                        &mut out,
                    );
                }
                "metadata" => self.check_metadata(value, &mut out),
                "spec" => {
                    if !value.is_object() {
                        out.push(schema(FieldPath::keys(&["spec"]), "spec must be object"));
                        spec_reported = true;
                    }
                }
                other => out.push(schema(
                    FieldPath::keys(&[other]),
                    format!("Unknown field {other}"),
                )),
            }
        }
        if header_ok {
            let kind_problems = self.kinds.validate(entity);
            if spec_reported {
                // The root schema already said `spec` is not an object; a kind
                // validator saying the same about the same path adds nothing.
                let spec_path = FieldPath::keys(&["spec"]);
                out.extend(kind_problems.into_iter().filter(|p| p.path != spec_path));
            } else {
                out.extend(kind_problems);
            }
        }
        out
    }

    fn check_metadata(&self, value: &Value, out: &mut Vec<Problem>) {
        let Some(meta) = value.as_object() else {
            out.push(schema(
                FieldPath::keys(&["metadata"]),
                "metadata must be object",
            ));
            return;
        };
        if !meta.contains_key("name") {
            out.push(schema(
                FieldPath::keys(&["metadata", "name"]),
                "metadata must have required property 'name'",
            ));
        }
        let v = &self.validators;
        for (key, value) in meta {
            let path = || FieldPath::keys(&["metadata", key]);
            let rule = match key.as_str() {
                "name" => StrRule::format(v.entity_name, expect::NAME),
                "namespace" => StrRule::format(v.namespace, expect::NAMESPACE),
                "uid" | "etag" => StrRule::NON_EMPTY,
                "title" | "description" => StrRule::PLAIN,
                "labels" => {
                    self.check_labels(value, out);
                    continue;
                }
                "annotations" => {
                    self.check_annotations(value, out);
                    continue;
                }
                "tags" => {
                    self.check_tags(value, out);
                    continue;
                }
                "links" => {
                    check_links(value, out);
                    continue;
                }
                // Other metadata keys are open: kept verbatim and not checked.
                _ => continue,
            };
            let shown = match key.as_str() {
                "name" => "metadata.name",
                "namespace" => "metadata.namespace",
                "uid" => "metadata.uid",
                "etag" => "metadata.etag",
                "title" => "metadata.title",
                _ => "metadata.description",
            };
            check_str(value, shown, &rule, path, out);
        }
    }

    fn check_labels(&self, value: &Value, out: &mut Vec<Problem>) {
        let Some(labels) = as_map(value, "labels", out) else {
            return;
        };
        for (key, value) in labels {
            let path = || FieldPath::keys(&["metadata", "labels", key]);
            if !(self.validators.label_key)(key) {
                out.push(format_problem(
                    path(),
                    format_args!("labels.{key}"),
                    expect::KEY,
                    key,
                ));
            }
            match value.as_str() {
                Some(s) if !(self.validators.label_value)(s) => out.push(format_problem(
                    path(),
                    format_args!("labels.{key}"),
                    expect::LABEL_VALUE,
                    s,
                )),
                Some(_) => {}
                None => out.push(schema(
                    path(),
                    format!("metadata.labels.{key} must be string"),
                )),
            }
        }
    }

    fn check_annotations(&self, value: &Value, out: &mut Vec<Problem>) {
        let Some(annotations) = as_map(value, "annotations", out) else {
            return;
        };
        for (key, value) in annotations {
            let path = || FieldPath::keys(&["metadata", "annotations", key]);
            if !(self.validators.annotation_key)(key) {
                out.push(format_problem(
                    path(),
                    format_args!("annotations.{key}"),
                    expect::KEY,
                    key,
                ));
            }
            // The root schema requires strings; the pluggable predicate can only narrow that.
            match value.as_str() {
                Some(s) if !(self.validators.annotation_value)(value) => out.push(format_problem(
                    path(),
                    format_args!("annotations.{key}"),
                    expect::ANNOTATION_VALUE,
                    s,
                )),
                Some(_) => {}
                None => out.push(schema(
                    path(),
                    format!("metadata.annotations.{key} must be string"),
                )),
            }
        }
    }

    fn check_tags(&self, value: &Value, out: &mut Vec<Problem>) {
        let Some(tags) = value.as_array() else {
            out.push(schema(
                FieldPath::keys(&["metadata", "tags"]),
                "metadata.tags must be array",
            ));
            return;
        };
        for (i, tag) in tags.iter().enumerate() {
            let path = || FieldPath::keys(&["metadata", "tags"]).index(i);
            match tag.as_str() {
                Some("") => out.push(schema(
                    path(),
                    format!("metadata.tags.{i} must NOT have fewer than 1 characters"),
                )),
                Some(s) if !(self.validators.tag)(s) => {
                    out.push(format_problem(
                        path(),
                        format_args!("tags.{i}"),
                        expect::TAG,
                        s,
                    ));
                }
                Some(_) => {}
                None => out.push(schema(path(), format!("metadata.tags.{i} must be string"))),
            }
        }
    }
}

/// `metadata.links`: an array of objects with a required absolute `url` and
/// optional non-blank `title`/`icon` and non-empty `type`; these checks are fixed.
fn check_links(value: &Value, out: &mut Vec<Problem>) {
    let Some(links) = value.as_array() else {
        out.push(schema(
            FieldPath::keys(&["metadata", "links"]),
            "metadata.links must be array",
        ));
        return;
    };
    for (i, link) in links.iter().enumerate() {
        let link_path = || FieldPath::keys(&["metadata", "links"]).index(i);
        let Some(link) = link.as_object() else {
            out.push(schema(
                link_path(),
                format!("metadata.links.{i} must be object"),
            ));
            continue;
        };
        if !link.contains_key("url") {
            out.push(schema(
                link_path().key("url"),
                format!("metadata.links.{i} must have required property 'url'"),
            ));
        }
        for (key, value) in link {
            let rule = match key.as_str() {
                "url" => StrRule::format(is_valid_url, expect::URL),
                "title" | "icon" => StrRule::format(is_non_blank, expect::NON_BLANK),
                "type" => StrRule::NON_EMPTY,
                _ => continue,
            };
            check_str(
                value,
                format_args!("links.{i}.{key}"),
                &rule,
                || link_path().key(key),
                out,
            );
        }
    }
}

/// Checks one string field; returns whether it passed.
///
/// `shown` is the path as Backstage spells it in messages (without the
/// `metadata.` prefix for labels, annotations, tags and links); it is only
/// formatted when there is a problem, so the happy path does not allocate.
fn check_str(
    value: &Value,
    shown: impl fmt::Display,
    rule: &StrRule,
    path: impl FnOnce() -> FieldPath,
    out: &mut Vec<Problem>,
) -> bool {
    let problem = match value {
        Value::String(s) if rule.non_empty && s.is_empty() => schema(
            path(),
            format!("{shown} must NOT have fewer than 1 characters"),
        ),
        Value::String(s) => match rule.format {
            Some((check, expectation)) if !check(s) => {
                format_problem(path(), shown, expectation, s)
            }
            _ => return true,
        },
        Value::Null => schema(path(), format!("{shown} must have a value")),
        _ => schema(path(), format!("{shown} must be string")),
    };
    out.push(problem);
    false
}

fn as_map<'a>(
    value: &'a Value,
    field: &str,
    out: &mut Vec<Problem>,
) -> Option<&'a Map<String, Value>> {
    let map = value.as_object();
    if map.is_none() {
        out.push(schema(
            FieldPath::keys(&["metadata", field]),
            format!("metadata.{field} must be object"),
        ));
    }
    map
}

fn schema(path: FieldPath, message: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::Schema, path, message)
}

/// A field-format problem in Backstage's message shape, quoting at most
/// [`MAX_QUOTED_CHARS`] characters of the value.
fn format_problem(
    path: FieldPath,
    shown: impl fmt::Display,
    expectation: &str,
    found: &str,
) -> Problem {
    let quoted = match found.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &found[..cut]),
        None => found.to_owned(),
    };
    Problem::new(
        ProblemKind::Format,
        path,
        format!(
            "\"{shown}\" is not valid; expected {expectation} but found \"{quoted}\". {FORMAT_HELP}"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (&'static str, &'static str, bool);

    fn check(predicate: fn(&str) -> bool, rows: &[Row]) {
        for (id, input, expected) in rows {
            assert_eq!(predicate(input), *expected, "{id}: {input:?}");
        }
    }

    #[test]
    fn dns_label() {
        check(
            is_dns_label,
            &[
                ("a", "a", true),
                ("runs", "a--b", true),
                ("digits", "123", true),
                ("upper", "A", false),
                ("lead", "-a", false),
                ("trail", "a-", false),
                ("empty", "", false),
                ("dot", "a.b", false),
                ("63", &*"a".repeat(63).leak(), true),
                ("64", &*"a".repeat(64).leak(), false),
                ("unicode", "é", false),
            ],
        );
    }

    #[test]
    fn dns_subdomain() {
        let max = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        );
        assert_eq!(max.len(), 253);
        assert!(is_dns_subdomain(&max));
        assert!(!is_dns_subdomain(&format!("{max}e")));
        check(
            is_dns_subdomain,
            &[
                ("plain", "example.com", true),
                ("empty segment", "a..b", false),
                ("lead dot", ".a", false),
                ("trail dot", "a.", false),
                ("underscore", "a_b.com", false),
                ("empty", "", false),
            ],
        );
    }

    #[test]
    fn api_version_and_kind() {
        check(
            is_valid_api_version,
            &[
                ("A01", "backstage.io/v1alpha1", true),
                ("A03", "v1", true),
                ("A05", "1.0", false),
                ("A06", "backstage.io/v1/alpha", false),
                ("A07", "Backstage.io/v1alpha1", false),
                ("A08", "backstage.io/v1-alpha1", false),
                ("A09", "/v1", false),
                ("empty name", "backstage.io/", false),
            ],
        );
        check(
            is_valid_kind,
            &[
                ("K01", "Component", true),
                ("K03", "component", true),
                ("K04", "My-Kind", false),
                ("K05", "9Kind", false),
                ("K06", &*"A".repeat(64).leak(), false),
                ("63", &*"A".repeat(63).leak(), true),
                ("empty", "", false),
            ],
        );
    }

    #[test]
    fn tags_and_label_values() {
        check(
            is_valid_tag,
            &[
                ("T02", "c++", true),
                ("T04", "k8s:prod", true),
                ("T08", "a--b", false),
                ("trail", "java-", false),
                ("T12", "", false),
            ],
        );
        check(
            is_valid_label_value,
            &[
                ("V01", "", true),
                ("V03", "v1.2.3", true),
                ("V05", "-x", false),
            ],
        );
        assert!(is_valid_annotation_value(&Value::from("")));
        assert!(!is_valid_annotation_value(&Value::from(1)));
    }

    #[test]
    fn format_message_is_bounded() {
        let long = "ü".repeat(5000);
        let p = format_problem(FieldPath::root(), "tags.0", expect::TAG, &long);
        assert!(p.message.len() < 1000, "{}", p.message.len());
        assert!(p.message.starts_with("\"tags.0\" is not valid; expected "));
    }
}
