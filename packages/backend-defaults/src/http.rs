//! The HTTP layer: one axum server on `backend.listen` with Backstage's
//! middleware chain, the root and plugin routers, and the error body.

pub mod cors;
pub mod errors;
pub mod listen;
pub mod middleware;
pub mod router;
pub mod security;
pub mod server;
