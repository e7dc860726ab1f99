//! Inverted postings: per search key, which entities have a row, and per lower-cased value
//! which entities carry it (with the original spellings kept for facets).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use roaring::RoaringBitmap;

use crate::text::TextDict;

/// A set of internal entity ids, stored without a bitmap while it holds a single id,
/// because most values (uids, names, URLs) belong to exactly one entity. The bitmap is
/// boxed so that a posting takes 16 bytes instead of 32: there is one per distinct value.
#[derive(Debug, Clone, Default)]
pub(crate) enum Posting {
    #[default]
    Empty,
    One(u32),
    Many(Box<RoaringBitmap>),
}

impl Posting {
    pub(crate) fn insert(&mut self, id: u32) {
        match self {
            Posting::Empty => *self = Posting::One(id),
            Posting::One(existing) => {
                if *existing != id {
                    let mut set = RoaringBitmap::new();
                    set.insert(*existing);
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
            Posting::Many(set) => {
                set.remove(id);
                if set.len() <= 1 {
                    *self = match set.min() {
                        Some(only) => Posting::One(only),
                        None => Posting::Empty,
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
            Posting::Many(set) => set.contains(id),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        match self {
            Posting::Empty => 0,
            Posting::One(_) => 1,
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
            Posting::Many(set) => &**set & other,
        }
    }

    /// How many ids are also in `other` (or all of them when `other` is `None`).
    pub(crate) fn count_in(&self, other: Option<&RoaringBitmap>) -> u64 {
        match (self, other) {
            (_, None) => self.len(),
            (Posting::Empty, _) => 0,
            (Posting::One(id), Some(other)) => u64::from(other.contains(*id)),
            (Posting::Many(set), Some(other)) => set.intersection_len(other),
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

    /// Each original spelling with its holders.
    pub(crate) fn spellings<'a>(
        &'a self,
        lower: &'a str,
    ) -> Box<dyn Iterator<Item = (&'a str, &'a Posting)> + 'a> {
        match &self.originals {
            None => Box::new(std::iter::once((lower, &self.ids))),
            Some(variants) => Box::new(variants.iter().map(|(o, p)| (&**o, p))),
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
    pub(crate) text: OnceLock<TextDict>,
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
            .get_or_init(|| TextDict::build(self.values.keys().map(|v| &**v)))
    }

    /// Entities with at least one non-null value for the key.
    pub(crate) fn valued(&self) -> RoaringBitmap {
        let mut set = self.exists.to_bitmap();
        match &self.null_only {
            Posting::Empty => {}
            Posting::One(id) => {
                set.remove(*id);
            }
            Posting::Many(nulls) => set -= &**nulls,
        }
        set
    }
}
