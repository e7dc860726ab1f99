//! Greenroom's backend runtime and its default services.
//!
//! [`Backend`] assembles plugins, modules and service factories (from
//! `greenroom-backend-plugin-api`), resolves services through a dependency
//! injection container, serves HTTP on `backend.listen`, runs the startup and
//! shutdown sequences of Backstage's backend system, and answers health checks.
//! [`default_service_factories`] lists the built-in implementations of every
//! core service, including the database, cache and scheduler services wired in
//! [`storage`] from the crates that implement them.

pub mod backend;
pub mod discovery;
pub mod health;
pub mod http;
pub mod lifecycle;
pub mod logging;
pub mod services;
pub mod state;
pub mod storage;

pub use backend::{Backend, RunningBackend};
pub use http::errors::{ApiError, Json};
pub use logging::init_logging;
pub use services::default_service_factories;
pub use state::{BACKEND_STATE, BackendState, Phase};
