//! The catalog plugin (`/api/catalog`): entity providers, the processing loop,
//! stitching into final entities, the change log that in-memory indexes follow,
//! and Backstage's catalog REST API.

pub mod api;
pub(crate) mod db;
pub mod engine;
pub mod processing;
pub mod stitching;
