//! Time as an input: the token cache asks a [`Clock`] (pim-core's one clock trait) for "now",
//! so tests control expiry. [`ManualClock`] here is shared (`Clone`) and moved by a
//! `std::time::Duration`, as the sign-in tests keep it in step with pim-sim's virtual clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

pub use pim_core::clock::{Clock, SystemClock};

/// A clock that moves only when told to (tests; e.g. kept in step with pim-sim's virtual clock).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: OffsetDateTime) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(now)))
    }

    /// Moves the clock forward, stopping at the last representable date.
    pub fn advance(&self, by: Duration) {
        let mut t = pim_core::sync::lock(&self.0);
        let by = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        *t = t.saturating_add(by);
    }

    /// Sets the clock.
    pub fn set(&self, now: OffsetDateTime) {
        *pim_core::sync::lock(&self.0) = now;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *pim_core::sync::lock(&self.0)
    }
}
