//! Tests: validation_cases (filled in by its owner).
