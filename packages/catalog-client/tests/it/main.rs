//! Integration tests for greenroom-catalog-client.

mod http;
mod paths;
