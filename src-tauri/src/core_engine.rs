//! Adapts pim-core's [`Session`] and pim-auth's sign-in to the shell's [`Engine`] port:
//! snapshots pushed by the session are mapped to the view model and forwarded; each engine
//! call is one session (or auth) call.
//!
//! Beside each forwarder runs the session's own schedule ([`Session::keep_current`]): the
//! core re-reads when an activation or a scheduled request reaches its end or start time, and
//! every two minutes while a request waits for an approver (approvals happen elsewhere).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use pim_auth::{
    Account, Auth, AuthOptions, CredentialKind, DeviceCodeOptions, DeviceCodePrompt, LoginOptions,
};
use pim_core::config::{Endpoints, Env, ProcessEnv};
use pim_core::token::Resource;
use pim_core::{Outcome, Role, Session, SessionOptions, Snapshot, StepUpHook};
use time::OffsetDateTime;
use tokio::sync::{Mutex, watch};
use tokio_util::sync::CancellationToken;

use crate::RunOptions;
use crate::dto::ActivationInput;
use crate::engine::{AccountEntry, ActivationOutcome, Engine, EngineResult, NewAccountCloud};
use crate::settings::Settings;
use crate::view::{
    AccountView, DeviceCodeView, FormView, PolicyView, RoleKind, RoleState, RoleView, Status,
    TenantView, TrayModel,
};

/// Starts the engine (in demo mode, the embedded simulator first, then an automatic sign-in).
pub async fn start(
    options: &RunOptions,
    settings: &Settings,
    config_dir: &Path,
) -> anyhow::Result<Arc<dyn Engine>> {
    let env = ProcessEnv;
    let (endpoints, sim, auth_options) = if options.demo {
        let sim = crate::demo::start_simulator().await?;
        let base = sim.base_url().to_owned();
        let mut e = Endpoints::for_cloud(pim_core::config::Cloud::Public);
        e.authority_host = pim_core::config::parse_base_url("demo authority", &base)?;
        e.graph = e.authority_host.clone();
        e.arm = e.authority_host.clone();
        let client_id = pim_core::config::client_id_from_env(&env);
        let mut o = AuthOptions::new(e.clone(), client_id, config_dir.to_owned());
        o.browser = Arc::new(crate::demo::DemoBrowser::new());
        (e, Some(sim), o)
    } else {
        let e = endpoints_from(settings, &env)?;
        let client_id = settings
            .client_id
            .clone()
            .unwrap_or_else(|| pim_core::config::client_id_from_env(&env));
        let mut o = AuthOptions::new(e.clone(), client_id, config_dir.to_owned());
        o.browser = Arc::new(pim_auth::SystemBrowser::new());
        (e, None, o)
    };
    let auth = Auth::new(auth_options.clone())?;
    if let Some(w) = auth.keychain_warning() {
        tracing::warn!("{w}");
    }
    let engine = CoreEngine::new(
        auth,
        endpoints,
        options.demo,
        sim.map(|s| Box::new(s) as Box<dyn std::any::Any + Send + Sync>),
    );
    let _ = engine.base.set(auth_options);
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

/// Endpoints: the environment (`PIM_CLOUD`, `PIM_*_ENDPOINT`), then the settings' overrides.
fn endpoints_from(settings: &Settings, env: &dyn Env) -> pim_core::Result<Endpoints> {
    let from_env = Endpoints::from_env(env)?;
    let mut e = if env.var("PIM_CLOUD").is_some() {
        from_env
    } else {
        // The settings pick the cloud; the PIM_* variables still override its base URLs.
        let mut e = Endpoints::for_cloud(pim_core::config::Cloud::parse(&settings.cloud)?);
        if env.var("PIM_AUTHORITY_HOST").is_some() {
            e.authority_host = from_env.authority_host;
        }
        if env.var("PIM_GRAPH_ENDPOINT").is_some() {
            e.graph = from_env.graph;
        }
        if env.var("PIM_ARM_ENDPOINT").is_some() {
            e.arm = from_env.arm;
        }
        e
    };
    let parse = pim_core::config::parse_base_url;
    if let Some(v) = &settings.authority_host {
        e.authority_host = parse("authority host", v)?;
    }
    if let Some(v) = &settings.graph_endpoint {
        e.graph = parse("Graph endpoint", v)?;
    }
    if let Some(v) = &settings.arm_endpoint {
        e.arm = parse("ARM endpoint", v)?;
    }
    Ok(e)
}

struct Current {
    account: Account,
    auth: Auth,
    session: Session,
    _forward: Forwarder,
}

/// The engine over pim-core.
pub struct CoreEngine {
    auth: Auth,
    endpoints: Endpoints,
    demo: bool,
    /// Open accounts, the default one first; each has its own session and menu sections.
    current: Mutex<Vec<Current>>,
    /// Keys of the open accounts in menu order (default first), shared with the forwarders.
    order: Order,
    tx: watch::Sender<TrayModel>,
    progress: watch::Sender<Option<String>>,
    /// Options of `auth`, to make an `Auth` for accounts of other clouds or app registrations.
    base: std::sync::OnceLock<AuthOptions>,
    warning: Option<String>,
    /// What must live as long as the engine: the demo simulator's process (tests: an
    /// in-process simulator).
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for CoreEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreEngine")
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

impl CoreEngine {
    /// An engine over `auth` and `endpoints`, signed out until [`Engine::sign_in`] (or the
    /// start-up sign-in of [`start`]); `keep` (the demo simulator) is kept running as long
    /// as the engine.
    pub fn new(
        auth: Auth,
        endpoints: Endpoints,
        demo: bool,
        keep: Option<Box<dyn std::any::Any + Send + Sync>>,
    ) -> Arc<CoreEngine> {
        let warning = auth.keychain_warning();
        Arc::new(CoreEngine {
            auth,
            endpoints,
            demo,
            current: Mutex::new(Vec::new()),
            order: Order::default(),
            tx: watch::Sender::new(TrayModel {
                demo,
                status: Status::Loading,
                accounts: Vec::new(),
                skew_seconds: 0,
                warning: warning.clone(),
                device_code: None,
            }),
            progress: watch::Sender::new(None),
            base: std::sync::OnceLock::new(),
            warning,
            _keep: keep,
        })
    }

    /// The options `auth` was made with: accounts of other clouds or app registrations get an
    /// `Auth` made from them with the account's endpoints and client id (set by [`start`]).
    pub fn set_auth_options(&self, options: AuthOptions) {
        let _ = self.base.set(options);
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
        let Some(default) = self.auth.saved_default_account()? else {
            self.set_status(Status::SignedOut);
            return Ok(());
        };
        let others: Vec<Account> = self
            .auth
            .accounts()?
            .into_iter()
            .filter(|a| a.key() != default.key())
            .collect();
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

    /// An `Auth` for `account`'s cloud, endpoints and app registration.
    fn auth_for(&self, account: &Account) -> EngineResult<(Auth, Endpoints)> {
        let endpoints = account.endpoints(Some(&self.endpoints))?;
        match self.base.get() {
            Some(base) if endpoints != self.endpoints || account.client_id != base.client_id => {
                let mut o = base.clone();
                o.endpoints = endpoints.clone();
                o.client_id = account.client_id.clone();
                Ok((Auth::new(o)?, endpoints))
            }
            _ => Ok((self.auth.clone(), self.endpoints.clone())),
        }
    }

    fn account(&self, key: &str) -> EngineResult<Account> {
        self.auth
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
        let (auth, endpoints) = self.auth_for(&account)?;
        let mut opts = SessionOptions::new(
            endpoints,
            auth.token_source(&account),
            account.home_tenant_id.clone(),
        );
        // The Azure CLI cannot take a claims request from us: its accounts get the step-up
        // error with the `az login --claims-challenge` command instead of a browser prompt.
        if account.kind != CredentialKind::AzureCli {
            opts.step_up = Some(Arc::new(BrowserStepUp {
                auth: auth.clone(),
                upn: account.upn.clone(),
                progress: self.progress.clone(),
            }));
        }
        opts.hidden_tenants = account.hidden_tenants.clone();
        // The tenants found last time (by the tray or the CLI): the first refresh reads them
        // all at once while it re-checks the list.
        let cache = auth.tenant_cache();
        opts.known_tenants = cache.load(&account.key());
        let session = Session::new(opts);
        let key = account.key();
        {
            let mut current = self.current.lock().await;
            // Reopening an account replaces its session (and drops its forwarder).
            current.retain(|c| c.account.key() != key);
            let forward = Forwarder::spawn(
                self.order.clone(),
                self.warning.clone(),
                session.clone(),
                ViewOf {
                    key: key.clone(),
                    upn: account.upn.clone(),
                    azure_cli: account.kind == CredentialKind::AzureCli,
                    demo: self.demo,
                },
                self.tx.clone(),
            );
            let c = Current {
                account,
                auth,
                session: session.clone(),
                _forward: forward,
            };
            if first {
                current.insert(0, c);
            } else {
                current.push(c);
            }
            *pim_core::sync::lock(&self.order) = current.iter().map(|c| c.account.key()).collect();
            let order = self.order.clone();
            self.tx.send_if_modified(|m| {
                let before: Vec<String> = m.accounts.iter().map(|a| a.key.clone()).collect();
                sort_accounts(m, &order);
                before != m.accounts.iter().map(|a| a.key.clone()).collect::<Vec<_>>()
            });
        }
        session.refresh().await?;
        if let Some(tenants) = session.tenants_changed()
            && let Err(e) = cache.save(&key, &tenants)
        {
            tracing::debug!(error = %e, "cannot save the tenant list");
        }
        Ok(())
    }

    /// Drops an account's session and its menu sections; `SignedOut` when none is left.
    async fn close(&self, key: &str) -> Option<Current> {
        let mut current = self.current.lock().await;
        let i = current.iter().position(|c| c.account.key() == key)?;
        let c = current.remove(i);
        let empty = current.is_empty();
        *pim_core::sync::lock(&self.order) = current.iter().map(|c| c.account.key()).collect();
        self.tx.send_modify(|m| {
            m.accounts.retain(|a| a.key != key);
            if empty {
                m.status = Status::SignedOut;
                m.skew_seconds = 0;
            }
        });
        Some(c)
    }

    async fn sessions(&self) -> EngineResult<Vec<Session>> {
        let sessions: Vec<Session> = self
            .current
            .lock()
            .await
            .iter()
            .map(|c| c.session.clone())
            .collect();
        if sessions.is_empty() {
            return Err(pim_core::Error::SignInRequired {
                reason: "nobody is signed in".into(),
            });
        }
        Ok(sessions)
    }

    /// The role with this key in whichever account has it.
    async fn role(&self, key: &str) -> EngineResult<(Session, Role)> {
        for session in self.sessions().await? {
            let role = session.snapshot().by_key(key).cloned();
            if let Some(role) = role {
                return Ok((session, role));
            }
        }
        Err(pim_core::Error::NotFound {
            name: key.to_owned(),
            hint: "; refresh and try again".into(),
        })
    }
}

fn minutes(d: pim_core::PimDuration) -> u32 {
    u32::try_from(d.to_time().whole_minutes().max(0)).unwrap_or(u32::MAX)
}

/// Maps the core's activation form (the policy, its bounds, the suggested duration) to the
/// view; `preferred_minutes` is the user's default duration.
pub fn form_view(info: &pim_core::PolicyInfo, preferred_minutes: u32) -> FormView {
    let preferred = pim_core::PimDuration::from_minutes(u64::from(preferred_minutes));
    let form = pim_core::ActivationForm::new(info.known(), Some(preferred));
    FormView {
        policy: policy_view(info, &form),
        duration_minutes: minutes(form.duration),
    }
}

fn policy_view(info: &pim_core::PolicyInfo, form: &pim_core::ActivationForm) -> PolicyView {
    let max_duration_minutes = minutes(form.max_duration);
    match info.known() {
        Some(p) => PolicyView {
            known: true,
            max_duration_minutes,
            justification: p.justification_required,
            ticket: p.ticket_required,
            mfa: p.mfa_required,
            authentication_context: p.authentication_context.clone(),
            approval: p.approval_required,
        },
        None => PolicyView {
            max_duration_minutes,
            ..PolicyView::default()
        },
    }
}

/// What the view of one account's snapshots needs to know about the account.
#[derive(Debug, Clone)]
pub struct ViewOf {
    /// Account key.
    pub key: String,
    /// Sign-in name.
    pub upn: String,
    /// Tokens come from the Azure CLI (its app cannot read Entra roles and groups).
    pub azure_cli: bool,
    /// Demo mode.
    pub demo: bool,
}

/// What the menu says for an Azure CLI account whose Graph reads were refused.
pub const AZURE_CLI_GRAPH_NOTE: &str = "Azure CLI sign-in: Azure roles only. For Entra roles and \
     groups, add this account with the browser (Settings).";

impl ViewOf {
    /// Maps a core snapshot of this account to the view model.
    pub fn model(&self, snapshot: &Snapshot, skew_seconds: i64) -> TrayModel {
        let tenants = snapshot
            .tenants
            .iter()
            .map(|t| TenantView {
                id: t.tenant.id.clone(),
                name: t.tenant.display_name.clone(),
                error: t.error.as_ref().map(|e| e.message.clone()),
                warnings: t
                    .warnings
                    .iter()
                    .map(|w| {
                        if self.azure_cli && w.starts_with(pim_core::GRAPH_UNREADABLE) {
                            AZURE_CLI_GRAPH_NOTE.to_owned()
                        } else {
                            w.clone()
                        }
                    })
                    .collect(),
                roles: t.roles.iter().map(role_view).collect(),
            })
            .collect();
        TrayModel {
            demo: self.demo,
            status: Status::Ready,
            accounts: vec![AccountView {
                key: self.key.clone(),
                upn: self.upn.clone(),
                tenants,
                changes: snapshot.changes.clone(),
            }],
            skew_seconds,
            warning: None,
            device_code: None,
        }
    }
}

fn role_view(r: &Role) -> RoleView {
    let kind = match r.kind {
        pim_core::RoleKind::EntraRole => RoleKind::EntraRole,
        pim_core::RoleKind::Group => RoleKind::Group,
        pim_core::RoleKind::AzureResource => RoleKind::AzureResource,
    };
    let scope = match kind {
        RoleKind::Group => r.access.as_ref().map(|a| a.to_string()),
        RoleKind::EntraRole if r.scope.kind == pim_core::ScopeKind::Directory => None,
        _ => Some(r.scope.display_name.clone()),
    };
    let state = match r.state {
        pim_core::RoleState::Eligible => RoleState::Eligible,
        pim_core::RoleState::Active => match &r.assignment {
            Some(a) if !a.is_activation() => RoleState::Assigned { end: a.end },
            a => RoleState::Active {
                deactivatable_from: a.as_ref().and_then(|a| a.deactivatable_from()),
                end: r.ends_at(),
            },
        },
        pim_core::RoleState::Pending => RoleState::Pending,
        pim_core::RoleState::Scheduled => RoleState::Scheduled {
            start: r.starts_at(),
        },
    };
    RoleView {
        key: r.key(),
        kind,
        name: r.name.clone(),
        scope,
        tenant_id: r.tenant_id.clone(),
        state,
    }
}

/// The settings window's tenant entries of one account.
fn tenant_entries(list: &[pim_core::Tenant], hidden: &[String]) -> Vec<crate::engine::TenantEntry> {
    list.iter()
        .map(|t| crate::engine::TenantEntry {
            id: t.id.clone(),
            name: t.display_name.clone(),
            domain: t.default_domain.clone(),
            home: t.is_home,
            shown: !hidden.iter().any(|h| h.eq_ignore_ascii_case(&t.id)),
        })
        .collect()
}

/// Forwards session snapshots to the view model; cancelled on drop.
/// Keys of the open accounts in menu order.
type Order = Arc<std::sync::Mutex<Vec<String>>>;

/// Puts the accounts' sections in `order`.
fn sort_accounts(m: &mut TrayModel, order: &Order) {
    let order = pim_core::sync::lock(order).clone();
    m.accounts
        .sort_by_key(|a| order.iter().position(|k| *k == a.key).unwrap_or(usize::MAX));
}

struct Forwarder {
    cancel: CancellationToken,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Forwarder {
    fn spawn(
        order: Order,
        warning: Option<String>,
        session: Session,
        view: ViewOf,
        tx: watch::Sender<TrayModel>,
    ) -> Forwarder {
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let mut rx = session.subscribe();
        // The core re-reads when the service's clock calls for it (ends, starts, pending
        // requests); its snapshots come here like any other.
        let schedule = session.clone();
        let schedule_token = cancel.clone();
        tauri::async_runtime::spawn(async move {
            schedule_token
                .run_until_cancelled(schedule.keep_current(pim_core::ScheduleOptions::default()))
                .await;
        });
        tauri::async_runtime::spawn(async move {
            token
                .run_until_cancelled(async move {
                    loop {
                        let snapshot = rx.borrow_and_update().clone();
                        if snapshot.taken_at.is_some() {
                            let skew = (session.now() - OffsetDateTime::now_utc()).whole_seconds();
                            let model = view.model(&snapshot, skew);
                            // This account's sections replace its previous ones; the other
                            // accounts' stay. A model that did not change wakes nobody (the
                            // menu is rebuilt once per real change).
                            tx.send_if_modified(|m| {
                                let before = m.clone();
                                for a in model.accounts {
                                    match m.accounts.iter_mut().find(|x| x.key == a.key) {
                                        Some(x) => *x = a,
                                        None => m.accounts.push(a),
                                    }
                                }
                                sort_accounts(m, &order);
                                m.demo = view.demo;
                                m.status = Status::Ready;
                                m.skew_seconds = skew;
                                m.warning = warning.clone();
                                *m != before
                            });
                        }
                        if rx.changed().await.is_err() {
                            return;
                        }
                    }
                })
                .await;
        });
        Forwarder { cancel }
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
impl Engine for CoreEngine {
    async fn flush(&self) {
        self.auth.flush().await;
        // An account of another cloud or app registration has its own Auth.
        let others: Vec<Auth> = self
            .current
            .lock()
            .await
            .iter()
            .map(|c| c.auth.clone())
            .collect();
        for auth in others {
            auth.flush().await;
        }
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
        Ok(form_view(&session.policy(&role).await, preferred_minutes))
    }

    async fn activate(&self, input: ActivationInput) -> EngineResult<ActivationOutcome> {
        let (session, role) = self.role(&input.key).await?;
        let r = session.activate(&role, input.to_request()).await;
        self.progress.send_replace(None);
        Ok(outcome(&r?))
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
        match self.auth.login_interactive(LoginOptions::default()).await {
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
            .auth
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
                            c.account.key(),
                            c.session.tenant_list(),
                            c.session.hidden_tenants(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let current = open.first().map(|(k, _, _)| k.clone());
        let mut list: Vec<AccountEntry> = self
            .auth
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
        self.auth.set_default_account(&account)?;
        self.open(account).await
    }

    async fn remove_account(&self, key: &str) -> EngineResult<()> {
        let account = self.account(key)?;
        let was_default = self
            .current
            .lock()
            .await
            .first()
            .is_some_and(|c| c.account.key() == key);
        let open = self
            .current
            .lock()
            .await
            .iter()
            .find(|c| c.account.key() == key)
            .map(|c| c.auth.clone());
        let auth = match open {
            Some(auth) => auth,
            None => self.auth_for(&account)?.0,
        };
        // The token goes first: the menu shows the account gone only once its refresh
        // token is deleted (a keychain failure leaves the account open, with the error).
        auth.logout(&account).await?;
        self.close(key).await;
        if was_default {
            // The next open account becomes the default.
            let next = self.current.lock().await.first().map(|c| c.account.clone());
            if let Some(next) = next {
                self.auth.set_default_account(&next)?;
            }
        }
        Ok(())
    }

    async fn add_account(&self, cloud: NewAccountCloud) -> EngineResult<()> {
        if cloud == NewAccountCloud::AzureCli {
            return self
                .signing_in("Azure CLI account added", self.auth.login_azure_cli(None))
                .await;
        }
        let auth = match (cloud, self.base.get()) {
            (NewAccountCloud::Cloud(c), Some(base)) => {
                let mut o = base.clone();
                o.endpoints = Endpoints::for_cloud(c);
                Auth::new(o)?
            }
            (NewAccountCloud::Cloud(c), None) if c != self.endpoints.cloud => {
                return Err(pim_core::Error::Config(format!(
                    "cannot add an account in the {} cloud here",
                    c.as_str()
                )));
            }
            _ => self.auth.clone(),
        };
        self.signing_in(
            "account added",
            auth.login_interactive(LoginOptions::default()),
        )
        .await
    }

    async fn set_tenant_shown(&self, key: &str, tenant_id: &str, shown: bool) -> EngineResult<()> {
        let (auth, account, session) = {
            let current = self.current.lock().await;
            let c = current
                .iter()
                .find(|c| c.account.key() == key)
                .ok_or_else(|| pim_core::Error::NotFound {
                    name: key.to_owned(),
                    hint: "; the account is not open, reopen Settings".into(),
                })?;
            (c.auth.clone(), c.account.clone(), c.session.clone())
        };
        let all = session.tenants().await?;
        if !all.iter().any(|t| t.id.eq_ignore_ascii_case(tenant_id)) {
            return Err(pim_core::Error::InvalidInput(format!(
                "{} does not reach the tenant {tenant_id}; reopen Settings",
                account.upn
            )));
        }
        let id = vec![tenant_id.to_owned()];
        let (hide, show) = if shown {
            (Vec::new(), id)
        } else {
            (id, Vec::new())
        };
        let hidden = pim_core::hidden_tenants_after(&all, &session.hidden_tenants(), &hide, &show)?;
        let saved = auth.set_hidden_tenants(&account, hidden)?;
        session.set_hidden_tenants(saved.hidden_tenants.clone());
        if let Some(c) = self
            .current
            .lock()
            .await
            .iter_mut()
            .find(|c| c.account.key() == key)
        {
            c.account = saved;
        }
        if shown {
            session.refresh().await?;
        }
        Ok(())
    }

    async fn sign_out(&self) -> EngineResult<()> {
        let current = std::mem::take(&mut *self.current.lock().await);
        for c in current {
            c.auth.logout(&c.account).await?;
        }
        self.tx.send_replace(TrayModel {
            demo: self.demo,
            status: Status::SignedOut,
            accounts: Vec::new(),
            skew_seconds: 0,
            warning: self.warning.clone(),
            device_code: None,
        });
        Ok(())
    }
}
