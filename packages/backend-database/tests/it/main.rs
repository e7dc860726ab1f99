//! Integration tests for greenroom-backend-database: settings resolution,
//! start-up validation, per-plugin storage on SQLite and PostgreSQL, and
//! migrations on both dialects.

mod errors;
mod migrations;
mod settings;
mod storage;
