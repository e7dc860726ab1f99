//! The catalog table's columns per kind, as Backstage's CatalogTable picks
//! them, the cells they draw from an entity, and the fields they sort on.

use greenroom_web::components::{Column, badge, entity_ref_link, entity_value_path, humanize_ref};
use maud::{Markup, html};
use serde_json::Value;

/// The fields the table reads: the page asks the catalog for only these.
pub(crate) const FIELDS: [&str; 14] = [
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.title",
    "metadata.description",
    "metadata.tags",
    "spec.type",
    "spec.lifecycle",
    "spec.owner",
    "spec.system",
    "spec.target",
    "spec.targets",
    "spec.profile.displayName",
    "relations",
];

/// A column of the catalog table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CatalogColumn {
    Name,
    System,
    Owner,
    Type,
    Lifecycle,
    Namespace,
    Targets,
    Description,
    Tags,
}

/// The entity field a sort key (the `sort` URL parameter) orders by.
pub(crate) fn sort_field(key: &str) -> Option<&'static str> {
    Some(match key {
        "name" => "metadata.name",
        "system" => "spec.system",
        "owner" => "spec.owner",
        "type" => "spec.type",
        "lifecycle" => "spec.lifecycle",
        "namespace" => "metadata.namespace",
        _ => return None,
    })
}

/// The columns for `kind` (lower case), as Backstage's default table
/// columns: users show only name, description and tags; systems and domains
/// add the owner; groups and templates the type; locations type and targets;
/// every other kind system, owner, type and lifecycle (and the namespace when
/// the page has entities outside `default`). The type column is left out
/// while the table is filtered by type, since every row would repeat it.
pub(crate) fn for_kind(kind: &str, items: &[Value], type_filtered: bool) -> Vec<CatalogColumn> {
    use CatalogColumn::*;
    let middle: Vec<CatalogColumn> = match kind {
        "user" => vec![],
        "domain" | "system" => vec![Owner],
        "group" | "template" => vec![Type],
        "location" => vec![Type, Targets],
        _ => {
            let mut base = vec![System, Owner, Type, Lifecycle];
            let all_default = items.iter().all(|e| {
                e.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .is_none_or(|ns| ns == "default")
            });
            if !all_default {
                base.push(Namespace);
            }
            base
        }
    };
    let mut columns = vec![Name];
    columns.extend(
        middle
            .into_iter()
            .filter(|c| !(type_filtered && *c == Type)),
    );
    columns.extend([Description, Tags]);
    columns
}

/// The targets of relations of `relation_type` from `entity`, optionally
/// only those of `target_kind`.
fn relation_targets<'a>(
    entity: &'a Value,
    relation_type: &'a str,
    target_kind: Option<&'a str>,
) -> impl Iterator<Item = &'a str> + 'a {
    entity
        .get("relations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |r| r.get("type").and_then(Value::as_str) == Some(relation_type))
        .filter_map(|r| r.get("targetRef").and_then(Value::as_str))
        .filter(move |target| {
            target_kind.is_none_or(|kind| {
                target
                    .split_once(':')
                    .is_some_and(|(k, _)| k.eq_ignore_ascii_case(kind))
            })
        })
}

fn str_at<'a>(entity: &'a Value, pointer: &str) -> Option<&'a str> {
    entity
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Links to `refs` (the first few; a long list would swamp the row).
fn ref_links<'a>(refs: impl Iterator<Item = &'a str>, default_kind: &str) -> Markup {
    const MAX_LINKS: usize = 5;
    html! {
        @for (i, target) in refs.take(MAX_LINKS).enumerate() {
            @if i > 0 { ", " }
            (entity_ref_link(target, default_kind))
        }
    }
}

/// The name an entity is shown by: its title, a user's display name, or its
/// ref written short for the listed kind.
pub(crate) fn display_name(entity: &Value, context_kind: &str) -> String {
    if let Some(title) =
        str_at(entity, "/metadata/title").or_else(|| str_at(entity, "/spec/profile/displayName"))
    {
        return title.to_owned();
    }
    let (kind, namespace, name) = greenroom_web::components::entity_triplet(entity);
    humanize_ref(&format!("{kind}:{namespace}/{name}"), Some(context_kind))
}

impl CatalogColumn {
    pub(crate) fn header(self) -> Column {
        use CatalogColumn::*;
        match self {
            Name => Column::sortable("Name", "name"),
            System => Column::sortable("System", "system"),
            Owner => Column::sortable("Owner", "owner"),
            Type => Column::sortable("Type", "type"),
            Lifecycle => Column::sortable("Lifecycle", "lifecycle"),
            Namespace => Column::sortable("Namespace", "namespace"),
            Targets => Column::new("Targets"),
            Description => Column::new("Description"),
            Tags => Column::new("Tags"),
        }
    }

    pub(crate) fn cell(self, entity: &Value, kind: &str) -> Markup {
        use CatalogColumn::*;
        match self {
            Name => html! {
                a href=(entity_value_path(entity)) { (display_name(entity, kind)) }
            },
            System => {
                let mut systems = relation_targets(entity, "partOf", Some("system")).peekable();
                if systems.peek().is_some() {
                    ref_links(systems, "system")
                } else {
                    match str_at(entity, "/spec/system") {
                        Some(system) => entity_ref_link(system, "system"),
                        None => html! {},
                    }
                }
            }
            Owner => {
                let mut owners = relation_targets(entity, "ownedBy", None).peekable();
                if owners.peek().is_some() {
                    ref_links(owners, "group")
                } else {
                    match str_at(entity, "/spec/owner") {
                        Some(owner) => entity_ref_link(owner, "group"),
                        None => html! {},
                    }
                }
            }
            Type => html! { (str_at(entity, "/spec/type").unwrap_or_default()) },
            Lifecycle => html! { (str_at(entity, "/spec/lifecycle").unwrap_or_default()) },
            Namespace => html! { (str_at(entity, "/metadata/namespace").unwrap_or("default")) },
            Targets => {
                let targets: Vec<&str> = entity
                    .pointer("/spec/targets")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .chain(str_at(entity, "/spec/target"))
                    .take(10)
                    .collect();
                html! {
                    @for (i, target) in targets.iter().enumerate() {
                        @if i > 0 { br; }
                        span class="code" { (target) }
                    }
                }
            }
            Description => html! { (str_at(entity, "/metadata/description").unwrap_or_default()) },
            Tags => html! {
                @for tag in entity.pointer("/metadata/tags").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).take(20) {
                    (badge(tag)) " "
                }
            },
        }
    }
}
