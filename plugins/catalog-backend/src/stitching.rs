//! stitching (being written).
