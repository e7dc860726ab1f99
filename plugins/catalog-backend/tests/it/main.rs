//! Integration tests for greenroom-plugin-catalog-backend.
mod api;
mod api_support;
mod checklist;
mod conformance;
mod e2e;
mod processing;
mod processing_locations;
mod processing_support;
mod source_host;
mod stitching;
mod stitching_concurrency;
mod stitching_support;
mod warm;
