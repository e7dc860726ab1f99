//! Greenroom benchmarks.
fn main() {}
