//! Entity facets (spec §7.9, §8.9): original-case value counts per requested key.

use std::sync::{Arc, Mutex, PoisonError};

use roaring::RoaringBitmap;

use crate::filter::EntityFilter;
use crate::index::CatalogIndex;
use crate::postings::{Holders, Posting};

/// Postings at least this long are counted with roaring's container-wise intersection; shorter
/// ones by testing each id against a dense bitset of the filter, which avoids the fixed cost
/// of a roaring intersection for each of the thousands of small values a facet has.
const DENSE_POSTING: u64 = 1024;

/// Facet answers kept at most, and the most buckets one answer may have to be kept.
const CACHED_ANSWERS: usize = 16;
const CACHED_BUCKETS: usize = 50_000;

/// One facets answer: each facet with its (value, count) buckets.
pub type FacetCounts = Vec<(String, Vec<(String, u64)>)>;

/// The last few facet answers, keyed by the exact request, dropped on any change to the index.
///
/// The catalog page asks for the same facet set under the same filter on every load, and
/// between two changes of the catalog the answer cannot change; copying a kept answer costs
/// a fraction of recounting it.
#[derive(Debug, Default)]
pub(crate) struct FacetCache(Mutex<Vec<Kept>>);

/// A kept answer with the request it answers: the facets as asked and the filter.
type Kept = (Vec<String>, Option<EntityFilter>, Arc<FacetCounts>);

impl FacetCache {
    /// Forgets every answer; called by every change to the index, which holds it exclusively.
    pub(crate) fn clear(&mut self) {
        self.0
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn get(&self, facets: &[String], filter: Option<&EntityFilter>) -> Option<Arc<FacetCounts>> {
        let answers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        answers
            .iter()
            .find(|(f, q, _)| f.as_slice() == facets && q.as_ref() == filter)
            .map(|(_, _, answer)| answer.clone())
    }

    fn put(&self, facets: &[String], filter: Option<&EntityFilter>, answer: Arc<FacetCounts>) {
        if answer.iter().map(|(_, b)| b.len()).sum::<usize>() > CACHED_BUCKETS {
            return;
        }
        let mut answers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if answers.len() >= CACHED_ANSWERS {
            answers.remove(0);
        }
        answers.push((facets.to_vec(), filter.cloned(), answer));
    }
}

/// The filtered entities as a flat bitset, for constant-time membership tests.
struct Visible<'a> {
    set: &'a RoaringBitmap,
    words: Vec<u64>,
}

impl<'a> Visible<'a> {
    fn new(set: &'a RoaringBitmap, universe: usize) -> Self {
        let mut words = vec![0u64; universe.div_ceil(64)];
        for id in set {
            if let Some(word) = words.get_mut(id as usize / 64) {
                *word |= 1 << (id % 64);
            }
        }
        Self { set, words }
    }

    fn contains(&self, id: u32) -> bool {
        self.words
            .get(id as usize / 64)
            .is_some_and(|word| word & (1 << (id % 64)) != 0)
    }

    /// How many ids of `posting` are visible.
    fn count(&self, posting: &Posting) -> u64 {
        match posting {
            Posting::Empty => 0,
            Posting::One(id) => u64::from(self.contains(*id)),
            Posting::Small(ids) => ids.iter().filter(|&&id| self.contains(id)).count() as u64,
            Posting::Many(ids) if ids.len() >= DENSE_POSTING => ids.intersection_len(self.set),
            Posting::Many(ids) => ids.iter().filter(|&id| self.contains(id)).count() as u64,
        }
    }
}

impl CatalogIndex {
    /// Counts search rows per original-case value for each requested facet, over the
    /// entities matching `filter`. Facets keep their requested spelling (duplicates collapse,
    /// first occurrence wins) and are matched case-insensitively; buckets are ordered by
    /// value; null and over-long values are left out; unknown facets give no buckets.
    pub fn facets(&self, facets: &[String], filter: Option<&EntityFilter>) -> FacetCounts {
        Arc::unwrap_or_clone(self.facets_shared(facets, filter))
    }

    /// [`Self::facets`] without the copy: the answer as kept for the next identical request,
    /// which a server serializes straight from (a copy of a large answer costs more than
    /// writing it out).
    pub fn facets_shared(
        &self,
        facets: &[String],
        filter: Option<&EntityFilter>,
    ) -> Arc<FacetCounts> {
        if let Some(answer) = self.facet_cache.get(facets, filter) {
            return answer;
        }
        let answer = Arc::new(self.count_facets(facets, filter));
        self.facet_cache.put(facets, filter, answer.clone());
        answer
    }

    fn count_facets(&self, facets: &[String], filter: Option<&EntityFilter>) -> FacetCounts {
        let filtered = filter.map(|f| self.eval(Some(f)));
        let visible = filtered
            .as_ref()
            .map(|set| Visible::new(set, self.entities.len()));
        let count = |posting: &Posting| match &visible {
            None => posting.len(),
            Some(visible) => visible.count(posting),
        };
        let mut out: Vec<(String, Vec<(String, u64)>)> = Vec::new();
        for facet in facets {
            if out.iter().any(|(name, _)| name == facet) {
                continue;
            }
            let key = facet.to_lowercase();
            let mut buckets: Vec<(&str, u64)> = Vec::new();
            if let Some(index) = self.keys.get(key.as_str()) {
                for (lower, holders) in index.iter() {
                    match holders {
                        Holders::One(id) | Holders::Spelled(id, _) => {
                            let visible_holder = visible.as_ref().is_none_or(|v| v.contains(id));
                            if visible_holder {
                                let spelling = match holders {
                                    Holders::Spelled(_, spelling) => spelling,
                                    _ => lower,
                                };
                                buckets.push((spelling, 1));
                            }
                        }
                        Holders::Entry(entry) => match &entry.originals {
                            None => {
                                let n = count(&entry.ids);
                                if n > 0 {
                                    buckets.push((lower, n));
                                }
                            }
                            Some(variants) => {
                                // Skip the spellings of a value nobody visible holds.
                                if visible.is_some() && count(&entry.ids) == 0 {
                                    continue;
                                }
                                for (original, holders) in variants.iter() {
                                    let n = count(holders);
                                    if n > 0 {
                                        buckets.push((original, n));
                                    }
                                }
                            }
                        },
                    }
                }
                // An original spelling lower-cases to exactly one value, so every original
                // appears once; sorting is all that is left. Values mostly arrive sorted
                // already, which the stable sort detects.
                buckets.sort_by(|a, b| a.0.cmp(b.0));
                self.add_repeated_rows(&key, &mut buckets, &visible);
            }
            out.push((
                facet.clone(),
                buckets
                    .into_iter()
                    .map(|(value, count)| (value.to_owned(), count))
                    .collect(),
            ));
        }
        out
    }

    /// Adds the extra rows of entities that repeat one value under `key`.
    fn add_repeated_rows(
        &self,
        key: &str,
        buckets: &mut [(&str, u64)],
        visible: &Option<Visible<'_>>,
    ) {
        let Some(ids) = self.repeated_by_key.get(key) else {
            return;
        };
        for id in ids {
            if visible.as_ref().is_some_and(|v| !v.contains(id)) {
                continue;
            }
            let Some(repeats) = self.repeated_rows.get(&id) else {
                continue;
            };
            for (row_key, original, extra) in repeats {
                if **row_key == *key
                    && let Ok(at) = buckets.binary_search_by(|(v, _)| (*v).cmp(&**original))
                    && let Some((_, count)) = buckets.get_mut(at)
                {
                    *count += extra;
                }
            }
        }
    }
}
