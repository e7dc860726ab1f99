//! `/search?q=`: the header's search box, answered with a full-text search
//! across every kind, paged by cursor; each hit shows its kind, a link to its
//! page and its description.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use greenroom_catalog_client::{
    EntityOrder, FullTextFilter, QueryEntitiesCursorRequest, QueryEntitiesInitialRequest,
    QueryEntitiesRequest, SortOrder,
};
use greenroom_web::components::{badge, empty_state, entity_value_path, error_state};
use greenroom_web::{Page, PageContext, shell};
use maud::html;
use serde_json::Value;

use super::{
    BadInput, ListState, SEARCH_TEXT_FIELDS, catalog_failure, cursor_param, page_size, pager_for,
    start_param, text_param,
};

/// The fields a hit shows.
const FIELDS: [&str; 6] = [
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.title",
    "metadata.description",
    "spec.profile.displayName",
];

/// The search request for the URL: a cursor continues an earlier search, a
/// term starts one; neither means there is nothing to search for.
fn request(ctx: &PageContext) -> Result<Option<(QueryEntitiesRequest, u64)>, BadInput> {
    let size = page_size(ctx)?;
    let fields = Some(FIELDS.iter().map(|f| (*f).to_owned()).collect());
    if let Some(cursor) = cursor_param(ctx)? {
        return Ok(Some((
            QueryEntitiesRequest::Cursor(QueryEntitiesCursorRequest {
                cursor: cursor.to_owned(),
                limit: Some(size),
                fields,
            }),
            size,
        )));
    }
    let Some(term) = text_param(ctx, "q")? else {
        return Ok(None);
    };
    Ok(Some((
        QueryEntitiesRequest::Initial(QueryEntitiesInitialRequest {
            limit: Some(size),
            order_fields: Some(vec![EntityOrder {
                field: "metadata.name".to_owned(),
                order: SortOrder::Asc,
            }]),
            full_text_filter: Some(FullTextFilter {
                term: term.to_owned(),
                fields: Some(SEARCH_TEXT_FIELDS.iter().map(|f| (*f).to_owned()).collect()),
            }),
            fields,
            ..Default::default()
        }),
        size,
    )))
}

pub(crate) async fn search_page(State(state): State<ListState>, ctx: PageContext) -> Response {
    let title = match ctx.param("q").map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) => format!(
            "Search results for “{}”",
            q.chars().take(80).collect::<String>()
        ),
        None => "Search".to_owned(),
    };
    let (request, size) = match request(&ctx) {
        Ok(Some(request)) => request,
        Ok(None) => {
            let body = empty_state(
                "Type a term in the search box to search the catalog",
                html! { "Names, titles and descriptions of every kind are searched." },
            );
            return shell::respond(&ctx, Page::new(title, body));
        }
        Err(BadInput(message)) => {
            return shell::with_status(
                StatusCode::BAD_REQUEST,
                &ctx,
                Page::new(title, error_state("The search could not be run", &message)),
            );
        }
    };
    let page = match state.catalog.query_entities(request).await {
        Ok(page) => page,
        Err(error) => {
            let (status, heading) = catalog_failure(&error);
            return shell::with_status(
                status,
                &ctx,
                Page::new(title, error_state(heading, &error.message)),
            );
        }
    };
    let body = if page.items.is_empty() {
        empty_state(
            "Nothing in the catalog matches this search",
            html! { a href="/catalog" { "Browse the catalog" } },
        )
    } else {
        html! {
            ol class="search-results" {
                @for entity in &page.items {
                    @let kind = entity.get("kind").and_then(Value::as_str).unwrap_or_default();
                    li class="search-result" {
                        (badge(kind)) " "
                        a href=(entity_value_path(entity)) { (super::columns::display_name(entity, kind)) }
                        @if let Some(description) = entity.pointer("/metadata/description").and_then(Value::as_str).filter(|d| !d.is_empty()) {
                            p class="muted" { (description) }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        (body)
        (pager_for(&ctx, &page, start_param(&ctx), size))
    };
    shell::respond(&ctx, Page::new(title, body))
}
