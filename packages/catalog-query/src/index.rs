//! The in-memory catalog index: final entities by internal id, ref and uid, plus the
//! inverted search postings every query runs against.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use roaring::RoaringBitmap;
use serde_json::Value;

use crate::error::{IndexError, TextError};
use crate::fields::Fields;
use crate::filter::EntityFilter;
use crate::packed::{PackedText, Packer};
use crate::postings::{KeyIndex, KeyRows, MAX_ENTITY_ID};
use crate::search::{SearchRow, search_rows};

/// A (key, original value, extra row count) triple of an entity that repeats a value.
pub(crate) type RepeatedRow = (Box<str>, Box<str>, u64);

/// One final entity as served: its compact JSON text and its identity.
///
/// Only the text is kept, and compressed (see `packed.rs`): a parsed tree costs several times
/// as much memory, and pages are served by appending texts ([`IndexedEntity::write_json`]).
/// The few readers that need values parse them on demand.
#[derive(Debug)]
pub struct IndexedEntity {
    pub(crate) id: u32,
    entity_ref: Arc<str>,
    uid: Arc<str>,
    text: PackedText,
}

impl IndexedEntity {
    /// The entity JSON, parsed from the stored text (`Null` if the text cannot be read).
    pub fn entity(&self) -> Value {
        match self.text.text() {
            Ok(text) => crate::sparse::parse_full(&text),
            Err(_) => Value::Null,
        }
    }

    /// The canonical entity ref (`kind:namespace/name`, lower-case).
    pub fn entity_ref(&self) -> &str {
        &self.entity_ref
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// Appends the compact JSON text of the entity (serialised once when it was indexed) to
    /// `out`, decompressing it in place. This is how responses are written: no text is
    /// allocated per entity. On error `out` is unchanged.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), TextError> {
        self.text.write_to(out)
    }

    /// The compact JSON text of the entity as a string of its own; prefer
    /// [`IndexedEntity::write_json`] when the text goes into a larger buffer.
    pub fn json(&self) -> Result<Cow<'_, str>, TextError> {
        self.text.text()
    }

    /// The length in bytes of the compact JSON text, to size buffers before writing texts.
    pub fn json_len(&self) -> usize {
        self.text.len()
    }

    /// Whether the text is held compressed, so that writing it costs a decompression.
    pub fn is_compressed(&self) -> bool {
        matches!(self.text, PackedText::Lz4 { .. })
    }

    /// The entity reduced to the selected field paths (spec §3); only those paths are parsed
    /// (`Null` if the text cannot be read).
    pub fn project(&self, fields: &Fields) -> Value {
        match self.text.text() {
            Ok(text) => fields.project(&crate::sparse::parse_sparse(&text, fields)),
            Err(_) => Value::Null,
        }
    }
}

/// How the index stores entity texts, from [`CatalogIndex::text_stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextStats {
    /// Entity texts held.
    pub texts: usize,
    /// Of those, the texts held as compressed blocks (the others are kept as they are).
    pub compressed: usize,
    /// The texts' total length uncompressed, in bytes.
    pub text_bytes: usize,
    /// The bytes held for them: blocks, and raw texts.
    pub stored_bytes: usize,
    /// Distinct dictionaries held (by stored texts, or for new ones of their kind).
    pub dictionaries: usize,
    /// Their total size in bytes.
    pub dictionary_bytes: usize,
}

/// An entity flattened and serialised, ready for [`CatalogIndex::insert_prepared`].
///
/// Preparing is the costly, pure half of an upsert; callers loading many entities can
/// prepare them on other threads (or before taking the index lock) and only insert under it.
#[derive(Debug)]
pub struct PreparedEntity {
    entity_ref: Arc<str>,
    uid: Arc<str>,
    /// The text uncompressed: the dictionary it is compressed with belongs to the index, so
    /// compression happens on insert.
    json: Box<str>,
    rows: Vec<SearchRow>,
}

impl PreparedEntity {
    /// Validates identity, computes the search rows and the compact JSON text.
    pub fn new(entity: Value) -> Result<Self, IndexError> {
        let json = Box::from(entity.to_string());
        Self::with_text(&entity, json)
    }

    /// Like [`PreparedEntity::new`] for an entity parsed from `json`, which becomes the
    /// served text as it is. A follower reading stored final entities has their text
    /// already: writing the parsed value out again cost it as much as flattening did.
    pub fn with_text(entity: &Value, json: Box<str>) -> Result<Self, IndexError> {
        let entity_ref = greenroom_catalog_model::entity_ref::entity_ref_of(entity)
            .ok_or(IndexError::MissingRef)?
            .to_canonical();
        let uid = entity
            .get("metadata")
            .and_then(|m| m.get("uid"))
            .and_then(Value::as_str)
            .ok_or(IndexError::MissingUid)?;
        let uid: Arc<str> = Arc::from(uid);
        let rows = search_rows(entity)?;
        Ok(Self {
            entity_ref: Arc::from(entity_ref),
            uid,
            json,
            rows,
        })
    }

    /// The canonical ref the entity will be indexed under.
    pub fn entity_ref(&self) -> &str {
        &self.entity_ref
    }
}

/// The read model over all final entities. Not synchronised: wrap it in a lock.
#[derive(Debug, Default)]
pub struct CatalogIndex {
    pub(crate) entities: Vec<Option<Arc<IndexedEntity>>>,
    free_ids: Vec<u32>,
    pub(crate) by_ref: BTreeMap<Arc<str>, u32>,
    /// Uid → internal id, in uid order globally and per kind.
    pub(crate) uids: crate::uids::UidOrder,
    pub(crate) live: RoaringBitmap,
    /// Search key → its postings. Boxed: most keys are array items with one value, and the
    /// table's empty slots would otherwise cost a whole `KeyIndex` each.
    pub(crate) keys: HashMap<Box<str>, Box<KeyIndex>>,
    /// Extra row counts for facets, for the rare entity that repeats one exact value under
    /// one key (for example the same tag twice): id → (key, original, extra rows).
    pub(crate) repeated_rows: HashMap<u32, Vec<RepeatedRow>>,
    /// Per key, the entities in `repeated_rows` with a repeat under it, so that a facet only
    /// visits the entities that repeat a value of its own key.
    pub(crate) repeated_by_key: HashMap<Box<str>, RoaringBitmap>,
    pub(crate) strategy: crate::order::WalkStrategy,
    /// Recent facet answers, valid until the index next changes (see `facets.rs`).
    pub(crate) facet_cache: crate::facets::FacetCache,
    /// Compresses entity texts and keeps their dictionaries (one per kind).
    packer: Packer,
    /// Reused buffer for comparing a new text with a stored one.
    scratch: Vec<u8>,
}

impl CatalogIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns compression of the texts of entities indexed from now on on (the default) or
    /// off; texts already stored stay as they are. Off is for measuring a baseline.
    pub fn set_text_compression(&mut self, enabled: bool) {
        self.packer.set_enabled(enabled);
    }

    /// How the entity texts are stored: counts, bytes before and after compression, and the
    /// dictionaries held. Walks every entity.
    pub fn text_stats(&self) -> TextStats {
        let mut stats = TextStats::default();
        let mut dictionaries = HashSet::new();
        for entity in self.entities.iter().flatten() {
            stats.texts += 1;
            stats.text_bytes += entity.text.len();
            stats.stored_bytes += entity.text.stored_len();
            if matches!(entity.text, PackedText::Lz4 { .. }) {
                stats.compressed += 1;
            }
            if let Some(d) = entity.text.dictionary()
                && dictionaries.insert(Arc::as_ptr(d))
            {
                stats.dictionary_bytes += d.len();
            }
        }
        for d in self.packer.dictionaries() {
            if dictionaries.insert(Arc::as_ptr(d)) {
                stats.dictionary_bytes += d.len();
            }
        }
        stats.dictionaries = dictionaries.len();
        stats
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
        self.insert_prepared(PreparedEntity::new(entity)?)
    }

    /// Adds an entity prepared with [`PreparedEntity::new`]; see [`CatalogIndex::upsert`].
    pub fn insert_prepared(&mut self, prepared: PreparedEntity) -> Result<(), IndexError> {
        let PreparedEntity {
            entity_ref,
            uid,
            json,
            rows,
        } = prepared;
        // Re-stitching often yields the text already indexed; then there is nothing to do.
        if let Some(current) = self
            .by_ref
            .get(entity_ref.as_ref())
            .and_then(|&id| self.entities.get(id as usize))
            .and_then(Option::as_deref)
            && current.text.equals(&json, &mut self.scratch)
        {
            return Ok(());
        }
        self.facet_cache.clear();
        self.remove(&entity_ref);
        if let Some(other) = self.uids.get(uid.as_ref())
            && let Some(previous) = self.entities.get(other as usize).cloned().flatten()
        {
            self.remove(previous.entity_ref());
        }

        let id = match self.free_ids.pop() {
            Some(id) => id,
            None => {
                let Some(id) = u32::try_from(self.entities.len())
                    .ok()
                    .filter(|&id| id <= MAX_ENTITY_ID)
                else {
                    // Two billion entities cannot fit in memory anyway; refuse rather than wrap.
                    return Err(IndexError::Full);
                };
                self.entities.push(None);
                id
            }
        };
        self.index_rows(&rows, id);
        self.by_ref.insert(entity_ref.clone(), id);
        self.uids
            .insert(uid.clone(), crate::uids::kind_of(&entity_ref), id);
        self.live.insert(id);
        let text = self.packer.pack(crate::uids::kind_of(&entity_ref), json);
        self.entities[id as usize] = Some(Arc::new(IndexedEntity {
            id,
            entity_ref,
            uid,
            text,
        }));
        Ok(())
    }

    /// Removes the entity with this ref (canonical, or any case); returns whether one existed.
    pub fn remove(&mut self, entity_ref: &str) -> bool {
        let id = match self.by_ref.get(entity_ref) {
            Some(&id) => id,
            None if entity_ref.bytes().any(|b| b.is_ascii_uppercase())
                || !entity_ref.is_ascii() =>
            {
                match self.by_ref.get(crate::search::lower(entity_ref).as_str()) {
                    Some(&id) => id,
                    None => return false,
                }
            }
            None => return false,
        };
        let Some(entity) = self.entities.get_mut(id as usize).and_then(Option::take) else {
            return false;
        };
        self.facet_cache.clear();
        // The rows are recomputed from the text rather than stored: flattening is
        // deterministic, and not keeping them saves most of the per-entity memory.
        if let Ok(rows) = search_rows(&entity.entity()) {
            self.unindex_rows(&rows, id);
        }
        if let Some(repeats) = self.repeated_rows.remove(&id) {
            for (key, _, _) in &repeats {
                if let Some(ids) = self.repeated_by_key.get_mut(key) {
                    ids.remove(id);
                    if ids.is_empty() {
                        self.repeated_by_key.remove(key);
                    }
                }
            }
        }
        self.by_ref.remove(entity.entity_ref());
        self.uids
            .remove(entity.uid(), crate::uids::kind_of(entity.entity_ref()), id);
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
        self.entity(self.uids.get(uid)?)
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
        let sorted = sorted_rows(rows);
        let (pairs, groups) = group_rows(&sorted);
        for group in groups.iter().map(|g| g.rows(&pairs)) {
            match self.keys.get_mut(group.key) {
                Some(index) => index.add(&group, id),
                None => {
                    let mut index = Box::<KeyIndex>::default();
                    index.add(&group, id);
                    self.keys.insert(Box::from(group.key), index);
                }
            }
        }
        // Facets count rows, so an exact value repeated under one key counts more than once.
        // Identical rows are adjacent once sorted.
        let repeated: Vec<RepeatedRow> = sorted
            .chunk_by(|a, b| a == b)
            .filter(|run| run.len() > 1)
            .filter_map(|run| {
                let original = run[0].original()?;
                Some((
                    Box::from(run[0].key.as_str()),
                    Box::from(original),
                    run.len() as u64 - 1,
                ))
            })
            .collect();
        if !repeated.is_empty() {
            for (key, _, _) in &repeated {
                self.repeated_by_key
                    .entry(key.clone())
                    .or_default()
                    .insert(id);
            }
            self.repeated_rows.insert(id, repeated);
        }
    }

    fn unindex_rows(&mut self, rows: &[SearchRow], id: u32) {
        let sorted = sorted_rows(rows);
        let (pairs, groups) = group_rows(&sorted);
        for group in groups.iter().map(|g| g.rows(&pairs)) {
            if let Some(index) = self.keys.get_mut(group.key) {
                index.remove(&group, id);
                if index.is_empty() {
                    self.keys.remove(group.key);
                }
            }
        }
    }
}

fn sorted_rows(rows: &[SearchRow]) -> Vec<&SearchRow> {
    let mut sorted: Vec<&SearchRow> = rows.iter().collect();
    sorted.sort_unstable();
    sorted
}

/// One key's slice of the flat (value, original) list built by [`group_rows`].
struct Group<'a> {
    key: &'a str,
    start: usize,
    end: usize,
}

impl<'a> Group<'a> {
    fn rows<'p>(&self, pairs: &'p [(&'a str, &'a str)]) -> KeyRows<'a, 'p> {
        KeyRows {
            key: self.key,
            values: pairs.get(self.start..self.end).unwrap_or_default(),
        }
    }
}

/// Groups sorted rows by key: one flat list of distinct (value, original) pairs and, per
/// key, its range in that list (two allocations per entity instead of one per key).
fn group_rows<'a>(sorted: &[&'a SearchRow]) -> (Vec<(&'a str, &'a str)>, Vec<Group<'a>>) {
    let mut pairs: Vec<(&'a str, &'a str)> = Vec::with_capacity(sorted.len());
    let mut groups: Vec<Group<'a>> = Vec::new();
    for row in sorted {
        if groups.last().is_none_or(|g| g.key != row.key) {
            groups.push(Group {
                key: &row.key,
                start: pairs.len(),
                end: pairs.len(),
            });
        }
        if let (Some(value), Some(original)) = (&row.value, row.original()) {
            let pair = (value.as_str(), original);
            let Some(group) = groups.last_mut() else {
                continue;
            };
            if group.end == group.start || pairs.last() != Some(&pair) {
                pairs.push(pair);
                group.end = pairs.len();
            }
        }
    }
    (pairs, groups)
}
