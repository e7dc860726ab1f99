//! The kind validators: the nine built-in kinds of spec §5 as hand-written schema checks, and the set of validators an entity is matched against (§2 B.6).
//!
//! Each validator first decides whether the entity is its kind (exact,
//! case-sensitive `kind` and an accepted `apiVersion`); only then does it check
//! `spec`. That split is what lets a foreign kind fall through to "no processor
//! recognized the entity" instead of failing on somebody else's schema.

use std::fmt;

use serde_json::{Map, Value};

use crate::entity;
use crate::problem::{FieldPath, Problem, ProblemKind};

/// The message Backstage gives when no kind validator accepts an entity.
pub const NOT_RECOGNIZED_MESSAGE: &str =
    "No processor recognized the entity as valid, possibly caused by a foreign kind or apiVersion";

/// The apiVersions every built-in `backstage.io` kind accepts.
pub const BACKSTAGE_API_VERSIONS: &[&str] = &["backstage.io/v1alpha1", "backstage.io/v1beta1"];

/// The apiVersions the scaffolder's Template kind accepts.
pub const TEMPLATE_API_VERSIONS: &[&str] = &["scaffolder.backstage.io/v1beta3"];

/// What one kind validator says about one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindVerdict {
    /// The entity's `kind`/`apiVersion` is not this validator's.
    NotMine,
    /// The entity is this validator's kind and its `spec` is valid.
    Valid,
    /// The entity is this validator's kind but its `spec` is not valid.
    Invalid(Vec<Problem>),
}

/// A validator for one kind (or several); custom kinds plug in through this trait.
///
/// Any `Fn(&Value) -> KindVerdict + Send + Sync` closure implements it.
pub trait KindValidator: Send + Sync {
    /// Judges the whole entity; see [`KindVerdict`].
    fn check(&self, entity: &Value) -> KindVerdict;
}

impl<F> KindValidator for F
where
    F: Fn(&Value) -> KindVerdict + Send + Sync,
{
    fn check(&self, entity: &Value) -> KindVerdict {
        self(entity)
    }
}

/// The built-in kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinKind {
    Component,
    Api,
    Resource,
    System,
    Domain,
    Group,
    User,
    Location,
    Template,
}

impl BuiltinKind {
    /// All nine built-in kinds, Template last.
    pub const ALL: [Self; 9] = [
        Self::Component,
        Self::Api,
        Self::Resource,
        Self::System,
        Self::Domain,
        Self::Group,
        Self::User,
        Self::Location,
        Self::Template,
    ];

    /// The `kind` string, exactly as it must appear in a descriptor.
    pub fn kind_name(self) -> &'static str {
        match self {
            Self::Component => "Component",
            Self::Api => "API",
            Self::Resource => "Resource",
            Self::System => "System",
            Self::Domain => "Domain",
            Self::Group => "Group",
            Self::User => "User",
            Self::Location => "Location",
            Self::Template => "Template",
        }
    }

    /// The accepted `apiVersion` values.
    pub fn api_versions(self) -> &'static [&'static str] {
        match self {
            Self::Template => TEMPLATE_API_VERSIONS,
            _ => BACKSTAGE_API_VERSIONS,
        }
    }

    /// Whether the entity's `kind` and `apiVersion` select this kind's schema.
    pub fn matches(self, entity: &Value) -> bool {
        entity::kind(entity) == Some(self.kind_name())
            && entity::api_version(entity).is_some_and(|v| self.api_versions().contains(&v))
    }

    /// The `spec` fields this kind's schema constrains.
    fn fields(self) -> &'static [Field] {
        match self {
            Self::Component => COMPONENT_FIELDS,
            Self::Api => API_FIELDS,
            Self::Resource => RESOURCE_FIELDS,
            Self::System => SYSTEM_FIELDS,
            Self::Domain => DOMAIN_FIELDS,
            Self::Group => GROUP_FIELDS,
            Self::User => USER_FIELDS,
            Self::Location => LOCATION_FIELDS,
            Self::Template => TEMPLATE_FIELDS,
        }
    }

    /// Checks the entity's `spec` against this kind's schema, appending problems.
    fn check_spec(self, entity: &Value, out: &mut Vec<Problem>) {
        let Some(spec_value) = entity.get("spec") else {
            out.push(required_problem(&FieldPath::root(), "spec"));
            return;
        };
        let Some(spec) = spec_value.as_object() else {
            out.push(type_problem(FieldPath::keys(&["spec"]), "object"));
            return;
        };
        // As the schema validator does: every required property first, then
        // each property in the schema's order.
        let spec_path = FieldPath::keys(&["spec"]);
        for field in self.fields() {
            if field.required && !spec.contains_key(field.name) {
                out.push(required_problem(&spec_path, field.name));
            }
        }
        for field in self.fields() {
            if let Some(value) = spec.get(field.name) {
                field
                    .ty
                    .check(value, || FieldPath::keys(&["spec", field.name]), out);
            }
        }
    }
}

impl fmt::Display for BuiltinKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind_name())
    }
}

impl KindValidator for BuiltinKind {
    fn check(&self, entity: &Value) -> KindVerdict {
        if !self.matches(entity) {
            return KindVerdict::NotMine;
        }
        let mut problems = Vec::new();
        self.check_spec(entity, &mut problems);
        if problems.is_empty() {
            KindVerdict::Valid
        } else {
            KindVerdict::Invalid(problems)
        }
    }
}

use FieldType::{Enum, Object, Output, Parameters, Profile, Steps, Str, StrArray};

const PRESENCE: &[&str] = &["required", "optional"];

const COMPONENT_FIELDS: &[Field] = &[
    Field::req("type", Str),
    Field::req("lifecycle", Str),
    Field::req("owner", Str),
    Field::opt("system", Str),
    Field::opt("subcomponentOf", Str),
    Field::opt("providesApis", StrArray),
    Field::opt("consumesApis", StrArray),
    Field::opt("dependsOn", StrArray),
    // Not in Backstage's schema; checked last so the first problem is still its.
    Field::opt("dependencyOf", StrArray),
];

const API_FIELDS: &[Field] = &[
    Field::req("type", Str),
    Field::req("lifecycle", Str),
    Field::req("owner", Str),
    Field::opt("system", Str),
    Field::req("definition", Str),
];

const RESOURCE_FIELDS: &[Field] = &[
    Field::req("type", Str),
    Field::req("owner", Str),
    Field::opt("dependsOn", StrArray),
    Field::opt("system", Str),
    // Not in Backstage's schema; checked last so the first problem is still its.
    Field::opt("dependencyOf", StrArray),
];

const SYSTEM_FIELDS: &[Field] = &[
    Field::req("owner", Str),
    Field::opt("domain", Str),
    Field::opt("type", Str),
];

const DOMAIN_FIELDS: &[Field] = &[
    Field::req("owner", Str),
    Field::opt("subdomainOf", Str),
    Field::opt("type", Str),
];

const GROUP_FIELDS: &[Field] = &[
    Field::req("type", Str),
    Field::opt("profile", Profile),
    Field::opt("parent", Str),
    Field::req("children", StrArray),
    Field::opt("members", StrArray),
];

const USER_FIELDS: &[Field] = &[
    Field::opt("profile", Profile),
    Field::req("memberOf", StrArray),
];

const LOCATION_FIELDS: &[Field] = &[
    Field::opt("type", Str),
    Field::opt("target", Str),
    Field::opt("targets", StrArray),
    Field::opt("presence", Enum(PRESENCE)),
];

const TEMPLATE_FIELDS: &[Field] = &[
    Field::req("type", Str),
    Field::req("steps", Steps),
    Field::opt("owner", Str),
    Field::opt("parameters", Parameters),
    Field::opt("output", Output),
    Field::opt("presentation", Object),
];

/// One constrained `spec` field of a built-in kind.
#[derive(Debug)]
struct Field {
    name: &'static str,
    required: bool,
    ty: FieldType,
}

impl Field {
    const fn req(name: &'static str, ty: FieldType) -> Self {
        Self {
            name,
            required: true,
            ty,
        }
    }

    const fn opt(name: &'static str, ty: FieldType) -> Self {
        Self {
            name,
            required: false,
            ty,
        }
    }
}

/// The shapes a built-in kind's `spec` field can have.
#[derive(Debug)]
enum FieldType {
    /// A string with at least one character.
    Str,
    /// An array of strings with at least one character each.
    StrArray,
    /// Any object.
    Object,
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
    /// A Group or User profile: an object with optional non-empty strings.
    Profile,
    /// Template steps.
    Steps,
    /// Template parameters: an object or an array of objects.
    Parameters,
    /// Template output.
    Output,
}

impl FieldType {
    fn check(&self, value: &Value, path: impl Fn() -> FieldPath, out: &mut Vec<Problem>) {
        match self {
            Self::Str => check_str(value, true, path, out),
            Self::StrArray => {
                let Some(items) = value.as_array() else {
                    out.push(type_problem(path(), "array"));
                    return;
                };
                for (i, item) in items.iter().enumerate() {
                    check_str(item, true, || path().index(i), out);
                }
            }
            Self::Object => {
                if !value.is_object() {
                    out.push(type_problem(path(), "object"));
                }
            }
            Self::Enum(allowed) => {
                if !value.as_str().is_some_and(|s| allowed.contains(&s)) {
                    let p = path();
                    let message = format!(
                        "{} must be equal to one of the allowed values - allowedValues: {}",
                        p.json_pointer(),
                        allowed.join(",")
                    );
                    out.push(kind_problem(p, message));
                }
            }
            Self::Profile => {
                let Some(profile) = value.as_object() else {
                    out.push(type_problem(path(), "object"));
                    return;
                };
                for key in ["displayName", "email", "picture"] {
                    if let Some(v) = profile.get(key) {
                        check_str(v, true, || path().key(key), out);
                    }
                }
            }
            Self::Steps => check_steps(value, &path, out),
            Self::Parameters => match value {
                Value::Object(_) => {}
                Value::Array(pages) => {
                    for (i, page) in pages.iter().enumerate() {
                        if !page.is_object() {
                            out.push(type_problem(path().index(i), "object"));
                        }
                    }
                }
                _ => out.push(type_problem(path(), "object,array")),
            },
            Self::Output => check_output(value, &path, out),
        }
    }
}

/// Template steps: an array of objects, each with a string `action`.
fn check_steps(value: &Value, path: &impl Fn() -> FieldPath, out: &mut Vec<Problem>) {
    let Some(steps) = value.as_array() else {
        out.push(type_problem(path(), "array"));
        return;
    };
    for (i, step) in steps.iter().enumerate() {
        let step_path = || path().index(i);
        let Some(step) = step.as_object() else {
            out.push(type_problem(step_path(), "object"));
            continue;
        };
        if !step.contains_key("action") {
            out.push(required_problem(&step_path(), "action"));
        }
        // The scaffolder schema gives step ids, names and actions no minimum length.
        for key in ["id", "name", "action"] {
            if let Some(v) = step.get(key) {
                check_str(v, false, || step_path().key(key), out);
            }
        }
        if let Some(input) = step.get("input")
            && !input.is_object()
        {
            out.push(type_problem(step_path().key("input"), "object"));
        }
        if let Some(cond) = step.get("if")
            && !(cond.is_string() || cond.is_boolean())
        {
            out.push(type_problem(step_path().key("if"), "string,boolean"));
        }
    }
}

/// Template output: `links` (objects of optional strings), `text` (objects) and other string values.
fn check_output(value: &Value, path: &impl Fn() -> FieldPath, out: &mut Vec<Problem>) {
    let Some(output) = value.as_object() else {
        out.push(type_problem(path(), "object"));
        return;
    };
    for (key, v) in output {
        let key_path = || path().key(key);
        match key.as_str() {
            "links" => check_object_array(v, &key_path, out, |link, link_path, out| {
                for field in ["url", "entityRef", "title", "icon"] {
                    if let Some(s) = link.get(field) {
                        check_str(s, false, || link_path().key(field), out);
                    }
                }
            }),
            "text" => check_object_array(v, &key_path, out, |_, _, _| {}),
            _ => {
                if !v.is_string() {
                    out.push(type_problem(key_path(), "string"));
                }
            }
        }
    }
}

/// Checks that `value` is an array of objects and runs `each` on every object.
fn check_object_array(
    value: &Value,
    path: &impl Fn() -> FieldPath,
    out: &mut Vec<Problem>,
    each: impl Fn(&Map<String, Value>, &dyn Fn() -> FieldPath, &mut Vec<Problem>),
) {
    let Some(items) = value.as_array() else {
        out.push(type_problem(path(), "array"));
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let item_path = || path().index(i);
        match item.as_object() {
            Some(obj) => each(obj, &item_path, out),
            None => out.push(type_problem(item_path(), "object")),
        }
    }
}

fn check_str(value: &Value, non_empty: bool, path: impl Fn() -> FieldPath, out: &mut Vec<Problem>) {
    match value {
        Value::String(s) if non_empty && s.is_empty() => {
            let p = path();
            let message = format!(
                "{} must NOT have fewer than 1 characters - limit: 1",
                p.json_pointer()
            );
            out.push(kind_problem(p, message));
        }
        Value::String(_) => {}
        _ => out.push(type_problem(path(), "string")),
    }
}

/// Kind problems are worded as Backstage's kind validators word the first
/// error of their schema validator: `<instance path> <message> - <params>`.
fn type_problem(path: FieldPath, ty: &str) -> Problem {
    let message = format!("{} must be {ty} - type: {ty}", path.json_pointer());
    kind_problem(path, message)
}

/// A missing required property of the object at `object`; the problem points
/// at where the property would be.
fn required_problem(object: &FieldPath, name: &str) -> Problem {
    let message = format!(
        "{} must have required property '{name}' - missingProperty: {name}",
        object.json_pointer()
    );
    kind_problem(object.key(name), message)
}

fn kind_problem(path: FieldPath, message: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::Kind, path, message)
}

/// The kind validators an entity is matched against.
///
/// The default set holds all nine built-in kinds, because Greenroom ships the
/// scaffolder entity-model module; [`KindSet::core`] leaves Template out.
pub struct KindSet {
    builtins: Vec<BuiltinKind>,
    custom: Vec<Box<dyn KindValidator>>,
}

impl KindSet {
    /// A set that recognises nothing; every entity is "not recognized".
    pub fn empty() -> Self {
        Self {
            builtins: Vec::new(),
            custom: Vec::new(),
        }
    }

    /// The eight `backstage.io` kinds, without Template.
    pub fn core() -> Self {
        Self {
            builtins: BuiltinKind::ALL
                .into_iter()
                .filter(|k| *k != BuiltinKind::Template)
                .collect(),
            custom: Vec::new(),
        }
    }

    /// This set plus one built-in kind (no-op if already present).
    #[must_use]
    pub fn with_builtin(mut self, kind: BuiltinKind) -> Self {
        if !self.builtins.contains(&kind) {
            self.builtins.push(kind);
        }
        self
    }

    /// This set plus a custom kind validator.
    #[must_use]
    pub fn with(mut self, validator: impl KindValidator + 'static) -> Self {
        self.push(validator);
        self
    }

    /// Adds a custom kind validator.
    pub fn push(&mut self, validator: impl KindValidator + 'static) {
        self.custom.push(Box::new(validator));
    }

    /// The built-in kinds in this set.
    pub fn builtins(&self) -> &[BuiltinKind] {
        &self.builtins
    }

    /// Runs every validator on the entity (spec §2 B.6) and returns the problems.
    ///
    /// As in Backstage, every validator is asked, with no early exit. Problems
    /// from any validator that claims the entity are reported even if another
    /// one accepts it; when none claims it, the result is one
    /// [`NOT_RECOGNIZED_MESSAGE`] problem pointing at `kind`.
    pub fn validate(&self, entity: &Value) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut accepted = false;
        let verdicts = self
            .builtins
            .iter()
            .map(|k| k.check(entity))
            .chain(self.custom.iter().map(|v| v.check(entity)));
        for verdict in verdicts {
            match verdict {
                KindVerdict::NotMine => {}
                KindVerdict::Valid => accepted = true,
                KindVerdict::Invalid(found) => problems.extend(found),
            }
        }
        if !accepted && problems.is_empty() {
            problems.push(kind_problem(
                FieldPath::keys(&["kind"]),
                NOT_RECOGNIZED_MESSAGE,
            ));
        }
        problems
    }
}

impl Default for KindSet {
    fn default() -> Self {
        Self {
            builtins: BuiltinKind::ALL.to_vec(),
            custom: Vec::new(),
        }
    }
}

impl fmt::Debug for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KindSet")
            .field("builtins", &self.builtins)
            .field("custom", &self.custom.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn component(spec: Value) -> Value {
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
               "metadata": {"name": "x"}, "spec": spec})
    }

    #[test]
    fn builtin_verdicts() {
        let ok = component(json!({"type": "service", "lifecycle": "prod", "owner": "t"}));
        assert_eq!(BuiltinKind::Component.check(&ok), KindVerdict::Valid);
        assert_eq!(BuiltinKind::Api.check(&ok), KindVerdict::NotMine);
        let bad = component(json!({"type": "", "lifecycle": 1, "providesApis": ["a", ""]}));
        let KindVerdict::Invalid(problems) = BuiltinKind::Component.check(&bad) else {
            panic!("expected Invalid");
        };
        // Missing properties come first, as Backstage's schema validator
        // reports them; the first problem is the one Backstage shows.
        assert_eq!(
            problems[0].message,
            "/spec must have required property 'owner' - missingProperty: owner"
        );
        let paths: Vec<String> = problems.iter().map(|p| p.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "spec.owner",
                "spec.type",
                "spec.lifecycle",
                "spec.providesApis.1"
            ]
        );
    }

    #[test]
    fn core_set_lacks_template_and_custom_kinds_plug_in() {
        let template = json!({"apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template",
            "metadata": {"name": "t"}, "spec": {"type": "service", "steps": []}});
        assert!(KindSet::default().validate(&template).is_empty());
        assert_eq!(
            KindSet::core().validate(&template)[0].message,
            NOT_RECOGNIZED_MESSAGE
        );
        let widget =
            json!({"apiVersion": "acme.io/v1", "kind": "Widget", "metadata": {"name": "w"}});
        let set = KindSet::core().with(|e: &Value| {
            if entity::kind(e) == Some("Widget") {
                KindVerdict::Valid
            } else {
                KindVerdict::NotMine
            }
        });
        assert!(set.validate(&widget).is_empty());
        assert_eq!(KindSet::empty().validate(&widget).len(), 1);
    }

    #[test]
    fn template_shapes() {
        let t = |spec: Value| {
            json!({"apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template",
                   "metadata": {"name": "t"}, "spec": spec})
        };
        let paths = |e: &Value| -> Vec<String> {
            match BuiltinKind::Template.check(e) {
                KindVerdict::Invalid(p) => p.iter().map(|p| p.path.to_string()).collect(),
                KindVerdict::Valid => Vec::new(),
                KindVerdict::NotMine => vec!["not mine".to_owned()],
            }
        };
        let good = t(
            json!({"type": "service", "steps": [{"action": "", "id": "", "if": true,
            "input": {}}], "parameters": [{}], "output": {"links": [{"url": "u"}], "x": "y",
            "text": [{"title": "t"}]}}),
        );
        assert!(paths(&good).is_empty());
        let bad = t(json!({"type": "service", "steps": [{"id": 1, "if": 3}, 2],
            "parameters": "p", "output": {"links": {}, "x": 1}}));
        assert_eq!(
            paths(&bad),
            [
                "spec.steps.0.action",
                "spec.steps.0.id",
                "spec.steps.0.if",
                "spec.steps.1",
                "spec.parameters",
                "spec.output.links",
                "spec.output.x"
            ]
        );
    }

    #[test]
    fn location_presence_enum() {
        let loc = |spec: Value| {
            json!({"apiVersion": "backstage.io/v1beta1", "kind": "Location",
                   "metadata": {"name": "l"}, "spec": spec})
        };
        assert_eq!(
            BuiltinKind::Location.check(&loc(json!({}))),
            KindVerdict::Valid
        );
        assert_eq!(
            BuiltinKind::Location.check(&loc(json!({"presence": "optional"}))),
            KindVerdict::Valid
        );
        assert!(matches!(
            BuiltinKind::Location.check(&loc(json!({"presence": "maybe"}))),
            KindVerdict::Invalid(_)
        ));
    }
}
