//! Tests: ref_properties (filled in by its owner).
