//! Tests: ref_cases (filled in by its owner).
