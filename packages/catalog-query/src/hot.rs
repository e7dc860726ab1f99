//! A bounded cache of decompressed entity texts, for the entities that pages ask for again
//! and again.
//!
//! Texts are kept compressed (see `packed.rs`), and decompressing them is most of what a
//! page of 50 costs once the query has run: about a fifth of the server's CPU under a load
//! of repeated kind pages. Real catalogs are read unevenly (the first page of components,
//! a team's entities, the popular APIs), so keeping the texts of the entities read often
//! turns that work into a copy.
//!
//! Entries are keyed by the address of the entity's shared allocation and hold a weak
//! reference to it. An `IndexedEntity` never changes (an update to the catalog makes a new
//! one), and an allocation that a weak reference still points to cannot be reused for
//! another entity, so an entry can never answer for an entity other than the one it was
//! made from: no invalidation is needed, and entries of replaced entities simply age out.
//!
//! A text is admitted the second time it is missed within a while (the first miss only
//! records its key), so that one walk over the whole catalog does not push the hot texts
//! out. Eviction is a clock: an entry read since the hand last passed it gets another turn.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, Weak};

use crate::error::TextError;
use crate::index::IndexedEntity;

/// The default bound on the bytes of texts kept: at about 2 KB a text, some 8,000 entities,
/// and at most 16 MiB more resident memory.
pub const DEFAULT_HOT_TEXT_BYTES: usize = 16 * 1024 * 1024;
/// Shards, each with its own lock, so that the two or more threads serving pages seldom wait
/// for each other.
const SHARDS: usize = 16;
/// Texts longer than this are not kept: a few huge entities (large API definitions) would
/// take the room of many ordinary ones.
const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Keys remembered from first misses, one per this many bytes of room: about eight times as
/// many keys as entries of 2 KB, so that a set of entities read in turn that is larger than
/// the room still has part of it kept. A key costs some 32 bytes, so the keys take an eighth
/// of the room at most.
const GHOST_BYTES_PER_KEY: usize = 256;

/// Decompressed texts of recently and often read entities, bounded in bytes.
#[derive(Debug)]
pub struct HotTexts {
    shards: Box<[Mutex<Shard>]>,
    /// Room per shard, in bytes of text.
    shard_bytes: usize,
}

#[derive(Debug, Default)]
struct Shard {
    entries: HashMap<usize, Entry>,
    /// The clock: keys of `entries` in the order the hand visits them.
    hand: VecDeque<usize>,
    bytes: usize,
    /// Keys missed once, in the order they were missed (the oldest are forgotten first).
    ghosts: HashSet<usize>,
    ghost_order: VecDeque<usize>,
}

#[derive(Debug)]
struct Entry {
    owner: Weak<IndexedEntity>,
    text: Box<[u8]>,
    /// Read since the hand last passed.
    referenced: bool,
}

impl Default for HotTexts {
    fn default() -> Self {
        Self::new(DEFAULT_HOT_TEXT_BYTES)
    }
}

impl HotTexts {
    /// A cache holding at most `bytes` of text; 0 keeps nothing.
    pub fn new(bytes: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_bytes: bytes / SHARDS,
        }
    }

    /// Appends the compact JSON text of `entity` to `out`, as
    /// [`IndexedEntity::write_json`] does, from the cache when it holds it. On error `out` is
    /// unchanged.
    pub fn write_json(
        &self,
        entity: &Arc<IndexedEntity>,
        out: &mut Vec<u8>,
    ) -> Result<(), TextError> {
        let len = entity.json_len();
        if !entity.is_compressed() || len > MAX_TEXT_BYTES || len > self.shard_bytes {
            return entity.write_json(out);
        }
        let key = Arc::as_ptr(entity) as usize;
        let shard = self.shard(key);
        let admit = {
            let Ok(mut shard) = shard.lock() else {
                return entity.write_json(out);
            };
            if let Some(hit) = shard.entries.get_mut(&key)
                && std::ptr::eq(hit.owner.as_ptr(), Arc::as_ptr(entity))
            {
                hit.referenced = true;
                out.extend_from_slice(&hit.text);
                return Ok(());
            }
            shard.seen_once(key, self.shard_bytes / GHOST_BYTES_PER_KEY)
        };
        let start = out.len();
        entity.write_json(out)?;
        if admit {
            let text: Box<[u8]> = out.get(start..).unwrap_or_default().into();
            if let Ok(mut shard) = shard.lock() {
                shard.insert(key, Arc::downgrade(entity), text, self.shard_bytes);
            }
        }
        Ok(())
    }

    /// The bytes of text held, and the number of texts.
    pub fn usage(&self) -> (usize, usize) {
        self.shards
            .iter()
            .filter_map(|s| s.lock().ok())
            .fold((0, 0), |(bytes, count), s| {
                (bytes + s.bytes, count + s.entries.len())
            })
    }

    fn shard(&self, key: usize) -> &Mutex<Shard> {
        // Allocations are at least 16-byte aligned; mix the higher bits in so that
        // neighbouring entities spread over the shards.
        let mixed = (key >> 4) ^ (key >> 12);
        &self.shards[mixed % SHARDS]
    }
}

impl Shard {
    /// Records a miss of `key`; true when it was missed before and should now be kept.
    /// A key stays among the ghosts when it is kept (until it ages out with the others),
    /// so that the ghosts and their order always hold the same keys, once each.
    fn seen_once(&mut self, key: usize, max_ghosts: usize) -> bool {
        if self.ghosts.contains(&key) {
            return true;
        }
        if max_ghosts == 0 {
            return false;
        }
        while self.ghost_order.len() >= max_ghosts {
            if let Some(old) = self.ghost_order.pop_front() {
                self.ghosts.remove(&old);
            }
        }
        self.ghosts.insert(key);
        self.ghost_order.push_back(key);
        false
    }

    fn insert(&mut self, key: usize, owner: Weak<IndexedEntity>, text: Box<[u8]>, room: usize) {
        if self.entries.contains_key(&key) {
            // Another thread admitted it meanwhile.
            return;
        }
        // Each entry gets at most one second chance per call, so this ends: after a full
        // turn of the hand every flag is clear.
        let mut turns = 2 * self.hand.len() + 1;
        while self.bytes + text.len() > room && turns > 0 {
            turns -= 1;
            let Some(candidate) = self.hand.pop_front() else {
                break;
            };
            let keep = self
                .entries
                .get_mut(&candidate)
                .is_some_and(|e| std::mem::take(&mut e.referenced) && e.owner.strong_count() > 0);
            if keep {
                self.hand.push_back(candidate);
            } else if let Some(gone) = self.entries.remove(&candidate) {
                self.bytes -= gone.text.len();
            }
        }
        if self.bytes + text.len() > room {
            return;
        }
        self.bytes += text.len();
        self.hand.push_back(key);
        self.entries.insert(
            key,
            Entry {
                owner,
                text,
                referenced: false,
            },
        );
    }
}
