//! The account layer of PIM Tray, shared by the CLI (`pim`) and the tray: everything
//! between "these accounts are signed in" (pim-auth) and "this account's roles" (pim-core's
//! [`Session`]).
//!
//! - [`Accounts`]: one per process. It makes the [`Auth`] that fits an account (its cloud,
//!   endpoints and app registration; the base one is reused when they match) and opens an
//!   account's session ([`Accounts::open`]) with the step-up hook (unless the account signs
//!   in through the Azure CLI, which cannot take a claims request from us), the tenants found
//!   last time (the tenant cache) and the account's hidden tenants.
//! - [`OpenAccount`]: an open account: its [`Session`], refreshed through
//!   [`OpenAccount::refresh`], which saves the tenant cache when the tenant list changed;
//!   [`OpenAccount::set_tenants_shown`] hides or shows tenants (saved with the account).
//! - [`OpenSet`]: the ordered set of open accounts, the default first (the tray's menu order).
//! - [`endpoints`] and [`endpoints_in`]: which service hosts an account uses (the precedence
//!   of cloud, `PIM_*` variables and settings).
//! - [`bundles`]: named sets of roles activated together ([`BundleStore`], `bundles.json`),
//!   saved by the roles' stable identities.
//!
//! Invariants:
//! - An account's session always uses that account's own [`Auth`] (tokens of one cloud or
//!   app registration are never sent to another's hosts).
//! - The tenant cache is written only after a refresh that found a different tenant list.
//! - Hidden tenants are validated against the tenant list before they are saved; hiding
//!   every tenant is refused (pim-core's [`pim_core::hidden_tenants_after`]).
//! - Messages name no front end; each face adds its own advice.

pub mod bundles;
mod endpoints;
mod open;
mod set;

use std::sync::{Arc, Mutex};

use pim_auth::{Account, Auth, AuthOptions, CredentialKind};
use pim_core::config::Endpoints;
use pim_core::{Error, Result, Session, SessionOptions, StepUpHook};

pub use bundles::{Bundle, BundleRole, BundleStore};
pub use endpoints::{EndpointSettings, endpoints, endpoints_in};
pub use open::{OpenAccount, graph_unreadable};
pub use set::OpenSet;

/// Makes the step-up hook of an account's session (each face prompts in its own way): called
/// with the account and the [`Auth`] its session uses.
pub type StepUpFactory = Arc<dyn Fn(&Account, &Auth) -> Arc<dyn StepUpHook> + Send + Sync>;

/// Which tenants an opened session reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tenants {
    /// Every tenant but the account's hidden ones.
    Shown,
    /// Every tenant, hidden ones too (e.g. the CLI's `--tenant NAME` names one explicitly).
    All,
}

/// The accounts of one process: makes each account's [`Auth`] and opens its session.
pub struct Accounts {
    base: AuthOptions,
    auth: Auth,
    /// Every other `Auth` made (another cloud or app registration), reused for the same
    /// endpoints and client id, and flushed by [`Accounts::flush`].
    made: Mutex<Vec<(Endpoints, String, Auth)>>,
    step_up: Option<StepUpFactory>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("base", &self.base)
            .field("step_up", &self.step_up.is_some())
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// The accounts kept in `base.config_dir`, signed in with `base`'s endpoints and client
    /// id unless an account stored its own.
    pub fn new(base: AuthOptions) -> Result<Accounts> {
        let auth = Auth::new(base.clone())?;
        Ok(Accounts {
            base,
            auth,
            made: Mutex::new(Vec::new()),
            step_up: None,
        })
    }

    /// Sessions opened from now on get a step-up hook from `factory` (accounts that sign in
    /// through the Azure CLI excepted).
    pub fn with_step_up(mut self, factory: StepUpFactory) -> Accounts {
        self.step_up = Some(factory);
        self
    }

    /// The `Auth` of the base options (new sign-ins, the account list, the default account).
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The base options.
    pub fn options(&self) -> &AuthOptions {
        &self.base
    }

    /// The base endpoints (the process's cloud and `PIM_*` overrides).
    pub fn endpoints(&self) -> &Endpoints {
        &self.base.endpoints
    }

    /// A warning to show once: the keychain is not usable and tokens stay in memory.
    pub fn keychain_warning(&self) -> Option<String> {
        self.auth.keychain_warning()
    }

    /// An `Auth` with these endpoints and client id: the base one when they match, else one
    /// made once and reused.
    pub fn auth_with(&self, endpoints: Endpoints, client_id: &str) -> Result<Auth> {
        if endpoints == self.base.endpoints && client_id == self.base.client_id {
            return Ok(self.auth.clone());
        }
        let mut made = pim_core::sync::lock(&self.made);
        if let Some((_, _, a)) = made
            .iter()
            .find(|(e, c, _)| *e == endpoints && c == client_id)
        {
            return Ok(a.clone());
        }
        let mut o = self.base.clone();
        o.endpoints = endpoints.clone();
        o.client_id = client_id.to_owned();
        // The base `Auth` has reported a keychain warning already.
        o.keychain_warning = None;
        let auth = Auth::new(o)?;
        made.push((endpoints, client_id.to_owned(), auth.clone()));
        Ok(auth)
    }

    /// An `Auth` that works with `account`: its stored cloud, endpoints and app registration.
    pub fn auth_for(&self, account: &Account) -> Result<Auth> {
        let endpoints = account.endpoints(Some(&self.base.endpoints))?;
        self.auth_with(endpoints, &account.client_id)
    }

    /// The saved accounts, the default one first, then the others in the order they were
    /// added.
    pub fn saved(&self) -> Result<Vec<Account>> {
        let mut list = self.auth.accounts()?;
        if let Some(d) = self.auth.saved_default_account()?
            && let Some(i) = list.iter().position(|a| a.key() == d.key())
        {
            let d = list.remove(i);
            list.insert(0, d);
        }
        Ok(list)
    }

    /// The saved account with this key.
    pub fn account(&self, key: &str) -> Result<Account> {
        self.auth
            .accounts()?
            .into_iter()
            .find(|a| a.key() == key)
            .ok_or_else(|| Error::NotFound {
                name: key.to_owned(),
                hint: "; the account list changed".into(),
            })
    }

    /// Opens `account`'s session (not read yet: call [`OpenAccount::refresh`]).
    pub fn open(&self, account: Account, tenants: Tenants) -> Result<OpenAccount> {
        let auth = self.auth_for(&account)?;
        let endpoints = account.endpoints(Some(&self.base.endpoints))?;
        let mut opts = SessionOptions::new(
            endpoints,
            auth.token_source(&account),
            account.home_tenant_id.clone(),
        );
        // The Azure CLI cannot take a claims request from us: its accounts get the step-up
        // error with the `az login --claims-challenge` command instead of a prompt.
        if account.kind != CredentialKind::AzureCli
            && let Some(f) = &self.step_up
        {
            opts.step_up = Some(f(&account, &auth));
        }
        if tenants == Tenants::Shown {
            opts.hidden_tenants = account.hidden_tenants.clone();
        }
        // The tenants found last time (by the tray or the CLI): the first refresh reads them
        // all at once while it re-checks the list.
        let cache = auth.tenant_cache();
        opts.known_tenants = cache.load(&account.key());
        Ok(OpenAccount::new(account, auth, Session::new(opts), cache))
    }

    /// Saves refresh tokens still being written (call before the process exits).
    pub async fn flush(&self) {
        self.auth.flush().await;
        let made: Vec<Auth> = pim_core::sync::lock(&self.made)
            .iter()
            .map(|(_, _, a)| a.clone())
            .collect();
        for a in made {
            a.flush().await;
        }
    }
}

#[cfg(test)]
mod tests;
