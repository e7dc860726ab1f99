//! Integration tests for backend-scheduler.
