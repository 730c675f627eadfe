//! Adapts the account layer ([`pim_accounts`]: each open account's pim-core [`Session`]) and
//! pim-auth's sign-in to the shell's [`Engine`] port: snapshots pushed by the sessions are
//! mapped to the view model and forwarded; each engine call is one session (or auth) call.
//!
//! Beside each forwarder runs the session's own schedule ([`Session::keep_current`]): the
//! core re-reads when an activation or a scheduled request reaches its end or start time, and
//! every two minutes while a request waits for an approver (approvals happen elsewhere).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use pim_accounts::{Accounts, EndpointSettings, OpenAccount, OpenSet, Tenants};
use pim_auth::{
    Account, Auth, AuthOptions, CredentialKind, DeviceCodeOptions, DeviceCodePrompt, LoginOptions,
};
use pim_core::config::{Cloud, Endpoints, ProcessEnv};
use pim_core::token::Resource;
use pim_core::{Outcome, Role, Session, StepUpHook};
use time::OffsetDateTime;
use tokio::sync::{Mutex, watch};

use crate::RunOptions;
use crate::dto::ActivationInput;
use crate::engine::{
    AccountEntry, ActivationOutcome, Engine, EngineResult, HistoryList, NewAccountCloud,
};
use crate::settings::Settings;
mod bundle;
mod forward;
mod view_of;

use forward::{Forwarder, Order, sort_accounts};
use view_of::tenant_entries;
pub use view_of::{AZURE_CLI_GRAPH_NOTE, ViewOf, form_view};

use crate::view::{ApprovalView, DeviceCodeView, FormView, Status, TrayModel};

/// Starts the engine (in demo mode, the embedded simulator first, then an automatic sign-in).
pub async fn start(
    options: &RunOptions,
    settings: &Settings,
    config_dir: &Path,
) -> anyhow::Result<Arc<dyn Engine>> {
    let env = ProcessEnv;
    let (sim, auth_options) = if options.demo {
        let sim = crate::demo::start_simulator().await?;
        let base = sim.base_url().to_owned();
        let mut e = Endpoints::for_cloud(Cloud::Public);
        e.authority_host = pim_core::config::parse_base_url("demo authority", &base)?;
        e.graph = e.authority_host.clone();
        e.arm = e.authority_host.clone();
        let client_id = pim_core::config::client_id_from_env(&env);
        let mut o = AuthOptions::new(e, client_id, config_dir.to_owned());
        o.browser = Arc::new(crate::demo::DemoBrowser::new());
        (Some(sim), o)
    } else {
        let e = pim_accounts::endpoints(&env, &endpoint_settings(settings)?)?;
        let client_id = settings
            .client_id
            .clone()
            .unwrap_or_else(|| pim_core::config::client_id_from_env(&env));
        let mut o = AuthOptions::new(e, client_id, config_dir.to_owned());
        o.browser = Arc::new(pim_auth::SystemBrowser::new());
        (None, o)
    };
    let accounts = Accounts::new(auth_options)?;
    if let Some(w) = accounts.keychain_warning() {
        tracing::warn!("{w}");
    }
    let engine = CoreAdapter::new(
        accounts,
        options.demo,
        sim.map(|s| Box::new(s) as Box<dyn std::any::Any + Send + Sync>),
    );
    let first = engine.clone();
    tauri::async_runtime::spawn(async move {
        let result = if first.demo {
            first.sign_in().await
        } else {
            first.resume().await
        };
        if let Err(e) = result {
            tracing::warn!("start-up sign-in: {e}");
            first.set_status(Status::Error(e.to_string()));
        }
    });
    Ok(engine)
}

/// The settings' endpoint choices (the account layer applies the precedence: cloud, then
/// `PIM_*` variables, then these base URLs).
fn endpoint_settings(settings: &Settings) -> pim_core::Result<EndpointSettings> {
    Ok(EndpointSettings {
        cloud: Some(Cloud::parse(&settings.cloud)?),
        authority_host: settings.authority_host.clone(),
        graph: settings.graph_endpoint.clone(),
        arm: settings.arm_endpoint.clone(),
    })
}

/// An open account and the task forwarding its snapshots to the view.
struct Current {
    open: OpenAccount,
    _forward: Forwarder,
}

impl AsRef<OpenAccount> for Current {
    fn as_ref(&self) -> &OpenAccount {
        &self.open
    }
}

/// The engine over pim-core.
pub struct CoreAdapter {
    /// Every account's `Auth` and session (step-up through the browser).
    accounts: Accounts,
    demo: bool,
    /// Open accounts, the default one first; each has its own session and menu sections.
    current: Mutex<OpenSet<Current>>,
    /// Keys of the open accounts in menu order (default first), shared with the forwarders.
    order: Order,
    tx: watch::Sender<TrayModel>,
    progress: watch::Sender<Option<String>>,
    warning: Option<String>,
    /// How activations made here are followed until they work everywhere.
    ready_options: std::sync::Mutex<pim_core::ReadyOptions>,
    /// What must live as long as the engine: the demo simulator's process (tests: an
    /// in-process simulator).
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for CoreAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreAdapter")
            .field("demo", &self.demo)
            .finish_non_exhaustive()
    }
}

/// Interactive step-up through the browser sign-in.
#[derive(Debug)]
struct BrowserStepUp {
    auth: Auth,
    upn: String,
    progress: watch::Sender<Option<String>>,
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
    /// An engine over `accounts`, signed out until [`Engine::sign_in`] (or the start-up
    /// sign-in of [`start`]); `keep` (the demo simulator) is kept running as long as the
    /// engine. Sessions step up through the browser, with progress shown in the activation
    /// window.
    pub fn new(
        accounts: Accounts,
        demo: bool,
        keep: Option<Box<dyn std::any::Any + Send + Sync>>,
    ) -> Arc<CoreAdapter> {
        let warning = accounts.keychain_warning();
        let progress = watch::Sender::new(None);
        let p = progress.clone();
        let accounts = accounts.with_step_up(Arc::new(move |account: &Account, auth: &Auth| {
            Arc::new(BrowserStepUp {
                auth: auth.clone(),
                upn: account.upn.clone(),
                progress: p.clone(),
            }) as Arc<dyn StepUpHook>
        }));
        Arc::new(CoreAdapter {
            accounts,
            demo,
            current: Mutex::new(OpenSet::new()),
            order: Order::default(),
            tx: watch::Sender::new(TrayModel {
                demo,
                status: Status::Loading,
                accounts: Vec::new(),
                skew_seconds: 0,
                warning: warning.clone(),
                device_code: None,
                approvals: Vec::new(),
            }),
            progress,
            warning,
            ready_options: std::sync::Mutex::new(pim_core::ReadyOptions::default()),
            _keep: keep,
        })
    }

    /// How activations made from now on are probed until they work everywhere (tests use
    /// short waits; the default is 10 s growing to 60 s, for 30 minutes).
    pub fn set_ready_options(&self, options: pim_core::ReadyOptions) {
        *pim_core::sync::lock(&self.ready_options) = options;
    }

    fn set_status(&self, status: Status) {
        self.tx.send_if_modified(|m| {
            let changed = m.status != status;
            m.status = status;
            changed
        });
    }

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

    async fn resume(&self) -> EngineResult<()> {
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

    async fn sessions(&self) -> EngineResult<Vec<Session>> {
        let sessions = self.current.lock().await.sessions();
        if sessions.is_empty() {
            return Err(pim_core::Error::SignInRequired {
                reason: "nobody is signed in".into(),
            });
        }
        Ok(sessions)
    }

    /// After an activation made here: active is not yet working everywhere, so the core
    /// follows it until it is ("applying…" then "ready" in the menu, and a notification). The
    /// probes end by themselves (ready, no probe, 30 minutes, or a sign-in needed after the
    /// account went away). Nothing to follow when the role is not active (pending, scheduled).
    fn follow_ready(&self, session: Session, key: &str) {
        let Some(active) = session
            .snapshot()
            .by_key(key)
            .filter(|r| r.state == pim_core::RoleState::Active)
            .cloned()
        else {
            return;
        };
        let options = *pim_core::sync::lock(&self.ready_options);
        tauri::async_runtime::spawn(async move {
            let out = session.follow_ready(&active, options).await;
            tracing::info!(role = %active.describe(), outcome = ?out, "readiness followed");
        });
    }

    /// The role with this key in whichever account has it.
    async fn role(&self, key: &str) -> EngineResult<(Session, Role)> {
        if let Some(found) = self.current.lock().await.role(key) {
            return Ok(found);
        }
        self.sessions().await?;
        Err(pim_core::Error::NotFound {
            name: key.to_owned(),
            hint: "; refresh and try again".into(),
        })
    }
}

fn outcome(o: &Outcome) -> ActivationOutcome {
    match o {
        Outcome::PendingApproval { .. } => ActivationOutcome::Pending,
        Outcome::Scheduled { .. } => ActivationOutcome::Scheduled,
        _ => ActivationOutcome::Active,
    }
}

#[async_trait]
impl Engine for CoreAdapter {
    async fn flush(&self) {
        // Accounts of other clouds or app registrations have their own Auth: all are flushed.
        self.accounts.flush().await;
    }

    fn progress(&self) -> watch::Receiver<Option<String>> {
        self.progress.subscribe()
    }

    fn subscribe(&self) -> watch::Receiver<TrayModel> {
        self.tx.subscribe()
    }

    async fn refresh(&self) -> EngineResult<()> {
        let sessions = self.sessions().await?;
        // Every account at once.
        let mut set = tokio::task::JoinSet::new();
        for s in sessions {
            set.spawn(async move { s.refresh().await.map(|_| ()) });
        }
        let mut first_err = None;
        while let Some(r) = set.join_next().await {
            let r = r.unwrap_or_else(|e| Err(pim_core::Error::Transport(e.to_string())));
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            None => Ok(()),
            Some(e) => {
                self.set_status(Status::Error(e.to_string()));
                Err(e)
            }
        }
    }

    async fn activation_form(&self, key: &str, preferred_minutes: u32) -> EngineResult<FormView> {
        let (session, role) = self.role(key).await?;
        let policy = session.policy(&role).await;
        Ok(form_view(
            view_of::role_view(&role, None),
            &policy,
            preferred_minutes,
        ))
    }

    async fn activate(&self, input: ActivationInput) -> EngineResult<ActivationOutcome> {
        let (session, role) = self.role(&input.key).await?;
        let r = session.activate(&role, input.to_request()).await;
        self.progress.send_replace(None);
        let r = r?;
        self.follow_ready(session, &input.key);
        Ok(outcome(&r))
    }

    async fn activate_again(&self, key: &str) -> EngineResult<ActivationOutcome> {
        let (session, role) = self.role(key).await?;
        let r = session.activate_again(&role).await;
        self.progress.send_replace(None);
        let r = r?;
        self.follow_ready(session, key);
        Ok(outcome(&r))
    }

    async fn bundle_form(
        &self,
        bundle: &pim_accounts::bundles::Bundle,
        preferred_minutes: u32,
    ) -> EngineResult<crate::bundle::BundleFormView> {
        self.bundle_form_of(bundle, preferred_minutes).await
    }

    async fn activate_bundle(
        &self,
        bundle: &pim_accounts::bundles::Bundle,
        input: ActivationInput,
        only: Option<Vec<String>>,
    ) -> EngineResult<Vec<crate::bundle::BundleRoleResult>> {
        self.activate_bundle_of(bundle, input, only).await
    }

    async fn deactivate(&self, key: &str) -> EngineResult<()> {
        let (session, role) = self.role(key).await?;
        session.deactivate(&role).await.map(|_| ())
    }

    async fn extend(&self, key: &str) -> EngineResult<()> {
        let (session, role) = self.role(key).await?;
        // The core's extend rule picks the duration (the length the activation ran, within
        // the policy) and keeps the previous justification and ticket.
        session
            .extend(&role, pim_core::ActivationRequest::default())
            .await
            .map(|_| ())
    }

    async fn cancel(&self, key: &str) -> EngineResult<()> {
        let (session, role) = self.role(key).await?;
        session.cancel(&role).await.map(|_| ())
    }

    async fn sign_in(&self) -> EngineResult<()> {
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
                self.sign_in_with_code().await
            }
            r => self.opened_or_restored("signed in", r, before).await,
        }
    }

    async fn sign_in_with_code(&self) -> EngineResult<()> {
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

    fn accounts(&self) -> EngineResult<Vec<AccountEntry>> {
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

    async fn use_account(&self, key: &str) -> EngineResult<()> {
        let account = self.account(key)?;
        self.accounts.auth().set_default_account(&account)?;
        self.open(account).await
    }

    async fn remove_account(&self, key: &str) -> EngineResult<()> {
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

    async fn add_account(&self, cloud: NewAccountCloud) -> EngineResult<()> {
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

    async fn set_tenant_shown(&self, key: &str, tenant_id: &str, shown: bool) -> EngineResult<()> {
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

    async fn active_roles(&self) -> EngineResult<Vec<Role>> {
        let sessions = self.sessions().await?;
        Ok(sessions
            .iter()
            .flat_map(|s| {
                s.snapshot()
                    .roles()
                    .filter(|r| {
                        r.state == pim_core::RoleState::Active
                            && r.assignment.as_ref().is_some_and(|a| a.is_activation())
                    })
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    async fn history(&self, since: OffsetDateTime) -> EngineResult<HistoryList> {
        let open: Vec<(String, Session)> = self
            .current
            .lock()
            .await
            .iter()
            .map(|c| (c.open.account().upn.clone(), c.open.session().clone()))
            .collect();
        if open.is_empty() {
            return Err(pim_core::Error::SignInRequired {
                reason: "nobody is signed in".into(),
            });
        }
        // Every account at once; one that cannot be read is a warning, unless none could.
        let reads = futures::future::join_all(open.iter().map(|(_, s)| s.history(since))).await;
        let mut list = HistoryList::default();
        let mut first_err = None;
        let several = open.len() > 1;
        for ((upn, _), r) in open.iter().zip(reads) {
            let who = |t: &str| {
                if several {
                    format!("{upn}, {t}")
                } else {
                    t.to_owned()
                }
            };
            match r {
                Ok(h) => {
                    list.entries.extend(h.entries);
                    for t in h.tenants {
                        let name = who(&t.tenant.display_name);
                        if let Some(e) = t.error {
                            list.warnings.push(format!("{name}: {}", e.message));
                        }
                        list.warnings
                            .extend(t.warnings.iter().map(|w| format!("{name}: {w}")));
                    }
                }
                Err(e) => {
                    list.warnings.push(format!("{upn}: {e}"));
                    first_err.get_or_insert(e);
                }
            }
        }
        if list.entries.is_empty()
            && let Some(e) = first_err
            && open.len() == 1
        {
            return Err(e);
        }
        list.entries.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.tenant_id.cmp(&b.tenant_id))
                .then_with(|| a.request_id.cmp(&b.request_id))
        });
        Ok(list)
    }

    async fn sign_out(&self) -> EngineResult<()> {
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

    async fn read_approvals(&self) -> EngineResult<()> {
        let open: Vec<(String, String, Session)> = self
            .current
            .lock()
            .await
            .iter()
            .map(|c| {
                let a = c.open.account();
                (a.key(), a.upn.clone(), c.open.session().clone())
            })
            .collect();
        // Every account at once; each one's tenants in parallel (the core).
        let reads = futures::future::join_all(open.iter().map(|(_, _, s)| s.approvals())).await;
        let mut items = Vec::new();
        let mut failed: Vec<&str> = Vec::new();
        let mut first_err = None;
        for ((key, upn, _), r) in open.iter().zip(reads) {
            match r {
                Ok(inbox) => {
                    for t in &inbox.tenants {
                        let name = &t.tenant.display_name;
                        if let Some(e) = &t.error {
                            tracing::warn!(%upn, tenant = %name, "approvals: {}", e.message);
                        }
                        for w in &t.warnings {
                            tracing::warn!(%upn, tenant = %name, "approvals: {w}");
                        }
                    }
                    items.extend(inbox.items.into_iter().map(|item| ApprovalView {
                        account: key.clone(),
                        upn: upn.clone(),
                        item,
                    }));
                }
                Err(e) => {
                    tracing::warn!(%upn, "approvals: {e}");
                    failed.push(key);
                    first_err.get_or_insert(e);
                }
            }
        }
        let open_keys: Vec<&str> = open.iter().map(|(k, _, _)| k.as_str()).collect();
        self.tx.send_if_modified(|m| {
            // An account that could not be read keeps what it showed; closed ones go.
            let kept = m
                .approvals
                .iter()
                .filter(|a| failed.contains(&a.account.as_str()))
                .cloned();
            let mut next: Vec<ApprovalView> = items.iter().cloned().chain(kept).collect();
            next.retain(|a| open_keys.contains(&a.account.as_str()));
            crate::approvals::oldest_first(&mut next);
            // Two accounts approving in the same tenant see the same request: listed once,
            // decided by the first.
            next.dedup_by(|b, a| a.id() == b.id());
            let changed = m.approvals != next;
            m.approvals = next;
            changed
        });
        match first_err {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    async fn decide(
        &self,
        id: &str,
        decision: pim_core::Decision,
        justification: Option<String>,
    ) -> EngineResult<()> {
        let account = self.tx.borrow().approval(id).map(|a| a.account.clone());
        let Some(account) = account else {
            return Err(pim_core::Error::InvalidState {
                message: "this request is no longer in your approver's inbox: it was decided \
                          or withdrawn meanwhile (the menu shows the inbox now)"
                    .into(),
            });
        };
        let session = self
            .current
            .lock()
            .await
            .get(&account)
            .map(|c| c.open.session().clone())
            .ok_or_else(|| pim_core::Error::SignInRequired {
                reason: "the account that sees this request is signed out".into(),
            })?;
        session.decide(id, decision, justification).await?;
        tracing::info!(decision = decision.as_str(), "approval decided");
        self.tx
            .send_modify(|m| m.approvals.retain(|a| a.id() != id));
        Ok(())
    }
}
