//! Entity validation: the field-format predicates of spec §3 and the policy chain plus kind validation of §2 B.3–B.6.
//!
//! Unlike Backstage, which stops at the first failing rule, [`EntityValidator`]
//! reports every problem it finds, each pointing at the offending field and
//! worded as Backstage words it; they come in the order Backstage's policies
//! meet them, so the first one is what Backstage itself reports (the catalog
//! API and status items use only that one). The happy path allocates nothing:
//! paths and messages are only built for problems.

use std::fmt;

use serde_json::Value;

use crate::kinds::KindSet;
use crate::problem::{FieldPath, Problem, ProblemKind};

/// The sentence Backstage's field-format policy ends its errors with.
const FORMAT_HELP: &str = "To learn more about catalog file format, visit: \
     https://github.com/backstage/backstage/blob/master/docs/architecture-decisions/adr002-default-catalog-file-format.md";

/// The root fields the entity schema declares; any other is an additional property.
const SCHEMA_ROOT_FIELDS: [&str; 6] = [
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "relations",
    "status",
];

/// The root fields a descriptor may have (the no-foreign-root-fields policy).
const KNOWN_ROOT_FIELDS: [&str; 4] = ["apiVersion", "kind", "metadata", "spec"];

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

/// What a format rule expects, in the words of Backstage's field-format policy
/// (which keys them by the name of the predicate that failed).
mod expect {
    pub(super) const PREFIXED: &str = "a valid prefix and/or suffix";
    pub(super) const KIND: &str =
        "a string that is a sequence of [a-zA-Z][a-z0-9A-Z], at most 63 characters in total";
    pub(super) const OBJECT_NAME: &str = "a string that is sequences of [a-zA-Z0-9] separated by \
        any of [-_.], at most 63 characters in total";
    pub(super) const NAMESPACE: &str =
        "a string that is sequences of [a-z0-9] separated by [-], at most 63 characters in total";
    pub(super) const ANNOTATION_VALUE: &str = "a string";
    // Backstage's text leaves out the `:` its tag rule accepts (spec §3.3).
    pub(super) const TAG: &str =
        "a string that is sequences of [a-z0-9+#] separated by [-], at most 63 characters in total";
    pub(super) const URL: &str = "a string that is a valid url";
    pub(super) const NON_BLANK: &str = "a non empty string";
}

/// A format predicate and the description of what it expects.
type FormatRule = (fn(&str) -> bool, &'static str);

/// Problems sorted by the policy that reports them, so that the first problem
/// overall is the one Backstage's policy chain stops at: the schema policy
/// (in its validator's order), then the foreign-root-field policy, then the
/// field-format policy (in its order), then kind validation.
#[derive(Default)]
struct Found {
    schema: Vec<Problem>,
    foreign: Vec<Problem>,
    format: Vec<Problem>,
}

impl Found {
    /// A schema problem at `path`, worded as Backstage's schema policy words it.
    fn schema(&mut self, path: FieldPath, what: impl fmt::Display) {
        let message = format!("Malformed envelope, {} {what}", path.json_pointer());
        self.schema
            .push(Problem::new(ProblemKind::Schema, path, message));
    }

    /// A missing required property of the object at `object`; the problem
    /// points at where the property would be.
    fn required(&mut self, object: &FieldPath, name: &str) {
        let message = format!(
            "Malformed envelope, {} must have required property '{name}'",
            object.json_pointer()
        );
        self.schema
            .push(Problem::new(ProblemKind::Schema, object.key(name), message));
    }

    /// A field-format problem in Backstage's words. The value is quoted whole,
    /// as Backstage quotes it; it is bounded by the size of the entity.
    fn format(
        &mut self,
        path: FieldPath,
        shown: impl fmt::Display,
        expectation: &str,
        found: &str,
    ) {
        self.format.push(Problem::new(
            ProblemKind::Format,
            path,
            format!(
                "\"{shown}\" is not valid; expected {expectation} but found \"{found}\". {FORMAT_HELP}"
            ),
        ));
    }

    fn into_vec(self) -> Vec<Problem> {
        let mut out = self.schema;
        out.extend(self.foreign);
        out.extend(self.format);
        out
    }
}

impl EntityValidator {
    /// Checks a descriptor entity and returns every problem found; empty means valid.
    ///
    /// The problems come in the order Backstage's policies would meet them, so
    /// the first one is the single problem Backstage reports, in its words.
    /// Kind validation only runs when `apiVersion` and `kind` are themselves
    /// valid, since otherwise "no processor recognized the entity" would only
    /// repeat the problem already reported.
    pub fn validate(&self, entity: &Value) -> Vec<Problem> {
        let mut found = Found::default();
        let Some(root) = entity.as_object() else {
            found.schema(FieldPath::root(), "must be object");
            return found.into_vec();
        };
        let root_path = FieldPath::root();
        for field in ["apiVersion", "kind", "metadata"] {
            if !root.contains_key(field) {
                found.required(&root_path, field);
            }
        }
        for key in root.keys() {
            if !SCHEMA_ROOT_FIELDS.contains(&key.as_str()) {
                // The validator names the object that has the property, not the
                // property; the problem still points at the property.
                found.schema.push(Problem::new(
                    ProblemKind::Schema,
                    FieldPath::keys(&[key]),
                    "Malformed envelope, <root> must NOT have additional properties",
                ));
            }
        }
        let v = &self.validators;
        let mut header_ok = true;
        for (field, rule) in [
            ("apiVersion", (v.api_version, expect::PREFIXED)),
            ("kind", (v.kind, expect::KIND)),
        ] {
            header_ok &= match root.get(field) {
                Some(value) => check_str(
                    value,
                    || FieldPath::keys(&[field]),
                    field,
                    true,
                    Some(rule),
                    &mut found,
                ),
                None => false,
            };
        }
        if let Some(metadata) = root.get("metadata") {
            self.check_metadata(metadata, &mut found);
        }
        let mut spec_reported = false;
        if let Some(spec) = root.get("spec")
            && !spec.is_object()
        {
            found.schema(FieldPath::keys(&["spec"]), "must be object");
            spec_reported = true;
        }
        if let Some(relations) = root.get("relations") {
            check_relations(relations, &mut found);
        }
        if let Some(status) = root.get("status") {
            check_status(status, &mut found);
        }
        for key in root.keys() {
            if SCHEMA_ROOT_FIELDS.contains(&key.as_str())
                && !KNOWN_ROOT_FIELDS.contains(&key.as_str())
            {
                found.foreign.push(Problem::new(
                    ProblemKind::Schema,
                    FieldPath::keys(&[key]),
                    format!("Unknown field {key}"),
                ));
            }
        }
        let mut out = found.into_vec();
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

    /// `metadata`, in the order of the schema's properties (which is also the
    /// order of the field-format policy's checks).
    fn check_metadata(&self, value: &Value, found: &mut Found) {
        let meta_path = FieldPath::keys(&["metadata"]);
        let Some(meta) = value.as_object() else {
            found.schema(meta_path, "must be object");
            return;
        };
        if !meta.contains_key("name") {
            found.required(&meta_path, "name");
        }
        let v = &self.validators;
        let rules: [(&str, bool, Option<FormatRule>); 6] = [
            ("uid", true, None),
            ("etag", true, None),
            ("name", true, Some((v.entity_name, expect::OBJECT_NAME))),
            ("namespace", true, Some((v.namespace, expect::NAMESPACE))),
            ("title", true, None),
            ("description", false, None),
        ];
        for (key, non_empty, rule) in rules {
            if let Some(value) = meta.get(key) {
                check_str(
                    value,
                    || FieldPath::keys(&["metadata", key]),
                    format_args!("metadata.{key}"),
                    non_empty,
                    rule,
                    found,
                );
            }
        }
        if let Some(labels) = meta.get("labels") {
            self.check_string_map(
                labels,
                "labels",
                v.label_key,
                |value| match value.as_str() {
                    Some(s) if !(v.label_value)(s) => Some((expect::OBJECT_NAME, s)),
                    _ => None,
                },
                found,
            );
        }
        if let Some(annotations) = meta.get("annotations") {
            self.check_string_map(
                annotations,
                "annotations",
                v.annotation_key,
                |value| match value.as_str() {
                    Some(s) if !(v.annotation_value)(value) => Some((expect::ANNOTATION_VALUE, s)),
                    _ => None,
                },
                found,
            );
        }
        if let Some(tags) = meta.get("tags") {
            self.check_tags(tags, found);
        }
        if let Some(links) = meta.get("links") {
            check_links(links, found);
        }
    }

    /// Labels or annotations: an object whose values (under non-empty keys)
    /// must be strings, then each key's and each value's format rule.
    fn check_string_map<'v>(
        &self,
        value: &'v Value,
        field: &str,
        key_rule: fn(&str) -> bool,
        value_rule: impl Fn(&'v Value) -> Option<(&'static str, &'v str)>,
        found: &mut Found,
    ) {
        let Some(map) = value.as_object() else {
            found.schema(FieldPath::keys(&["metadata", field]), "must be object");
            return;
        };
        for (key, value) in map {
            if !key.is_empty() && !value.is_string() {
                found.schema(FieldPath::keys(&["metadata", field, key]), "must be string");
            }
        }
        for (key, value) in map {
            let path = || FieldPath::keys(&["metadata", field, key]);
            if !key_rule(key) {
                found.format(path(), format_args!("{field}.{key}"), expect::PREFIXED, key);
            }
            if let Some((expectation, shown)) = value_rule(value) {
                found.format(path(), format_args!("{field}.{key}"), expectation, shown);
            }
        }
    }

    fn check_tags(&self, value: &Value, found: &mut Found) {
        let Some(tags) = value.as_array() else {
            found.schema(FieldPath::keys(&["metadata", "tags"]), "must be array");
            return;
        };
        for (i, tag) in tags.iter().enumerate() {
            check_str(
                tag,
                || FieldPath::keys(&["metadata", "tags"]).index(i),
                format_args!("tags.{i}"),
                true,
                Some((self.validators.tag, expect::TAG)),
                found,
            );
        }
    }
}

/// `metadata.links`: an array of objects with a required absolute `url` and
/// optional non-blank `title`/`icon` and non-empty `type`; these checks are fixed.
fn check_links(value: &Value, found: &mut Found) {
    let links_path = FieldPath::keys(&["metadata", "links"]);
    let Some(links) = value.as_array() else {
        found.schema(links_path, "must be array");
        return;
    };
    for (i, link) in links.iter().enumerate() {
        let link_path = links_path.index(i);
        let Some(link) = link.as_object() else {
            found.schema(link_path, "must be object");
            continue;
        };
        if !link.contains_key("url") {
            found.required(&link_path, "url");
        }
        let rules: [(&str, Option<FormatRule>); 4] = [
            ("url", Some((is_valid_url, expect::URL))),
            ("title", Some((is_non_blank, expect::NON_BLANK))),
            ("icon", Some((is_non_blank, expect::NON_BLANK))),
            ("type", None),
        ];
        for (key, rule) in rules {
            if let Some(value) = link.get(key) {
                check_str(
                    value,
                    || link_path.key(key),
                    format_args!("links.{i}.{key}"),
                    true,
                    rule,
                    found,
                );
            }
        }
    }
}

/// Root `relations` (output only, so a descriptor with them fails anyway): the
/// schema's shape, an array of objects with `type` and `targetRef`.
fn check_relations(value: &Value, found: &mut Found) {
    let path = FieldPath::keys(&["relations"]);
    let Some(relations) = value.as_array() else {
        found.schema(path, "must be array");
        return;
    };
    for (i, relation) in relations.iter().enumerate() {
        let item = path.index(i);
        match relation.as_object() {
            Some(relation) => {
                for key in ["type", "targetRef"] {
                    if !relation.contains_key(key) {
                        found.required(&item, key);
                    }
                }
            }
            None => found.schema(item, "must be object"),
        }
    }
}

/// Root `status` (output only): an object whose `items`, if any, is an array of objects.
fn check_status(value: &Value, found: &mut Found) {
    let path = FieldPath::keys(&["status"]);
    let Some(status) = value.as_object() else {
        found.schema(path, "must be object");
        return;
    };
    let Some(items) = status.get("items") else {
        return;
    };
    let items_path = path.key("items");
    let Some(items) = items.as_array() else {
        found.schema(items_path, "must be array");
        return;
    };
    for (i, item) in items.iter().enumerate() {
        if !item.is_object() {
            found.schema(items_path.index(i), "must be object");
        }
    }
}

/// Checks one string field; returns whether it passed.
///
/// `shown` is the path as Backstage's field-format policy spells it (without
/// the `metadata.` prefix for labels, annotations, tags and links); it and the
/// path are only built when there is a problem, so the happy path does not
/// allocate. The format rule only runs on a value the schema accepted, as
/// Backstage's format policy only runs after its schema policy passed.
fn check_str(
    value: &Value,
    path: impl FnOnce() -> FieldPath,
    shown: impl fmt::Display,
    non_empty: bool,
    rule: Option<FormatRule>,
    found: &mut Found,
) -> bool {
    match value {
        Value::String(s) if non_empty && s.is_empty() => {
            found.schema(path(), "must NOT have fewer than 1 characters");
        }
        Value::String(s) => match rule {
            Some((check, expectation)) if !check(s) => {
                found.format(path(), shown, expectation, s);
            }
            _ => return true,
        },
        _ => found.schema(path(), "must be string"),
    }
    false
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
    fn format_message_quotes_the_value_whole() {
        let mut found = Found::default();
        found.format(FieldPath::root(), "tags.0", expect::TAG, "Bad Tag");
        assert_eq!(
            found.format[0].message,
            "\"tags.0\" is not valid; expected a string that is sequences of [a-z0-9+#] \
             separated by [-], at most 63 characters in total but found \"Bad Tag\". To learn \
             more about catalog file format, visit: https://github.com/backstage/backstage/blob/\
             master/docs/architecture-decisions/adr002-default-catalog-file-format.md"
        );
    }
}
