//! (being written)

use std::sync::Arc;

use greenroom_catalog_client::CatalogApi;
use greenroom_web::WebExtension;

pub(crate) fn register(_web: &WebExtension, _catalog: Arc<dyn CatalogApi>) {}
