//! Rate-limited reporting of a networked store's outages: one warning when a
//! store stops answering, one info line when it answers again.
//!
//! A cache that is down is hit on every request, so logging each failure would
//! flood the log; the transitions are what an operator needs.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether one store (or one server of a store) is currently failing.
#[derive(Debug)]
pub(crate) struct Outage {
    label: String,
    down: AtomicBool,
}

impl Outage {
    pub(crate) fn new(label: String) -> Self {
        Self {
            label,
            down: AtomicBool::new(false),
        }
    }

    /// Records a failure; logs only the first one of an outage.
    pub(crate) fn failed(&self, error: &dyn fmt::Display) {
        if !self.down.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                store = %self.label,
                "cache store {} is unavailable ({error}); cache reads are treated as misses and writes are skipped until it is back",
                self.label
            );
        }
    }

    /// Records a success; logs the end of an outage.
    pub(crate) fn succeeded(&self) {
        // A plain load first keeps the hot path free of writes to a shared line.
        if self.down.load(Ordering::Acquire) && self.down.swap(false, Ordering::AcqRel) {
            tracing::info!(store = %self.label, "cache store {} is available again", self.label);
        }
    }
}
