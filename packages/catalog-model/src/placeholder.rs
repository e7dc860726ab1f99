//! TODO: placeholder
