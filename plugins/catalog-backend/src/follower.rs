//! Keeps this instance's in-memory index in step with the stitched entities.
//!
//! The index is loaded in the background from a snapshot of `final_entities`
//! (taken after reading the change log's newest sequence number, so nothing
//! committed later is missed); from then on a task follows the change log from
//! that number. Every instance does the same, so reads never drift. Until the
//! load ends the index reports itself not ready, and the API answers what it can
//! from the database (see `api::warm`).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use greenroom_backend_plugin_api::{BackendError, ErrorName};
use greenroom_catalog_query::{CatalogIndex, IndexError, PreparedEntity};
use serde_json::Value;
use tokio::sync::{OwnedMutexGuard, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::CatalogEngine;
use crate::parallel::map_on_cores;
use crate::stitching::ChangeFeedItem;

/// The index shared by the REST routes and the follower.
pub type SharedIndex = Arc<RwLock<CatalogIndex>>;

/// How many change-log entries are read at once.
const PAGE: usize = 2_000;
/// How long the follower waits when it has caught up.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How many entities the loader adds between looks at the shutdown token.
const CANCEL_CHECK_EVERY: usize = 1_024;

/// Builds an index from final entity texts; returns it with one message per
/// entity that could not be indexed. `None` when `cancel` fired first.
fn build_index(
    texts: Vec<String>,
    cancel: &[CancellationToken],
) -> Option<(CatalogIndex, Vec<String>)> {
    let mut index = CatalogIndex::new();
    let mut problems = Vec::new();
    // One entity at a time, each text dropped once indexed: parsing them all first
    // would hold a tree of values for the whole catalog at once.
    for (i, text) in texts.into_iter().enumerate() {
        if i % CANCEL_CHECK_EVERY == 0 && cancel.iter().any(CancellationToken::is_cancelled) {
            return None;
        }
        let prepared = serde_json::from_str::<Value>(&text)
            .map_err(|e| e.to_string())
            .and_then(|entity| {
                PreparedEntity::with_text(&entity, text.into_boxed_str()).map_err(|e| e.to_string())
            });
        if let Err(e) = prepared.and_then(|p| index.insert_prepared(p).map_err(|e| e.to_string())) {
            problems.push(e);
        }
    }
    Some((index, problems))
}

/// The index and the change-log position it reflects.
///
/// Both the background follower and the API's write routes bring the index up
/// to date through [`IndexSync::catch_up`]; the position sits behind an async
/// lock so that the two never apply the same page twice or out of order. A write
/// route catches up before it answers, so a client that deletes a location and
/// then lists entities sees the deletion (read-your-writes on this instance).
/// The loader holds the same lock from its snapshot until the index is ready, so
/// a write route that ends during the load answers only once the index holds its
/// change.
#[derive(Debug)]
pub struct IndexSync {
    index: SharedIndex,
    seq: Arc<tokio::sync::Mutex<i64>>,
    ready: watch::Sender<bool>,
    /// Cancelled when the backend begins to shut down: the load stops, and
    /// requests waiting for it are answered at once.
    stopping: CancellationToken,
}

impl IndexSync {
    /// An empty index that is not ready until [`IndexSync::load`] has run.
    pub fn loading() -> Self {
        Self {
            index: Arc::new(RwLock::new(CatalogIndex::new())),
            seq: Arc::new(tokio::sync::Mutex::new(0)),
            ready: watch::Sender::new(false),
            stopping: CancellationToken::new(),
        }
    }

    pub fn index(&self) -> &SharedIndex {
        &self.index
    }

    /// Whether the index holds the whole catalog (it may still trail the
    /// change log by a poll, as it always may).
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Returns once the index is ready; fails with `ServiceUnavailableError`
    /// once the backend has begun to shut down without it.
    pub async fn wait_ready(&self) -> Result<(), BackendError> {
        let mut ready = self.ready.subscribe();
        tokio::select! {
            // The sender lives as long as `self`, so this ends only by readiness.
            _ = ready.wait_for(|r| *r) => Ok(()),
            () = self.stopping.cancelled() => Err(BackendError::new(
                ErrorName::ServiceUnavailableError,
                "The catalog is shutting down before its index was loaded",
            )),
        }
    }

    /// Stops a load under way and answers the requests waiting for it: called
    /// when the backend begins to shut down, before it drains its requests.
    pub fn stop_waiting(&self) {
        self.stopping.cancel();
    }

    /// Loads every final entity into the index and catches up with the change
    /// log, then marks the index ready. Parsing and indexing run on a blocking
    /// thread so that requests keep being answered meanwhile. Returns `false`
    /// when `cancel` fired first.
    pub async fn load(
        &self,
        engine: &CatalogEngine,
        cancel: &CancellationToken,
    ) -> Result<bool, BackendError> {
        let mut seq = Arc::clone(&self.seq).lock_owned().await;
        let started = std::time::Instant::now();
        let (snapshot_seq, texts) = engine.final_entities_snapshot().await?;
        let tokens = [cancel.clone(), self.stopping.clone()];
        let built = tokio::task::spawn_blocking(move || build_index(texts, &tokens))
            .await
            .map_err(|e| BackendError::internal(format!("loading the catalog index: {e}")))?;
        let Some((loaded, problems)) = built else {
            return Ok(false);
        };
        for problem in problems {
            engine
                .logger
                .warn(&format!("an entity could not be indexed: {problem}"));
        }
        let count = loaded.len();
        *self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = loaded;
        *seq = snapshot_seq;
        let seq = self.apply_changes(engine, seq).await?;
        self.ready.send_replace(true);
        drop(seq);
        engine.logger.info(&format!(
            "catalog index loaded: {count} entities in {} ms",
            started.elapsed().as_millis()
        ));
        Ok(true)
    }

    /// Applies every change-log entry after the last one applied. Before the
    /// index is loaded there is nothing to bring up to date: reads come from the
    /// database, and the load that follows snapshots after every write that has
    /// committed. (The loader flips readiness only while holding the position
    /// lock, so the check below cannot race with it.)
    pub async fn catch_up(&self, engine: &CatalogEngine) -> Result<(), BackendError> {
        let seq = Arc::clone(&self.seq).lock_owned().await;
        if !self.is_ready() {
            return Ok(());
        }
        self.apply_changes(engine, seq).await.map(drop)
    }

    /// Applies the change log after the position `seq` holds, page by page;
    /// returns the position lock, moved to the last change applied.
    async fn apply_changes(
        &self,
        engine: &CatalogEngine,
        mut seq: OwnedMutexGuard<i64>,
    ) -> Result<OwnedMutexGuard<i64>, BackendError> {
        let mut page = engine.change_page(*seq, PAGE).await?;
        loop {
            let (changes, more) = page;
            let Some(last) = changes.last() else {
                return Ok(seq);
            };
            let last_seq = last.seq;
            // Parse, flatten and serialise on every core, outside the lock, so
            // that readers wait only for the swaps; each change's text is
            // dropped as soon as it is prepared. (A bulk load's last pages
            // arrive after the stitcher is done, with the other core idle.)
            let prepared = map_on_cores(changes, prepare_change)
                .await
                .map_err(|e| BackendError::internal(format!("preparing index changes: {e}")))?;
            // The page goes into the index on a blocking thread while the next
            // one is read. That thread holds the position lock until it has
            // applied the page and recorded it: if this future is dropped
            // meanwhile (a client that disconnects during a write route's
            // catch-up, a shutdown), the next catch-up waits for it and
            // continues after the page, so no page is applied twice or after
            // a newer one.
            let index = self.index.clone();
            let apply = tokio::task::spawn_blocking(move || {
                let problems = apply_prepared(&index, prepared);
                *seq = last_seq;
                (problems, seq)
            });
            let (applied, next) = if more {
                let (applied, next) = tokio::join!(apply, engine.change_page(last_seq, PAGE));
                (applied, Some(next))
            } else {
                (apply.await, None)
            };
            let (problems, guard) = applied
                .map_err(|e| BackendError::internal(format!("updating the catalog index: {e}")))?;
            seq = guard;
            for problem in problems {
                engine.logger.warn(&problem);
            }
            match next {
                Some(next) => page = next?,
                None => return Ok(seq),
            }
        }
    }
}

/// A change ready for the index: the ref, and the prepared entity (`None` when
/// the entity is gone or its text does not parse).
type PreparedChange = (String, Option<Result<PreparedEntity, IndexError>>);

fn prepare_change(change: ChangeFeedItem) -> PreparedChange {
    // The stored text is served as it is; only its parse is needed, for the
    // search rows.
    let entity = change.final_entity.and_then(|text| {
        let parsed = serde_json::from_str::<Value>(&text).ok()?;
        Some(PreparedEntity::with_text(&parsed, text.into_boxed_str()))
    });
    (change.entity_ref, entity)
}

/// Applies prepared changes under one write lock; returns a message for each
/// entity that could not be indexed.
fn apply_prepared(index: &SharedIndex, prepared: Vec<PreparedChange>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut index = index
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
            problems.push(format!("{entity_ref} could not be indexed: {e}"));
        }
    }
    problems
}

/// Loads `sync`'s index when it is not ready yet, then keeps it caught up with
/// the change log until `shutdown`.
pub fn follow(
    engine: Arc<CatalogEngine>,
    sync: Arc<IndexSync>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while !sync.is_ready() {
            let result = tokio::select! {
                () = shutdown.cancelled() => return,
                () = sync.stopping.cancelled() => return,
                result = sync.load(&engine, &shutdown) => result,
            };
            match result {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    engine
                        .logger
                        .warn(&format!("loading the catalog index failed: {}", e.message));
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
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
