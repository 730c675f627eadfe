//! `pim history`: my past PIM requests (Entra roles, groups, Azure roles) in every tenant,
//! newest first, as a table, JSON or CSV. One `Session::history` call plus formatting.

use std::io::Write as _;

use clap::Args;
use pim_accounts::OpenAccount;
use pim_core::{Error, HistoryEntry};
use serde_json::{Value, json};
use time::{Date, OffsetDateTime, UtcOffset};

use crate::output::{Out, kind_short, utc_text};

/// `pim history` options.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How far back: a duration (30d, 12h, 2w, 1w3d; units m, h, d, w) or a date
    /// (YYYY-MM-DD, from local midnight).
    #[arg(long, default_value = "30d", value_name = "WHEN", value_parser = parse_since)]
    pub since: Since,
    /// Print JSON: an array of requests.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV (RFC 4180, a header line; cells starting with = + - @ get a leading ').
    #[arg(long)]
    pub csv: bool,
}

/// `--since`: a time ago, or a local date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// This long before now.
    Ago(time::Duration),
    /// From this day's local midnight.
    Date(Date),
}

/// The longest look back accepted (about 100 years, as for durations).
const MAX_DAYS: i64 = 36_500;

/// Parses `--since` (clap reports an error as a usage error, exit 2).
pub fn parse_since(s: &str) -> Result<Since, String> {
    let t = s.trim();
    let bad = || {
        format!(
            "`{s}` is not a time to look back to; use a duration like 30d, 12h or 2w, or a date YYYY-MM-DD"
        )
    };
    if t.len() == 10 && t.as_bytes().get(4) == Some(&b'-') {
        let f = time::macros::format_description!("[year]-[month]-[day]");
        return Date::parse(t, &f).map(Since::Date).map_err(|_| bad());
    }
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c.to_ascii_lowercase() {
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .filter(|x| *x <= MAX_DAYS * 86_400)
            .ok_or_else(|| format!("`{s}` is further back than the {MAX_DAYS} days accepted"))?;
    }
    if !digits.is_empty() {
        // A number without a unit: minutes or days? Say which.
        return Err(bad());
    }
    Ok(Since::Ago(time::Duration::seconds(total)))
}

impl Since {
    /// The first moment to list, by `now` (the service's clock) and the local offset; a date
    /// in the future is a usage error.
    pub fn resolve(
        self,
        now: OffsetDateTime,
        local: UtcOffset,
    ) -> pim_core::Result<OffsetDateTime> {
        match self {
            Since::Ago(d) => now.checked_sub(d).ok_or_else(|| {
                Error::InvalidInput(
                    "--since reaches back before the first representable date".into(),
                )
            }),
            Since::Date(d) => {
                let t = d
                    .midnight()
                    .assume_offset(local)
                    .checked_to_offset(UtcOffset::UTC)
                    .ok_or_else(|| {
                        Error::InvalidInput(format!("--since {d} has no UTC equivalent"))
                    })?;
                if t > now {
                    return Err(Error::InvalidInput(format!("--since {d} is in the future")));
                }
                Ok(t)
            }
        }
    }
}

/// `pim history`: the tenants `--tenant` names (hidden or not), else every shown tenant.
pub async fn run(
    open: &OpenAccount,
    tenant: &Option<String>,
    args: &HistoryArgs,
    out: &Out,
) -> pim_core::Result<()> {
    let session = open.session();
    let since = args.since.resolve(session.now(), out.local)?;
    let history = match crate::find::named_tenants(session, tenant).await? {
        None => session.history(since).await?,
        Some(chosen) => session.history_of(&chosen, since).await?,
    };
    Out::warnings(&history.tenants);
    if args.json {
        out.print_json(&history.entries.iter().map(entry_json).collect::<Vec<_>>());
    } else if args.csv {
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (`| head`) is not an error.
        let _ = stdout.write_all(pim_core::export::csv(&history.entries).as_bytes());
    } else if history.entries.is_empty() {
        outln!("No requests since {}.", out.time(since));
    } else {
        table(out, &history.entries);
    }
    Ok(())
}

/// One request as `pim history --json` prints it.
pub fn entry_json(e: &HistoryEntry) -> Value {
    json!({
        "createdAt": utc_text(e.created_at),
        "tenantId": e.tenant_id,
        "kind": e.kind.as_str(),
        "name": e.label(),
        "scope": e.scope.display_name,
        "action": e.action.as_ref().map(|a| a.as_str().to_owned()),
        "status": e.status.as_ref().map(|s| s.as_str().to_owned()),
        "duration": e.duration.map(|d| d.to_iso8601()),
        "justification": e.justification,
        "ticket": e.ticket.as_ref().map(|t| json!({"number": t.number, "system": t.system})),
    })
}

/// Longest justification shown in the table (the rest is `…`).
const JUSTIFICATION_WIDTH: usize = 40;

/// Text for one table cell: on one line, at most `width` characters.
pub fn cell(s: &str, width: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let one_line = one_line.trim();
    if one_line.chars().count() <= width {
        return one_line.to_owned();
    }
    let mut cut: String = one_line.chars().take(width.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// The table: when (local time), tenant, kind, name, scope, action, status, duration,
/// justification (shortened).
fn table(out: &Out, entries: &[HistoryEntry]) {
    let mut rows = vec![
        [
            "WHEN",
            "TENANT",
            "KIND",
            "NAME",
            "SCOPE",
            "ACTION",
            "STATUS",
            "DURATION",
            "JUSTIFICATION",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for e in entries {
        rows.push(vec![
            out.time(e.created_at),
            cell(&e.tenant_name, 60),
            kind_short(e.kind).to_owned(),
            cell(&e.label(), 80),
            cell(&e.scope.display_name, 80),
            pim_core::export::action_words(e.action.as_ref()),
            e.status
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            e.duration.map(|d| d.to_human()).unwrap_or_default(),
            cell(
                e.justification.as_deref().unwrap_or_default(),
                JUSTIFICATION_WIDTH,
            ),
        ]);
    }
    Out::table(&rows);
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use pim_core::Action;
    use pim_core::testing::history_entry;
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn since_takes_durations_and_dates() {
        assert_eq!(parse_since("30d"), Ok(Since::Ago(time::Duration::days(30))));
        assert_eq!(
            parse_since("12h"),
            Ok(Since::Ago(time::Duration::hours(12)))
        );
        assert_eq!(
            parse_since(" 2W "),
            Ok(Since::Ago(time::Duration::weeks(2)))
        );
        assert_eq!(
            parse_since("1w3d12h30m"),
            Ok(Since::Ago(
                time::Duration::days(10) + time::Duration::minutes(12 * 60 + 30)
            ))
        );
        assert_eq!(parse_since("0d"), Ok(Since::Ago(time::Duration::ZERO)));
        assert_eq!(
            parse_since("2026-08-01"),
            Ok(Since::Date(date!(2026 - 08 - 01)))
        );
        for bad in [
            "",
            "30",
            "d",
            "30x",
            "-30d",
            "30d ago",
            "3.5d",
            "2026-13-01",
            "2026-02-30",
            "26-08-01",
            "yesterday",
            "€d",
            "99999999999999999999d",
        ] {
            let e = parse_since(bad).unwrap_err();
            assert!(e.contains(bad.trim()), "{bad}: {e}");
        }
        assert!(parse_since("36501d").unwrap_err().contains("36500 days"));
        assert!(parse_since("36500d").is_ok());
    }

    #[test]
    fn since_resolves_against_the_services_clock() {
        let now = datetime!(2026-08-21 08:00 UTC);
        let plus2 = UtcOffset::from_hms(2, 0, 0).unwrap();
        assert_eq!(
            Since::Ago(time::Duration::days(30))
                .resolve(now, UtcOffset::UTC)
                .unwrap(),
            datetime!(2026-07-22 08:00 UTC)
        );
        assert_eq!(
            Since::Date(date!(2026 - 08 - 01))
                .resolve(now, plus2)
                .unwrap(),
            datetime!(2026-07-31 22:00 UTC),
            "local midnight"
        );
        let e = Since::Date(date!(2026 - 08 - 22))
            .resolve(now, UtcOffset::UTC)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)) && e.to_string().contains("future"));
        let e = Since::Ago(time::Duration::days(MAX_DAYS))
            .resolve(datetime!(-9999-01-01 00:00 UTC), UtcOffset::UTC)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)));
    }

    #[test]
    fn bad_since_values_and_two_formats_are_usage_errors() {
        let e = crate::cli::Cli::try_parse_from(["pim", "history", "--since", "soon"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");
        let e = crate::cli::Cli::try_parse_from(["pim", "history", "--json", "--csv"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let ok = crate::cli::Cli::try_parse_from(["pim", "history"]).unwrap();
        let crate::cli::Command::History(args) = ok.command else {
            panic!("{ok:?}")
        };
        assert_eq!(
            args.since,
            Since::Ago(time::Duration::days(30)),
            "default 30d"
        );
    }

    #[test]
    fn json_has_exactly_the_documented_members() {
        let v = entry_json(&history_entry());
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = [
            "createdAt",
            "tenantId",
            "kind",
            "name",
            "scope",
            "action",
            "status",
            "duration",
            "justification",
            "ticket",
        ];
        want.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, want);
        assert_eq!(v["createdAt"], "2026-08-01T10:00:00.5Z");
        assert_eq!(v["kind"], "group");
        assert_eq!(v["name"], "SQL Prod Admins (owner)");
        assert_eq!(v["action"], "selfActivate");
        assert_eq!(v["status"], "denied");
        assert_eq!(v["duration"], "PT1H30M");
        assert_eq!(
            v["ticket"],
            json!({"number": "=1+1", "system": "ServiceNow"})
        );
        let mut bare = history_entry();
        (
            bare.action,
            bare.status,
            bare.duration,
            bare.justification,
            bare.ticket,
        ) = (None, None, None, None, None);
        let v = entry_json(&bare);
        for k in ["action", "status", "duration", "justification", "ticket"] {
            assert_eq!(v[k], Value::Null, "{k}");
        }
    }

    #[test]
    fn table_cells_are_one_line_and_short() {
        assert_eq!(cell("short", 40), "short");
        assert_eq!(cell(" a\nb\tc ", 40), "a b c");
        let long = "Investigate risky sign-in alert for a finance user";
        let c = cell(long, 40);
        assert_eq!(c.chars().count(), 40);
        assert!(c.ends_with('…') && long.starts_with(c.trim_end_matches('…')));
        assert_eq!(cell("ééééé", 3), "éé…");
        assert_eq!(
            pim_core::export::action_words(Some(&Action::SelfDeactivate)),
            "deactivate"
        );
        assert_eq!(
            pim_core::export::action_words(Some(&Action::parse("selfTeleport"))),
            "selfTeleport"
        );
        assert_eq!(pim_core::export::action_words(None), "");
    }
}
