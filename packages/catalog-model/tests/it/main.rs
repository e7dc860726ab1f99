//! Integration tests for greenroom-catalog-model, one module per area of the spec.
