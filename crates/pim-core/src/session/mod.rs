//! The [`Session`] facade: everything the tray and the CLI do goes through it.
//!
//! - [`Session::refresh`] reads every tenant in parallel: per tenant one Graph `$batch`
//!   (me, Entra eligible/active/requests, all Entra role policies, group eligible/active/
//!   requests) alongside the ARM lists; pages are followed; throttled batch items are retried
//!   alone; a tenant that fails is reported in its [`TenantSnapshot`] without failing the rest.
//! - Writes ([`Session::activate`], [`Session::deactivate`], [`Session::extend`],
//!   [`Session::cancel`]) validate against the known policy first, never blindly retry, and
//!   publish a fresh snapshot on [`Session::subscribe`].
//! - Several activations at once: [`Session::plan_activations`] checks every role against its
//!   own policy with nothing sent; [`Session::activate_planned`] sends the checked requests in
//!   parallel, with one step-up per tenant, API and claims set.
//! - A [`StepUpHook`] (optional) is called when the service demands MFA or an authentication
//!   context; the write is then retried once with the claims.
//!
//! This file holds the facade, its options and caches, and snapshot publishing; the work is
//! in the submodules: `tenants` (discovery, hidden tenants), `load` (reading a tenant from
//! Graph and ARM, policies), `names` (display names the payloads lacked), `rows` (pure:
//! wire items to rows), `write` (activate, deactivate, extend, cancel, step-up), `batch`
//! (several activations at once), `again` (activate a role again as its newest earlier
//! request asked) and `reconcile` (uncertain outcomes, waiting for a write to show);
//! `history` reads the user's past requests ([`Session::history`]); `approvals` is the
//! approver's inbox ([`Session::approvals`], [`Session::decide`]).

mod again;
mod approvals;
mod batch;
mod history;
mod load;
mod names;
mod ready;
mod reconcile;
pub(crate) mod rows;
mod schedule;
mod tenants;
mod write;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;
use tracing::instrument;

use crate::arm::Arm;
use crate::clock::{Clock, ServerTime, SystemClock};
use crate::config::Endpoints;
use crate::graph::Graph;
pub use crate::http::default_client;
use crate::http::{Http, RetryPolicy};
use crate::matching::{RoleQuery, find_role};
use crate::model::*;
pub use crate::token::StepUpHook;
use crate::token::TokenSource;
use crate::{Error, Result};
pub use again::again_needs_form;
pub use approvals::{
    ApprovalItem, ApprovalRef, ApprovalStage, Decision, Inbox, Requester, TenantInbox,
};
pub use batch::{ActivationPlan, Planned};
pub use history::{History, HistoryEntry, TenantHistory};
pub use ready::{Readiness, ReadyOptions, ReadyOutcome, next_wait};
pub use schedule::{ScheduleOptions, next_reread};
use tenants::normalise_tenants;
pub use tenants::{hidden_tenants_after, normalise_ids};
#[cfg(feature = "fuzzing")]
pub(crate) use write::jwt_claim;
pub use write::policy_claims;

/// Of errors that together left a tenant unread: the first one the user must act on (sign in,
/// step up), else the first one.
fn first_to_act_on(errors: impl IntoIterator<Item = Error>) -> Option<Error> {
    errors.into_iter().reduce(|x, y| {
        if !x.needs_user() && y.needs_user() {
            y
        } else {
            x
        }
    })
}

/// How to build a [`Session`].
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Service endpoints and scopes.
    pub endpoints: Endpoints,
    /// Where tokens come from.
    pub tokens: Arc<dyn TokenSource>,
    /// The signed-in user's home tenant id (GUID).
    pub home_tenant_id: String,
    /// HTTP client. It must not follow redirects (every request carries a token; a 3xx is
    /// reported as an error) — [`default_client`] does not; its connect timeout is 30 s.
    /// Response bodies are read up to [`crate::http::MAX_RESPONSE_BYTES`] whatever the client.
    pub client: reqwest::Client,
    /// Local clock (corrected by the servers' `Date` headers).
    pub clock: Arc<dyn Clock>,
    /// Interactive step-up, if the host can do it.
    pub step_up: Option<Arc<dyn StepUpHook>>,
    /// Retry limits.
    pub retry: RetryPolicy,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How long to wait for an activation to show up after the service accepted it.
    pub settle: Duration,
    /// How long to look for a Graph write whose outcome is uncertain (the answer was lost or
    /// timed out, or was a 500, 502 or 504) in the user's request list, which can lag behind,
    /// before reporting the outcome as unknown. Such a write is never sent a second time
    /// (after a 503 the service most likely did not take it: it is checked once, then sent
    /// again).
    pub reconcile: Duration,
    /// Tenants known from an earlier run (e.g. a cache kept by the caller). When set, the
    /// first [`Session::refresh`] reads them at once while it re-discovers the tenant list
    /// in parallel; a tenant that is new in the live list costs one extra round trip, one
    /// that is gone is dropped. [`Session::tenants_changed`] then tells whether to update
    /// the cache. `None`: discover the tenants first (one more round trip).
    pub known_tenants: Option<Vec<Tenant>>,
    /// Ids of tenants the user chose not to see: [`Session::refresh`] does not read them
    /// (they are listed in [`Snapshot::hidden`]), though [`Session::tenants`] still lists
    /// them and [`Session::refresh_tenant`] reads one when asked by id. Change it later with
    /// [`Session::set_hidden_tenants`].
    pub hidden_tenants: Vec<String>,
}

impl SessionOptions {
    /// Options with defaults: system clock, default client, no step-up hook, 4 retries,
    /// 60 s timeout, 10 s settle time, 30 s to reconcile an uncertain write.
    pub fn new(
        endpoints: Endpoints,
        tokens: Arc<dyn TokenSource>,
        home_tenant_id: impl Into<String>,
    ) -> Self {
        SessionOptions {
            endpoints,
            tokens,
            home_tenant_id: home_tenant_id.into(),
            client: default_client(),
            clock: Arc::new(SystemClock),
            step_up: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
            settle: Duration::from_secs(10),
            reconcile: Duration::from_secs(30),
            known_tenants: None,
            hidden_tenants: Vec::new(),
        }
    }
}

#[derive(Debug, Default)]
struct Caches {
    tenants: Option<Vec<Tenant>>,
    /// Tenants from [`SessionOptions::known_tenants`], until the first refresh takes them.
    known_tenants: Option<Vec<Tenant>>,
    /// The discovered list when it differs from the known one (or none was given).
    tenants_changed: Option<Vec<Tenant>>,
    /// tenant id (lower) → principal id.
    principals: HashMap<String, String>,
    /// role key → policy info (session cache; never persisted).
    policies: HashMap<String, PolicyInfo>,
    /// (tenant lower, role definition id lower) → Entra policy id (when rules were not expanded).
    entra_policy_ids: HashMap<(String, String), String>,
    /// (tenant lower, group id lower) → display name.
    group_names: HashMap<(String, String), String>,
    /// (tenant lower, directory scope id lower) → display name.
    scope_names: HashMap<(String, String), String>,
    /// (tenant lower, Entra role definition id / ARM id lower) → display name.
    role_names: HashMap<(String, String), String>,
    /// The signed-in user (home tenant), from `/me`.
    account: Option<Account>,
    /// Ids (lower case) of the tenants the user hid.
    hidden: Vec<String>,
}

/// The facade over Graph and ARM for one signed-in account.
#[derive(Debug, Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    graph: Graph,
    arm: Arm,
    time: Arc<ServerTime>,
    home: String,
    step_up: Option<Arc<dyn StepUpHook>>,
    settle: Duration,
    reconcile: Duration,
    caches: Mutex<Caches>,
    /// Keys of the roles with a write under way ([`Session::begin_write`]).
    writes: Mutex<std::collections::HashSet<String>>,
    tx: watch::Sender<Snapshot>,
    /// The server clock's offset (seconds) at the last publish: a new offset is news, since
    /// subscribers show times by the service's clock.
    published_offset: std::sync::atomic::AtomicI64,
}

impl Session {
    /// Builds a session (no I/O).
    pub fn new(opts: SessionOptions) -> Session {
        let time = Arc::new(ServerTime::new(opts.clock.clone()));
        let http = Http {
            client: opts.client,
            tokens: opts.tokens,
            endpoints: opts.endpoints,
            time: time.clone(),
            retry: opts.retry,
            timeout: opts.timeout,
            step_up: opts.step_up.clone(),
        };
        let (tx, _rx) = watch::channel(Snapshot::default());
        let caches = Caches {
            known_tenants: opts
                .known_tenants
                .map(|k| normalise_tenants(&opts.home_tenant_id, k)),
            hidden: normalise_ids(opts.hidden_tenants),
            ..Caches::default()
        };
        Session {
            inner: Arc::new(Inner {
                graph: Graph { http: http.clone() },
                arm: Arm { http },
                time,
                home: opts.home_tenant_id,
                step_up: opts.step_up,
                settle: opts.settle,
                reconcile: opts.reconcile,
                caches: Mutex::new(caches),
                writes: Mutex::default(),
                tx,
                published_offset: std::sync::atomic::AtomicI64::new(0),
            }),
        }
    }

    /// Now, corrected by the servers' clock when the local clock is off by over a minute.
    pub fn now(&self) -> OffsetDateTime {
        self.inner.time.now()
    }

    /// The latest snapshot (empty before the first refresh).
    pub fn snapshot(&self) -> Snapshot {
        self.inner.tx.borrow().clone()
    }

    /// Receives every snapshot that says something new (after refreshes and writes; a
    /// refresh that finds everything as it was wakes nobody).
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.inner.tx.subscribe()
    }

    /// Makes `s` the latest snapshot and sends it to the subscribers.
    /// Publishes `s`; subscribers are woken only when it says something new: its content, or
    /// the service's clock (a refresh that found everything as it was, on the same clock,
    /// changes only `taken_at`, and wakes nobody).
    /// The changes since the previous snapshot are worked out here and kept in it
    /// ([`Snapshot::changes`]).
    fn publish(&self, mut s: Snapshot) {
        let offset = self.inner.time.offset().whole_seconds();
        let clock_moved = self
            .inner
            .published_offset
            .swap(offset, std::sync::atomic::Ordering::Relaxed)
            != offset;
        self.inner.tx.send_if_modified(|current| {
            let changed = clock_moved
                || current.taken_at.is_none() != s.taken_at.is_none()
                || current.account != s.account
                || current.tenants != s.tenants
                || current.hidden != s.hidden;
            let recent = std::mem::take(&mut current.changes);
            s.changes = crate::changes::keep(recent, current, &s);
            // Readiness is followed apart from reads: it stays while its role is active.
            let mut readiness = std::mem::take(&mut current.readiness);
            readiness.retain(|key, _| {
                s.by_key(key)
                    .is_some_and(|r| r.state == crate::model::RoleState::Active)
            });
            let changed = changed || readiness != s.readiness;
            s.readiness = readiness;
            *current = s;
            changed
        });
    }

    fn caches(&self) -> std::sync::MutexGuard<'_, Caches> {
        self.inner
            .caches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The tenants the user can work in, discovered once per session via ARM
    /// `GET /tenants`; the home tenant is first. When ARM cannot list them, only the home
    /// tenant is returned (or the [`SessionOptions::known_tenants`], if given).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        if let Some(t) = self.caches().tenants.clone() {
            return Ok(t);
        }
        let discovered = self.discover_tenants().await?;
        Ok(self.settle_tenants(discovered))
    }

    /// The tenant list as far as it is known without a request: the discovered one, else
    /// the [`SessionOptions::known_tenants`]; `None` before either.
    pub fn tenant_list(&self) -> Option<Vec<Tenant>> {
        let c = self.caches();
        c.tenants.clone().or_else(|| c.known_tenants.clone())
    }

    /// The discovered tenant list when it differs from [`SessionOptions::known_tenants`]
    /// (new or removed tenants, changed names or domains), or when no known list was given;
    /// `None` before discovery, when nothing changed, or when ARM could not list the
    /// tenants. The caller updates its cache with it.
    pub fn tenants_changed(&self) -> Option<Vec<Tenant>> {
        self.caches().tenants_changed.clone()
    }

    /// Reads everything for every tenant (in parallel) and publishes the snapshot. Fails only
    /// when no tenant could be read at all (then with the home tenant's error, e.g.
    /// [`Error::SignInRequired`]).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn refresh(&self) -> Result<Snapshot> {
        let results = self.load_shown_tenants().await?;
        let mut snaps = Vec::new();
        let mut fatal: Option<Error> = None;
        let mut all_failed = true;
        for (snap, err) in results {
            if snap.tenant.is_home
                && snap.error.is_none()
                && let Some(e) = err
            {
                // The home tenant needs a step-up that did not complete: the user must act.
                return Err(e);
            }
            if snap.error.is_none() {
                all_failed = false;
            } else if fatal.is_none() {
                fatal = err;
            }
            snaps.push(snap);
        }
        if all_failed && let Some(e) = fatal {
            return Err(e);
        }
        let hidden = self.hidden_of_list();
        let account = self.caches().account.clone();
        let snapshot = Snapshot {
            taken_at: Some(self.now()),
            account,
            tenants: snaps,
            hidden,
            // Worked out when published (see `publish`); subscribers read them there.
            changes: Vec::new(),
            readiness: Default::default(),
        };
        self.publish(snapshot.clone());
        Ok(snapshot)
    }

    /// Ids (lower case) of the tenants the user hid.
    pub fn hidden_tenants(&self) -> Vec<String> {
        self.caches().hidden.clone()
    }

    /// Changes which tenants are hidden (ids; case does not matter). The latest snapshot is
    /// republished at once without the newly hidden tenants; a tenant shown again is read by
    /// the next [`Session::refresh`], which the caller runs.
    pub fn set_hidden_tenants(&self, ids: Vec<String>) {
        let hidden = normalise_ids(ids);
        self.caches().hidden = hidden;
        let mut s = self.snapshot();
        if s.taken_at.is_none() {
            return;
        }
        s.tenants.retain(|t| !self.is_hidden(&t.tenant.id));
        s.hidden = self.hidden_of_list();
        self.publish(s);
    }

    /// Re-reads one tenant and publishes the snapshot with it replaced.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn refresh_tenant(&self, tenant_id: &str) -> Result<Snapshot> {
        let tenants = self.tenants().await?;
        let Some(t) = tenants
            .iter()
            .find(|t| t.id.eq_ignore_ascii_case(tenant_id))
        else {
            return self.refresh().await;
        };
        let (snap, err) = self.load_tenant(t).await;
        if snap.error.is_some()
            && let Some(e) = err
        {
            return Err(e);
        }
        let mut s = self.snapshot();
        match s
            .tenants
            .iter_mut()
            .find(|x| x.tenant.id.eq_ignore_ascii_case(tenant_id))
        {
            Some(slot) => *slot = snap,
            None => s.tenants.push(snap),
        }
        s.taken_at = Some(self.now());
        s.account = self.caches().account.clone().or(s.account);
        self.publish(s.clone());
        Ok(s)
    }

    /// Finds one role in the latest snapshot (refreshing first if there is none).
    /// `prefer` breaks ties between several matches (e.g. "is active" for deactivate).
    pub async fn find(&self, q: &RoleQuery, prefer: &dyn Fn(&Role) -> bool) -> Result<Role> {
        let mut snap = self.snapshot();
        if snap.taken_at.is_none() {
            snap = self.refresh().await?;
        }
        // Hidden tenants count as known: naming one finds no role there, but it is not a
        // mistyped tenant.
        let tenants: Vec<Tenant> = snap
            .tenants
            .iter()
            .map(|t| t.tenant.clone())
            .chain(snap.hidden.iter().cloned())
            .collect();
        let roles: Vec<&Role> = snap.roles().collect();
        find_role(&roles, &tenants, q, prefer).cloned()
    }

    /// My history: the signed-in user's own PIM requests made since `since`, in every tenant
    /// not hidden, newest first (Entra roles and groups from Graph's
    /// `filterByCurrentUser(on='principal')` request lists, Azure roles from ARM's
    /// `asRequestor()` list; all tenants in parallel). Requests only as long as the services
    /// keep them (Entra ID deletes completed requests after a while, cancelled ones after 30
    /// days). A list that cannot be read is a warning in [`History::tenants`]; fails only when
    /// no tenant could be read at all. Reads only: publishes nothing.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn history(&self, since: OffsetDateTime) -> Result<History> {
        let tenants = match self.tenant_list() {
            Some(t) => t,
            None => self.tenants().await?,
        };
        let shown: Vec<Tenant> = tenants
            .into_iter()
            .filter(|t| !self.is_hidden(&t.id))
            .collect();
        self.read_history(&shown, since).await
    }

    /// [`Session::history`] in the given tenants (e.g. those a `--tenant` names, hidden or
    /// not).
    #[instrument(skip(self, tenants), err(level = "debug"))]
    pub async fn history_of(&self, tenants: &[Tenant], since: OffsetDateTime) -> Result<History> {
        self.read_history(tenants, since).await
    }

    /// The approver's inbox: other users' requests waiting for a decision where the signed-in
    /// user is an approver, in every tenant not hidden, oldest first (Entra roles and groups
    /// from Graph's `filterByCurrentUser(on='approver')` lists and their approvals, Azure
    /// roles from ARM's `asApprover()` requests and `roleAssignmentApprovals`; all tenants in
    /// parallel). [`ApprovalItem::actionable`] says which wait for me now (my stage is in
    /// progress); a request whose stage for me has not started is listed as waiting for
    /// another approver. A list that cannot be read is a warning in [`Inbox::tenants`]; fails
    /// only when no tenant could be read at all. Reads only: publishes nothing.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn approvals(&self) -> Result<Inbox> {
        let tenants = match self.tenant_list() {
            Some(t) => t,
            None => self.tenants().await?,
        };
        let shown: Vec<Tenant> = tenants
            .into_iter()
            .filter(|t| !self.is_hidden(&t.id))
            .collect();
        self.read_approvals(&shown).await
    }

    /// [`Session::approvals`] in the given tenants (hidden or not).
    #[instrument(skip(self, tenants), err(level = "debug"))]
    pub async fn approvals_of(&self, tenants: &[Tenant]) -> Result<Inbox> {
        self.read_approvals(tenants).await
    }

    /// Approves or denies a request of [`Session::approvals`] (an [`ApprovalItem`] or its
    /// id): its stage that is mine and in progress. A denial needs a justification
    /// ([`Error::InvalidInput`] before anything is sent); an approval's justification is
    /// optional unless the requester's role policy requires one, which the service then says
    /// ([`Error::PolicyViolation`] `ApproverJustificationRule`). The approval is read first:
    /// a request decided by someone else, cancelled, timed out or not yet at my stage is an
    /// [`Error::InvalidState`] saying so, with nothing sent (a 409 says the same). A missing
    /// Graph permission is an [`Error::Api`] (403) naming it. The decision is sent once, never
    /// again: after an uncertain answer the approval is re-read, and the outcome is
    /// [`Error::Uncertain`] unless it shows the decision.
    #[instrument(skip(self, item, justification), fields(id = item.as_ref()), err(level = "debug"))]
    pub async fn decide(
        &self,
        item: impl AsRef<str>,
        decision: Decision,
        justification: Option<String>,
    ) -> Result<()> {
        self.decide_approval(item.as_ref(), decision, justification)
            .await
    }

    /// The role's policy: from the session cache, the refresh batch (Entra roles), or read now
    /// (groups, Azure roles, Entra fallback). Never fails: an unreadable policy (403, 500) is
    /// [`PolicyInfo::Unknown`] and the service will still enforce it.
    #[instrument(skip(self, role), fields(role = %role.name), ret)]
    pub async fn policy(&self, role: &Role) -> PolicyInfo {
        self.read_policy(role).await
    }

    /// Reads every policy not known yet in the latest snapshot (up to 8 at a time; groups
    /// and Azure roles are not part of the refresh), then publishes and returns the snapshot
    /// with them filled in. Unreadable policies become [`PolicyInfo::Unknown`].
    #[instrument(skip(self))]
    pub async fn load_policies(&self) -> Snapshot {
        use futures::StreamExt as _;
        let snap = self.snapshot();
        let todo: Vec<Role> = snap
            .roles()
            .filter(|r| matches!(r.policy, PolicyInfo::NotLoaded))
            .cloned()
            .collect();
        let loaded: Vec<(String, PolicyInfo)> = futures::stream::iter(todo)
            .map(|r| async move { (r.key(), self.policy(&r).await) })
            .buffer_unordered(8)
            .collect()
            .await;
        let map: HashMap<String, PolicyInfo> = loaded.into_iter().collect();
        let mut s = self.snapshot();
        for t in &mut s.tenants {
            for r in &mut t.roles {
                if let Some(p) = map.get(&r.key()) {
                    r.policy = p.clone();
                }
            }
        }
        self.publish(s.clone());
        s
    }

    /// Activates an eligible role. Checks the known policy first (missing justification or
    /// ticket, duration over the maximum or under 5 minutes → [`Error::PolicyViolation`]
    /// before anything is sent). Duration defaults to [`default_duration`]; start defaults to
    /// now (server time). Returns the outcome (active until, pending approval, scheduled).
    #[instrument(skip(self, role, req), fields(role = %role.describe()), err(level = "debug"))]
    pub async fn activate(&self, role: &Role, req: ActivationRequest) -> Result<Outcome> {
        self.activate_role(role, req).await
    }

    /// Checks an activation as [`Session::activate`] does before sending, and sends nothing:
    /// the role's state (an eligibility, not active, no request waiting for approval), its
    /// policy (read once, then cached; missing justification or ticket, duration over the
    /// maximum or under 5 minutes → [`Error::PolicyViolation`]) and the request's end. Returns
    /// what would be sent, the duration resolved ([`default_duration`] when none is given).
    #[instrument(skip(self, role, req), fields(role = %role.describe()), err(level = "debug"))]
    pub async fn check_activation(
        &self,
        role: &Role,
        req: &ActivationRequest,
    ) -> Result<ActivationPlan> {
        self.check_activation_of(role, req).await
    }

    /// Plans activating several roles with one request (justification, ticket, start), each
    /// checked against its own policy with nothing sent: one [`Planned`] per role, in order.
    /// The duration is `req.duration` when given (over a role's maximum it is that role's
    /// [`Error::PolicyViolation`]), else `preferred` (e.g. a saved set's) within each role's
    /// bounds, said in `capped_from` when it had to be cut down, else each role's
    /// [`default_duration`] (the [`crate::ActivationForm`] rule). A role already active,
    /// waiting for approval or scheduled is reported as such: nothing is sent for it again.
    /// Policies not known yet are read, up to 8 at a time.
    #[instrument(skip_all, fields(roles = roles.len()))]
    pub async fn plan_activations(
        &self,
        roles: &[Role],
        req: &ActivationRequest,
        preferred: Option<crate::PimDuration>,
    ) -> Vec<Planned> {
        self.plan_many(roles, req, preferred).await
    }

    /// Sends checked activations ([`Session::plan_activations`], [`Session::check_activation`])
    /// in parallel: the roles of one tenant and API whose policies ask for the same claims
    /// share one proactive step-up (one prompt at a time), and a step-up the service demands
    /// is run once per claims set for the whole batch. Each tenant is then re-read once (again
    /// until the activations show, within [`SessionOptions::settle`]) and one snapshot is
    /// published. One result per plan, in order; a failure leaves the others as they are.
    /// Graph writes are never blindly sent again (see [`Session::activate`]).
    #[instrument(skip_all, fields(roles = plans.len()))]
    pub async fn activate_planned(&self, plans: &[ActivationPlan]) -> Vec<Result<Outcome>> {
        self.activate_many(plans).await
    }

    /// Deactivates an activation (not an admin assignment). Refused within 5 minutes of the
    /// activation's start ([`Error::TooEarly`]) without sending anything.
    #[instrument(skip(self, role), fields(role = %role.describe()), err(level = "debug"))]
    pub async fn deactivate(&self, role: &Role) -> Result<Outcome> {
        self.deactivate_role(role).await
    }

    /// More time. On an activation: deactivate, then activate again for the requested
    /// duration (contract A.6), after checking the policy and the 5-minute rule so nothing is
    /// lost to a refusal; justification and ticket default to those of the last activation
    /// request. On an admin assignment ending within 14 days: a `selfExtend` request, decided
    /// by an administrator.
    #[instrument(skip(self, role, req), fields(role = %role.describe()), err(level = "debug"))]
    pub async fn extend(&self, role: &Role, req: ActivationRequest) -> Result<Outcome> {
        self.extend_role(role, req).await
    }

    /// Cancels the role's open request (pending approval or scheduled).
    #[instrument(skip(self, role), fields(role = %role.describe()), err(level = "debug"))]
    pub async fn cancel(&self, role: &Role) -> Result<Outcome> {
        self.cancel_request(role).await
    }
}
