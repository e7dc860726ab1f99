//! Keeps this instance's in-memory index in step with the stitched entities.
//!
//! At start the index is loaded from a snapshot of `final_entities` (taken after
//! reading the change log's newest sequence number, so nothing committed later is
//! missed); from then on a task follows the change log from that number. Every
//! instance does the same, so reads never touch the database and never drift.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use greenroom_backend_plugin_api::BackendError;
use greenroom_catalog_query::{CatalogIndex, IndexError, PreparedEntity};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::CatalogEngine;

/// The index shared by the REST routes and the follower.
pub type SharedIndex = Arc<RwLock<CatalogIndex>>;

/// How many change-log entries are read at once.
const PAGE: usize = 2_000;
/// How long the follower waits when it has caught up.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// Loads every final entity into a fresh index; returns it and the sequence
/// number to follow from.
pub async fn load_index(engine: &CatalogEngine) -> Result<(SharedIndex, i64), BackendError> {
    let (seq, entities) = engine.final_entities_snapshot().await?;
    let mut index = CatalogIndex::new();
    // One entity at a time, each text dropped once indexed: parsing them all first
    // would hold a tree of values for the whole catalog at once.
    for text in entities {
        let prepared = serde_json::from_str::<Value>(&text)
            .map_err(|e| e.to_string())
            .and_then(|entity| {
                PreparedEntity::with_text(&entity, text.into_boxed_str()).map_err(|e| e.to_string())
            });
        if let Err(e) = prepared.and_then(|p| index.insert_prepared(p).map_err(|e| e.to_string())) {
            engine
                .logger
                .warn(&format!("an entity could not be indexed: {e}"));
        }
    }
    Ok((Arc::new(RwLock::new(index)), seq))
}

/// The index and the change-log position it reflects.
///
/// Both the background follower and the API's write routes bring the index up
/// to date through [`IndexSync::catch_up`]; the position sits behind an async
/// lock so that the two never apply the same page twice or out of order. A write
/// route catches up before it answers, so a client that deletes a location and
/// then lists entities sees the deletion (read-your-writes on this instance).
#[derive(Debug)]
pub struct IndexSync {
    index: SharedIndex,
    seq: tokio::sync::Mutex<i64>,
}

impl IndexSync {
    pub fn new(index: SharedIndex, seq: i64) -> Self {
        Self {
            index,
            seq: tokio::sync::Mutex::new(seq),
        }
    }

    pub fn index(&self) -> &SharedIndex {
        &self.index
    }

    /// Applies every change-log entry after the last one applied.
    pub async fn catch_up(&self, engine: &CatalogEngine) -> Result<(), BackendError> {
        let mut seq = self.seq.lock().await;
        loop {
            let changes = engine.changes_since(*seq, PAGE).await?;
            let full_page = changes.len() >= PAGE;
            let Some(last) = changes.last() else {
                return Ok(());
            };
            let last_seq = last.seq;
            // Parse, flatten and serialise outside the lock so that readers wait only
            // for the swaps; each change's text is dropped as soon as it is prepared.
            let prepared: Vec<(String, Option<Result<PreparedEntity, IndexError>>)> = changes
                .into_iter()
                .map(|c| {
                    // The stored text is served as it is; only its parse is needed,
                    // for the search rows.
                    let entity = c.final_entity.and_then(|text| {
                        let parsed = serde_json::from_str::<Value>(&text).ok()?;
                        Some(PreparedEntity::with_text(&parsed, text.into_boxed_str()))
                    });
                    (c.entity_ref, entity)
                })
                .collect();
            {
                let mut index = self
                    .index
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (entity_ref, entity) in prepared {
                    let outcome = match entity {
                        Some(Ok(entity)) => index.insert_prepared(entity),
                        Some(Err(e)) => Err(e),
                        None => {
                            index.remove(&entity_ref);
                            Ok(())
                        }
                    };
                    if let Err(e) = outcome {
                        engine
                            .logger
                            .warn(&format!("{entity_ref} could not be indexed: {e}"));
                    }
                }
            }
            *seq = last_seq;
            if !full_page {
                return Ok(());
            }
        }
    }
}

/// Keeps `sync` caught up with the change log until `shutdown`.
pub fn follow(
    engine: Arc<CatalogEngine>,
    sync: Arc<IndexSync>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let result = tokio::select! {
                () = shutdown.cancelled() => return,
                result = sync.catch_up(&engine) => result,
            };
            let wait = match result {
                Ok(()) => IDLE_POLL,
                Err(e) => {
                    engine
                        .logger
                        .warn(&format!("reading the change log failed: {}", e.message));
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
                () = engine.wake.follower.notified() => {}
            }
        }
    })
}
