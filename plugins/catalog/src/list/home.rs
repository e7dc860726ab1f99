//! The home page's catalog cards: how many entities of each kind the catalog
//! holds, each linking to its `/catalog` table, and the entities that changed
//! most recently (from the catalog's change log).

use std::sync::Arc;

use async_trait::async_trait;
use greenroom_catalog_client::{CatalogApi, GetEntitiesByRefsRequest};
use greenroom_web::components::{badge, card, empty_state, entity_value_path};
use greenroom_web::{HomeCard, PageContext, WebExtension};
use maud::{Markup, html};

pub(crate) fn register(web: &WebExtension, catalog: Arc<dyn CatalogApi>) {
    web.add_home_card(Arc::new(KindCounts {
        catalog: Arc::clone(&catalog),
    }));
    web.add_home_card(Arc::new(RecentlyChanged { catalog }));
}

/// Entities the "recently changed" card lists.
const RECENT_ENTITIES: u64 = 10;

/// "5 minutes ago" for a time `ms` milliseconds after the epoch.
fn ago(ms: i64, now_ms: i64) -> String {
    let seconds = (now_ms - ms).max(0) / 1000;
    let (n, unit) = match seconds {
        0..60 => return "just now".to_owned(),
        60..3600 => (seconds / 60, "minute"),
        3600..86_400 => (seconds / 3600, "hour"),
        _ => (seconds / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// The entities changed most recently, newest first.
struct RecentlyChanged {
    catalog: Arc<dyn CatalogApi>,
}

#[async_trait]
impl HomeCard for RecentlyChanged {
    fn id(&self) -> &str {
        "catalog-recent"
    }

    fn order(&self) -> i32 {
        20
    }

    async fn render(&self, _page: &PageContext) -> Result<Markup, String> {
        let changes = self
            .catalog
            .get_recent_changes(RECENT_ENTITIES)
            .await
            .map_err(|e| e.message)?;
        let entities = self
            .catalog
            .get_entities_by_refs(GetEntitiesByRefsRequest {
                entity_refs: changes.iter().map(|c| c.entity_ref.clone()).collect(),
                fields: Some(
                    [
                        "kind",
                        "metadata.name",
                        "metadata.namespace",
                        "metadata.title",
                        "spec.profile.displayName",
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                ),
                filter: None,
            })
            .await
            .map_err(|e| e.message)?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        // An entity deleted since the log was read has no slot content.
        let rows: Vec<_> = changes
            .iter()
            .zip(&entities.items)
            .filter_map(|(change, entity)| entity.as_ref().map(|e| (change, e)))
            .collect();
        let body = if rows.is_empty() {
            empty_state("Nothing has changed yet", html! {})
        } else {
            html! {
                ul class="recent-changes" {
                    @for (change, entity) in rows {
                        @let kind = entity.get("kind").and_then(serde_json::Value::as_str).unwrap_or_default();
                        li {
                            (badge(kind)) " "
                            a href=(entity_value_path(entity)) { (super::columns::display_name(entity, kind)) }
                            " "
                            span class="muted" { (ago(change.changed_at_ms, now_ms)) }
                        }
                    }
                }
            }
        };
        Ok(card("Recently changed", body))
    }
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
