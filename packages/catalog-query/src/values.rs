//! A sorted map from one key's lower-cased values to a 32-bit payload, packed into chunks of
//! bytes.
//!
//! Most of a catalog's distinct values belong to one entity (uids, names, descriptions,
//! relation targets), and most keys hold a single value (array items such as
//! `spec.dependson.resource:resource-1 = true`). A tree map spends about a hundred bytes per
//! value on its node slot and the separate string, and a few hundred bytes on the first leaf
//! of every key. Here a value costs its own bytes plus five: entries sit back to back,
//! sorted, in chunks of about a kilobyte, so a key with one value costs one small chunk.
//! Chunks are found by binary search on their first value and scanned linearly, which keeps
//! look-ups within a few hundred nanoseconds and ordered walks sequential in memory.
//!
//! An entry may carry a second string (the value's original spelling, when its single holder
//! did not write it in lower case), so that such a value needs no allocation of its own either.

use std::cmp::Ordering;

/// A chunk is split in two once its entries take more than this many bytes.
const CHUNK_BYTES: usize = 1024;

/// Length bytes at or above this mark a four-byte length (values are normally far shorter).
const LONG: u8 = 255;

/// The largest payload: the bit above it marks an entry that carries a second string.
pub(crate) const MAX_PAYLOAD: u32 = EXTRA_BIT - 1;
const EXTRA_BIT: u32 = 1 << 30;

/// One chunk: entries `[length][value bytes][payload, 4 bytes LE]([length][extra bytes])`,
/// sorted by value.
#[derive(Debug, Default)]
struct Chunk {
    bytes: Vec<u8>,
}

/// What a value maps to: a payload (at most [`MAX_PAYLOAD`]) and an optional second string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot<'a> {
    pub(crate) payload: u32,
    pub(crate) extra: Option<&'a str>,
}

/// One decoded entry.
#[derive(Debug, Clone, Copy)]
struct Entry<'a> {
    value: &'a str,
    slot: Slot<'a>,
    /// Where the entry starts.
    at: usize,
    /// Where the next entry starts.
    next: usize,
}

/// The bytes of a length-prefixed string at `at`, and the offset after it.
fn raw_str(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let (len, start) = match *bytes.get(at)? {
        LONG => {
            let raw: [u8; 4] = bytes.get(at + 1..at + 5)?.try_into().ok()?;
            (u32::from_le_bytes(raw) as usize, at + 5)
        }
        short => (usize::from(short), at + 1),
    };
    Some((bytes.get(start..start + len)?, start + len))
}

/// Decodes a length-prefixed string at `at`; returns it and the offset after it.
fn decode_str(bytes: &[u8], at: usize) -> Option<(&str, usize)> {
    let (raw, next) = raw_str(bytes, at)?;
    Some((std::str::from_utf8(raw).ok()?, next))
}

/// Where the entry starting at `at` ends, and its value's bytes (not checked as UTF-8: seeks
/// compare bytes, which orders like `str`).
fn skip(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let (value, end) = raw_str(bytes, at)?;
    let raw: [u8; 4] = bytes.get(end..end + 4)?.try_into().ok()?;
    let next = if u32::from_le_bytes(raw) & EXTRA_BIT == 0 {
        end + 4
    } else {
        raw_str(bytes, end + 4)?.1
    };
    Some((value, next))
}

/// Decodes the entry starting at `at`; `None` past the end.
fn decode(bytes: &[u8], at: usize) -> Option<Entry<'_>> {
    let (value, end) = decode_str(bytes, at)?;
    let raw: [u8; 4] = bytes.get(end..end + 4)?.try_into().ok()?;
    let payload = u32::from_le_bytes(raw);
    let (extra, next) = if payload & EXTRA_BIT == 0 {
        (None, end + 4)
    } else {
        let (extra, next) = decode_str(bytes, end + 4)?;
        (Some(extra), next)
    };
    Some(Entry {
        value,
        slot: Slot {
            payload: payload & !EXTRA_BIT,
            extra,
        },
        at,
        next,
    })
}

fn encode_str(out: &mut Vec<u8>, text: &str) {
    match u8::try_from(text.len()) {
        Ok(len) if len < LONG => out.push(len),
        _ => {
            out.push(LONG);
            // Values are capped far below 4 GB by the search rows; saturate rather than wrap.
            out.extend_from_slice(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_le_bytes());
        }
    }
    out.extend_from_slice(text.as_bytes());
}

/// The encoding of one entry.
fn encode(value: &str, slot: Slot<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + slot.extra.map_or(0, str::len) + 10);
    encode_str(&mut out, value);
    let flag = if slot.extra.is_some() { EXTRA_BIT } else { 0 };
    out.extend_from_slice(&((slot.payload & MAX_PAYLOAD) | flag).to_le_bytes());
    if let Some(extra) = slot.extra {
        encode_str(&mut out, extra);
    }
    out
}

impl Chunk {
    /// The bytes of the chunk's first value, unchecked: enough to order chunks, which is
    /// what every look-up does first, without validating UTF-8 at each probe.
    fn first_raw(&self) -> Option<&[u8]> {
        raw_str(&self.bytes, 0).map(|(raw, _)| raw)
    }

    fn entries(&self) -> impl Iterator<Item = Entry<'_>> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let entry = decode(&self.bytes, at)?;
            at = entry.next;
            Some(entry)
        })
    }

    /// The first entry whose value is not below `value`, and whether it equals it; `Err`
    /// with the end offset when every entry is below.
    fn seek(&self, value: &str) -> Result<(Entry<'_>, bool), usize> {
        let mut at = 0;
        while let Some((raw, next)) = skip(&self.bytes, at) {
            let found = match raw.cmp(value.as_bytes()) {
                Ordering::Less => {
                    at = next;
                    continue;
                }
                Ordering::Equal => true,
                Ordering::Greater => false,
            };
            return decode(&self.bytes, at)
                .map(|entry| (entry, found))
                .ok_or(self.bytes.len());
        }
        Err(self.bytes.len())
    }

    /// The offsets of every entry, for walking the chunk backwards.
    fn offsets(&self) -> Vec<usize> {
        self.entries().map(|e| e.at).collect()
    }
}

/// A sorted map from values to 32-bit payloads; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct ValueMap {
    chunks: Vec<Chunk>,
    len: usize,
}

impl ValueMap {
    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The chunk that holds `value` if anything does: the last one whose first value is not
    /// above it (or the first chunk).
    fn chunk_for(&self, value: &str) -> usize {
        // Byte order is `str` order, so comparing raw bytes finds the same chunk.
        self.chunks
            .partition_point(|c| c.first_raw().is_some_and(|first| first <= value.as_bytes()))
            .saturating_sub(1)
    }

    /// What `value` maps to.
    pub(crate) fn get(&self, value: &str) -> Option<Slot<'_>> {
        let chunk = self.chunks.get(self.chunk_for(value))?;
        match chunk.seek(value) {
            Ok((entry, true)) => Some(entry.slot),
            _ => None,
        }
    }

    /// Maps `value` to `slot`, adding the value if it is new; returns the previous payload.
    pub(crate) fn insert(&mut self, value: &str, slot: Slot<'_>) -> Option<u32> {
        if self.chunks.is_empty() {
            // Most keys have a single chunk; amortised growth would reserve four.
            self.chunks.reserve_exact(1);
            self.chunks.push(Chunk::default());
        }
        let i = self.chunk_for(value);
        let chunk = self.chunks.get_mut(i)?;
        let (range, previous) = match chunk.seek(value) {
            Ok((entry, true)) => (entry.at..entry.next, Some(entry.slot.payload)),
            Ok((entry, false)) => (entry.at..entry.at, None),
            Err(end) => (end..end, None),
        };
        let encoded = encode(value, slot);
        chunk
            .bytes
            .reserve_exact(encoded.len().saturating_sub(range.len()));
        chunk.bytes.splice(range, encoded);
        if previous.is_none() {
            self.len += 1;
        }
        if chunk.bytes.len() > CHUNK_BYTES {
            self.split(i);
        }
        previous
    }

    /// Adds `value` with `slot` if it is absent and returns `None`; otherwise leaves the map
    /// as it is and returns the value's payload and second string. One look-up where a
    /// [`ValueMap::get`] followed by [`ValueMap::insert`] would take two.
    pub(crate) fn get_or_insert(
        &mut self,
        value: &str,
        slot: Slot<'_>,
    ) -> Option<(u32, Option<Box<str>>)> {
        if self.chunks.is_empty() {
            self.chunks.reserve_exact(1);
            self.chunks.push(Chunk::default());
        }
        let i = self.chunk_for(value);
        let chunk = self.chunks.get_mut(i)?;
        let at = match chunk.seek(value) {
            Ok((entry, true)) => {
                return Some((entry.slot.payload, entry.slot.extra.map(Box::from)));
            }
            Ok((entry, false)) => entry.at,
            Err(end) => end,
        };
        let encoded = encode(value, slot);
        chunk.bytes.reserve_exact(encoded.len());
        chunk.bytes.splice(at..at, encoded);
        self.len += 1;
        if chunk.bytes.len() > CHUNK_BYTES {
            self.split(i);
        }
        None
    }

    /// Splits chunk `i` at the entry boundary nearest its middle.
    fn split(&mut self, i: usize) {
        let Some(chunk) = self.chunks.get_mut(i) else {
            return;
        };
        let half = chunk.bytes.len() / 2;
        let Some(cut) = chunk.entries().map(|e| e.next).find(|&next| next >= half) else {
            return;
        };
        if cut >= chunk.bytes.len() {
            // A single entry larger than a chunk stays alone.
            return;
        }
        let tail = chunk.bytes.split_off(cut);
        chunk.bytes.shrink_to_fit();
        self.chunks.insert(i + 1, Chunk { bytes: tail });
    }

    /// Removes `value`; returns its payload.
    pub(crate) fn remove(&mut self, value: &str) -> Option<u32> {
        let i = self.chunk_for(value);
        let chunk = self.chunks.get_mut(i)?;
        let (at, next, payload) = match chunk.seek(value) {
            Ok((entry, true)) => (entry.at, entry.next, entry.slot.payload),
            _ => return None,
        };
        chunk.bytes.drain(at..next);
        self.len -= 1;
        if chunk.bytes.is_empty() {
            self.chunks.remove(i);
        } else if chunk.bytes.capacity() > 2 * chunk.bytes.len() + 64 {
            chunk.bytes.shrink_to_fit();
        }
        Some(payload)
    }

    /// All entries in ascending value order.
    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter {
            map: self,
            chunk: 0,
            at: 0,
        }
    }

    /// The entries from the first value not below `from`, ascending.
    pub(crate) fn iter_from(&self, from: &str) -> Iter<'_> {
        let chunk = self.chunk_for(from);
        let at = match self.chunks.get(chunk).map(|c| c.seek(from)) {
            Some(Ok((entry, _))) => entry.at,
            Some(Err(end)) => end,
            None => 0,
        };
        Iter {
            map: self,
            chunk,
            at,
        }
    }

    /// All entries in descending value order.
    pub(crate) fn iter_rev(&self) -> RevIter<'_> {
        RevIter::new(self, self.chunks.len(), None)
    }

    /// The entries from the last value not above `to`, descending.
    pub(crate) fn iter_rev_from(&self, to: &str) -> RevIter<'_> {
        let chunk = self.chunk_for(to);
        let Some(found) = self.chunks.get(chunk) else {
            return RevIter::new(self, 0, None);
        };
        // Entries up to and including `to` in this chunk stay; the walk starts at the last.
        let kept = found.entries().take_while(|e| e.value <= to).count();
        RevIter::new(self, chunk + 1, Some(kept))
    }
}

/// Ascending walk over a [`ValueMap`].
#[derive(Debug, Clone)]
pub(crate) struct Iter<'a> {
    map: &'a ValueMap,
    chunk: usize,
    at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, Slot<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let chunk = self.map.chunks.get(self.chunk)?;
            match decode(&chunk.bytes, self.at) {
                Some(entry) => {
                    self.at = entry.next;
                    return Some((entry.value, entry.slot));
                }
                None => {
                    self.chunk += 1;
                    self.at = 0;
                }
            }
        }
    }
}

/// Descending walk over a [`ValueMap`]; entries of the current chunk are located once.
#[derive(Debug, Clone)]
pub(crate) struct RevIter<'a> {
    map: &'a ValueMap,
    /// Chunks below this index are still to be walked.
    chunk: usize,
    /// Offsets of the current chunk's entries still to be returned, last one first.
    pending: Vec<usize>,
    current: Option<usize>,
}

impl<'a> RevIter<'a> {
    /// Starts below chunk `end`; `first_kept` limits the chunk `end - 1` to its first entries.
    fn new(map: &'a ValueMap, end: usize, first_kept: Option<usize>) -> Self {
        let mut iter = RevIter {
            map,
            chunk: end,
            pending: Vec::new(),
            current: None,
        };
        if let Some(kept) = first_kept
            && let Some(last) = end.checked_sub(1)
            && let Some(chunk) = map.chunks.get(last)
        {
            let mut offsets = chunk.offsets();
            offsets.truncate(kept);
            iter.pending = offsets;
            iter.current = Some(last);
            iter.chunk = last;
        }
        iter
    }
}

impl<'a> Iterator for RevIter<'a> {
    type Item = (&'a str, Slot<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let (Some(current), Some(at)) = (self.current, self.pending.pop()) {
                let chunk = self.map.chunks.get(current)?;
                let entry = decode(&chunk.bytes, at)?;
                return Some((entry.value, entry.slot));
            }
            let below = self.chunk.checked_sub(1)?;
            self.chunk = below;
            self.pending = self.map.chunks.get(below)?.offsets();
            self.current = Some(below);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ops::Bound;

    use super::{Slot, ValueMap};

    /// What the tree map of a test holds per value: the payload and the optional second string.
    type Expected = BTreeMap<String, (u32, Option<String>)>;

    fn slot(entry: &(u32, Option<String>)) -> Slot<'_> {
        Slot {
            payload: entry.0,
            extra: entry.1.as_deref(),
        }
    }

    /// Checks every view of the map against a tree map holding the same entries.
    fn agree(map: &ValueMap, expected: &Expected, probes: &[String]) {
        assert_eq!(map.len(), expected.len());
        let all: Vec<(&str, Slot<'_>)> = expected
            .iter()
            .map(|(k, v)| (k.as_str(), slot(v)))
            .collect();
        let got: Vec<(&str, Slot<'_>)> = map.iter().collect();
        assert_eq!(got, all);
        let mut rev: Vec<(&str, Slot<'_>)> = map.iter_rev().collect();
        rev.reverse();
        assert_eq!(rev, all);
        for probe in probes {
            assert_eq!(
                map.get(probe),
                expected.get(probe).map(slot),
                "get {probe:?}"
            );
            let from: Vec<&str> = map.iter_from(probe).map(|(k, _)| k).collect();
            let want: Vec<&str> = expected
                .range::<str, _>((Bound::Included(probe.as_str()), Bound::Unbounded))
                .map(|(k, _)| k.as_str())
                .collect();
            assert_eq!(from, want, "from {probe:?}");
            let to: Vec<&str> = map.iter_rev_from(probe).map(|(k, _)| k).collect();
            let want: Vec<&str> = expected
                .range::<str, _>((Bound::Unbounded, Bound::Included(probe.as_str())))
                .rev()
                .map(|(k, _)| k.as_str())
                .collect();
            assert_eq!(to, want, "rev from {probe:?}");
        }
    }

    #[test]
    fn packed_values_agree_with_a_tree_map_through_growth_and_removal() {
        let mut map = ValueMap::default();
        let mut expected = Expected::new();
        // Values of every length class, including one longer than a chunk and one that
        // needs the long length form, inserted in a scrambled order; a third of the entries
        // carry a second string, and re-inserting a value may add, change or drop it.
        let value = |i: u32| match i % 7 {
            0 => format!("component-{}", i * 7919 % 3001),
            1 => format!("group:default/team-{}", i % 97),
            2 => String::new(),
            3 => "x".repeat((i % 300) as usize),
            4 => format!("åß-{i}"),
            5 => "long".repeat(400),
            _ => format!("{:08x}-0000", i.wrapping_mul(2_654_435_761)),
        };
        let extra = |i: u32| match i % 3 {
            0 => Some(format!("Spelled-{i}")),
            1 if i.is_multiple_of(2) => Some("L".repeat(300)),
            _ => None,
        };
        let probes: Vec<String> = (0..60)
            .map(value)
            .chain(["", "a", "zzzz", "component-", "group:default/team-5"].map(String::from))
            .collect();
        for i in 0..3000u32 {
            let v = value(i * 13 % 3000);
            let entry = (i, extra(i));
            let previous = expected.insert(v.clone(), entry.clone()).map(|(p, _)| p);
            assert_eq!(map.insert(&v, slot(&entry)), previous);
            if i % 500 == 0 {
                agree(&map, &expected, &probes);
            }
        }
        agree(&map, &expected, &probes);
        for i in 0..3000u32 {
            let v = value(i * 17 % 3000);
            assert_eq!(map.remove(&v), expected.remove(&v).map(|(p, _)| p));
            if i % 500 == 0 {
                agree(&map, &expected, &probes);
            }
        }
        agree(&map, &expected, &probes);
        assert_eq!(map.len(), 0);
        assert!(map.chunks.is_empty());
        assert_eq!(map.iter().count(), 0);
        assert_eq!(map.iter_rev_from("a").count(), 0);
    }

    #[test]
    fn get_or_insert_adds_only_absent_values_and_reports_present_ones() {
        let mut map = ValueMap::default();
        let mut expected = Expected::new();
        let value = |i: u32| match i % 4 {
            0 => format!("component-{}", i * 7919 % 1009),
            1 => format!("åß-{}", i % 211),
            2 => "y".repeat((i % 700) as usize),
            _ => format!("{:08x}", i.wrapping_mul(2_654_435_761) % 5003),
        };
        let extra = |i: u32| i.is_multiple_of(5).then(|| format!("Spelled-{i}"));
        let probes: Vec<String> = (0..80).map(value).collect();
        for i in 0..4000u32 {
            let v = value(i);
            let entry = (i, extra(i));
            let found = map.get_or_insert(&v, slot(&entry));
            match expected.get(&v) {
                Some((payload, spelled)) => {
                    assert_eq!(
                        found,
                        Some((*payload, spelled.as_deref().map(Box::<str>::from))),
                        "{v}"
                    );
                }
                None => {
                    assert_eq!(found, None, "{v}");
                    expected.insert(v, entry);
                }
            }
            if i % 800 == 0 {
                agree(&map, &expected, &probes);
            }
        }
        agree(&map, &expected, &probes);
        assert_eq!(map.len(), expected.len());
    }
}
