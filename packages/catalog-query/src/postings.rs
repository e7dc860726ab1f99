//! Inverted postings: per search key, which entities have a row, and per lower-cased value
//! which entities carry it (with the original spellings kept for facets).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use roaring::RoaringBitmap;

use crate::text::TextDict;
use crate::values::{MAX_PAYLOAD, Slot, ValueMap};

/// Postings up to this many ids are kept as a sorted array rather than a bitmap.
const SMALL_POSTING: usize = 16;

/// A set of internal entity ids, sized to what it holds: most values (uids, names, URLs)
/// belong to exactly one entity and most of the rest (array items, relation targets) to a
/// handful, so a single id is stored inline and a few ids as one sorted array; only larger
/// sets pay for a roaring bitmap, whose fixed cost is a few hundred bytes in three
/// allocations. Boxing keeps a posting at 16 bytes: there is one per distinct value.
#[derive(Debug, Clone, Default)]
pub(crate) enum Posting {
    #[default]
    Empty,
    One(u32),
    /// Two to [`SMALL_POSTING`] ids, sorted ascending, without duplicates.
    Small(Box<[u32]>),
    /// More than [`SMALL_POSTING`] ids.
    Many(Box<RoaringBitmap>),
}

impl Posting {
    pub(crate) fn insert(&mut self, id: u32) {
        match self {
            Posting::Empty => *self = Posting::One(id),
            Posting::One(existing) => {
                if *existing != id {
                    let pair = if *existing < id {
                        [*existing, id]
                    } else {
                        [id, *existing]
                    };
                    *self = Posting::Small(Box::new(pair));
                }
            }
            Posting::Small(ids) => {
                let Err(at) = ids.binary_search(&id) else {
                    return;
                };
                if ids.len() < SMALL_POSTING {
                    let mut grown = Vec::with_capacity(ids.len() + 1);
                    grown.extend_from_slice(&ids[..at]);
                    grown.push(id);
                    grown.extend_from_slice(&ids[at..]);
                    *ids = grown.into_boxed_slice();
                } else {
                    let mut set =
                        RoaringBitmap::from_sorted_iter(ids.iter().copied()).unwrap_or_default();
                    set.insert(id);
                    *self = Posting::Many(Box::new(set));
                }
            }
            Posting::Many(set) => {
                set.insert(id);
            }
        }
    }

    pub(crate) fn remove(&mut self, id: u32) {
        match self {
            Posting::Empty => {}
            Posting::One(existing) => {
                if *existing == id {
                    *self = Posting::Empty;
                }
            }
            Posting::Small(ids) => {
                let Ok(at) = ids.binary_search(&id) else {
                    return;
                };
                let rest: Vec<u32> = ids
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i != at)
                    .map(|(_, &id)| id)
                    .collect();
                *self = match rest.as_slice() {
                    [] => Posting::Empty,
                    [only] => Posting::One(*only),
                    _ => Posting::Small(rest.into_boxed_slice()),
                };
            }
            Posting::Many(set) => {
                set.remove(id);
                if set.len() <= SMALL_POSTING as u64 {
                    let ids: Vec<u32> = set.iter().collect();
                    *self = match ids.as_slice() {
                        [] => Posting::Empty,
                        [only] => Posting::One(*only),
                        _ => Posting::Small(ids.into_boxed_slice()),
                    };
                }
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Posting::Empty)
    }

    pub(crate) fn contains(&self, id: u32) -> bool {
        match self {
            Posting::Empty => false,
            Posting::One(existing) => *existing == id,
            Posting::Small(ids) => ids.binary_search(&id).is_ok(),
            Posting::Many(set) => set.contains(id),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        match self {
            Posting::Empty => 0,
            Posting::One(_) => 1,
            Posting::Small(ids) => ids.len() as u64,
            Posting::Many(set) => set.len(),
        }
    }

    pub(crate) fn to_bitmap(&self) -> RoaringBitmap {
        match self {
            Posting::Empty => RoaringBitmap::new(),
            Posting::One(id) => {
                let mut set = RoaringBitmap::new();
                set.insert(*id);
                set
            }
            Posting::Small(ids) => {
                RoaringBitmap::from_sorted_iter(ids.iter().copied()).unwrap_or_default()
            }
            Posting::Many(set) => RoaringBitmap::clone(set),
        }
    }

    /// Adds every id to `target`.
    pub(crate) fn union_into(&self, target: &mut RoaringBitmap) {
        match self {
            Posting::Empty => {}
            Posting::One(id) => {
                target.insert(*id);
            }
            Posting::Small(ids) => {
                target.extend(ids.iter().copied());
            }
            Posting::Many(set) => *target |= &**set,
        }
    }

    /// The ids that are also in `other`.
    pub(crate) fn intersect(&self, other: &RoaringBitmap) -> RoaringBitmap {
        match self {
            Posting::Empty => RoaringBitmap::new(),
            Posting::One(id) => {
                let mut set = RoaringBitmap::new();
                if other.contains(*id) {
                    set.insert(*id);
                }
                set
            }
            Posting::Small(ids) => RoaringBitmap::from_sorted_iter(
                ids.iter().copied().filter(|&id| other.contains(id)),
            )
            .unwrap_or_default(),
            Posting::Many(set) => &**set & other,
        }
    }

    /// The ids, ascending.
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        match self {
            Posting::Empty => Box::new(std::iter::empty()),
            Posting::One(id) => Box::new(std::iter::once(*id)),
            Posting::Small(ids) => Box::new(ids.iter().copied()),
            Posting::Many(set) => Box::new(set.iter()),
        }
    }
}

/// One original spelling of a value and the entities using it.
pub(crate) type Spelling = (Box<str>, Posting);

/// The entities carrying one lower-cased value of a key, once it has more than one holder or
/// a holder spelled it differently (see [`Holders`]).
#[derive(Debug, Default)]
pub(crate) struct ValueEntry {
    pub(crate) ids: Posting,
    /// The original spellings and who uses them; `None` while the only spelling seen is the
    /// lower-cased value itself, which is the common case and costs nothing extra.
    #[expect(
        clippy::box_collection,
        reason = "a thin pointer keeps the common entry small; a bare Vec would cost 16 more bytes"
    )]
    pub(crate) originals: Option<Box<Vec<Spelling>>>,
}

impl ValueEntry {
    fn add(&mut self, lower: &str, original: &str, id: u32) {
        if self.originals.is_none() {
            if original == lower {
                self.ids.insert(id);
                return;
            }
            // Until now every holder spelled the value in lower case; record them as such.
            let mut list = Vec::new();
            if !self.ids.is_empty() {
                list.push((Box::<str>::from(lower), self.ids.clone()));
            }
            self.originals = Some(Box::new(list));
        }
        self.ids.insert(id);
        if let Some(variants) = &mut self.originals {
            match variants.iter_mut().find(|(o, _)| &**o == original) {
                Some((_, posting)) => posting.insert(id),
                None => {
                    let mut posting = Posting::Empty;
                    posting.insert(id);
                    variants.push((Box::from(original), posting));
                }
            }
        }
    }

    fn remove(&mut self, id: u32) {
        self.ids.remove(id);
        if let Some(variants) = &mut self.originals {
            for (_, posting) in variants.iter_mut() {
                posting.remove(id);
            }
            variants.retain(|(_, posting)| !posting.is_empty());
            if variants.is_empty() {
                self.originals = None;
            }
        }
    }

    /// The single holder and its spelling (`None` for the lower-cased value itself), when
    /// the entry could go back to being stored inline: one holder, spelling it one way.
    fn sole_holder(&self, lower: &str) -> Option<(u32, Option<Box<str>>)> {
        let Posting::One(id) = self.ids else {
            return None;
        };
        match &self.originals {
            None => Some((id, None)),
            Some(variants) => match variants.as_slice() {
                [(spelling, _)] => Some((id, (&**spelling != lower).then(|| spelling.clone()))),
                _ => None,
            },
        }
    }
}

/// A value's holders as the readers see them: one entity stored inline in the value map
/// (with its spelling when that is not the lower-cased value), or an entry with a posting and
/// the original spellings.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Holders<'a> {
    /// The only holder, spelling the value in lower case.
    One(u32),
    /// The only holder and its spelling of the value.
    Spelled(u32, &'a str),
    /// Several holders, or several spellings.
    Entry(&'a ValueEntry),
}

impl<'a> Holders<'a> {
    /// The holders as a posting (a single holder costs no allocation).
    pub(crate) fn ids(self) -> Cow<'a, Posting> {
        match self {
            Holders::One(id) | Holders::Spelled(id, _) => Cow::Owned(Posting::One(id)),
            Holders::Entry(entry) => Cow::Borrowed(&entry.ids),
        }
    }
}

/// The largest internal entity id: value-map payloads use the bit above it to tell an entity
/// id from an entry of [`KeyIndex::entries`].
pub(crate) const MAX_ENTITY_ID: u32 = ENTRY_BIT - 1;

/// Marks a value-map payload that is an index into [`KeyIndex::entries`].
const ENTRY_BIT: u32 = (MAX_PAYLOAD >> 1) + 1;

/// What only some keys need: keys with null rows or with entities holding several values.
#[derive(Debug, Default)]
pub(crate) struct KeyExtra {
    /// Entities whose rows for the key are all null (or too long to index).
    null_only: Posting,
    /// Entities with more than one distinct non-null value for the key (array fields).
    multi: Posting,
    /// The smallest and largest lower-cased value of each entity in `multi`, packed into one
    /// allocation (see [`pack_bounds`]): the values it sorts by, ascending and descending,
    /// without parsing the entity again.
    multi_bounds: BTreeMap<u32, Box<[u8]>>,
}

/// One allocation for an entity's smallest and largest value: the smallest one's length
/// (4 bytes LE), then both values.
fn pack_bounds(smallest: &str, largest: &str) -> Box<[u8]> {
    let mut packed = Vec::with_capacity(4 + smallest.len() + largest.len());
    packed.extend_from_slice(
        &u32::try_from(smallest.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    packed.extend_from_slice(smallest.as_bytes());
    packed.extend_from_slice(largest.as_bytes());
    packed.into_boxed_slice()
}

fn unpack_bounds(packed: &[u8]) -> Option<(&str, &str)> {
    let raw: [u8; 4] = packed.get(..4)?.try_into().ok()?;
    let split = 4 + u32::from_le_bytes(raw) as usize;
    let smallest = std::str::from_utf8(packed.get(4..split)?).ok()?;
    let largest = std::str::from_utf8(packed.get(split..)?).ok()?;
    Some((smallest, largest))
}

/// Everything indexed under one lower-cased search key.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    /// Entities with at least one row for the key, null rows included.
    pub(crate) exists: Posting,
    /// Lower-cased value → holders, sorted so that prefix scans and ordered walks are cheap.
    /// The payload is the holder's id (and the slot its spelling, when not lower case) for a
    /// value with a single holder (most values), else [`ENTRY_BIT`] plus an index into
    /// `entries`.
    values: ValueMap,
    /// The entries of values with several holders or other spellings; vacant slots are listed
    /// in `free`.
    entries: Vec<ValueEntry>,
    free: Vec<u32>,
    extra: Option<Box<KeyExtra>>,
    /// The values joined for full-text search, built by the first search after the set of
    /// values last changed (only keys that are searched ever hold one).
    pub(crate) text: OnceLock<Box<TextDict>>,
}

/// The rows one entity has for one key, grouped.
#[derive(Debug)]
pub(crate) struct KeyRows<'a, 'p> {
    pub(crate) key: &'a str,
    /// Distinct (lower-cased value, original) pairs of non-null rows.
    pub(crate) values: &'p [(&'a str, &'a str)],
}

/// The empty posting, for keys without [`KeyExtra`].
static NO_IDS: Posting = Posting::Empty;

impl KeyIndex {
    pub(crate) fn add(&mut self, rows: &KeyRows<'_, '_>, id: u32) {
        self.exists.insert(id);
        if rows.values.is_empty() {
            self.extra.get_or_insert_default().null_only.insert(id);
        }
        let mut distinct_lower = 0;
        let mut last: Option<&str> = None;
        for (lower, original) in rows.values {
            if last != Some(*lower) {
                distinct_lower += 1;
                last = Some(lower);
            }
            self.add_value(lower, original, id);
        }
        if distinct_lower > 1 {
            let extra = self.extra.get_or_insert_default();
            extra.multi.insert(id);
            // The pairs arrive sorted by lower-cased value.
            if let (Some((first, _)), Some((last, _))) = (rows.values.first(), rows.values.last()) {
                extra.multi_bounds.insert(id, pack_bounds(first, last));
            }
        }
    }

    fn add_value(&mut self, lower: &str, original: &str, id: u32) {
        let spelled = (original != lower).then_some(original);
        let inserted = Slot {
            payload: id,
            extra: spelled,
        };
        let Some((payload, extra)) = self.values.get_or_insert(lower, inserted) else {
            self.text.take();
            return;
        };
        if payload & ENTRY_BIT != 0 {
            if let Some(entry) = self.entries.get_mut((payload & !ENTRY_BIT) as usize) {
                entry.add(lower, original, id);
            }
            return;
        }
        if payload == id && extra.as_deref() == spelled {
            return;
        }
        // A second holder (or a second spelling): the value gets an entry of its own.
        let mut entry = ValueEntry::default();
        entry.add(lower, extra.as_deref().unwrap_or(lower), payload);
        entry.add(lower, original, id);
        let slot = self.store(entry);
        self.values.insert(
            lower,
            Slot {
                payload: slot,
                extra: None,
            },
        );
    }

    /// Keeps `entry` in a vacant slot or a new one; returns its payload.
    fn store(&mut self, entry: ValueEntry) -> u32 {
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(vacant) = self.entries.get_mut(slot as usize) {
                    *vacant = entry;
                }
                slot
            }
            None => {
                // Most keys share one or two values: grow exactly while small, so that a key
                // with one shared value holds one entry, not the four of amortised growth.
                if self.entries.len() < 8 {
                    self.entries.reserve_exact(1);
                }
                self.entries.push(entry);
                u32::try_from(self.entries.len() - 1).unwrap_or(MAX_ENTITY_ID)
            }
        };
        slot | ENTRY_BIT
    }

    pub(crate) fn remove(&mut self, rows: &KeyRows<'_, '_>, id: u32) {
        self.exists.remove(id);
        if let Some(extra) = &mut self.extra {
            extra.null_only.remove(id);
            extra.multi.remove(id);
            extra.multi_bounds.remove(&id);
            if extra.null_only.is_empty() && extra.multi.is_empty() {
                self.extra = None;
            }
        }
        for (lower, _) in rows.values {
            self.remove_value(lower, id);
        }
    }

    fn remove_value(&mut self, lower: &str, id: u32) {
        let Some(Slot { payload, .. }) = self.values.get(lower) else {
            return;
        };
        if payload & ENTRY_BIT == 0 {
            if payload == id {
                self.values.remove(lower);
                self.text.take();
            }
            return;
        }
        let slot = payload & !ENTRY_BIT;
        let Some(entry) = self.entries.get_mut(slot as usize) else {
            return;
        };
        entry.remove(id);
        let replacement = if entry.ids.is_empty() {
            None
        } else if let Some(sole) = entry.sole_holder(lower) {
            // Back inline, so that churn does not leave entries behind.
            Some(sole)
        } else {
            return;
        };
        *entry = ValueEntry::default();
        self.free.push(slot);
        match replacement {
            Some((sole, spelling)) => {
                self.values.insert(
                    lower,
                    Slot {
                        payload: sole,
                        extra: spelling.as_deref(),
                    },
                );
            }
            None => {
                self.values.remove(lower);
                self.text.take();
            }
        }
        if self.free.len() == self.entries.len() {
            self.entries = Vec::new();
            self.free = Vec::new();
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.exists.is_empty()
    }

    /// Entities whose rows for the key are all null (or too long to index).
    pub(crate) fn null_only(&self) -> &Posting {
        self.extra.as_ref().map_or(&NO_IDS, |e| &e.null_only)
    }

    /// Entities with more than one distinct non-null value for the key.
    pub(crate) fn multi(&self) -> &Posting {
        self.extra.as_ref().map_or(&NO_IDS, |e| &e.multi)
    }

    /// The smallest and largest value of an entity in [`KeyIndex::multi`].
    pub(crate) fn multi_bounds(&self, id: u32) -> Option<(&str, &str)> {
        unpack_bounds(self.extra.as_ref()?.multi_bounds.get(&id)?)
    }

    fn holders<'s>(&'s self, slot: Slot<'s>) -> Option<Holders<'s>> {
        match (slot.payload & ENTRY_BIT, slot.extra) {
            (0, None) => Some(Holders::One(slot.payload)),
            (0, Some(spelling)) => Some(Holders::Spelled(slot.payload, spelling)),
            _ => self
                .entries
                .get((slot.payload & !ENTRY_BIT) as usize)
                .map(Holders::Entry),
        }
    }

    /// Number of distinct values.
    pub(crate) fn value_count(&self) -> usize {
        self.values.len()
    }

    /// The holders of one lower-cased value.
    pub(crate) fn get(&self, value: &str) -> Option<Holders<'_>> {
        self.holders(self.values.get(value)?)
    }

    /// Every value with its holders, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, Holders<'_>)> + '_ {
        self.values
            .iter()
            .filter_map(|(v, p)| Some((v, self.holders(p)?)))
    }

    /// Every value with its holders, descending.
    pub(crate) fn iter_rev(&self) -> impl Iterator<Item = (&str, Holders<'_>)> + '_ {
        self.values
            .iter_rev()
            .filter_map(|(v, p)| Some((v, self.holders(p)?)))
    }

    /// The values not below `from`, ascending.
    pub(crate) fn iter_from<'s>(
        &'s self,
        from: &str,
    ) -> impl Iterator<Item = (&'s str, Holders<'s>)> + 's {
        self.values
            .iter_from(from)
            .filter_map(|(v, p)| Some((v, self.holders(p)?)))
    }

    /// The values not above `to`, descending.
    pub(crate) fn iter_rev_from<'s>(
        &'s self,
        to: &str,
    ) -> impl Iterator<Item = (&'s str, Holders<'s>)> + 's {
        self.values
            .iter_rev_from(to)
            .filter_map(|(v, p)| Some((v, self.holders(p)?)))
    }

    /// The full-text dictionary of the key's current values.
    pub(crate) fn text_dict(&self) -> &TextDict {
        self.text
            .get_or_init(|| Box::new(TextDict::build(self.values.iter().map(|(v, _)| v))))
    }

    /// Entities with at least one non-null value for the key.
    pub(crate) fn valued(&self) -> RoaringBitmap {
        let mut set = self.exists.to_bitmap();
        match self.null_only() {
            Posting::Empty => {}
            Posting::Many(nulls) => set -= &**nulls,
            small => {
                for id in small.iter() {
                    set.remove(id);
                }
            }
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use roaring::RoaringBitmap;

    use super::Posting;

    #[test]
    fn postings_agree_with_a_set_through_every_size() {
        let mut posting = Posting::default();
        let mut expected = BTreeSet::new();
        let other: RoaringBitmap = (0..200).filter(|id| id % 3 == 0).collect();
        // Grow past the small-array limit and shrink back to empty, in a scrambled order
        // with repeats, checking every operation's view after each step.
        let steps = (0..120u32)
            .map(|i| (i * 37 % 50, true))
            .chain((0..120u32).map(|i| (i * 53 % 50, false)));
        for (id, add) in steps {
            if add {
                posting.insert(id);
                expected.insert(id);
            } else {
                posting.remove(id);
                expected.remove(&id);
            }
            let ids: Vec<u32> = posting.iter().collect();
            assert_eq!(ids, expected.iter().copied().collect::<Vec<_>>());
            assert_eq!(posting.len(), expected.len() as u64);
            assert_eq!(posting.is_empty(), expected.is_empty());
            assert_eq!(posting.to_bitmap().iter().collect::<Vec<_>>(), ids);
            assert!(ids.iter().all(|&id| posting.contains(id)));
            assert!(!posting.contains(1000));
            let mut union = RoaringBitmap::new();
            posting.union_into(&mut union);
            assert_eq!(union.iter().collect::<Vec<_>>(), ids);
            let both: Vec<u32> = ids
                .iter()
                .copied()
                .filter(|id| other.contains(*id))
                .collect();
            assert_eq!(posting.intersect(&other).iter().collect::<Vec<_>>(), both);
        }
        assert!(matches!(posting, Posting::Empty));
    }
}
