//! Test helpers for Greenroom backends: fresh SQLite and PostgreSQL databases
//! per test, test caches and test backends.

#[cfg(feature = "backend")]
pub mod backend;
/// Redis and memcached helpers, from the cache crate (feature `cache`).
#[cfg(feature = "cache")]
pub use greenroom_backend_cache::testing as cache;
pub mod database;
