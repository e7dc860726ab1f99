//! The catalog's read model: an in-memory index of final entities and Backstage's query language over it.
//!
//! [`CatalogIndex`] holds every final entity together with inverted postings built from the
//! search rows of spec §8.8. Every read endpoint of the catalog is answered from it: the
//! legacy list ([`CatalogIndex::list`]), the cursor-paged query ([`CatalogIndex::query`]),
//! look-ups by ref and uid, by-refs and facets. Parsers turn the REST layer's raw parameters
//! into [`EntityFilter`], [`Fields`], [`OrderDirective`] and [`OrderField`] values and report
//! problems as [`QueryError`]s carrying Backstage's exact messages.

mod base64;
mod error;
mod facets;
mod fields;
mod filter;
mod hot;
mod index;
mod list;
mod order;
mod packed;
mod postings;
mod query;
mod search;
mod sparse;
mod text;
mod uids;
mod values;

pub use crate::base64::{decode_base64, encode_base64};
pub use crate::error::{IndexError, QueryError, TextError};
pub use crate::facets::FacetCounts;
pub use crate::fields::{Fields, parse_fields};
pub use crate::filter::{EntityFilter, parse_filter_params, parse_predicate};
pub use crate::hot::{DEFAULT_HOT_TEXT_BYTES, HotTexts};
pub use crate::index::{CatalogIndex, IndexedEntity, PreparedEntity, TextStats};
pub use crate::list::{ListPage, ListRequest};
pub use crate::order::{OrderDirective, OrderField, WalkStrategy, parse_order, parse_order_field};
pub use crate::query::{
    DEFAULT_LIMIT as DEFAULT_QUERY_LIMIT, FullTextFilter, QueryPage, QueryRequest,
    uid_order_next_cursor,
};
pub use crate::search::{SearchRow, search_rows};
