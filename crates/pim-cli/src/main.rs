//! `pim`: command-line client for Microsoft Entra ID Privileged Identity Management.
//!
//! The second client of pim-core (after the tray): every command is one `Session` call plus
//! formatting. Exit codes: 0 done, 2 usage (bad arguments, unknown or ambiguous role name),
//! 3 refused by policy or validation, 4 sign-in or step-up needed and not completed,
//! 1 anything else. `--json` prints only JSON on stdout; logs go to stderr (`RUST_LOG`).
//!
//! This file runs a command (`main`, `command`) and maps errors to exit codes and advice;
//! `cli.rs` holds the arguments, `ctx.rs` the per-process context and the selected account,
//! `find.rs` the lookup of the role and tenants a command names, `accounts.rs` the account
//! commands, and one file per larger command (`activate.rs`, `bundle.rs`, `history.rs`,
//! `approvals.rs`); `output.rs` formats.

#![cfg_attr(test, allow(clippy::unwrap_used))]

#[macro_use]
mod output;
mod accounts;
mod activate;
mod approvals;
mod bundle;
mod cli;
mod ctx;
mod find;
mod history;

use std::process::ExitCode;

use clap::Parser;
use pim_accounts::OpenAccount;
use pim_core::{Decision, Error, Role, RoleState, Snapshot};
use time::UtcOffset;

use crate::cli::{Cli, Command};
use crate::ctx::{Ctx, open_account};
use crate::find::{find, named_tenants, tenant_ok};
use crate::output::Out;

/// Exit code for an error (see the crate docs).
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::PolicyViolation { .. }
        | Error::TooEarly { .. }
        | Error::InvalidState { .. }
        | Error::NotEligible { .. } => 3,
        Error::SignInRequired { .. }
        | Error::AzureCliSignInRequired { .. }
        | Error::StepUpRequired { .. }
        | Error::BrowserUnavailable { .. } => 4,
        Error::InvalidInput(_) | Error::Ambiguous { .. } | Error::NotFound { .. } => 2,
        _ => 1,
    }
}

/// CLI advice appended to core messages.
fn cli_hint(e: &Error) -> Option<String> {
    match e {
        Error::PolicyViolation { rules, .. } => {
            let mut h = Vec::new();
            for r in rules {
                match r.as_str() {
                    "JustificationRule" | "ApproverJustificationRule" => {
                        h.push("add --reason TEXT")
                    }
                    "TicketingRule" => h.push("add --ticket N --ticket-system S"),
                    "ExpirationRule" | "ActiveDurationTooShort" => {
                        h.push("choose another --duration (see `pim policy NAME`)")
                    }
                    _ => {}
                }
            }
            (!h.is_empty()).then(|| h.join("; "))
        }
        Error::StepUpRequired { .. } => Some(
            "run the command where a browser can open (set BROWSER if needed), or `pim login` again".into(),
        ),
        // The core's messages name no front end; the CLI's own advice is added here, once.
        Error::SignInRequired { .. } => Some("run `pim login`".into()),
        Error::Ambiguous { .. } => Some("add --scope or --tenant (see `pim roles`)".into()),
        Error::NotFound { .. } => Some("`pim roles` lists the names".into()),
        _ => None,
    }
}

fn main() -> ExitCode {
    // The local offset must be read while the process is single-threaded.
    let local = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let cli = Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let out = Out { local };
    match rt.block_on(run(cli, &out)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            errln!("error: {e}");
            if let Some(h) = cli_hint(&e) {
                errln!("hint: {h}");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}

fn init_logging() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // `RUST_LOG` as `target=level` directives and a bare level (`Targets`: no regex engine
    // linked for span or field directives); unset, empty or not understood: the default.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| {
            Targets::new()
                .with_target("pim", LevelFilter::WARN)
                .with_target("pim_auth", LevelFilter::WARN)
                .with_target("pim_core", LevelFilter::ERROR)
        });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        )
        .try_init();
}

/// For an Azure CLI account whose Graph reads were refused: which app registration is needed.
fn azure_cli_note(open: &OpenAccount, snap: &Snapshot) {
    if open.is_azure_cli() && pim_accounts::graph_unreadable(snap) {
        errln!(
            "note: {} signs in through the Azure CLI, whose app registration has no Microsoft Graph \
             PIM permissions, so only Azure resource roles are listed. For Entra roles and groups, \
             sign in with an app registration that has the delegated Graph PIM permissions \
             (README, App registration; PIM_CLIENT_ID): `pim login`.",
            open.account().upn
        );
    }
}

async fn run(cli: Cli, out: &Out) -> pim_core::Result<u8> {
    let ctx = Ctx::new()?;
    let result = command(cli, out, &ctx).await;
    // Refreshes save rotated refresh tokens in the background: wait for them before exiting.
    ctx.accounts.flush().await;
    result
}

/// Runs the command; returns the exit code (errors are printed by `main`).
async fn command(cli: Cli, out: &Out, ctx: &Ctx) -> pim_core::Result<u8> {
    let done: pim_core::Result<()> = match cli.command {
        Command::Activate(args) => {
            return activate::run(ctx, &cli.account, &cli.tenant, args, out).await;
        }
        Command::Bundle { action } => {
            bundle::run(ctx, &cli.account, &cli.tenant, action, out).await
        }
        Command::Login {
            device_code,
            azure_cli,
            cloud,
        } => accounts::login(ctx, &cli.tenant, device_code, azure_cli, cloud).await,
        Command::Logout { account, all } => accounts::logout(ctx, account, &cli.account, all).await,
        Command::Accounts { json, action } => accounts::accounts(ctx, json, action, out),
        Command::Tenants { json, action } => {
            accounts::tenants(ctx, &cli.account, &cli.tenant, json, action, out).await
        }
        Command::Roles { json } => {
            let open = open_account(ctx, &cli.account, &cli.tenant)?;
            let s = open.session();
            // Policies of groups and Azure roles are read lazily (`pim policy NAME`).
            let snap = open.refresh().await?;
            // A `--tenant` that names no tenant is a usage error; the roles are filtered below.
            named_tenants(s, &cli.tenant).await?;
            let roles: Vec<&Role> = snap
                .roles()
                .filter(|r| tenant_ok(&snap, r, &cli.tenant))
                .collect();
            if json {
                out.print_json(&roles.iter().map(|r| out.role_json(r)).collect::<Vec<_>>());
            } else {
                Out::warnings(&snap.tenants);
                azure_cli_note(&open, &snap);
                out.roles_table(&roles, s.now());
            }
            Ok(())
        }
        Command::Status { json } => {
            let accounts = ctx.accounts()?.accounts;
            let open = open_account(ctx, &cli.account, &cli.tenant)?;
            let s = open.session();
            let snap = open.refresh().await?;
            // A `--tenant` that names no tenant is a usage error; `status` filters the roles.
            named_tenants(s, &cli.tenant).await?;
            out.status(open.account(), &accounts, &snap, &cli.tenant, s.now(), json);
            Ok(())
        }
        Command::Deactivate { target, json } => {
            let se = open_account(ctx, &cli.account, &cli.tenant)?;
            let s = se.session();
            let role = find(&se, &cli.tenant, &target, &|r| {
                r.assignment.as_ref().is_some_and(|a| a.is_activation())
            })
            .await?;
            let outcome = s.deactivate(&role).await?;
            out.outcome(&role, &outcome, s.now(), json);
            Ok(())
        }
        Command::Extend {
            target,
            request,
            json,
        } => {
            let se = open_account(ctx, &cli.account, &cli.tenant)?;
            let s = se.session();
            let role = find(&se, &cli.tenant, &target, &|r| r.state == RoleState::Active).await?;
            let outcome = s.extend(&role, request.to_request()).await?;
            out.outcome(&role, &outcome, s.now(), json);
            Ok(())
        }
        Command::Cancel { target, json } => {
            let se = open_account(ctx, &cli.account, &cli.tenant)?;
            let s = se.session();
            let role = find(&se, &cli.tenant, &target, &|r| {
                matches!(r.state, RoleState::Pending | RoleState::Scheduled)
            })
            .await?;
            let outcome = s.cancel(&role).await?;
            out.outcome(&role, &outcome, s.now(), json);
            Ok(())
        }
        Command::Policy { target, json } => {
            let se = open_account(ctx, &cli.account, &cli.tenant)?;
            let s = se.session();
            let role = find(&se, &cli.tenant, &target, &|_| false).await?;
            let mut role = role;
            role.policy = s.policy(&role).await;
            out.policy(&role, &role.policy, json);
            Ok(())
        }
        Command::History(args) => {
            let open = open_account(ctx, &cli.account, &cli.tenant)?;
            history::run(&open, &cli.tenant, &args, out).await
        }
        Command::Approvals { json } => {
            let open = open_account(ctx, &cli.account, &cli.tenant)?;
            approvals::list(&open, &cli.tenant, json, out).await
        }
        Command::Approve(a) => {
            let open = open_account(ctx, &cli.account, &cli.tenant)?;
            approvals::decide(&open, &a, Decision::Approve, out).await
        }
        Command::Deny(a) => {
            approvals::deny_needs_reason(&a.reason)?; // nothing is read or sent without one
            let open = open_account(ctx, &cli.account, &cli.tenant)?;
            approvals::decide(&open, &a, Decision::Deny, out).await
        }
    };
    done.map(|()| 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_adds_its_own_advice_once() {
        let e = Error::SignInRequired {
            reason: "nobody is signed in".into(),
        };
        let text = format!("{e} {}", cli_hint(&e).unwrap_or_default());
        assert_eq!(text.matches("pim login").count(), 1, "{text}");
        assert!(!text.contains("tray"), "{text}");
        let e = Error::Ambiguous {
            name: "reader".into(),
            candidates: vec!["Global Reader".into(), "Security Reader".into()],
        };
        assert!(
            !e.to_string().contains("--scope"),
            "core names no option: {e}"
        );
        assert!(cli_hint(&e).is_some_and(|h| h.contains("--scope")));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(
            exit_code(&Error::PolicyViolation {
                rules: vec![],
                message: String::new()
            }),
            3
        );
        assert_eq!(
            exit_code(&Error::SignInRequired {
                reason: String::new()
            }),
            4
        );
        assert_eq!(exit_code(&Error::Transport(String::new())), 1);
        assert_eq!(
            exit_code(&Error::Ambiguous {
                name: String::new(),
                candidates: vec![]
            }),
            2
        );
    }
}
