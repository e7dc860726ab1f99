//! TODO: relations
