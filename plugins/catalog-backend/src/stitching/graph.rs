//! Walks up the processing graph (which entity emitted which): the ancestry
//! of an entity (spec §7.8) and `POST /refresh` (spec §7.10).

use std::collections::HashSet;

use greenroom_backend_plugin_api::BackendError;
use serde::Serialize;
use serde_json::Value;

use crate::db::{now_ms, on_pool};
use crate::engine::CatalogEngine;

/// Most ancestors one ancestry answer lists; a real catalog has a handful.
const MAX_ANCESTRY_ITEMS: usize = 1000;
/// How far `refresh` walks up looking for a Location ancestor.
const MAX_REFRESH_DEPTH: usize = 32;

/// One entity of an ancestry answer and the refs of its parents.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AncestryItem {
    /// The final entity.
    pub entity: Value,
    /// Canonical refs of its parents that exist as final entities; `[]` for provider roots.
    pub parent_entity_refs: Vec<String>,
}

/// The answer of `GET /entities/by-name/{kind}/{namespace}/{name}/ancestry`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AncestryResponse {
    /// The canonical ref of the requested entity.
    pub root_entity_ref: String,
    /// The requested entity first, then every ancestor once.
    pub items: Vec<AncestryItem>,
}

fn parse_entity(entity_ref: &str, text: &str) -> Result<Value, BackendError> {
    serde_json::from_str(text).map_err(|e| {
        BackendError::internal(format!(
            "stored final entity of {entity_ref} is not JSON: {e}"
        ))
    })
}

impl CatalogEngine {
    /// The processing ancestry of `entity_ref` (any case; canonicalised here).
    /// Fails with `NotFoundError` `No such entity <ref>` when it is not a final entity.
    pub async fn ancestry(&self, entity_ref: &str) -> Result<AncestryResponse, BackendError> {
        let root_ref = entity_ref.to_lowercase();
        let root: Option<(String,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT final_entity FROM final_entities WHERE entity_ref = $1"
        )
        .bind(&root_ref)
        .fetch_optional(pool)
        .await)?;
        let Some((root_json,)) = root else {
            return Err(BackendError::not_found(format!(
                "No such entity {root_ref}"
            )));
        };

        let mut seen: HashSet<String> = HashSet::from([root_ref.clone()]);
        let mut todo: Vec<(String, Value)> = Vec::new();
        let mut items = Vec::new();
        let mut current = Some((root_ref.clone(), parse_entity(&root_ref, &root_json)?));
        while let Some((current_ref, entity)) = current {
            let mut parents: Vec<(String, String)> = on_pool!(&self.db, |pool| {
                sqlx::query_as(
                "SELECT DISTINCT e.source_entity_ref, f.final_entity FROM refresh_state_references e \
                 JOIN final_entities f ON f.entity_ref = e.source_entity_ref \
                 WHERE e.target_entity_ref = $1"
            )
            .bind(&current_ref)
            .fetch_all(pool)
            .await
            })?;
            parents.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let mut parent_entity_refs = Vec::with_capacity(parents.len());
            for (parent_ref, parent_json) in parents {
                if seen.insert(parent_ref.clone()) && seen.len() <= MAX_ANCESTRY_ITEMS {
                    todo.push((parent_ref.clone(), parse_entity(&parent_ref, &parent_json)?));
                }
                parent_entity_refs.push(parent_ref);
            }
            items.push(AncestryItem {
                entity,
                parent_entity_refs,
            });
            current = todo.pop();
        }
        Ok(AncestryResponse {
            root_entity_ref: root_ref,
            items,
        })
    }

    /// `POST /refresh`: schedules `entity_ref` (any case) and its nearest
    /// `location:` ancestor for processing now. Fails with `NotFoundError`
    /// `Entity <ref> not found` when no processing edge points at it (unknown
    /// or orphaned), or `Entity <ref> has a broken parent reference chain at
    /// <ref>` when an ancestor has no edge.
    pub async fn refresh_entity(&self, entity_ref: &str) -> Result<(), BackendError> {
        let start = entity_ref.to_lowercase();
        let mut ancestors: Vec<String> = Vec::new();
        let mut current = start.clone();
        let mut reached_root = false;
        for depth in 1..=MAX_REFRESH_DEPTH {
            let edges: Vec<(Option<String>,)> = on_pool!(&self.db, |pool| {
                sqlx::query_as(
                "SELECT source_entity_ref FROM refresh_state_references WHERE target_entity_ref = $1"
            )
            .bind(&current)
            .fetch_all(pool)
            .await
            })?;
            if edges.is_empty() {
                return Err(BackendError::not_found(if depth == 1 {
                    format!("Entity {current} not found")
                } else {
                    format!("Entity {start} has a broken parent reference chain at {current}")
                }));
            }
            let Some(parent) = edges.into_iter().find_map(|(source,)| source) else {
                reached_root = true;
                break;
            };
            ancestors.push(parent.clone());
            current = parent;
        }
        if !reached_root {
            return Err(BackendError::internal(format!(
                "Unable to receive ancestors for {start}, reached maximum depth of {MAX_REFRESH_DEPTH}"
            )));
        }
        let mut targets = vec![start];
        if let Some(location) = ancestors.into_iter().find(|r| r.starts_with("location:")) {
            targets.push(location);
        }
        let now = now_ms();
        for target in targets {
            on_pool!(&self.db, |pool| sqlx::query(
                "UPDATE refresh_state SET next_update_at = $1 WHERE entity_ref = $2"
            )
            .bind(now)
            .bind(&target)
            .execute(pool)
            .await
            .map(drop))?;
        }
        self.wake.processing.notify_one();
        Ok(())
    }
}
