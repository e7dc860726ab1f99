//! Inverted postings: per search key, which entities have a row, and per lower-cased value
//! which entities carry it (with the original spellings kept for facets).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use roaring::RoaringBitmap;

use crate::text::TextDict;

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

/// The entities carrying one lower-cased value of a key.
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
}

/// Everything indexed under one lower-cased search key.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    /// Entities with at least one row for the key, null rows included.
    pub(crate) exists: Posting,
    /// Entities whose rows for the key are all null (or too long to index).
    pub(crate) null_only: Posting,
    /// Entities with more than one distinct non-null value for the key (array fields).
    pub(crate) multi: Posting,
    /// The smallest and largest lower-cased value of each entity in `multi`: the values it
    /// sorts by, ascending and descending, without parsing the entity again.
    pub(crate) multi_bounds: BTreeMap<u32, (Box<str>, Box<str>)>,
    /// Lower-cased value → holders, sorted so that prefix scans and ordered walks are cheap.
    pub(crate) values: BTreeMap<Box<str>, ValueEntry>,
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

impl KeyIndex {
    pub(crate) fn add(&mut self, rows: &KeyRows<'_, '_>, id: u32) {
        self.exists.insert(id);
        if rows.values.is_empty() {
            self.null_only.insert(id);
        }
        let mut distinct_lower = 0;
        let mut last: Option<&str> = None;
        for (lower, original) in rows.values {
            if last != Some(*lower) {
                distinct_lower += 1;
                last = Some(lower);
            }
            match self.values.get_mut(*lower) {
                Some(entry) => entry.add(lower, original, id),
                None => {
                    let mut entry = ValueEntry::default();
                    entry.add(lower, original, id);
                    self.values.insert(Box::from(*lower), entry);
                    self.text.take();
                }
            }
        }
        if distinct_lower > 1 {
            self.multi.insert(id);
            // The pairs arrive sorted by lower-cased value.
            if let (Some((first, _)), Some((last, _))) = (rows.values.first(), rows.values.last()) {
                self.multi_bounds
                    .insert(id, (Box::from(*first), Box::from(*last)));
            }
        }
    }

    pub(crate) fn remove(&mut self, rows: &KeyRows<'_, '_>, id: u32) {
        self.exists.remove(id);
        self.null_only.remove(id);
        self.multi.remove(id);
        self.multi_bounds.remove(&id);
        for (lower, _) in rows.values {
            if let Some(entry) = self.values.get_mut(*lower) {
                entry.remove(id);
                if entry.ids.is_empty() {
                    self.values.remove(*lower);
                    self.text.take();
                }
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.exists.is_empty()
    }

    /// The full-text dictionary of the key's current values.
    pub(crate) fn text_dict(&self) -> &TextDict {
        self.text
            .get_or_init(|| Box::new(TextDict::build(self.values.keys().map(|v| &**v))))
    }

    /// Entities with at least one non-null value for the key.
    pub(crate) fn valued(&self) -> RoaringBitmap {
        let mut set = self.exists.to_bitmap();
        match &self.null_only {
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
