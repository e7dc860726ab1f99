//! TODO: descriptor
