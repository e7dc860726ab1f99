//! The home page's catalog cards: how many entities of each kind the catalog
//! holds, each linking to its `/catalog` table.

use std::sync::Arc;

use async_trait::async_trait;
use greenroom_catalog_client::CatalogApi;
use greenroom_web::components::{card, empty_state};
use greenroom_web::{HomeCard, PageContext, WebExtension};
use maud::{Markup, html};

pub(crate) fn register(web: &WebExtension, catalog: Arc<dyn CatalogApi>) {
    web.add_home_card(Arc::new(KindCounts { catalog }));
}

/// Counts per kind, from the `kind` facet.
struct KindCounts {
    catalog: Arc<dyn CatalogApi>,
}

#[async_trait]
impl HomeCard for KindCounts {
    fn id(&self) -> &str {
        "catalog-kinds"
    }

    fn order(&self) -> i32 {
        10
    }

    async fn render(&self, _page: &PageContext) -> Result<Markup, String> {
        let mut kinds = super::kind_counts(self.catalog.as_ref())
            .await
            .map_err(|e| e.message)?;
        kinds.sort_by_key(|a| a.value.to_lowercase());
        let body = if kinds.is_empty() {
            empty_state(
                "The catalog is empty",
                html! { a href="/catalog-import" { "Register an existing component" } },
            )
        } else {
            html! {
                ul class="kind-counts" {
                    @for kind in &kinds {
                        li {
                            a href={ "/catalog?kind=" (kind.value.to_ascii_lowercase()) } {
                                (kind.value)
                            }
                            " "
                            span class="badge" { (kind.count) }
                        }
                    }
                }
            }
        };
        Ok(card("Catalog", body))
    }
}
