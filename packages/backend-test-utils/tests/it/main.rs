//! Integration tests for greenroom-backend-test-utils.

mod database;
