//! The entity page: `/catalog/{namespace}/{kind}/{name}` (the overview with the
//! registered cards), `/catalog/{namespace}/{kind}/{name}/{tab}` (tabs other
//! modules register, and the built-in inspect and unregister pages), and the
//! page's two POST actions, refresh and unregister.

mod about;
mod graph;
mod inspect;
mod relations;
mod unregister;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use greenroom_backend_plugin_api::BackendError;
use greenroom_catalog_client::CatalogApi;
pub(crate) use greenroom_web::components::entity_value_path;
use greenroom_web::components::{
    TabLink, encode_segment, entity_path, entity_ref_link, entity_triplet, tabs,
};
use greenroom_web::context::parse_query;
use greenroom_web::{Page, PageContext, WebExtension, shell};
use maud::{Markup, html};
use serde_json::Value;

/// The longest path segment (namespace, kind, name or tab) looked up; entity
/// names are at most 63 characters, so anything much longer cannot match.
const MAX_SEGMENT_BYTES: usize = 256;
/// The largest form body the page's POST actions accept.
const MAX_FORM_BYTES: usize = 4 * 1024;
/// The most processing errors listed in the banner.
const MAX_BANNER_ERRORS: usize = 20;
/// The most owners named in the header.
const MAX_HEADER_OWNERS: usize = 5;
/// The longest error message shown in the banner, in characters.
const MAX_ERROR_CHARS: usize = 2_000;

/// The status item type Backstage's catalog gives processing errors.
const PROCESSING_ERROR_TYPE: &str = "backstage.io/catalog-processing";
/// The older status item type some catalogs still use for the same errors.
const LEGACY_ERROR_TYPE: &str = "backstage.catalog/errors";

/// The state of the entity page's handlers.
#[derive(Clone)]
struct EntityPages {
    catalog: Arc<dyn CatalogApi>,
}

/// Registers the entity page's routes and the overview's cards.
pub(crate) fn register(web: &WebExtension, catalog: Arc<dyn CatalogApi>) {
    about::register(web);
    graph::register(web);
    relations::register(web, &catalog);
    let state = EntityPages { catalog };
    web.add_routes(
        Router::new()
            .route("/catalog/{namespace}/{kind}/{name}", get(overview))
            .route(
                "/catalog/{namespace}/{kind}/{name}/{tab}",
                get(tab).post(action),
            )
            .with_state(state),
    );
}

/// A string at a path of object keys.
pub(crate) fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut current = value;
    for key in path {
        current = current.get(key)?;
    }
    current.as_str()
}

/// The value of annotation `key`, when set and not blank.
pub(crate) fn annotation<'a>(entity: &'a Value, key: &str) -> Option<&'a str> {
    entity
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .filter(|v| !v.trim().is_empty())
}

/// `kind:namespace/name` of an entity, written as Backstage's
/// `stringifyEntityRef` does (kind and namespace lower-cased).
pub(crate) fn ref_of(entity: &Value) -> String {
    let (kind, namespace, name) = entity_triplet(entity);
    format!(
        "{}:{}/{name}",
        kind.to_ascii_lowercase(),
        namespace.to_ascii_lowercase()
    )
}

/// The title Backstage shows for an entity: `metadata.title`, else its name.
pub(crate) fn title_of(entity: &Value) -> &str {
    str_at(entity, &["metadata", "title"])
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| entity_triplet(entity).2)
}

/// The targets of the entity's relations of type `relation` (compared
/// case-insensitively), in the order the catalog lists them.
pub(crate) fn relation_targets<'a>(entity: &'a Value, relation: &str) -> Vec<&'a str> {
    entity
        .get("relations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| {
            r.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case(relation))
        })
        .filter_map(|r| r.get("targetRef").and_then(Value::as_str))
        .collect()
}

/// The kind part of a full ref `kind:namespace/name`.
pub(crate) fn kind_of_ref(entity_ref: &str) -> &str {
    entity_ref.split_once(':').map_or("", |(kind, _)| kind)
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The page of an entity found by its path segments, or the response to send
/// instead (a 404 page when it does not exist).
async fn load(
    state: &EntityPages,
    ctx: &PageContext,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Result<Value, Response> {
    let well_formed = [namespace, kind, name].iter().all(|segment| {
        !segment.is_empty()
            && segment.len() <= MAX_SEGMENT_BYTES
            && !segment.contains(['/', ':'])
            && !segment.chars().any(char::is_control)
    });
    if !well_formed {
        return Err(missing(ctx, kind, namespace, name));
    }
    match state
        .catalog
        .get_entity_by_ref(&format!("{kind}:{namespace}/{name}"))
        .await
    {
        Ok(Some(entity)) => Ok(entity),
        Ok(None) => Err(missing(ctx, kind, namespace, name)),
        Err(error) => Err(failure(ctx, &error)),
    }
}

/// The 404 page of an entity that is not in the catalog.
fn missing(ctx: &PageContext, kind: &str, namespace: &str, name: &str) -> Response {
    let what = format!(
        "No {} named \"{}\" in namespace \"{}\".",
        truncate(kind, 64),
        truncate(name, 128),
        truncate(namespace, 64)
    );
    shell::with_status(
        StatusCode::NOT_FOUND,
        ctx,
        Page::new(
            "Entity not found",
            greenroom_web::components::empty_state(
                &what,
                html! { a href="/catalog" { "Back to the catalog" } },
            ),
        ),
    )
}

/// An error page for a failed catalog call, with the status its name implies.
pub(crate) fn failure(ctx: &PageContext, error: &BackendError) -> Response {
    let status =
        StatusCode::from_u16(error.name.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    shell::error_page(ctx, status, &error.to_string())
}

/// The messages a `notice` query parameter may ask for; unknown codes show
/// nothing, so a link cannot put arbitrary text on the page.
fn notice_text(code: &str) -> Option<&'static str> {
    match code {
        "refreshed" => Some(
            "A refresh was scheduled. Changes show once the catalog has processed the entity again.",
        ),
        _ => None,
    }
}

/// The processing errors of `status.items`: `(name, message)` pairs.
pub(crate) fn processing_errors(entity: &Value) -> Vec<(String, String)> {
    entity
        .get("status")
        .and_then(|s| s.get("items"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|item| {
            let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
            let level = item
                .get("level")
                .and_then(Value::as_str)
                .unwrap_or_default();
            level == "error" && (kind == PROCESSING_ERROR_TYPE || kind == LEGACY_ERROR_TYPE)
        })
        .map(|item| {
            let error = item.get("error");
            let name = error
                .and_then(|e| e.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("Error");
            let message = error
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .or_else(|| item.get("message").and_then(Value::as_str))
                .unwrap_or_default();
            (truncate(name, 100), truncate(message, MAX_ERROR_CHARS))
        })
        .collect()
}

/// The banner of processing errors: the page still shows the last version
/// the catalog processed successfully.
fn error_banner(entity: &Value) -> Markup {
    let errors = processing_errors(entity);
    if errors.is_empty() {
        return html! {};
    }
    html! {
        div class="banner-error" role="alert" {
            p class="error-title" {
                @if errors.len() == 1 { "The catalog could not process this entity" }
                @else { "The catalog could not process this entity (" (errors.len()) " errors)" }
            }
            p class="muted" { "The page shows the last version that was processed successfully." }
            ul class="processing-errors" {
                @for (name, message) in errors.iter().take(MAX_BANNER_ERRORS) {
                    li { strong class="error-name" { (name) } ": " span class="error-message" { (message) } }
                }
            }
            @if errors.len() > MAX_BANNER_ERRORS {
                p { "and " (errors.len() - MAX_BANNER_ERRORS) " more" }
            }
        }
    }
}

/// The header of every entity page: title, kind, owner, lifecycle and type,
/// and the unregister action.
fn header(entity: &Value) -> Markup {
    let (kind, _, _) = entity_triplet(entity);
    let mut owners = relation_targets(entity, "ownedBy");
    owners.truncate(MAX_HEADER_OWNERS);
    let spec_owner = str_at(entity, &["spec", "owner"]);
    let lifecycle = str_at(entity, &["spec", "lifecycle"]);
    let entity_type = str_at(entity, &["spec", "type"]);
    let base = entity_value_path(entity);
    html! {
        header class="page-header entity-header" {
            h1 { (title_of(entity)) }
            dl class="entity-facts" {
                div { dt { "Kind" } dd { (kind) } }
                @if !owners.is_empty() || spec_owner.is_some() {
                    div {
                        dt { "Owner" }
                        dd {
                            @if owners.is_empty() {
                                @if let Some(owner) = spec_owner { (entity_ref_link(owner, "group")) }
                            } @else {
                                @for (i, owner) in owners.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (entity_ref_link(owner, "group"))
                                }
                            }
                        }
                    }
                }
                @if let Some(lifecycle) = lifecycle { div { dt { "Lifecycle" } dd { (lifecycle) } } }
                @if let Some(entity_type) = entity_type { div { dt { "Type" } dd { (entity_type) } } }
            }
            div class="entity-actions" {
                a class="button secondary" href={ (base) "/unregister" } { "Unregister entity" }
            }
        }
    }
}

/// The tab bar: Overview, the registered tabs that apply, and Inspect.
fn tab_bar(ctx: &PageContext, entity: &Value, active: &str) -> Markup {
    let base = entity_value_path(entity);
    let mut items = vec![TabLink {
        label: "Overview".to_owned(),
        href: base.clone(),
        active: active.is_empty(),
    }];
    for tab in ctx.registry.tabs_for(entity) {
        if tab.id().is_empty() || is_builtin_tab(tab.id()) {
            continue;
        }
        items.push(TabLink {
            label: tab.title().to_owned(),
            href: format!("{base}/{}", encode_segment(tab.id())),
            active: tab.id() == active,
        });
    }
    items.push(TabLink {
        label: "Inspect".to_owned(),
        href: format!("{base}/inspect"),
        active: active == "inspect",
    });
    tabs("Entity sections", &items)
}

/// Tab ids the entity page itself answers; a registered tab cannot take them.
fn is_builtin_tab(id: &str) -> bool {
    matches!(id, "inspect" | "unregister" | "refresh")
}

/// An entity page in the shell: header, notice, error banner, tabs and `body`.
fn respond(ctx: &PageContext, entity: &Value, active: &str, body: Markup) -> Response {
    let (kind, _, _) = entity_triplet(entity);
    let notice = ctx.param("notice").and_then(notice_text);
    let page_body = html! {
        @if let Some(notice) = notice {
            div class="banner-notice" role="status" { (notice) }
        }
        (error_banner(entity))
        (tab_bar(ctx, entity, active))
        div class="entity-content" { (body) }
    };
    shell::respond(
        ctx,
        Page::new(format!("{} ({kind})", title_of(entity)), page_body).with_header(header(entity)),
    )
}

/// `GET /catalog/{namespace}/{kind}/{name}`: the overview with every
/// registered card that applies to the entity.
async fn overview(
    State(state): State<EntityPages>,
    ctx: PageContext,
    Path((namespace, kind, name)): Path<(String, String, String)>,
) -> Response {
    let entity = match load(&state, &ctx, &namespace, &kind, &name).await {
        Ok(entity) => entity,
        Err(response) => return response,
    };
    let mut cards = Vec::new();
    for card in ctx.registry.cards_for(&entity) {
        let markup = match card.render(&ctx, &entity).await {
            Ok(markup) => markup,
            Err(message) => greenroom_web::components::card(
                card.id(),
                greenroom_web::components::error_state("This card could not be shown", &message),
            ),
        };
        cards.push((card.wide(), markup));
    }
    let body = html! {
        div class="grid" {
            @for (wide, markup) in cards {
                @if wide { div class="wide" { (markup) } } @else { (markup) }
            }
        }
    };
    respond(&ctx, &entity, "", body)
}

/// `GET /catalog/{namespace}/{kind}/{name}/{tab}`: inspect, the unregister
/// confirmation, or a registered tab.
async fn tab(
    State(state): State<EntityPages>,
    ctx: PageContext,
    Path((namespace, kind, name, tab)): Path<(String, String, String, String)>,
) -> Response {
    let entity = match load(&state, &ctx, &namespace, &kind, &name).await {
        Ok(entity) => entity,
        Err(response) => return response,
    };
    match tab.as_str() {
        "inspect" => {
            let body = inspect::render(state.catalog.as_ref(), &entity).await;
            respond(&ctx, &entity, "inspect", body)
        }
        "unregister" => match unregister::plan(state.catalog.as_ref(), &entity).await {
            Ok(plan) => respond(
                &ctx,
                &entity,
                "unregister",
                unregister::confirm_page(&entity, &plan),
            ),
            Err(error) => failure(&ctx, &error),
        },
        id => {
            let found = ctx
                .registry
                .tabs_for(&entity)
                .find(|t| t.id() == id && !id.is_empty())
                .cloned();
            let Some(found) = found else {
                return shell::not_found(&ctx, "This entity has no such tab.");
            };
            let body = match found.render(&ctx, &entity).await {
                Ok(markup) => markup,
                Err(message) => {
                    greenroom_web::components::error_state("This tab could not be shown", &message)
                }
            };
            respond(&ctx, &entity, id, body)
        }
    }
}

/// `POST /catalog/{namespace}/{kind}/{name}/{refresh|unregister}`.
async fn action(
    State(state): State<EntityPages>,
    ctx: PageContext,
    Path((namespace, kind, name, action)): Path<(String, String, String, String)>,
    body: String,
) -> Response {
    if body.len() > MAX_FORM_BYTES {
        return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
    }
    let entity = match load(&state, &ctx, &namespace, &kind, &name).await {
        Ok(entity) => entity,
        Err(response) => return response,
    };
    let form = parse_query(&body);
    match action.as_str() {
        "refresh" => match state.catalog.refresh_entity(&ref_of(&entity)).await {
            Ok(()) => Redirect::to(&format!("{}?notice=refreshed", entity_value_path(&entity)))
                .into_response(),
            Err(error) => failure(&ctx, &error),
        },
        "unregister" => {
            let choice = form
                .get("action")
                .and_then(|v| v.first())
                .map(String::as_str)
                .unwrap_or_default();
            unregister::perform(state.catalog.as_ref(), &ctx, &entity, choice).await
        }
        _ => shell::not_found(&ctx, "This entity page has no such action."),
    }
}

/// A link to the entity page of `entity_ref` (a full ref), labelled with the
/// entity's title when known.
pub(crate) fn link_with_title(entity_ref: &str, title: Option<&str>) -> Markup {
    let (kind, namespace, name) = greenroom_web::components::split_ref(entity_ref, "component");
    match title {
        Some(title) => html! { a href=(entity_path(kind, namespace, name)) { (title) } },
        None => entity_ref_link(entity_ref, kind),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn processing_errors_come_from_error_items_of_either_type() {
        let entity = json!({"status": {"items": [
            {"type": "backstage.io/catalog-processing", "level": "error", "message": "InputError: bad",
             "error": {"name": "InputError", "message": "bad <tag>"}},
            {"type": "backstage.catalog/errors", "level": "error", "message": "only a message"},
            {"type": "backstage.io/catalog-processing", "level": "warning", "message": "ignored"},
            {"type": "other/type", "level": "error", "message": "ignored too"},
        ]}});
        assert_eq!(
            processing_errors(&entity),
            [
                ("InputError".to_owned(), "bad <tag>".to_owned()),
                ("Error".to_owned(), "only a message".to_owned()),
            ]
        );
        let banner = error_banner(&entity).into_string();
        assert!(banner.contains("bad &lt;tag&gt;"), "{banner}");
        assert!(error_banner(&json!({})).into_string().is_empty());
    }

    #[test]
    fn refs_and_titles_read_like_backstage() {
        let entity = json!({"kind": "Component", "metadata": {"name": "Web", "namespace": "Prod", "title": " "}});
        assert_eq!(ref_of(&entity), "component:prod/Web");
        assert_eq!(
            title_of(&entity),
            "Web",
            "a blank title falls back to the name"
        );
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
