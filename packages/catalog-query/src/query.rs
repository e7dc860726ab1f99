//! `GET|POST /entities/by-query`: filter or predicate, `orderField`, full text, offset, limit,
//! `totalItems` and opaque keyset cursors (spec §5.2, §6, §7.2–§7.3).

use std::cmp::Ordering;
use std::sync::Arc;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::base64::{decode_base64, encode_base64};
use crate::error::QueryError;
use crate::filter::EntityFilter;
use crate::index::{CatalogIndex, IndexedEntity};
use crate::order::{KEYED, OrderField, Sink, SortValue};
use crate::postings::Holders;

/// Default page size of by-query in current Backstage versions.
pub const DEFAULT_LIMIT: u64 = 200;

/// The full-text filter: a term matched as a substring of the values of some fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FullTextFilter {
    /// The search term (trimmed before use; empty means no filtering).
    pub term: String,
    /// Search keys to look in; empty means the order field or `metadata.uid`.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// A by-query request. With `cursor` set, only `limit` (and the authorization filter) apply.
#[derive(Debug, Clone, Default)]
pub struct QueryRequest {
    /// The request filter (GET `filter` or POST `query` predicate).
    pub filter: Option<EntityFilter>,
    /// A permission restriction ANDed in on every page but never stored in cursors.
    pub authorization_filter: Option<EntityFilter>,
    /// The first `orderField` / `orderBy` entry.
    pub order_field: Option<OrderField>,
    /// Full-text filter.
    pub full_text: Option<FullTextFilter>,
    /// Page size; default 200; 0 yields only `total_items`.
    pub limit: Option<u64>,
    /// Rows to skip on the first request.
    pub offset: Option<u64>,
    /// `totalItems=exclude`: skip counting and report 0.
    pub exclude_total_items: bool,
    /// Continuation cursor from a previous page.
    pub cursor: Option<String>,
}

/// One by-query page.
#[derive(Debug, Clone)]
pub struct QueryPage {
    /// The entities of the page, in order.
    pub items: Vec<Arc<IndexedEntity>>,
    /// All matches regardless of paging (0 when excluded).
    pub total_items: u64,
    /// Cursor of the following page, if any.
    pub next_cursor: Option<String>,
    /// Cursor of the preceding page, if any (never on the first page).
    pub prev_cursor: Option<String>,
}

/// A position in the order: the sort value (none without an order field) and the uid.
type SortKey = (SortValue, String);

/// What a cursor carries: the query itself and where the page boundary is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter: Option<EntityFilter>,
    #[serde(
        rename = "orderField",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    order: Option<OrderField>,
    #[serde(
        rename = "fullTextFilter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    full_text: Option<FullTextFilter>,
    #[serde(rename = "orderFieldValues")]
    boundary: SortKey,
    #[serde(rename = "isPrevious")]
    is_previous: bool,
    #[serde(rename = "firstSortFieldValues")]
    first: SortKey,
    #[serde(rename = "totalItems")]
    total: u64,
}

fn decode_cursor(cursor: &str) -> Result<CursorState, QueryError> {
    if cursor.is_empty() {
        return Err(QueryError::new("Cursor cannot be empty"));
    }
    let bytes = decode_base64(cursor);
    serde_json::from_slice(&bytes).map_err(|e| QueryError::new(format!("Malformed cursor: {e}")))
}

fn encode_cursor(state: &CursorState) -> String {
    // Serialising plain data to a string cannot fail; an empty cursor would be rejected later.
    let json = serde_json::to_string(state).unwrap_or_default();
    encode_base64(json.as_bytes())
}

/// The `nextCursor` that [`CatalogIndex::query`] gives a first page in the default order
/// (by uid, ascending, no full text): for callers that read such a page from elsewhere (the
/// database, while the index is still loading) and must hand out cursors the index accepts.
pub fn uid_order_next_cursor(
    filter: Option<&EntityFilter>,
    first_uid: &str,
    last_uid: &str,
    total: u64,
) -> String {
    encode_cursor(&CursorState {
        filter: filter.cloned(),
        order: None,
        full_text: None,
        boundary: (None, last_uid.to_owned()),
        is_previous: false,
        first: (None, first_uid.to_owned()),
        total,
    })
}

/// Compares positions in the query's base order (`desc` reverses value and uid alike).
fn compare_keys(a: &SortKey, b: &SortKey, desc: bool) -> Ordering {
    let ordering = a.cmp(b);
    if desc { ordering.reverse() } else { ordering }
}

/// The resolved shape of a query, shared by its first page and its cursors.
struct Plan {
    filter: Option<EntityFilter>,
    order: Option<OrderField>,
    key: Option<String>,
    full_text: Option<FullTextFilter>,
}

impl Plan {
    fn new(
        filter: Option<EntityFilter>,
        order: Option<OrderField>,
        full_text: Option<FullTextFilter>,
    ) -> Self {
        let key = order.as_ref().map(|o| o.field.to_lowercase());
        Self {
            filter,
            order,
            key,
            full_text,
        }
    }

    fn desc(&self) -> bool {
        self.order.as_ref().is_some_and(|o| o.desc)
    }
}

/// Trims the term and fills in the default fields; `None` when the term is blank.
fn resolve_full_text(
    full_text: Option<&FullTextFilter>,
    order: Option<&OrderField>,
) -> Option<FullTextFilter> {
    let full_text = full_text?;
    let term = full_text.term.trim();
    if term.is_empty() {
        return None;
    }
    let mut fields: Vec<String> = full_text
        .fields
        .iter()
        .map(|f| f.trim().to_lowercase())
        .filter(|f| !f.is_empty())
        .collect();
    if fields.is_empty() {
        fields.push(
            order
                .map(|o| o.field.to_lowercase())
                .unwrap_or_else(|| "metadata.uid".to_owned()),
        );
    }
    Some(FullTextFilter {
        term: term.to_owned(),
        fields,
    })
}

impl CatalogIndex {
    /// Serves `GET|POST /entities/by-query`.
    pub fn query(&self, req: &QueryRequest) -> Result<QueryPage, QueryError> {
        let limit = req.limit.unwrap_or(DEFAULT_LIMIT);
        let (plan, position) = match &req.cursor {
            Some(cursor) => {
                let state = decode_cursor(cursor)?;
                let plan = Plan::new(
                    state.filter.clone(),
                    state.order.clone(),
                    state.full_text.clone(),
                );
                (plan, Some(state))
            }
            None => {
                let full_text = resolve_full_text(req.full_text.as_ref(), req.order_field.as_ref());
                (
                    Plan::new(req.filter.clone(), req.order_field.clone(), full_text),
                    None,
                )
            }
        };

        let mut set = self.eval(plan.filter.as_ref());
        if let Some(auth) = &req.authorization_filter {
            set &= self.eval(Some(auth));
        }
        if let Some(full_text) = &plan.full_text {
            set &= self.full_text_matches(full_text);
        }
        if let Some(key) = &plan.key {
            // With an order field, entities lacking a value for it are left out entirely.
            match self.keys.get(key.as_str()) {
                Some(index) => set &= index.valued(),
                None => set.clear(),
            }
        }
        let total = match &position {
            Some(state) => state.total,
            None if req.exclude_total_items => 0,
            None => set.len(),
        };
        let empty = |total| QueryPage {
            items: Vec::new(),
            total_items: total,
            next_cursor: None,
            prev_cursor: None,
        };
        if limit == 0 {
            return Ok(empty(total));
        }
        let page_len = usize::try_from(limit).unwrap_or(usize::MAX);
        let desc = plan.desc();

        let (ids, has_prev, has_next, first) = match &position {
            None => {
                let mut sink = Sink::new(req.offset.unwrap_or(0), page_len.saturating_add(1));
                self.walk_keyed(&plan, desc, &set, None, &mut sink);
                let mut ids = sink.out;
                let has_next = ids.len() > page_len;
                ids.truncate(page_len);
                let Some(&head) = ids.first() else {
                    return Ok(empty(total));
                };
                (ids, false, has_next, self.sort_key(&plan, head))
            }
            Some(state) if !state.is_previous => {
                let mut sink = Sink::new(0, page_len.saturating_add(1));
                self.walk_keyed(&plan, desc, &set, Some(&state.boundary), &mut sink);
                let mut ids = sink.out;
                let has_next = ids.len() > page_len;
                ids.truncate(page_len);
                let Some(&head) = ids.first() else {
                    return Ok(empty(total));
                };
                let has_prev = self.has_neighbour(
                    &plan,
                    !desc,
                    &set,
                    &self.sort_key(&plan, head),
                    Some(&state.first),
                );
                (ids, has_prev, has_next, state.first.clone())
            }
            Some(state) => {
                let mut sink = Sink::new(0, page_len.saturating_add(1));
                self.walk_keyed(&plan, !desc, &set, Some(&state.boundary), &mut sink);
                // A backward walk never goes past the first page of the original request.
                let mut ids: Vec<u32> = sink
                    .out
                    .into_iter()
                    .take_while(|&id| {
                        compare_keys(&self.sort_key(&plan, id), &state.first, desc)
                            != Ordering::Less
                    })
                    .collect();
                let has_prev = ids.len() > page_len;
                ids.truncate(page_len);
                ids.reverse();
                let Some(&tail) = ids.last() else {
                    return Ok(empty(total));
                };
                let has_next =
                    self.has_neighbour(&plan, desc, &set, &self.sort_key(&plan, tail), None);
                (ids, has_prev, has_next, state.first.clone())
            }
        };

        let cursor_at = |id: u32, is_previous: bool| {
            encode_cursor(&CursorState {
                filter: plan.filter.clone(),
                order: plan.order.clone(),
                full_text: plan.full_text.clone(),
                boundary: self.sort_key(&plan, id),
                is_previous,
                first: first.clone(),
                total,
            })
        };
        let next_cursor = match (has_next, ids.last()) {
            (true, Some(&tail)) => Some(cursor_at(tail, false)),
            _ => None,
        };
        let prev_cursor = match (has_prev, ids.first()) {
            (true, Some(&head)) => Some(cursor_at(head, true)),
            _ => None,
        };
        Ok(QueryPage {
            items: ids.into_iter().filter_map(|id| self.entity(id)).collect(),
            total_items: total,
            next_cursor,
            prev_cursor,
        })
    }

    /// Whether some member of `set` lies strictly beyond `from` walking in direction `dir_desc`
    /// (and, when `limit` is given, not beyond it in the base order).
    fn has_neighbour(
        &self,
        plan: &Plan,
        dir_desc: bool,
        set: &RoaringBitmap,
        from: &SortKey,
        limit: Option<&SortKey>,
    ) -> bool {
        let mut sink = Sink::new(0, 1);
        self.walk_keyed(plan, dir_desc, set, Some(from), &mut sink);
        match (sink.out.first(), limit) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(&id), Some(limit)) => {
                compare_keys(&self.sort_key(plan, id), limit, plan.desc()) != Ordering::Less
            }
        }
    }

    fn sort_key(&self, plan: &Plan, id: u32) -> SortKey {
        let uid = self
            .entity_ref_of(id)
            .map(|e| e.uid().to_owned())
            .unwrap_or_default();
        let value = plan
            .key
            .as_deref()
            .and_then(|key| self.sort_value(id, key, plan.desc()));
        (value, uid)
    }

    /// Walks `set` by the plan's order in direction `dir_desc`, strictly after `after`.
    fn walk_keyed(
        &self,
        plan: &Plan,
        dir_desc: bool,
        set: &RoaringBitmap,
        after: Option<&SortKey>,
        sink: &mut Sink,
    ) -> bool {
        let Some(key) = plan.key.as_deref() else {
            return self.walk_uid(set, dir_desc, after.map(|(_, uid)| uid.as_str()), sink);
        };
        let Some(index) = self.keys.get(key) else {
            return true;
        };
        let largest = plan.desc();
        if self.prefer_collect(set.len(), index.value_count() as u64, sink.need(), KEYED) {
            let mut rows: Vec<(SortKey, u32)> = set
                .iter()
                .map(|id| (self.sort_key(plan, id), id))
                .filter(|(k, _)| match after {
                    None => true,
                    Some(bound) => compare_keys(k, bound, dir_desc) == Ordering::Greater,
                })
                .collect();
            rows.sort_unstable_by(|a, b| compare_keys(&a.0, &b.0, dir_desc));
            for (_, id) in rows {
                if !sink.push(id) {
                    return false;
                }
            }
            return true;
        }
        let bound_value = after.and_then(|(v, _)| v.as_deref());
        let values: Box<dyn Iterator<Item = _>> = match (bound_value, dir_desc) {
            (None, false) => Box::new(index.iter()),
            (None, true) => Box::new(index.iter_rev()),
            (Some(v), false) => Box::new(index.iter_from(v)),
            (Some(v), true) => Box::new(index.iter_rev_from(v)),
        };
        for (value, holders) in values {
            // Most values have a single holder: test it before building a bucket.
            if let Holders::One(id) | Holders::Spelled(id, _) = holders
                && !set.contains(id)
            {
                continue;
            }
            let members = self.bucket_members(index, key, value, &holders.ids(), set, largest);
            if members.is_empty() {
                continue;
            }
            let uid_bound = match after {
                Some((Some(v), uid)) if v.as_str() == value => Some(uid.as_str()),
                _ => None,
            };
            if !self.walk_uid(&members, dir_desc, uid_bound, sink) {
                return false;
            }
        }
        true
    }

    /// Entities with a value of one of the fields containing the term (case-insensitive).
    fn full_text_matches(&self, full_text: &FullTextFilter) -> RoaringBitmap {
        let term = full_text.term.to_lowercase();
        let mut result = RoaringBitmap::new();
        for field in &full_text.fields {
            let Some(index) = self.keys.get(field.to_lowercase().as_str()) else {
                continue;
            };
            let dict = index.text_dict();
            let hits = dict.matching(&term);
            if hits.len().saturating_mul(16) < dict.len() {
                // Few hits: look each value up.
                for &i in &hits {
                    if let Some(holders) = index.get(dict.value(i)) {
                        holders.ids().union_into(&mut result);
                    }
                }
            } else {
                // Many hits: one ordered walk beats as many tree look-ups. The dictionary
                // lists the values in the tree's order.
                let mut hits = hits.into_iter().peekable();
                for (i, (_, holders)) in index.iter().enumerate() {
                    if hits.peek() == Some(&i) {
                        hits.next();
                        holders.ids().union_into(&mut result);
                    }
                }
            }
        }
        result
    }
}
