//! The `/create` page: the Template entities of the catalog, with a way to
//! register an existing component instead. Running templates is the
//! scaffolder's job, which Greenroom does not have yet; the page says so.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use greenroom_catalog_client::{EntityFilterSet, EntityOrder, GetEntitiesRequest, SortOrder};
use greenroom_web::components::{badge, card_with_actions, empty_state, entity_value_path, fields};
use greenroom_web::{Page, PageContext, shell};
use maud::{Markup, html};
use serde_json::Value;

use super::IMPORT_PATH;

/// The most templates listed; beyond that the catalog page filters them.
const MAX_TEMPLATES: u64 = 200;

fn text<'a>(entity: &'a Value, pointer: &str) -> Option<&'a str> {
    entity
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn template_card(entity: &Value) -> Markup {
    let name = text(entity, "/metadata/name").unwrap_or_default();
    let title = text(entity, "/metadata/title").unwrap_or(name);
    let tags: Vec<&str> = entity
        .pointer("/metadata/tags")
        .and_then(Value::as_array)
        .map(|tags| tags.iter().filter_map(Value::as_str).take(20).collect())
        .unwrap_or_default();
    let actions = html! {
        a class="button secondary" href=(entity_value_path(entity)) aria-label={ "Details of " (title) } { "Details" }
    };
    card_with_actions(
        title,
        actions,
        html! {
            p { (text(entity, "/metadata/description").unwrap_or("No description.")) }
            (fields(&[
                ("Type", html! { (text(entity, "/spec/type").unwrap_or("—")) }),
                ("Owner", html! { (text(entity, "/spec/owner").unwrap_or("—")) }),
                ("Tags", html! {
                    @if tags.is_empty() { "—" }
                    @for tag in &tags { (badge(tag)) " " }
                }),
            ]))
        },
    )
}

/// `GET /create`.
pub(crate) async fn page(ctx: PageContext, State(catalog): super::flow::CatalogState) -> Response {
    let mut filter = EntityFilterSet::new();
    filter.insert("kind".to_owned(), "template".into());
    let request = GetEntitiesRequest {
        filter: Some(vec![filter]),
        fields: Some(vec![
            "kind".to_owned(),
            "metadata".to_owned(),
            "spec.type".to_owned(),
            "spec.owner".to_owned(),
        ]),
        order: Some(vec![EntityOrder {
            field: "metadata.name".to_owned(),
            order: SortOrder::Asc,
        }]),
        limit: Some(MAX_TEMPLATES),
        ..GetEntitiesRequest::default()
    };
    let templates = match catalog.get_entities(request).await {
        Ok(response) => response.items,
        Err(e) => {
            return shell::error_page(
                &ctx,
                StatusCode::BAD_GATEWAY,
                &format!("The templates could not be loaded: {}", e.message),
            );
        }
    };
    let header = html! {
        header class="page-header" {
            h1 { "Create a new component" }
            a class="button" href=(IMPORT_PATH) { "Register existing component" }
        }
    };
    let body = html! {
        p {
            "Templates describe how new components are made. Running them is the scaffolder's job, "
            "which Greenroom does not have yet: for now this page lists them so that you can find "
            "and read them. To add something that already exists, register it instead."
        }
        @if templates.is_empty() {
            (empty_state("No templates in the catalog.", html! {
                "Templates are entities of kind Template; register a location that contains one, or "
                a href=(IMPORT_PATH) { "register an existing component" } "."
            }))
        } @else {
            div class="grid" {
                @for template in &templates { (template_card(template)) }
            }
        }
    };
    shell::respond(
        &ctx,
        Page::new("Create a new component", body).with_header(header),
    )
}
