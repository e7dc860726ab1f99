//! Unregistering an entity, as Backstage's unregister dialog decides it: an
//! entity that came from a registered location is removed by unregistering
//! that location (with every entity it brought in); one that did not, or
//! whose origin is the protected bootstrap location, can only be deleted by
//! uid. The GET page is the confirmation (it works without script); its forms
//! also carry `data-confirm` for the script.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use greenroom_backend_plugin_api::BackendError;
use greenroom_catalog_client::{
    CatalogApi, EntityFilterSet, FilterValue, GetEntitiesRequest, Location,
};
use greenroom_web::components::card;
use greenroom_web::{PageContext, shell};
use maud::{Markup, html};
use serde_json::Value;

use super::{annotation, entity_value_path, failure, link_with_title, ref_of, str_at, title_of};

/// The annotation naming the location that first brought the entity in.
const ORIGIN_LOCATION: &str = "backstage.io/managed-by-origin-location";
/// The origin of entities from the app's own configuration, which the UI
/// never unregisters.
const BOOTSTRAP_LOCATION: &str = "bootstrap:bootstrap";
/// The most entities listed as going with a location.
const MAX_COLOCATED: usize = 100;

/// What unregistering the entity does.
#[derive(Debug, Clone)]
pub(super) enum Plan {
    /// Unregister `location`; `colocated` are the entities that go with it
    /// (at most [`MAX_COLOCATED`]; `more` says whether there are others).
    Location {
        location: Location,
        colocated: Vec<Value>,
        more: bool,
    },
    /// The entity comes from the bootstrap location: it can only be deleted.
    Bootstrap,
    /// No registered location owns the entity: it can only be deleted.
    OnlyDelete,
}

/// Decides what unregistering `entity` does.
pub(super) async fn plan(catalog: &dyn CatalogApi, entity: &Value) -> Result<Plan, BackendError> {
    let Some(origin) = annotation(entity, ORIGIN_LOCATION) else {
        return Ok(Plan::OnlyDelete);
    };
    if origin == BOOTSTRAP_LOCATION {
        return Ok(Plan::Bootstrap);
    }
    let Some(location) = catalog.get_location_by_ref(origin).await? else {
        return Ok(Plan::OnlyDelete);
    };
    let mut set = EntityFilterSet::new();
    set.insert(
        format!("metadata.annotations.{ORIGIN_LOCATION}"),
        FilterValue::AnyOf(vec![origin.to_owned()]),
    );
    let mut colocated = catalog
        .get_entities(GetEntitiesRequest {
            filter: Some(vec![set]),
            fields: Some(
                [
                    "kind",
                    "metadata.name",
                    "metadata.namespace",
                    "metadata.title",
                ]
                .into_iter()
                .map(str::to_owned)
                .collect(),
            ),
            limit: Some(MAX_COLOCATED as u64 + 1),
            ..GetEntitiesRequest::default()
        })
        .await?
        .items;
    let more = colocated.len() > MAX_COLOCATED;
    colocated.truncate(MAX_COLOCATED);
    Ok(Plan::Location {
        location,
        colocated,
        more,
    })
}

/// The form that deletes only this entity.
fn delete_form(entity: &Value, primary: bool) -> Markup {
    let action = format!("{}/unregister", entity_value_path(entity));
    let question = format!("Delete the entity {}?", ref_of(entity));
    html! {
        form method="post" action=(action) data-confirm=(question) {
            input type="hidden" name="action" value="entity";
            button type="submit" class=(if primary { "danger" } else { "secondary" }) { "Delete entity" }
        }
    }
}

/// The confirmation page's content.
pub(super) fn confirm_page(entity: &Value, plan: &Plan) -> Markup {
    let back = entity_value_path(entity);
    let own_ref = ref_of(entity);
    let body = match plan {
        Plan::Location {
            location,
            colocated,
            more,
        } => {
            let location_ref = format!("{}:{}", location.location_type, location.target);
            let question = format!(
                "Unregister the location {location_ref} and remove its entities from the catalog?"
            );
            html! {
                p {
                    "This action unregisters the location "
                    code class="location-ref" { (location_ref) }
                    " and removes the following entities from the catalog:"
                }
                ul class="colocated" {
                    @for item in colocated {
                        @let item_ref = ref_of(item);
                        li { (link_with_title(&item_ref, None)) }
                    }
                }
                @if *more { p class="muted" { "and more" } }
                p { "To undo it, register the location again." }
                form method="post" action={ (back) "/unregister" } data-confirm=(question) {
                    input type="hidden" name="action" value="location";
                    button type="submit" class="danger" { "Unregister location" }
                }
                details class="advanced" {
                    summary { "Advanced options" }
                    p {
                        "You can instead delete only this entity. As long as the location stays "
                        "registered, the catalog will bring the entity back the next time it reads the location."
                    }
                    (delete_form(entity, false))
                }
            }
        }
        Plan::Bootstrap => html! {
            p {
                "This entity comes from the protected location "
                code { (BOOTSTRAP_LOCATION) } " of the app's configuration, which cannot be unregistered here."
            }
            p { "You can delete the entity itself; the catalog may bring it back when it reads the configuration again." }
            (delete_form(entity, true))
        },
        Plan::OnlyDelete => html! {
            p {
                "This entity was not brought in by a registered location, so only the entity itself "
                "is deleted. If something still emits it, it comes back the next time that is read."
            }
            (delete_form(entity, true))
        },
    };
    card(
        "Unregister entity",
        html! {
            p { "Entity: " strong { (title_of(entity)) } " " span class="muted" { "(" (own_ref) ")" } }
            (body)
            p { a href=(back) { "Cancel and go back to the entity" } }
        },
    )
}

/// `POST …/unregister`: unregisters the location or deletes the entity, then
/// goes to the catalog with a notice.
pub(super) async fn perform(
    catalog: &dyn CatalogApi,
    ctx: &PageContext,
    entity: &Value,
    choice: &str,
) -> Response {
    match choice {
        "location" => match plan(catalog, entity).await {
            Ok(Plan::Location { location, .. }) => {
                match catalog.remove_location_by_id(&location.id).await {
                    Ok(()) => Redirect::to("/catalog?notice=location-unregistered").into_response(),
                    Err(error) => failure(ctx, &error),
                }
            }
            Ok(_) => shell::error_page(
                ctx,
                StatusCode::CONFLICT,
                "This entity is not tied to a registered location; it can only be deleted.",
            ),
            Err(error) => failure(ctx, &error),
        },
        "entity" => {
            let Some(uid) = str_at(entity, &["metadata", "uid"]) else {
                return shell::error_page(
                    ctx,
                    StatusCode::CONFLICT,
                    "The entity has no uid, so it cannot be deleted.",
                );
            };
            match catalog.remove_entity_by_uid(uid).await {
                Ok(()) => Redirect::to("/catalog?notice=entity-deleted").into_response(),
                Err(error) => failure(ctx, &error),
            }
        }
        _ => shell::error_page(
            ctx,
            StatusCode::BAD_REQUEST,
            "Choose what to unregister: the form field action must be location or entity.",
        ),
    }
}
