//! Integration tests for greenroom-catalog-model, one module per area of the spec.
//!
//! One test binary for the whole crate keeps link time down on two cores.

mod descriptor_cases;
mod placeholder_cases;
mod properties;
mod ref_cases;
mod ref_properties;
mod relation_cases;
mod rules_cases;
mod spec_coverage;
mod validation_cases;
