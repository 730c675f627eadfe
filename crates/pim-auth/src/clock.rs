//! Time as an input: the token cache asks a [`Clock`] for "now", so tests control expiry.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

/// A source of the current time (UTC).
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

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
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let by = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        *t = t.saturating_add(by);
    }

    /// Sets the clock.
    pub fn set(&self, now: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = now;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
