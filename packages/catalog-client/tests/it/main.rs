//! Integration tests for greenroom-catalog-client.
