//! Integration tests for greenroom-config.
