//! Exports of what the session read, shared by the faces (the CLI's `pim history --csv`, the
//! tray's *Export CSV…*).

use time::{OffsetDateTime, UtcOffset};

use crate::{Action, HistoryEntry};

/// RFC 3339 in UTC.
fn utc(t: OffsetDateTime) -> String {
    t.checked_to_offset(UtcOffset::UTC)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Control characters other than tab and line feed, and bidi overrides, as U+FFFD (text from
/// the directory must not drive a terminal or reorder a line).
fn printable(s: &str) -> String {
    let bad = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    s.chars()
        .map(|c| if bad(c) { '\u{FFFD}' } else { c })
        .collect()
}

/// The CSV columns.
const CSV_HEADER: [&str; 12] = [
    "createdAt",
    "tenantId",
    "tenantName",
    "kind",
    "name",
    "scope",
    "action",
    "status",
    "duration",
    "justification",
    "ticketNumber",
    "ticketSystem",
];

/// A CSV cell (RFC 4180): control characters other than tab and line feed are shown as
/// U+FFFD first (as everywhere directory text is shown); then text a
/// spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@` or a tab) gets a
/// leading `'`; a cell with a comma, a quote or a line break is quoted, its quotes doubled.
pub fn csv_field(s: &str) -> String {
    let s = printable(s);
    let mut v = String::with_capacity(s.len() + 3);
    if s.starts_with(['=', '+', '-', '@', '\t']) {
        v.push('\'');
    }
    v.push_str(&s);
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// The requests as CSV: a header line, then one record per request; CRLF line ends.
pub fn csv(entries: &[HistoryEntry]) -> String {
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let fields: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    };
    line(&CSV_HEADER.map(str::to_owned));
    for e in entries {
        let opt = |s: Option<&str>| s.unwrap_or_default().to_owned();
        line(&[
            utc(e.created_at),
            e.tenant_id.clone(),
            e.tenant_name.clone(),
            e.kind.as_str().to_owned(),
            e.label(),
            e.scope.display_name.clone(),
            opt(e.action.as_ref().map(|a| a.as_str())),
            opt(e.status.as_ref().map(|s| s.as_str())),
            e.duration.map(|d| d.to_iso8601()).unwrap_or_default(),
            opt(e.justification.as_deref()),
            opt(e.ticket.as_ref().map(|t| t.number.as_str())),
            opt(e.ticket.as_ref().map(|t| t.system.as_str())),
        ]);
    }
    out
}

/// What the request asked, in words.
pub fn action_words(a: Option<&Action>) -> String {
    match a {
        None => String::new(),
        Some(Action::SelfActivate) => "activate".into(),
        Some(Action::SelfDeactivate) => "deactivate".into(),
        Some(Action::SelfExtend) => "extend".into(),
        Some(Action::SelfRenew) => "renew".into(),
        Some(Action::AdminAssign) => "admin assign".into(),
        Some(Action::AdminUpdate) => "admin update".into(),
        Some(Action::AdminRemove) => "admin remove".into(),
        Some(Action::AdminExtend) => "admin extend".into(),
        Some(Action::AdminRenew) => "admin renew".into(),
        Some(other) => other.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::history_entry;

    #[test]
    fn csv_quotes_and_neutralises_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        for f in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx"] {
            assert_eq!(csv_field(f), format!("'{f}"), "{f}");
        }
        assert_eq!(
            csv_field("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_field("a=b"), "a=b", "only a leading sign");
        // Escape sequences cannot reach the terminal; a carriage return is one too.
        assert_eq!(csv_field("\u{1b}[2Jx"), "\u{FFFD}[2Jx");
        assert_eq!(csv_field("\r=1"), "\u{FFFD}=1");

        let text = csv(&[history_entry()]);
        let lines: Vec<&str> = text.split_terminator("\r\n").collect();
        assert_eq!(
            lines[0],
            "createdAt,tenantId,tenantName,kind,name,scope,action,status,duration,justification,ticketNumber,ticketSystem"
        );
        assert_eq!(
            lines[1],
            "2026-08-01T10:00:00.5Z,t1,Contoso,group,SQL Prod Admins (owner),SQL Prod Admins,selfActivate,denied,PT1H30M,\"Fix \"\"prod\"\", now\nplease\",'=1+1,ServiceNow"
        );
        assert_eq!(lines.len(), 2);
        assert!(text.ends_with("\r\n"));
    }
}
