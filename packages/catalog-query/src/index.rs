//! The in-memory catalog index: final entities by internal id, ref and uid, plus the
//! inverted search postings every query runs against.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use roaring::RoaringBitmap;
use serde_json::Value;

use crate::error::IndexError;
use crate::fields::Fields;
use crate::filter::EntityFilter;
use crate::postings::{KeyIndex, KeyRows};
use crate::search::{SearchRow, search_rows};

/// A (key, original value, extra row count) triple of an entity that repeats a value.
pub(crate) type RepeatedRow = (Box<str>, Box<str>, u64);

/// One final entity as served: the JSON value, its compact text and its identity.
#[derive(Debug)]
pub struct IndexedEntity {
    pub(crate) id: u32,
    entity: Value,
    entity_ref: Arc<str>,
    uid: Arc<str>,
    json: Arc<str>,
}

impl IndexedEntity {
    /// The entity JSON.
    pub fn entity(&self) -> &Value {
        &self.entity
    }

    /// The canonical entity ref (`kind:namespace/name`, lower-case).
    pub fn entity_ref(&self) -> &str {
        &self.entity_ref
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The compact JSON text of the entity, serialised once when it was indexed.
    pub fn json(&self) -> &Arc<str> {
        &self.json
    }

    /// The entity reduced to the selected field paths (spec §3).
    pub fn project(&self, fields: &Fields) -> Value {
        fields.project(&self.entity)
    }
}

/// The read model over all final entities. Not synchronised: wrap it in a lock.
#[derive(Debug, Default)]
pub struct CatalogIndex {
    pub(crate) entities: Vec<Option<Arc<IndexedEntity>>>,
    free_ids: Vec<u32>,
    pub(crate) by_ref: BTreeMap<Arc<str>, u32>,
    pub(crate) by_uid: BTreeMap<Arc<str>, u32>,
    pub(crate) live: RoaringBitmap,
    pub(crate) keys: HashMap<Box<str>, KeyIndex>,
    /// Extra row counts for facets, for the rare entity that repeats one exact value under
    /// one key (for example the same tag twice): id → (key, original, extra rows).
    pub(crate) repeated_rows: HashMap<u32, Vec<RepeatedRow>>,
}

impl CatalogIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of indexed entities.
    pub fn len(&self) -> usize {
        self.by_ref.len()
    }

    /// Whether the index holds no entity.
    pub fn is_empty(&self) -> bool {
        self.by_ref.is_empty()
    }

    /// Adds a final entity, replacing the one with the same canonical ref (and any other
    /// entity that still holds the same uid).
    pub fn upsert(&mut self, entity: Value) -> Result<(), IndexError> {
        let entity_ref = greenroom_catalog_model::entity_ref::entity_ref_of(&entity)
            .ok_or(IndexError::MissingRef)?
            .to_canonical();
        let uid = entity
            .get("metadata")
            .and_then(|m| m.get("uid"))
            .and_then(Value::as_str)
            .ok_or(IndexError::MissingUid)?
            .to_owned();
        let rows = search_rows(&entity)?;

        self.remove(&entity_ref);
        if let Some(&other) = self.by_uid.get(uid.as_str())
            && let Some(previous) = self.entities.get(other as usize).cloned().flatten()
        {
            self.remove(previous.entity_ref());
        }

        let id = match self.free_ids.pop() {
            Some(id) => id,
            None => {
                let Ok(id) = u32::try_from(self.entities.len()) else {
                    // Four billion entities cannot fit in memory anyway; refuse rather than wrap.
                    return Err(IndexError::Full);
                };
                self.entities.push(None);
                id
            }
        };
        let json: Arc<str> = Arc::from(entity.to_string());
        let entity_ref: Arc<str> = Arc::from(entity_ref);
        let uid: Arc<str> = Arc::from(uid);
        self.index_rows(&rows, id);
        self.by_ref.insert(entity_ref.clone(), id);
        self.by_uid.insert(uid.clone(), id);
        self.live.insert(id);
        self.entities[id as usize] = Some(Arc::new(IndexedEntity {
            id,
            entity,
            entity_ref,
            uid,
            json,
        }));
        Ok(())
    }

    /// Removes the entity with this ref (canonical, or any case); returns whether one existed.
    pub fn remove(&mut self, entity_ref: &str) -> bool {
        let id = match self.by_ref.get(entity_ref) {
            Some(&id) => id,
            None => match self.by_ref.get(entity_ref.to_lowercase().as_str()) {
                Some(&id) => id,
                None => return false,
            },
        };
        let Some(entity) = self.entities.get_mut(id as usize).and_then(Option::take) else {
            return false;
        };
        // The rows are recomputed rather than stored: flattening is deterministic, and not
        // keeping them saves most of the per-entity memory.
        if let Ok(rows) = search_rows(entity.entity()) {
            self.unindex_rows(&rows, id);
        }
        self.repeated_rows.remove(&id);
        self.by_ref.remove(entity.entity_ref());
        self.by_uid.remove(entity.uid());
        self.live.remove(id);
        self.free_ids.push(id);
        true
    }

    /// The entity with this canonical ref (a non-canonical spelling is lower-cased first).
    pub fn get_by_ref(&self, canonical_ref: &str) -> Option<Arc<IndexedEntity>> {
        let id = match self.by_ref.get(canonical_ref) {
            Some(&id) => id,
            None => *self.by_ref.get(canonical_ref.to_lowercase().as_str())?,
        };
        self.entity(id)
    }

    /// The entity with this `metadata.uid`.
    pub fn get_by_uid(&self, uid: &str) -> Option<Arc<IndexedEntity>> {
        self.entity(*self.by_uid.get(uid)?)
    }

    /// Number of entities matching `filter` (all entities for `None`).
    pub fn count(&self, filter: Option<&EntityFilter>) -> u64 {
        match filter {
            None => self.live.len(),
            Some(filter) => self.eval(Some(filter)).len(),
        }
    }

    /// Whether this (currently indexed) entity matches `filter`.
    pub fn matches(&self, filter: &EntityFilter, entity: &IndexedEntity) -> bool {
        let current = self
            .entities
            .get(entity.id as usize)
            .and_then(Option::as_ref)
            .is_some_and(|e| std::ptr::eq(Arc::as_ptr(e), entity));
        current && self.eval(Some(filter)).contains(entity.id)
    }

    /// Entities for refs in request order: each ref is lower-cased and matched exactly (no
    /// kind or namespace defaulting); missing, filtered-out refs give `None`; duplicates repeat.
    pub fn by_refs(
        &self,
        refs: &[String],
        filter: Option<&EntityFilter>,
    ) -> Vec<Option<Arc<IndexedEntity>>> {
        let allowed = filter.map(|f| self.eval(Some(f)));
        refs.iter()
            .map(|r| {
                let id = *self.by_ref.get(r.to_lowercase().as_str())?;
                if allowed.as_ref().is_some_and(|set| !set.contains(id)) {
                    return None;
                }
                self.entity(id)
            })
            .collect()
    }

    /// All entities in canonical ref order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<IndexedEntity>> + '_ {
        self.by_ref
            .values()
            .filter_map(|&id| self.entities.get(id as usize).and_then(Option::as_ref))
    }

    pub(crate) fn entity(&self, id: u32) -> Option<Arc<IndexedEntity>> {
        self.entities.get(id as usize).cloned().flatten()
    }

    pub(crate) fn entity_ref_of(&self, id: u32) -> Option<&IndexedEntity> {
        self.entities.get(id as usize).and_then(Option::as_deref)
    }

    fn index_rows(&mut self, rows: &[SearchRow], id: u32) {
        let mut repeated = Vec::new();
        for group in group_rows(rows) {
            let key = group.key;
            match self.keys.get_mut(key) {
                Some(index) => index.add(&group, id),
                None => {
                    let mut index = KeyIndex::default();
                    index.add(&group, id);
                    self.keys.insert(Box::from(key), index);
                }
            }
        }
        // Facets count rows, so an exact value repeated under one key counts more than once.
        let mut sorted: Vec<(&str, &str)> = rows
            .iter()
            .filter_map(|r| Some((r.key.as_str(), r.original.as_deref()?)))
            .collect();
        sorted.sort_unstable();
        let mut i = 0;
        while i < sorted.len() {
            let mut j = i + 1;
            while j < sorted.len() && sorted[j] == sorted[i] {
                j += 1;
            }
            if j - i > 1 {
                repeated.push((
                    Box::from(sorted[i].0),
                    Box::from(sorted[i].1),
                    (j - i - 1) as u64,
                ));
            }
            i = j;
        }
        if !repeated.is_empty() {
            self.repeated_rows.insert(id, repeated);
        }
    }

    fn unindex_rows(&mut self, rows: &[SearchRow], id: u32) {
        for group in group_rows(rows) {
            if let Some(index) = self.keys.get_mut(group.key) {
                index.remove(&group, id);
                if index.is_empty() {
                    self.keys.remove(group.key);
                }
            }
        }
    }
}

/// Groups an entity's rows by key with distinct, sorted (value, original) pairs.
fn group_rows(rows: &[SearchRow]) -> Vec<KeyRows<'_>> {
    let mut sorted: Vec<&SearchRow> = rows.iter().collect();
    sorted.sort_unstable();
    let mut groups: Vec<KeyRows<'_>> = Vec::new();
    for row in sorted {
        if groups.last().is_none_or(|g| g.key != row.key) {
            groups.push(KeyRows {
                key: &row.key,
                values: Vec::new(),
                has_null: false,
            });
        }
        let Some(group) = groups.last_mut() else {
            continue;
        };
        match (&row.value, &row.original) {
            (Some(value), Some(original)) => {
                let pair = (value.as_str(), original.as_str());
                if group.values.last() != Some(&pair) {
                    group.values.push(pair);
                }
            }
            _ => group.has_null = true,
        }
    }
    groups
}
