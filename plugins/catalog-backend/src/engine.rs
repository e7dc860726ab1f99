//! The catalog engine: the state every part of the catalog shares, and its settings.
//!
//! Its behaviour is split by concern across modules, each adding `impl
//! CatalogEngine` blocks: `processing` (providers, mutations, the processing
//! loop, processors, location reading), `stitching` (final entities, the change
//! log, orphans, deletion by uid, refresh, ancestry) and `api` (the REST routes).

use std::sync::Arc;
use std::time::Duration;

use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::{Database, Logger};
use greenroom_catalog_model::rules::CatalogRules;
use greenroom_config::Config;
use greenroom_plugin_catalog_node::{CatalogProcessor, EntityProvider};

/// What happens to entities that no parent emits any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrphanStrategy {
    /// Keep them, annotated `backstage.io/orphan: "true"`.
    Keep,
    /// Delete them (and their orphaned descendants) every 30 seconds.
    Delete,
}

/// The catalog's settings, read once from `catalog.*`.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The range each claimed batch's next processing time is drawn from; `None`
    /// when `catalog.processingInterval: false` turns processing off.
    pub processing_interval: Option<(Duration, Duration)>,
    pub orphan_strategy: OrphanStrategy,
    /// `catalog.readonly`: location writes are refused.
    pub readonly: bool,
    /// Location types `POST /locations` accepts (Backstage's default: `url`).
    pub allowed_location_types: Vec<String>,
    /// `backend.reading.allow`: `(host, path prefixes)` the URL reader may fetch.
    pub reading_allow: Vec<(String, Vec<String>)>,
    /// The working directory, against which relative `file` targets in
    /// `catalog.locations` are resolved.
    pub cwd: std::path::PathBuf,
}

impl EngineSettings {
    /// Reads the settings; every error names its key.
    pub fn from_config(config: &Config) -> Result<EngineSettings, BackendError> {
        let bad = |key: &str, why: &str| {
            BackendError::config(format!("Invalid config at '{key}': {why}"))
        };
        let processing_interval = match config.get("catalog.processingInterval") {
            None => Some((Duration::from_secs(100), Duration::from_secs(150))),
            Some(serde_json::Value::Bool(false)) => None,
            Some(value) => {
                let d = greenroom_backend_plugin_api::duration::parse_duration(value)
                    .map_err(|e| bad("catalog.processingInterval", &e.0))?;
                // Backstage rounds to whole seconds, at least one.
                let secs = d.as_secs_f64().round().max(1.0);
                Some((
                    Duration::from_secs_f64(secs),
                    Duration::from_secs_f64(secs * 1.5),
                ))
            }
        };
        let orphan_strategy = match config
            .get_optional_string("catalog.orphanStrategy")?
            .as_deref()
        {
            None | Some("delete") => OrphanStrategy::Delete,
            Some("keep") => OrphanStrategy::Keep,
            Some(other) => {
                return Err(bad(
                    "catalog.orphanStrategy",
                    &format!("'{other}' is not one of keep, delete"),
                ));
            }
        };
        let readonly = config
            .get_optional_bool("catalog.readonly")?
            .unwrap_or(false);
        let mut reading_allow = Vec::new();
        if let Some(entries) = config.get_optional_config_array("backend.reading.allow")? {
            for entry in entries {
                let host = entry.get_string("host")?;
                let paths = entry
                    .get_optional_string_array("paths")?
                    .unwrap_or_default();
                reading_allow.push((host, paths));
            }
        }
        let cwd = std::env::current_dir().map_err(|e| {
            BackendError::internal(format!("cannot read the working directory: {e}"))
        })?;
        Ok(EngineSettings {
            processing_interval,
            orphan_strategy,
            readonly,
            allowed_location_types: vec!["url".to_owned()],
            reading_allow,
            cwd,
        })
    }
}

/// The catalog's shared state.
pub struct CatalogEngine {
    pub(crate) db: Database,
    pub(crate) settings: EngineSettings,
    pub(crate) rules: CatalogRules,
    /// `catalog.locations`, as `(type, target)` with file targets made absolute.
    pub(crate) config_locations: Vec<(String, String)>,
    /// Built-in processors first, then those added by modules.
    pub(crate) processors: Vec<Arc<dyn CatalogProcessor>>,
    /// Providers added by modules (the built-in ones are part of the engine).
    pub(crate) providers: Vec<Arc<dyn EntityProvider>>,
    pub(crate) logger: Logger,
    /// Wakes the loops of this instance when work was just made due, so that an
    /// edit does not wait out an idle poll (other instances still poll).
    pub(crate) wake: Wake,
    /// How many new children a processed batch must bring for them to be
    /// processed in its write (see `processing::inline`).
    pub(crate) inline_min: std::sync::atomic::AtomicUsize,
    /// How many children were written that way since the engine started.
    pub(crate) inline_written: std::sync::atomic::AtomicUsize,
    /// When SQLite's write-ahead log was last checkpointed (see `db::limit_wal`).
    pub(crate) wal: crate::db::WalState,
}

/// In-process wake-ups for the processing and stitch loops.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    /// A refresh made entities due for processing.
    pub(crate) processing: tokio::sync::Notify,
    /// A write queued stitches due at once.
    pub(crate) stitching: tokio::sync::Notify,
    /// A write appended to the change log: the index follower reads it now
    /// instead of at its next poll (other instances' writes still wait for it).
    pub(crate) follower: tokio::sync::Notify,
}

impl std::fmt::Debug for CatalogEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogEngine")
            .field("settings", &self.settings)
            .field("config_locations", &self.config_locations)
            .field(
                "processors",
                &self
                    .processors
                    .iter()
                    .map(|p| p.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Processing loops and stitch workers started per kind on PostgreSQL. Each
/// loop spends much of a batch waiting for the server's answer to one
/// statement after another, so a second loop keeps both the server and the
/// processors busy meanwhile: a 100k load on this 2-core machine went from
/// 35.2 to 26–28 s with two of each, and a third added nothing. Concurrent
/// loops are safe for the same reasons as concurrent instances: claims skip
/// locked rows and writers lock shared rows in ref order.
const POSTGRES_WORKERS: usize = 2;

impl CatalogEngine {
    /// How many processing loops, and how many stitch workers, this instance
    /// runs. SQLite takes one writer at a time, and a second loop there only
    /// queues for the lock (no gain in five alternated 100k runs).
    pub(crate) fn workers_per_kind(&self) -> usize {
        if self.db.is_postgres() {
            POSTGRES_WORKERS
        } else {
            1
        }
    }

    /// Sets how many new children a processed batch must bring for them to be
    /// processed in its write; `usize::MAX` keeps every child on the ordinary
    /// path. For tests that compare the two paths.
    #[doc(hidden)]
    pub fn set_inline_children_min(&self, min: usize) {
        self.inline_min
            .store(min, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many new children were processed in their parent's write so far.
    #[doc(hidden)]
    pub fn inline_children_written(&self) -> usize {
        self.inline_written
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
