//! One stitch batch: claim due queue rows under a lease and a ticket, load
//! everything the batch needs with a few set-based queries, assemble the final
//! entities, and write the changed ones with their change-log entries in one
//! transaction.

use std::collections::{HashMap, HashSet};

use greenroom_backend_plugin_api::BackendError;
use sqlx::AssertSqlSafe;
use tokio_util::sync::CancellationToken;

use super::StitchStats;
use super::assemble::{StitchInput, assemble};
use super::sql::{IN_CHUNK, placeholders, tx_pairs, value_tuples};
use crate::db::{
    ChangeLogEntry, ChangeOp, Tx, append_change_log, limit_wal, now_ms, on_pool, on_tx,
};
use crate::engine::CatalogEngine;
use crate::parallel::map_on_cores;

/// Queue rows claimed per batch.
const BATCH_SIZE: i64 = 2000;
/// How long a claim is ours; after that another worker may take the rows over.
pub(crate) const LEASE_MS: i64 = 60_000;
/// How far ahead a draining claim looks: rows put off by processing are due
/// within a second or so, leased rows only when their lease runs out.
const DRAIN_HORIZON_MS: i64 = 10_000;
/// Attempts per batch: a PostgreSQL deadlock with a concurrent deletion aborts
/// one transaction, and the batch is simply redone.
const ATTEMPTS: usize = 3;
/// Final-entity rows per multi-row insert (five parameters each, 8,000 in
/// all, as processing's inserts carry).
const WRITE_CHUNK: usize = 1600;

/// Claimed queue rows.
#[derive(Debug)]
struct Claim {
    ticket: String,
    lease_until: i64,
    refs: Vec<String>,
}

/// One entity's `refresh_state` columns that stitching reads.
#[derive(Debug)]
struct StateRow {
    entity_id: String,
    processed: Option<String>,
    errors: Option<String>,
}

/// A state row as the plan reads it: ref, id, processed entity, errors, and 1
/// when some parent emits the entity.
type StateWithParent = (String, String, Option<String>, Option<String>, i64);

/// What one ref's assembly starts from: the ref, its state row (if any), the
/// relations whose source it is, and whether a parent emits it.
type AssemblyInput = (String, Option<StateRow>, Vec<(String, String)>, bool);

/// A final entity ready to write.
#[derive(Debug)]
struct Stitched {
    entity_id: String,
    hash: String,
    json: String,
}

/// What the read phase found for one claimed ref.
#[derive(Debug)]
enum Planned {
    /// No `refresh_state` row: any final entity for the ref must go.
    Gone,
    /// A row that never processed successfully: nothing visible changes.
    Unprocessed,
    /// The assembled final entity.
    Ready(Stitched),
}

impl CatalogEngine {
    /// Stitches batches back to back until a claim finds nothing due (or
    /// `stop` is cancelled), overlapping each batch's write with the read of
    /// the next one: reads do not wait for the writer on either database.
    /// With `drain`, rows put off to a later time count as due too.
    pub(super) async fn stitch_while_busy(
        &self,
        stop: Option<&CancellationToken>,
        drain: bool,
    ) -> Result<StitchStats, BackendError> {
        let mut total = StitchStats::default();
        let Some(claim) = self.claim_stitch_batch(drain).await? else {
            return Ok(total);
        };
        let plans = self.plan_stitches(&claim.refs).await;
        let mut current = (claim, plans);
        loop {
            let (claim, plans) = current;
            // The next claim comes before this batch's write, so that on SQLite
            // it does not queue behind the write lock.
            let next_claim = if stop.is_some_and(CancellationToken::is_cancelled) {
                None
            } else {
                self.claim_stitch_batch(drain).await?
            };
            let (written, next) = match next_claim {
                Some(next_claim) => {
                    let (written, next_plans) = tokio::join!(
                        self.write_with_retries(&claim, plans),
                        self.plan_stitches(&next_claim.refs)
                    );
                    (written, Some((next_claim, next_plans)))
                }
                None => (self.write_with_retries(&claim, plans).await, None),
            };
            // On failure the claims still held return to the queue when their
            // lease runs out.
            limit_wal(&self.db, &self.wal).await;
            total.add(written?);
            match next {
                Some(next) => current = next,
                None => return Ok(total),
            }
        }
    }

    /// When the earliest row still queued becomes due (`None` for an empty queue).
    pub(super) async fn next_stitch_due(&self) -> Result<Option<i64>, BackendError> {
        let row: (Option<i64>,) = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT MIN(next_stitch_at) FROM stitch_queue"
        )
        .fetch_one(pool)
        .await)?;
        Ok(row.0)
    }

    /// Writes a planned batch; a failed attempt (a PostgreSQL deadlock with a
    /// concurrent deletion, say) is planned and written again.
    async fn write_with_retries(
        &self,
        claim: &Claim,
        plans: Result<HashMap<String, Planned>, BackendError>,
    ) -> Result<StitchStats, BackendError> {
        let mut plans = plans;
        let mut attempt = 1;
        loop {
            let result = match plans {
                Ok(plans) => self.write_planned(claim, &plans).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(stats) => return Ok(stats),
                Err(e) if attempt < ATTEMPTS => {
                    self.logger
                        .debug(&format!("Stitch batch failed, retrying: {e}"));
                    attempt += 1;
                    plans = self.plan_stitches(&claim.refs).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Leases up to [`BATCH_SIZE`] due rows to a fresh ticket; with `drain`,
    /// rows put off to a later time too (but not rows another worker leased).
    async fn claim_stitch_batch(&self, drain: bool) -> Result<Option<Claim>, BackendError> {
        let now = now_ms();
        let due_by = if drain { now + DRAIN_HORIZON_MS } else { now };
        let lease_until = now + LEASE_MS;
        let ticket = uuid::Uuid::new_v4().to_string();
        // PostgreSQL workers skip each other's rows; SQLite runs one writer at a
        // time, so the statement alone is atomic there.
        let lock = if self.db.is_postgres() {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE stitch_queue SET next_stitch_at = $1, stitch_ticket = $2 WHERE entity_ref IN \
             (SELECT entity_ref FROM stitch_queue WHERE next_stitch_at <= $3 \
             ORDER BY next_stitch_at LIMIT $4{lock}) RETURNING entity_ref"
        );
        let rows: Vec<(String,)> = on_pool!(&self.db, |pool| sqlx::query_as(AssertSqlSafe(
            crate::db::adapt(&pool, sql)
        ))
        .bind(lease_until)
        .bind(&ticket)
        .bind(due_by)
        .bind(BATCH_SIZE)
        .fetch_all(pool)
        .await)?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut refs: Vec<String> = rows.into_iter().map(|(r,)| r).collect();
        refs.sort_unstable();
        Ok(Some(Claim {
            ticket,
            lease_until,
            refs,
        }))
    }

    /// Writes the changed final entities of a planned batch, its change-log
    /// entries, and releases its queue rows, in one transaction.
    async fn write_planned(
        &self,
        claim: &Claim,
        plans: &HashMap<String, Planned>,
    ) -> Result<StitchStats, BackendError> {
        let mut stats = StitchStats {
            claimed: claim.refs.len(),
            ..StitchStats::default()
        };

        let mut tx = Tx::begin(&self.db).await?;
        let pg = tx.is_postgres();

        let (live, owned, finals) = if pg {
            self.claim_state_locked(&mut tx, claim).await?
        } else {
            claim_state_sqlite(&mut tx, claim).await?
        };
        let owned_refs: Vec<&String> = claim.refs.iter().filter(|r| owned.contains(*r)).collect();

        let mut writes: Vec<(&str, &Stitched)> = Vec::new();
        let mut deletes: Vec<(&str, &str)> = Vec::new();
        for entity_ref in owned_refs {
            let Some(plan) = plans.get(entity_ref.as_str()) else {
                continue;
            };
            let current = finals.get(entity_ref.as_str());
            let live_id = live.get(entity_ref.as_str());
            match plan {
                Planned::Gone | Planned::Unprocessed if live_id.is_none() => {
                    if let Some((id, _)) = current {
                        deletes.push((entity_ref, id));
                    }
                }
                // A row created after the read: its creator queued it again.
                Planned::Gone => {}
                Planned::Unprocessed => stats.unchanged += 1,
                Planned::Ready(stitched) => {
                    if live_id != Some(&stitched.entity_id) {
                        // Deleted or replaced since the read; whoever changed it
                        // queued the ref again (or removed its final entity).
                        if live_id.is_none()
                            && let Some((id, _)) = current
                        {
                            deletes.push((entity_ref, id));
                        }
                        continue;
                    }
                    match current {
                        Some((id, hash)) if *id == stitched.entity_id && *hash == stitched.hash => {
                            stats.unchanged += 1;
                        }
                        Some((id, _)) if *id != stitched.entity_id => {
                            deletes.push((entity_ref, id));
                            writes.push((entity_ref, stitched));
                        }
                        _ => writes.push((entity_ref, stitched)),
                    }
                }
            }
        }

        for chunk in deletes.chunks(IN_CHUNK) {
            let sql = format!(
                "DELETE FROM final_entities WHERE entity_id IN ({})",
                placeholders(1, chunk.len())
            );
            on_tx!(&mut tx, |conn| {
                let mut q = sqlx::query(AssertSqlSafe(crate::db::adapt(&conn, sql)));
                for (_, id) in chunk {
                    q = q.bind(*id);
                }
                q.execute(conn).await.map(drop)
            })?;
        }

        let now = now_ms();
        for chunk in writes.chunks(WRITE_CHUNK) {
            let sql = format!(
                "INSERT INTO final_entities (entity_id, entity_ref, hash, final_entity, last_updated_at) \
                 VALUES {} ON CONFLICT (entity_id) DO UPDATE SET entity_ref = excluded.entity_ref, \
                 hash = excluded.hash, final_entity = excluded.final_entity, \
                 last_updated_at = excluded.last_updated_at",
                value_tuples(chunk.len(), 5)
            );
            on_tx!(&mut tx, |conn| {
                let mut q = sqlx::query(AssertSqlSafe(crate::db::adapt(&conn, sql)));
                for (entity_ref, s) in chunk {
                    q = q
                        .bind(&s.entity_id)
                        .bind(*entity_ref)
                        .bind(&s.hash)
                        .bind(&s.json)
                        .bind(now);
                }
                q.execute(conn).await.map(drop)
            })?;
        }

        // A ref queued again while we worked had its time moved up from our
        // lease; its row stays, so the newer state gets stitched too.
        on_tx!(&mut tx, |conn| sqlx::query(
            "DELETE FROM stitch_queue WHERE stitch_ticket = $1 AND next_stitch_at = $2"
        )
        .bind(&claim.ticket)
        .bind(claim.lease_until)
        .execute(conn)
        .await
        .map(drop))?;

        let mut log: Vec<ChangeLogEntry> = Vec::with_capacity(deletes.len() + writes.len());
        log.extend(deletes.iter().map(|(entity_ref, id)| ChangeLogEntry {
            entity_ref: (*entity_ref).to_owned(),
            entity_id: Some((*id).to_owned()),
            op: ChangeOp::Delete,
            hash: None,
        }));
        log.extend(writes.iter().map(|(entity_ref, s)| ChangeLogEntry {
            entity_ref: (*entity_ref).to_owned(),
            entity_id: Some(s.entity_id.clone()),
            op: ChangeOp::Upsert,
            hash: Some(s.hash.clone()),
        }));
        append_change_log(&mut tx, &log).await?;
        tx.commit().await?;
        if !log.is_empty() {
            self.wake.follower.notify_one();
        }

        stats.written = writes.len();
        stats.deleted = deletes
            .iter()
            .filter(|(r, _)| !writes.iter().any(|(w, _)| w == r))
            .count();
        Ok(stats)
    }

    /// What the write of a claimed batch checks, on PostgreSQL: the live entity id of
    /// each claimed ref, the refs whose queue row is still ours, and the current final
    /// entities of those. The rows are locked in the order every other writer locks
    /// them: `refresh_state` first (so that a concurrent deletion either finishes first
    /// or waits for us), then the queue rows in ref order.
    async fn claim_state_locked(
        &self,
        tx: &mut Tx,
        claim: &Claim,
    ) -> Result<ClaimState, BackendError> {
        let live: HashMap<String, String> = tx_pairs(
            tx,
            "SELECT entity_ref, entity_id FROM refresh_state WHERE entity_ref IN ({}) FOR KEY SHARE",
            &claim.refs,
        )
        .await?
        .into_iter()
        .collect();

        // Rows another worker took over (after our lease ran out) are its job now.
        // (Looked up by key: the ticket column has no index.)
        let mut owned: HashSet<String> = HashSet::with_capacity(claim.refs.len());
        for chunk in claim.refs.chunks(IN_CHUNK) {
            let rows: Vec<(String,)> = ticket_rows(
                tx,
                // Rows are locked in ref order (the claim is sorted), the order
                // `enqueue_stitch` locks them in, so that the two cannot deadlock.
                "SELECT entity_ref FROM stitch_queue WHERE entity_ref IN ({}) AND stitch_ticket = $1 \
                 ORDER BY entity_ref FOR UPDATE",
                &claim.ticket,
                chunk,
            )
            .await?;
            owned.extend(rows.into_iter().map(|(r,)| r));
        }

        let mut finals: HashMap<String, (String, String)> = HashMap::new();
        let owned_refs: Vec<&String> = claim.refs.iter().filter(|r| owned.contains(*r)).collect();
        for chunk in owned_refs.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT entity_ref, entity_id, hash FROM final_entities WHERE entity_ref IN ({})",
                placeholders(1, chunk.len())
            );
            let rows: Vec<(String, String, String)> = on_tx!(tx, |conn| {
                let mut q = sqlx::query_as(AssertSqlSafe(crate::db::adapt(&conn, sql)));
                for r in chunk {
                    q = q.bind(*r);
                }
                q.fetch_all(conn).await
            })?;
            finals.extend(rows.into_iter().map(|(r, id, hash)| (r, (id, hash))));
        }
        Ok((live, owned, finals))
    }

    /// The read phase: a few set-based queries for the whole batch, then the
    /// assembly of every final entity (outside any transaction, so writers are
    /// not held up by it).
    async fn plan_stitches(
        &self,
        refs: &[String],
    ) -> Result<HashMap<String, Planned>, BackendError> {
        let mut states: HashMap<String, StateRow> = HashMap::with_capacity(refs.len());
        let mut relations: HashMap<String, Vec<(String, String)>> = HashMap::new();
        let mut with_parent: HashSet<String> = HashSet::with_capacity(refs.len());
        for chunk in refs.chunks(IN_CHUNK) {
            let list = placeholders(1, chunk.len());
            // Whether a parent emits the entity comes with its state, in the
            // same row: one row per ref instead of two. A scalar subquery and
            // not `EXISTS`: PostgreSQL may answer an `EXISTS` by hashing every
            // edge of the table for each batch (100k rows, ~20 ms, where the
            // index needs ~5 µs a ref).
            let sql = format!(
                "SELECT entity_ref, entity_id, processed_entity, errors, \
                 CAST(COALESCE((SELECT 1 FROM refresh_state_references p \
                 WHERE p.target_entity_ref = refresh_state.entity_ref LIMIT 1), 0) AS BIGINT) \
                 FROM refresh_state WHERE entity_ref IN ({list})"
            );
            let rows: Vec<StateWithParent> = on_pool!(&self.db, |pool| {
                let mut q = sqlx::query_as(AssertSqlSafe(crate::db::adapt(&pool, sql)));
                for r in chunk {
                    q = q.bind(r);
                }
                q.fetch_all(pool).await
            })?;
            for (entity_ref, entity_id, processed, errors, has_parent) in rows {
                if has_parent != 0 {
                    with_parent.insert(entity_ref.clone());
                }
                states.insert(
                    entity_ref,
                    StateRow {
                        entity_id,
                        processed,
                        errors,
                    },
                );
            }

            // One row per source, its relations as a JSON array of
            // `[type, target]` pairs: the SQLite driver hands every row from its
            // worker thread to the caller on its own, and at six relations per
            // entity (thousands for a big group) that hand-off, not the read,
            // was most of the query's time. PostgreSQL streams rows in bulk and
            // reads them one per relation.
            let sql = if self.db.is_postgres() {
                format!(
                    "SELECT source_entity_ref, type, target_entity_ref FROM relations \
                     WHERE source_entity_ref IN ({list})"
                )
            } else {
                format!(
                    "SELECT source_entity_ref, '', json_group_array(json_array(type, target_entity_ref)) \
                     FROM relations WHERE source_entity_ref IN ({list}) GROUP BY source_entity_ref"
                )
            };
            let rows: Vec<(String, String, String)> = on_pool!(&self.db, |pool| {
                let mut q = sqlx::query_as(AssertSqlSafe(crate::db::adapt(&pool, sql)));
                for r in chunk {
                    q = q.bind(r);
                }
                q.fetch_all(pool).await
            })?;
            if self.db.is_postgres() {
                for (source, kind, target) in rows {
                    relations.entry(source).or_default().push((kind, target));
                }
            } else {
                for (source, _, pairs) in rows {
                    let pairs: Vec<(String, String)> =
                        serde_json::from_str(&pairs).map_err(|e| {
                            BackendError::internal(format!(
                                "relations of {source} could not be read: {e}"
                            ))
                        })?;
                    relations.entry(source).or_default().extend(pairs);
                }
            }
        }

        // Assembly (parse, add relations, hash, serialise) is CPU work of a
        // millisecond or so per hundred entities; it runs off the async threads,
        // on every core (`map_on_cores`), so that the plan of the next
        // batch does not become the stitcher's critical path while the current
        // one is written.
        let work: Vec<AssemblyInput> = refs
            .iter()
            .map(|entity_ref| {
                let state = states.remove(entity_ref);
                let rels = relations.remove(entity_ref).unwrap_or_default();
                let has_parent = with_parent.contains(entity_ref);
                (entity_ref.clone(), state, rels, has_parent)
            })
            .collect();
        let planned = map_on_cores(work, |(entity_ref, state, rels, has_parent)| {
            (entity_ref, plan_one(state, rels, has_parent))
        })
        .await
        .map_err(|e| BackendError::internal(format!("stitch assembly failed: {e}")))?;
        let mut plans = HashMap::with_capacity(refs.len());
        for (entity_ref, plan) in planned {
            let plan = plan.unwrap_or_else(|| {
                self.logger.warn(&format!(
                    "Cannot stitch {entity_ref}: its processed entity is not a JSON object"
                ));
                Planned::Unprocessed
            });
            plans.insert(entity_ref, plan);
        }
        Ok(plans)
    }
}

/// What the write of a claimed batch checks (see `claim_state_locked`): live entity
/// ids by ref, the refs whose queue row still carries the claim's ticket, and their
/// current final entities (id and hash) by ref.
type ClaimState = (
    HashMap<String, String>,
    HashSet<String>,
    HashMap<String, (String, String)>,
);

/// Reads the rows of `sql`, whose `$1` is a claim's ticket and whose `{}` becomes
/// the placeholders of `refs`, from `$2` on. (The shared helpers in `sql.rs` bind a
/// bare list only.)
async fn ticket_rows<R>(
    tx: &mut Tx,
    sql: &str,
    ticket: &str,
    refs: &[String],
) -> Result<Vec<R>, BackendError>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    let sql = sql.replacen("{}", &placeholders(2, refs.len()), 1);
    Ok(on_tx!(tx, |conn| {
        let mut q = sqlx::query_as(AssertSqlSafe(crate::db::adapt(&conn, sql))).bind(ticket);
        for r in refs {
            q = q.bind(r);
        }
        q.fetch_all(conn).await
    })?)
}

/// The same as `claim_state_locked`, on SQLite: its one writer holds the database
/// from `BEGIN IMMEDIATE` on, so nothing needs locking, and one query per chunk
/// answers all three questions. (Three queries per chunk were a third of each
/// stitch write at 100k entities.)
async fn claim_state_sqlite(tx: &mut Tx, claim: &Claim) -> Result<ClaimState, BackendError> {
    let mut live = HashMap::with_capacity(claim.refs.len());
    let mut owned = HashSet::with_capacity(claim.refs.len());
    let mut finals = HashMap::with_capacity(claim.refs.len());
    for chunk in claim.refs.chunks(IN_CHUNK) {
        type Row = (String, Option<String>, Option<String>, Option<String>);
        let rows: Vec<Row> = ticket_rows(
            tx,
            "SELECT q.entity_ref, s.entity_id, f.entity_id, f.hash FROM stitch_queue q \
             LEFT JOIN refresh_state s ON s.entity_ref = q.entity_ref \
             LEFT JOIN final_entities f ON f.entity_ref = q.entity_ref \
             WHERE q.stitch_ticket = $1 AND q.entity_ref IN ({})",
            &claim.ticket,
            chunk,
        )
        .await?;
        for (entity_ref, live_id, final_id, final_hash) in rows {
            if let Some(id) = live_id {
                live.insert(entity_ref.clone(), id);
            }
            if let (Some(id), Some(hash)) = (final_id, final_hash) {
                finals.insert(entity_ref.clone(), (id, hash));
            }
            owned.insert(entity_ref);
        }
    }
    Ok((live, owned, finals))
}

/// The plan for one claimed ref from what the read phase found for it; `None`
/// when its processed entity is not a JSON object (the caller logs it and treats
/// the ref as unprocessed).
fn plan_one(
    state: Option<StateRow>,
    mut rels: Vec<(String, String)>,
    has_parent: bool,
) -> Option<Planned> {
    match state {
        None => Some(Planned::Gone),
        Some(StateRow {
            processed: None, ..
        }) => Some(Planned::Unprocessed),
        Some(StateRow {
            entity_id,
            processed: Some(processed),
            errors,
        }) => {
            rels.sort_unstable();
            rels.dedup();
            let parsed = serde_json::from_str(&processed).ok();
            let assembled = parsed.and_then(|processed| {
                assemble(StitchInput {
                    entity_id: &entity_id,
                    processed,
                    errors: errors.as_deref(),
                    relations: &rels,
                    has_parent,
                })
            });
            assembled.map(|a| {
                Planned::Ready(Stitched {
                    json: a.entity.to_string(),
                    hash: a.hash,
                    entity_id,
                })
            })
        }
    }
}
