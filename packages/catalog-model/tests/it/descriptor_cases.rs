//! Tests: descriptor_cases (filled in by its owner).
