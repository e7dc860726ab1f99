//! Integration tests for greenroom-plugin-catalog-backend.
