//! TODO: entity
