//! Integration tests for greenroom-catalog-query.

#![expect(
    clippy::type_complexity,
    reason = "test tables are tuples with one element per column"
)]

mod facets;
mod fields;
mod filters;
mod flatten;
mod hot;
mod list;
mod predicates;
mod property;
mod query;
mod refs;
mod support;
mod texts;
