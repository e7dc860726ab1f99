//! The catalog's pages: a `BackendModule` of the web UI's `app` plugin that
//! registers the home cards, `/catalog`, the entity pages and their tabs and
//! cards, `/api-docs` and `/catalog-import`. It reads and writes the catalog
//! only through the `CatalogApi` service, never its database.

mod apidocs;
mod entity;
mod import;
mod list;

use std::sync::Arc;

use greenroom_backend_plugin_api::BackendModule;
use greenroom_catalog_client::CatalogApi;
use greenroom_plugin_catalog_node::CATALOG_SERVICE;
use greenroom_web::{WEB_EXTENSION_POINT, WebExtension};

/// The module id under the `app` plugin.
pub const MODULE_ID: &str = "catalog";

/// The catalog's pages, over the in-process `CatalogApi` service.
pub fn module() -> BackendModule {
    BackendModule::new(greenroom_web::plugin::PLUGIN_ID, MODULE_ID, |registrar| {
        registrar.register_init(|env| async move {
            let web = env.extension_point(&WEB_EXTENSION_POINT)?;
            let catalog = env.get(&CATALOG_SERVICE).await?;
            register(&web, catalog);
            Ok(())
        });
    })
}

/// The catalog's pages over any `CatalogApi` (e.g. an HTTP client to a
/// catalog elsewhere).
pub fn module_with(catalog: Arc<dyn CatalogApi>) -> BackendModule {
    BackendModule::new(
        greenroom_web::plugin::PLUGIN_ID,
        MODULE_ID,
        move |registrar| {
            registrar.register_init(move |env| async move {
                let web = env.extension_point(&WEB_EXTENSION_POINT)?;
                register(&web, catalog);
                Ok(())
            });
        },
    )
}

/// Registers every page, sidebar item, home card and entity-page part.
fn register(web: &WebExtension, catalog: Arc<dyn CatalogApi>) {
    list::register(web, Arc::clone(&catalog));
    entity::register(web, Arc::clone(&catalog));
    apidocs::register(web, Arc::clone(&catalog));
    import::register(web, catalog);
}
