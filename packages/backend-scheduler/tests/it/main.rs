//! Integration tests for the scheduler: the global-task protocol on SQLite and
//! PostgreSQL, local tasks, triggers, timeouts, shutdown, config and admin routes.

mod admin;
mod config;
mod global;
mod local;
mod support;
