//! Tests: placeholder_cases (filled in by its owner).
