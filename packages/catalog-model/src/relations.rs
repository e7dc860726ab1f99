//! Relations derived from the ref-valued fields of the built-in kinds (spec §6).
//!
//! Every reference yields two directed edges, one from the entity to the target
//! and the reverse one back, both owned by the entity that declared the field.
//! Targets are not checked for existence.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::entity_ref::{EntityRef, RefDefaults, entity_ref_of, parse_entity_ref};
use crate::problem::{FieldPath, Problem, ProblemKind};

/// Ultimate owner of an entity (a Group or a User).
pub const RELATION_OWNED_BY: &str = "ownedBy";
/// Reverse of [`RELATION_OWNED_BY`].
pub const RELATION_OWNER_OF: &str = "ownerOf";
/// A component exposes an API.
pub const RELATION_PROVIDES_API: &str = "providesApi";
/// Reverse of [`RELATION_PROVIDES_API`].
pub const RELATION_API_PROVIDED_BY: &str = "apiProvidedBy";
/// A component calls an API.
pub const RELATION_CONSUMES_API: &str = "consumesApi";
/// Reverse of [`RELATION_CONSUMES_API`].
pub const RELATION_API_CONSUMED_BY: &str = "apiConsumedBy";
/// Needs the target to function.
pub const RELATION_DEPENDS_ON: &str = "dependsOn";
/// Reverse of [`RELATION_DEPENDS_ON`].
pub const RELATION_DEPENDENCY_OF: &str = "dependencyOf";
/// A group is the parent of another group.
pub const RELATION_PARENT_OF: &str = "parentOf";
/// Reverse of [`RELATION_PARENT_OF`].
pub const RELATION_CHILD_OF: &str = "childOf";
/// A user belongs to a group.
pub const RELATION_MEMBER_OF: &str = "memberOf";
/// Reverse of [`RELATION_MEMBER_OF`].
pub const RELATION_HAS_MEMBER: &str = "hasMember";
/// Part of a larger whole (component, system, domain).
pub const RELATION_PART_OF: &str = "partOf";
/// Reverse of [`RELATION_PART_OF`].
pub const RELATION_HAS_PART: &str = "hasPart";

/// The fourteen built-in relation types.
pub const ALL_RELATION_TYPES: [&str; 14] = [
    RELATION_OWNED_BY,
    RELATION_OWNER_OF,
    RELATION_PROVIDES_API,
    RELATION_API_PROVIDED_BY,
    RELATION_CONSUMES_API,
    RELATION_API_CONSUMED_BY,
    RELATION_DEPENDS_ON,
    RELATION_DEPENDENCY_OF,
    RELATION_PARENT_OF,
    RELATION_CHILD_OF,
    RELATION_MEMBER_OF,
    RELATION_HAS_MEMBER,
    RELATION_PART_OF,
    RELATION_HAS_PART,
];

/// The apiVersion under which a Template emits ownership relations.
const TEMPLATE_API_VERSION: &str = "scaffolder.backstage.io/v1beta3";

/// One directed edge between two entities.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    pub source: EntityRef,
    pub relation_type: String,
    pub target: EntityRef,
}

impl Relation {
    /// The canonical `(source, type, target)` triple used for de-duplication.
    pub fn canonical_key(&self) -> (String, String, String) {
        (
            self.source.to_canonical(),
            self.relation_type.clone(),
            self.target.to_canonical(),
        )
    }
}

/// One row of §6.2: which field produces which pair of edges.
struct FieldRule {
    field: &'static str,
    default_kind: Option<&'static str>,
    forward: &'static str,
    reverse: &'static str,
}

const fn rule(
    field: &'static str,
    default_kind: Option<&'static str>,
    forward: &'static str,
    reverse: &'static str,
) -> FieldRule {
    FieldRule {
        field,
        default_kind,
        forward,
        reverse,
    }
}

const OWNER: FieldRule = rule("owner", Some("Group"), RELATION_OWNED_BY, RELATION_OWNER_OF);
const SYSTEM: FieldRule = rule(
    "system",
    Some("System"),
    RELATION_PART_OF,
    RELATION_HAS_PART,
);
const DEPENDS_ON: FieldRule = rule(
    "dependsOn",
    None,
    RELATION_DEPENDS_ON,
    RELATION_DEPENDENCY_OF,
);
const DEPENDENCY_OF: FieldRule = rule(
    "dependencyOf",
    None,
    RELATION_DEPENDENCY_OF,
    RELATION_DEPENDS_ON,
);

const COMPONENT_RULES: &[FieldRule] = &[
    OWNER,
    SYSTEM,
    rule(
        "subcomponentOf",
        Some("Component"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
    rule(
        "providesApis",
        Some("API"),
        RELATION_PROVIDES_API,
        RELATION_API_PROVIDED_BY,
    ),
    rule(
        "consumesApis",
        Some("API"),
        RELATION_CONSUMES_API,
        RELATION_API_CONSUMED_BY,
    ),
    DEPENDS_ON,
    DEPENDENCY_OF,
];
const API_RULES: &[FieldRule] = &[OWNER, SYSTEM];
const RESOURCE_RULES: &[FieldRule] = &[OWNER, SYSTEM, DEPENDS_ON, DEPENDENCY_OF];
const SYSTEM_RULES: &[FieldRule] = &[
    OWNER,
    rule(
        "domain",
        Some("Domain"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
];
const DOMAIN_RULES: &[FieldRule] = &[
    OWNER,
    rule(
        "subdomainOf",
        Some("Domain"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
];
const GROUP_RULES: &[FieldRule] = &[
    rule(
        "parent",
        Some("Group"),
        RELATION_CHILD_OF,
        RELATION_PARENT_OF,
    ),
    rule(
        "children",
        Some("Group"),
        RELATION_PARENT_OF,
        RELATION_CHILD_OF,
    ),
    rule(
        "members",
        Some("User"),
        RELATION_HAS_MEMBER,
        RELATION_MEMBER_OF,
    ),
];
const USER_RULES: &[FieldRule] = &[rule(
    "memberOf",
    Some("Group"),
    RELATION_MEMBER_OF,
    RELATION_HAS_MEMBER,
)];
const TEMPLATE_RULES: &[FieldRule] = &[OWNER];

/// The field rules for an entity, keyed on its exact `kind` spelling as Backstage's
/// processors are (a wrongly cased kind never passes kind validation anyway).
fn rules_for(entity: &Value) -> &'static [FieldRule] {
    match entity.get("kind").and_then(Value::as_str) {
        Some("Component") => COMPONENT_RULES,
        Some("API") => API_RULES,
        Some("Resource") => RESOURCE_RULES,
        Some("System") => SYSTEM_RULES,
        Some("Domain") => DOMAIN_RULES,
        Some("Group") => GROUP_RULES,
        Some("User") => USER_RULES,
        Some("Template")
            if entity.get("apiVersion").and_then(Value::as_str) == Some(TEMPLATE_API_VERSION) =>
        {
            TEMPLATE_RULES
        }
        _ => &[],
    }
}

/// Derives both edges of every reference in the entity's ref-valued `spec` fields.
///
/// Default kinds are field-specific (§6.2) and the default namespace is the
/// entity's own. All unparsable references are reported, each at its field
/// (e.g. `spec.dependsOn.0`); in Backstage any of them fails the whole pass.
pub fn derive_relations(entity: &Value) -> Result<Vec<Relation>, Vec<Problem>> {
    let Some(self_ref) = entity_ref_of(entity) else {
        return Err(vec![Problem::new(
            ProblemKind::Envelope,
            FieldPath::root(),
            "Entity has no string kind or metadata.name, so its relations cannot be derived",
        )]);
    };
    let mut relations = Vec::new();
    let mut problems = Vec::new();
    let spec = entity.get("spec");
    for field_rule in rules_for(entity) {
        let Some(value) = spec.and_then(|s| s.get(field_rule.field)) else {
            continue;
        };
        let field_path = FieldPath::keys(&["spec", field_rule.field]);
        let defaults = RefDefaults {
            kind: field_rule.default_kind,
            namespace: Some(&self_ref.namespace),
        };
        let mut emit = |raw: &str, path: FieldPath| match parse_entity_ref(raw, defaults) {
            Ok(target) => {
                relations.push(Relation {
                    source: self_ref.clone(),
                    relation_type: field_rule.forward.to_owned(),
                    target: target.clone(),
                });
                relations.push(Relation {
                    source: target,
                    relation_type: field_rule.reverse.to_owned(),
                    target: self_ref.clone(),
                });
            }
            Err(e) => problems.push(Problem::new(ProblemKind::Reference, path, e.to_string())),
        };
        match value {
            // Backstage skips falsy single values, so an empty string emits nothing.
            Value::String(s) if !s.is_empty() => emit(s, field_path),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Value::String(s) = item {
                        emit(s, field_path.index(i));
                    }
                }
            }
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(relations)
    } else {
        Err(problems)
    }
}

/// Removes edges with the same canonical `(source, type, target)`, keeping the
/// first spelling seen, and sorts the rest by that canonical triple.
pub fn dedupe_relations(relations: Vec<Relation>) -> Vec<Relation> {
    let mut unique: BTreeMap<(String, String, String), Relation> = BTreeMap::new();
    for relation in relations {
        unique.entry(relation.canonical_key()).or_insert(relation);
    }
    unique.into_values().collect()
}
