//! Activation durations: human (`1h30m`, `90m`, `2d`) and ISO 8601 (`PT1H30M`, `P1D`) in,
//! ISO 8601 out on the wire, compact human text for display. Compared as durations, never as
//! strings (`PT90M` == `PT1H30M`).

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// A non-negative length of time with second precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PimDuration {
    secs: u64,
}

impl PimDuration {
    /// The shortest activation PIM accepts (five minutes).
    pub const MIN_ACTIVATION: PimDuration = PimDuration::from_minutes(5);

    /// The longest activation PIM itself allows (a day): a role's policy may set its
    /// maximum anywhere from 30 minutes up to this, for all three kinds, so it bounds a request
    /// whose policy could not be read.
    pub const MAX_ACTIVATION: PimDuration = PimDuration::from_hours(24);

    /// The longest duration [`PimDuration::parse`] accepts: 36,500 days (about 100 years),
    /// far beyond any PIM policy (activations: at most a day; assignments: a year or
    /// permanent), and short enough that a start date plus it stays a valid date.
    pub const MAX: PimDuration = PimDuration::from_secs(36_500 * 86_400);

    /// From seconds.
    pub const fn from_secs(secs: u64) -> Self {
        PimDuration { secs }
    }
    /// From minutes (saturating at `u64::MAX` seconds).
    pub const fn from_minutes(m: u64) -> Self {
        PimDuration {
            secs: m.saturating_mul(60),
        }
    }
    /// From hours (saturating at `u64::MAX` seconds).
    pub const fn from_hours(h: u64) -> Self {
        PimDuration {
            secs: h.saturating_mul(3600),
        }
    }
    /// Whole seconds.
    pub const fn as_secs(self) -> u64 {
        self.secs
    }
    /// As a `time::Duration` (for date arithmetic).
    pub fn to_time(self) -> time::Duration {
        time::Duration::seconds(i64::try_from(self.secs).unwrap_or(i64::MAX))
    }
    /// As a `std::time::Duration`.
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.secs)
    }
    /// From a `time::Duration`; negative values become zero; fractions of seconds are dropped.
    pub fn from_time(d: time::Duration) -> Self {
        PimDuration {
            secs: u64::try_from(d.whole_seconds()).unwrap_or(0),
        }
    }

    /// Parses human (`1h`, `90m`, `1h30m`, `2d`, `45s`, `1h 30m`, a bare number = minutes) or
    /// ISO 8601 (`PT1H30M`, `P1D`, `P1DT2H`, `PT0.5H`) text, up to [`PimDuration::MAX`];
    /// anything else (including longer) is [`Error::InvalidInput`].
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        let secs = if t.starts_with(['P', 'p']) {
            parse_iso(t)
        } else {
            parse_human(t)
        }
        .filter(|secs| secs.is_finite() && *secs >= 0.0)
        .ok_or_else(|| bad_duration(s))?;
        // Compared as f64 before converting, so nothing wraps or saturates unnoticed.
        if secs.round() > PimDuration::MAX.secs as f64 {
            return Err(Error::InvalidInput(format!(
                "`{s}` is longer than the longest duration accepted ({}, about 100 years)",
                PimDuration::MAX
            )));
        }
        Ok(PimDuration::from_secs(secs.round() as u64))
    }

    /// ISO 8601 form for the wire: `PT1H30M`, `PT8H`, `P1D`, `P1DT2H`, `PT0S`.
    pub fn to_iso8601(self) -> String {
        let (d, h, m, s) = self.parts();
        let mut out = String::from("P");
        if d > 0 {
            out.push_str(&format!("{d}D"));
        }
        if h > 0 || m > 0 || s > 0 || d == 0 {
            out.push('T');
            if h > 0 {
                out.push_str(&format!("{h}H"));
            }
            if m > 0 {
                out.push_str(&format!("{m}M"));
            }
            if s > 0 || (d == 0 && h == 0 && m == 0) {
                out.push_str(&format!("{s}S"));
            }
        }
        out
    }

    /// Compact human form: `1h30m`, `45m`, `2d`, `2d3h`, `30s`.
    pub fn to_human(self) -> String {
        let (d, h, m, s) = self.parts();
        let mut out = String::new();
        if d > 0 {
            out.push_str(&format!("{d}d"));
        }
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if m > 0 {
            out.push_str(&format!("{m}m"));
        }
        if s > 0 && d == 0 && h == 0 {
            out.push_str(&format!("{s}s"));
        }
        if out.is_empty() {
            out.push_str("0m");
        }
        out
    }

    fn parts(self) -> (u64, u64, u64, u64) {
        let s = self.secs;
        (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60)
    }
}

fn bad_duration(s: &str) -> Error {
    Error::InvalidInput(format!(
        "`{s}` is not a duration; write it like 1h, 90m, 1h30m, 2d or PT1H30M"
    ))
}

/// Seconds (not yet range-checked) of human text.
fn parse_human(t: &str) -> Option<f64> {
    let t: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    if t.is_empty() {
        return None;
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        return t.parse::<f64>().ok().map(|m| m * 60.0);
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = t.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = String::from(c.to_ascii_lowercase());
        while let Some(n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n.to_ascii_lowercase());
                chars.next();
            } else {
                break;
            }
        }
        let v: f64 = num.parse().ok()?;
        num.clear();
        let mult = match unit.as_str() {
            "d" | "day" | "days" => 86_400.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            _ => return None,
        };
        total += v * mult;
        any = true;
    }
    if !num.is_empty() || !any {
        return None;
    }
    Some(total)
}

/// Seconds (not yet range-checked) of ISO 8601 text.
fn parse_iso(t: &str) -> Option<f64> {
    let t = t.to_ascii_uppercase();
    let rest = t.strip_prefix('P')?;
    let (date, timep) = match rest.split_once('T') {
        Some((d, tp)) => (d, Some(tp)),
        None => (rest, None),
    };
    let mut total = 0f64;
    let mut any = false;
    let mut eat = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                num.push(if c == ',' { '.' } else { c });
            } else {
                let mult = units.iter().find(|(u, _)| *u == c)?.1;
                let v: f64 = num.parse().ok()?;
                total += v * mult;
                num.clear();
                any = true;
            }
        }
        if num.is_empty() { Some(()) } else { None }
    };
    eat(date, &[('W', 604_800.0), ('D', 86_400.0)])?;
    if let Some(tp) = timep {
        if tp.is_empty() {
            return None;
        }
        eat(tp, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    if !any {
        return None;
    }
    Some(total)
}

impl FromStr for PimDuration {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        PimDuration::parse(s)
    }
}

impl fmt::Display for PimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_human())
    }
}

impl serde::Serialize for PimDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_iso8601())
    }
}

impl<'de> serde::Deserialize<'de> for PimDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PimDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// "time left" text for display: `1h05m`, `9m`, `45s`, `expired`.
pub fn format_time_left(left: time::Duration) -> String {
    if left <= time::Duration::ZERO {
        return "expired".into();
    }
    let secs = left.whole_seconds();
    let d = secs / 86_400;
    let h = (secs % 86_400) / 3600;
    let m = (secs % 3600) / 60;
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> u64 {
        PimDuration::parse(s).unwrap().as_secs()
    }

    #[test]
    fn human_forms() {
        assert_eq!(p("1h"), 3600);
        assert_eq!(p("90m"), 5400);
        assert_eq!(p("1h30m"), 5400);
        assert_eq!(p("1h 30m"), 5400);
        assert_eq!(p("2d"), 172_800);
        assert_eq!(p("45s"), 45);
        assert_eq!(p("30"), 1800);
        assert_eq!(p("1.5h"), 5400);
        assert_eq!(p("2 hours"), 7200);
    }

    #[test]
    fn iso_forms() {
        assert_eq!(p("PT1H30M"), 5400);
        assert_eq!(p("PT90M"), 5400);
        assert_eq!(p("pt8h"), 28_800);
        assert_eq!(p("P1D"), 86_400);
        assert_eq!(p("P1DT2H"), 93_600);
        assert_eq!(p("PT0.5H"), 1800);
        assert_eq!(p("PT2.128S"), 2);
        assert_eq!(p("P365D"), 365 * 86_400);
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "abc", "1x", "PT", "P", "h1", "PTXH", "1h30"] {
            assert!(PimDuration::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn huge_numbers_are_refused_not_overflowed() {
        // Bare minutes used to overflow `m * 60`; huge hours or days used to overflow the
        // date arithmetic downstream.
        for s in [
            "999999999999999999",
            "18446744073709551615",
            "999999999999h",
            "P3000000D",
            "PT99999999999999999999H",
            "1e300h",
            "P36501D",
        ] {
            let err = PimDuration::parse(s).unwrap_err();
            assert!(matches!(err, Error::InvalidInput(_)), "{s}: {err:?}");
        }
        assert_eq!(p("P36500D"), 36_500 * 86_400);
        // The constructors saturate instead of overflowing.
        assert_eq!(PimDuration::from_minutes(u64::MAX).as_secs(), u64::MAX);
        assert_eq!(PimDuration::from_hours(u64::MAX).as_secs(), u64::MAX);
        // Converting to date arithmetic never wraps.
        assert!(PimDuration::from_secs(u64::MAX).to_time() > time::Duration::ZERO);
    }

    #[test]
    fn formats() {
        assert_eq!(PimDuration::from_minutes(90).to_iso8601(), "PT1H30M");
        assert_eq!(PimDuration::from_hours(8).to_iso8601(), "PT8H");
        assert_eq!(PimDuration::from_hours(24).to_iso8601(), "P1D");
        assert_eq!(PimDuration::from_hours(26).to_iso8601(), "P1DT2H");
        assert_eq!(PimDuration::from_secs(0).to_iso8601(), "PT0S");
        assert_eq!(PimDuration::from_minutes(90).to_human(), "1h30m");
        assert_eq!(PimDuration::from_hours(50).to_human(), "2d2h");
        assert_eq!(
            PimDuration::parse("PT90M").unwrap(),
            PimDuration::parse("PT1H30M").unwrap()
        );
        assert!(PimDuration::parse("PT4H").unwrap() < PimDuration::parse("8h").unwrap());
    }

    #[test]
    fn time_left() {
        assert_eq!(format_time_left(time::Duration::minutes(65)), "1h05m");
        assert_eq!(format_time_left(time::Duration::minutes(9)), "9m");
        assert_eq!(format_time_left(time::Duration::seconds(-1)), "expired");
    }
}
