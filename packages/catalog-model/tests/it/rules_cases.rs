//! Tests: rules_cases (filled in by its owner).
