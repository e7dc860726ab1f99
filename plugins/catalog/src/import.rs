//! Registration of existing components (`/catalog-import`, after Backstage's
//! catalog-import plugin) and the `/create` page listing Template entities.
//!
//! The import is three plain HTML steps that work without script: a form for a
//! URL, a preview of what the catalog would add (analyze, or a dry run of the
//! location), and a second form that registers the location and redirects to a
//! result page (POST-redirect-GET) linking to the new entities.

mod create;
mod flow;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use greenroom_catalog_client::CatalogApi;
use greenroom_web::{NavGroup, NavItem, WebExtension};

/// The import page's path, as in Backstage.
pub(crate) const IMPORT_PATH: &str = "/catalog-import";
/// Where the URL form posts to (analyze and preview).
pub(crate) const ANALYZE_PATH: &str = "/catalog-import/analyze";
/// Where the preview's form posts to (register the location).
pub(crate) const REGISTER_PATH: &str = "/catalog-import/register";
/// The result page after a registration.
pub(crate) const DONE_PATH: &str = "/catalog-import/done";
/// The templates page.
pub(crate) const CREATE_PATH: &str = "/create";

pub(crate) fn register(web: &WebExtension, catalog: Arc<dyn CatalogApi>) {
    web.add_routes(
        Router::new()
            .route(IMPORT_PATH, get(flow::form_page))
            .route(ANALYZE_PATH, get(flow::form_page).post(flow::analyze))
            .route(REGISTER_PATH, get(flow::form_page).post(flow::register))
            .route(DONE_PATH, get(flow::done))
            .route(CREATE_PATH, get(create::page))
            .with_state(catalog),
    );
    // The import page is reached from /create and from the catalog, as in
    // Backstage, so only "Create" gets a sidebar item.
    web.add_nav_item(NavItem {
        title: "Create".to_owned(),
        path: CREATE_PATH.to_owned(),
        icon: "create",
        group: NavGroup::Main,
        order: 40,
    });
}
