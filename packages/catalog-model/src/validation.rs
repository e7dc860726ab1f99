//! TODO: validation
