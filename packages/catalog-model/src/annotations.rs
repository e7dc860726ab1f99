//! TODO: annotations
