//! The per-process context: the account layer with the CLI's step-up (the browser), the
//! accounts file, the account a command selects (`--account`) and opening it.

use std::sync::Arc;

use async_trait::async_trait;
use pim_accounts::{Accounts, OpenAccount, Tenants};
use pim_auth::accounts::{AccountStore, AccountsFile};
use pim_auth::{Account, Auth, AuthOptions};
use pim_core::config::{Cloud, Env, ProcessEnv};
use pim_core::token::Resource;
use pim_core::{Error, StepUpHook};

/// Per-process context: the options from the environment (one keychain store for all
/// accounts), the accounts file, and every `Auth` made (flushed before exiting).
pub struct Ctx {
    pub accounts: Accounts,
    pub store: AccountStore,
}

impl Ctx {
    pub fn new() -> pim_core::Result<Ctx> {
        let env: Arc<dyn Env> = Arc::new(ProcessEnv);
        let mut base = AuthOptions::from_env(env)?;
        base.on_url = Some(Arc::new(|url: &str| {
            errln!("Opening the sign-in page. If no browser opens, visit:\n  {url}");
        }));
        base.allow_interactive = true;
        if let Some(w) = &base.keychain_warning {
            errln!("warning: {w}");
        }
        // Printed once above; the `Auth`s made below must not log it again.
        base.keychain_warning = None;
        let store = AccountStore::new(base.config_dir.clone());
        let accounts = Accounts::new(base)?.with_step_up(Arc::new(|_: &Account, _: &Auth| {
            Arc::new(BrowserStepUp) as Arc<dyn StepUpHook>
        }));
        Ok(Ctx { accounts, store })
    }

    /// An `Auth` for new sign-ins in `cloud` (its hosts, overridden by PIM_* as always).
    pub fn login_auth(&self, cloud: Option<Cloud>) -> pim_core::Result<Auth> {
        match cloud {
            Some(c) => self.accounts.auth_with(
                pim_accounts::endpoints_in(c, &ProcessEnv)?,
                &self.accounts.options().client_id,
            ),
            None => Ok(self.accounts.auth().clone()),
        }
    }

    pub fn accounts(&self) -> pim_core::Result<AccountsFile> {
        self.store.load()
    }

    /// The account named by `--account` (user name or number), else the default one.
    pub fn select(&self, which: &Option<String>) -> pim_core::Result<Account> {
        let file = self.accounts()?;
        match which {
            Some(q) => pick(&file, q),
            None => file
                .default_account(|_| true)
                .cloned()
                .ok_or_else(|| Error::SignInRequired {
                    reason: "nobody is signed in".into(),
                }),
        }
    }
}

/// An account by user name (case-insensitive) or by its number (1-based, `pim accounts` order).
pub fn pick(file: &AccountsFile, q: &str) -> pim_core::Result<Account> {
    if let Ok(n) = q.trim().parse::<usize>() {
        return n
            .checked_sub(1)
            .and_then(|i| file.accounts.get(i))
            .cloned()
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "there is no account number {n}; see `pim accounts`"
                ))
            });
    }
    let found: Vec<&Account> = file
        .accounts
        .iter()
        .filter(|a| a.upn.eq_ignore_ascii_case(q.trim()))
        .collect();
    match found.as_slice() {
        [a] => Ok((*a).clone()),
        [] => Err(Error::InvalidInput(format!(
            "no account `{q}`; see `pim accounts`"
        ))),
        _ => Err(Error::InvalidInput(format!(
            "several accounts are `{q}` (other clouds or sign-in kinds); use the number from `pim accounts`"
        ))),
    }
}

/// Lets the session retry a write with claims; the token source (interactive allowed) then
/// opens the browser for the step-up.
#[derive(Debug)]
struct BrowserStepUp;

#[async_trait]
impl StepUpHook for BrowserStepUp {
    async fn step_up(
        &self,
        _tenant_id: &str,
        resource: Resource,
        _claims: &str,
    ) -> pim_core::Result<()> {
        errln!("{resource} asks for additional verification; opening the browser…");
        Ok(())
    }
}

/// The selected account, open, starting from the cached tenant list (if any) so the first
/// refresh reads every tenant at once. The account's hidden tenants are not read, unless
/// `--tenant` names a tenant explicitly.
pub fn open_account(
    ctx: &Ctx,
    which: &Option<String>,
    tenant: &Option<String>,
) -> pim_core::Result<OpenAccount> {
    let account = ctx.select(which)?;
    let tenants = match tenant {
        None => Tenants::Shown,
        Some(_) => Tenants::All,
    };
    ctx.accounts.open(account, tenants)
}
