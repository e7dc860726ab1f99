//! The inspect tab: the raw entity as the catalog serves it, as YAML and as
//! JSON, and its ancestry (the locations and entities that emitted it).

use greenroom_catalog_client::CatalogApi;
use greenroom_web::components::{card, error_state};
use maud::{Markup, html};
use serde_json::Value;

use super::{link_with_title, ref_of};

/// The most text shown per format; an entity with a huge embedded definition
/// is cut, with a note saying so.
const MAX_SOURCE_BYTES: usize = 512 * 1024;
/// The most ancestors listed.
const MAX_ANCESTORS: usize = 50;

/// `text` cut at a character boundary at most `MAX_SOURCE_BYTES` long, and
/// whether it was cut.
fn bounded(text: &str) -> (&str, bool) {
    if text.len() <= MAX_SOURCE_BYTES {
        return (text, false);
    }
    let mut end = MAX_SOURCE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// A source block with a heading.
fn source(title: &str, id: &str, text: Result<String, String>) -> Markup {
    match text {
        Ok(text) => {
            let (shown, cut) = bounded(&text);
            card(
                title,
                html! {
                    pre class="code" id=(id) tabindex="0" aria-label=(title) { code { (shown) } }
                    @if cut { p class="muted" { "The text is cut after " (MAX_SOURCE_BYTES / 1024) " KiB." } }
                },
            )
        }
        Err(message) => card(
            title,
            error_state("The entity could not be written out", &message),
        ),
    }
}

/// The inspect tab's content.
pub(super) async fn render(catalog: &dyn CatalogApi, entity: &Value) -> Markup {
    let yaml = serde_saphyr::to_string(entity).map_err(|e| e.to_string());
    let json = serde_json::to_string_pretty(entity).map_err(|e| e.to_string());
    let ancestry = match catalog.get_entity_ancestors(&ref_of(entity)).await {
        Ok(answer) => html! {
            @if answer.items.is_empty() {
                p class="muted" { "No ancestry is recorded for this entity." }
            } @else {
                ol class="ancestry" {
                    @for item in answer.items.iter().take(MAX_ANCESTORS) {
                        @let item_ref = ref_of(&item.entity);
                        li {
                            (link_with_title(&item_ref, None))
                            @if !item.parent_entity_refs.is_empty() {
                                " " span class="muted" { "emitted by " }
                                @for (i, parent) in item.parent_entity_refs.iter().take(MAX_ANCESTORS).enumerate() {
                                    @if i > 0 { ", " }
                                    (link_with_title(parent, None))
                                }
                            }
                        }
                    }
                }
                @if answer.items.len() > MAX_ANCESTORS {
                    p class="muted" { "and " (answer.items.len() - MAX_ANCESTORS) " more" }
                }
            }
        },
        Err(error) => error_state("The ancestry could not be read", &error.to_string()),
    };
    html! {
        div class="grid" {
            div class="wide" { (card("Ancestry", ancestry)) }
            div class="wide" { (source("YAML", "entity-yaml", yaml)) }
            div class="wide" { (source("JSON", "entity-json", json)) }
        }
    }
}
