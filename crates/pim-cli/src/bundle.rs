//! `pim bundle save|list|remove`: named sets of roles (pim-accounts' `bundles.json`, shared
//! with the tray), activated with `pim activate --bundle NAME`.

use clap::Subcommand;
use pim_accounts::{Bundle, BundleStore};
use pim_core::{Error, PimDuration, RoleState};
use serde_json::json;

use crate::cli::{Target, parse_duration};
use crate::ctx::{Ctx, open_account};
use crate::output::Out;

/// `pim bundle` actions.
#[derive(Debug, Subcommand)]
pub enum BundleAction {
    /// Save roles under a name (replacing a bundle of that name): each is found like
    /// `pim activate` finds it, among the account's roles, and saved by its identity.
    Save {
        /// Bundle name.
        name: String,
        /// Role, group or Azure role names (case-insensitive; a unique prefix is enough).
        #[arg(required = true, value_name = "ROLE")]
        roles: Vec<String>,
        /// Scope name or id, for each role name.
        #[arg(long)]
        scope: Option<String>,
        /// Justification to send when none is given.
        #[arg(long, visible_alias = "justification", value_name = "TEXT")]
        reason: Option<String>,
        /// Ticket system to send with `--ticket` when none is given.
        #[arg(long, value_name = "S")]
        ticket_system: Option<String>,
        /// Duration to ask for when none is given; cut down to each role's maximum.
        #[arg(long, value_parser = parse_duration)]
        duration: Option<PimDuration>,
    },
    /// List the saved bundles.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a bundle.
    Remove {
        /// Bundle name.
        name: String,
    },
}

/// The bundles of the config folder.
pub fn store(ctx: &Ctx) -> BundleStore {
    BundleStore::new(ctx.store.dir())
}

/// Runs `pim bundle …`.
pub async fn run(
    ctx: &Ctx,
    account: &Option<String>,
    tenant: &Option<String>,
    action: BundleAction,
    out: &Out,
) -> pim_core::Result<()> {
    match action {
        BundleAction::Save {
            name,
            roles,
            scope,
            reason,
            ticket_system,
            duration,
        } => {
            // Refused before anything is read: a bad name, or a damaged file.
            pim_accounts::bundles::check_name(&name)?;
            let store = store(ctx);
            store.load()?;
            let open = open_account(ctx, account, tenant)?;
            open.refresh().await?;
            let mut found = Vec::new();
            let mut errors = Vec::new();
            for n in &roles {
                let target = Target {
                    name: n.clone(),
                    scope: scope.clone(),
                };
                let prefer = |r: &pim_core::Role| r.state == RoleState::Eligible;
                match crate::find::resolve(&open, tenant, &target, &prefer).await {
                    Ok(r) if r.eligibility.is_none() => errors.push(Error::InvalidInput(format!(
                        "{} is assigned to you, not an eligibility: it needs no activation",
                        r.describe()
                    ))),
                    Ok(r) => found.push(r),
                    Err(e) => errors.push(e),
                }
            }
            if !errors.is_empty() {
                for e in &errors {
                    crate::activate::report(e);
                }
                return Err(Error::InvalidInput(format!(
                    "the bundle `{}` was not saved: {} of {} role names do not name one role you \
                     can activate (above)",
                    name.trim(),
                    errors.len(),
                    roles.len()
                )));
            }
            let mut bundle = Bundle::new(&name, &found)?;
            bundle.reason = reason.filter(|r| !r.trim().is_empty());
            bundle.ticket_system = ticket_system.filter(|t| !t.trim().is_empty());
            bundle.duration = duration;
            let count = bundle.roles.len();
            let saved = bundle.name.clone();
            let replaced = store.save(bundle)?;
            outln!(
                "{} bundle `{saved}` with {count} role{}:",
                if replaced {
                    "Replaced the"
                } else {
                    "Saved the"
                },
                if count == 1 { "" } else { "s" }
            );
            for r in store.get(&saved)?.roles {
                outln!("  {}", r.describe());
            }
            Ok(())
        }
        BundleAction::List { json } => {
            let all = store(ctx).load()?;
            if json {
                out.print_json(&all);
                return Ok(());
            }
            if all.is_empty() {
                outln!("No bundles. Save one with `pim bundle save NAME ROLE…`.");
                return Ok(());
            }
            for b in &all {
                let mut what = vec![format!(
                    "{} role{}",
                    b.roles.len(),
                    if b.roles.len() == 1 { "" } else { "s" }
                )];
                if let Some(d) = b.duration {
                    what.push(format!("duration {d}"));
                }
                if let Some(r) = &b.reason {
                    what.push(format!("reason {}", json!(r)));
                }
                if let Some(t) = &b.ticket_system {
                    what.push(format!("ticket system {t}"));
                }
                outln!("{} ({})", b.name, what.join(", "));
                for r in &b.roles {
                    outln!("  {}", r.describe());
                }
            }
            Ok(())
        }
        BundleAction::Remove { name } => {
            let gone = store(ctx).remove(&name)?;
            outln!("Removed the bundle `{}`.", gone.name);
            Ok(())
        }
    }
}
