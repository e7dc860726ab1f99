//! Integration tests for backend-database.
