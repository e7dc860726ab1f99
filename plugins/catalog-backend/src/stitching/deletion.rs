//! The deletions stitching owns: `DELETE /entities/by-uid/{uid}` (spec §8.11)
//! and the orphan cleanup of `catalog.orphanStrategy: delete` (spec §8.10).
//! Both remove `refresh_state` rows (the cascade takes final entities and
//! refresh keys along, and relations on SQLite; on PostgreSQL relations have no
//! foreign key and are deleted here), drop the processing edges from and to
//! them, queue their relation peers and orphaned children for stitching, and
//! log a `delete` for every final entity that disappeared, in one transaction.

use std::collections::BTreeSet;

use greenroom_backend_plugin_api::BackendError;

use super::sql::{tx_exec, tx_pairs, tx_singles};
use crate::db::{ChangeLogEntry, ChangeOp, Tx, append_change_log, enqueue_stitch, now_ms};
use crate::engine::CatalogEngine;

/// Rounds of orphan deletion per run: each round removes the orphans the
/// previous one left behind (the children of deleted orphans).
const MAX_ORPHAN_ROUNDS: usize = 100;
/// Orphans deleted per transaction.
const ORPHAN_CHUNK: usize = 1000;

/// Removes the given `(entity_id, entity_ref)` rows inside `tx`; appends the
/// change log last, as the change log wants.
async fn remove_entities(tx: &mut Tx, victims: &[(String, String)]) -> Result<(), BackendError> {
    if victims.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = victims.iter().map(|(id, _)| id.clone()).collect();
    let refs: Vec<String> = victims.iter().map(|(_, r)| r.clone()).collect();
    let gone: BTreeSet<&str> = refs.iter().map(String::as_str).collect();

    // Entities whose stitched relations mention the victims: both ends of the
    // relations the victims produced, and the sources of relations aimed at them.
    let mut restitch: BTreeSet<String> = BTreeSet::new();
    for (source, target) in tx_pairs(
        tx,
        "SELECT DISTINCT source_entity_ref, target_entity_ref FROM relations WHERE originating_entity_id IN ({})",
        &ids,
    )
    .await?
    {
        restitch.insert(source);
        restitch.insert(target);
    }
    restitch.extend(
        tx_singles(
            tx,
            "SELECT DISTINCT source_entity_ref FROM relations WHERE target_entity_ref IN ({})",
            &refs,
        )
        .await?,
    );
    // Children lose their edge from the victim and may become orphans, which
    // their final entity shows.
    restitch.extend(
        tx_singles(
            tx,
            "SELECT DISTINCT target_entity_ref FROM refresh_state_references WHERE source_entity_ref IN ({})",
            &refs,
        )
        .await?,
    );
    restitch.retain(|r| !gone.contains(r.as_str()));

    let had_final = tx_pairs(
        tx,
        "SELECT entity_id, entity_ref FROM final_entities WHERE entity_id IN ({})",
        &ids,
    )
    .await?;

    tx_exec(
        tx,
        "DELETE FROM refresh_state_references WHERE source_entity_ref IN ({})",
        &refs,
    )
    .await?;
    tx_exec(
        tx,
        "DELETE FROM refresh_state_references WHERE target_entity_ref IN ({})",
        &refs,
    )
    .await?;
    tx_exec(
        tx,
        "DELETE FROM refresh_state WHERE entity_id IN ({})",
        &ids,
    )
    .await?;
    // After the rows themselves: on PostgreSQL a processing write that holds one
    // of them has committed by now, and what it wrote is seen and removed here.
    // (Relations carry no foreign key on either database: migrations 5 and 6.)
    tx_exec(
        tx,
        "DELETE FROM relations WHERE originating_entity_id IN ({})",
        &ids,
    )
    .await?;

    let restitch: Vec<String> = restitch.into_iter().collect();
    enqueue_stitch(tx, &restitch, now_ms()).await?;

    let log: Vec<ChangeLogEntry> = had_final
        .into_iter()
        .map(|(id, entity_ref)| ChangeLogEntry {
            entity_ref,
            entity_id: Some(id),
            op: ChangeOp::Delete,
            hash: None,
        })
        .collect();
    append_change_log(tx, &log).await
}

impl CatalogEngine {
    /// Deletes the entity whose `metadata.uid` is `uid` (spec §8.11): its direct
    /// parents are forced to reprocess (so a parent that still emits it brings
    /// it back, with a new uid), its relation peers are restitched. An unknown
    /// uid is not an error.
    pub async fn delete_entity_by_uid(&self, uid: &str) -> Result<(), BackendError> {
        let mut tx = Tx::begin(&self.db).await?;
        let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
        let found = tx_pairs(
            &mut tx,
            &format!(
                "SELECT entity_id, entity_ref FROM refresh_state WHERE entity_id IN ({{}}){lock}"
            ),
            &[uid.to_owned()],
        )
        .await?;
        let Some((_, entity_ref)) = found.first() else {
            return Ok(());
        };
        // The sentinel hash makes the parents write their (unchanged) output
        // again, which re-creates a child they still emit.
        let parents = tx_singles(
            &mut tx,
            "SELECT DISTINCT source_entity_ref FROM refresh_state_references \
             WHERE target_entity_ref IN ({}) AND source_entity_ref IS NOT NULL",
            std::slice::from_ref(entity_ref),
        )
        .await?;
        if !parents.is_empty() {
            let now = now_ms();
            tx_exec(
                &mut tx,
                &format!(
                    "UPDATE refresh_state SET result_hash = 'child-was-deleted', next_update_at = {now} \
                     WHERE entity_ref IN ({{}})"
                ),
                &parents,
            )
            .await?;
        }
        remove_entities(&mut tx, &found).await?;
        tx.commit().await
    }

    /// Deletes every entity no processing edge points at, and then the
    /// entities that this orphaned in turn, until none is left (at most 100
    /// rounds). Returns how many entities were deleted. Meant to run every
    /// 30 seconds under `catalog.orphanStrategy: delete`.
    pub async fn delete_orphans(&self) -> Result<usize, BackendError> {
        let mut deleted = 0;
        for _ in 0..MAX_ORPHAN_ROUNDS {
            let candidates: Vec<(String, String)> = crate::db::on_pool!(&self.db, |pool| {
                sqlx::query_as(
                "SELECT entity_id, entity_ref FROM refresh_state r WHERE NOT EXISTS \
                 (SELECT 1 FROM refresh_state_references e WHERE e.target_entity_ref = r.entity_ref)"
            )
            .fetch_all(pool)
            .await
            })?;
            if candidates.is_empty() {
                break;
            }
            let mut round = 0;
            for chunk in candidates.chunks(ORPHAN_CHUNK) {
                let mut tx = Tx::begin(&self.db).await?;
                // Re-check inside the transaction: a parent may have claimed an
                // entity again since the candidates were listed.
                let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
                let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
                let victims = tx_pairs(
                    &mut tx,
                    &format!(
                        "SELECT entity_id, entity_ref FROM refresh_state r WHERE entity_id IN ({{}}) \
                         AND NOT EXISTS (SELECT 1 FROM refresh_state_references e \
                         WHERE e.target_entity_ref = r.entity_ref){lock}"
                    ),
                    &ids,
                )
                .await?;
                remove_entities(&mut tx, &victims).await?;
                tx.commit().await?;
                round += victims.len();
            }
            if round == 0 {
                break;
            }
            deleted += round;
        }
        Ok(deleted)
    }
}
