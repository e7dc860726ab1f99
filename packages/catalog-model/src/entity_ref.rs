//! TODO: entity_ref
