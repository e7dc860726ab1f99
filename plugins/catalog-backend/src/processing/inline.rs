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
//! [`SLICE`] at a time, each slice processed while the previous one is
//! written, *before* the parent's own write: that write then finds every child
//! stored under its location key, with the same text, and only adds the
//! ownership edges and queues the stitches, as it does for known children.
//! A crash between the two leaves processed children whose parent has not
//! recorded them yet; the parent's next run records them, as it would any
//! child it finds already stored.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use greenroom_backend_plugin_api::BackendError;

use super::mutations::stored_refresh_key;
use super::sql::{Arg, col, exec_in, fetch, fetch_in, insert_rows, tuples};
use super::texts::Unpacker;
use super::worker::{BUSY_STITCH_DELAY_MS, Claimed, ClaimedBatch, Done};
use crate::db::{Tx, defer_relation_index_for, enqueue_stitch, now_ms};
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
    /// Refs the parent's write must queue for stitching besides the children it
    /// records: sources of the children's relations that are not among them.
    pub(super) stitch: BTreeSet<String>,
    /// Whether the SQLite relations source index was set aside here.
    pub(super) deferred_index: bool,
    /// How many children were written processed.
    pub(super) written: usize,
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
        let mut tx = Tx::begin(&self.db).await?;
        let stored: HashSet<String> = fetch_in(
            &mut tx,
            "SELECT entity_ref FROM refresh_state WHERE entity_ref IN ({})",
            &[],
            &refs,
            1,
        )
        .await?
        .iter()
        .map(|row| col(row, 0))
        .collect();
        tx.commit().await?;
        drop(refs);
        candidates.retain(|c| !stored.contains(&c.child.entity_ref));
        if candidates.len() < min {
            return Ok(out);
        }
        let new_refs: HashSet<&str> = candidates
            .iter()
            .map(|c| c.child.entity_ref.as_str())
            .collect();
        let parent_refs: Vec<String> = {
            let set: BTreeSet<&str> = candidates.iter().map(|c| c.parent).collect();
            set.into_iter().map(str::to_owned).collect()
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
                        self.write_inline_slice(&done, &parent_refs, &new_refs, first, remaining),
                        self.run_batch(batch)
                    );
                    ready = Some(processed?);
                    written?
                }
                None => {
                    self.write_inline_slice(&done, &parent_refs, &new_refs, first, remaining)
                        .await?
                }
            };
            remaining = remaining.saturating_sub(done.len());
            first = false;
            out.written += written.written;
            self.inline_written
                .fetch_add(written.written, std::sync::atomic::Ordering::Relaxed);
            out.deferred_index |= written.deferred_index;
            out.stitch.extend(written.stitch);
        }
        Ok(out)
    }

    /// Writes one processed slice in its own transaction: the rows that
    /// processed cleanly, their relations and refresh keys; queues their
    /// outside relation sources for stitching, put off like a backlog's; and
    /// moves the parents' leases on, so that no other worker claims a parent
    /// while its children are still being written.
    async fn write_inline_slice(
        &self,
        done: &[Done],
        parent_refs: &[String],
        new_refs: &HashSet<&str>,
        first: bool,
        remaining: usize,
    ) -> Result<InlineWrite, BackendError> {
        let mut out = InlineWrite::default();
        let clean: Vec<&Done> = done
            .iter()
            .filter(|d| d.outcome.ok() && d.outcome.children.is_empty() && d.text.is_some())
            .collect();
        if clean.is_empty() {
            return Ok(out);
        }
        let now = now_ms();
        // One time for the slice, as a claimed batch has one lease: the rows
        // then sit together in the `next_update_at` index.
        let next_update_at = self.lease_until(now);
        let mut tx = Tx::begin(&self.db).await?;
        if first {
            out.deferred_index =
                defer_relation_index_for(&mut tx, i64::try_from(remaining).unwrap_or(i64::MAX))
                    .await?;
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
        for d in &written {
            for (source, relation_type, target) in &d.outcome.relations {
                if !new_refs.contains(source.as_str()) {
                    out.stitch.insert(source.clone());
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
        // The children themselves are queued by the parent's write, which
        // records them; sources outside them are queued here too, put off, so
        // that a crash before that write still stitches them in time.
        let outside: Vec<String> = out.stitch.iter().cloned().collect();
        enqueue_stitch(&mut tx, &outside, now + BUSY_STITCH_DELAY_MS).await?;
        exec_in(
            &mut tx,
            "UPDATE refresh_state SET next_update_at = $1 WHERE next_update_at < $1 AND entity_ref IN ({})",
            &[Arg::Int(self.lease_until(now))],
            parent_refs,
        )
        .await?;
        tx.commit().await?;
        out.written = written.len();
        Ok(out)
    }
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
