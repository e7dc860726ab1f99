//! The import flow's markup: the URL form (with its error states), the
//! preview with the register form, and the result page.

use axum::http::StatusCode;
use axum::response::Response;
use greenroom_web::components::{Column, Table, badge, badge_tone, card, empty_state, entity_path};
use greenroom_web::{Page, PageContext, shell};
use maud::{Markup, html};
use serde_json::Value;

use super::flow::{Added, Failure, MAX_URL_CHARS, Method, Preview, Registered};
use super::{ANALYZE_PATH, IMPORT_PATH, REGISTER_PATH};

/// The three steps of the flow, as Backstage's import stepper names them.
const STEPS: [&str; 3] = ["Select URL", "Review", "Finish"];

fn steps(current: usize) -> Markup {
    html! {
        ol class="import-steps" aria-label="Import steps" {
            @for (index, label) in STEPS.iter().enumerate() {
                @if index == current {
                    li aria-current="step" { strong { (label) } }
                } @else {
                    li class="muted" { (label) }
                }
            }
        }
    }
}

/// The most messages an error state lists.
const MAX_MESSAGES: usize = 50;
/// The longest message shown, in characters.
const MAX_MESSAGE_CHARS: usize = 2000;

/// `message` cut to [`MAX_MESSAGE_CHARS`] characters.
fn bounded(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message.to_owned(),
    }
}

/// The error state for `failure`, with a title per kind of problem.
fn failure_state(failure: &Failure) -> Markup {
    let (title, message) = match failure {
        Failure::BadUrl(message) => ("The URL is not valid", message.clone()),
        Failure::NotAllowed(message) => (
            "Reading from this host is not allowed",
            format!(
                "{message}\n\nAsk an administrator to add the host to backend.reading.allow in the configuration."
            ),
        ),
        Failure::Conflict(message) => (
            "This location is already registered",
            format!("{message}\nIts entities are in the catalog already; refresh them from their pages."),
        ),
        Failure::Invalid(messages) => {
            let mut shown: Vec<String> = messages.iter().take(MAX_MESSAGES).map(|m| bounded(m)).collect();
            if messages.len() > MAX_MESSAGES {
                shown.push(format!("…and {} more", messages.len() - MAX_MESSAGES));
            }
            ("The descriptor is not valid", shown.join("\n"))
        }
        Failure::Unreadable(message) => ("The location could not be read", message.clone()),
        Failure::NothingFound(_) => (
            "No catalog-info.yaml was found",
            "There is no catalog file at this URL or at the root of the repository. Add a catalog-info.yaml to the repository (see the suggestion below), then enter its URL.".to_owned(),
        ),
        Failure::Other(message) => ("The catalog could not analyze the URL", message.clone()),
    };
    html! {
        div id="import-error" {
            (greenroom_web::components::error_state(title, &bounded(&message)))
            @if let Failure::NothingFound(Some(entity)) = failure {
                (suggestion(entity))
            }
        }
    }
}

/// The analyzer's suggested entity, shown as YAML-like text to copy.
fn suggestion(entity: &Value) -> Markup {
    // Rendered as JSON (valid YAML) so that nothing needs a YAML writer here.
    let text = serde_json::to_string_pretty(entity).unwrap_or_default();
    html! {
        (card("Suggested catalog-info.yaml", html! {
            p { "A component like this one could describe the repository:" }
            pre class="code" { code { (text) } }
        }))
    }
}

/// The URL form, with an error state above it when `failure` is given.
pub(crate) fn form_page(
    ctx: &PageContext,
    status: StatusCode,
    url: &str,
    failure: Option<&Failure>,
) -> Response {
    let hint_id = "import-url-hint";
    let body = html! {
        (steps(0))
        @if let Some(failure) = failure { (failure_state(failure)) }
        (card("Catalog file or repository", html! {
            p {
                "Enter the URL of a " code { "catalog-info.yaml" } " file to register its entities, "
                "or the URL of a repository to look for one at its root. Nothing is added before you confirm."
            }
            form class="import-form" method="post" action=(ANALYZE_PATH) {
                div class="filter" {
                    label for="import-url" { "Repository or catalog-info.yaml URL" }
                    input id="import-url" type="url" name="url" value=(url) required
                        maxlength=(MAX_URL_CHARS) size="60" aria-describedby=(hint_id)
                        placeholder="https://github.com/org/repo/blob/main/catalog-info.yaml";
                    p id=(hint_id) class="muted" {
                        "The host must be readable by the catalog (an integration, or backend.reading.allow)."
                    }
                }
                button type="submit" class="button" { "Analyze" }
            }
        }))
        p { a href="/catalog" { "Back to the catalog" } }
    };
    shell::with_status(
        status,
        ctx,
        Page::new("Register an existing component", body),
    )
}

fn entity_table(
    ctx: &PageContext,
    caption: &str,
    entities: &[super::flow::PreviewEntity],
) -> Markup {
    let table = Table {
        caption: caption.to_owned(),
        columns: vec![
            Column::new("Kind"),
            Column::new("Namespace"),
            Column::new("Name"),
            Column::new("Title"),
        ],
        rows: entities
            .iter()
            .map(|e| {
                vec![
                    html! { (e.kind) },
                    html! { (e.namespace) },
                    html! { (e.name) },
                    html! { (e.title.as_deref().unwrap_or("")) },
                ]
            })
            .collect(),
    };
    table.render(ctx, None)
}

/// The preview: what would be added, and the form that adds it.
pub(crate) fn preview_page(ctx: &PageContext, preview: &Preview) -> Response {
    let total: usize = preview
        .files
        .iter()
        .map(|f| f.entities.len() + f.more)
        .sum();
    let intro = match preview.method {
        Method::Location => "The catalog read the file and would add these entities:",
        Method::Repository => {
            "The repository has catalog files; registering them would add these entities:"
        }
    };
    let body = html! {
        (steps(1))
        p { (intro) }
        @for file in &preview.files {
            (card(&format!("Location {}", file.target), html! {
                @if file.entities.is_empty() {
                    (empty_state("The location yields no entities.", html! {
                        "Registering it still makes the catalog watch it."
                    }))
                } @else {
                    (entity_table(ctx, &format!("Entities in {}", file.target), &file.entities))
                    @if file.more > 0 {
                        p class="muted" { "…and " (file.more) " more." }
                    }
                }
            }))
        }
        form class="import-form" method="post" action=(REGISTER_PATH) {
            input type="hidden" name="url" value=(preview.url);
            @for file in &preview.files {
                input type="hidden" name="target" value=(file.target);
                @for entity in &file.entities {
                    input type="hidden" name="entity" value=(entity.entity_ref());
                }
            }
            p {
                (total) " " (if total == 1 { "entity" } else { "entities" }) " in "
                (preview.files.len()) " " (if preview.files.len() == 1 { "location" } else { "locations" }) "."
            }
            button type="submit" class="button" { "Import" }
            " "
            a class="button secondary" href={ (IMPORT_PATH) "?url=" (encode(&preview.url)) } { "Start over" }
        }
    };
    shell::respond(ctx, Page::new("Review the import", body))
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The result page: the registered locations and links to their entities.
pub(crate) fn done_page(ctx: &PageContext, locations: &[Registered], added: &[Added]) -> Response {
    let pending = added.iter().any(|a| !a.ready);
    let body = html! {
        (steps(2))
        @if locations.is_empty() {
            (empty_state("Nothing was registered.", html! {
                a href=(IMPORT_PATH) { "Register an existing component" }
            }))
        } @else {
            p role="status" {
                "Registered " (locations.len()) " "
                (if locations.len() == 1 { "location" } else { "locations" }) "."
            }
            (card("Locations", html! {
                ul class="import-locations" {
                    @for location in locations {
                        li { code { (location.target.as_deref().unwrap_or(&location.id)) } }
                    }
                }
            }))
            (card("Entities", html! {
                @if added.is_empty() {
                    p { "The location listed no entities yet." }
                } @else {
                    ul class="import-entities" {
                        @for entity in added {
                            li {
                                a href=(entity_path(&entity.kind, &entity.namespace, &entity.name)) {
                                    (entity.entity_ref)
                                }
                                " "
                                @if entity.ready { (badge_tone("in the catalog", "ok")) }
                                @else { (badge("being processed")) }
                            }
                        }
                    }
                    @if pending {
                        p class="muted" {
                            "Processing runs in the background; entities marked as being processed appear within a few moments."
                        }
                    }
                }
            }))
        }
        p {
            a class="button" href="/catalog" { "View the catalog" }
            " "
            a class="button secondary" href=(IMPORT_PATH) { "Register another" }
        }
    };
    shell::respond(ctx, Page::new("Import finished", body))
}
