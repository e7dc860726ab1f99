//! The change feed in-memory indexes follow: a snapshot of every final entity
//! with the change-log position it is valid from, and the changes after a position.

use std::collections::HashMap;

use greenroom_backend_plugin_api::BackendError;

use crate::db::on_pool;
use crate::engine::CatalogEngine;

/// Most changes one `changes_since` call returns, whatever the caller asks for.
const MAX_PAGE: usize = 10_000;

/// One change of a final entity, carrying the entity's *current* state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeFeedItem {
    /// The change-log position; the next call continues after the largest one seen.
    pub seq: i64,
    /// The canonical ref of the entity that changed.
    pub entity_ref: String,
    /// The final entity's JSON text as it is now; `None` when it no longer exists.
    pub final_entity: Option<String>,
}

impl CatalogEngine {
    /// Every final entity (JSON text) and the change-log position the set is
    /// at least as new as. The position is read first, so replaying the
    /// changes after it over the snapshot can only bring it forward.
    pub async fn final_entities_snapshot(&self) -> Result<(i64, Vec<String>), BackendError> {
        let seq: (Option<i64>,) = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT MAX(seq) FROM change_log"
        )
        .fetch_one(pool)
        .await)?;
        let rows: Vec<(String,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT final_entity FROM final_entities"
        )
        .fetch_all(pool)
        .await)?;
        Ok((seq.0.unwrap_or(0), rows.into_iter().map(|(e,)| e).collect()))
    }

    /// The changes after `seq`, oldest first, at most `limit` (capped at
    /// 10 000). Several changes of one ref in a page collapse into its latest,
    /// since each carries the same current state; the largest `seq` of the page
    /// is always kept, so a follower continues from it.
    pub async fn changes_since(
        &self,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<ChangeFeedItem>, BackendError> {
        Ok(self.change_page(seq, limit).await?.0)
    }

    /// [`CatalogEngine::changes_since`], and whether the log held `limit` rows
    /// after `seq` (more may follow): collapsed changes make the page shorter
    /// than the rows it read, so its length alone does not tell.
    pub async fn change_page(
        &self,
        seq: i64,
        limit: usize,
    ) -> Result<(Vec<ChangeFeedItem>, bool), BackendError> {
        let limit = i64::try_from(limit.clamp(1, MAX_PAGE)).unwrap_or(1);
        // One statement, so the change log and the final entities are read
        // from the same snapshot.
        let rows: Vec<(i64, String, Option<String>)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT c.seq, c.entity_ref, f.final_entity FROM \
             (SELECT seq, entity_ref FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2) c \
             LEFT JOIN final_entities f ON f.entity_ref = c.entity_ref ORDER BY c.seq"
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= limit;
        let mut last_of: HashMap<&str, i64> = HashMap::with_capacity(rows.len());
        for (seq, entity_ref, _) in &rows {
            last_of.insert(entity_ref.as_str(), *seq);
        }
        let keep: Vec<bool> = rows
            .iter()
            .map(|(seq, entity_ref, _)| last_of.get(entity_ref.as_str()) == Some(seq))
            .collect();
        let items = rows
            .into_iter()
            .zip(keep)
            .filter(|(_, keep)| *keep)
            .map(|((seq, entity_ref, final_entity), _)| ChangeFeedItem {
                seq,
                entity_ref,
                final_entity,
            })
            .collect();
        Ok((items, full))
    }
}
