//! Time as an input. [`Clock`] gives "now"; [`ServerTime`] corrects a local clock with the
//! servers' `Date` headers when they disagree by more than a minute (contract E.5), so an
//! "immediate" activation is not turned into a scheduled one and time-left is right.

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, in UTC.
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

/// A clock that only moves when told (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// Starts at `t`.
    pub fn new(t: OffsetDateTime) -> Self {
        ManualClock(Mutex::new(t))
    }
    /// Moves forward (or back), stopping at the first or last representable date.
    pub fn advance(&self, d: time::Duration) {
        if let Ok(mut g) = self.0.lock() {
            *g = g.saturating_add(d);
        }
    }
    /// Sets the time.
    pub fn set(&self, t: OffsetDateTime) {
        if let Ok(mut g) = self.0.lock() {
            *g = t;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.0
            .lock()
            .map(|g| *g)
            .unwrap_or_else(|_| OffsetDateTime::now_utc())
    }
}

/// Years a server's `Date` header may name to be believed.
pub const PLAUSIBLE_YEARS: std::ops::RangeInclusive<i32> = 1970..=9000;

/// Skew beyond which the server's clock wins.
pub const SKEW_THRESHOLD: time::Duration = time::Duration::seconds(60);

/// A local clock corrected by the server's `Date` header.
#[derive(Debug)]
pub struct ServerTime {
    local: Arc<dyn Clock>,
    offset_secs: AtomicI64,
    raw_offset_ms: AtomicI64,
    observed: AtomicBool,
}

impl ServerTime {
    /// Wraps a local clock; no correction until a `Date` header is observed.
    pub fn new(local: Arc<dyn Clock>) -> Self {
        ServerTime {
            local,
            offset_secs: AtomicI64::new(0),
            raw_offset_ms: AtomicI64::new(0),
            observed: AtomicBool::new(false),
        }
    }

    /// Records a server time read at local time `self.local.now()`. A difference above
    /// [`SKEW_THRESHOLD`] becomes the correction; a smaller one clears it. A server time
    /// outside [`PLAUSIBLE_YEARS`] is ignored: a broken or hostile `Date` header must not move
    /// "now" to where adding an activation's duration leaves the calendar.
    pub fn observe(&self, server_now: OffsetDateTime) {
        if !PLAUSIBLE_YEARS.contains(&server_now.year()) {
            tracing::debug!(
                year = server_now.year(),
                "ignoring an implausible server date"
            );
            return;
        }
        let diff = server_now - self.local.now();
        let ms = i64::try_from(diff.whole_milliseconds()).unwrap_or(i64::MAX);
        self.raw_offset_ms.store(ms, Ordering::Relaxed);
        self.observed.store(true, Ordering::Relaxed);
        let secs = if diff.abs() > SKEW_THRESHOLD {
            diff.whole_seconds()
        } else {
            0
        };
        let old = self.offset_secs.swap(secs, Ordering::Relaxed);
        if old != secs && secs != 0 {
            tracing::debug!(
                offset_secs = secs,
                "local clock differs from the server's; using server time"
            );
        }
    }

    /// Records a `Date` header value (IMF-fixdate); ignored when unparseable.
    pub fn observe_header(&self, date: &str) {
        if let Some(t) = parse_http_date(date) {
            self.observe(t);
        }
    }

    /// The best estimate of the server's "now", whatever the skew: the last `Date` header plus
    /// the local time elapsed since. `Date` has whole seconds and is sent before the response
    /// travels, so this never runs ahead of the server; used for "start now" in requests.
    pub fn server_now(&self) -> OffsetDateTime {
        if self.observed.load(Ordering::Relaxed) {
            self.local
                .now()
                .saturating_add(time::Duration::milliseconds(
                    self.raw_offset_ms.load(Ordering::Relaxed),
                ))
        } else {
            self.now()
        }
    }

    /// Current correction (server − local), zero when within the threshold.
    pub fn offset(&self) -> time::Duration {
        time::Duration::seconds(self.offset_secs.load(Ordering::Relaxed))
    }
}

impl Clock for ServerTime {
    fn now(&self) -> OffsetDateTime {
        self.local.now().saturating_add(self.offset())
    }
}

/// Parses an HTTP date (`Thu, 26 Nov 2026 04:06:30 GMT`); RFC 3339 is accepted too.
pub fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    if let Ok(t) = time::PrimitiveDateTime::parse(s, &fmt) {
        return Some(t.assume_utc());
    }
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc2822) {
        return t.checked_to_offset(time::UtcOffset::UTC);
    }
    crate::wire::parse_datetime(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn http_dates_parse() {
        assert_eq!(
            parse_http_date("Thu, 26 Nov 2026 04:06:30 GMT"),
            Some(datetime!(2026-11-26 04:06:30 UTC))
        );
        assert!(parse_http_date("garbage").is_none());
    }

    #[test]
    fn a_server_date_at_the_end_of_time_does_not_overflow_now() {
        let local = Arc::new(ManualClock::new(datetime!(2026-01-01 10:00:00 UTC)));
        let st = ServerTime::new(local.clone());
        st.observe_header("Fri, 31 Dec 9999 23:59:59 GMT");
        local.advance(time::Duration::hours(1));
        // Neither panics; such a date is not believed.
        assert_eq!(st.now(), datetime!(2026-01-01 11:00:00 UTC));
        assert_eq!(st.server_now(), datetime!(2026-01-01 11:00:00 UTC));
        // A server date far in the past is not believed either.
        st.observe_header("Mon, 01 Jan 0001 00:00:00 GMT");
        assert_eq!(st.now(), datetime!(2026-01-01 11:00:00 UTC));
    }

    #[test]
    fn skew_above_a_minute_is_corrected() {
        let local = Arc::new(ManualClock::new(datetime!(2026-01-01 10:00:00 UTC)));
        let st = ServerTime::new(local.clone());
        st.observe(datetime!(2026-01-01 10:00:30 UTC));
        assert_eq!(st.now(), datetime!(2026-01-01 10:00:00 UTC));
        st.observe(datetime!(2026-08-21 08:00:00 UTC));
        assert_eq!(st.now(), datetime!(2026-08-21 08:00:00 UTC));
        local.advance(time::Duration::minutes(5));
        assert_eq!(st.now(), datetime!(2026-08-21 08:05:00 UTC));
        st.observe_header("Fri, 21 Aug 2026 08:05:20 GMT");
        assert_eq!(st.now(), datetime!(2026-08-21 08:05:20 UTC));
    }
}
