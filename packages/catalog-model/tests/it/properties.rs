//! Tests: properties (filled in by its owner).
