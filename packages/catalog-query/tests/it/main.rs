//! Integration tests for greenroom-catalog-query.
