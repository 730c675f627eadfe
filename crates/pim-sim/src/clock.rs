//! Virtual clock and the date/time/duration formats used on the wire.
//!
//! Simulated time is real UTC time plus an offset that tests move forward with
//! [`Clock::advance`]. Nothing in the simulator reads the system clock directly.

use std::sync::Mutex;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Largest distance of simulated time from real time.
pub const MAX_OFFSET: Duration = Duration::days(365 * 100);

/// Real time plus a test-controlled offset.
#[derive(Debug, Default)]
pub struct Clock {
    offset: Mutex<Duration>,
}

impl Clock {
    /// The current simulated time (UTC).
    pub fn now(&self) -> OffsetDateTime {
        let offset = *self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let real = OffsetDateTime::now_utc();
        real.checked_add(offset).unwrap_or(real)
    }

    /// Moves simulated time forward (or backward with a negative value). The total
    /// offset is clamped to ±[`MAX_OFFSET`].
    pub fn advance(&self, by: Duration) -> OffsetDateTime {
        {
            let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
            let next = offset.checked_add(by).unwrap_or(*offset);
            *offset = next.clamp(-MAX_OFFSET, MAX_OFFSET);
        }
        self.now()
    }
}

/// Graph/ARM `DateTimeOffset`: UTC, `Z`, 0–7 fractional digits (trailing zeros trimmed).
pub fn fmt_dt(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let frac = t.nanosecond() / 100; // 7 digits
    if frac == 0 {
        format!("{base}Z")
    } else {
        let digits = format!("{frac:07}");
        format!("{base}.{}Z", digits.trim_end_matches('0'))
    }
}

/// `innerError.date`: no zone designator, no fraction.
pub fn fmt_inner_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Entra token-error timestamp, e.g. `2026-08-21 08:02:11Z`.
pub fn fmt_aad_timestamp(t: OffsetDateTime) -> String {
    fmt_inner_date(t).replace('T', " ") + "Z"
}

/// RFC 7231 `Date` header value.
pub fn fmt_http_date(t: OffsetDateTime) -> String {
    let fmt = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_else(|_| fmt_dt(t))
}

/// Parses an OData/ARM date-time. Accepts RFC 3339 with any offset, and a value without
/// a zone designator (taken as UTC).
pub fn parse_dt(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.to_offset(UtcOffset::UTC));
    }
    let lower = s.replace('t', "T");
    let fmts = [
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    ];
    for f in fmts {
        if let Ok(p) = PrimitiveDateTime::parse(&lower, &f) {
            return Some(p.assume_utc());
        }
    }
    None
}

/// Parses an ISO 8601 duration as PIM uses it: optional sign, `PnW`, `PnD`, `TnH`, `nM`,
/// `n[.n]S`. Years and months are rejected (ambiguous length).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut in_time = false;
    let mut num = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c {
            '0'..='9' | '.' | ',' => num.push(if c == ',' { '.' } else { c }),
            'T' | 't' => {
                if in_time || !num.is_empty() {
                    return None;
                }
                in_time = true;
            }
            _ => {
                let v: f64 = num.parse().ok()?;
                num.clear();
                any = true;
                let unit = match (c.to_ascii_uppercase(), in_time) {
                    ('W', false) => 7.0 * 86400.0,
                    ('D', false) => 86400.0,
                    ('H', true) => 3600.0,
                    ('M', true) => 60.0,
                    ('S', true) => 1.0,
                    _ => return None,
                };
                total += v * unit;
            }
        }
    }
    // at most ~300 years: keeps every `date + duration` in range
    if !num.is_empty() || !any || !total.is_finite() || total.abs() > 1e10 {
        return None;
    }
    let d = Duration::seconds_f64(total);
    Some(if neg { -d } else { d })
}

/// Formats a duration in the canonical PIM form (`PT8H`, `PT1H30M`, `P90D`).
pub fn fmt_duration(d: Duration) -> String {
    let mut secs = d.whole_seconds();
    let neg = secs < 0;
    secs = secs.abs();
    let days = secs / 86400;
    let h = (secs % 86400) / 3600;
    let m = (secs % 3600) / 60;
    let s = secs % 60;
    let mut out = String::from(if neg { "-P" } else { "P" });
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if h > 0 || m > 0 || s > 0 || days == 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if s > 0 || (h == 0 && m == 0) {
            out.push_str(&format!("{s}S"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_graph_dates() {
        assert_eq!(
            fmt_dt(datetime!(2026-08-21 08:02:11 UTC)),
            "2026-08-21T08:02:11Z"
        );
        assert_eq!(
            fmt_dt(datetime!(2026-08-21 08:02:11.52 UTC)),
            "2026-08-21T08:02:11.52Z"
        );
        assert_eq!(
            fmt_dt(datetime!(2026-08-21 08:02:11.123456789 UTC)),
            "2026-08-21T08:02:11.1234567Z"
        );
        assert_eq!(
            fmt_inner_date(datetime!(2026-08-21 08:02:11.5 UTC)),
            "2026-08-21T08:02:11"
        );
        assert_eq!(
            fmt_http_date(datetime!(2026-08-21 08:02:11 UTC)),
            "Fri, 21 Aug 2026 08:02:11 GMT"
        );
    }

    #[test]
    fn parses_dates() {
        assert_eq!(
            parse_dt("2026-08-21T10:02:11+02:00"),
            Some(datetime!(2026-08-21 08:02:11 UTC))
        );
        assert_eq!(
            parse_dt("2026-08-21T08:02:11.520Z"),
            Some(datetime!(2026-08-21 08:02:11.52 UTC))
        );
        assert_eq!(
            parse_dt("2026-08-21T08:02:11"),
            Some(datetime!(2026-08-21 08:02:11 UTC))
        );
        assert_eq!(parse_dt("yesterday"), None);
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("PT8H"), Some(Duration::hours(8)));
        assert_eq!(parse_duration("PT1H30M"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("P1DT2H"), Some(Duration::hours(26)));
        assert_eq!(parse_duration("-PT50M"), Some(Duration::minutes(-50)));
        assert_eq!(parse_duration("PT0.5S"), Some(Duration::milliseconds(500)));
        assert_eq!(parse_duration("P2W"), Some(Duration::days(14)));
        assert_eq!(parse_duration("P1M"), None);
        assert_eq!(parse_duration("PT"), None);
        assert_eq!(parse_duration("8H"), None);
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("PT99999999999999999999H"), None);
    }

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_duration(Duration::hours(8)), "PT8H");
        assert_eq!(fmt_duration(Duration::minutes(90)), "PT1H30M");
        assert_eq!(fmt_duration(Duration::days(90)), "P90D");
        assert_eq!(fmt_duration(Duration::ZERO), "PT0S");
    }

    #[test]
    fn clock_advances() {
        let c = Clock::default();
        let a = c.now();
        let b = c.advance(Duration::hours(1));
        assert!(b - a >= Duration::minutes(59));
        let far = c.advance(Duration::days(365 * 1000));
        assert!(far - a <= MAX_OFFSET + Duration::hours(2));
    }
}
