//! The command line: `pim`'s arguments and subcommands (clap), and the values they parse
//! (durations, clouds, `--start` times).

use clap::{Args, Parser, Subcommand};
use pim_core::config::Cloud;
use pim_core::{ActivationRequest, Error, PimDuration, Ticket};
use time::{OffsetDateTime, UtcOffset};

use crate::{activate, approvals, bundle, history};

#[derive(Debug, Parser)]
#[command(
    name = "pim",
    version,
    about = "Activate Microsoft Entra ID PIM roles, groups and Azure roles from the command line",
    after_help = "Exit codes: 0 done, 2 usage, 3 refused by policy or validation, 4 sign-in or step-up needed, 1 other errors.\nEnvironment: PIM_CLOUD, PIM_CLIENT_ID, PIM_CONFIG_DIR, PIM_AUTHORITY_HOST, PIM_GRAPH_ENDPOINT, PIM_ARM_ENDPOINT (read at `pim login` and stored with the account), BROWSER, RUST_LOG."
)]
pub struct Cli {
    /// Tenant to work in: name, domain or id (default: all tenants; for login: your home tenant).
    #[arg(long, global = true)]
    pub tenant: Option<String>,
    /// Account to use: its user name or its number in `pim accounts` (default: the default
    /// account).
    #[arg(long, global = true, value_name = "UPN")]
    pub account: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add an account: sign in with the browser (or a device code) and keep the sign-in in the
    /// OS keychain, or use the Azure CLI's sign-in. The new account becomes the default.
    Login {
        /// Use the device-code flow instead of a browser on this machine (no browser, SSH).
        #[arg(long, conflicts_with = "azure_cli")]
        device_code: bool,
        /// Use the Azure CLI's sign-in (`az login` first): Azure resource roles only.
        #[arg(long)]
        azure_cli: bool,
        /// Cloud of the account: public, usgov or china (default: PIM_CLOUD, else public).
        #[arg(long, value_parser = parse_cloud)]
        cloud: Option<Cloud>,
    },
    /// Sign out one account (by user name or number; default: the selected account) or all.
    Logout {
        /// User name or number in `pim accounts`.
        account: Option<String>,
        /// Sign out every account.
        #[arg(long, conflicts_with = "account")]
        all: bool,
    },
    /// List the accounts (the default is marked), or switch the default.
    Accounts {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<AccountsAction>,
    },
    /// List the tenants the account can reach (from Azure Resource Manager), or choose which
    /// of them the CLI and the tray show.
    Tenants {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<TenantsAction>,
    },
    /// List eligible and active roles, groups and Azure roles in every tenant.
    Roles {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Who is signed in, tenants, active roles with time left, pending requests.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Activate a role (or group membership/ownership, or Azure role), or several with one
    /// request: each is checked against its own policy before anything is sent.
    Activate(activate::ActivateArgs),
    /// Named sets of roles to activate together (`pim activate --bundle NAME`).
    Bundle {
        #[command(subcommand)]
        action: bundle::BundleAction,
    },
    /// Deactivate an activated role.
    Deactivate {
        #[command(flatten)]
        target: Target,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Get more time on an active role (re-activates it for the duration).
    Extend {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        request: RequestArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a request waiting for approval (or scheduled).
    Cancel {
        #[command(flatten)]
        target: Target,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what activating a role requires.
    Policy {
        #[command(flatten)]
        target: Target,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Your past PIM requests (activations, deactivations, extensions, denials,
    /// cancellations) in every tenant, newest first.
    History(history::HistoryArgs),
    /// Other users' requests waiting for your approval, in every tenant.
    Approvals {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a request `pim approvals` lists (your stage of it).
    Approve(approvals::DecideArgs),
    /// Deny a request `pim approvals` lists (--reason is required).
    Deny(approvals::DecideArgs),
}

#[derive(Debug, Subcommand)]
pub enum AccountsAction {
    /// Make an account the default (user name or number in `pim accounts`).
    Use {
        /// User name or number.
        account: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantsAction {
    /// Stop showing tenants (name, domain or id): their roles are no longer read or listed,
    /// here and in the tray. `--tenant NAME` still reaches a hidden tenant.
    Hide {
        /// Tenant names, domains or ids.
        #[arg(required = true)]
        tenants: Vec<String>,
    },
    /// Show hidden tenants again (or all of them with --all).
    Show {
        /// Tenant names, domains or ids.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        tenants: Vec<String>,
        /// Show every tenant.
        #[arg(long)]
        all: bool,
    },
}

fn parse_cloud(s: &str) -> Result<Cloud, String> {
    Cloud::parse(s).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct Target {
    /// Role, group or Azure role name (case-insensitive; a unique prefix is enough).
    pub name: String,
    /// Scope name or id (administrative unit, group, subscription, resource group).
    #[arg(long)]
    pub scope: Option<String>,
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// Justification (required by most policies).
    #[arg(long, visible_alias = "justification", value_name = "TEXT")]
    pub reason: Option<String>,
    /// Ticket number (with --ticket-system).
    #[arg(long, value_name = "N")]
    pub ticket: Option<String>,
    /// Ticket system, e.g. ServiceNow.
    #[arg(long, value_name = "S")]
    pub ticket_system: Option<String>,
    /// How long: 1h, 90m, 1h30m, PT2H. Default: the policy maximum capped at 1h.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<PimDuration>,
}

pub fn parse_duration(s: &str) -> Result<PimDuration, String> {
    PimDuration::parse(s).map_err(|e| e.to_string())
}

impl RequestArgs {
    pub fn to_request(&self) -> ActivationRequest {
        let ticket = match (&self.ticket, &self.ticket_system) {
            (None, None) => None,
            (n, s) => Some(Ticket {
                number: n.clone().unwrap_or_default(),
                system: s.clone().unwrap_or_default(),
            }),
        };
        ActivationRequest {
            justification: self.reason.clone(),
            ticket,
            duration: self.duration,
            start: None,
        }
    }
}

/// `--start`: RFC 3339, or local `HH:MM` (today; tomorrow if already past) or
/// `YYYY-MM-DD HH:MM`.
pub fn parse_start(s: &str, local: UtcOffset) -> pim_core::Result<OffsetDateTime> {
    let s = s.trim();
    if let Some(t) = pim_core::wire::parse_datetime(s)
        && (s.ends_with('Z')
            || s.ends_with('z')
            || s.contains('+')
            || s.rfind('-').is_some_and(|i| i > 10))
    {
        return Ok(t);
    }
    let bad = || {
        Error::InvalidInput(format!(
            "`{s}` is not a start time; use RFC 3339 (2026-08-21T08:00:00Z), HH:MM or YYYY-MM-DD HH:MM (local time)"
        ))
    };
    let hm = time::macros::format_description!("[hour]:[minute]");
    let full = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let full_t = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let now_utc = OffsetDateTime::now_utc();
    let now_local = now_utc.checked_to_offset(local).unwrap_or(now_utc);
    if let Ok(t) = time::Time::parse(s, &hm) {
        let mut dt = now_local.date().with_time(t).assume_offset(local);
        if dt < now_local.saturating_sub(time::Duration::minutes(1)) {
            dt = dt.checked_add(time::Duration::days(1)).ok_or_else(bad)?;
        }
        return dt.checked_to_offset(UtcOffset::UTC).ok_or_else(bad);
    }
    for f in [full, full_t] {
        if let Ok(dt) = time::PrimitiveDateTime::parse(s, &f) {
            // 9999-12-31 23:59 at a western offset has no UTC equivalent.
            return dt
                .assume_offset(local)
                .checked_to_offset(UtcOffset::UTC)
                .ok_or_else(bad);
        }
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times() {
        let t = parse_start("2026-08-21T08:00:00Z", UtcOffset::UTC).unwrap();
        assert_eq!(t.hour(), 8);
        let t = parse_start("2026-08-21 10:30", UtcOffset::from_hms(2, 0, 0).unwrap()).unwrap();
        assert_eq!((t.hour(), t.minute()), (8, 30));
        let t = parse_start("23:59", UtcOffset::UTC).unwrap();
        assert_eq!(t.minute(), 59);
        assert!(parse_start("soon", UtcOffset::UTC).is_err());
    }

    #[test]
    fn start_times_with_multibyte_characters_are_refused() {
        for s in ["€abcde", "2026-08-21T08:00:00€", "€€:€€"] {
            let e = parse_start(s, UtcOffset::UTC).unwrap_err();
            assert_eq!(crate::exit_code(&e), 2, "{s}: {e}");
        }
    }

    #[test]
    fn huge_durations_are_usage_errors() {
        for d in [
            "999999999999999999",
            "999999999999h",
            "P3000000D",
            "18446744073709551615m",
        ] {
            let e = Cli::try_parse_from(["pim", "activate", "x", "--duration", d]).unwrap_err();
            // clap's usage errors exit with 2, like ours.
            assert_eq!(e.exit_code(), 2, "{d}");
            assert!(e.to_string().contains("duration"), "{d}: {e}");
        }
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let c = Cli::try_parse_from([
            "pim",
            "activate",
            "Global Reader",
            "--reason",
            "x",
            "--duration",
            "1h30m",
            "--tenant",
            "contoso",
        ])
        .unwrap();
        assert_eq!(c.tenant.as_deref(), Some("contoso"));
        assert!(Cli::try_parse_from(["pim", "activate", "x", "--duration", "soon"]).is_err());
    }
}
