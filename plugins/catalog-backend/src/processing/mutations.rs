//! Entity providers' mutations (spec §8.2): full and delta mutations applied to
//! `refresh_state` and the provider's ownership edges, refresh by key, and the
//! eager deletion of removed roots with every descendant no other root keeps
//! alive (§8.11).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use greenroom_backend_plugin_api::BackendError;
use greenroom_catalog_model::entity::check_envelope;
use greenroom_catalog_model::entity_ref::entity_ref_of;
use greenroom_plugin_catalog_node::{
    DeferredEntity, EntityMutation, EntityProviderConnection, RemovedEntity,
};
use serde_json::Value;

use super::sql::{Arg, col, exec, exec_in, fetch, fetch_in, insert_rows, opt};
use crate::db::{
    ChangeLogEntry, ChangeOp, Tx, append_change_log, enqueue_stitch, hash_json, now_ms,
};
use crate::engine::CatalogEngine;

/// The connection handed to a provider: applies its mutations under its name.
///
/// It holds the engine weakly, so that a provider kept by the engine does not keep
/// the engine alive.
#[derive(Debug, Clone)]
pub struct ProviderConnection {
    engine: Weak<CatalogEngine>,
    source_key: String,
}

impl ProviderConnection {
    /// A connection for the provider named `source_key`.
    pub fn new(engine: &Arc<CatalogEngine>, source_key: impl Into<String>) -> Self {
        Self {
            engine: Arc::downgrade(engine),
            source_key: source_key.into(),
        }
    }

    fn engine(&self) -> Result<Arc<CatalogEngine>, BackendError> {
        self.engine
            .upgrade()
            .ok_or_else(|| BackendError::unavailable("The catalog has shut down"))
    }
}

#[async_trait]
impl EntityProviderConnection for ProviderConnection {
    async fn apply_mutation(&self, mutation: EntityMutation) -> Result<(), BackendError> {
        self.engine()?
            .apply_mutation(&self.source_key, mutation)
            .await
    }

    async fn refresh(&self, keys: Vec<String>) -> Result<(), BackendError> {
        self.engine()?.refresh_keys(&keys).await
    }
}

/// One entity of a mutation, with its canonical ref and hash.
struct Item {
    entity_ref: String,
    entity: Value,
    hash: String,
    location_key: Option<String>,
}

/// How a refresh key is stored: keys longer than 255 characters become their first
/// 180 characters plus a digest of the whole key.
pub(crate) fn stored_refresh_key(key: &str) -> String {
    if key.len() <= 255 {
        return key.to_owned();
    }
    let mut cut = 180;
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    let digest = crate::db::sha1_hex(<sha1::Sha1 as sha1::Digest>::new_with_prefix(
        key.as_bytes(),
    ));
    format!("{}#sha1:{digest}", &key[..cut])
}

fn item(source_key: &str, deferred: DeferredEntity) -> Result<Item, BackendError> {
    let problems = check_envelope(&deferred.entity);
    let entity_ref = entity_ref_of(&deferred.entity).map(|r| r.to_canonical());
    match entity_ref {
        Some(entity_ref) if problems.is_empty() => Ok(Item {
            entity_ref,
            hash: hash_json(&deferred.entity),
            entity: deferred.entity,
            location_key: deferred.location_key,
        }),
        _ => {
            let causes: Vec<String> = problems.into_iter().map(|p| p.message).collect();
            Err(BackendError::input(format!(
                "Entity provider {source_key} emitted an entity whose envelope failed validation; caused by {}",
                causes.join("; ")
            )))
        }
    }
}

impl CatalogEngine {
    /// Applies a provider's mutation (spec §8.2) in one transaction.
    pub async fn apply_mutation(
        &self,
        source_key: &str,
        mutation: EntityMutation,
    ) -> Result<(), BackendError> {
        let (deferred, removed, full) = match mutation {
            EntityMutation::Full { entities } => (entities, Vec::new(), true),
            EntityMutation::Delta { added, removed } => {
                let mut refs = Vec::new();
                for entry in removed {
                    let entity_ref = match entry {
                        RemovedEntity::Entity(deferred) => item(source_key, deferred)?.entity_ref,
                        RemovedEntity::Ref { entity_ref, .. } => entity_ref.to_lowercase(),
                    };
                    refs.push(entity_ref);
                }
                (added, refs, false)
            }
        };
        // Later entries for the same ref win, as a map keyed by ref would.
        let mut items: Vec<Item> = Vec::with_capacity(deferred.len());
        let mut index: HashMap<String, usize> = HashMap::new();
        for deferred in deferred {
            let item = item(source_key, deferred)?;
            match index.get(&item.entity_ref) {
                Some(&i) => items[i] = item,
                None => {
                    index.insert(item.entity_ref.clone(), items.len());
                    items.push(item);
                }
            }
        }
        let refs: Vec<String> = items.iter().map(|i| i.entity_ref.clone()).collect();

        let mut tx = Tx::begin(&self.db).await?;
        let owned: HashSet<String> = if full {
            fetch(
                &mut tx,
                "SELECT target_entity_ref FROM refresh_state_references WHERE source_key = $1".to_owned(),
                vec![Arg::from(source_key)],
                1,
            )
            .await?
        } else {
            let mut both = refs.clone();
            both.extend(removed.iter().cloned());
            fetch_in(
                &mut tx,
                "SELECT target_entity_ref FROM refresh_state_references WHERE source_key = $1 AND target_entity_ref IN ({})",
                &[Arg::from(source_key)],
                &both,
                1,
            )
            .await?
        }
        .iter()
        .map(|row| col(row, 0))
        .collect();
        let existing: HashMap<String, (Option<String>, String)> = fetch_in(
            &mut tx,
            "SELECT entity_ref, location_key, unprocessed_hash FROM refresh_state WHERE entity_ref IN ({})",
            &[],
            &refs,
            3,
        )
        .await?
        .iter()
        .map(|row| (col(row, 0), (opt(row, 1), col(row, 2))))
        .collect();

        let wanted: HashSet<&String> = refs.iter().collect();
        let mut to_remove: Vec<String> = if full {
            owned
                .iter()
                .filter(|r| !wanted.contains(r))
                .cloned()
                .collect()
        } else {
            removed
        };
        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        let mut new_edges = Vec::new();
        for item in items {
            let owned_here = owned.contains(&item.entity_ref);
            match existing.get(&item.entity_ref) {
                None => {
                    new_edges.push(item.entity_ref.clone());
                    inserts.push(item);
                }
                Some((stored_key, _)) if owned_here && *stored_key != item.location_key => {
                    // Moved to another origin: a new entity, with a new uid.
                    to_remove.push(item.entity_ref.clone());
                    inserts.push(item);
                }
                Some((stored_key, stored_hash))
                    if stored_key.is_none() || *stored_key == item.location_key =>
                {
                    if !owned_here {
                        new_edges.push(item.entity_ref.clone());
                    }
                    if *stored_hash != item.hash {
                        updates.push(item);
                    }
                }
                Some((stored_key, _)) => self.logger.warn(&format!(
                    "Source {source_key} detected conflicting entityRef {} already referenced by {} and now also {}",
                    item.entity_ref,
                    stored_key.as_deref().unwrap_or(""),
                    item.location_key.as_deref().unwrap_or("")
                )),
            }
        }

        let mut change_log = Vec::new();
        if !to_remove.is_empty() {
            let removed = self
                .delete_with_pruning(&mut tx, &to_remove, Some(source_key), &mut change_log)
                .await?;
            // A pruned row that this mutation also carries comes back as new.
            let (gone, kept): (Vec<Item>, Vec<Item>) = updates
                .into_iter()
                .partition(|i| removed.contains(&i.entity_ref));
            updates = kept;
            inserts.extend(gone);
        }
        let now = now_ms();
        insert_rows(
            &mut tx,
            "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity, unprocessed_hash, errors, \
             location_key, next_update_at, last_discovery_at) VALUES ",
            "ON CONFLICT (entity_ref) DO NOTHING",
            8,
            inserts
                .iter()
                .map(|i| {
                    vec![
                        // Time-ordered ids (UUIDv7): rows keyed by entity id (the
                        // state's primary key, relations, final entities) are then
                        // appended to their indexes instead of landing on random pages.
                        Arg::Text(uuid::Uuid::now_v7().to_string()),
                        Arg::from(&i.entity_ref),
                        Arg::Text(i.entity.to_string()),
                        Arg::from(&i.hash),
                        Arg::from("[]"),
                        Arg::OptText(i.location_key.clone()),
                        Arg::Int(now),
                        Arg::Int(now),
                    ]
                })
                .collect(),
        )
        .await?;
        for item in &updates {
            exec(
                &mut tx,
                "UPDATE refresh_state SET unprocessed_entity = $1, unprocessed_hash = $2, location_key = $3, \
                 next_update_at = $4, last_discovery_at = $4 \
                 WHERE entity_ref = $5 AND (location_key IS NULL OR location_key = $3)"
                    .to_owned(),
                vec![
                    Arg::Text(item.entity.to_string()),
                    Arg::from(&item.hash),
                    Arg::OptText(item.location_key.clone()),
                    Arg::Int(now),
                    Arg::from(&item.entity_ref),
                ],
            )
            .await?;
        }
        // Re-inserted roots lost their edge with the pruning; give every insert one.
        let mut edges: Vec<String> = new_edges;
        edges.extend(inserts.iter().map(|i| i.entity_ref.clone()));
        edges.sort();
        edges.dedup();
        exec_in(
            &mut tx,
            "DELETE FROM refresh_state_references WHERE source_key = $1 AND target_entity_ref IN ({})",
            &[Arg::from(source_key)],
            &edges,
        )
        .await?;
        insert_rows(
            &mut tx,
            "INSERT INTO refresh_state_references (source_key, target_entity_ref) VALUES ",
            "",
            2,
            edges
                .iter()
                .map(|r| vec![Arg::from(source_key), Arg::from(r)])
                .collect(),
        )
        .await?;
        append_change_log(&mut tx, &change_log).await?;
        tx.commit().await?;
        if !change_log.is_empty() {
            self.wake.follower.notify_one();
        }
        Ok(())
    }

    /// Schedules every entity that registered one of `keys` for processing now.
    pub async fn refresh_keys(&self, keys: &[String]) -> Result<(), BackendError> {
        let keys: Vec<String> = keys.iter().map(|k| stored_refresh_key(k)).collect();
        let mut tx = Tx::begin(&self.db).await?;
        exec_in(
            &mut tx,
            "UPDATE refresh_state SET next_update_at = $1 \
             WHERE entity_id IN (SELECT entity_id FROM refresh_keys WHERE key IN ({}))",
            &[Arg::Int(now_ms())],
            &keys,
        )
        .await?;
        tx.commit().await
    }

    /// Deletes `roots` and every descendant not kept alive by another root or
    /// provider (spec §8.11), with the edges of `source_key` to the roots. Queues
    /// the relation peers of deleted entities for stitching, and adds a change-log
    /// `delete` for each deleted entity that had a final entity to `change_log`
    /// (for the caller to append last). Returns the deleted refs.
    pub(crate) async fn delete_with_pruning(
        &self,
        tx: &mut Tx,
        roots: &[String],
        source_key: Option<&str>,
        change_log: &mut Vec<ChangeLogEntry>,
    ) -> Result<HashSet<String>, BackendError> {
        let root_set: HashSet<String> = roots.iter().cloned().collect();
        let mut all: HashSet<String> = root_set.clone();
        let mut frontier: Vec<String> = roots.to_vec();
        while !frontier.is_empty() {
            let rows = fetch_in(
                tx,
                "SELECT target_entity_ref FROM refresh_state_references WHERE source_entity_ref IN ({})",
                &[],
                &frontier,
                1,
            )
            .await?;
            frontier = rows
                .iter()
                .map(|r| col(r, 0))
                .filter(|r| all.insert(r.clone()))
                .collect();
        }
        let candidates: Vec<String> = all.iter().cloned().collect();
        let incoming = fetch_in(
            tx,
            "SELECT source_key, source_entity_ref, target_entity_ref FROM refresh_state_references \
             WHERE target_entity_ref IN ({})",
            &[],
            &candidates,
            3,
        )
        .await?;
        // Alive: supported from outside the candidate set, then whatever an alive
        // candidate still emits.
        let mut alive: HashSet<String> = HashSet::new();
        let mut children_of: HashMap<String, Vec<String>> = HashMap::new();
        for row in &incoming {
            let target = col(row, 2);
            match (opt(row, 0), opt(row, 1)) {
                (Some(key), _) => {
                    if !(Some(key.as_str()) == source_key && root_set.contains(&target)) {
                        alive.insert(target);
                    }
                }
                (None, Some(source)) if !all.contains(&source) => {
                    alive.insert(target);
                }
                (None, Some(source)) => children_of.entry(source).or_default().push(target),
                (None, None) => {}
            }
        }
        let mut stack: Vec<String> = alive.iter().cloned().collect();
        while let Some(node) = stack.pop() {
            for child in children_of.get(&node).into_iter().flatten() {
                if alive.insert(child.clone()) {
                    stack.push(child.clone());
                }
            }
        }
        let removed: Vec<String> = candidates
            .into_iter()
            .filter(|r| !alive.contains(r))
            .collect();

        if let Some(key) = source_key {
            exec_in(
                tx,
                "DELETE FROM refresh_state_references WHERE source_key = $1 AND target_entity_ref IN ({})",
                &[Arg::from(key)],
                roots,
            )
            .await?;
        }
        if removed.is_empty() {
            return Ok(HashSet::new());
        }
        let finals = fetch_in(
            tx,
            "SELECT entity_ref, entity_id FROM final_entities WHERE entity_ref IN ({})",
            &[],
            &removed,
            2,
        )
        .await?;
        let removed_set: HashSet<String> = removed.iter().cloned().collect();
        let mut peers: Vec<String> = fetch_in(
            tx,
            "SELECT DISTINCT r.source_entity_ref FROM relations r \
             JOIN refresh_state s ON s.entity_id = r.originating_entity_id WHERE s.entity_ref IN ({})",
            &[],
            &removed,
            1,
        )
        .await?
        .iter()
        .map(|r| col(r, 0))
        .filter(|r| !removed_set.contains(r))
        .collect();
        peers.sort();
        peers.dedup();
        let removed_ids: Vec<String> = fetch_in(
            tx,
            "DELETE FROM refresh_state WHERE entity_ref IN ({}) RETURNING entity_id",
            &[],
            &removed,
            1,
        )
        .await?
        .iter()
        .map(|r| col(r, 0))
        .collect();
        // After the rows themselves: on PostgreSQL a processing write that holds one
        // of them has committed by now, and what it wrote is seen and removed here.
        // (Relations carry no foreign key on either database: migrations 5 and 6.)
        exec_in(
            tx,
            "DELETE FROM relations WHERE originating_entity_id IN ({})",
            &[],
            &removed_ids,
        )
        .await?;
        exec_in(
            tx,
            "DELETE FROM refresh_state_references WHERE source_entity_ref IN ({})",
            &[],
            &removed,
        )
        .await?;
        exec_in(
            tx,
            "DELETE FROM refresh_state_references WHERE target_entity_ref IN ({})",
            &[],
            &removed,
        )
        .await?;
        enqueue_stitch(tx, &peers, now_ms()).await?;
        change_log.extend(finals.iter().map(|row| ChangeLogEntry {
            entity_ref: col(row, 0),
            entity_id: opt(row, 1),
            op: ChangeOp::Delete,
            hash: None,
        }));
        Ok(removed_set)
    }

    /// Removes the entities of providers that are no longer installed
    /// (`catalog.orphanProviderStrategy: delete`, the default).
    pub(crate) async fn remove_unknown_providers(&self) -> Result<(), BackendError> {
        let mut known: HashSet<String> =
            self.providers.iter().map(|p| p.name().to_owned()).collect();
        known.insert(super::CONFIG_PROVIDER_NAME.to_owned());
        known.insert(super::LOCATION_STORE_NAME.to_owned());
        let mut tx = Tx::begin(&self.db).await?;
        let keys = fetch(
            &mut tx,
            "SELECT DISTINCT source_key FROM refresh_state_references WHERE source_key IS NOT NULL"
                .to_owned(),
            Vec::new(),
            1,
        )
        .await?;
        let mut change_log = Vec::new();
        for key in keys
            .iter()
            .map(|r| col(r, 0))
            .filter(|k| !known.contains(k))
        {
            let refs: Vec<String> = fetch(
                &mut tx,
                "SELECT target_entity_ref FROM refresh_state_references WHERE source_key = $1"
                    .to_owned(),
                vec![Arg::from(&key)],
                1,
            )
            .await?
            .iter()
            .map(|r| col(r, 0))
            .collect();
            self.logger.info(&format!(
                "Removing {} entities of the uninstalled provider {key}",
                refs.len()
            ));
            self.delete_with_pruning(&mut tx, &refs, Some(&key), &mut change_log)
                .await?;
        }
        append_change_log(&mut tx, &change_log).await?;
        tx.commit().await?;
        if !change_log.is_empty() {
            self.wake.follower.notify_one();
        }
        Ok(())
    }
}
