//! Stitching: turns processed entities into the final entities the API serves
//! (spec §8.7), keeps the change log that in-memory indexes follow, and owns the
//! paths that remove final entities (orphan cleanup, deletion by uid) as well as
//! the processing-graph walks (ancestry, refresh).
//!
//! Work arrives through `stitch_queue` (one row per entity ref, so repeated
//! requests collapse). A worker claims due rows in batches under a lease and a
//! ticket, stitches the whole batch with a handful of set-based queries, and
//! writes the changed final entities together with their change-log entries in
//! one transaction.

mod assemble;
mod batch;
mod deletion;
mod direct;
mod feed;
mod graph;
mod sql;

use std::sync::Arc;
use std::time::Duration;

use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::{Database, Logger};
use greenroom_catalog_model::rules::CatalogRules;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::{CatalogEngine, EngineSettings, OrphanStrategy};

pub(crate) use batch::LEASE_MS as STITCH_LEASE_MS;
pub use feed::ChangeFeedItem;
pub use graph::{AncestryItem, AncestryResponse};

/// How long the worker waits before looking for work again when the queue is idle.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// The shortest wait between two looks at the queue, so that a row due in the
/// past but leased elsewhere does not make the worker spin.
const MIN_POLL_MS: u64 = 10;
/// How long the worker waits after a failed batch; its rows stay leased and
/// return to the queue when the lease runs out.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// What one or more stitch batches did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StitchStats {
    /// Queue rows claimed.
    pub claimed: usize,
    /// Final entities inserted or updated.
    pub written: usize,
    /// Final entities removed because their entity no longer exists.
    pub deleted: usize,
    /// Claimed refs whose final entity was already up to date.
    pub unchanged: usize,
}

impl StitchStats {
    fn add(&mut self, other: StitchStats) {
        self.claimed += other.claimed;
        self.written += other.written;
        self.deleted += other.deleted;
        self.unchanged += other.unchanged;
    }
}

impl CatalogEngine {
    /// Starts the stitch worker: it claims due `stitch_queue` rows in batches
    /// and stitches them until `shutdown` is cancelled. A batch in progress is
    /// finished before the worker stops.
    pub fn start_stitching(self: &Arc<Self>, shutdown: CancellationToken) -> JoinHandle<()> {
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            while !shutdown.is_cancelled() {
                // The run returns once the queue has nothing due.
                let pause = match engine.stitch_while_busy(Some(&shutdown), false).await {
                    // Rows put off by a busy processing loop become due at
                    // known times: wake up for the first of them.
                    Ok(_) => match engine.next_stitch_due().await {
                        Ok(Some(due)) => {
                            let wait =
                                u64::try_from(due.saturating_sub(crate::db::now_ms())).unwrap_or(0);
                            IDLE_POLL.min(Duration::from_millis(wait.max(MIN_POLL_MS)))
                        }
                        Ok(None) | Err(_) => IDLE_POLL,
                    },
                    Err(e) => {
                        engine.logger.warn(&format!("Stitching failed: {e}"));
                        ERROR_BACKOFF
                    }
                };
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(pause) => {}
                    () = engine.wake.stitching.notified() => {}
                }
            }
        })
    }

    /// Stitches batches until no queue row is left, including rows the
    /// processing loop put off to a later time (rows leased by another worker
    /// are not waited for). For tests and the benchmark.
    pub async fn stitch_pending_until_idle(&self) -> Result<StitchStats, BackendError> {
        self.stitch_while_busy(None, true).await
    }

    /// An engine over `db` with default settings, no processors and no
    /// providers, after running the catalog's migrations: what storage-level
    /// tests and benchmarks of stitching need.
    #[doc(hidden)]
    pub async fn for_stitching_tests(
        db: Database,
        orphan_strategy: OrphanStrategy,
    ) -> Result<Arc<CatalogEngine>, BackendError> {
        crate::db::migrate(&db).await?;
        let settings = EngineSettings {
            processing_interval: None,
            orphan_strategy,
            readonly: false,
            allowed_location_types: vec!["url".to_owned()],
            reading_allow: Vec::new(),
            cwd: std::env::temp_dir(),
        };
        Ok(Arc::new(CatalogEngine {
            db,
            settings,
            rules: CatalogRules::default(),
            config_locations: Vec::new(),
            processors: Vec::new(),
            providers: Vec::new(),
            logger: Logger::for_plugin("catalog"),
            wake: crate::engine::Wake::default(),
            inline_min: std::sync::atomic::AtomicUsize::new(crate::processing::INLINE_MIN),
            inline_written: std::sync::atomic::AtomicUsize::new(0),
            wal: crate::db::WalState::default(),
        }))
    }
}
