//! The uid order that by-query pages follow without an order field: every entity by uid,
//! the same order per kind, and a fixed-size sort key per entity.
//!
//! Uids that grow with creation time (UUIDv7, or any time-ordered scheme) cluster entities
//! created together in uid order: a catalog loaded file by file, kind by kind, puts all its
//! components after all its users. A page of components walked along the global uid order
//! then steps over every earlier entity before it finds one. Keeping the order per kind as
//! well lets such a walk continue in the kinds the page actually holds. The sort keys let
//! small sets be sorted by uid without reading each entity's uid through two pointers.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use roaring::RoaringBitmap;

/// The uids of one kind: in order, and as a set of internal ids.
#[derive(Debug, Default)]
pub(crate) struct KindUids {
    pub(crate) uids: BTreeMap<Arc<str>, u32>,
    pub(crate) ids: RoaringBitmap,
}

/// Every entity's uid, in order, globally and per kind.
#[derive(Debug, Default)]
pub(crate) struct UidOrder {
    pub(crate) all: BTreeMap<Arc<str>, u32>,
    pub(crate) by_kind: HashMap<Box<str>, KindUids>,
    /// Per internal id, the first bytes of the uid (zero-padded): comparing two keys orders
    /// two uids unless the keys are equal. 24 bytes of a UUIDv7 cover its millisecond
    /// timestamp and 28 random bits, so entities created in the same millisecond rarely tie.
    keys: Vec<UidKey>,
}

/// The sort key of a uid: its first 24 bytes, zero-padded.
pub(crate) type UidKey = [u8; 24];

fn sort_key(uid: &str) -> UidKey {
    let mut bytes = [0u8; 24];
    for (slot, byte) in bytes.iter_mut().zip(uid.bytes()) {
        *slot = byte;
    }
    bytes
}

/// The kind part of a canonical entity ref.
pub(crate) fn kind_of(entity_ref: &str) -> &str {
    entity_ref.split_once(':').map_or("", |(kind, _)| kind)
}

impl UidOrder {
    pub(crate) fn len(&self) -> usize {
        self.all.len()
    }

    pub(crate) fn get(&self, uid: &str) -> Option<u32> {
        self.all.get(uid).copied()
    }

    pub(crate) fn insert(&mut self, uid: Arc<str>, kind: &str, id: u32) {
        if let Some(slot) = self.keys.get_mut(id as usize) {
            *slot = sort_key(&uid);
        } else {
            self.keys.resize(id as usize, [0; 24]);
            self.keys.push(sort_key(&uid));
        }
        let of_kind = match self.by_kind.get_mut(kind) {
            Some(of_kind) => of_kind,
            None => self.by_kind.entry(Box::from(kind)).or_default(),
        };
        of_kind.uids.insert(uid.clone(), id);
        of_kind.ids.insert(id);
        self.all.insert(uid, id);
    }

    pub(crate) fn remove(&mut self, uid: &str, kind: &str, id: u32) {
        self.all.remove(uid);
        if let Some(of_kind) = self.by_kind.get_mut(kind) {
            of_kind.uids.remove(uid);
            of_kind.ids.remove(id);
            if of_kind.uids.is_empty() {
                self.by_kind.remove(kind);
            }
        }
    }

    /// The sort key of an indexed entity's uid.
    pub(crate) fn key(&self, id: u32) -> UidKey {
        self.keys.get(id as usize).copied().unwrap_or_default()
    }

    /// The entries of `map` strictly after `after` in the walk direction.
    pub(crate) fn range<'a>(
        map: &'a BTreeMap<Arc<str>, u32>,
        desc: bool,
        after: Option<&str>,
    ) -> Box<dyn Iterator<Item = (&'a Arc<str>, &'a u32)> + 'a> {
        match (after, desc) {
            (None, false) => Box::new(map.iter()),
            (None, true) => Box::new(map.iter().rev()),
            (Some(bound), false) => {
                Box::new(map.range::<str, _>((Bound::Excluded(bound), Bound::Unbounded)))
            }
            (Some(bound), true) => Box::new(
                map.range::<str, _>((Bound::Unbounded, Bound::Excluded(bound)))
                    .rev(),
            ),
        }
    }
}
