//! The app shell: the HTML document around every page (sidebar, header with the
//! global search box, theme), and the not-found and error pages.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::context::PageContext;
use crate::icons;
use crate::registry::NavGroup;

/// Where the header's search box sends its query (`?q=`).
pub const SEARCH_PATH: &str = "/search";
/// The stylesheet's path; its query string changes with its content so that
/// browsers may cache it for long.
pub const STYLESHEET_PATH: &str = "/static/greenroom.css";
/// The enhancement script's path.
pub const SCRIPT_PATH: &str = "/static/greenroom.js";

/// A page to wrap in the shell.
#[derive(Debug, Clone)]
pub struct Page {
    /// The document title (also the `h1` unless `header` is given).
    pub title: String,
    /// Replaces the default `h1` header when set (entity pages draw their own).
    pub header: Option<Markup>,
    pub body: Markup,
}

impl Page {
    pub fn new(title: impl Into<String>, body: Markup) -> Page {
        Page {
            title: title.into(),
            header: None,
            body,
        }
    }

    pub fn with_header(mut self, header: Markup) -> Page {
        self.header = Some(header);
        self
    }
}

/// Whether the sidebar item at `item_path` is the current section.
fn is_current(item_path: &str, path: &str) -> bool {
    if item_path == "/" {
        return path == "/";
    }
    path == item_path
        || path
            .strip_prefix(item_path)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The whole HTML document for `page`.
pub fn render(ctx: &PageContext, page: Page) -> Markup {
    let search_value = if ctx.path == SEARCH_PATH {
        ctx.param("q").unwrap_or_default()
    } else {
        ""
    };
    html! {
        (DOCTYPE)
        html lang="en" data-theme=(ctx.theme.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (page.title) " | Greenroom" }
                link rel="stylesheet" href={ (STYLESHEET_PATH) "?v=" (crate::assets::STYLE_VERSION) };
                script defer src={ (SCRIPT_PATH) "?v=" (crate::assets::SCRIPT_VERSION) } {}
            }
            body {
                a class="skip-link" href="#main" { "Skip to content" }
                nav class="sidebar" aria-label="Main" {
                    a class="brand" href="/" { (icons::icon("logo")) span { "Greenroom" } }
                    @for group in [NavGroup::Main, NavGroup::Bottom] {
                        ul class={ "nav nav-" (if group == NavGroup::Main { "main" } else { "bottom" }) } {
                            @for item in ctx.registry.nav.iter().filter(|i| i.group == group) {
                                li {
                                    @if is_current(&item.path, &ctx.path) {
                                        a href=(item.path) aria-current="page" { (icons::icon(item.icon)) span { (item.title) } }
                                    } @else {
                                        a href=(item.path) { (icons::icon(item.icon)) span { (item.title) } }
                                    }
                                }
                            }
                        }
                    }
                }
                div class="page" {
                    header class="topbar" {
                        form class="global-search" role="search" action=(SEARCH_PATH) method="get" {
                            label for="global-search" class="visually-hidden" { "Search the catalog" }
                            input id="global-search" type="search" name="q" value=(search_value)
                                placeholder="Search the catalog" autocomplete="off";
                            button type="submit" class="button" { "Search" }
                        }
                    }
                    main id="main" tabindex="-1" {
                        @match page.header {
                            Some(header) => (header),
                            None => header class="page-header" { h1 { (page.title) } },
                        }
                        (page.body)
                    }
                }
            }
        }
    }
}

/// A page as a `200 OK` HTML response.
pub fn respond(ctx: &PageContext, page: Page) -> Response {
    with_status(StatusCode::OK, ctx, page)
}

/// A page as an HTML response with `status`.
pub fn with_status(status: StatusCode, ctx: &PageContext, page: Page) -> Response {
    let mut response = render(ctx, page).into_response();
    *response.status_mut() = status;
    response
}

/// The 404 page.
pub fn not_found(ctx: &PageContext, what: &str) -> Response {
    with_status(
        StatusCode::NOT_FOUND,
        ctx,
        Page::new(
            "Not found",
            html! {
                (crate::components::empty_state(what, html! {
                    a href="/" { "Go to the home page" }
                }))
            },
        ),
    )
}

/// An error page: the message is shown as text (escaped), with `status`.
pub fn error_page(ctx: &PageContext, status: StatusCode, message: &str) -> Response {
    with_status(
        status,
        ctx,
        Page::new(
            "Something went wrong",
            crate::components::error_state("The page could not be shown", message),
        ),
    )
}
