//! API docs, as Backstage's api-docs plugin offers them: the `/api-docs` table
//! of API entities (facet filters, text search, cursor paging) and the
//! entity page's "Definition" tab, which renders `spec.definition` by
//! `spec.type` (OpenAPI, AsyncAPI, GraphQL; anything else as raw text).

mod asyncapi;
mod graphql;
mod openapi;
mod schema;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use greenroom_catalog_client::{
    CatalogApi, EntityFilterSet, EntityOrder, FacetCount, FilterValue, FullTextFilter,
    GetEntityFacetsRequest, QueryEntitiesCursorRequest, QueryEntitiesInitialRequest,
    QueryEntitiesRequest, QueryEntitiesResponse, SortOrder,
};
use greenroom_web::components::{
    Choice, Column, Sort, Table, badge, empty_state, entity_ref_link, entity_value_path, pager,
    select,
};
use greenroom_web::{EntityTab, NavGroup, NavItem, Page, PageContext, WebExtension, shell};
use maud::{Markup, html};
use serde_json::Value;

use self::schema::scalar_text;

/// The page's path.
pub(crate) const API_DOCS_PATH: &str = "/api-docs";
/// Rows per page unless `limit` says otherwise, and the most it may say.
const DEFAULT_PAGE_SIZE: u64 = 20;
const MAX_PAGE_SIZE: u64 = 100;
/// The longest search text or filter value accepted.
const MAX_TEXT_CHARS: usize = 200;
/// The longest cursor accepted (cursors are opaque, but never this large).
const MAX_CURSOR_BYTES: usize = 8 * 1024;
/// The most choices one filter select lists.
const MAX_CHOICES: usize = 300;
/// The largest definition the tab parses and renders; larger ones are
/// shown raw (truncated), since a page of that size helps nobody.
pub(crate) const MAX_DEFINITION_BYTES: usize = 2 * 1024 * 1024;
/// How deep a definition may nest before it is refused unparsed: the parsers
/// and renderers recurse, so depth is bounded before either runs.
const MAX_NESTING: usize = 100;

/// The filters of the table: URL parameter, label, and the entity field.
const FILTERS: [(&str, &str, &str); 4] = [
    ("type", "Type", "spec.type"),
    ("owner", "Owner", "relations.ownedBy"),
    ("lifecycle", "Lifecycle", "spec.lifecycle"),
    ("tag", "Tag", "metadata.tags"),
];

/// The fields the text search looks in.
const TEXT_FIELDS: [&str; 4] = [
    "metadata.name",
    "metadata.title",
    "metadata.description",
    "spec.type",
];

/// The fields the table needs from each entity.
const FIELDS: [&str; 11] = [
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
    "relations",
];

/// Sortable columns: the `sort` key and the entity field it orders by.
const SORTS: [(&str, &str); 4] = [
    ("name", "metadata.name"),
    ("type", "spec.type"),
    ("lifecycle", "spec.lifecycle"),
    ("owner", "spec.owner"),
];

#[derive(Clone)]
struct ApiDocsState {
    catalog: Arc<dyn CatalogApi>,
}

pub(crate) fn register(web: &WebExtension, catalog: Arc<dyn CatalogApi>) {
    web.add_routes(
        Router::new()
            .route(API_DOCS_PATH, get(api_docs_page))
            .with_state(ApiDocsState { catalog }),
    );
    web.add_nav_item(NavItem {
        title: "APIs".to_owned(),
        path: API_DOCS_PATH.to_owned(),
        icon: "api",
        group: NavGroup::Main,
        order: 20,
    });
    web.add_entity_tab(Arc::new(DefinitionTab));
}

// ---------------------------------------------------------------------------
// The /api-docs table.

/// The page's URL, read and bounded.
struct ApiQuery<'a> {
    filters: Vec<(&'static str, &'static str, String)>,
    term: Option<&'a str>,
    sort: Sort,
    size: u64,
    cursor: Option<&'a str>,
}

fn text_param<'a>(ctx: &'a PageContext, key: &str) -> Result<Option<&'a str>, String> {
    match ctx.param(key).map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) if value.chars().count() > MAX_TEXT_CHARS => Err(format!(
            "The parameter '{key}' is longer than {MAX_TEXT_CHARS} characters."
        )),
        Some(value) => Ok(Some(value)),
    }
}

/// An owner as the full ref the `relations.ownedBy` facet holds: the kind
/// defaults to `group` and the namespace to `default`, as Backstage's owner
/// picker writes them.
fn owner_ref(owner: &str) -> String {
    let (kind, rest) = owner.split_once(':').unwrap_or(("group", owner));
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    format!(
        "{}:{}/{}",
        kind.to_ascii_lowercase(),
        namespace.to_ascii_lowercase(),
        name
    )
}

impl<'a> ApiQuery<'a> {
    fn parse(ctx: &'a PageContext) -> Result<ApiQuery<'a>, String> {
        let mut filters = Vec::new();
        for (param, _, field) in FILTERS {
            if let Some(value) = text_param(ctx, param)? {
                let value = if param == "owner" {
                    owner_ref(value)
                } else {
                    value.to_owned()
                };
                filters.push((param, field, value));
            }
        }
        let term = text_param(ctx, "q")?;
        let sort = Sort::from_ctx(
            ctx,
            Sort {
                key: "name".to_owned(),
                descending: false,
            },
        );
        if !SORTS.iter().any(|(key, _)| *key == sort.key) {
            return Err(format!("The table cannot be sorted by '{}'.", sort.key));
        }
        let size = match ctx.param("limit").map(str::trim) {
            None | Some("") => DEFAULT_PAGE_SIZE,
            Some(value) => match value.parse::<u64>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "The page size must be a number from 1 to {MAX_PAGE_SIZE}."
                    ));
                }
            },
        };
        let cursor = match ctx.param("cursor") {
            None | Some("") => None,
            Some(cursor) if cursor.len() > MAX_CURSOR_BYTES => {
                return Err("The page cursor is too long.".to_owned());
            }
            Some(cursor) => Some(cursor),
        };
        Ok(ApiQuery {
            filters,
            term,
            sort,
            size,
            cursor,
        })
    }

    fn request(&self) -> QueryEntitiesRequest {
        let fields = Some(FIELDS.iter().map(|f| (*f).to_owned()).collect());
        if let Some(cursor) = self.cursor {
            return QueryEntitiesRequest::Cursor(QueryEntitiesCursorRequest {
                cursor: cursor.to_owned(),
                limit: Some(self.size),
                fields,
            });
        }
        // The filters go as a by-query predicate (one object: all fields must
        // match) rather than `filter=` conditions, so that values such as
        // owner refs (`group:default/x`) travel in a JSON body, unencoded.
        let mut predicate = serde_json::Map::new();
        predicate.insert("kind".to_owned(), Value::String("API".to_owned()));
        for (_, field, value) in &self.filters {
            predicate.insert((*field).to_owned(), Value::String(value.clone()));
        }
        let field = SORTS
            .iter()
            .find(|(key, _)| *key == self.sort.key)
            .map_or("metadata.name", |(_, field)| field);
        QueryEntitiesRequest::Initial(QueryEntitiesInitialRequest {
            query: Some(Value::Object(predicate)),
            limit: Some(self.size),
            order_fields: Some(vec![EntityOrder {
                field: field.to_owned(),
                order: if self.sort.descending {
                    SortOrder::Desc
                } else {
                    SortOrder::Asc
                },
            }]),
            full_text_filter: self.term.map(|term| FullTextFilter {
                term: term.to_owned(),
                fields: Some(TEXT_FIELDS.iter().map(|f| (*f).to_owned()).collect()),
            }),
            fields,
            ..Default::default()
        })
    }
}

fn kind_filter() -> EntityFilterSet {
    BTreeMap::from([("kind".to_owned(), FilterValue::from("API"))])
}

async fn api_docs_page(State(state): State<ApiDocsState>, ctx: PageContext) -> Response {
    let query = match ApiQuery::parse(&ctx) {
        Ok(query) => query,
        Err(message) => return shell::error_page(&ctx, StatusCode::BAD_REQUEST, &message),
    };
    let facets = state
        .catalog
        .get_entity_facets(GetEntityFacetsRequest {
            facets: FILTERS.iter().map(|(_, _, f)| (*f).to_owned()).collect(),
            filter: Some(vec![kind_filter()]),
            ..Default::default()
        })
        .await;
    let page = state.catalog.query_entities(query.request()).await;
    let facets = match facets {
        Ok(facets) => facets.facets,
        Err(e) => {
            return shell::error_page(
                &ctx,
                StatusCode::BAD_GATEWAY,
                &format!("The catalog could not be read: {e}"),
            );
        }
    };
    let page = match page {
        Ok(page) => page,
        Err(e) if query.cursor.is_some() => {
            return shell::error_page(
                &ctx,
                StatusCode::BAD_REQUEST,
                &format!("This page link is no longer valid: {e}"),
            );
        }
        Err(e) => {
            return shell::error_page(
                &ctx,
                StatusCode::BAD_GATEWAY,
                &format!("The catalog could not be read: {e}"),
            );
        }
    };
    let body = html! {
        div class="layout-filters" {
            (filter_form(&ctx, &query, &facets))
            div class="api-docs-results" {
                (results(&ctx, &query, &page))
            }
        }
    };
    shell::respond(
        &ctx,
        Page::new("APIs", body).with_header(html! {
            header class="page-header" {
                h1 { "APIs" }
                p class="subtitle" { "The APIs in the catalog: their types, owners and definitions." }
                // Backstage's API explorer offers the same shortcut to registration.
                p { a class="button secondary" href="/catalog-import" { "Register existing API" } }
            }
        }),
    )
}

/// One filter's choices and the selected value (a value no API has still
/// shows as selected, with a zero count).
fn filter_choices(
    query: &ApiQuery<'_>,
    facets: &BTreeMap<String, Vec<FacetCount>>,
    param: &str,
    field: &str,
) -> (Vec<Choice>, Option<String>) {
    let counts = facets.get(field).map(Vec::as_slice).unwrap_or_default();
    let mut list = crate::list::choices(counts, MAX_CHOICES, |value| {
        if param == "owner" {
            greenroom_web::components::humanize_ref(value, Some("group"))
        } else {
            value.to_owned()
        }
    });
    let current = query
        .filters
        .iter()
        .find(|(p, _, _)| *p == param)
        .map(|(_, _, v)| v.as_str());
    let selected = current.map(|value| {
        list.iter()
            .find(|c| c.value.eq_ignore_ascii_case(value))
            .map_or_else(|| value.to_owned(), |c| c.value.clone())
    });
    if let Some(selected) = &selected
        && !list.iter().any(|c| &c.value == selected)
    {
        list.push(Choice {
            value: selected.clone(),
            label: selected.clone(),
            count: Some(0),
        });
    }
    (list, selected)
}

fn filter_form(
    ctx: &PageContext,
    query: &ApiQuery<'_>,
    facets: &BTreeMap<String, Vec<FacetCount>>,
) -> Markup {
    html! {
        form class="filters" method="get" action=(API_DOCS_PATH) aria-label="Filter APIs" {
            div class="filter" {
                label for="api-search" { "Search" }
                input id="api-search" type="search" name="q" value=(query.term.unwrap_or_default())
                    maxlength=(MAX_TEXT_CHARS) placeholder="Name, title or description";
            }
            @for (param, label, field) in FILTERS {
                @let (list, selected) = filter_choices(query, facets, param, field);
                (select(param, label, &list, selected.as_deref()))
            }
            @if ctx.param("sort").is_some() {
                input type="hidden" name="sort" value=(ctx.param("sort").unwrap_or_default());
            }
            @if let Some(limit) = ctx.param("limit") {
                input type="hidden" name="limit" value=(limit);
            }
            button type="submit" class="button" { "Apply filters" }
            a href=(API_DOCS_PATH) { "Clear filters" }
        }
    }
}

fn results(ctx: &PageContext, query: &ApiQuery<'_>, page: &QueryEntitiesResponse) -> Markup {
    if page.items.is_empty() {
        return empty_state(
            "No APIs match these filters.",
            html! { a href=(API_DOCS_PATH) { "Show all APIs" } },
        );
    }
    let table = Table {
        caption: "APIs".to_owned(),
        columns: vec![
            Column::sortable("Name", "name"),
            Column::new("System"),
            Column::sortable("Owner", "owner"),
            Column::sortable("Type", "type"),
            Column::sortable("Lifecycle", "lifecycle"),
            Column::new("Description"),
            Column::new("Tags"),
        ],
        rows: page.items.iter().map(row).collect(),
    };
    let shown = page.items.len();
    let summary = format!(
        "{shown} shown of {} API{}",
        page.total_items,
        if page.total_items == 1 { "" } else { "s" }
    );
    let link = |cursor: &Option<String>| {
        cursor
            .as_ref()
            .map(|c| ctx.url_with("cursor", Some(c.as_str())))
    };
    html! {
        p class="muted api-docs-total" { "All APIs (" (page.total_items) ")" }
        (table.render(ctx, Some(&query.sort)))
        (pager(&summary, link(&page.page_info.prev_cursor), link(&page.page_info.next_cursor)))
    }
}

fn str_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut node = value;
    for key in path {
        node = node.get(key)?;
    }
    node.as_str()
}

/// The refs of the entity's relations of `kind`, or `fallback` (a spec field)
/// when it has none yet.
fn relation_targets(entity: &Value, kind: &str) -> Vec<String> {
    match entity.get("relations") {
        Some(Value::Array(relations)) => relations
            .iter()
            .filter(|r| r.get("type").and_then(Value::as_str) == Some(kind))
            .filter_map(|r| r.get("targetRef").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn row(entity: &Value) -> Vec<Markup> {
    let name = str_at(entity, &["metadata", "name"]).unwrap_or_default();
    let title = str_at(entity, &["metadata", "title"]).unwrap_or(name);
    let mut owners = relation_targets(entity, "ownedBy");
    if owners.is_empty()
        && let Some(owner) = str_at(entity, &["spec", "owner"])
    {
        owners.push(owner.to_owned());
    }
    let mut systems = relation_targets(entity, "partOf");
    systems.retain(|s| s.to_ascii_lowercase().starts_with("system:"));
    if systems.is_empty()
        && let Some(system) = str_at(entity, &["spec", "system"])
    {
        systems.push(system.to_owned());
    }
    let tags: Vec<&str> = match entity.get("metadata").and_then(|m| m.get("tags")) {
        Some(Value::Array(tags)) => tags.iter().filter_map(Value::as_str).take(20).collect(),
        _ => Vec::new(),
    };
    vec![
        html! { a href=(entity_value_path(entity)) { (title) } },
        html! { @for (i, s) in systems.iter().enumerate() { @if i > 0 { ", " } (entity_ref_link(s, "system")) } },
        html! { @for (i, o) in owners.iter().enumerate() { @if i > 0 { ", " } (entity_ref_link(o, "group")) } },
        html! { (str_at(entity, &["spec", "type"]).unwrap_or_default()) },
        html! { (str_at(entity, &["spec", "lifecycle"]).unwrap_or_default()) },
        html! { (str_at(entity, &["metadata", "description"]).unwrap_or_default()) },
        html! { @for tag in &tags { (badge(tag)) " " } },
    ]
}

// ---------------------------------------------------------------------------
// The "Definition" tab.

/// The entity page's tab for API entities.
struct DefinitionTab;

#[async_trait]
impl EntityTab for DefinitionTab {
    fn id(&self) -> &str {
        "api"
    }

    fn title(&self) -> &str {
        "Definition"
    }

    fn applies_to(&self, entity: &Value) -> bool {
        entity
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|kind| kind.eq_ignore_ascii_case("API"))
    }

    fn order(&self) -> i32 {
        20
    }

    async fn render(&self, _page: &PageContext, entity: &Value) -> Result<Markup, String> {
        let kind = str_at(entity, &["spec", "type"]).unwrap_or_default();
        let definition = match entity.get("spec").and_then(|s| s.get("definition")) {
            Some(Value::String(text)) => text.as_str(),
            Some(Value::Null) | None => {
                return Ok(empty_state(
                    "This API has no definition.",
                    html! { "Its descriptor sets no " code { "spec.definition" } "." },
                ));
            }
            Some(_) => {
                return Ok(empty_state(
                    "This API's definition is not text.",
                    html! { code { "spec.definition" } " must be a string (or a " code { "$text" } " placeholder)." },
                ));
            }
        };
        Ok(html! {
            section class="card api-definition-card" aria-label="API definition" {
                header class="card-header" {
                    h2 { "Definition" }
                    div class="card-actions" { (badge(if kind.is_empty() { "unknown type" } else { kind })) }
                }
                div class="card-body" { (render_definition(kind, definition)) }
            }
        })
    }
}

/// Why a definition is shown raw instead of rendered.
#[derive(Debug)]
struct ParseFailure {
    message: String,
    line: Option<u64>,
    column: Option<u64>,
}

impl ParseFailure {
    fn plain(message: impl Into<String>) -> ParseFailure {
        ParseFailure {
            message: message.into(),
            line: None,
            column: None,
        }
    }

    fn describe(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                format!("line {line}, column {column}: {}", self.message)
            }
            (Some(line), None) => format!("line {line}: {}", self.message),
            _ => self.message.clone(),
        }
    }
}

/// An upper bound of how deep a JSON or YAML text nests, computed without
/// parsing: the deepest bracket/brace nesting (quotes are ignored on purpose,
/// so that a stray quote cannot hide brackets), and the longest run of
/// compact block indicators on one line (`- - - x` nests three sequences in
/// six bytes). Block nesting by indentation needs quadratic space, so the
/// size bound keeps it shallow enough.
fn nesting_bound(text: &str) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for c in text.bytes() {
        match c {
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let compact = text
        .lines()
        .map(|line| {
            let mut rest = line.trim_start();
            let mut run = 0usize;
            while let Some(next) = rest
                .strip_prefix('-')
                .or_else(|| rest.strip_prefix('?'))
                .filter(|next| next.starts_with([' ', '\t']))
            {
                run += 1;
                rest = next.trim_start();
            }
            run
        })
        .max()
        .unwrap_or(0);
    deepest.max(compact)
}

/// Reads a definition as JSON or YAML (YAML 1.2 is a superset of JSON, but
/// the JSON parser gives better positions for JSON text).
fn parse_document(text: &str) -> Result<Value, ParseFailure> {
    if nesting_bound(text) > MAX_NESTING {
        return Err(ParseFailure::plain(format!(
            "the definition nests more than {MAX_NESTING} levels deep"
        )));
    }
    // Only the byte order mark is dropped, so that positions stay true.
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    if body.trim_start().starts_with('{') {
        return serde_json::from_str(body).map_err(|e| {
            // serde_json's message ends with the position, given separately here.
            let full = e.to_string();
            let message = full
                .rsplit_once(" at line ")
                .map_or(full.as_str(), |(message, _)| message)
                .to_owned();
            ParseFailure {
                message: format!("invalid JSON: {message}"),
                line: Some(e.line() as u64),
                column: Some(e.column() as u64),
            }
        });
    }
    match greenroom_catalog_model::yaml::parse_value(text) {
        Ok(value) => Ok(value),
        Err(e) => Err(ParseFailure {
            message: format!("invalid YAML: {}", e.message),
            line: Some(e.pos.line),
            column: Some(e.pos.column),
        }),
    }
}

/// The depth of a parsed value, stopping once past `limit`.
fn value_depth(value: &Value, limit: usize) -> usize {
    if limit == 0 {
        return 1;
    }
    match value {
        Value::Array(items) => {
            1 + items
                .iter()
                .map(|v| value_depth(v, limit - 1))
                .max()
                .unwrap_or(0)
        }
        Value::Object(map) => {
            1 + map
                .values()
                .map(|v| value_depth(v, limit - 1))
                .max()
                .unwrap_or(0)
        }
        _ => 0,
    }
}

/// Renders a definition by its `spec.type`; a definition that cannot be read
/// or drawn falls back to its raw text with a notice saying why.
pub(crate) fn render_definition(kind: &str, text: &str) -> Markup {
    if text.len() > MAX_DEFINITION_BYTES {
        let mut cut = MAX_DEFINITION_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        return html! {
            div class="banner-error" role="alert" {
                "This definition is " (text.len()) " bytes long, more than the " (MAX_DEFINITION_BYTES)
                " bytes this page renders; the first part is shown as text."
            }
            div class="api-raw" { pre class="code" { (&text[..cut]) } }
        };
    }
    let kind_lower = kind.to_ascii_lowercase();
    let rendered = match kind_lower.as_str() {
        "openapi" | "swagger" => Some(structured(text, "OpenAPI", |doc| {
            if !openapi::is_openapi(doc) {
                return Err(
                    "the document has neither an 'openapi' nor a 'swagger' version field"
                        .to_owned(),
                );
            }
            openapi::render(doc)
        })),
        "asyncapi" => Some(structured(text, "AsyncAPI", |doc| {
            if doc.get("asyncapi").is_none() {
                return Err("the document has no 'asyncapi' version field".to_owned());
            }
            asyncapi::render(doc)
        })),
        "graphql" => Some(Ok(graphql::render(text))),
        _ => None,
    };
    match rendered {
        Some(Ok(markup)) => markup,
        Some(Err(failure)) => html! {
            div class="banner-error api-parse-error" role="alert" {
                p { strong { "This definition could not be rendered." } " It is shown as text below." }
                p { (failure) }
            }
            div class="api-raw" { pre class="code" { (text) } }
        },
        None => html! {
            p class="muted api-raw-note" {
                @if kind.is_empty() {
                    "This API has no type; its definition is shown as text."
                } @else {
                    "Definitions of type " code { (kind) } " are shown as text."
                }
            }
            div class="api-raw" { pre class="code" { (text) } }
        },
    }
}

/// Parses and draws a structured (OpenAPI/AsyncAPI) definition; the error
/// text names the format and, where the parser gives it, the position.
fn structured(
    text: &str,
    format: &str,
    draw: impl FnOnce(&Value) -> Result<Markup, String>,
) -> Result<Markup, String> {
    let doc = parse_document(text)
        .map_err(|failure| format!("Not valid {format}: {}", failure.describe()))?;
    if !doc.is_object() {
        return Err(format!(
            "Not valid {format}: the definition is not a mapping of fields"
        ));
    }
    if value_depth(&doc, MAX_NESTING + 1) > MAX_NESTING {
        return Err(format!(
            "Not valid {format}: the definition nests more than {MAX_NESTING} levels deep"
        ));
    }
    draw(&doc).map_err(|message| format!("Not valid {format}: {message}"))
}

/// A string field of `value`, if present.
pub(crate) fn text_of(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The info block shared by OpenAPI and AsyncAPI: title, version, spec
/// version, description, contact.
pub(crate) fn info_block(doc: &Value, format: &str, spec_version: &str) -> Markup {
    let info = doc.get("info").unwrap_or(&Value::Null);
    let title = text_of(info, "title").unwrap_or_else(|| "Untitled API".to_owned());
    html! {
        section class="api-info" aria-label="About this API" {
            h3 class="api-title" {
                (title)
                @if let Some(version) = info.get("version") {
                    " " span class="badge" { (scalar_text(version)) }
                }
                " " span class="badge badge-info" { (format) " " (spec_version) }
            }
            @if let Some(description) = text_of(info, "description") {
                p class="api-description" { (description) }
            }
            @if let Some(contact) = info.get("contact").filter(|c| c.is_object()) {
                p class="muted api-contact" {
                    "Contact: "
                    (text_of(contact, "name").unwrap_or_default())
                    @if let Some(email) = text_of(contact, "email") {
                        " " a href={ "mailto:" (email) } { (email) }
                    }
                }
            }
        }
    }
}
