//! Test helpers for Greenroom backends (being written).
