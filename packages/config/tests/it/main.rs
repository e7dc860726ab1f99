//! Integration tests for greenroom-config, one binary with a module per area.

mod env;
mod files;
mod masking;
mod merge;
mod props;
mod reader;
mod schema;
mod substitution;
mod support;
mod transforms;
mod worked_example;
