//! `GET /entities`: filter, `order` directives and offset/limit/`after` pagination (spec §5.1).

use std::sync::Arc;

use serde_json::Value;

use crate::base64::{decode_base64, encode_base64};
use crate::error::QueryError;
use crate::filter::EntityFilter;
use crate::index::{CatalogIndex, IndexedEntity};
use crate::order::{OrderDirective, Sink};

/// A legacy list request.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// Restriction (request filter, possibly ANDed with a permission filter).
    pub filter: Option<EntityFilter>,
    /// `order` directives; empty means canonical entity ref ascending.
    pub order: Vec<OrderDirective>,
    /// Rows to skip.
    pub offset: Option<u64>,
    /// Page size (must be positive).
    pub limit: Option<u64>,
    /// Opaque continuation: base64 of `{"limit":L,"offset":O}`, overriding both.
    pub after: Option<String>,
}

/// One page of a legacy list.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// The entities of the page, in order.
    pub items: Vec<Arc<IndexedEntity>>,
    /// The `after` value of the next page, when there is one (for the `link` header).
    pub next_after: Option<String>,
}

/// Applies an `after` cursor to the plain limit/offset, with Backstage's messages.
fn apply_after(
    after: &str,
    limit: Option<u64>,
    offset: Option<u64>,
) -> Result<(Option<u64>, Option<u64>), QueryError> {
    let unparsable = || QueryError::new("Malformed after cursor, could not be parsed");
    let bytes = decode_base64(after);
    let cursor: Value = serde_json::from_slice(&bytes).map_err(|_| unparsable())?;
    if cursor.is_null() {
        return Err(unparsable());
    }
    let read = |name: &str, message: &str| -> Result<Option<u64>, QueryError> {
        match cursor.get(name) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| QueryError::new(message)),
        }
    };
    let cursor_limit = read("limit", "Malformed after cursor, limit was not an number")?;
    let cursor_offset = read("offset", "Malformed after cursor, offset was not a number")?;
    Ok((cursor_limit.or(limit), cursor_offset.or(offset)))
}

impl CatalogIndex {
    /// Serves `GET /entities`.
    pub fn list(&self, req: &ListRequest) -> Result<ListPage, QueryError> {
        if req.limit == Some(0) {
            return Err(QueryError::new("Invalid limit, must be greater than zero"));
        }
        let (limit, offset) = match &req.after {
            Some(after) if after.is_empty() => {
                return Err(QueryError::new("Invalid after, must not be empty"));
            }
            Some(after) => apply_after(after, req.limit, req.offset)?,
            None => (req.limit, req.offset),
        };
        let offset = offset.unwrap_or(0);
        let set = self.eval(req.filter.as_ref());
        let want = match limit {
            // One extra row tells whether a next page exists.
            Some(limit) => usize::try_from(limit)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
            None => usize::MAX,
        };
        let mut sink = Sink::new(offset, want);
        if limit == Some(0) {
            // Only reachable through a cursor carrying limit 0: an empty page, no successor.
            return Ok(ListPage {
                items: Vec::new(),
                next_after: None,
            });
        }
        if req.order.is_empty() {
            self.walk_ref(&set, &mut sink);
        } else {
            let directives: Vec<(String, bool)> = req
                .order
                .iter()
                .map(|d| (d.field.to_lowercase(), d.desc))
                .collect();
            self.walk_directives(&directives, &set, &mut sink);
        }
        let mut ids = sink.out;
        let mut next_after = None;
        if let Some(limit) = limit
            && ids.len() as u64 > limit
        {
            ids.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let next =
                serde_json::json!({ "limit": limit, "offset": offset.saturating_add(limit) });
            next_after = Some(encode_base64(next.to_string().as_bytes()));
        }
        Ok(ListPage {
            items: ids.into_iter().filter_map(|id| self.entity(id)).collect(),
            next_after,
        })
    }
}
