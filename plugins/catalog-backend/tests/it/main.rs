//! Integration tests for greenroom-plugin-catalog-backend.
mod stitching;
mod stitching_concurrency;
mod stitching_support;
