//! Tests: relation_cases (filled in by its owner).
