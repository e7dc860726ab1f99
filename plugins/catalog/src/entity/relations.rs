//! The overview's cards per kind: the entities related to this one through one
//! relation type (a System's components, APIs and resources; a Domain's
//! systems; a Group's members and child groups; a User's groups; a
//! Component's APIs, dependencies and dependents; an API's providers and
//! consumers), and the entities a Group or User owns. Each is an
//! [`EntityCard`], so other plugins can add more in the same way.

use std::sync::Arc;

use async_trait::async_trait;
use greenroom_catalog_client::{
    CatalogApi, EntityFilterSet, EntityOrder, FilterValue, GetEntitiesByRefsRequest,
    QueryEntitiesInitialRequest, QueryEntitiesRequest, SortOrder, TotalItems,
};
use greenroom_web::components::{Column, Table, card, empty_state};
use greenroom_web::{EntityCard, PageContext, WebExtension};
use maud::{Markup, html};
use serde_json::Value;

use super::about::is_safe_link;
use super::{kind_of_ref, link_with_title, ref_of, relation_targets, str_at, truncate};

/// The most related entities a card lists.
pub(crate) const MAX_CARD_ROWS: usize = 50;
/// The longest description shown in a card row, in characters.
const MAX_ROW_DESCRIPTION_CHARS: usize = 160;

/// The fields a card reads from each related entity.
fn row_fields() -> Vec<String> {
    [
        "kind",
        "metadata.name",
        "metadata.namespace",
        "metadata.title",
        "metadata.description",
        "spec.type",
        "spec.lifecycle",
        "spec.profile.displayName",
        "spec.profile.email",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// What one relation card lists.
#[derive(Debug, Clone, Copy)]
struct CardSpec {
    id: &'static str,
    title: &'static str,
    /// The kinds of entity the card appears on (lower case).
    kinds: &'static [&'static str],
    relation: &'static str,
    /// Only targets of this kind (lower case), when set.
    target_kind: Option<&'static str>,
    /// What the card says when there is nothing to list.
    empty: &'static str,
    /// Whether the card shows (with its empty state) when the entity has no
    /// such relation; the others only appear when there is something to list.
    always: bool,
    columns: &'static [Col],
}

/// The columns of a card listing entities of one kind.
const ENTITY_COLUMNS: &[Col] = &[Col::Name, Col::Type, Col::Description];
/// The columns of a card listing entities of several kinds.
const MIXED_COLUMNS: &[Col] = &[Col::Name, Col::Kind, Col::Type, Col::Description];
/// The columns of a card listing people.
const PEOPLE_COLUMNS: &[Col] = &[Col::Name, Col::Email];

/// The relation cards, in the order they appear.
const CARDS: [CardSpec; 14] = [
    CardSpec {
        id: "system-components",
        title: "Components",
        kinds: &["system"],
        relation: "hasPart",
        target_kind: Some("component"),
        empty: "No components are part of this system.",
        always: true,
        columns: ENTITY_COLUMNS,
    },
    CardSpec {
        id: "system-apis",
        title: "APIs",
        kinds: &["system"],
        relation: "hasPart",
        target_kind: Some("api"),
        empty: "No APIs are part of this system.",
        always: true,
        columns: ENTITY_COLUMNS,
    },
    CardSpec {
        id: "system-resources",
        title: "Resources",
        kinds: &["system"],
        relation: "hasPart",
        target_kind: Some("resource"),
        empty: "No resources are part of this system.",
        always: true,
        columns: ENTITY_COLUMNS,
    },
    CardSpec {
        id: "domain-systems",
        title: "Systems",
        kinds: &["domain"],
        relation: "hasPart",
        target_kind: Some("system"),
        empty: "No systems are part of this domain.",
        always: true,
        columns: ENTITY_COLUMNS,
    },
    CardSpec {
        id: "group-members",
        title: "Members",
        kinds: &["group"],
        relation: "hasMember",
        target_kind: Some("user"),
        empty: "This group has no members.",
        always: true,
        columns: PEOPLE_COLUMNS,
    },
    CardSpec {
        id: "group-children",
        title: "Child groups",
        kinds: &["group"],
        relation: "parentOf",
        target_kind: Some("group"),
        empty: "This group has no child groups.",
        always: true,
        columns: ENTITY_COLUMNS,
    },
    CardSpec {
        id: "user-groups",
        title: "Groups",
        kinds: &["user"],
        relation: "memberOf",
        target_kind: Some("group"),
        empty: "This user is not a member of any group.",
        always: true,
        columns: ENTITY_COLUMNS,
    },
    CardSpec {
        id: "provided-apis",
        title: "Provided APIs",
        kinds: &["component"],
        relation: "providesApi",
        target_kind: Some("api"),
        empty: "This component provides no APIs.",
        always: true,
        columns: ENTITY_COLUMNS,
    },
    CardSpec {
        id: "consumed-apis",
        title: "Consumed APIs",
        kinds: &["component"],
        relation: "consumesApi",
        target_kind: Some("api"),
        empty: "This component consumes no APIs.",
        always: false,
        columns: ENTITY_COLUMNS,
    },
    CardSpec {
        id: "depends-on",
        title: "Depends on",
        kinds: &["component", "resource"],
        relation: "dependsOn",
        target_kind: None,
        empty: "No dependencies.",
        always: true,
        columns: MIXED_COLUMNS,
    },
    CardSpec {
        id: "dependents",
        title: "Dependents",
        kinds: &["component", "resource"],
        relation: "dependencyOf",
        target_kind: None,
        empty: "Nothing depends on this entity.",
        always: false,
        columns: MIXED_COLUMNS,
    },
    CardSpec {
        id: "subcomponents",
        title: "Subcomponents",
        kinds: &["component"],
        relation: "hasSubcomponent",
        target_kind: Some("component"),
        empty: "This component has no subcomponents.",
        always: false,
        columns: ENTITY_COLUMNS,
    },
    CardSpec {
        id: "api-providers",
        title: "Providers",
        kinds: &["api"],
        relation: "apiProvidedBy",
        target_kind: Some("component"),
        empty: "No component provides this API.",
        always: true,
        columns: ENTITY_COLUMNS,
    },
    CardSpec {
        id: "api-consumers",
        title: "Consumers",
        kinds: &["api"],
        relation: "apiConsumedBy",
        target_kind: Some("component"),
        empty: "No component consumes this API.",
        always: true,
        columns: ENTITY_COLUMNS,
    },
];

/// One card listing the targets of one relation type.
struct RelationCard {
    catalog: Arc<dyn CatalogApi>,
    spec: CardSpec,
    order: i32,
}

/// Registers the cards of every kind.
pub(super) fn register(web: &WebExtension, catalog: &Arc<dyn CatalogApi>) {
    for (index, spec) in CARDS.into_iter().enumerate() {
        web.add_entity_card(Arc::new(RelationCard {
            catalog: Arc::clone(catalog),
            spec,
            order: 100 + i32::try_from(index).unwrap_or(0),
        }));
    }
    web.add_entity_card(Arc::new(OwnershipCard {
        catalog: Arc::clone(catalog),
    }));
}

/// Whether `entity` is of one of `kinds` (lower case).
fn is_kind(entity: &Value, kinds: &[&str]) -> bool {
    entity
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| kinds.iter().any(|k| k.eq_ignore_ascii_case(kind)))
}

/// The name cell of a row: a link labelled with the title (or a person's
/// display name), falling back to the short ref.
fn name_cell(entity: &Value) -> Markup {
    let label = str_at(entity, &["metadata", "title"])
        .or_else(|| str_at(entity, &["spec", "profile", "displayName"]))
        .filter(|t| !t.trim().is_empty());
    let own_ref = ref_of(entity);
    html! {
        (link_with_title(&own_ref, label))
        @if label.is_some() {
            " " span class="muted" { "(" (greenroom_web::components::humanize_ref(&own_ref, None)) ")" }
        }
    }
}

/// A text cell, or a muted dash when the value is missing.
fn text_cell(value: Option<&str>) -> Markup {
    match value.filter(|v| !v.is_empty()) {
        Some(value) => html! { (truncate(value, MAX_ROW_DESCRIPTION_CHARS)) },
        None => html! { span class="muted" { "—" } },
    }
}

/// A column of an entity table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Name,
    Kind,
    Type,
    Lifecycle,
    /// The description, or a person's email.
    Description,
    /// A person's or group's email, as a mail link.
    Email,
}

impl Col {
    fn label(self) -> &'static str {
        match self {
            Col::Name => "Name",
            Col::Kind => "Kind",
            Col::Type => "Type",
            Col::Lifecycle => "Lifecycle",
            Col::Description => "Description",
            Col::Email => "Email",
        }
    }

    fn cell(self, entity: &Value) -> Markup {
        match self {
            Col::Name => name_cell(entity),
            Col::Kind => text_cell(entity.get("kind").and_then(Value::as_str)),
            Col::Type => text_cell(str_at(entity, &["spec", "type"])),
            Col::Lifecycle => text_cell(str_at(entity, &["spec", "lifecycle"])),
            Col::Description => text_cell(
                str_at(entity, &["metadata", "description"])
                    .or_else(|| str_at(entity, &["spec", "profile", "email"])),
            ),
            Col::Email => match str_at(entity, &["spec", "profile", "email"]) {
                Some(email) if is_safe_link(&format!("mailto:{email}")) => {
                    html! { a href={ "mailto:" (email) } { (email) } }
                }
                other => text_cell(other),
            },
        }
    }

    /// The cell of a ref the catalog does not know.
    fn missing_cell(self, target: &str) -> Markup {
        match self {
            Col::Name => link_with_title(target, None),
            Col::Kind => text_cell(Some(kind_of_ref(target))),
            Col::Description => html! { span class="muted" { "Not in the catalog" } },
            Col::Type | Col::Lifecycle | Col::Email => text_cell(None),
        }
    }
}

/// A table of entities with `columns`.
fn entity_table(
    ctx: &PageContext,
    caption: &str,
    columns: &[Col],
    rows: &[Value],
    missing: &[&str],
) -> Markup {
    let mut cells: Vec<Vec<Markup>> = rows
        .iter()
        .map(|entity| columns.iter().map(|c| c.cell(entity)).collect())
        .collect();
    // A ref the catalog does not know still shows, so that a dangling relation
    // is visible rather than silently dropped.
    for target in missing {
        cells.push(columns.iter().map(|c| c.missing_cell(target)).collect());
    }
    Table {
        caption: caption.to_owned(),
        columns: columns.iter().map(|c| Column::new(c.label())).collect(),
        rows: cells,
    }
    .render(ctx, None)
}

impl RelationCard {
    /// The distinct targets of the card's relation (of its target kind), sorted.
    fn targets<'a>(&self, entity: &'a Value) -> Vec<&'a str> {
        let mut targets: Vec<&str> = relation_targets(entity, self.spec.relation)
            .into_iter()
            .filter(|t| {
                self.spec
                    .target_kind
                    .is_none_or(|kind| kind_of_ref(t).eq_ignore_ascii_case(kind))
            })
            .collect();
        targets.sort_unstable();
        targets.dedup();
        targets
    }
}

#[async_trait]
impl EntityCard for RelationCard {
    fn id(&self) -> &str {
        self.spec.id
    }

    fn applies_to(&self, entity: &Value) -> bool {
        is_kind(entity, self.spec.kinds) && (self.spec.always || !self.targets(entity).is_empty())
    }

    fn order(&self) -> i32 {
        self.order
    }

    async fn render(&self, page: &PageContext, entity: &Value) -> Result<Markup, String> {
        let mut targets = self.targets(entity);
        let total = targets.len();
        targets.truncate(MAX_CARD_ROWS);
        if targets.is_empty() {
            return Ok(card(
                self.spec.title,
                empty_state(self.spec.empty, html! {}),
            ));
        }
        let answer = self
            .catalog
            .get_entities_by_refs(GetEntitiesByRefsRequest {
                entity_refs: targets.iter().map(|t| (*t).to_owned()).collect(),
                fields: Some(row_fields()),
                filter: None,
            })
            .await
            .map_err(|e| e.to_string())?;
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for (target, slot) in targets.iter().zip(answer.items) {
            match slot {
                Some(entity) => found.push(entity),
                None => missing.push(*target),
            }
        }
        Ok(card(
            self.spec.title,
            html! {
                (entity_table(page, self.spec.title, self.spec.columns, &found, &missing))
                @if total > MAX_CARD_ROWS {
                    p class="muted" { "and " (total - MAX_CARD_ROWS) " more" }
                }
            },
        ))
    }
}

/// The entities a Group or User owns (Backstage's ownership card, direct
/// ownership only).
struct OwnershipCard {
    catalog: Arc<dyn CatalogApi>,
}

#[async_trait]
impl EntityCard for OwnershipCard {
    fn id(&self) -> &str {
        "owned-entities"
    }

    fn applies_to(&self, entity: &Value) -> bool {
        is_kind(entity, &["group", "user"])
    }

    fn order(&self) -> i32 {
        90
    }

    fn wide(&self) -> bool {
        true
    }

    async fn render(&self, page: &PageContext, entity: &Value) -> Result<Markup, String> {
        let mut set = EntityFilterSet::new();
        set.insert(
            "relations.ownedBy".to_owned(),
            FilterValue::AnyOf(vec![ref_of(entity)]),
        );
        let answer = self
            .catalog
            .query_entities(QueryEntitiesRequest::Initial(QueryEntitiesInitialRequest {
                filter: Some(vec![set]),
                limit: Some(MAX_CARD_ROWS as u64),
                order_fields: Some(vec![
                    EntityOrder {
                        field: "kind".to_owned(),
                        order: SortOrder::Asc,
                    },
                    EntityOrder {
                        field: "metadata.name".to_owned(),
                        order: SortOrder::Asc,
                    },
                ]),
                fields: Some(row_fields()),
                total_items: Some(TotalItems::Include),
                ..QueryEntitiesInitialRequest::default()
            }))
            .await
            .map_err(|e| e.to_string())?;
        let mut items = answer.items;
        if items.is_empty() {
            return Ok(card(
                "Owned entities",
                empty_state("This entity owns nothing in the catalog.", html! {}),
            ));
        }
        items.truncate(MAX_CARD_ROWS);
        let total = usize::try_from(answer.total_items).unwrap_or(usize::MAX);
        Ok(card(
            "Owned entities",
            html! {
                (entity_table(
                    page,
                    "Owned entities",
                    &[Col::Name, Col::Kind, Col::Type, Col::Lifecycle, Col::Description],
                    &items,
                    &[],
                ))
                @if total > items.len() {
                    p class="muted" { "Showing " (items.len()) " of " (total) "." }
                }
            },
        ))
    }
}
