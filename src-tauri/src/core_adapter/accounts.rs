//! Sign-in and the open accounts: the browser step-up, the sign-ins (browser, device code,
//! Azure CLI), opening and closing an account's session with its forwarder, and what the
//! settings window does with accounts (list, default, add, remove, tenants shown).

use std::sync::Arc;

use async_trait::async_trait;
use pim_accounts::Tenants;
use pim_auth::{Account, Auth, CredentialKind, DeviceCodeOptions, DeviceCodePrompt, LoginOptions};
use pim_core::StepUpHook;
use pim_core::config::ProcessEnv;
use pim_core::token::Resource;
use tokio::sync::watch;

use super::forward::{Forwarder, sort_accounts};
use super::view_of::tenant_entries;
use super::{CoreAdapter, Current, ViewOf};
use crate::engine::{AccountEntry, EngineResult, NewAccountCloud};
use crate::view::{DeviceCodeView, Status, TrayModel};

/// Interactive step-up through the browser sign-in.
#[derive(Debug)]
pub(super) struct BrowserStepUp {
    pub(super) auth: Auth,
    pub(super) upn: String,
    pub(super) progress: watch::Sender<Option<String>>,
}

/// What the activation window says while the browser asks for more verification.
pub const STEP_UP_MESSAGE: &str = "Additional verification: complete the sign-in in your browser…";

#[async_trait]
impl StepUpHook for BrowserStepUp {
    async fn step_up(
        &self,
        tenant_id: &str,
        resource: Resource,
        claims: &str,
    ) -> pim_core::Result<()> {
        self.progress.send_replace(Some(STEP_UP_MESSAGE.to_owned()));
        let r = self
            .auth
            .login_interactive(LoginOptions {
                tenant: Some(tenant_id.to_owned()),
                login_hint: Some(self.upn.clone()),
                resource: Some(resource),
                claims: Some(claims.to_owned()),
                ..LoginOptions::default()
            })
            .await
            .map(|_| ());
        self.progress.send_replace(Some(match &r {
            Ok(()) => "Verified in the browser.".to_owned(),
            Err(_) => "The browser verification did not complete.".to_owned(),
        }));
        r
    }
}

impl CoreAdapter {
    /// Runs a sign-in with the status on Loading, then opens the account it gives; a failed
    /// sign-in puts the status back as it was.
    async fn signing_in(
        &self,
        what: &str,
        login: impl std::future::Future<Output = EngineResult<Account>>,
    ) -> EngineResult<()> {
        let before = self.tx.borrow().status.clone();
        self.set_status(Status::Loading);
        let r = login.await;
        self.opened_or_restored(what, r, before).await
    }

    /// Opens the account of a sign-in that succeeded; otherwise restores `before`.
    async fn opened_or_restored(
        &self,
        what: &str,
        r: EngineResult<Account>,
        before: Status,
    ) -> EngineResult<()> {
        match r {
            Ok(account) => {
                tracing::info!(upn = %account.upn, cloud = account.cloud.as_str(), "{what}");
                self.open(account).await
            }
            Err(e) => {
                self.set_status(before);
                Err(e)
            }
        }
    }

    pub(super) async fn resume(&self) -> EngineResult<()> {
        // The saved default, whichever cloud or app registration it signs in with (as in the
        // CLI); each account gets its own `Auth` in `open_at`.
        let mut saved = self.accounts.saved()?.into_iter();
        let Some(default) = saved.next() else {
            self.set_status(Status::SignedOut);
            return Ok(());
        };
        let others: Vec<Account> = saved.collect();
        self.open(default).await?;
        // The other saved accounts get their own sections; one that cannot be read says so
        // in the log and stays listed in Settings.
        for a in others {
            let upn = a.upn.clone();
            if let Err(e) = self.open_more(a).await {
                tracing::warn!(%upn, "cannot open the account: {e}");
            }
        }
        Ok(())
    }

    /// Opens an additional account after the default one (order kept).
    async fn open_more(&self, account: Account) -> EngineResult<()> {
        self.open_at(account, false).await
    }

    fn account(&self, key: &str) -> EngineResult<Account> {
        self.accounts
            .auth()
            .accounts()?
            .into_iter()
            .find(|a| a.key() == key)
            .ok_or_else(|| pim_core::Error::NotFound {
                name: key.to_owned(),
                hint: "; the account list changed, reopen Settings".into(),
            })
    }

    /// Opens `account` as the default (first) account.
    async fn open(&self, account: Account) -> EngineResult<()> {
        self.open_at(account, true).await
    }

    async fn open_at(&self, account: Account, first: bool) -> EngineResult<()> {
        if self.tx.borrow().accounts.is_empty() {
            self.set_status(Status::Loading);
        }
        let open = self.accounts.open(account, Tenants::Shown)?;
        let account = open.account().clone();
        let key = account.key();
        {
            let mut current = self.current.lock().await;
            let forward = Forwarder::spawn(
                self.order.clone(),
                self.warning.clone(),
                open.session().clone(),
                ViewOf {
                    key: key.clone(),
                    upn: account.upn.clone(),
                    azure_cli: account.kind == CredentialKind::AzureCli,
                    demo: self.demo,
                },
                self.tx.clone(),
            );
            // Reopening an account replaces its session (and drops its forwarder).
            current.insert(
                Current {
                    open: open.clone(),
                    _forward: forward,
                },
                first,
            );
            *pim_core::sync::lock(&self.order) = current.keys();
            let order = self.order.clone();
            self.tx.send_if_modified(|m| {
                let before: Vec<String> = m.accounts.iter().map(|a| a.key.clone()).collect();
                sort_accounts(m, &order);
                before != m.accounts.iter().map(|a| a.key.clone()).collect::<Vec<_>>()
            });
        }
        open.refresh().await?;
        Ok(())
    }

    /// Drops an account's session and its menu sections; `SignedOut` when none is left.
    async fn close(&self, key: &str) -> Option<Current> {
        let mut current = self.current.lock().await;
        let c = current.remove(key)?;
        let empty = current.is_empty();
        *pim_core::sync::lock(&self.order) = current.keys();
        self.tx.send_modify(|m| {
            m.accounts.retain(|a| a.key != key);
            m.approvals.retain(|a| a.account != key);
            if empty {
                m.status = Status::SignedOut;
                m.skew_seconds = 0;
            }
        });
        Some(c)
    }

    /// [`Engine::sign_in`](crate::engine::Engine::sign_in): the browser, else a device code.
    pub(super) async fn browser_sign_in(&self) -> EngineResult<()> {
        let before = self.tx.borrow().status.clone();
        self.set_status(Status::Loading);
        match self
            .accounts
            .auth()
            .login_interactive(LoginOptions::default())
            .await
        {
            // No browser can be started here: fall back to a device code, shown in the menu.
            Err(e @ pim_core::Error::BrowserUnavailable { .. }) => {
                tracing::warn!("{e}; signing in with a code instead");
                self.device_code_sign_in().await
            }
            r => self.opened_or_restored("signed in", r, before).await,
        }
    }

    /// [`Engine::sign_in_with_code`](crate::engine::Engine::sign_in_with_code).
    pub(super) async fn device_code_sign_in(&self) -> EngineResult<()> {
        let before = self.tx.borrow().status.clone();
        self.set_status(Status::Loading);
        let tx = self.tx.clone();
        let on_prompt: pim_auth::DeviceCodeCallback = Arc::new(move |p: &DeviceCodePrompt| {
            let dc = DeviceCodeView {
                verification_uri: p.verification_uri.clone(),
                user_code: p.user_code.clone(),
            };
            tx.send_modify(|m| m.device_code = Some(dc));
        });
        let r = self
            .accounts
            .auth()
            .login_device_code(DeviceCodeOptions {
                on_prompt: Some(on_prompt),
                ..DeviceCodeOptions::default()
            })
            .await;
        self.tx.send_modify(|m| m.device_code = None);
        self.opened_or_restored("signed in with a code", r, before)
            .await
    }

    /// [`Engine::accounts`](crate::engine::Engine::accounts): the saved accounts, default first.
    pub(super) fn account_entries(&self) -> EngineResult<Vec<AccountEntry>> {
        // The default account is the first open one; open accounts know their tenants.
        let open: Vec<(String, Option<Vec<pim_core::Tenant>>, Vec<String>)> = self
            .current
            .try_lock()
            .map(|c| {
                c.iter()
                    .map(|c| {
                        (
                            c.open.key(),
                            c.open.session().tenant_list(),
                            c.open.session().hidden_tenants(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let current = open.first().map(|(k, _, _)| k.clone());
        let mut list: Vec<AccountEntry> = self
            .accounts
            .auth()
            .accounts()?
            .into_iter()
            .map(|a| {
                let key = a.key();
                let tenants = match open.iter().find(|(k, _, _)| *k == key) {
                    Some((_, Some(list), hidden)) => tenant_entries(list, hidden),
                    _ => Vec::new(),
                };
                AccountEntry {
                    current: current.as_deref() == Some(key.as_str()),
                    key,
                    upn: a.upn,
                    cloud: a.cloud.as_str().to_owned(),
                    azure_cli: a.kind == CredentialKind::AzureCli,
                    tenants,
                }
            })
            .collect();
        list.sort_by(|a, b| b.current.cmp(&a.current).then(a.upn.cmp(&b.upn)));
        Ok(list)
    }

    /// [`Engine::use_account`](crate::engine::Engine::use_account).
    pub(super) async fn make_default(&self, key: &str) -> EngineResult<()> {
        let account = self.account(key)?;
        self.accounts.auth().set_default_account(&account)?;
        self.open(account).await
    }

    /// [`Engine::remove_account`](crate::engine::Engine::remove_account).
    pub(super) async fn remove(&self, key: &str) -> EngineResult<()> {
        let account = self.account(key)?;
        let was_default = self
            .current
            .lock()
            .await
            .first()
            .is_some_and(|c| c.open.key() == key);
        let auth = self.accounts.auth_for(&account)?;
        // The token goes first: the menu shows the account gone only once its refresh
        // token is deleted (a keychain failure leaves the account open, with the error).
        auth.logout(&account).await?;
        self.close(key).await;
        if was_default {
            // The next open account becomes the default.
            let next = self
                .current
                .lock()
                .await
                .first()
                .map(|c| c.open.account().clone());
            if let Some(next) = next {
                self.accounts.auth().set_default_account(&next)?;
            }
        }
        Ok(())
    }

    /// [`Engine::add_account`](crate::engine::Engine::add_account).
    pub(super) async fn add(&self, cloud: NewAccountCloud) -> EngineResult<()> {
        let base = self.accounts.auth();
        let auth = match cloud {
            NewAccountCloud::AzureCli => {
                return self
                    .signing_in("Azure CLI account added", base.login_azure_cli(None))
                    .await;
            }
            // The configured endpoints (settings, `PIM_*`, the demo simulator).
            NewAccountCloud::Custom => base.clone(),
            // A cloud chosen by name: its hosts, with the `PIM_*` overrides as always.
            NewAccountCloud::Cloud(c) => self.accounts.auth_with(
                pim_accounts::endpoints_in(c, &ProcessEnv)?,
                &self.accounts.options().client_id,
            )?,
        };
        self.signing_in(
            "account added",
            auth.login_interactive(LoginOptions::default()),
        )
        .await
    }

    /// [`Engine::set_tenant_shown`](crate::engine::Engine::set_tenant_shown).
    pub(super) async fn show_tenant(
        &self,
        key: &str,
        tenant_id: &str,
        shown: bool,
    ) -> EngineResult<()> {
        let mut open = self
            .current
            .lock()
            .await
            .get(key)
            .map(|c| c.open.clone())
            .ok_or_else(|| pim_core::Error::NotFound {
                name: key.to_owned(),
                hint: "; the account is not open, reopen Settings".into(),
            })?;
        let id = vec![tenant_id.to_owned()];
        let (hide, show) = if shown {
            (Vec::new(), id)
        } else {
            (id, Vec::new())
        };
        open.set_tenants_shown(&hide, &show)
            .await
            .map_err(|e| match e {
                pim_core::Error::InvalidInput(m) if m.contains("does not reach") => {
                    pim_core::Error::InvalidInput(format!("{m}; reopen Settings"))
                }
                e => e,
            })?;
        if let Some(c) = self.current.lock().await.get_mut(key) {
            c.open = open.clone();
        }
        if shown {
            open.refresh().await?;
        }
        Ok(())
    }

    /// [`Engine::sign_out`](crate::engine::Engine::sign_out): every open account.
    pub(super) async fn sign_out_all(&self) -> EngineResult<()> {
        let current = self.current.lock().await.take_all();
        for c in current {
            c.open.auth().logout(c.open.account()).await?;
        }
        self.tx.send_replace(TrayModel {
            demo: self.demo,
            status: Status::SignedOut,
            accounts: Vec::new(),
            skew_seconds: 0,
            warning: self.warning.clone(),
            device_code: None,
            approvals: Vec::new(),
        });
        Ok(())
    }
}
