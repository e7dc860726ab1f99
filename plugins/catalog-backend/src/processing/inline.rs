//! New children processed in their parent's write: when a processed batch brings
//! many entities the catalog has never stored (a bulk load), they are processed
//! at once, from the texts already in memory, and each is written once, as a
//! processed row with its relations and refresh keys.
//!
//! The ordinary path inserts each new child unprocessed, claims it again in a
//! later batch, reads its text back, processes it and rewrites its row. For a
//! Location that brings the whole catalog, that claim and that rewrite were
//! two of the writer's five statements per batch (see `docs/performance.md`,
//! "Session 11"). The children are written in transactions of their own,
//! [`SLICE`] at a time with their ownership edges, each slice processed while
//! the previous one is written, *before* the parent's own write: that write
//! then finds every child stored under its location key, with the same text
//! and edge, as it finds known children. Their stitches are put off, as a
//! backlog's are, and released once the parent's write is done. A crash
//! between the two leaves processed children whose parent has not recorded
//! its own result yet; the parent's next run does, as it would with any child
//! it finds already stored, and the put-off stitches fall due on their own.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use greenroom_backend_plugin_api::BackendError;

use super::mutations::stored_refresh_key;
use super::sql::{Arg, col, fetch, fetch_in, fetch_in_pool, insert_rows, tuples};
use super::texts::Unpacker;
use super::worker::{BUSY_STITCH_DELAY_MS, Claimed, ClaimedBatch, Done};
use crate::db::{Tx, defer_relation_index_for, enqueue_stitch, limit_wal, now_ms};
use crate::engine::CatalogEngine;

/// Fewer new children than this in a batch go the ordinary way: the inline
/// path pays a look-up and a transaction per slice, which a small location
/// does not win back.
pub(crate) const INLINE_MIN: usize = 1_000;

/// New children processed and written per transaction, as many as a claimed
/// batch. Slices of 8,000 wrote more slowly (6.7–6.9 s against 6.1–6.4 s of
/// slice writes for 100k children: a larger transaction outgrows SQLite's page
/// cache), and slices taken in ref order, which touch fewer pages of the
/// `entity_ref` index, cost more in unpacking than they saved (the texts are
/// packed per file, and ref order visits the files at random).
const SLICE: usize = 2_000;

/// Processed children inserted per statement (ten values each).
const INSERT_ROWS: usize = 500;

/// What the inline write did, for the parent's write that follows.
#[derive(Debug, Default)]
pub(super) struct InlineWrite {
    /// How many children were written processed.
    pub(super) written: usize,
    /// The parents of those children (their edges are written already).
    pub(super) parents: Vec<String>,
}

/// A new child waiting to be processed: its parent's ref and the child.
struct Candidate<'a> {
    parent: &'a str,
    child: &'a super::orchestrator::Child,
}

impl CatalogEngine {
    /// Processes and writes the new children of `parents` (successfully
    /// processed entities of one batch) when there are at least [`INLINE_MIN`]
    /// of them; see the module documentation. Children that are Locations
    /// (their processing reads more files and brings children of its own),
    /// children whose processing fails, and children some other writer stored
    /// first are left to the ordinary path.
    pub(super) async fn write_new_children(
        self: &Arc<Self>,
        parents: &[&Done],
    ) -> Result<InlineWrite, BackendError> {
        let mut out = InlineWrite::default();
        // The first emission of a ref is the one the parent's write accepts
        // (later ones with another location key are conflicts it reports).
        let mut seen: HashSet<&str> = HashSet::new();
        let mut candidates: Vec<Candidate<'_>> = Vec::new();
        for parent in parents {
            for child in &parent.outcome.children {
                if seen.insert(child.entity_ref.as_str())
                    && !child.entity_ref.starts_with("location:")
                {
                    candidates.push(Candidate {
                        parent: &parent.claimed.entity_ref,
                        child,
                    });
                }
            }
        }
        let min = self.inline_min.load(std::sync::atomic::Ordering::Relaxed);
        if candidates.len() < min {
            return Ok(out);
        }
        // Only refs never stored: a stored child may belong to another location,
        // or hold the output of an earlier run that the ordinary path compares.
        let refs: Vec<String> = candidates
            .iter()
            .map(|c| c.child.entity_ref.clone())
            .collect();
        // A read: a refresh_state row another writer adds after it is caught by
        // the insert's conflict clause below.
        let stored: HashSet<String> = fetch_in_pool(
            &self.db,
            "SELECT entity_ref FROM refresh_state WHERE entity_ref IN ({})",
            &[],
            &refs,
            1,
        )
        .await?
        .iter()
        .map(|row| col(row, 0))
        .collect();
        drop(refs);
        candidates.retain(|c| !stored.contains(&c.child.entity_ref));
        if candidates.len() < min {
            return Ok(out);
        }
        let parent_of: HashMap<&str, &str> = candidates
            .iter()
            .map(|c| (c.child.entity_ref.as_str(), c.parent))
            .collect();
        // Sorted: on PostgreSQL the parents' rows are locked in ref order.
        let parent_refs: Vec<String> = {
            let set: BTreeSet<&str> = candidates.iter().map(|c| c.parent).collect();
            set.into_iter().map(str::to_owned).collect()
        };
        let slice = Slice {
            parent_of: &parent_of,
            parent_refs: &parent_refs,
        };

        let slice_len = SLICE;
        let mut unpacker = Unpacker::default();
        let mut slices = candidates.chunks(slice_len);
        let mut remaining = candidates.len();
        let mut ready = match slices.next() {
            Some(slice) => Some(self.run_batch(claimed_slice(slice, &mut unpacker)?).await?),
            None => None,
        };
        let mut first = true;
        while let Some((done, _)) = ready.take() {
            let next = slices
                .next()
                .map(|slice| claimed_slice(slice, &mut unpacker))
                .transpose()?;
            // The next slice is processed while this one is written.
            let written = match next {
                Some(batch) => {
                    let (written, processed) = tokio::join!(
                        self.write_inline_slice(&done, &slice, first, remaining),
                        self.run_batch(batch)
                    );
                    ready = Some(processed?);
                    written?
                }
                None => {
                    self.write_inline_slice(&done, &slice, first, remaining)
                        .await?
                }
            };
            limit_wal(&self.db, &self.wal).await;
            remaining = remaining.saturating_sub(done.len());
            first = false;
            out.written += written;
            if written > 0 && out.parents.is_empty() {
                out.parents.clone_from(&parent_refs);
            }
            self.inline_written
                .fetch_add(written, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(out)
    }

    /// Writes one processed slice in its own transaction: the rows that
    /// processed cleanly, the ownership edges from their parents (a child
    /// without one is an orphan, which the orphan cleaner deletes), their
    /// relations and refresh keys; queues them and the outside sources of their
    /// relations for stitching, put off like a backlog's stitches, since the
    /// relations index may be set aside until the parents' write; and moves the
    /// parents' leases on, so that no other worker claims a parent while its
    /// children are still being written. Returns how many children it wrote.
    async fn write_inline_slice(
        &self,
        done: &[Done],
        slice: &Slice<'_>,
        first: bool,
        remaining: usize,
    ) -> Result<usize, BackendError> {
        let clean: Vec<&Done> = done
            .iter()
            .filter(|d| d.outcome.ok() && d.outcome.children.is_empty() && d.text.is_some())
            .collect();
        if clean.is_empty() {
            return Ok(0);
        }
        let now = now_ms();
        // One time for the slice, as a claimed batch has one lease: the rows
        // then sit together in the `next_update_at` index.
        let next_update_at = self.lease_until(now);
        let mut tx = Tx::begin(&self.db).await?;
        // The parents first: the update locks their rows on PostgreSQL, so a
        // deletion of one waits for this write (and then removes the children
        // through their edges), and it tells which parents are still there.
        let live_parents: HashSet<String> = fetch_in(
            &mut tx,
            "UPDATE refresh_state SET next_update_at = \
             CASE WHEN next_update_at < $1 THEN $1 ELSE next_update_at END \
             WHERE entity_ref IN ({}) RETURNING entity_ref",
            &[Arg::Int(self.lease_until(now))],
            slice.parent_refs,
            1,
        )
        .await?
        .iter()
        .map(|row| col(row, 0))
        .collect();
        let clean: Vec<&Done> = clean
            .into_iter()
            .filter(|d| {
                slice
                    .parent_of
                    .get(d.claimed.entity_ref.as_str())
                    .is_some_and(|p| live_parents.contains(*p))
            })
            .collect();
        if first {
            // Built again when the stitches are released.
            defer_relation_index_for(&mut tx, i64::try_from(remaining).unwrap_or(i64::MAX)).await?;
        }
        let mut inserted: HashSet<String> = HashSet::with_capacity(clean.len());
        for chunk in clean.chunks(INSERT_ROWS) {
            let mut args = Vec::with_capacity(chunk.len() * 10);
            for d in chunk {
                let child_hash = d.claimed.unprocessed_hash.clone().unwrap_or_default();
                args.push(Arg::from(&d.claimed.entity_id));
                args.push(Arg::from(&d.claimed.entity_ref));
                args.push(Arg::from(&d.claimed.unprocessed));
                args.push(Arg::Text(child_hash));
                args.push(Arg::from(d.text.clone()));
                args.push(Arg::from(&d.hash));
                args.push(Arg::from(d.claimed.location_key.clone()));
                args.push(Arg::Int(next_update_at));
                args.push(Arg::Int(now));
            }
            let sql = format!(
                "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity, unprocessed_hash, \
                 processed_entity, result_hash, location_key, next_update_at, last_discovery_at, errors) \
                 VALUES {} ON CONFLICT (entity_ref) DO NOTHING RETURNING entity_ref",
                tuples_with_errors(chunk.len())
            );
            inserted.extend(
                fetch(&mut tx, sql, args, 1)
                    .await?
                    .iter()
                    .map(|r| col(r, 0)),
            );
        }
        let written: Vec<&&Done> = clean
            .iter()
            .filter(|d| inserted.contains(&d.claimed.entity_ref))
            .collect();

        let mut relation_rows = Vec::new();
        let mut key_rows = Vec::new();
        let mut edge_rows = Vec::new();
        // The children and the sources of their relations outside them; the
        // release after the parents' write makes them due.
        let mut queue: Vec<String> = Vec::with_capacity(written.len());
        for d in &written {
            if let Some(parent) = slice.parent_of.get(d.claimed.entity_ref.as_str()) {
                edge_rows.push(vec![Arg::from(*parent), Arg::from(&d.claimed.entity_ref)]);
            }
            queue.push(d.claimed.entity_ref.clone());
            for (source, relation_type, target) in &d.outcome.relations {
                if !slice.parent_of.contains_key(source.as_str()) {
                    queue.push(source.clone());
                }
                relation_rows.push(vec![
                    Arg::from(&d.claimed.entity_id),
                    Arg::from(source),
                    Arg::from(relation_type),
                    Arg::from(target),
                ]);
            }
            for key in &d.outcome.refresh_keys {
                key_rows.push(vec![
                    Arg::from(&d.claimed.entity_id),
                    Arg::Text(stored_refresh_key(key)),
                ]);
            }
        }
        insert_rows(
            &mut tx,
            "INSERT INTO relations (originating_entity_id, source_entity_ref, type, target_entity_ref) VALUES ",
            "",
            4,
            relation_rows,
        )
        .await?;
        insert_rows(
            &mut tx,
            "INSERT INTO refresh_keys (entity_id, key) VALUES ",
            "",
            2,
            key_rows,
        )
        .await?;
        insert_rows(
            &mut tx,
            "INSERT INTO refresh_state_references (source_entity_ref, target_entity_ref) VALUES ",
            "",
            2,
            edge_rows,
        )
        .await?;
        enqueue_stitch(&mut tx, &queue, now + BUSY_STITCH_DELAY_MS).await?;
        tx.commit().await?;
        Ok(written.len())
    }
}

/// What every slice of one inline write shares.
struct Slice<'a> {
    /// Each new child's parent, by the child's ref.
    parent_of: &'a HashMap<&'a str, &'a str>,
    /// The parents, sorted.
    parent_refs: &'a [String],
}

/// `($1, …, $9, '[]'), …`: nine bound values and the empty error list per row.
fn tuples_with_errors(rows: usize) -> String {
    tuples(1, rows, 9).replace(')', ", '[]')")
}

/// A slice of candidates as a claimed batch: fresh time-ordered ids, their
/// texts unpacked, and the parent each will have once its parent's write
/// records it (the parents enter the result hash).
fn claimed_slice(
    slice: &[Candidate<'_>],
    unpacker: &mut Unpacker,
) -> Result<ClaimedBatch, BackendError> {
    let mut claimed = Vec::with_capacity(slice.len());
    let mut parents = HashMap::with_capacity(slice.len());
    for c in slice {
        claimed.push(Claimed {
            entity_id: uuid::Uuid::now_v7().to_string(),
            entity_ref: c.child.entity_ref.clone(),
            unprocessed: unpacker.text(&c.child.text)?,
            result_hash: None,
            unprocessed_hash: Some(c.child.hash.clone()),
            location_key: Some(c.child.location_key.clone()),
        });
        parents.insert(
            c.child.entity_ref.clone(),
            vec![format!("entity:{}", c.parent)],
        );
    }
    Ok((claimed, parents))
}
