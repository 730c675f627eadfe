//! Adapts the account layer ([`pim_accounts`]: each open account's pim-core [`Session`]) and
//! pim-auth's sign-in to the shell's [`Engine`] port: snapshots pushed by the sessions are
//! mapped to the view model and forwarded; each engine call is one session (or auth) call.
//!
//! Beside each forwarder runs the session's own schedule ([`Session::keep_current`]): the
//! core re-reads when an activation or a scheduled request reaches its end or start time, and
//! every two minutes while a request waits for an approver (approvals happen elsewhere).
//!
//! The adapter's jobs, by file: this one starts the engine, holds the open accounts and
//! answers the [`Engine`] calls on roles (activate, extend, deactivate, cancel); `accounts.rs`
//! signs in and opens, closes and lists accounts; `bundle.rs` plans and sends bundles;
//! `history.rs` reads my requests; `approvals.rs` reads the approver's inbox and decides;
//! `view_of.rs` maps the core's snapshots to the view model, which `forward.rs` forwards.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use pim_accounts::{Accounts, EndpointSettings, OpenAccount, OpenSet};
use pim_auth::{Account, Auth, AuthOptions};
use pim_core::config::{Cloud, Endpoints, ProcessEnv};
use pim_core::{Outcome, Role, Session, StepUpHook};
use time::OffsetDateTime;
use tokio::sync::{Mutex, watch};

use crate::RunOptions;
use crate::dto::ActivationInput;
use crate::engine::{
    AccountEntry, ActivationOutcome, Engine, EngineResult, HistoryList, NewAccountCloud,
};
use crate::settings::Settings;
mod accounts;
mod approvals;
mod bundle;
mod forward;
mod history;
mod view_of;

use accounts::BrowserStepUp;
pub use accounts::STEP_UP_MESSAGE;
use forward::{Forwarder, Order};
pub use view_of::{AZURE_CLI_GRAPH_NOTE, ViewOf, form_view};

use crate::view::{FormView, Status, TrayModel};

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
        self.browser_sign_in().await
    }

    async fn sign_in_with_code(&self) -> EngineResult<()> {
        self.device_code_sign_in().await
    }

    fn accounts(&self) -> EngineResult<Vec<AccountEntry>> {
        self.account_entries()
    }

    async fn use_account(&self, key: &str) -> EngineResult<()> {
        self.make_default(key).await
    }

    async fn remove_account(&self, key: &str) -> EngineResult<()> {
        self.remove(key).await
    }

    async fn add_account(&self, cloud: NewAccountCloud) -> EngineResult<()> {
        self.add(cloud).await
    }

    async fn set_tenant_shown(&self, key: &str, tenant_id: &str, shown: bool) -> EngineResult<()> {
        self.show_tenant(key, tenant_id, shown).await
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
        self.read_history(since).await
    }

    async fn sign_out(&self) -> EngineResult<()> {
        self.sign_out_all().await
    }

    async fn read_approvals(&self) -> EngineResult<()> {
        self.read_inboxes().await
    }

    async fn decide(
        &self,
        id: &str,
        decision: pim_core::Decision,
        justification: Option<String>,
    ) -> EngineResult<()> {
        self.decide_request(id, decision, justification).await
    }
}
