//! The shell's port to the engine: what the tray asks of pim-core (through its `Session`) and
//! the view model it gets back. `CoreAdapter` (in `core_adapter/`) adapts pim-core; tests use
//! `FakeEngine`. Every method is one engine call: no retries, timers or policy here.

use async_trait::async_trait;
use tokio::sync::watch;

use crate::bundle::{BundleFormView, BundleRoleResult};
use crate::dto::ActivationInput;
use crate::view::{FormView, TrayModel};

/// Result of engine calls (pim-core's error, mapped to `IpcError` at the IPC edge).
pub type EngineResult<T> = Result<T, pim_core::Error>;

/// How an activation request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationOutcome {
    /// The role is active now.
    Active,
    /// Waiting for approval.
    Pending,
    /// Starts later.
    Scheduled,
}

/// My requests, for the history window.
#[derive(Debug, Clone, Default)]
pub struct HistoryList {
    /// Newest first.
    pub entries: Vec<pim_core::HistoryEntry>,
    /// What could not be read (per tenant), in words.
    pub warnings: Vec<String>,
}

/// A saved account, for the settings window (sent as is over IPC, as `AccountEntry` in
/// `ui/ipc-types.d.ts`).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountEntry {
    /// Stable key (cloud, client id, user, home tenant): what `use_account` and
    /// `remove_account` take.
    pub key: String,
    /// Sign-in name.
    pub upn: String,
    /// `public`, `usgov` or `china` (custom endpoints keep their cloud's name).
    pub cloud: String,
    /// Tokens come from the Azure CLI (Azure resource roles only).
    pub azure_cli: bool,
    /// Whether the tray shows this account now (the default one).
    pub current: bool,
    /// The tenants the account reaches, home first (empty until its first refresh), each
    /// shown in the tray or hidden by the user.
    pub tenants: Vec<TenantEntry>,
}

/// A tenant of an account, for the settings window's choice of tenants to show (sent as is
/// over IPC, as `TenantEntry` in `ui/ipc-types.d.ts`).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantEntry {
    /// Tenant id (what `set_tenant_shown` takes).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Default domain, when known.
    pub domain: Option<String>,
    /// The account's home tenant.
    pub home: bool,
    /// Whether its roles are read and shown (not hidden by the user).
    pub shown: bool,
}

/// Where a new account signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewAccountCloud {
    /// A national cloud with its standard hosts.
    Cloud(pim_core::config::Cloud),
    /// The endpoints in the settings (or `PIM_*`), e.g. a simulator or a private host.
    Custom,
    /// The Azure CLI's sign-in (`az login` done beforehand), with the settings' endpoints:
    /// Azure resource roles only.
    AzureCli,
}

/// What the shell needs from the engine.
#[async_trait]
pub trait Engine: Send + Sync + std::fmt::Debug {
    /// The current model; a new value is pushed after every change (never polled).
    fn subscribe(&self) -> watch::Receiver<TrayModel>;
    /// Re-read everything.
    async fn refresh(&self) -> EngineResult<()>;
    /// The activation form for a role: its policy (read lazily, cached by the engine) and
    /// the duration to suggest, given the user's default (`preferred_minutes`).
    async fn activation_form(&self, key: &str, preferred_minutes: u32) -> EngineResult<FormView>;
    /// Activate.
    async fn activate(&self, input: ActivationInput) -> EngineResult<ActivationOutcome>;
    /// Activate an eligible role again as its newest earlier activation request asked
    /// (justification, ticket, duration; [`pim_core::Session::activate_again`]). An error for
    /// which [`pim_core::again_needs_form`] holds (the policy now asks for more, or there is
    /// no earlier request) means: let the user fill in the activation form.
    async fn activate_again(&self, key: &str) -> EngineResult<ActivationOutcome>;
    /// The window of `bundle` (saved by `pim bundle save`; the shell reads the file): each
    /// role found by its key in the open accounts with its policy, and what they ask for
    /// together; `preferred_minutes` is the duration when the bundle names none.
    async fn bundle_form(
        &self,
        bundle: &pim_accounts::bundles::Bundle,
        preferred_minutes: u32,
    ) -> EngineResult<BundleFormView>;
    /// Activates the roles of `bundle` (only those keys when `only` is given) with one
    /// request: every role checked against its own policy before anything is sent, one
    /// step-up per claims set ([`pim_core::Session::plan_activations`],
    /// [`pim_core::Session::activate_planned`]). One result per role, in the bundle's order;
    /// a role no open account has any more fails as "no longer eligible". `input.key` is
    /// not used.
    async fn activate_bundle(
        &self,
        bundle: &pim_accounts::bundles::Bundle,
        input: ActivationInput,
        only: Option<Vec<String>>,
    ) -> EngineResult<Vec<BundleRoleResult>>;
    /// The user's own activations now active in the open accounts (as the core has them), to
    /// save as a bundle.
    async fn active_roles(&self) -> EngineResult<Vec<pim_core::Role>>;
    /// Deactivate an activation.
    async fn deactivate(&self, key: &str) -> EngineResult<()>;
    /// Extend an activation.
    async fn extend(&self, key: &str) -> EngineResult<()>;
    /// Cancel a pending or scheduled request.
    async fn cancel(&self, key: &str) -> EngineResult<()>;
    /// Interactive sign-in (system browser).
    async fn sign_in(&self) -> EngineResult<()>;
    /// Device-code sign-in: the model shows the code ([`TrayModel::device_code`]) while the
    /// engine polls; decline and expiry end it with an error.
    async fn sign_in_with_code(&self) -> EngineResult<()>;
    /// The saved accounts.
    fn accounts(&self) -> EngineResult<Vec<AccountEntry>>;
    /// Makes the account the default and shows it.
    async fn use_account(&self, key: &str) -> EngineResult<()>;
    /// Signs the account out (its refresh token is deleted); the tray then shows the next
    /// default account, if any.
    async fn remove_account(&self, key: &str) -> EngineResult<()>;
    /// Adds an account through the browser sign-in in `cloud` and shows it.
    async fn add_account(&self, cloud: NewAccountCloud) -> EngineResult<()>;
    /// Shows or hides one tenant of an account (saved with the account; a hidden tenant is
    /// not read). Hiding the last shown tenant is refused.
    async fn set_tenant_shown(&self, key: &str, tenant_id: &str, shown: bool) -> EngineResult<()>;
    /// Sign out: forget the account and its refresh token.
    async fn sign_out(&self) -> EngineResult<()>;
    /// My requests since `since` (every open account, every shown tenant), newest first,
    /// with what could not be read.
    async fn history(&self, since: time::OffsetDateTime) -> EngineResult<HistoryList>;
    /// Reads the approver's inbox of every open account (every shown tenant) and puts it in
    /// the model ([`TrayModel::approvals`], oldest first). An account that cannot be read
    /// keeps the requests it showed, and the first such error is returned (the caller backs
    /// off); with nobody signed in the inbox is empty.
    async fn read_approvals(&self) -> EngineResult<()>;
    /// Approves or denies a request of the model's inbox (by [`pim_core::ApprovalItem::id`])
    /// as the account that sees it: one decision, sent once
    /// ([`pim_core::Session::decide`]; a denial needs a justification). A request no longer
    /// in the inbox is [`pim_core::Error::InvalidState`]. A decided request leaves the model's
    /// inbox at once; the caller reads the inbox again.
    async fn decide(
        &self,
        id: &str,
        decision: pim_core::Decision,
        justification: Option<String>,
    ) -> EngineResult<()>;
    /// What an activation in flight is waiting for, e.g. an interactive step-up in the
    /// browser (`Some(message)`); `None` when nothing is or after the activation ended. Every
    /// activation ends with a `None` sent, so a waiting window wakes up.
    fn progress(&self) -> watch::Receiver<Option<String>> {
        watch::Sender::new(None).subscribe()
    }
    /// Waits for pending writes (a rotated refresh token on its way to the keychain) before
    /// the process exits.
    async fn flush(&self) {}
}

#[cfg(test)]
pub use fake::FakeEngine;

#[cfg(test)]
mod fake {
    use std::sync::Mutex;

    use super::*;
    use crate::view::{AccountView, RoleState, Status, TenantView};

    /// An in-memory engine for tests: activation makes the role active for the requested
    /// duration; it records calls.
    #[derive(Debug)]
    pub struct FakeEngine {
        tx: watch::Sender<TrayModel>,
        /// Calls seen, e.g. `activate:k:60`.
        pub calls: Mutex<Vec<String>>,
        /// The last activation of each role (what activating it again repeats).
        pub earlier: Mutex<std::collections::HashMap<String, ActivationInput>>,
        /// Policy of every role; activation checks it with the core's own rule.
        pub policy: pim_core::Policy,
        /// Progress of activations; with `step_up` set, activation announces a step-up.
        pub progress: watch::Sender<Option<String>>,
        /// Message sent as progress during every activation (a pretend step-up).
        pub step_up: Option<String>,
        /// What `history` answers (before its `since` filter).
        pub history: Mutex<Vec<pim_core::HistoryEntry>>,
        /// The approver's inbox `read_approvals` publishes; a decision takes its item out.
        pub inbox: Mutex<Vec<crate::view::ApprovalView>>,
        /// When set, `read_approvals` fails with this message (a service error).
        pub inbox_error: Mutex<Option<String>>,
    }

    impl FakeEngine {
        /// An engine showing one eligible Entra role, Global Reader (key `gr`).
        pub fn global_reader() -> FakeEngine {
            FakeEngine::new(vec![crate::view::RoleView {
                key: "gr".into(),
                kind: crate::view::RoleKind::EntraRole,
                name: "Global Reader".into(),
                scope: None,
                tenant_id: "t".into(),
                state: RoleState::Eligible,
            }])
        }

        /// An engine showing `roles` for one account.
        pub fn new(roles: Vec<crate::view::RoleView>) -> FakeEngine {
            let model = TrayModel {
                demo: true,
                status: Status::Ready,
                skew_seconds: 0,
                warning: None,
                device_code: None,
                approvals: Vec::new(),
                accounts: vec![AccountView {
                    key: "public:c:o.t".into(),
                    upn: "adele@contoso.onmicrosoft.com".into(),
                    tenants: vec![TenantView {
                        warnings: Vec::new(),
                        id: "t".into(),
                        name: "Contoso".into(),
                        roles,
                        error: None,
                    }],
                    changes: Vec::new(),
                }],
            };
            FakeEngine {
                tx: watch::Sender::new(model),
                calls: Mutex::new(Vec::new()),
                earlier: Mutex::new(std::collections::HashMap::new()),
                policy: pim_core::Policy {
                    max_duration: Some(pim_core::PimDuration::from_hours(8)),
                    justification_required: true,
                    ..pim_core::Policy::default()
                },
                progress: watch::Sender::new(None),
                step_up: None,
                history: Mutex::new(Vec::new()),
                inbox: Mutex::new(Vec::new()),
                inbox_error: Mutex::new(None),
            }
        }

        /// The calls seen that start with `prefix` (e.g. `decide`), in order.
        pub fn calls_to(&self, prefix: &str) -> Vec<String> {
            self.calls
                .lock()
                .expect("lock")
                .iter()
                .filter(|c| c.starts_with(prefix))
                .cloned()
                .collect()
        }

        fn known(&self, key: &str) -> EngineResult<()> {
            if self.accounts()?.iter().any(|a| a.key == key) {
                Ok(())
            } else {
                Err(pim_core::Error::NotFound {
                    name: key.into(),
                    hint: String::new(),
                })
            }
        }

        fn record(&self, s: String) {
            self.calls.lock().expect("lock").push(s);
        }

        /// What an accepted activation does: the role is active for its duration (with a
        /// pretend step-up first when `step_up` is set), remembered as its earlier request.
        async fn make_active(&self, input: ActivationInput) -> EngineResult<ActivationOutcome> {
            if let Some(m) = &self.step_up {
                self.progress.send_replace(Some(m.clone()));
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            let now = time::OffsetDateTime::now_utc();
            let r = self.set_state(
                &input.key,
                RoleState::Active {
                    deactivatable_from: Some(now + pim_core::model::DEACTIVATION_GUARD),
                    end: Some(now + time::Duration::minutes(i64::from(input.duration_minutes))),
                    ready: crate::view::Ready::Unknown,
                },
            );
            self.progress.send_replace(None);
            r?;
            self.earlier
                .lock()
                .expect("lock")
                .insert(input.key.clone(), input);
            Ok(ActivationOutcome::Active)
        }

        fn set_state(&self, key: &str, state: RoleState) -> EngineResult<()> {
            let mut found = false;
            self.tx.send_modify(|m| {
                for a in &mut m.accounts {
                    for t in &mut a.tenants {
                        for r in &mut t.roles {
                            if r.key == key {
                                r.state = state.clone();
                                found = true;
                            }
                        }
                    }
                }
            });
            if found {
                Ok(())
            } else {
                Err(pim_core::Error::NotFound {
                    name: key.into(),
                    hint: String::new(),
                })
            }
        }
    }

    #[async_trait]
    impl Engine for FakeEngine {
        fn subscribe(&self) -> watch::Receiver<TrayModel> {
            self.tx.subscribe()
        }
        fn progress(&self) -> watch::Receiver<Option<String>> {
            self.progress.subscribe()
        }
        async fn refresh(&self) -> EngineResult<()> {
            self.record("refresh".into());
            Ok(())
        }
        async fn activation_form(
            &self,
            key: &str,
            preferred_minutes: u32,
        ) -> EngineResult<FormView> {
            let Some(role) = self.tx.borrow().role(key).cloned() else {
                return Err(pim_core::Error::NotFound {
                    name: key.into(),
                    hint: String::new(),
                });
            };
            let info = pim_core::PolicyInfo::Known(self.policy.clone());
            Ok(crate::core_adapter::form_view(
                role,
                &info,
                preferred_minutes,
            ))
        }
        async fn bundle_form(
            &self,
            bundle: &pim_accounts::bundles::Bundle,
            preferred_minutes: u32,
        ) -> EngineResult<BundleFormView> {
            self.record(format!("bundle_form:{}", bundle.name));
            let mut roles = Vec::new();
            for b in &bundle.roles {
                let key = b.key();
                let policy = match self.activation_form(&key, preferred_minutes).await {
                    Ok(f) => Some(f.policy),
                    Err(_) => None,
                };
                roles.push(crate::bundle::BundleRoleForm {
                    title: b.label(),
                    key,
                    policy,
                });
            }
            let combined = crate::bundle::combine(roles.iter().filter_map(|r| r.policy.as_ref()));
            Ok(BundleFormView {
                name: bundle.name.clone(),
                duration_minutes: preferred_minutes.min(combined.max_duration_minutes),
                combined,
                roles,
                reason: bundle.reason.clone().unwrap_or_default(),
                ticket_system: bundle.ticket_system.clone().unwrap_or_default(),
            })
        }
        async fn activate_bundle(
            &self,
            bundle: &pim_accounts::bundles::Bundle,
            input: ActivationInput,
            only: Option<Vec<String>>,
        ) -> EngineResult<Vec<BundleRoleResult>> {
            use crate::bundle::BundleRoleOutcome;
            let mut out = Vec::new();
            for b in &bundle.roles {
                let key = b.key();
                if only.as_ref().is_some_and(|o| !o.contains(&key)) {
                    continue;
                }
                let outcome = if self.tx.borrow().role(&key).is_none() {
                    BundleRoleOutcome::Failed("no longer eligible".into())
                } else {
                    let one = ActivationInput {
                        key: key.clone(),
                        ..input.clone()
                    };
                    match self.activate(one).await {
                        Ok(_) => BundleRoleOutcome::Active,
                        Err(e) => BundleRoleOutcome::Failed(e.to_string()),
                    }
                };
                out.push(BundleRoleResult {
                    key,
                    title: b.label(),
                    outcome,
                });
            }
            Ok(out)
        }
        async fn activate(&self, input: ActivationInput) -> EngineResult<ActivationOutcome> {
            // The core checks the policy before anything is sent; so does this fake.
            pim_core::policy::validate(&input.key, Some(&self.policy), &input.to_request())?;
            self.record(format!("activate:{}:{}", input.key, input.duration_minutes));
            self.make_active(input).await
        }
        async fn activate_again(&self, key: &str) -> EngineResult<ActivationOutcome> {
            self.record(format!("again:{key}"));
            let eligible = self
                .tx
                .borrow()
                .role(key)
                .map(|r| r.state == RoleState::Eligible);
            match eligible {
                None => {
                    return Err(pim_core::Error::NotFound {
                        name: key.into(),
                        hint: String::new(),
                    });
                }
                Some(false) => {
                    return Err(pim_core::Error::InvalidState {
                        message: format!("cannot activate again: {key} is not eligible now"),
                    });
                }
                Some(true) => {}
            }
            let earlier = self.earlier.lock().expect("lock").get(key).cloned();
            // The core's words, so `again_needs_form` reads them as it does the core's.
            let input = earlier.ok_or_else(|| pim_core::Error::InvalidState {
                message: format!("{key} has no earlier activation request to repeat"),
            })?;
            pim_core::policy::validate(&input.key, Some(&self.policy), &input.to_request())?;
            self.make_active(input).await
        }
        async fn deactivate(&self, key: &str) -> EngineResult<()> {
            self.record(format!("deactivate:{key}"));
            self.set_state(key, RoleState::Eligible)
        }
        async fn extend(&self, key: &str) -> EngineResult<()> {
            self.record(format!("extend:{key}"));
            Ok(())
        }
        async fn cancel(&self, key: &str) -> EngineResult<()> {
            self.record(format!("cancel:{key}"));
            self.set_state(key, RoleState::Eligible)
        }
        async fn sign_in(&self) -> EngineResult<()> {
            self.record("sign-in".into());
            Ok(())
        }
        async fn sign_in_with_code(&self) -> EngineResult<()> {
            self.record("sign-in-code".into());
            Ok(())
        }
        fn accounts(&self) -> EngineResult<Vec<AccountEntry>> {
            Ok(self
                .tx
                .borrow()
                .accounts
                .iter()
                .map(|a| AccountEntry {
                    key: a.key.clone(),
                    upn: a.upn.clone(),
                    cloud: "public".into(),
                    azure_cli: false,
                    current: true,
                    tenants: a
                        .tenants
                        .iter()
                        .map(|t| TenantEntry {
                            id: t.id.clone(),
                            name: t.name.clone(),
                            domain: None,
                            home: true,
                            shown: true,
                        })
                        .collect(),
                })
                .collect())
        }
        async fn use_account(&self, key: &str) -> EngineResult<()> {
            self.record(format!("use-account:{key}"));
            self.known(key)
        }
        async fn remove_account(&self, key: &str) -> EngineResult<()> {
            self.record(format!("remove-account:{key}"));
            self.known(key)?;
            self.tx.send_modify(|m| m.accounts.clear());
            Ok(())
        }
        async fn add_account(&self, cloud: NewAccountCloud) -> EngineResult<()> {
            self.record(format!("add-account:{cloud:?}"));
            Ok(())
        }
        async fn set_tenant_shown(
            &self,
            key: &str,
            tenant_id: &str,
            shown: bool,
        ) -> EngineResult<()> {
            self.record(format!("tenant-shown:{key}:{tenant_id}:{shown}"));
            self.known(key)
        }
        async fn active_roles(&self) -> EngineResult<Vec<pim_core::Role>> {
            self.record("active_roles".into());
            Ok(Vec::new())
        }
        async fn history(&self, since: time::OffsetDateTime) -> EngineResult<HistoryList> {
            self.record("history".into());
            let mut entries: Vec<pim_core::HistoryEntry> = self
                .history
                .lock()
                .expect("lock")
                .iter()
                .filter(|e| e.created_at >= since)
                .cloned()
                .collect();
            entries.sort_by_key(|e| std::cmp::Reverse(e.created_at));
            Ok(HistoryList {
                entries,
                warnings: Vec::new(),
            })
        }
        async fn read_approvals(&self) -> EngineResult<()> {
            self.record("approvals".into());
            if let Some(e) = self.inbox_error.lock().expect("lock").clone() {
                return Err(pim_core::Error::Transport(e));
            }
            let items = self.inbox.lock().expect("lock").clone();
            self.tx.send_if_modified(|m| {
                let changed = m.approvals != items;
                m.approvals = items;
                changed
            });
            Ok(())
        }
        async fn decide(
            &self,
            id: &str,
            decision: pim_core::Decision,
            justification: Option<String>,
        ) -> EngineResult<()> {
            let j = justification.unwrap_or_default();
            // The core's rule: a denial says why (nothing is sent without it).
            if decision == pim_core::Decision::Deny && j.trim().is_empty() {
                return Err(pim_core::Error::InvalidInput(
                    "a denial needs a justification: say why the request is denied".into(),
                ));
            }
            let mut inbox = self.inbox.lock().expect("lock");
            let Some(at) = inbox.iter().position(|a| a.id() == id) else {
                return Err(pim_core::Error::InvalidState {
                    message: "this request is no longer in your approver's inbox".into(),
                });
            };
            self.record(format!("decide:{id}:{}:{}", decision.as_str(), j.trim()));
            inbox.remove(at);
            self.tx
                .send_modify(|m| m.approvals.retain(|a| a.id() != id));
            Ok(())
        }
        async fn sign_out(&self) -> EngineResult<()> {
            self.record("sign-out".into());
            self.tx.send_modify(|m| m.accounts.clear());
            Ok(())
        }
    }
}
