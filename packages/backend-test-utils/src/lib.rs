//! Test helpers for Greenroom backends: fresh SQLite and PostgreSQL databases
//! per test, test caches and test backends.

pub mod database;
