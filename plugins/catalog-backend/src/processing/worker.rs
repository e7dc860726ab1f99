//! The processing loop (spec §8.4, §8.6): claims due `refresh_state` rows in
//! batches under a lease, runs the orchestrator on them concurrently, and writes
//! each batch's results in one transaction: processed entities, errors, children
//! and their ownership edges, relations and refresh keys, then queues stitching.
//! (`refresh_entity`, spec §7.10, lives with stitching.)

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use greenroom_backend_plugin_api::BackendError;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::mutations::stored_refresh_key;
use super::orchestrator::{Child, Outcome, ProcessingErrorBody};
use super::sql::{Arg, col, exec, exec_in, fetch, fetch_in, insert_rows, list, opt, tuples};
use super::texts::Unpacker;
use crate::db::{
    Tx, defer_relation_index, enqueue_stitch, limit_wal, now_ms, restore_relation_index,
};
use crate::engine::CatalogEngine;
use crate::stitching::STITCH_LEASE_MS;

/// Rows claimed per batch. During a bulk load each batch is one write
/// transaction, and SQLite's cost per transaction grows with the number of
/// index pages it dirties (relation rows land all over their indexes), so
/// larger batches write the same rows for less: 2000 rows per batch took the
/// late processing writes of a 30k load from ~44 to ~25 ms per 100 entities.
pub(super) const BATCH_SIZE: i64 = 2000;
/// Entities processed at once within a batch.
const CONCURRENCY: usize = 8;
/// How long the loop waits when nothing is due.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Children inserted per call of `insert_rows`: bounds the copies of their texts
/// that a write holds at once.
const CHILD_INSERT_SLICE: usize = 4_000;
/// Put-off stitches made due per transaction when a backlog ends: two stitch
/// batches, so the stitchers have work while the next chunk is released.
const RELEASE_CHUNK: i64 = 4_000;
/// How far stitching is put off while a backlog is being processed (a full
/// batch was claimed): far enough that the stitcher leaves those rows alone
/// until the backlog is gone, when [`CatalogEngine::release_put_off_stitches`]
/// makes them due at once. During a bulk load most entities are touched again
/// by their relation peers (a team by each component it owns, an API by each
/// consumer), and a stitch run while processing still writes costs both the
/// CPU and, on SQLite, the write lock that processing needs; held back, every
/// entity is stitched once, after its last touch. A loop that stops during a
/// backlog without releasing them (a crash) leaves them due after this delay
/// at the latest; a starting loop releases them at once. A batch smaller than
/// [`BATCH_SIZE`] (a single refreshed location) queues its stitches due now.
pub(super) const BUSY_STITCH_DELAY_MS: i64 = 600_000;

/// A claimed row.
#[derive(Debug)]
pub(super) struct Claimed {
    pub(super) entity_id: String,
    pub(super) entity_ref: String,
    pub(super) unprocessed: String,
    pub(super) result_hash: Option<String>,
    /// For a new child processed in its parent's write (see `inline`): the
    /// hash and location key its row is written with. `None` for a claimed row.
    pub(super) unprocessed_hash: Option<String>,
    pub(super) location_key: Option<String>,
}

/// Claimed rows with the current parents of each (see `parents_of`).
pub(super) type ClaimedBatch = (Vec<Claimed>, HashMap<String, Vec<String>>);

/// A claimed row after processing.
#[derive(Debug)]
pub(super) struct Done {
    pub(super) claimed: Claimed,
    pub(super) outcome: Outcome,
    pub(super) hash: String,
    /// The processed entity's text as stored (its uid set), when it succeeded.
    pub(super) text: Option<String>,
}

impl CatalogEngine {
    /// Starts the processing loop; it stops when `shutdown` is cancelled. With
    /// `catalog.processingInterval: false` the task ends at once.
    pub fn start_processing(self: &Arc<Self>, shutdown: CancellationToken) -> JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            if engine.settings.processing_interval.is_none() {
                return;
            }
            // A processed batch waiting to be written. Each batch is written
            // while the next one is processed, so that the processors keep the
            // cores busy while the database takes the writes.
            let mut ready: Option<(Vec<Done>, bool)> = None;
            // Whether the last batch written was full: stitches were put off.
            // A loop that stopped during a backlog may have left put-off rows:
            // the first write of this one releases them.
            let mut was_busy = true;
            while !shutdown.is_cancelled() {
                let next = match engine.claim_batch().await {
                    Ok(next) => next,
                    Err(e) => {
                        engine
                            .logger
                            .error(&format!("Claiming a processing batch failed: {e}"));
                        None
                    }
                };
                let claimed_any = next.is_some();
                let wrote = ready.is_some();
                if let Some((_, busy)) = &ready {
                    was_busy = *busy;
                }
                let (written, processed) = match (ready.take(), next) {
                    (Some((done, busy)), Some(batch)) => {
                        let (written, processed) =
                            tokio::join!(engine.write_results(done, busy), engine.run_batch(batch));
                        (Some(written), Some(processed))
                    }
                    (Some((done, busy)), None) => {
                        (Some(engine.write_results(done, busy).await), None)
                    }
                    (None, Some(batch)) => (None, Some(engine.run_batch(batch).await)),
                    (None, None) => (None, None),
                };
                if written.is_some() {
                    limit_wal(&engine.db, &engine.wal).await;
                }
                // The backlog is gone (the batch just processed, if any, was
                // not full): what was put off is due now. (`ready` was taken
                // above, so the next batch's fullness is read from `processed`.)
                if was_busy && written.is_some() && !matches!(&processed, Some(Ok((_, true)))) {
                    was_busy = false;
                    if let Err(e) = engine.release_put_off_stitches().await {
                        engine
                            .logger
                            .warn(&format!("Releasing put-off stitches failed: {e}"));
                    }
                }
                if let Some(Err(e)) = written {
                    engine
                        .logger
                        .error(&format!("Processing batch failed: {e}"));
                }
                match processed {
                    Some(Ok(batch)) => ready = Some(batch),
                    Some(Err(e)) => engine
                        .logger
                        .error(&format!("Processing batch failed: {e}")),
                    None => {}
                }
                // Only an idle round waits: a write may just have made new
                // children due.
                if !claimed_any && ready.is_none() && !wrote {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(IDLE_POLL) => {}
                        () = engine.wake.processing.notified() => {}
                    }
                }
            }
            // A batch processed before the shutdown is still written: its rows
            // are leased and would otherwise wait out the lease.
            if let Some((done, busy)) = ready
                && let Err(e) = engine.write_results(done, busy).await
            {
                engine
                    .logger
                    .error(&format!("Processing batch failed: {e}"));
            }
        })
    }

    /// Processes batches until no row is due; returns how many rows were processed.
    /// For tests and benchmarks (and a one-shot ingestion).
    pub async fn process_pending_until_idle(self: &Arc<Self>) -> Result<usize, BackendError> {
        let mut total = 0;
        loop {
            let n = self.process_batch().await?;
            if n == 0 {
                // Stitches put off by full batches are due now.
                if total > 0 {
                    self.release_put_off_stitches().await?;
                }
                return Ok(total);
            }
            total += n;
        }
    }

    /// The lease of a claimed batch: a uniformly random point of the interval.
    pub(super) fn lease_until(&self, now: i64) -> i64 {
        let (min, max) = self
            .settings
            .processing_interval
            .unwrap_or((Duration::from_secs(100), Duration::from_secs(150)));
        let (min, max) = (
            min.as_millis() as f64,
            max.as_millis().max(min.as_millis()) as f64,
        );
        let random = (uuid::Uuid::new_v4().as_u128() >> 64) as u64 as f64 / u64::MAX as f64;
        now + (min + (max - min) * random) as i64
    }

    /// Claims, processes and writes one batch; returns how many rows it claimed.
    async fn process_batch(self: &Arc<Self>) -> Result<usize, BackendError> {
        let Some(batch) = self.claim_batch().await? else {
            return Ok(0);
        };
        let count = batch.0.len();
        let (done, busy) = self.run_batch(batch).await?;
        self.write_results(done, busy).await?;
        limit_wal(&self.db, &self.wal).await;
        Ok(count)
    }

    /// Makes the stitches a busy loop put off due now and wakes the stitch
    /// workers (a stitcher that was not woken slept out its idle poll). Rows
    /// leased by a stitcher (their time is at most a stitch lease ahead) are
    /// left alone.
    ///
    /// On PostgreSQL the rows are locked in ref order, as every other writer of
    /// the queue locks them, and released [`RELEASE_CHUNK`] a transaction, the
    /// stitchers woken after each: they start on the first rows while the rest
    /// are released (one statement for the whole queue held them back for its
    /// whole run: 0.9 of the time of a 100k load). SQLite has one writer, which
    /// the stitchers would wait for anyway, so there one statement does it.
    async fn release_put_off_stitches(&self) -> Result<(), BackendError> {
        // The stitches about to run read relations by source.
        restore_relation_index(&self.db).await?;
        if !self.db.is_postgres() {
            let now = now_ms();
            let mut tx = Tx::begin(&self.db).await?;
            exec(
                &mut tx,
                "UPDATE stitch_queue SET next_stitch_at = $1 WHERE next_stitch_at > $2".to_owned(),
                vec![Arg::Int(now), Arg::Int(now + STITCH_LEASE_MS)],
            )
            .await?;
            tx.commit().await?;
            self.wake.stitching.notify_one();
            return Ok(());
        }
        // Chunks walk the queue in ref order from where the last one ended, so
        // each reads only its own rows from the primary key.
        let sql = "UPDATE stitch_queue SET next_stitch_at = $1 WHERE entity_ref IN (\
             SELECT entity_ref FROM stitch_queue WHERE entity_ref > $2 AND next_stitch_at > $3 \
             ORDER BY entity_ref LIMIT $4 FOR UPDATE) RETURNING entity_ref";
        let mut after = String::new();
        loop {
            // A fresh time per chunk: a row a stitcher leased since the last
            // chunk is due at most a lease after now, so it is not taken back.
            let now = now_ms();
            let mut tx = Tx::begin(&self.db).await?;
            let released = fetch(
                &mut tx,
                sql.to_owned(),
                vec![
                    Arg::Int(now),
                    Arg::Text(after.clone()),
                    Arg::Int(now + STITCH_LEASE_MS),
                    Arg::Int(RELEASE_CHUNK),
                ],
                1,
            )
            .await?;
            tx.commit().await?;
            if released.is_empty() {
                return Ok(());
            }
            self.wake.stitching.notify_waiters();
            self.wake.stitching.notify_one();
            if released.len() < usize::try_from(RELEASE_CHUNK).unwrap_or(usize::MAX) {
                return Ok(());
            }
            match released
                .into_iter()
                .filter_map(|mut r| r.pop().flatten())
                .max()
            {
                Some(last) => after = last,
                None => return Ok(()),
            }
        }
    }

    /// Claims a batch and reads the current parents of its entities; `None`
    /// when nothing is due.
    async fn claim_batch(&self) -> Result<Option<ClaimedBatch>, BackendError> {
        let claimed = self.claim().await?;
        if claimed.is_empty() {
            return Ok(None);
        }
        let parents = self.parents_of(&claimed).await?;
        Ok(Some((claimed, parents)))
    }

    /// Runs the orchestrator on every entity of a claimed batch; returns the
    /// results and whether the batch was full (a backlog is being worked off).
    pub(super) async fn run_batch(
        self: &Arc<Self>,
        (claimed, parents): ClaimedBatch,
    ) -> Result<(Vec<Done>, bool), BackendError> {
        let count = claimed.len();
        let semaphore = Arc::new(Semaphore::new(CONCURRENCY));
        let mut tasks = JoinSet::new();
        let parents = Arc::new(parents);
        for (i, item) in claimed.iter().enumerate() {
            let engine = self.clone();
            let semaphore = semaphore.clone();
            let parents = parents.clone();
            let text = item.unprocessed.clone();
            let entity_ref = item.entity_ref.clone();
            let entity_id = item.entity_id.clone();
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                let mut outcome = match serde_json::from_str::<Value>(&text) {
                    Ok(entity) => engine.process_entity(&entity).await,
                    Err(e) => Outcome {
                        errors: vec![ProcessingErrorBody {
                            name: "InputError".to_owned(),
                            message: format!("Stored entity is not valid JSON: {e}"),
                            cause: None,
                        }],
                        ..Outcome::default()
                    },
                };
                // The hash and the stored text are made here, on the processing tasks,
                // rather than by the loop: there they held up the write of the
                // previous batch, which the loop drives at the same time.
                let hash =
                    outcome.result_hash(parents.get(&entity_ref).map_or(&[][..], Vec::as_slice));
                let text = if outcome.ok() {
                    outcome.entity.as_mut().map(|entity| {
                        if let Some(metadata) =
                            entity.get_mut("metadata").and_then(Value::as_object_mut)
                        {
                            metadata.insert("uid".to_owned(), Value::String(entity_id));
                        }
                        entity.to_string()
                    })
                } else {
                    None
                };
                (i, (outcome, hash, text))
            });
        }
        let mut outcomes: Vec<Option<(Outcome, String, Option<String>)>> =
            (0..count).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            let (i, result) = joined
                .map_err(|e| BackendError::internal(format!("processing task failed: {e}")))?;
            if let Some(slot) = outcomes.get_mut(i) {
                *slot = Some(result);
            }
        }
        let done: Vec<Done> = claimed
            .into_iter()
            .zip(outcomes)
            .filter_map(|(claimed, result)| {
                let (outcome, hash, text) = result?;
                Some(Done {
                    claimed,
                    outcome,
                    hash,
                    text,
                })
            })
            .collect();
        let busy = count >= usize::try_from(BATCH_SIZE).unwrap_or(usize::MAX);
        Ok((done, busy))
    }

    /// Claims up to a batch of due rows, moving their `next_update_at` past the lease.
    async fn claim(&self) -> Result<Vec<Claimed>, BackendError> {
        let now = now_ms();
        let lock = if self.db.is_postgres() {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE refresh_state SET next_update_at = $1 WHERE entity_id IN (\
             SELECT entity_id FROM refresh_state WHERE next_update_at <= $2 \
             ORDER BY next_update_at LIMIT $3{lock}) \
             RETURNING entity_id, entity_ref, unprocessed_entity, result_hash"
        );
        let mut tx = Tx::begin(&self.db).await?;
        let rows = fetch(
            &mut tx,
            sql,
            vec![
                Arg::Int(self.lease_until(now)),
                Arg::Int(now),
                Arg::Int(BATCH_SIZE),
            ],
            4,
        )
        .await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| Claimed {
                entity_id: col(r, 0),
                entity_ref: col(r, 1),
                unprocessed: col(r, 2),
                result_hash: opt(r, 3),
                unprocessed_hash: None,
                location_key: None,
            })
            .collect())
    }

    /// The current parents of each claimed entity, sorted: `entity:<ref>` for a
    /// parent entity, `provider:<name>` for a provider.
    async fn parents_of(
        &self,
        claimed: &[Claimed],
    ) -> Result<HashMap<String, Vec<String>>, BackendError> {
        let refs: Vec<String> = claimed.iter().map(|c| c.entity_ref.clone()).collect();
        let mut tx = Tx::begin(&self.db).await?;
        let rows = fetch_in(
            &mut tx,
            "SELECT target_entity_ref, source_key, source_entity_ref FROM refresh_state_references \
             WHERE target_entity_ref IN ({})",
            &[],
            &refs,
            3,
        )
        .await?;
        tx.commit().await?;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for row in rows {
            let parent = match (opt(&row, 1), opt(&row, 2)) {
                (Some(key), _) => format!("provider:{key}"),
                (None, Some(source)) => format!("entity:{source}"),
                (None, None) => continue,
            };
            out.entry(col(&row, 0)).or_default().push(parent);
        }
        for parents in out.values_mut() {
            parents.sort();
            parents.dedup();
        }
        Ok(out)
    }

    /// Writes one batch's results in one transaction (spec §8.4, §8.6).
    async fn write_results(
        self: &Arc<Self>,
        done: Vec<Done>,
        busy: bool,
    ) -> Result<(), BackendError> {
        let result = self.write_batch(&done, busy).await;
        // Freeing a batch is not free: the root Location of a 100k load carries
        // every entity of the catalog as a parsed tree, and dropping them took a
        // quarter of a second during which the next batch could not start.
        tokio::task::spawn_blocking(move || drop(done));
        result
    }

    async fn write_batch(self: &Arc<Self>, done: &[Done], busy: bool) -> Result<(), BackendError> {
        let changed: Vec<&Done> = done
            .iter()
            .filter(|d| d.claimed.result_hash.as_deref() != Some(d.hash.as_str()))
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let (succeeded, failed): (Vec<&Done>, Vec<&Done>) =
            changed.into_iter().partition(|d| d.outcome.ok());
        // Many new children: processed and written first, in transactions of
        // their own (see `inline`); this write then records them as stored.
        let inline = self.write_new_children(&succeeded).await?;
        let now = now_ms();
        let mut stitch: BTreeSet<String> = BTreeSet::new();
        let mut tx = Tx::begin(&self.db).await?;

        // A full batch of entities never processed before is a bulk load of new
        // entities: the relations index stitching reads may be set aside until
        // the backlog ends (see `defer_relation_index`).
        let first_time = succeeded
            .iter()
            .filter(|d| d.claimed.result_hash.is_none())
            .count();
        if busy && first_time * 10 >= done.len() * 9 && defer_relation_index(&mut tx).await? {
            self.logger.info(
                "Bulk load: the relations source index is rebuilt when the backlog is processed",
            );
        }

        // Failures: only the errors and the hash; the last good output stays.
        for d in &failed {
            let errors =
                serde_json::to_string(&d.outcome.errors).unwrap_or_else(|_| "[]".to_owned());
            exec(
                &mut tx,
                "UPDATE refresh_state SET errors = $1, result_hash = $2 WHERE entity_id = $3"
                    .to_owned(),
                vec![
                    Arg::Text(errors),
                    Arg::from(&d.hash),
                    Arg::from(&d.claimed.entity_id),
                ],
            )
            .await?;
            stitch.insert(d.claimed.entity_ref.clone());
        }

        if !succeeded.is_empty() {
            self.write_succeeded(&mut tx, &succeeded, &inline.parents, now, &mut stitch)
                .await?;
        }
        let at = if busy {
            now + BUSY_STITCH_DELAY_MS
        } else {
            now
        };
        let stitch: Vec<String> = stitch.into_iter().collect();
        enqueue_stitch(&mut tx, &stitch, at).await?;
        tx.commit().await?;
        // The children written inline were queued put off: released now (which
        // builds an index the inline write set aside first), unless this batch
        // is part of a backlog, whose end releases them.
        if inline.written > 0 && !busy {
            self.release_put_off_stitches().await?;
        }
        if !busy && !stitch.is_empty() {
            self.wake.stitching.notify_one();
        }
        Ok(())
    }

    /// `inline_parents` are the entities whose new children were just written
    /// with their edges (see `inline`): their edges are looked up too.
    async fn write_succeeded(
        &self,
        tx: &mut Tx,
        succeeded: &[&Done],
        inline_parents: &[String],
        now: i64,
        stitch: &mut BTreeSet<String>,
    ) -> Result<(), BackendError> {
        // Only entities processed before have earlier output (relations,
        // refresh keys, children's edges) to look up and replace: their row
        // holds a result hash, which every processing write, failed or not,
        // sets. A bulk load of new entities skips those look-ups entirely.
        let seen: Vec<&&Done> = succeeded
            .iter()
            .filter(|d| d.claimed.result_hash.is_some())
            .collect();
        let ids: Vec<String> = seen.iter().map(|d| d.claimed.entity_id.clone()).collect();
        let parent_refs: Vec<String> = seen.iter().map(|d| d.claimed.entity_ref.clone()).collect();

        // Processed entities. The update reports the rows it found: an entity
        // deleted since it was claimed gets no relations (they carry no foreign
        // key on either database; see migrations 5 and 6). On PostgreSQL the update also
        // locks each row it found until commit, so a deletion waits for this write
        // and then removes the relations written here as well.
        let mut live: HashSet<String> = HashSet::with_capacity(succeeded.len());
        // 500 rows of three values per statement: with 100, the update was 20
        // round trips a batch, and took 21.6 ms (median) against 14 ms now.
        for chunk in succeeded.chunks(500) {
            let mut args = Vec::with_capacity(chunk.len() * 3);
            for d in chunk {
                args.push(Arg::from(&d.claimed.entity_id));
                args.push(Arg::Text(
                    d.text.clone().unwrap_or_else(|| "null".to_owned()),
                ));
                args.push(Arg::from(&d.hash));
            }
            let sql = format!(
                "UPDATE refresh_state SET processed_entity = v.column2, result_hash = v.column3, errors = '[]' \
                 FROM (VALUES {}) AS v WHERE refresh_state.entity_id = v.column1 RETURNING entity_id",
                tuples(1, chunk.len(), 3)
            );
            live.extend(fetch(tx, sql, args, 1).await?.iter().map(|row| col(row, 0)));
        }

        // Relations: replace those originating from each entity; stitch the sources
        // of added and removed ones.
        let old = fetch_in(
            tx,
            "SELECT originating_entity_id, source_entity_ref, type, target_entity_ref FROM relations \
             WHERE originating_entity_id IN ({})",
            &[],
            &ids,
            4,
        )
        .await?;
        let mut old_by_id: HashMap<String, HashSet<(String, String, String)>> = HashMap::new();
        for row in old {
            old_by_id.entry(col(&row, 0)).or_default().insert((
                col(&row, 1),
                col(&row, 2),
                col(&row, 3),
            ));
        }
        exec_in(
            tx,
            "DELETE FROM relations WHERE originating_entity_id IN ({})",
            &[],
            &ids,
        )
        .await?;
        let mut relation_rows = Vec::new();
        for d in succeeded
            .iter()
            .filter(|d| live.contains(&d.claimed.entity_id))
        {
            let new: HashSet<(String, String, String)> =
                d.outcome.relations.iter().cloned().collect();
            let empty = HashSet::new();
            let old = old_by_id.get(&d.claimed.entity_id).unwrap_or(&empty);
            for (source, _, _) in new.symmetric_difference(old) {
                stitch.insert(source.clone());
            }
            for (source, relation_type, target) in &d.outcome.relations {
                relation_rows.push(vec![
                    Arg::from(&d.claimed.entity_id),
                    Arg::from(source),
                    Arg::from(relation_type),
                    Arg::from(target),
                ]);
            }
        }
        insert_rows(
            tx,
            "INSERT INTO relations (originating_entity_id, source_entity_ref, type, target_entity_ref) VALUES ",
            "",
            4,
            relation_rows,
        )
        .await?;

        // Refresh keys.
        exec_in(
            tx,
            "DELETE FROM refresh_keys WHERE entity_id IN ({})",
            &[],
            &ids,
        )
        .await?;
        let key_rows = succeeded
            .iter()
            .flat_map(|d| {
                d.outcome.refresh_keys.iter().map(|k| {
                    vec![
                        Arg::from(&d.claimed.entity_id),
                        Arg::Text(stored_refresh_key(k)),
                    ]
                })
            })
            .collect();
        insert_rows(
            tx,
            "INSERT INTO refresh_keys (entity_id, key) VALUES ",
            "",
            2,
            key_rows,
        )
        .await?;

        // Children and their ownership edges. Parents whose new children were
        // written inline have edges already, though they had none before.
        let edge_parents: Vec<String> = {
            let mut all: BTreeSet<&String> = parent_refs.iter().collect();
            all.extend(inline_parents.iter());
            all.into_iter().cloned().collect()
        };
        let old_edges: HashSet<(String, String)> = fetch_in(
            tx,
            "SELECT source_entity_ref, target_entity_ref FROM refresh_state_references WHERE source_entity_ref IN ({})",
            &[],
            &edge_parents,
            2,
        )
        .await?
        .iter()
        .map(|r| (col(r, 0), col(r, 1)))
        .collect();
        let children: Vec<(&String, &Child)> = succeeded
            .iter()
            .flat_map(|d| {
                d.outcome
                    .children
                    .iter()
                    .map(move |c| (&d.claimed.entity_ref, c))
            })
            .collect();
        let mut child_refs: Vec<String> =
            children.iter().map(|(_, c)| c.entity_ref.clone()).collect();
        child_refs.sort();
        child_refs.dedup();
        let existing: HashMap<String, (Option<String>, String)> = fetch_in(
            tx,
            "SELECT entity_ref, location_key, unprocessed_hash FROM refresh_state WHERE entity_ref IN ({})",
            &[],
            &child_refs,
            3,
        )
        .await?
        .iter()
        .map(|r| (col(r, 0), (opt(r, 1), col(r, 2))))
        .collect();
        // Who claimed each child in this batch, by location key.
        let mut claims: HashMap<&str, &str> = HashMap::new();
        let mut inserts: Vec<&Child> = Vec::new();
        let mut updates: Vec<&Child> = Vec::new();
        let mut new_edges: BTreeSet<(String, String)> = BTreeSet::new();
        for (parent, child) in &children {
            let key = child.location_key.as_str();
            let accepted = match claims.get(child.entity_ref.as_str()) {
                Some(claimed_key) => *claimed_key == key,
                None => match existing.get(&child.entity_ref) {
                    None => {
                        inserts.push(child);
                        true
                    }
                    Some((stored, hash)) if stored.is_none() || stored.as_deref() == Some(key) => {
                        if *hash != child.hash || stored.is_none() {
                            updates.push(child);
                        }
                        true
                    }
                    Some(_) => false,
                },
            };
            if accepted {
                claims.entry(child.entity_ref.as_str()).or_insert(key);
                new_edges.insert(((*parent).clone(), child.entity_ref.clone()));
            } else {
                let holder = claims
                    .get(child.entity_ref.as_str())
                    .map(|k| (*k).to_owned())
                    .or_else(|| existing.get(&child.entity_ref).and_then(|(k, _)| k.clone()))
                    .unwrap_or_default();
                self.logger.warn(&format!(
                    "Detected conflicting entityRef {} already referenced by {holder} and now also {key}",
                    child.entity_ref
                ));
            }
        }
        // A slice of children at a time: the arguments copy every child's text,
        // and a Location of a bulk load brings the whole catalog.
        let mut unpacker = Unpacker::default();
        for slice in inserts.chunks(CHILD_INSERT_SLICE) {
            let mut rows = Vec::with_capacity(slice.len());
            for c in slice {
                rows.push(vec![
                    // Time-ordered ids (UUIDv7): rows keyed by entity id (the
                    // state's primary key, relations, final entities) are then
                    // appended to their indexes instead of landing on random pages.
                    Arg::Text(uuid::Uuid::now_v7().to_string()),
                    Arg::from(&c.entity_ref),
                    Arg::Text(unpacker.text(&c.text)?),
                    Arg::from(&c.hash),
                    Arg::from("[]"),
                    Arg::from(&c.location_key),
                    Arg::Int(now),
                    Arg::Int(now),
                ]);
            }
            insert_rows(
                tx,
                "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity, unprocessed_hash, errors, \
                 location_key, next_update_at, last_discovery_at) VALUES ",
                "ON CONFLICT (entity_ref) DO NOTHING",
                8,
                rows,
            )
            .await?;
        }
        for child in updates {
            exec(
                tx,
                "UPDATE refresh_state SET unprocessed_entity = $1, unprocessed_hash = $2, location_key = $3, \
                 next_update_at = $4, last_discovery_at = $4 \
                 WHERE entity_ref = $5 AND (location_key IS NULL OR location_key = $3)"
                    .to_owned(),
                vec![
                    Arg::Text(unpacker.text(&child.text)?),
                    Arg::from(&child.hash),
                    Arg::from(&child.location_key),
                    Arg::Int(now),
                    Arg::from(&child.entity_ref),
                ],
            )
            .await?;
        }
        // Only the edges that change are written: a location refreshed with
        // 100k unchanged children used to delete and insert all 100k edges.
        let new_edge_set: HashSet<(String, String)> = new_edges.iter().cloned().collect();
        let mut dropped: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (source, target) in old_edges.difference(&new_edge_set) {
            dropped
                .entry(source.as_str())
                .or_default()
                .push(target.clone());
        }
        for (source, targets) in &dropped {
            exec_in(
                tx,
                "DELETE FROM refresh_state_references WHERE source_entity_ref = $1 AND target_entity_ref IN ({})",
                &[Arg::from(*source)],
                targets,
            )
            .await?;
        }
        // The last writer owns a child: other parents' edges to it go (spec §8.6).
        // An edge added now replaces every other parent's; an edge kept loses
        // those of parents outside this batch (this batch's own stale edges were
        // dropped just above).
        type Edges<'e> = Vec<&'e (String, String)>;
        let (added, kept): (Edges<'_>, Edges<'_>) = new_edges
            .iter()
            .partition(|edge| !old_edges.contains(*edge));
        let added_targets: Vec<String> = added.iter().map(|(_, t)| t.clone()).collect();
        exec_in(
            tx,
            "DELETE FROM refresh_state_references WHERE source_entity_ref IS NOT NULL AND target_entity_ref IN ({})",
            &[],
            &added_targets,
        )
        .await?;
        if !kept.is_empty() && !edge_parents.is_empty() {
            let kept_targets: Vec<String> = kept.iter().map(|(_, t)| t.clone()).collect();
            let sql = format!(
                "DELETE FROM refresh_state_references WHERE source_entity_ref IS NOT NULL \
                 AND source_entity_ref NOT IN ({}) AND target_entity_ref IN ({{}})",
                list(1, edge_parents.len())
            );
            let prefix: Vec<Arg> = edge_parents.iter().map(Arg::from).collect();
            exec_in(tx, &sql, &prefix, &kept_targets).await?;
        }
        insert_rows(
            tx,
            "INSERT INTO refresh_state_references (source_entity_ref, target_entity_ref) VALUES ",
            "",
            2,
            added
                .iter()
                .map(|(s, t)| vec![Arg::from(s), Arg::from(t)])
                .collect(),
        )
        .await?;
        // A child that lost or gained its parent changes its orphan annotation. A
        // child inserted just now has nothing to stitch until it is processed.
        for (_, target) in old_edges.difference(&new_edge_set) {
            stitch.insert(target.clone());
        }
        for (_, target) in new_edge_set.difference(&old_edges) {
            if existing.contains_key(target) {
                stitch.insert(target.clone());
            }
        }
        for d in succeeded {
            stitch.insert(d.claimed.entity_ref.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::on_pool;
    use crate::engine::OrphanStrategy;
    use greenroom_backend_test_utils::database::TestDatabases;

    /// More put-off rows than one release chunk (PostgreSQL's) holds all become
    /// due, rows a stitcher leased keep their lease, and the stitchers are woken.
    #[tokio::test]
    async fn put_off_stitches_are_all_released_and_leases_kept() {
        for kind in TestDatabases::all() {
            let test = TestDatabases::init(kind).await;
            let engine =
                CatalogEngine::for_stitching_tests(test.database().clone(), OrphanStrategy::Keep)
                    .await
                    .expect("engine");
            let db = &engine.db;
            let now = now_ms();
            let put_off = usize::try_from(RELEASE_CHUNK).expect("chunk") * 2 + 123;
            let mut tx = Tx::begin(db).await.expect("begin");
            let rows = (0..put_off)
                .map(|i| {
                    vec![
                        Arg::Text(format!("component:default/c{i:05}")),
                        Arg::Int(now + BUSY_STITCH_DELAY_MS),
                        Arg::OptText(None),
                    ]
                })
                .chain((0..7).map(|i| {
                    vec![
                        Arg::Text(format!("component:default/leased{i}")),
                        Arg::Int(now + STITCH_LEASE_MS / 2),
                        Arg::Text("ticket".to_owned()),
                    ]
                }))
                .collect();
            insert_rows(
                &mut tx,
                "INSERT INTO stitch_queue (entity_ref, next_stitch_at, stitch_ticket) VALUES ",
                "",
                3,
                rows,
            )
            .await
            .expect("queue");
            tx.commit().await.expect("commit");

            engine.release_put_off_stitches().await.expect("release");
            let after = now_ms();
            let (due,): (i64,) = on_pool!(db, |pool| {
                sqlx::query_as(
                "SELECT COUNT(*) FROM stitch_queue WHERE stitch_ticket IS NULL AND next_stitch_at <= $1"
            )
            .bind(after)
            .fetch_one(pool)
            .await
            .expect("due")
            });
            assert_eq!(
                due,
                i64::try_from(put_off).expect("count"),
                "{}",
                kind.name()
            );
            // The leased rows, still there with their own time.
            let (leased, leased_at): (i64, i64) = on_pool!(db, |pool| {
                sqlx::query_as(
                "SELECT COUNT(*), MIN(next_stitch_at) FROM stitch_queue WHERE stitch_ticket = 'ticket'"
            )
            .fetch_one(pool)
            .await
            .expect("leased")
            });
            assert_eq!(leased, 7, "{}", kind.name());
            assert_eq!(leased_at, now + STITCH_LEASE_MS / 2, "{}", kind.name());
            tokio::time::timeout(Duration::from_secs(1), engine.wake.stitching.notified())
                .await
                .expect("the stitchers were woken");
        }
    }
}
