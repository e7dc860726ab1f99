//! The `app` backend plugin: it owns the web extension point, and once its
//! modules have registered their pages it mounts them all, with the home page,
//! the settings page and the static assets, at the root of the site (the root
//! router's index path `/api/app` receives every path outside `/api`).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Router;
use axum::extract::Extension;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use greenroom_backend_plugin_api::services::HTTP_ROUTER;
use greenroom_backend_plugin_api::{BackendError, BackendPlugin};
use maud::html;

use crate::components::{card, empty_state};
use crate::context::{PageContext, THEME_COOKIE, Theme, parse_query};
use crate::registry::{NavGroup, NavItem, WEB_EXTENSION_POINT, WebExtension};
use crate::shell::{self, Page};

/// The plugin id; Backstage's app backend uses the same one.
pub const PLUGIN_ID: &str = "app";

/// The largest settings form body accepted.
const MAX_FORM_BYTES: usize = 4 * 1024;

/// The web UI's host plugin. Frontend plugins are modules of it.
pub fn plugin() -> BackendPlugin {
    BackendPlugin::new(PLUGIN_ID, |registrar| {
        let extension = Arc::new(WebExtension::default());
        registrar.register_extension_point(WEB_EXTENSION_POINT, Arc::clone(&extension));
        registrar.register_init(move |env| async move {
            let router = build_router(&extension)?;
            env.get(&HTTP_ROUTER).await?.use_router(router);
            Ok(())
        });
    })
}

/// Everything registered so far, as one router: the app's own pages, the
/// modules' pages, the assets, and a not-found page for the rest.
pub fn build_router(extension: &WebExtension) -> Result<Router, BackendError> {
    extension.add_nav_item(NavItem {
        title: "Home".to_owned(),
        path: "/".to_owned(),
        icon: "home",
        group: NavGroup::Main,
        order: 0,
    });
    extension.add_nav_item(NavItem {
        title: "Settings".to_owned(),
        path: "/settings".to_owned(),
        icon: "settings",
        group: NavGroup::Bottom,
        order: 0,
    });
    let (routers, registry) = extension.freeze();
    let mut router = Router::new()
        .route("/", get(home))
        .route("/settings", get(settings))
        .route("/settings/theme", post(set_theme))
        .merge(crate::assets::router());
    for module_router in routers {
        // axum refuses overlapping routes by panicking; two modules claiming
        // one path is a configuration mistake, reported as a start-up error.
        let base = router.clone();
        router = std::panic::catch_unwind(AssertUnwindSafe(move || base.merge(module_router)))
            .map_err(|_| {
                BackendError::conflict(
                    "two web modules register the same page path; each path may have one handler",
                )
            })?;
    }
    // The plugin router replaces fallbacks with its own pass-on handler, so
    // the not-found page is a catch-all route; more specific routes win over it.
    Ok(
        router
            .route(
                "/{*rest}",
                get(|ctx: PageContext| async move {
                    shell::not_found(&ctx, "This page does not exist.")
                }),
            )
            .layer(Extension(Arc::new(registry))),
    )
}

async fn home(ctx: PageContext) -> Response {
    let mut cards = Vec::new();
    for home_card in &ctx.registry.home {
        cards.push(match home_card.render(&ctx).await {
            Ok(markup) => markup,
            Err(message) => {
                crate::components::error_state("This card could not be shown", &message)
            }
        });
    }
    let body = html! {
        form class="home-search" role="search" action=(shell::SEARCH_PATH) method="get" {
            label for="home-search" { "Search the catalog" }
            div class="global-search" {
                input id="home-search" type="search" name="q" autocomplete="off";
                button type="submit" class="button" { "Search" }
            }
        }
        @if cards.is_empty() {
            (empty_state("Nothing here yet.", html! { "Install a frontend plugin to fill the home page." }))
        } @else {
            div class="grid" { @for card in cards { (card) } }
        }
    };
    shell::respond(&ctx, Page::new("Home", body))
}

async fn settings(ctx: PageContext) -> Response {
    let current = ctx.theme;
    let body = html! {
        (card("Appearance", html! {
            form method="post" action="/settings/theme" {
                fieldset {
                    legend { "Theme" }
                    @for (theme, label) in [(Theme::Auto, "Follow the system"), (Theme::Light, "Light"), (Theme::Dark, "Dark")] {
                        @let id = format!("theme-{}", theme.as_str());
                        div {
                            @if theme == current {
                                input type="radio" id=(id) name="theme" value=(theme.as_str()) checked;
                            } @else {
                                input type="radio" id=(id) name="theme" value=(theme.as_str());
                            }
                            label for=(id) { (label) }
                        }
                    }
                }
                input type="hidden" name="return" value="/settings";
                button type="submit" { "Save theme" }
            }
        }))
    };
    shell::respond(&ctx, Page::new("Settings", body))
}

/// `POST /settings/theme`: stores the theme in a cookie and goes back.
async fn set_theme(body: String) -> Response {
    if body.len() > MAX_FORM_BYTES {
        return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
    }
    let form = parse_query(&body);
    let Some(theme) = form
        .get("theme")
        .and_then(|v| v.first())
        .and_then(|v| Theme::parse(v))
    else {
        return (
            StatusCode::BAD_REQUEST,
            "theme must be one of auto, light, dark",
        )
            .into_response();
    };
    let target = form
        .get("return")
        .and_then(|v| v.first())
        .filter(|r| is_local_path(r))
        .map_or("/settings", String::as_str);
    let mut response = Redirect::to(target).into_response();
    let cookie = format!(
        "{THEME_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        theme.as_str()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Only same-site paths may be redirected to (`/x`, never `//host` or `/\host`).
fn is_local_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\")
}
