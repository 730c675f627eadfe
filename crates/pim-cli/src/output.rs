//! Human tables and JSON for the CLI. JSON goes to stdout only; everything else to stderr
//! when `--json` is given.

/// `println!` that ignores a closed stdout (e.g. `pim roles | head`) and prints text from
/// the directory and the services through [`terminal_safe`].
macro_rules! outln {
    () => {
        outln!("")
    };
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($t)*);
        let _ = writeln!(std::io::stdout(), "{}", $crate::output::terminal_safe(&line));
    }};
}

/// `eprintln!` through [`terminal_safe`] (errors and warnings quote names and service text).
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($t)*);
        let _ = writeln!(std::io::stderr(), "{}", $crate::output::terminal_safe(&line));
    }};
}

/// Text made safe to print on a terminal. Names come from the directory (role, group,
/// subscription and tenant names, which tenant admins and resource owners choose) and messages
/// from the services: a control character other than line feed and tab (C0, DEL, C1: escape
/// sequences that move the cursor, recolour, retitle or clear the screen) or a bidirectional
/// override or isolate (which reorder what follows) is printed as U+FFFD. JSON output needs
/// none of this: serde_json escapes control characters.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    }
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| if unsafe_char(c) { '\u{FFFD}' } else { c })
            .collect(),
    )
}

use pim_auth::Account;
use pim_core::duration::format_time_left;
use pim_core::{
    Outcome, PolicyInfo, Role, RoleKind, RoleState, Snapshot, Tenant, TenantError, TenantHistory,
    TenantInbox, TenantSnapshot, Warning,
};
use serde_json::{Value, json};
use time::{OffsetDateTime, UtcOffset};

/// Formatting context.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// Local offset for human times.
    pub local: UtcOffset,
}

/// A time as RFC 3339 in UTC, or null (also when it has no UTC equivalent or RFC 3339 cannot
/// write it).
pub fn rfc3339(t: Option<OffsetDateTime>) -> Value {
    match t.and_then(|t| rfc3339_text(t.checked_to_offset(UtcOffset::UTC)?)) {
        Some(s) => Value::String(s),
        None => Value::Null,
    }
}

/// A time as RFC 3339 in UTC (`2026-08-01T10:00:00.5Z`), as `pim history --json` and
/// `pim approvals --json` print it. A time with no UTC equivalent (at the edges of years
/// -9999..=9999) keeps its own offset; one RFC 3339 cannot write (a year before 0) is empty.
pub fn utc_text(t: OffsetDateTime) -> String {
    rfc3339_text(t.checked_to_offset(UtcOffset::UTC).unwrap_or(t)).unwrap_or_default()
}

/// `t` as RFC 3339 with its own offset; `None` when RFC 3339 cannot write it.
fn rfc3339_text(t: OffsetDateTime) -> Option<String> {
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// One tenant's part of a read (a refresh, the history, the approver's inbox): the tenant,
/// the error when nothing could be read, and the parts that could not be read.
pub(crate) trait TenantRead {
    /// The tenant.
    fn tenant(&self) -> &Tenant;
    /// Set when the tenant could not be read at all.
    fn error(&self) -> Option<&TenantError>;
    /// Parts that could not be read while others were.
    fn warnings(&self) -> &[Warning];
}

macro_rules! tenant_read {
    ($($t:ty),*) => {$(
        impl TenantRead for $t {
            fn tenant(&self) -> &Tenant {
                &self.tenant
            }
            fn error(&self) -> Option<&TenantError> {
                self.error.as_ref()
            }
            fn warnings(&self) -> &[Warning] {
                &self.warnings
            }
        }
    )*};
}
tenant_read!(TenantSnapshot, TenantHistory, TenantInbox);

fn kind_name(a: &Account) -> &'static str {
    match a.kind {
        pim_auth::CredentialKind::AzureCli => "azure-cli",
        pim_auth::CredentialKind::DeviceCode => "device-code",
        _ => "browser",
    }
}

pub(crate) fn kind_short(k: RoleKind) -> &'static str {
    match k {
        RoleKind::EntraRole => "Entra",
        RoleKind::Group => "Group",
        RoleKind::AzureResource => "Azure",
    }
}

impl Out {
    /// `2026-08-21 10:05` in local time (with ` UTC` when local is UTC, or when the time has no
    /// local equivalent, as at the edges of years -9999..=9999).
    pub fn time(&self, t: OffsetDateTime) -> String {
        let (l, utc) = match t.checked_to_offset(self.local) {
            Some(l) => (l, self.local == UtcOffset::UTC),
            None => (t.checked_to_offset(UtcOffset::UTC).unwrap_or(t), true),
        };
        let base = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            l.year(),
            u8::from(l.month()),
            l.day(),
            l.hour(),
            l.minute()
        );
        if utc { format!("{base} UTC") } else { base }
    }

    /// `pim accounts`: number, default mark, user, kind, cloud, home tenant.
    pub fn accounts(&self, accounts: &[Account], default: Option<&str>, json: bool) {
        if json {
            let v: Vec<Value> = accounts
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    json!({
                        "index": i + 1,
                        "default": Some(a.key().as_str()) == default,
                        "upn": a.upn,
                        "name": a.name,
                        "oid": a.oid,
                        "homeTenantId": a.home_tenant_id,
                        "cloud": a.cloud.as_str(),
                        "kind": kind_name(a),
                        "clientId": a.client_id,
                        "authorityHost": a.authority_host,
                        "hiddenTenants": a.hidden_tenants,
                    })
                })
                .collect();
            self.print_json(&v);
            return;
        }
        if accounts.is_empty() {
            outln!("No accounts. Add one with `pim login`.");
            return;
        }
        let mut rows = vec![vec![
            "#".to_owned(),
            "".into(),
            "ACCOUNT".into(),
            "NAME".into(),
            "SIGN-IN".into(),
            "CLOUD".into(),
            "HOME TENANT".into(),
        ]];
        for (i, a) in accounts.iter().enumerate() {
            rows.push(vec![
                (i + 1).to_string(),
                if Some(a.key().as_str()) == default {
                    "*".into()
                } else {
                    String::new()
                },
                a.upn.clone(),
                a.name.clone(),
                kind_name(a).into(),
                a.cloud.as_str().into(),
                a.home_tenant_id.clone(),
            ]);
        }
        Self::table(&rows);
        outln!("* default account (change it with `pim accounts use <account>`)");
    }

    /// `pim tenants`: the tenants the account can reach.
    /// The account's tenants; `hidden` holds the ids (lower case) the user hid.
    pub fn tenants(
        &self,
        account: &Account,
        tenants: &[pim_core::Tenant],
        hidden: &[String],
        json: bool,
    ) {
        let is_hidden = |t: &pim_core::Tenant| hidden.contains(&t.id.to_ascii_lowercase());
        if json {
            let v: Vec<Value> = tenants
                .iter()
                .map(|t| {
                    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
                    v["shown"] = json!(!is_hidden(t));
                    v
                })
                .collect();
            self.print_json(&v);
            return;
        }
        outln!("Tenants of {}:", account.upn);
        let mut rows = vec![vec![
            "NAME".to_owned(),
            "DOMAIN".into(),
            "ID".into(),
            "".into(),
            "SHOWN".into(),
        ]];
        for t in tenants {
            rows.push(vec![
                t.display_name.clone(),
                t.default_domain.clone().unwrap_or_default(),
                t.id.clone(),
                if t.is_home {
                    "home".into()
                } else {
                    "guest".into()
                },
                if is_hidden(t) {
                    "hidden".into()
                } else {
                    "yes".into()
                },
            ]);
        }
        Self::table(&rows);
        if tenants.iter().any(is_hidden) {
            outln!("Hidden tenants are not read; `pim tenants show NAME` shows one again.");
        }
    }

    pub fn print_json<T: serde::Serialize>(&self, v: &T) {
        match serde_json::to_string_pretty(v) {
            Ok(s) => outln!("{s}"),
            Err(e) => errln!("error: cannot write JSON: {e}"),
        }
    }

    fn policy_json(p: &PolicyInfo) -> Value {
        match p {
            PolicyInfo::Known(p) => json!({
                "status": "known",
                "maxDuration": p.max_duration.map(|d| d.to_iso8601()),
                "justificationRequired": p.justification_required,
                "ticketRequired": p.ticket_required,
                "mfaRequired": p.mfa_required,
                "authenticationContext": p.authentication_context,
                "approvalRequired": p.approval_required,
                "summary": p.summary(),
            }),
            PolicyInfo::Unknown { reason } => json!({"status": "unknown", "reason": reason}),
            PolicyInfo::NotLoaded => json!({"status": "notLoaded"}),
        }
    }

    /// One role as JSON (the `pim roles --json` item).
    pub fn role_json(&self, r: &Role) -> Value {
        let a = r.assignment.as_ref();
        let pending = r.pending_request();
        json!({
            "kind": r.kind.as_str(),
            "name": r.name,
            "label": r.label(),
            "scope": r.scope.display_name,
            "scopeId": r.scope.id,
            "scopeKind": r.scope.kind,
            "state": r.state.as_str(),
            "startsAt": rfc3339(r.starts_at()),
            "endsAt": rfc3339(r.ends_at()),
            "tenantId": r.tenant_id,
            "tenantName": r.tenant_name,
            "roleDefinitionId": r.role_definition_id,
            "accessId": r.access.as_ref().map(|x| x.as_str().to_owned()),
            "assignmentType": a.and_then(|a| a.assignment_type.as_ref()).map(|x| x.as_str().to_owned()),
            "memberType": a.and_then(|a| a.member_type.as_ref())
                .or(r.eligibility.as_ref().and_then(|e| e.member_type.as_ref()))
                .map(|x| x.as_str().to_owned()),
            "eligible": r.eligibility.is_some(),
            "eligibilityEndsAt": rfc3339(r.eligibility.as_ref().and_then(|e| e.end)),
            "pendingRequestId": pending.map(|p| p.id.clone()),
            "pendingStatus": pending.map(|p| p.status.as_str().to_owned()),
            "policy": Self::policy_json(&r.policy),
        })
    }

    fn state_text(&self, r: &Role, now: OffsetDateTime) -> (String, String) {
        match r.state {
            RoleState::Active => match r.ends_at() {
                Some(e) => (
                    "active".into(),
                    format!(
                        "{} left (until {})",
                        format_time_left(e - now),
                        self.time(e)
                    ),
                ),
                None => ("active".into(), "permanent".into()),
            },
            RoleState::Pending => (
                "pending".into(),
                r.pending_request()
                    .map(|p| format!("approval, request {}", p.id))
                    .unwrap_or_default(),
            ),
            RoleState::Scheduled => (
                "scheduled".into(),
                r.starts_at()
                    .map(|s| format!("starts {}", self.time(s)))
                    .unwrap_or_default(),
            ),
            RoleState::Eligible => ("eligible".into(), String::new()),
        }
    }

    pub(crate) fn table(rows: &[Vec<String>]) {
        if rows.is_empty() {
            return;
        }
        let cols = rows[0].len();
        let widths: Vec<usize> = (0..cols)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for r in rows {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                if c + 1 == cols {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
                }
            }
            outln!("{}", line.trim_end());
        }
    }

    /// Tenants and parts of them that could not be read, on stderr: `warning: tenant NAME:
    /// MESSAGE` (`pim roles`, `pim history`, `pim approvals`).
    pub(crate) fn warnings(tenants: &[impl TenantRead]) {
        for t in tenants {
            let name = &t.tenant().display_name;
            if let Some(e) = t.error() {
                errln!("warning: tenant {name}: {}", e.message);
            }
            for w in t.warnings() {
                errln!("warning: tenant {name}: {w}");
            }
        }
    }

    pub fn roles_table(&self, roles: &[&Role], now: OffsetDateTime) {
        if roles.is_empty() {
            outln!("No eligible or active roles.");
            return;
        }
        let mut rows = vec![vec![
            "KIND".to_owned(),
            "NAME".into(),
            "SCOPE".into(),
            "TENANT".into(),
            "STATE".into(),
            "TIME".into(),
            "POLICY".into(),
        ]];
        for r in roles {
            let (state, time) = self.state_text(r, now);
            rows.push(vec![
                kind_short(r.kind).into(),
                r.label(),
                r.scope.display_name.clone(),
                r.tenant_name.clone(),
                state,
                time,
                match &r.policy {
                    PolicyInfo::Known(p) => p.summary(),
                    PolicyInfo::Unknown { .. } => "unknown".into(),
                    PolicyInfo::NotLoaded => String::new(),
                },
            ]);
        }
        Self::table(&rows);
    }

    pub fn status(
        &self,
        account: &Account,
        accounts: &[Account],
        snap: &Snapshot,
        tenant: &Option<String>,
        now: OffsetDateTime,
        json: bool,
    ) {
        let in_tenant = |r: &&Role| crate::find::tenant_ok(snap, r, tenant);
        let active: Vec<&Role> = snap
            .roles()
            .filter(|r| r.state == RoleState::Active)
            .filter(in_tenant)
            .collect();
        let pending: Vec<&Role> = snap
            .roles()
            .filter(|r| {
                matches!(r.state, RoleState::Pending | RoleState::Scheduled)
                    || (r.state == RoleState::Active && r.pending_request().is_some())
            })
            .filter(in_tenant)
            .collect();
        if json {
            let v = json!({
                "account": {"upn": account.upn, "name": account.name, "oid": account.oid, "homeTenantId": account.home_tenant_id},
                "accounts": accounts.iter().map(|a| json!({"upn": a.upn, "name": a.name, "homeTenantId": a.home_tenant_id, "default": a.key() == account.key()})).collect::<Vec<_>>(),
                "tenants": snap.tenants.iter().map(|t| json!({
                    "id": t.tenant.id, "name": t.tenant.display_name, "defaultDomain": t.tenant.default_domain,
                    "isHome": t.tenant.is_home, "error": t.error, "warnings": t.warnings,
                })).collect::<Vec<_>>(),
                "hiddenTenants": snap.hidden.iter().map(|t| json!({
                    "id": t.id, "name": t.display_name, "defaultDomain": t.default_domain, "isHome": t.is_home,
                })).collect::<Vec<_>>(),
                "active": active.iter().map(|r| {
                    let mut v = self.role_json(r);
                    v["timeLeftSeconds"] = r.ends_at().map(|e| json!((e - now).whole_seconds().max(0))).unwrap_or(Value::Null);
                    v
                }).collect::<Vec<_>>(),
                "pending": pending.iter().map(|r| self.role_json(r)).collect::<Vec<_>>(),
            });
            self.print_json(&v);
            return;
        }
        outln!("Signed in as {} ({}).", account.name, account.upn);
        let others: Vec<&Account> = accounts
            .iter()
            .filter(|a| a.key() != account.key())
            .collect();
        if !others.is_empty() {
            outln!(
                "Other accounts: {}",
                others
                    .iter()
                    .map(|a| a.upn.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        outln!("Tenants:");
        for t in &snap.tenants {
            let mut line = format!(
                "  {}{}",
                t.tenant.display_name,
                if t.tenant.is_home { " (home)" } else { "" }
            );
            if let Some(d) = &t.tenant.default_domain {
                line.push_str(&format!(" — {d}"));
            }
            if let Some(e) = &t.error {
                line.push_str(&format!(" — error: {}", e.message));
            }
            outln!("{line}");
            for w in &t.warnings {
                outln!("    warning: {w}");
            }
        }
        if !snap.hidden.is_empty() {
            outln!(
                "  Hidden: {} (`pim tenants show NAME`)",
                snap.hidden
                    .iter()
                    .map(|t| t.display_name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        outln!();
        if active.is_empty() {
            outln!("No active roles.");
        } else {
            outln!("Active:");
            self.roles_table(&active, now);
        }
        outln!();
        if pending.is_empty() {
            outln!("No pending requests.");
        } else {
            outln!("Pending:");
            let mut rows = vec![vec![
                "KIND".to_owned(),
                "NAME".into(),
                "SCOPE".into(),
                "TENANT".into(),
                "STATUS".into(),
                "REQUEST".into(),
            ]];
            for r in &pending {
                let p = r.pending_request();
                rows.push(vec![
                    kind_short(r.kind).into(),
                    r.label(),
                    r.scope.display_name.clone(),
                    r.tenant_name.clone(),
                    p.map(|p| match (p.status.needs_decision(), p.start) {
                        (true, _) => "pending approval".to_owned(),
                        (false, Some(s)) => format!("scheduled {}", self.time(s)),
                        _ => p.status.to_string(),
                    })
                    .unwrap_or_default(),
                    p.map(|p| p.id.clone()).unwrap_or_default(),
                ]);
            }
            Self::table(&rows);
        }
    }

    pub fn outcome(&self, role: &Role, o: &Outcome, now: OffsetDateTime, json: bool) {
        if json {
            let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
            v["role"] = self.role_json(role);
            self.print_json(&v);
            return;
        }
        let who = role.describe();
        match o {
            Outcome::Active { until, request_id } => {
                let until = match until {
                    Some(u) => format!(
                        "until {} ({} left)",
                        self.time(*u),
                        format_time_left(*u - now)
                    ),
                    None => "now".into(),
                };
                outln!("{who} is active {until}.{}", req_suffix(request_id));
            }
            Outcome::PendingApproval { request_id } => {
                outln!(
                    "{who}: pending approval, request id {request_id}. Cancel it with `pim cancel`."
                );
            }
            Outcome::Scheduled { start, request_id } => {
                let s = start
                    .map(|s| self.time(s))
                    .unwrap_or_else(|| "later".into());
                outln!("{who} is scheduled for {s}.{}", req_suffix(request_id));
            }
            Outcome::Submitted { request_id, status } => {
                outln!(
                    "{who}: request submitted, status {status}.{} Check with `pim status`.",
                    req_suffix(request_id)
                );
            }
            Outcome::Deactivated { request_id } => {
                outln!("{who} is deactivated.{}", req_suffix(request_id))
            }
            Outcome::Canceled { request_id } => outln!("{who}: request {request_id} cancelled."),
        }
    }

    pub fn policy(&self, role: &Role, p: &PolicyInfo, json: bool) {
        if json {
            self.print_json(&json!({"role": self.role_json(role), "policy": Self::policy_json(p)}));
            return;
        }
        outln!("{}", role.describe());
        match p {
            PolicyInfo::Known(p) => {
                let yes = |b: bool| if b { "required" } else { "not required" };
                outln!(
                    "  Maximum duration:        {}",
                    p.max_duration
                        .map(|d| format!("{d} ({})", d.to_iso8601()))
                        .unwrap_or_else(|| "not limited".into())
                );
                outln!(
                    "  Justification (--reason): {}",
                    yes(p.justification_required)
                );
                outln!(
                    "  Ticket (--ticket, --ticket-system): {}",
                    yes(p.ticket_required)
                );
                outln!("  Multi-factor authentication: {}", yes(p.mfa_required));
                outln!(
                    "  Authentication context:  {}",
                    p.authentication_context
                        .clone()
                        .unwrap_or_else(|| "none".into())
                );
                outln!("  Approval:                {}", yes(p.approval_required));
            }
            PolicyInfo::Unknown { reason } => {
                outln!(
                    "  The policy could not be read ({reason}); the service will still enforce it."
                );
            }
            PolicyInfo::NotLoaded => outln!("  The policy is not known yet."),
        }
    }
}

fn req_suffix(id: &str) -> String {
    if id.is_empty() {
        String::new()
    } else {
        format!(" Request {id}.")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn directory_text_cannot_drive_the_terminal() {
        assert!(matches!(
            terminal_safe("Global Administrator\tContoso\n"),
            std::borrow::Cow::Borrowed(_)
        ));
        let hostile = "Reader\u{1b}]0;pwned\u{7}\u{1b}[2J\r\u{9b}31m\u{202e}nimdA\u{2066}x\u{7f}";
        let safe = terminal_safe(hostile);
        assert_eq!(
            safe,
            "Reader\u{FFFD}]0;pwned\u{FFFD}\u{FFFD}[2J\u{FFFD}\u{FFFD}31m\u{FFFD}nimdA\u{FFFD}x\u{FFFD}"
        );
        assert!(!safe.chars().any(|c| c.is_control()));
        assert_eq!(terminal_safe("Überprüfer 管理者 ✓"), "Überprüfer 管理者 ✓");
    }

    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_near_the_last_date_do_not_panic() {
        let out = Out {
            local: UtcOffset::from_hms(2, 0, 0).unwrap(),
        };
        // 9999-12-31 23:30 UTC has no +02:00 equivalent.
        assert_eq!(
            out.time(datetime!(9999-12-31 23:30 UTC)),
            "9999-12-31 23:30 UTC"
        );
        assert_eq!(
            out.time(datetime!(2026-08-21 08:00 UTC)),
            "2026-08-21 10:00"
        );
        let west = Out {
            local: UtcOffset::from_hms(-2, 0, 0).unwrap(),
        };
        assert_eq!(
            west.time(datetime!(-9999-01-01 00:30 UTC)),
            "-9999-01-01 00:30 UTC"
        );
    }
}
