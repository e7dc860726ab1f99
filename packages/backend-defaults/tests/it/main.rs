//! Integration tests for backend-defaults: real backends on loopback ports,
//! called over HTTP with reqwest.

mod discovery;
mod http;
mod listen;
mod log_redaction;
mod logging;
mod scheduler_cluster;
mod startup;
mod support;
