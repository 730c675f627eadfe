//! [`Auth`]: sign-in, sign-out, accounts, and the [`TokenSource`] for an account.
//!
//! The facade and its shared state live here; the jobs are in the submodules:
//! - `options`: [`AuthOptions`] and the options of each sign-in;
//! - `signin`: browser (auth code + PKCE) and device-code sign-in, Azure CLI accounts, and
//!   the browser step-up;
//! - `tokens`: the per-account [`TokenSource`]: access-token cache, single-flight refresh,
//!   and saving rotated refresh tokens;
//! - `vault`: the stored refresh token: keychain (or memory), the cross-process lock file,
//!   and the check that a token goes only to the endpoints it was issued for.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pim_core::sync::lock;
use pim_core::token::{AccessToken, Resource, TokenSource};
use pim_core::{Error, Result};

use crate::accounts::{Account, AccountStore, CredentialKind};
use crate::azure_cli::AzureCliTokenSource;
use crate::browser::BrowserOpener;
use crate::clock::Clock;
use crate::entra::{self, TokenClient};

mod options;
mod signin;
#[cfg(test)]
mod test_support;
mod tokens;
mod vault;

pub use options::{
    AuthOptions, DEFAULT_LOGIN_TIMEOUT, DeviceCodeCallback, DeviceCodeOptions, DeviceCodePrompt,
    LoginOptions, Prompt, UrlCallback,
};

use tokens::{AccountLock, AccountTokenSource, CacheKey, Flight};
use vault::Vault;

/// Access tokens are renewed this long before they expire.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// `now` plus a token's lifetime, saturating at the last date `time` can represent.
pub(crate) fn expiry(now: time::OffsetDateTime, lifetime: Duration) -> time::OffsetDateTime {
    let secs = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
    now.saturating_add(time::Duration::seconds(secs))
}

/// Whether a token expiring at `expires_on` is still good for [`REFRESH_MARGIN`] at `now`
/// (never overflowing, whatever date the token claims).
pub(crate) fn fresh(expires_on: time::OffsetDateTime, now: time::OffsetDateTime) -> bool {
    let margin = i64::try_from(REFRESH_MARGIN.as_secs()).unwrap_or(i64::MAX);
    expires_on.saturating_sub(time::Duration::seconds(margin)) > now
}

struct Inner {
    client: TokenClient,
    accounts: AccountStore,
    vault: Arc<Vault>,
    /// Rotated refresh tokens being saved in the background (see [`Auth::flush`]).
    saves: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    browser: Arc<dyn BrowserOpener>,
    on_url: Option<UrlCallback>,
    allow_interactive: bool,
    clock: Arc<dyn Clock>,
    login_timeout: Duration,
    cache: Mutex<HashMap<CacheKey, AccessToken>>,
    /// Per account: serialises changes of the stored refresh token (save, delete).
    locks: Mutex<HashMap<String, Arc<AccountLock>>>,
    /// Per (account, tenant, scope, claims): single flight of its refresh.
    flights: Mutex<HashMap<CacheKey, Arc<Flight>>>,
    /// Orders refresh responses by arrival, so the newest rotated refresh token wins.
    rt_seq: AtomicU64,
    /// One browser step-up at a time.
    interactive: tokio::sync::Mutex<()>,
    az_executor: Option<Arc<dyn azure_identity::Executor>>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field(
                "authority",
                &self.client.endpoints().authority_host.as_str(),
            )
            .field("client_id", &self.client.client_id())
            .field("accounts", &self.accounts.path())
            .field("allow_interactive", &self.allow_interactive)
            .field("cached_tokens", &lock(&self.cache).len())
            .finish_non_exhaustive()
    }
}

/// Sign-in for PIM Tray. Cheap to clone (shared state); one per process.
#[derive(Debug, Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

impl Auth {
    /// Creates the sign-in service. Touches neither the disk nor the network; a damaged
    /// `accounts.json` is reported by the calls that read it.
    pub fn new(options: AuthOptions) -> Result<Auth> {
        let http = match options.http {
            Some(h) => h,
            None => entra::default_http_client()?,
        };
        let accounts = AccountStore::new(options.config_dir);
        let lock_dir = accounts.dir().to_owned();
        if let Some(w) = &options.keychain_warning {
            tracing::warn!("{w}");
        }
        Ok(Auth {
            inner: Arc::new(Inner {
                client: TokenClient::new(http, options.endpoints, options.client_id),
                accounts,
                vault: Arc::new(Vault::new(
                    options.secret_store,
                    options.keychain_warning,
                    lock_dir,
                )),
                saves: Mutex::new(Vec::new()),
                browser: options.browser,
                on_url: options.on_url,
                allow_interactive: options.allow_interactive,
                clock: options.clock,
                login_timeout: options.login_timeout,
                cache: Mutex::new(HashMap::new()),
                locks: Mutex::new(HashMap::new()),
                flights: Mutex::new(HashMap::new()),
                rt_seq: AtomicU64::new(0),
                interactive: tokio::sync::Mutex::new(()),
                az_executor: options.az_executor,
            }),
        })
    }

    /// A message for the user when refresh tokens cannot be kept in the OS keychain (they are
    /// then kept in memory for this process only). `None` when the keychain works.
    pub fn keychain_warning(&self) -> Option<String> {
        self.inner.vault.warning()
    }

    /// Waits until the rotated refresh tokens of finished refreshes are in the keychain.
    /// Refreshes save them in the background so callers need not wait for the keychain;
    /// a short-lived process (the CLI) calls this before it exits.
    pub async fn flush(&self) {
        loop {
            let pending: Vec<_> = lock(&self.inner.saves).drain(..).collect();
            if pending.is_empty() {
                return;
            }
            for h in pending {
                if let Err(e) = h.await {
                    tracing::warn!(error = %e, "saving the refresh token failed");
                }
            }
        }
    }

    /// Path of the accounts file.
    pub fn accounts_path(&self) -> PathBuf {
        self.inner.accounts.path()
    }

    /// All accounts in `accounts.json`, sorted by key (including accounts of other clouds or
    /// client ids, which this configuration cannot use).
    pub fn accounts(&self) -> Result<Vec<Account>> {
        Ok(self.inner.accounts.load()?.accounts)
    }

    /// The default account among those usable with this configuration (same cloud, client id
    /// and authority host): the last one signed in or chosen, else the first by user name.
    pub fn default_account(&self) -> Result<Option<Account>> {
        let file = self.inner.accounts.load()?;
        Ok(file
            .default_account(|a| self.inner.usable(a).is_ok())
            .cloned())
    }

    /// The default account of the accounts file, whichever cloud, authority or app
    /// registration it uses (a host that opens every account, like the tray, starts with it).
    pub fn saved_default_account(&self) -> Result<Option<Account>> {
        Ok(self
            .inner
            .accounts
            .load()?
            .default_account(|_| true)
            .cloned())
    }

    /// Makes `account` the default.
    pub fn set_default_account(&self, account: &Account) -> Result<()> {
        let key = account.key();
        let found = self.inner.accounts.update(|f| {
            let found = f.accounts.iter().any(|a| a.key() == key);
            if found {
                f.default_account = Some(key.clone());
            }
            found
        })?;
        if found {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!(
                "{} is not signed in",
                account.upn
            )))
        }
    }

    /// Saves which tenants `account` hides (ids; see [`Account::hidden_tenants`]) and returns
    /// the account as saved. Ids are stored trimmed and in lower case, without duplicates.
    pub fn set_hidden_tenants(&self, account: &Account, ids: Vec<String>) -> Result<Account> {
        let key = account.key();
        let ids = pim_core::normalise_ids(ids);
        let saved = self.inner.accounts.update(|f| {
            let a = f.accounts.iter_mut().find(|a| a.key() == key)?;
            a.hidden_tenants = ids;
            Some(a.clone())
        })?;
        saved.ok_or_else(|| Error::InvalidInput(format!("{} is not signed in", account.upn)))
    }

    /// The tenant lists cached per account in the config folder (`tenants.json`), so a new
    /// process reads every tenant at once (see [`pim_core::SessionOptions::known_tenants`]).
    pub fn tenant_cache(&self) -> crate::TenantCache {
        crate::TenantCache::new(self.inner.accounts.dir())
    }

    /// Signs `account` out: deletes its refresh token (every keychain part), forgets its
    /// access tokens and removes it from `accounts.json` and its cached tenant list. Returns
    /// whether anything was there.
    pub async fn logout(&self, account: &Account) -> Result<bool> {
        let lock = self.inner.account_lock(&account.key());
        let _write = lock.write.lock().await;
        lock.state().epoch += 1;
        let had_token = self
            .inner
            .vault
            .delete(&account.keychain_user())
            .await
            .map_err(|e| {
                Error::Keychain(format!(
                    "cannot delete the saved sign-in of {}: {e}. Unlock the keychain and sign out again",
                    account.upn
                ))
            })?;
        self.inner.forget_access_tokens(&account.key());
        let key = account.key();
        let had_account = self.inner.accounts.update(|f| f.remove(&key))?;
        if let Err(e) = self.tenant_cache().remove(&key) {
            tracing::debug!(error = %e, "cannot update the tenant list");
        }
        tracing::info!(upn = %account.upn, "signed out");
        Ok(had_token || had_account)
    }

    /// Signs every account in `accounts.json` out. Returns the accounts signed out.
    pub async fn logout_all(&self) -> Result<Vec<Account>> {
        let accounts = self.accounts()?;
        for a in &accounts {
            self.logout(a).await?;
        }
        Ok(accounts)
    }

    /// The token source for `account`. Fails with `SignInRequired` at use when the account has
    /// no saved sign-in, or was made with another cloud, client id or authority.
    ///
    /// For [`CredentialKind::AzureCli`] accounts this is an [`AzureCliTokenSource`] (tokens from
    /// `az`, nothing stored).
    pub fn token_source(&self, account: &Account) -> Arc<dyn TokenSource> {
        if account.kind == CredentialKind::AzureCli {
            return Arc::new(self.inner.az_source());
        }
        Arc::new(AccountTokenSource {
            inner: self.inner.clone(),
            account: account.clone(),
        })
    }

    /// The default account and its token source; `SignInRequired` when nobody is signed in.
    pub fn default_token_source(&self) -> Result<(Account, Arc<dyn TokenSource>)> {
        match self.default_account()? {
            Some(a) => {
                let ts = self.token_source(&a);
                Ok((a, ts))
            }
            None => Err(Error::SignInRequired {
                reason: "nobody is signed in".into(),
            }),
        }
    }
}

impl Inner {
    fn az_source(&self) -> AzureCliTokenSource {
        match &self.az_executor {
            Some(x) => AzureCliTokenSource::with_executor(x.clone(), self.clock.clone()),
            None => AzureCliTokenSource::with_clock(self.clock.clone()),
        }
    }

    fn scope(&self, resource: Resource) -> String {
        let e = self.client.endpoints();
        match resource {
            Resource::Graph => e.graph_scope.clone(),
            Resource::Arm => e.arm_scope.clone(),
        }
    }

    fn authority_host(&self) -> String {
        self.client
            .endpoints()
            .authority_host
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    /// Whether this configuration can refresh tokens for `account`.
    fn usable(&self, account: &Account) -> Result<()> {
        let e = self.client.endpoints();
        if account.cloud != e.cloud
            || account.client_id != self.client.client_id()
            || account.authority_host.trim_end_matches('/') != self.authority_host()
        {
            return Err(Error::SignInRequired {
                reason: format!(
                    "{} signed in with another cloud, app registration or authority ({}, {})",
                    account.upn, account.authority_host, account.client_id
                ),
            });
        }
        Ok(())
    }
}
