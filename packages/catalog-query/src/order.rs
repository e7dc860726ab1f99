//! Ordering: the `order` and `orderField` parameters (spec §4) and the ordered walks over a
//! candidate set that serve pages without sorting the whole catalog.

use std::cmp::Ordering;
use std::ops::Bound;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::error::QueryError;
use crate::index::{CatalogIndex, IndexedEntity};
use crate::postings::{Holders, KeyIndex};
use crate::search::rows_for_key_in_text;
use crate::uids::{KindUids, UidKey, UidOrder};

/// One `order=asc:<field>` / `desc:<field>` directive of `GET /entities`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDirective {
    /// Search key (lower-cased when parsed).
    pub field: String,
    /// Descending instead of ascending.
    pub desc: bool,
}

/// The by-query `orderField` (`<field>[,asc|desc]`) or POST `orderBy` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderField {
    /// Search key.
    pub field: String,
    /// Descending instead of ascending.
    pub desc: bool,
}

/// Parses the repeatable `order` parameter of `GET /entities`.
pub fn parse_order(params: &[String]) -> Result<Vec<OrderDirective>, QueryError> {
    params
        .iter()
        .map(|param| {
            let parsed = match param.split_once(':') {
                Some(("asc", field)) if !field.is_empty() => Some((field, false)),
                Some(("desc", field)) if !field.is_empty() => Some((field, true)),
                _ => None,
            };
            let Some((field, desc)) = parsed.filter(|(f, _)| !f.contains(['\n', '\r'])) else {
                return Err(QueryError::new(format!(
                    "Invalid order parameter \"{param}\", expected \"<asc or desc>:<field name>\""
                )));
            };
            Ok(OrderDirective {
                field: field.to_lowercase(),
                desc,
            })
        })
        .collect()
}

/// Parses the repeatable `orderField` parameter; every value is validated, only the first is
/// returned (Backstage ignores the rest).
pub fn parse_order_field(params: &[String]) -> Result<Option<OrderField>, QueryError> {
    let mut first = None;
    for param in params {
        let mut parts = param.split(',');
        let field = parts.next().unwrap_or_default();
        let desc = match parts.next() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(QueryError::new(
                    "Invalid order field order, must be asc or desc",
                ));
            }
        };
        if first.is_none() {
            first = Some(OrderField {
                field: field.to_owned(),
                desc,
            });
        }
    }
    Ok(first)
}

/// Collects a page while walking: skips `skip` ids, then keeps up to `want`.
#[derive(Debug)]
pub(crate) struct Sink {
    pub(crate) skip: u64,
    pub(crate) want: usize,
    pub(crate) out: Vec<u32>,
}

impl Sink {
    pub(crate) fn new(skip: u64, want: usize) -> Self {
        Self {
            skip,
            want,
            out: Vec::new(),
        }
    }

    pub(crate) fn full(&self) -> bool {
        self.out.len() >= self.want
    }

    /// Offers one id; returns whether the walk should continue.
    pub(crate) fn push(&mut self, id: u32) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
        } else {
            self.out.push(id);
        }
        !self.full()
    }

    /// Skips a whole block of `len` ids if the remaining skip covers it.
    fn skip_block(&mut self, len: u64) -> bool {
        if self.skip >= len {
            self.skip -= len;
            true
        } else {
            false
        }
    }

    /// How many more ids the walk must produce (skipped ones included).
    pub(crate) fn need(&self) -> u64 {
        self.skip
            .saturating_add(self.want.saturating_sub(self.out.len()) as u64)
    }
}

/// How ordered walks choose between sorting the candidates and walking a global order.
///
/// Both strategies must give identical results; forcing one lets tests check each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WalkStrategy {
    /// Pick the cheaper one from the set sizes (the default).
    #[default]
    Auto,
    /// Always collect the candidates and sort them.
    Collect,
    /// Always walk the value buckets or the global uid/ref order.
    Walk,
}

impl CatalogIndex {
    /// Overrides the ordering strategy (for tests and benchmarks).
    pub fn set_walk_strategy(&mut self, strategy: WalkStrategy) {
        self.strategy = strategy;
    }

    pub(crate) fn prefer_collect(
        &self,
        set_len: u64,
        universe: u64,
        need: u64,
        collect_factor: u64,
    ) -> bool {
        match self.strategy {
            WalkStrategy::Auto => prefer_collect(set_len, universe, need, collect_factor),
            WalkStrategy::Collect => true,
            WalkStrategy::Walk => false,
        }
    }
}

/// The relative cost of producing one sort key for a field (`collect_factor` of
/// [`prefer_collect`]): most entities' values are read by parsing part of their text, a few
/// microseconds against the tens of nanoseconds of a membership test.
pub(crate) const KEYED: u64 = 64;

/// The steps a walk over a global order of `universe` entities is expected to take to find
/// `need` members of a set of `set_len`, when the set is spread evenly over the order.
fn walk_steps(set_len: u64, universe: u64, need: u64) -> u64 {
    need.saturating_mul(universe)
        .saturating_div(set_len.max(1))
        .min(universe)
}

/// Whether sorting a set is cheaper than walking a global order and testing membership.
/// `collect_factor` weighs how expensive producing one sort key is.
fn prefer_collect(set_len: u64, universe: u64, need: u64, collect_factor: u64) -> bool {
    let walk = walk_steps(set_len, universe, need);
    let set_len = set_len.max(1);
    let log = u64::from(64 - set_len.leading_zeros());
    set_len.saturating_mul(log + collect_factor) < walk
}

/// A sort value: the lower-cased value chosen for the entity, `None` when missing.
pub(crate) type SortValue = Option<String>;

impl CatalogIndex {
    /// The value an entity sorts by for `key`: its smallest non-null value, or its largest
    /// for descending orders (the first row it would appear in).
    pub(crate) fn sort_value(&self, id: u32, key: &str, largest: bool) -> SortValue {
        // The postings answer most cases; only an entity with exactly one value for the key
        // needs its text parsed to learn which value that is.
        let index = self.keys.get(key)?;
        if let Some((smallest, biggest)) = index.multi_bounds(id) {
            return Some(if largest { biggest } else { smallest }.to_owned());
        }
        if !index.exists.contains(id) || index.null_only().contains(id) {
            return None;
        }
        let text = self.entity_ref_of(id)?.json().ok()?;
        let values = rows_for_key_in_text(&text, key)
            .into_iter()
            .filter_map(|row| row.value);
        if largest { values.max() } else { values.min() }
    }

    /// The ids of a value bucket restricted to `set`, keeping multi-valued entities only in
    /// the bucket of their own sort value.
    pub(crate) fn bucket_members(
        &self,
        index: &KeyIndex,
        key: &str,
        value: &str,
        ids: &crate::postings::Posting,
        set: &RoaringBitmap,
        largest: bool,
    ) -> RoaringBitmap {
        let mut members = ids.intersect(set);
        if !index.multi().is_empty() {
            let multi = index.multi().intersect(&members);
            for id in &multi {
                if self.sort_value(id, key, largest).as_deref() != Some(value) {
                    members.remove(id);
                }
            }
        }
        members
    }

    /// Walks `set` in uid order (descending if `desc`), strictly after `after` when given.
    pub(crate) fn walk_uid(
        &self,
        set: &RoaringBitmap,
        desc: bool,
        after: Option<&str>,
        sink: &mut Sink,
    ) -> bool {
        if after.is_none() && sink.skip_block(set.len()) {
            return true;
        }
        let universe = self.uids.len() as u64;
        if self.prefer_collect(set.len(), universe, sink.need(), 1) {
            let ids = self.sorted_by_uid(set, desc, after);
            return ids.into_iter().all(|id| sink.push(id));
        }
        // A set within one kind (a kind filter, and most filters on kind-specific fields)
        // walks that kind's own uid order, where every step lands on a candidate.
        if let Some(of_kind) = self.single_kind(set) {
            let members = set.len();
            return Self::walk_members(&of_kind.uids, set, members, desc, after)
                .all(|(_, id)| sink.push(id));
        }
        // The walk is expected to find the page within `walk_steps(..)` steps when the set is
        // spread evenly over the uid order. A set that clusters (time-ordered uids and a
        // filter on entities created together) can take far more; past twice the expected
        // count the walk continues kind by kind instead.
        let budget = match self.strategy {
            WalkStrategy::Walk => 3,
            _ => walk_steps(set.len(), universe, sink.need())
                .saturating_mul(2)
                .saturating_add(64),
        };
        let mut steps = 0u64;
        for (uid, &id) in UidOrder::range(&self.uids.all, desc, after) {
            if set.contains(id) && !sink.push(id) {
                return false;
            }
            steps += 1;
            if steps >= budget {
                return self.walk_uid_by_kind(set, desc, Some(uid), sink);
            }
        }
        true
    }

    /// [`CatalogIndex::walk_uid`] over each kind's own uid order, merged.
    fn walk_uid_by_kind(
        &self,
        set: &RoaringBitmap,
        desc: bool,
        after: Option<&str>,
        sink: &mut Sink,
    ) -> bool {
        type Walk<'a> = Box<dyn Iterator<Item = (&'a str, u32)> + 'a>;
        // The kinds holding members, with how many; counting allocates nothing, and the
        // search stops once every member is accounted for (one kind, for a kind filter).
        let mut slices: Vec<(&KindUids, u64)> = Vec::new();
        let mut found = 0;
        for of_kind in self.uids.by_kind.values() {
            let members = of_kind.ids.intersection_len(set);
            if members > 0 {
                slices.push((of_kind, members));
                found += members;
                if found >= set.len() {
                    break;
                }
            }
        }
        let mut walks: Vec<std::iter::Peekable<Walk<'_>>> = Vec::with_capacity(slices.len());
        for (of_kind, members) in slices {
            let universe = of_kind.uids.len() as u64;
            let walk: Walk<'_> = if self.prefer_collect(members, universe, sink.need(), 1) {
                let ids = self.sorted_by_uid(&(&of_kind.ids & set), desc, after);
                Box::new(
                    ids.into_iter()
                        .filter_map(|id| Some((self.entity_ref_of(id)?.uid(), id))),
                )
            } else {
                Box::new(Self::walk_members(&of_kind.uids, set, members, desc, after))
            };
            walks.push(walk.peekable());
        }
        loop {
            // The walk whose next uid comes first in the walk direction.
            let mut best: Option<(usize, &str)> = None;
            for (i, walk) in walks.iter_mut().enumerate() {
                let Some(&(uid, _)) = walk.peek() else {
                    continue;
                };
                let better = match best {
                    None => true,
                    Some((_, current)) if desc => uid > current,
                    Some((_, current)) => uid < current,
                };
                if better {
                    best = Some((i, uid));
                }
            }
            let Some((i, _)) = best else {
                return true;
            };
            let Some((_, id)) = walks.get_mut(i).and_then(Iterator::next) else {
                return true;
            };
            if !sink.push(id) {
                return false;
            }
        }
    }

    /// The kind holding every member of `set`, if one does (tested with the kind of the
    /// set's first member).
    fn single_kind(&self, set: &RoaringBitmap) -> Option<&KindUids> {
        let first = self.entity_ref_of(set.min()?)?;
        let of_kind = self
            .uids
            .by_kind
            .get(crate::uids::kind_of(first.entity_ref()))?;
        set.is_subset(&of_kind.ids).then_some(of_kind)
    }

    /// The members of `set` in one uid order `map`, strictly after `after`; the walk stops
    /// once all `members` of them are out, since the rest of the order holds none.
    fn walk_members<'a>(
        map: &'a std::collections::BTreeMap<std::sync::Arc<str>, u32>,
        set: &'a RoaringBitmap,
        members: u64,
        desc: bool,
        after: Option<&str>,
    ) -> impl Iterator<Item = (&'a str, u32)> + 'a {
        let mut range = UidOrder::range(map, desc, after);
        let mut left = members;
        std::iter::from_fn(move || {
            while left > 0 {
                let (uid, &id) = range.next()?;
                if set.contains(id) {
                    left -= 1;
                    return Some((&**uid, id));
                }
            }
            None
        })
    }

    /// The ids of `set` strictly after `after`, in uid order (descending if `desc`). Uids are
    /// compared by their sort keys, and read only when two keys tie.
    pub(crate) fn sorted_by_uid(
        &self,
        set: &RoaringBitmap,
        desc: bool,
        after: Option<&str>,
    ) -> Vec<u32> {
        let uid_of = |id: u32| self.entity_ref_of(id).map(IndexedEntity::uid);
        let mut keyed: Vec<(UidKey, u32)> = set
            .iter()
            .filter(|&id| match (after, uid_of(id)) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(bound), Some(uid)) if desc => uid < bound,
                (Some(bound), Some(uid)) => uid > bound,
            })
            .map(|id| (self.uids.key(id), id))
            .collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| uid_of(a.1).cmp(&uid_of(b.1))));
        let mut ids: Vec<u32> = keyed.into_iter().map(|(_, id)| id).collect();
        if desc {
            ids.reverse();
        }
        ids
    }

    /// Walks `set` in canonical entity ref order (the default order of `GET /entities`).
    pub(crate) fn walk_ref(&self, set: &RoaringBitmap, sink: &mut Sink) -> bool {
        if sink.skip_block(set.len()) {
            return true;
        }
        let universe = self.by_ref.len() as u64;
        if self.prefer_collect(set.len(), universe, sink.need(), 1) {
            return self.collect_by_ref(set, sink);
        }
        // Refs start with their kind, so the catalog's ref order is clustered by kind and a
        // kind-filtered set would make a plain walk step over every other kind first. Walk
        // kind by kind instead, each over its own slice of the ref order.
        let Some(kinds) = self.keys.get("kind") else {
            return self.collect_by_ref(set, sink);
        };
        let mut slices: Vec<(String, RoaringBitmap)> = Vec::new();
        let mut remaining = set.clone();
        for (_, holders) in kinds.iter() {
            let members = holders.ids().intersect(&remaining);
            let Some(prefix) = members
                .min()
                .and_then(|id| self.entity_ref_of(id))
                .and_then(|e| e.entity_ref().split_once(':'))
                .map(|(kind, _)| format!("{kind}:"))
            else {
                continue;
            };
            remaining -= &members;
            slices.push((prefix, members));
        }
        if !remaining.is_empty() {
            // Kinds too long to index: rare enough to sort separately, after the rest.
            return self.collect_by_ref(set, sink);
        }
        slices.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (prefix, members) in slices {
            if sink.skip_block(members.len()) {
                continue;
            }
            let mut left = members.len();
            let range = self
                .by_ref
                .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded));
            for (_, &id) in range {
                if members.contains(id) {
                    left -= 1;
                    if !sink.push(id) {
                        return false;
                    }
                    if left == 0 {
                        break;
                    }
                }
            }
        }
        true
    }

    fn collect_by_ref(&self, set: &RoaringBitmap, sink: &mut Sink) -> bool {
        let mut ids: Vec<(&str, u32)> = set
            .iter()
            .filter_map(|id| Some((self.entity_ref_of(id)?.entity_ref(), id)))
            .collect();
        ids.sort_unstable();
        for (_, id) in ids {
            if !sink.push(id) {
                return false;
            }
        }
        true
    }

    /// Walks `set` by `order` directives (missing values last for every direction), then uid
    /// ascending, as the paginated `GET /entities` does.
    pub(crate) fn walk_directives(
        &self,
        directives: &[(String, bool)],
        set: &RoaringBitmap,
        sink: &mut Sink,
    ) -> bool {
        let Some(((key, desc), rest)) = directives.split_first() else {
            return self.walk_uid(set, false, None, sink);
        };
        if set.is_empty() || sink.skip_block(set.len()) {
            return true;
        }
        let Some(index) = self.keys.get(key.as_str()) else {
            // Nobody has the field: everyone ties, so the remaining directives decide.
            return self.walk_directives(rest, set, sink);
        };
        let buckets = index.value_count() as u64;
        if self.prefer_collect(set.len(), buckets, sink.need(), KEYED) {
            return self.collect_directives(directives, set, sink);
        }
        let values: Box<dyn Iterator<Item = _>> = if *desc {
            Box::new(index.iter_rev())
        } else {
            Box::new(index.iter())
        };
        let mut remaining = set.clone();
        for (value, holders) in values {
            if remaining.is_empty() {
                return true;
            }
            // Most values have a single holder: test it before building a bucket.
            if let Holders::One(id) | Holders::Spelled(id, _) = holders
                && !remaining.contains(id)
            {
                continue;
            }
            let members = self.bucket_members(index, key, value, &holders.ids(), &remaining, *desc);
            if members.is_empty() {
                continue;
            }
            remaining -= &members;
            if sink.skip_block(members.len()) {
                continue;
            }
            if !self.walk_directives(rest, &members, sink) {
                return false;
            }
        }
        // Whatever is left lacks a value for this directive and sorts last.
        self.walk_directives(rest, &remaining, sink)
    }

    fn collect_directives(
        &self,
        directives: &[(String, bool)],
        set: &RoaringBitmap,
        sink: &mut Sink,
    ) -> bool {
        let mut rows: Vec<(Vec<SortValue>, &str, u32)> = set
            .iter()
            .filter_map(|id| {
                let uid = self.entity_ref_of(id)?.uid();
                let values = directives
                    .iter()
                    .map(|(key, desc)| self.sort_value(id, key, *desc))
                    .collect();
                Some((values, uid, id))
            })
            .collect();
        rows.sort_unstable_by(|a, b| {
            for (i, (_, desc)) in directives.iter().enumerate() {
                let ordering = compare_missing_last(&a.0[i], &b.0[i], *desc);
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            a.1.cmp(b.1)
        });
        for (_, _, id) in rows {
            if !sink.push(id) {
                return false;
            }
        }
        true
    }
}

/// Compares two sort values in a direction, with missing values last either way.
fn compare_missing_last(a: &SortValue, b: &SortValue, desc: bool) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) if desc => b.cmp(a),
        (Some(a), Some(b)) => a.cmp(b),
    }
}
