//! The catalog table at `/catalog` (kind picker, facet filters with counts,
//! text search, per-kind columns, sorting, cursor paging with a total), the
//! global search results at `/search`, the "Catalog" sidebar item and the
//! home cards (counts per kind, recently changed entities).

mod columns;
mod home;
mod search;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use greenroom_backend_plugin_api::{BackendError, ErrorName};
use greenroom_catalog_client::{
    CatalogApi, EntityFilterSet, EntityOrder, FacetCount, FilterValue, FullTextFilter,
    GetEntityFacetsRequest, QueryEntitiesCursorRequest, QueryEntitiesInitialRequest,
    QueryEntitiesRequest, QueryEntitiesResponse, SortOrder,
};
use greenroom_web::components::{Choice, Sort, Table, empty_state, error_state, pager, select};
use greenroom_web::{NavGroup, NavItem, Page, PageContext, WebExtension, shell};
use maud::{Markup, html};
use serde_json::Value;

/// The page size when the URL names none.
pub(crate) const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page size a URL may ask for.
pub(crate) const MAX_PAGE_SIZE: u64 = 100;
/// The longest filter value or search term accepted, in characters.
pub(crate) const MAX_TEXT_CHARS: usize = 200;
/// The longest cursor accepted, in bytes; real cursors are far shorter.
pub(crate) const MAX_CURSOR_BYTES: usize = 8 * 1024;
/// The most choices one filter select lists (the most frequent first).
const MAX_CHOICES: usize = 500;

/// The kind shown when the URL names none, as in Backstage.
const DEFAULT_KIND: &str = "component";

/// The fields the table's text search looks in: Backstage's catalog text
/// filter searches these three.
const TABLE_TEXT_FIELDS: [&str; 3] = [
    "metadata.name",
    "metadata.title",
    "spec.profile.displayName",
];

/// The fields the global search looks in: the table's, and descriptions.
pub(crate) const SEARCH_TEXT_FIELDS: [&str; 4] = [
    "metadata.name",
    "metadata.title",
    "spec.profile.displayName",
    "metadata.description",
];

/// The filters besides kind: URL parameter, label, and the entity field that
/// the filter and its facet use.
const FILTERS: [(&str, &str, &str); 5] = [
    ("type", "Type", "spec.type"),
    ("owner", "Owner", "relations.ownedBy"),
    ("lifecycle", "Lifecycle", "spec.lifecycle"),
    ("tag", "Tag", "metadata.tags"),
    ("namespace", "Namespace", "metadata.namespace"),
];

/// The state the catalog's pages share.
#[derive(Clone)]
pub(crate) struct ListState {
    pub(crate) catalog: Arc<dyn CatalogApi>,
}

pub(crate) fn register(web: &WebExtension, catalog: Arc<dyn CatalogApi>) {
    let state = ListState {
        catalog: Arc::clone(&catalog),
    };
    web.add_routes(
        Router::new()
            .route("/catalog", get(catalog_page))
            .route(shell::SEARCH_PATH, get(search::search_page))
            .with_state(state),
    );
    web.add_nav_item(NavItem {
        title: "Catalog".to_owned(),
        path: "/catalog".to_owned(),
        icon: "catalog",
        group: NavGroup::Main,
        order: 10,
    });
    home::register(web, catalog);
}

/// Input that cannot be served, shown as an error state with `400`.
#[derive(Debug)]
pub(crate) struct BadInput(pub(crate) String);

/// The first value of `key`, trimmed, `None` when absent or blank, refused
/// when longer than [`MAX_TEXT_CHARS`].
pub(crate) fn text_param<'a>(ctx: &'a PageContext, key: &str) -> Result<Option<&'a str>, BadInput> {
    match ctx.param(key).map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) if value.chars().count() > MAX_TEXT_CHARS => Err(BadInput(format!(
            "The parameter {key} is longer than {MAX_TEXT_CHARS} characters."
        ))),
        Some(value) => Ok(Some(value)),
    }
}

/// The page size from `limit`, bounded to 1..=[`MAX_PAGE_SIZE`].
pub(crate) fn page_size(ctx: &PageContext) -> Result<u64, BadInput> {
    match ctx.param("limit").map(str::trim) {
        None | Some("") => Ok(DEFAULT_PAGE_SIZE),
        Some(value) => match value.parse::<u64>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
            _ => Err(BadInput(format!(
                "The page size must be a number from 1 to {MAX_PAGE_SIZE}."
            ))),
        },
    }
}

/// The cursor from `cursor`, if any, bounded in size.
pub(crate) fn cursor_param(ctx: &PageContext) -> Result<Option<&str>, BadInput> {
    match ctx.param("cursor") {
        None | Some("") => Ok(None),
        Some(cursor) if cursor.len() > MAX_CURSOR_BYTES => {
            Err(BadInput("The page cursor is too long.".to_owned()))
        }
        Some(cursor) => Ok(Some(cursor)),
    }
}

/// The 1-based position of the page's first row, carried in the URL as
/// `start` next to the cursor (cursors do not say where they are); only used
/// for the summary, so a wrong value cannot change which rows are shown.
pub(crate) fn start_param(ctx: &PageContext) -> u64 {
    // Without a cursor the page is the first, whatever `start` says (sort
    // links drop the cursor but keep the other parameters).
    if ctx.param("cursor").is_none_or(str::is_empty) {
        return 1;
    }
    ctx.param("start")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// Previous and next links for a cursor page, keeping every other parameter.
pub(crate) fn pager_for(
    ctx: &PageContext,
    page: &QueryEntitiesResponse,
    start: u64,
    size: u64,
) -> Markup {
    let shown = page.items.len() as u64;
    let total = page.total_items;
    let first = start.min(total.max(1));
    let summary = if shown == 0 {
        format!("0 of {total}")
    } else {
        format!(
            "{first}–{} of {total}",
            (first + shown - 1).min(total.max(shown))
        )
    };
    let prev = page.page_info.prev_cursor.as_deref().map(|cursor| {
        let prev_start = start.saturating_sub(size).max(1).to_string();
        ctx.url_with_all(&[("cursor", Some(cursor)), ("start", Some(&prev_start))])
    });
    let next = page.page_info.next_cursor.as_deref().map(|cursor| {
        let next_start = (start + shown).to_string();
        ctx.url_with_all(&[("cursor", Some(cursor)), ("start", Some(&next_start))])
    });
    pager(&summary, prev, next)
}

/// The status and title of an error page for a failed catalog call: input
/// errors (a bad cursor, a bad sort field) are the visitor's, the rest the
/// catalog's.
pub(crate) fn catalog_failure(error: &BackendError) -> (StatusCode, &'static str) {
    match error.name {
        ErrorName::InputError => (StatusCode::BAD_REQUEST, "The request could not be served"),
        ErrorName::NotFoundError => (StatusCode::NOT_FOUND, "Not found"),
        ErrorName::ServiceUnavailableError => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The catalog is not available yet",
        ),
        _ => (StatusCode::BAD_GATEWAY, "The catalog could not answer"),
    }
}

/// Canonical owner refs: a short `team-a` means `group:default/team-a`, as
/// Backstage reads `spec.owner`.
fn owner_ref(owner: &str) -> String {
    let (kind, rest) = match owner.split_once(':') {
        Some((kind, rest)) => (kind.to_owned(), rest),
        None => ("group".to_owned(), owner),
    };
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    format!(
        "{}:{}/{name}",
        kind.to_ascii_lowercase(),
        namespace.to_ascii_lowercase()
    )
}

/// The catalog page's parsed URL.
struct CatalogQuery<'a> {
    kind: String,
    kind_given: bool,
    filters: Vec<(&'static str, &'a str)>,
    term: Option<&'a str>,
    sort: Sort,
    size: u64,
    cursor: Option<&'a str>,
    start: u64,
}

impl<'a> CatalogQuery<'a> {
    fn parse(ctx: &'a PageContext) -> Result<CatalogQuery<'a>, BadInput> {
        let kind_param = text_param(ctx, "kind")?;
        let mut filters = Vec::new();
        for (param, _, field) in FILTERS {
            if let Some(value) = text_param(ctx, param)? {
                filters.push((field, value));
            }
        }
        let sort = Sort::from_ctx(
            ctx,
            Sort {
                key: "name".to_owned(),
                descending: false,
            },
        );
        if columns::sort_field(&sort.key).is_none() {
            return Err(BadInput(format!(
                "The table cannot be sorted by {:?}.",
                sort.key
            )));
        }
        Ok(CatalogQuery {
            kind: kind_param.unwrap_or(DEFAULT_KIND).to_ascii_lowercase(),
            kind_given: kind_param.is_some(),
            filters,
            term: text_param(ctx, "q")?,
            sort,
            size: page_size(ctx)?,
            cursor: cursor_param(ctx)?,
            start: start_param(ctx),
        })
    }

    fn kind_filter(&self) -> EntityFilterSet {
        BTreeMap::from([("kind".to_owned(), FilterValue::from(self.kind.as_str()))])
    }

    fn request(&self) -> QueryEntitiesRequest {
        let fields = Some(columns::FIELDS.iter().map(|f| (*f).to_owned()).collect());
        if let Some(cursor) = self.cursor {
            return QueryEntitiesRequest::Cursor(QueryEntitiesCursorRequest {
                cursor: cursor.to_owned(),
                limit: Some(self.size),
                fields,
            });
        }
        // A structured predicate (sent as POST) rather than `filter=`: owner
        // refs carry `:` and `/`, which the GET form would have to encode twice.
        let mut predicate = serde_json::Map::new();
        predicate.insert("kind".to_owned(), Value::String(self.kind.clone()));
        for (field, value) in &self.filters {
            let value = if *field == "relations.ownedBy" {
                owner_ref(value)
            } else {
                (*value).to_owned()
            };
            predicate.insert((*field).to_owned(), Value::String(value));
        }
        let order = columns::sort_field(&self.sort.key).map(|field| EntityOrder {
            field: field.to_owned(),
            order: if self.sort.descending {
                SortOrder::Desc
            } else {
                SortOrder::Asc
            },
        });
        QueryEntitiesRequest::Initial(QueryEntitiesInitialRequest {
            query: Some(Value::Object(predicate)),
            limit: Some(self.size),
            order_fields: order.map(|o| vec![o]),
            full_text_filter: self.term.map(|term| FullTextFilter {
                term: term.to_owned(),
                fields: Some(TABLE_TEXT_FIELDS.iter().map(|f| (*f).to_owned()).collect()),
            }),
            fields,
            ..Default::default()
        })
    }
}

/// Facet counts as select choices, led by "All": the `limit` most frequent
/// values, listed alphabetically.
pub(crate) fn choices(
    counts: &[FacetCount],
    limit: usize,
    label_of: impl Fn(&str) -> String,
) -> Vec<Choice> {
    let mut sorted: Vec<&FacetCount> = counts.iter().collect();
    sorted.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    sorted.truncate(limit);
    sorted.sort_by_key(|a| a.value.to_lowercase());
    let mut out = vec![Choice {
        value: String::new(),
        label: "All".to_owned(),
        count: None,
    }];
    out.extend(sorted.into_iter().map(|c| Choice {
        value: c.value.clone(),
        label: label_of(&c.value),
        count: Some(c.count),
    }));
    out
}

/// The selected option value for a URL value: the facet value it names
/// (case-insensitive, owner refs in short or full form), else the URL value.
fn selected_choice(choices: &[Choice], param: &str, value: Option<&str>) -> Option<String> {
    let value = value?;
    let wanted = if param == "owner" {
        owner_ref(value)
    } else {
        value.to_owned()
    };
    choices
        .iter()
        .find(|c| c.value.eq_ignore_ascii_case(&wanted))
        .map(|c| c.value.clone())
        .or_else(|| Some(value.to_owned()))
}

/// The kinds (facet values) with their counts, in the catalog's spelling.
async fn kind_counts(catalog: &dyn CatalogApi) -> Result<Vec<FacetCount>, BackendError> {
    let facets = catalog
        .get_entity_facets(GetEntityFacetsRequest {
            facets: vec!["kind".to_owned()],
            ..Default::default()
        })
        .await?;
    Ok(facets.facets.get("kind").cloned().unwrap_or_default())
}

/// One facet filter: "All", then each value with its count; a value from
/// the URL that no entity of this kind has still shows as chosen.
fn filter_select(ctx: &PageContext, param: &str, label: &str, counts: &[FacetCount]) -> Markup {
    let mut options = choices(counts, MAX_CHOICES, |value| {
        if param == "owner" {
            greenroom_web::components::humanize_ref(value, Some("group"))
        } else {
            value.to_owned()
        }
    });
    let wanted = ctx.param(param).map(str::trim).filter(|v| !v.is_empty());
    let current = selected_choice(&options, param, wanted);
    if let Some(value) = &current
        && !options.iter().any(|c| &c.value == value)
    {
        options.push(Choice {
            value: value.clone(),
            label: value.clone(),
            count: Some(0),
        });
    }
    select(param, label, &options, current.as_deref())
}

/// The filter form: kind, the facet selects, the search box; hidden sort and
/// page size so that a new filter keeps them (and drops the cursor).
fn filter_form(
    ctx: &PageContext,
    query: &CatalogQuery<'_>,
    kinds: &[FacetCount],
    facets: &BTreeMap<String, Vec<FacetCount>>,
) -> Markup {
    let mut kind_choices: Vec<Choice> = kinds
        .iter()
        .map(|k| Choice {
            value: k.value.to_ascii_lowercase(),
            label: k.value.clone(),
            count: Some(k.count),
        })
        .collect();
    kind_choices.sort_by(|a, b| a.value.cmp(&b.value));
    if !kind_choices.iter().any(|c| c.value == query.kind) {
        // The default kind is offered even when the catalog has none yet.
        kind_choices.push(Choice {
            value: query.kind.clone(),
            label: query.kind.clone(),
            count: Some(0),
        });
    }
    html! {
        form class="filters" method="get" action="/catalog" aria-label="Filters" {
            (select("kind", "Kind", &kind_choices, Some(&query.kind)))
            div class="filter" {
                label for="filter-q" { "Search" }
                input id="filter-q" type="search" name="q" value=(query.term.unwrap_or_default())
                    maxlength=(MAX_TEXT_CHARS) placeholder="Name or title";
            }
            @for (param, label, field) in FILTERS {
                (filter_select(ctx, param, label, facets.get(field).map(Vec::as_slice).unwrap_or_default()))
            }
            @if let Some(sort) = ctx.param("sort").filter(|s| !s.is_empty()) {
                input type="hidden" name="sort" value=(sort);
            }
            @if let Some(limit) = ctx.param("limit").filter(|s| !s.is_empty()) {
                input type="hidden" name="limit" value=(limit);
            }
            div class="filter-actions" {
                button type="submit" class="button" { "Apply filters" }
                " "
                a href={ "/catalog?kind=" (query.kind) } { "Clear" }
            }
        }
    }
}

/// Renders `/catalog`.
async fn catalog_page(State(state): State<ListState>, ctx: PageContext) -> Response {
    let catalog = state.catalog.as_ref();
    let kinds = match kind_counts(catalog).await {
        Ok(kinds) => kinds,
        Err(error) => return failure_page(&ctx, &error),
    };
    let query = match CatalogQuery::parse(&ctx) {
        Ok(query) => query,
        Err(BadInput(message)) => return bad_input_page(&ctx, &kinds, &message),
    };
    let kind_label = kinds
        .iter()
        .find(|k| k.value.eq_ignore_ascii_case(&query.kind))
        .map(|k| k.value.clone());
    let kind_label = match kind_label {
        Some(label) => label,
        None if query.kind_given && query.kind != DEFAULT_KIND => {
            let message = format!("The catalog has no entities of kind {:?}.", query.kind);
            return bad_input_page(&ctx, &kinds, &message);
        }
        None => "Component".to_owned(),
    };
    let facet_request = GetEntityFacetsRequest {
        facets: FILTERS.iter().map(|(_, _, f)| (*f).to_owned()).collect(),
        filter: Some(vec![query.kind_filter()]),
        ..Default::default()
    };
    let facets = catalog.get_entity_facets(facet_request).await;
    let page = catalog.query_entities(query.request()).await;
    let facets = match facets {
        Ok(facets) => facets.facets,
        Err(error) => return failure_page(&ctx, &error),
    };
    let form = filter_form(&ctx, &query, &kinds, &facets);
    let title = format!("{kind_label} entities");
    let page = match page {
        Ok(page) => page,
        Err(error) => {
            let (status, heading) = catalog_failure(&error);
            let body = layout(form, error_state(heading, &error.message));
            return shell::with_status(status, &ctx, Page::new(title, body));
        }
    };
    let results = if page.items.is_empty() {
        empty_state(
            "No entities match these filters",
            html! {
                a href={ "/catalog?kind=" (query.kind) } { "Clear the filters" }
                @if page.page_info.prev_cursor.is_some() { " or go back a page." }
            },
        )
    } else {
        let columns = columns::for_kind(
            &query.kind,
            &page.items,
            query.filters.iter().any(|(field, _)| *field == "spec.type"),
        );
        let table = Table {
            caption: format!("{kind_label} entities"),
            columns: columns.iter().map(|c| c.header()).collect(),
            rows: page
                .items
                .iter()
                .map(|entity| {
                    columns
                        .iter()
                        .map(|c| c.cell(entity, &query.kind))
                        .collect()
                })
                .collect(),
        };
        table.render(&ctx, Some(&query.sort))
    };
    let notice = ctx.param("notice").and_then(notice_text);
    let body = html! {
        @if let Some(notice) = notice {
            div class="banner-notice" role="status" { (notice) }
        }
        (results)
        (pager_for(&ctx, &page, query.start, query.size))
    };
    shell::respond(&ctx, Page::new(title, layout(form, body)))
}

/// The messages the entity page's unregister flow redirects here with;
/// unknown codes show nothing, so a link cannot put arbitrary text on the page.
fn notice_text(code: &str) -> Option<&'static str> {
    match code {
        "location-unregistered" => {
            Some("The location was unregistered and its entities removed from the catalog.")
        }
        "entity-deleted" => Some(
            "The entity was deleted. It comes back if a registered location still provides it.",
        ),
        _ => None,
    }
}

fn layout(filters: Markup, results: Markup) -> Markup {
    html! {
        div class="layout-filters" {
            (filters)
            section aria-label="Results" { (results) }
        }
    }
}

/// A `400` page for input the catalog page cannot serve, with the kinds to
/// start over from.
fn bad_input_page(ctx: &PageContext, kinds: &[FacetCount], message: &str) -> Response {
    let body = html! {
        (error_state("These filters cannot be shown", message))
        p {
            "Start again with "
            @for (i, kind) in kinds.iter().enumerate() {
                @if i > 0 { ", " }
                a href={ "/catalog?kind=" (kind.value.to_ascii_lowercase()) } { (kind.value) }
            }
            @if kinds.is_empty() { a href="/catalog" { "the catalog" } }
            "."
        }
    };
    shell::with_status(StatusCode::BAD_REQUEST, ctx, Page::new("Catalog", body))
}

/// An error page for a failed catalog call.
pub(crate) fn failure_page(ctx: &PageContext, error: &BackendError) -> Response {
    let (status, heading) = catalog_failure(error);
    shell::with_status(
        status,
        ctx,
        Page::new("Catalog", error_state(heading, &error.message)),
    )
}
