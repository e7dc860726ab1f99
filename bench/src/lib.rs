//! Shared pieces of Greenroom's benchmarks: catalog generators that later benchmarks reuse.

pub mod generate;
pub mod load;
