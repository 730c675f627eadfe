//! The [`Session`] facade: everything the tray and the CLI do goes through it.
//!
//! - [`Session::refresh`] reads every tenant in parallel: per tenant one Graph `$batch`
//!   (me, Entra eligible/active/requests, all Entra role policies, group eligible/active/
//!   requests) alongside the ARM lists; pages are followed; throttled batch items are retried
//!   alone; a tenant that fails is reported in its [`TenantSnapshot`] without failing the rest.
//! - Writes ([`Session::activate`], [`Session::deactivate`], [`Session::extend`],
//!   [`Session::cancel`]) validate against the known policy first, never blindly retry, and
//!   publish a fresh snapshot on [`Session::subscribe`].
//! - A [`StepUpHook`] (optional) is called when the service demands MFA or an authentication
//!   context; the write is then retried once with the claims.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::watch;
use tracing::instrument;

use crate::arm::Arm;
use crate::clock::{Clock, ServerTime, SystemClock};
use crate::config::Endpoints;
use crate::duration::PimDuration;
use crate::graph::{BatchItem, Graph, ItemOk, odata_literal, policy_from_assignment};
pub use crate::http::default_client;
use crate::http::{Failure, Http, RetryPolicy};
use crate::matching::{RoleQuery, find_role};
use crate::model::*;
use crate::policy::{Policy, validate};
pub use crate::token::StepUpHook;
use crate::token::{Resource, TokenRequest, TokenSource};
use crate::wire::{
    ArmInstanceProps, ArmRequestProps, ArmResource, GraphGroupInstance, GraphMe,
    GraphPolicyAssignment, GraphRequest, GraphRoleInstance, format_datetime, last_segment,
    parse_items,
};
use crate::{Error, Result};

const ROLE_REQUESTS: &str = "/roleManagement/directory/roleAssignmentScheduleRequests";
const GROUP_REQUESTS: &str =
    "/identityGovernance/privilegedAccess/group/assignmentScheduleRequests";

/// How a tenant's warning starts when Microsoft Graph could not be read at all (Entra roles
/// and groups missing, Azure roles listed), e.g. an Azure CLI sign-in whose app has no Graph
/// PIM permissions.
pub const GRAPH_UNREADABLE: &str = "Entra roles and groups could not be read";

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
}

/// A role's write under way: while it lives, other writes to the role are refused; dropping
/// it (the write ended, failed or was cancelled) allows them again.
#[derive(Debug)]
struct WriteGuard {
    inner: Arc<Inner>,
    key: String,
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        self.inner
            .writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key);
    }
}

/// What re-reading found after a Graph write with an uncertain outcome.
enum Reconciled {
    /// The request, in the user's request list.
    Request(Box<GraphRequest>),
    /// The role is active (the request was carried out and is no longer listed as new).
    Active(Outcome),
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

    /// Receives every new snapshot (after refreshes and writes).
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.inner.tx.subscribe()
    }

    /// Starts a write to `role` (activate, extend, deactivate, cancel): one at a time per
    /// role, so a second click while one runs cannot send a second request. The returned
    /// guard ends it when dropped.
    fn begin_write(&self, role: &Role) -> Result<WriteGuard> {
        let key = role.key();
        let fresh = self
            .inner
            .writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.clone());
        if !fresh {
            return Err(Error::InvalidState {
                message: format!(
                    "a change to {} is already in progress; wait for it to finish",
                    role.describe()
                ),
            });
        }
        Ok(WriteGuard {
            inner: self.inner.clone(),
            key,
        })
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

    /// ARM `GET /tenants`, normalised (home first, no duplicates). `Ok(None)` when ARM could
    /// not list them for a reason other than sign-in or step-up.
    async fn discover_tenants(&self) -> Result<Option<Vec<Tenant>>> {
        let home = self.inner.home.clone();
        let list: Vec<Tenant> = match self.inner.arm.tenants(&home).await {
            Ok(ts) => ts
                .into_iter()
                .filter_map(|t| {
                    let id = t.tenant_id?;
                    let domain = t
                        .default_domain
                        .clone()
                        .or_else(|| t.domains.first().cloned());
                    Some(Tenant {
                        is_home: id.eq_ignore_ascii_case(&home),
                        display_name: t
                            .display_name
                            .clone()
                            .or(domain.clone())
                            .unwrap_or_else(|| id.clone()),
                        default_domain: domain,
                        domains: t.domains,
                        id,
                    })
                })
                .collect(),
            Err(e) if e.needs_user() => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "could not list tenants; using the home tenant only");
                return Ok(None);
            }
        };
        Ok(Some(normalise_tenants(&home, list)))
    }

    /// Records the session's tenant list: the discovered one, else the known one, else the
    /// home tenant alone. Notes a discovered list that differs from the known one.
    fn settle_tenants(&self, discovered: Option<Vec<Tenant>>) -> Vec<Tenant> {
        let mut c = self.caches();
        let known = c.known_tenants.take();
        let list = match discovered {
            Some(list) => {
                if known.as_ref() != Some(&list) {
                    c.tenants_changed = Some(list.clone());
                }
                list
            }
            None => known.unwrap_or_else(|| vec![Tenant::from_id(&self.inner.home, true)]),
        };
        c.tenants = Some(list.clone());
        list
    }

    /// Reads everything for every tenant (in parallel) and publishes the snapshot. Fails only
    /// when no tenant could be read at all (then with the home tenant's error, e.g.
    /// [`Error::SignInRequired`]).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn refresh(&self) -> Result<Snapshot> {
        let results = match self.take_known_tenants() {
            Some(known) => self.load_known_tenants(known).await?,
            None => {
                let tenants = self.tenants().await?;
                let futs = tenants
                    .iter()
                    .filter(|t| !self.is_hidden(&t.id))
                    .map(|t| self.load_tenant(t));
                futures::future::join_all(futs).await
            }
        };
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
        };
        self.inner.tx.send_replace(snapshot.clone());
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
        self.inner.tx.send_replace(s);
    }

    fn is_hidden(&self, tenant_id: &str) -> bool {
        let id = tenant_id.to_ascii_lowercase();
        self.caches().hidden.contains(&id)
    }

    /// The hidden tenants of the settled tenant list (ids alone for hidden ids not in it are
    /// left out: a tenant that is gone is not reported).
    fn hidden_of_list(&self) -> Vec<Tenant> {
        let c = self.caches();
        c.tenants
            .iter()
            .flatten()
            .filter(|t| c.hidden.contains(&t.id.to_ascii_lowercase()))
            .cloned()
            .collect()
    }

    /// The known tenants, when the tenant list is not settled yet (first refresh).
    fn take_known_tenants(&self) -> Option<Vec<Tenant>> {
        let c = self.caches();
        if c.tenants.is_some() {
            return None;
        }
        c.known_tenants.clone()
    }

    /// First refresh with a known tenant list: loads those tenants while re-discovering the
    /// list, then drops tenants that are gone and loads new ones (one more round trip, only
    /// then). Results follow the discovered list's order and names.
    async fn load_known_tenants(
        &self,
        known: Vec<Tenant>,
    ) -> Result<Vec<(TenantSnapshot, Option<Error>)>> {
        let loads = futures::future::join_all(
            known
                .iter()
                .filter(|t| !self.is_hidden(&t.id))
                .map(|t| self.load_tenant(t)),
        );
        let (discovered, mut loaded) = tokio::join!(self.discover_tenants(), loads);
        let list = self.settle_tenants(discovered?);
        let new: Vec<&Tenant> = list
            .iter()
            .filter(|t| !known.iter().any(|k| k.id.eq_ignore_ascii_case(&t.id)))
            .filter(|t| !self.is_hidden(&t.id))
            .collect();
        if !new.is_empty() {
            tracing::debug!(count = new.len(), "new tenants since the last run");
            loaded.extend(
                futures::future::join_all(new.into_iter().map(|t| self.load_tenant(t))).await,
            );
        }
        let mut results = Vec::with_capacity(list.len());
        for t in &list {
            let Some(i) = loaded
                .iter()
                .position(|(s, _)| s.tenant.id.eq_ignore_ascii_case(&t.id))
            else {
                continue;
            };
            let (mut snap, err) = loaded.swap_remove(i);
            if snap.tenant != *t {
                for r in &mut snap.roles {
                    r.tenant_name = t.display_name.clone();
                }
                snap.tenant = t.clone();
            }
            results.push((snap, err));
        }
        if !loaded.is_empty() {
            tracing::debug!(count = loaded.len(), "tenants gone since the last run");
        }
        Ok(results)
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
        self.inner.tx.send_replace(s.clone());
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

    /// The role's policy: from the session cache, the refresh batch (Entra roles), or read now
    /// (groups, Azure roles, Entra fallback). Never fails: an unreadable policy (403, 500) is
    /// [`PolicyInfo::Unknown`] and the service will still enforce it.
    #[instrument(skip(self, role), fields(role = %role.name), ret)]
    pub async fn policy(&self, role: &Role) -> PolicyInfo {
        let key = role.key();
        if let Some(p) = self.caches().policies.get(&key).cloned()
            && !matches!(p, PolicyInfo::NotLoaded)
        {
            return p;
        }
        if let PolicyInfo::Known(_) | PolicyInfo::Unknown { .. } = &role.policy {
            return role.policy.clone();
        }
        let res = match role.kind {
            RoleKind::EntraRole => self.entra_policy(role).await,
            RoleKind::Group => {
                self.inner
                    .graph
                    .group_policy(&role.tenant_id, &role.scope.id, &role.role_definition_id)
                    .await
            }
            RoleKind::AzureResource => {
                self.inner
                    .arm
                    .policy(&role.tenant_id, &role.scope.id, &role.role_definition_id)
                    .await
            }
        };
        let info = match res {
            Ok(p) => PolicyInfo::Known(p),
            Err(e) => {
                tracing::info!(error = %e, "policy unknown");
                PolicyInfo::Unknown {
                    reason: e.to_string(),
                }
            }
        };
        self.caches().policies.insert(key, info.clone());
        info
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
        self.inner.tx.send_replace(s.clone());
        s
    }

    async fn entra_policy(&self, role: &Role) -> Result<Policy> {
        let tkey = (
            role.tenant_id.to_ascii_lowercase(),
            role.role_definition_id.to_ascii_lowercase(),
        );
        let known_id = self.caches().entra_policy_ids.get(&tkey).cloned();
        if let Some(id) = known_id {
            return self.inner.graph.policy_rules(&role.tenant_id, &id).await;
        }
        let filter = format!(
            "$filter=scopeId%20eq%20'/'%20and%20scopeType%20eq%20'DirectoryRole'%20and%20roleDefinitionId%20eq%20'{}'",
            odata_literal(&role.role_definition_id)
        );
        let g = &self.inner.graph;
        let url = g.url(&format!(
            "/policies/roleManagementPolicyAssignments?{filter}&$expand=policy($expand=rules)"
        ));
        let items = match g.http.get_all(&role.tenant_id, Resource::Graph, &url).await {
            Ok(i) => i,
            Err(Error::Api {
                status: 500 | 400 | 501,
                ..
            }) => {
                let plain = g.url(&format!(
                    "/policies/roleManagementPolicyAssignments?{filter}"
                ));
                g.http
                    .get_all(&role.tenant_id, Resource::Graph, &plain)
                    .await?
            }
            Err(e) => return Err(e),
        };
        let pa = parse_items::<GraphPolicyAssignment>("policy assignments", items)
            .into_iter()
            .next()
            .ok_or_else(|| Error::InvalidResponse("no policy assignment for this role".into()))?;
        policy_from_assignment(g, &role.tenant_id, pa).await
    }

    // -----------------------------------------------------------------------------------
    // Loading

    async fn load_tenant(&self, t: &Tenant) -> (TenantSnapshot, Option<Error>) {
        let (g, a) = tokio::join!(self.load_graph(t), self.load_arm(t));
        let mut roles = Vec::new();
        let mut warnings = Vec::new();
        let mut error = None;
        let mut fatal = None;
        match (g, a) {
            (Ok((gr, gw)), Ok((ar, aw))) => {
                roles.extend(gr);
                roles.extend(ar);
                warnings.extend(gw);
                warnings.extend(aw);
            }
            (Ok((gr, gw)), Err(e)) => {
                roles.extend(gr);
                warnings.extend(gw);
                warnings.push(format!("Azure roles could not be read: {e}"));
                if t.is_home && matches!(e, Error::StepUpRequired { .. }) {
                    fatal = Some(e);
                }
            }
            (Err(e), Ok((ar, aw))) => {
                roles.extend(ar);
                warnings.extend(aw);
                warnings.push(format!("{GRAPH_UNREADABLE}: {e}"));
                if t.is_home && matches!(e, Error::StepUpRequired { .. }) {
                    fatal = Some(e);
                }
            }
            (Err(e), Err(_)) => {
                error = Some(TenantError {
                    code: e.code().to_owned(),
                    message: e.to_string(),
                });
                fatal = Some(e);
            }
        }
        let now = self.now();
        {
            let caches = self.caches();
            for r in &mut roles {
                r.tenant_name = t.display_name.clone();
                if let Some(p) = caches.policies.get(&r.key())
                    && !matches!(r.policy, PolicyInfo::Known(_))
                {
                    r.policy = p.clone();
                }
                r.recompute_state(now);
            }
        }
        roles.sort_by(|a, b| {
            (
                a.kind,
                a.name.to_lowercase(),
                a.scope.display_name.to_lowercase(),
            )
                .cmp(&(
                    b.kind,
                    b.name.to_lowercase(),
                    b.scope.display_name.to_lowercase(),
                ))
        });
        (
            TenantSnapshot {
                tenant: t.clone(),
                roles,
                error,
                warnings,
            },
            fatal,
        )
    }

    async fn load_graph(&self, t: &Tenant) -> Result<(Vec<Role>, Vec<String>)> {
        let g = &self.inner.graph;
        let tid = t.id.as_str();
        const ELIG: &str = "/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')";
        const ACT: &str = "/roleManagement/directory/roleAssignmentScheduleInstances/filterByCurrentUser(on='principal')";
        const GELIG: &str = "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances/filterByCurrentUser(on='principal')";
        const GACT: &str = "/identityGovernance/privilegedAccess/group/assignmentScheduleInstances/filterByCurrentUser(on='principal')";
        let with = |base: &str, alts: &[&str]| -> Vec<String> {
            alts.iter()
                .map(|q| {
                    if q.is_empty() {
                        base.to_owned()
                    } else {
                        format!("{base}?{q}")
                    }
                })
                .collect()
        };
        let policies = "/policies/roleManagementPolicyAssignments?$filter=scopeId%20eq%20'/'%20and%20scopeType%20eq%20'DirectoryRole'";
        let items = vec![
            BatchItem::new(
                "me",
                &[
                    "/me?$select=id,displayName,userPrincipalName".to_owned(),
                    "/me".to_owned(),
                ],
            ),
            BatchItem::new(
                "eligible",
                &with(
                    ELIG,
                    &[
                        "$expand=roleDefinition,directoryScope",
                        "$expand=roleDefinition",
                        "",
                    ],
                ),
            ),
            BatchItem::new(
                "active",
                &with(
                    ACT,
                    &[
                        "$expand=roleDefinition,directoryScope",
                        "$expand=roleDefinition",
                        "",
                    ],
                ),
            ),
            BatchItem::new(
                "requests",
                &[format!(
                    "{ROLE_REQUESTS}/filterByCurrentUser(on='principal')"
                )],
            ),
            BatchItem::new(
                "policies",
                &[
                    format!("{policies}&$expand=policy($expand=rules)"),
                    policies.to_owned(),
                ],
            ),
            BatchItem::new(
                "groupEligible",
                &with(GELIG, &["$expand=group($select=id,displayName)", ""]),
            ),
            BatchItem::new(
                "groupActive",
                &with(GACT, &["$expand=group($select=id,displayName)", ""]),
            ),
            BatchItem::new(
                "groupRequests",
                &[format!(
                    "{GROUP_REQUESTS}/filterByCurrentUser(on='principal')"
                )],
            ),
        ];
        let mut res = g.batch(tid, items).await;
        let mut take = |id: &str| -> Result<ItemOk> {
            res.remove(id)
                .unwrap_or_else(|| Err(Error::InvalidResponse(format!("no result for {id}"))))
        };
        let me = take("me");
        let (eligible, active, requests, policies_r, g_elig, g_act, g_req) = (
            take("eligible"),
            take("active"),
            take("requests"),
            take("policies"),
            take("groupEligible"),
            take("groupActive"),
            take("groupRequests"),
        );
        let policies_alt = policies_r.as_ref().map(|o| o.alternative).unwrap_or(0);
        // Token-level failures make the whole Graph part fail.
        for r in [&eligible, &active] {
            if let Err(e) = r
                && e.needs_user()
            {
                return Err(crate::graph::clone_error(e, e.code(), &e.to_string()));
            }
        }
        if let (Err(e1), Err(_), Err(_), Err(_)) = (&eligible, &active, &g_elig, &g_act) {
            return Err(crate::graph::clone_error(e1, e1.code(), &e1.to_string()));
        }
        let (eligible, active, requests, policies_v, g_elig, g_act, g_req) = tokio::join!(
            g.collect(tid, eligible),
            g.collect(tid, active),
            g.collect(tid, requests),
            g.collect(tid, policies_r),
            g.collect(tid, g_elig),
            g.collect(tid, g_act),
            g.collect(tid, g_req),
        );
        let mut warnings = Vec::new();
        if let Ok(ok) = me
            && let Ok(m) = serde_json::from_value::<GraphMe>(ok.body)
            && let Some(id) = m.id.clone()
        {
            let mut c = self.caches();
            c.principals.insert(tid.to_ascii_lowercase(), id.clone());
            if t.is_home {
                c.account = Some(Account {
                    id,
                    display_name: m.display_name,
                    user_principal_name: m.user_principal_name,
                });
            }
        }
        let now = self.now();
        let mut rows: Vec<Role> = Vec::new();

        // Entra roles.
        let mut warn = |what: &str, r: &Result<Vec<Value>>| {
            if let Err(e) = r {
                warnings.push(format!("{what} could not be read: {e}"));
            }
        };
        warn("Eligible Entra roles", &eligible);
        warn("Active Entra roles", &active);
        warn("Pending Entra role requests", &requests);
        warn("Eligible groups", &g_elig);
        warn("Active groups", &g_act);
        warn("Pending group requests", &g_req);

        let policy_map: Result<HashMap<String, PolicyInfo>> = policies_v.map(|items| {
            let mut m = HashMap::new();
            let mut c = self.caches();
            for pa in parse_items::<GraphPolicyAssignment>("policy assignments", items) {
                let Some(rid) = pa.role_definition_id.clone() else {
                    continue;
                };
                let rules = pa.policy.as_ref().and_then(|p| p.rules.clone());
                let pid = pa
                    .policy_id
                    .clone()
                    .or_else(|| pa.policy.as_ref().and_then(|p| p.id.clone()));
                match rules {
                    Some(rules) if policies_alt == 0 => {
                        let mut p = Policy::from_rules(&rules);
                        p.policy_id = pid;
                        m.insert(rid.to_ascii_lowercase(), PolicyInfo::Known(p));
                    }
                    _ => {
                        if let Some(pid) = pid {
                            c.entra_policy_ids
                                .insert((tid.to_ascii_lowercase(), rid.to_ascii_lowercase()), pid);
                        }
                    }
                }
            }
            m
        });
        let entra_policy = |rid: &str| -> PolicyInfo {
            match &policy_map {
                Ok(m) => m
                    .get(&rid.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or(PolicyInfo::NotLoaded),
                Err(e) => PolicyInfo::Unknown {
                    reason: e.to_string(),
                },
            }
        };

        for i in parse_items::<GraphRoleInstance>("eligible roles", eligible.unwrap_or_default()) {
            let Some(rid) = i.role_definition_id.clone() else {
                continue;
            };
            let mut r = entra_row(tid, &i, &rid);
            r.policy = entra_policy(&rid);
            r.eligibility = Some(EligibleRole {
                instance_id: i.id.clone(),
                schedule_id: i.role_eligibility_schedule_id.clone(),
                start: i.start_date_time,
                end: i.end_date_time,
                member_type: i.member_type.clone(),
            });
            upsert(&mut rows, r, |_, _| {});
        }
        for i in parse_items::<GraphRoleInstance>("active roles", active.unwrap_or_default()) {
            let Some(rid) = i.role_definition_id.clone() else {
                continue;
            };
            if i.end_date_time.is_some_and(|e| e <= now) {
                continue;
            }
            let mut r = entra_row(tid, &i, &rid);
            r.policy = entra_policy(&rid);
            let a = ActiveAssignment {
                instance_id: i.id.clone(),
                schedule_id: i.role_assignment_schedule_id.clone(),
                assignment_type: i.assignment_type.clone(),
                member_type: i.member_type.clone(),
                start: i.start_date_time,
                end: i.end_date_time,
                linked_eligibility_schedule_id: None,
            };
            r.assignment = Some(a.clone());
            upsert(&mut rows, r, move |existing, _| {
                merge_assignment(existing, a.clone())
            });
        }
        for q in parse_items::<GraphRequest>("role requests", requests.unwrap_or_default()) {
            let Some(sr) = graph_schedule_request(&q) else {
                continue;
            };
            if !is_open_activation(&sr, now) {
                continue;
            }
            let Some(rid) = q.role_definition_id.as_deref() else {
                continue;
            };
            let scope = q
                .app_scope_id
                .clone()
                .or(q
                    .directory_scope_id
                    .clone()
                    .filter(|s| !s.trim().is_empty()))
                .unwrap_or_else(|| "/".into());
            attach_request(&mut rows, RoleKind::EntraRole, tid, rid, &scope, None, sr);
        }

        self.resolve_scope_names(tid, &mut rows).await;
        self.resolve_role_names(tid, &mut rows).await;

        // Groups.
        let g_elig: Vec<GraphGroupInstance> =
            parse_items("eligible groups", g_elig.unwrap_or_default());
        let g_act: Vec<GraphGroupInstance> =
            parse_items("active groups", g_act.unwrap_or_default());
        self.resolve_group_names(tid, g_elig.iter().chain(g_act.iter()))
            .await;
        for i in &g_elig {
            let Some(r) = self.group_row(tid, i) else {
                continue;
            };
            let mut r = r;
            r.eligibility = Some(EligibleRole {
                instance_id: i.id.clone(),
                schedule_id: i.eligibility_schedule_id.clone(),
                start: i.start_date_time,
                end: i.end_date_time,
                member_type: i.member_type.clone(),
            });
            upsert(&mut rows, r, |_, _| {});
        }
        for i in &g_act {
            if i.end_date_time.is_some_and(|e| e <= now) {
                continue;
            }
            let Some(mut r) = self.group_row(tid, i) else {
                continue;
            };
            let a = ActiveAssignment {
                instance_id: i.id.clone(),
                schedule_id: i.assignment_schedule_id.clone(),
                assignment_type: i.assignment_type.clone(),
                member_type: i.member_type.clone(),
                start: i.start_date_time,
                end: i.end_date_time,
                linked_eligibility_schedule_id: None,
            };
            r.assignment = Some(a.clone());
            upsert(&mut rows, r, move |existing, _| {
                merge_assignment(existing, a.clone())
            });
        }
        for q in parse_items::<GraphRequest>("group requests", g_req.unwrap_or_default()) {
            let Some(sr) = graph_schedule_request(&q) else {
                continue;
            };
            if !is_open_activation(&sr, now) {
                continue;
            }
            let (Some(gid), Some(acc)) = (q.group_id.as_deref(), q.access_id.as_ref()) else {
                continue;
            };
            attach_request(
                &mut rows,
                RoleKind::Group,
                tid,
                acc.as_str(),
                gid,
                Some(acc),
                sr,
            );
        }
        Ok((rows, warnings))
    }

    /// Names Entra roles that came without `roleDefinition` (no `$expand` support), with one
    /// `$batch` of `GET /roleManagement/directory/roleDefinitions/{id}`; failures keep the id.
    async fn resolve_role_names(&self, tid: &str, rows: &mut [Role]) {
        let tl = tid.to_ascii_lowercase();
        let mut missing: Vec<String> = Vec::new();
        {
            let c = self.caches();
            for r in rows.iter_mut() {
                if r.kind != RoleKind::EntraRole || r.name != r.role_definition_id {
                    continue;
                }
                if let Some(n) = c
                    .role_names
                    .get(&(tl.clone(), r.role_definition_id.to_ascii_lowercase()))
                {
                    r.name = n.clone();
                } else if !missing.contains(&r.role_definition_id) {
                    missing.push(r.role_definition_id.clone());
                }
            }
        }
        // An id that is no path segment keeps its id as its name.
        missing.retain(|id| crate::graph::id_segment(id).is_ok());
        if missing.is_empty() {
            return;
        }
        let urls = missing
            .iter()
            .map(|id| {
                format!(
                    "/roleManagement/directory/roleDefinitions/{}?$select=id,displayName",
                    crate::graph::path_segment(id)
                )
            })
            .collect();
        let names = self.batch_display_names(tid, urls).await;
        let mut c = self.caches();
        for (id, name) in missing.iter().zip(names) {
            let name = name.unwrap_or_else(|| id.clone());
            c.role_names
                .insert((tl.clone(), id.to_ascii_lowercase()), name.clone());
            for r in rows
                .iter_mut()
                .filter(|r| r.kind == RoleKind::EntraRole && r.role_definition_id == *id)
            {
                r.name = name.clone();
            }
        }
    }

    /// Names Azure roles and scopes that came without `expandedProperties`: the role
    /// definition's `roleName`, the subscription's `displayName` (GETs in parallel, cached),
    /// the last path segment for resource groups and resources.
    async fn resolve_arm_names(&self, tid: &str, rows: &mut [Role]) {
        let tl = tid.to_ascii_lowercase();
        let mut fetch: Vec<(String, String)> = Vec::new(); // (cache key, url)
        let arm_base = self
            .inner
            .arm
            .http
            .endpoints
            .arm
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        {
            let c = self.caches();
            for r in rows.iter() {
                if r.kind != RoleKind::AzureResource {
                    continue;
                }
                if r.name
                    .eq_ignore_ascii_case(&last_segment(&r.role_definition_id))
                {
                    let k = r.role_definition_id.to_ascii_lowercase();
                    if !c.role_names.contains_key(&(tl.clone(), k.clone()))
                        && !fetch.iter().any(|(x, _)| *x == k)
                        && let Ok(path) = crate::arm::arm_path(&r.role_definition_id)
                    {
                        fetch.push((k, format!("{arm_base}{path}?api-version=2022-04-01")));
                    }
                }
                if r.scope.display_name == r.scope.id && r.scope.kind == ScopeKind::Subscription {
                    let k = r.scope.id.to_ascii_lowercase();
                    if !c.role_names.contains_key(&(tl.clone(), k.clone()))
                        && !fetch.iter().any(|(x, _)| *x == k)
                        && let Ok(path) = crate::arm::arm_path(&r.scope.id)
                    {
                        fetch.push((k, format!("{arm_base}{path}?api-version=2020-01-01")));
                    }
                }
            }
        }
        if !fetch.is_empty() {
            let http = &self.inner.arm.http;
            let results = futures::future::join_all(
                fetch
                    .iter()
                    .map(|(_, url)| http.get_json(tid, Resource::Arm, url)),
            )
            .await;
            let mut c = self.caches();
            for ((k, _), r) in fetch.iter().zip(results) {
                let name = r.ok().and_then(|v| {
                    v.pointer("/properties/roleName")
                        .or_else(|| v.get("displayName"))
                        .or_else(|| v.pointer("/properties/displayName"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
                if let Some(n) = name {
                    c.role_names.insert((tl.clone(), k.clone()), n);
                }
            }
        }
        let c = self.caches();
        for r in rows
            .iter_mut()
            .filter(|r| r.kind == RoleKind::AzureResource)
        {
            if r.name
                .eq_ignore_ascii_case(&last_segment(&r.role_definition_id))
                && let Some(n) = c
                    .role_names
                    .get(&(tl.clone(), r.role_definition_id.to_ascii_lowercase()))
            {
                r.name = n.clone();
            }
            if r.scope.display_name == r.scope.id {
                if let Some(n) = c
                    .role_names
                    .get(&(tl.clone(), r.scope.id.to_ascii_lowercase()))
                {
                    r.scope.display_name = n.clone();
                } else if r.scope.kind != ScopeKind::Subscription
                    && let Some(seg) = r
                        .scope
                        .id
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .filter(|s| !s.is_empty())
                {
                    r.scope.display_name = seg.to_owned();
                }
            }
        }
    }

    /// Names directory scopes (administrative units, other objects) that came without a
    /// display name (no `$expand=directoryScope`), with one `$batch`; failures keep the id.
    async fn resolve_scope_names(&self, tid: &str, rows: &mut [Role]) {
        let tl = tid.to_ascii_lowercase();
        let mut missing: Vec<String> = Vec::new();
        {
            let c = self.caches();
            for r in rows.iter_mut() {
                if r.kind != RoleKind::EntraRole || r.scope.kind == ScopeKind::Directory {
                    continue;
                }
                let k = (tl.clone(), r.scope.id.to_ascii_lowercase());
                if r.scope.display_name != r.scope.id {
                    continue;
                }
                if let Some(n) = c.scope_names.get(&k) {
                    r.scope.display_name = n.clone();
                } else if !missing.contains(&r.scope.id) {
                    missing.push(r.scope.id.clone());
                }
            }
        }
        let url_of = |id: &str| {
            let bare = id.trim_start_matches('/');
            match bare.split_once('/') {
                Some((coll, oid)) if coll.eq_ignore_ascii_case("administrativeUnits") => {
                    crate::graph::id_segment(oid).map(|oid| {
                        format!("/directory/administrativeUnits/{oid}?$select=id,displayName")
                    })
                }
                _ => crate::graph::id_segment(bare.rsplit('/').next().unwrap_or(bare))
                    .map(|oid| format!("/directoryObjects/{oid}?$select=id,displayName")),
            }
        };
        // A scope whose object id is no path segment keeps its id as its name.
        missing.retain(|id| url_of(id).is_ok());
        if missing.is_empty() {
            return;
        }
        let urls = missing.iter().filter_map(|id| url_of(id).ok()).collect();
        let names = self.batch_display_names(tid, urls).await;
        let mut c = self.caches();
        for (id, name) in missing.iter().zip(names) {
            let name = name.unwrap_or_else(|| id.clone());
            c.scope_names
                .insert((tl.clone(), id.to_ascii_lowercase()), name.clone());
            for r in rows.iter_mut().filter(|r| r.scope.id == *id) {
                r.scope.display_name = name.clone();
            }
        }
    }

    /// The `displayName` of each object at `urls` (Graph paths), read in one `$batch`, in
    /// order; `None` where the service gave none (then the caller shows the id).
    async fn batch_display_names(&self, tid: &str, urls: Vec<String>) -> Vec<Option<String>> {
        let items: Vec<BatchItem> = urls
            .iter()
            .enumerate()
            .map(|(n, url)| BatchItem::new(&format!("n{n}"), std::slice::from_ref(url)))
            .collect();
        let res = self.inner.graph.batch(tid, items).await;
        urls.iter()
            .enumerate()
            .map(|(n, url)| match res.get(&format!("n{n}")) {
                Some(Ok(ok)) => ok
                    .body
                    .get("displayName")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                Some(Err(e)) => {
                    tracing::info!(%url, error = %e, "display name unavailable; showing the id");
                    None
                }
                None => None,
            })
            .collect()
    }

    fn group_row(&self, tid: &str, i: &GraphGroupInstance) -> Option<Role> {
        let gid = i.group_id.clone()?;
        let access = i.access_id.clone().unwrap_or(AccessId::Member);
        let name = i
            .group
            .as_ref()
            .and_then(|g| g.display_name.clone())
            .or_else(|| {
                self.caches()
                    .group_names
                    .get(&(tid.to_ascii_lowercase(), gid.to_ascii_lowercase()))
                    .cloned()
            })
            .unwrap_or_else(|| gid.clone());
        Some(Role {
            kind: RoleKind::Group,
            tenant_id: tid.to_owned(),
            tenant_name: String::new(),
            name: name.clone(),
            role_definition_id: access.as_str().to_owned(),
            scope: Scope {
                id: gid,
                display_name: name,
                kind: ScopeKind::Group,
            },
            app_scope_id: None,
            access: Some(access),
            state: RoleState::Eligible,
            eligibility: None,
            assignment: None,
            pending: Vec::new(),
            policy: PolicyInfo::NotLoaded,
        })
    }

    /// Fills the group-name cache for groups whose name did not come with the payload, with
    /// one `$batch` of `GET /groups/{id}`; failures leave the id as the name.
    async fn resolve_group_names<'a>(
        &self,
        tid: &str,
        items: impl Iterator<Item = &'a GraphGroupInstance>,
    ) {
        let mut missing = Vec::new();
        {
            let mut c = self.caches();
            for i in items {
                let Some(gid) = &i.group_id else { continue };
                let k = (tid.to_ascii_lowercase(), gid.to_ascii_lowercase());
                if let Some(n) = i.group.as_ref().and_then(|g| g.display_name.clone()) {
                    c.group_names.insert(k, n);
                } else if !c.group_names.contains_key(&k) && !missing.contains(gid) {
                    missing.push(gid.clone());
                }
            }
        }
        // A group id that is no path segment keeps its id as its name.
        missing.retain(|gid| crate::graph::id_segment(gid).is_ok());
        if missing.is_empty() {
            return;
        }
        let urls = missing
            .iter()
            .map(|gid| {
                format!(
                    "/groups/{}?$select=id,displayName",
                    crate::graph::path_segment(gid)
                )
            })
            .collect();
        let names = self.batch_display_names(tid, urls).await;
        let mut c = self.caches();
        for (gid, name) in missing.iter().zip(names) {
            c.group_names.insert(
                (tid.to_ascii_lowercase(), gid.to_ascii_lowercase()),
                name.unwrap_or_else(|| gid.clone()),
            );
        }
    }

    async fn load_arm(&self, t: &Tenant) -> Result<(Vec<Role>, Vec<String>)> {
        let arm = &self.inner.arm;
        let tid = t.id.as_str();
        let (elig, act, reqs) = tokio::join!(
            arm.eligibility(tid),
            arm.assignments(tid),
            arm.requests_provider(tid)
        );
        let mut warnings = Vec::new();
        let now = self.now();
        let (elig, act) = match (elig, act) {
            (Err(e), Err(_)) => return Err(e),
            (e, a) => (e, a),
        };
        let elig = elig.unwrap_or_else(|e| {
            warnings.push(format!("Eligible Azure roles could not be read: {e}"));
            Vec::new()
        });
        let act = act.unwrap_or_else(|e| {
            warnings.push(format!("Active Azure roles could not be read: {e}"));
            Vec::new()
        });
        let mut rows: Vec<Role> = Vec::new();
        let mut scopes: Vec<String> = Vec::new();
        for e in &elig {
            let Some(p) = &e.properties else { continue };
            let Some(r) = arm_row(tid, p) else { continue };
            if !scopes.iter().any(|s| s.eq_ignore_ascii_case(&r.scope.id)) {
                scopes.push(r.scope.id.clone());
            }
            let mut r = r;
            r.eligibility = Some(EligibleRole {
                instance_id: e.name.clone().or(e.id.clone()),
                schedule_id: p.role_eligibility_schedule_id.clone(),
                start: p.start_date_time,
                end: p.end_date_time,
                member_type: p.member_type.clone(),
            });
            upsert(&mut rows, r, |_, _| {});
        }
        for a in &act {
            let Some(p) = &a.properties else { continue };
            if p.end_date_time.is_some_and(|e| e <= now) {
                continue;
            }
            let Some(mut r) = arm_row(tid, p) else {
                continue;
            };
            let linked = p
                .linked_role_eligibility_schedule_id
                .as_deref()
                .map(last_segment);
            let asg = ActiveAssignment {
                instance_id: a.name.clone().or(a.id.clone()),
                schedule_id: p.role_assignment_schedule_id.clone(),
                assignment_type: p.assignment_type.clone(),
                member_type: p.member_type.clone(),
                start: p.start_date_time,
                end: p.end_date_time,
                linked_eligibility_schedule_id: linked.clone(),
            };
            // Match by linked eligibility schedule (last segment) first, then by key.
            if let Some(l) = &linked
                && let Some(row) = rows.iter_mut().find(|x| {
                    x.eligibility
                        .as_ref()
                        .and_then(|e| e.schedule_id.as_deref())
                        .is_some_and(|s| last_segment(s) == *l)
                })
            {
                merge_assignment(row, asg);
                continue;
            }
            r.assignment = Some(asg.clone());
            upsert(&mut rows, r, move |existing, _| {
                merge_assignment(existing, asg.clone())
            });
        }
        let reqs = match reqs {
            Ok(Some(r)) => r,
            Ok(None) => arm.requests_at(tid, &scopes).await,
            Err(e) => {
                warnings.push(format!("Pending Azure requests could not be read: {e}"));
                Vec::new()
            }
        };
        self.resolve_arm_names(tid, &mut rows).await;
        for q in reqs {
            let Some(p) = &q.properties else { continue };
            let Some(sr) = arm_schedule_request(&q) else {
                continue;
            };
            if !is_open_activation(&sr, now) {
                continue;
            }
            let (Some(rid), Some(scope)) = (p.role_definition_id.as_deref(), p.scope.as_deref())
            else {
                continue;
            };
            attach_request(
                &mut rows,
                RoleKind::AzureResource,
                tid,
                rid,
                scope,
                None,
                sr,
            );
        }
        Ok((rows, warnings))
    }

    // -----------------------------------------------------------------------------------
    // Writes

    async fn principal_id(&self, tenant: &str) -> Result<String> {
        if let Some(p) = self
            .caches()
            .principals
            .get(&tenant.to_ascii_lowercase())
            .cloned()
        {
            return Ok(p);
        }
        let http = &self.inner.graph.http;
        let tok = http
            .tokens
            .access_token(&TokenRequest {
                tenant_id: tenant.to_owned(),
                resource: Resource::Graph,
                scope: http.endpoints.graph_scope.clone(),
                claims: None,
                force_refresh: false,
            })
            .await?;
        let oid = jwt_claim(tok.token.expose(), "oid");
        let id = match oid {
            Some(o) => o,
            None => {
                let v = http
                    .get_json(
                        tenant,
                        Resource::Graph,
                        &self.inner.graph.url("/me?$select=id"),
                    )
                    .await?;
                v.get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        Error::InvalidResponse(
                            "cannot tell who is signed in (no id from /me)".into(),
                        )
                    })?
            }
        };
        self.caches()
            .principals
            .insert(tenant.to_ascii_lowercase(), id.clone());
        Ok(id)
    }

    /// Activates an eligible role. Checks the known policy first (missing justification or
    /// ticket, duration over the maximum or under 5 minutes → [`Error::PolicyViolation`]
    /// before anything is sent). Duration defaults to [`default_duration`]; start defaults to
    /// now (server time). Returns the outcome (active until, pending approval, scheduled).
    #[instrument(skip(self, role, req), fields(role = %role.describe()), err(level = "debug"))]
    pub async fn activate(&self, role: &Role, req: ActivationRequest) -> Result<Outcome> {
        let _write = self.begin_write(role)?;
        if role.eligibility.is_none() {
            return Err(Error::InvalidState {
                message: format!(
                    "{} is not an eligibility you can activate (it is {})",
                    role.describe(),
                    if role.assignment.is_some() {
                        "assigned to you directly"
                    } else {
                        "not eligible"
                    }
                ),
            });
        }
        if let Some(a) = &role.assignment
            && a.is_activation()
        {
            return Err(Error::InvalidState {
                message: format!(
                    "{} is already active{}; use extend to get more time",
                    role.describe(),
                    a.end
                        .map(|e| format!(" until {}", format_datetime(e)))
                        .unwrap_or_default()
                ),
            });
        }
        if let Some(p) = role.pending.iter().find(|p| p.status.needs_decision()) {
            return Err(Error::InvalidState {
                message: format!(
                    "a request for {} is already waiting for approval (request {}); cancel it first",
                    role.describe(),
                    p.id
                ),
            });
        }
        let policy = self.policy(role).await;
        validate(&role.label(), policy.known(), &req)?;
        let duration = req
            .duration
            .unwrap_or_else(|| default_duration(policy.known()));
        check_end(self.start_time(&req), duration)?;
        let claims = self.proactive_step_up(role, policy.known()).await?;
        let outcome = self.activate_checked(role, &req, duration, claims).await?;
        Ok(self.settle(role, outcome).await)
    }

    /// Proactive step-up: when the role's known policy names an authentication context or
    /// MFA, obtains once a token carrying exactly those claims before the write is sent
    /// (silently when the sign-in already satisfies them; otherwise through the token source's
    /// interactive sign-in or the [`StepUpHook`]). Returns the claims the write must be sent
    /// with, or `None` (nothing required, or it could not be obtained ahead: the service's
    /// answer then drives the reactive step-up).
    async fn proactive_step_up(
        &self,
        role: &Role,
        policy: Option<&Policy>,
    ) -> Result<Option<String>> {
        let Some(claims) = policy.and_then(policy_claims) else {
            return Ok(None);
        };
        let resource = resource_of(role);
        let http = &self.inner.graph.http;
        let req = TokenRequest {
            tenant_id: role.tenant_id.clone(),
            resource,
            scope: http.scope(resource),
            claims: Some(claims.clone()),
            force_refresh: false,
        };
        match http.tokens.access_token(&req).await {
            Ok(_) => Ok(Some(claims)),
            Err(Error::StepUpRequired { .. }) => match &self.inner.step_up {
                Some(h) => {
                    tracing::info!(role = %role.describe(), "policy asks for a step-up before activation");
                    h.step_up(&role.tenant_id, resource, &claims).await?;
                    Ok(Some(claims))
                }
                None => Ok(None),
            },
            Err(e) => {
                tracing::debug!(error = %e, "cannot obtain the step-up token ahead; sending without it");
                Ok(None)
            }
        }
    }

    async fn activate_checked(
        &self,
        role: &Role,
        req: &ActivationRequest,
        duration: PimDuration,
        mut claims: Option<String>,
    ) -> Result<Outcome> {
        for attempt in 0..2 {
            match self
                .send_activation(role, req, duration, Action::SelfActivate, claims.clone())
                .await
            {
                Err(Error::StepUpRequired {
                    resource,
                    claims: c,
                }) if attempt == 0 && self.inner.step_up.is_some() => {
                    if let Some(h) = &self.inner.step_up {
                        h.step_up(&role.tenant_id, resource, &c).await?;
                    }
                    claims = Some(c);
                }
                other => return other,
            }
        }
        Err(Error::InvalidState {
            message: "step-up did not satisfy the service".into(),
        })
    }

    fn start_time(&self, req: &ActivationRequest) -> OffsetDateTime {
        req.start.unwrap_or_else(|| self.inner.time.server_now())
    }

    /// Sends a selfActivate/selfExtend with the given claims; reconciles uncertain outcomes.
    async fn send_activation(
        &self,
        role: &Role,
        req: &ActivationRequest,
        duration: PimDuration,
        action: Action,
        claims: Option<String>,
    ) -> Result<Outcome> {
        let principal = self.principal_id(&role.tenant_id).await?;
        let start = self.start_time(req);
        let tid = role.tenant_id.as_str();
        let sent_at = self.inner.time.server_now();
        match role.kind {
            RoleKind::EntraRole | RoleKind::Group => {
                let (path, body) =
                    graph_body(role, &principal, &action, Some((start, duration)), req);
                let first = self
                    .inner
                    .graph
                    .post_request(tid, path, body.clone(), claims.clone())
                    .await;
                let r = match first {
                    Ok(r) => r,
                    Err(Failure::Definite(e)) => return Err(e),
                    // The service answered that it is unavailable: it most likely did not
                    // take the request. Check once, then send it again.
                    Err(Failure::Uncertain(e @ Error::Api { status: 503, .. })) => {
                        tracing::warn!(error = %e, "service unavailable; checking before sending again");
                        if let Some(found) =
                            self.find_graph_request(role, path, &action, sent_at).await
                        {
                            found
                        } else if let Some(o) = self.active_now(role).await {
                            return Ok(o);
                        } else {
                            match self.inner.graph.post_request(tid, path, body, claims).await {
                                Ok(r) => r,
                                Err(f) => {
                                    let e = second_attempt_error(f);
                                    if is_code(&e, "RoleAssignmentExists") {
                                        return Ok(Outcome::Active {
                                            until: None,
                                            request_id: String::new(),
                                        });
                                    }
                                    return Err(e);
                                }
                            }
                        }
                    }
                    // The request may well have been carried out (the answer was lost, timed
                    // out or was a server error): look for it, never send it again.
                    Err(Failure::Uncertain(e)) => {
                        tracing::warn!(error = %e, "activation outcome uncertain; reconciling by re-reading");
                        match self.reconcile_graph(role, path, &action, sent_at).await {
                            Some(Reconciled::Request(found)) => *found,
                            Some(Reconciled::Active(o)) => return Ok(o),
                            None => {
                                return Err(Error::Uncertain {
                                    detail: e.to_string(),
                                });
                            }
                        }
                    }
                };
                // A 2xx without a usable body still means "accepted": settle() will look.
                let sr = graph_schedule_request(&r).unwrap_or_else(|| unknown_request(""));
                outcome_of(&sr, self.now(), start, duration)
            }
            RoleKind::AzureResource => {
                let name = uuid::Uuid::new_v4().to_string();
                let body = arm_body(role, &principal, &action, Some((start, duration)), req);
                let r = self.arm_put(role, &name, body, claims).await?;
                let sr = arm_schedule_request(&r).unwrap_or_else(|| unknown_request(&name));
                outcome_of(&sr, self.now(), start, duration)
            }
        }
    }

    /// ARM PUT with reconciliation by name: on an uncertain outcome, GET the same name; when it
    /// does not exist, PUT again with the same name (idempotent). `RoleAssignmentExists` /
    /// `RoleAssignmentDoesNotExist` after an uncertain first attempt count as success.
    async fn arm_put(
        &self,
        role: &Role,
        name: &str,
        body: Value,
        claims: Option<String>,
    ) -> Result<ArmResource<ArmRequestProps>> {
        let arm = &self.inner.arm;
        let tid = role.tenant_id.as_str();
        let scope = role.scope.id.as_str();
        match arm
            .put_request(tid, scope, name, body.clone(), claims.clone())
            .await
        {
            Ok(r) => Ok(r),
            Err(Failure::Definite(e)) => Err(e),
            Err(Failure::Uncertain(e)) => {
                tracing::warn!(error = %e, request = name, "ARM request outcome uncertain; checking by name");
                if let Some(r) = arm.get_request(tid, scope, name).await? {
                    return Ok(r);
                }
                match arm.put_request(tid, scope, name, body, claims).await {
                    Ok(r) => Ok(r),
                    Err(f) => {
                        let e = second_attempt_error(f);
                        if is_code(&e, "RoleAssignmentExists")
                            || is_code(&e, "RoleAssignmentDoesNotExist")
                        {
                            return Ok(ArmResource {
                                id: None,
                                name: Some(name.to_owned()),
                                properties: Some(ArmRequestProps {
                                    status: Some(RequestStatus::Provisioned),
                                    ..Default::default()
                                }),
                            });
                        }
                        Err(e)
                    }
                }
            }
        }
    }

    /// Newest of my requests matching role, scope and action created since `since` - 5 min.
    async fn find_graph_request(
        &self,
        role: &Role,
        path: &str,
        action: &Action,
        since: OffsetDateTime,
    ) -> Option<GraphRequest> {
        let list = self
            .inner
            .graph
            .my_requests(&role.tenant_id, path)
            .await
            .ok()?;
        let from = since.saturating_sub(time::Duration::minutes(5));
        list.into_iter()
            .filter(|q| q.action.as_ref() == Some(action))
            .filter(|q| match role.kind {
                RoleKind::Group => {
                    q.group_id
                        .as_deref()
                        .is_some_and(|g| g.eq_ignore_ascii_case(&role.scope.id))
                        && q.access_id.as_ref() == role.access.as_ref()
                }
                _ => {
                    q.role_definition_id
                        .as_deref()
                        .is_some_and(|r| r.eq_ignore_ascii_case(&role.role_definition_id))
                        && q.app_scope_id
                            .clone()
                            .or(q
                                .directory_scope_id
                                .clone()
                                .filter(|s| !s.trim().is_empty()))
                            .unwrap_or_else(|| "/".into())
                            .eq_ignore_ascii_case(
                                role.app_scope_id.as_deref().unwrap_or(&role.scope.id),
                            )
                }
            })
            .filter(|q| q.created_date_time.is_none_or(|c| c >= from))
            .max_by_key(|q| q.created_date_time)
    }

    /// After a Graph activation or extension with an uncertain outcome: looks for the
    /// request in the user's request list, and at the role's state, until one shows it or
    /// [`SessionOptions::reconcile`] passes. There is no idempotency key for Graph requests
    /// and the list can lag behind the write: a second POST could make a second request, so
    /// `None` (nothing found) is reported as an unknown outcome, never sent again.
    async fn reconcile_graph(
        &self,
        role: &Role,
        path: &str,
        action: &Action,
        since: OffsetDateTime,
    ) -> Option<Reconciled> {
        let deadline = tokio::time::Instant::now() + self.inner.reconcile;
        let mut wait = Duration::from_millis(250);
        loop {
            if let Some(found) = self.find_graph_request(role, path, action, since).await {
                return Some(Reconciled::Request(Box::new(found)));
            }
            if let Some(o) = self.active_now(role).await {
                return Some(Reconciled::Active(o));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                tracing::warn!(role = %role.describe(), "the uncertain request did not show up; its outcome is unknown");
                return None;
            }
            tracing::debug!(
                ?wait,
                "the uncertain request is not listed yet; looking again"
            );
            tokio::time::sleep(wait.min(deadline - now)).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }

    /// After an uncertain activation: is the role active now? (re-reads the tenant)
    async fn active_now(&self, role: &Role) -> Option<Outcome> {
        let snap = self.refresh_tenant(&role.tenant_id).await.ok()?;
        let r = snap.by_key(&role.key())?;
        let a = r.assignment.as_ref()?;
        Some(Outcome::Active {
            until: a.end,
            request_id: String::new(),
        })
    }

    /// Re-reads the role's tenant until the outcome shows (or `settle` passes), publishes the
    /// snapshot, and fills in the real end time.
    async fn settle(&self, role: &Role, outcome: Outcome) -> Outcome {
        let deadline = tokio::time::Instant::now() + self.inner.settle;
        loop {
            let snap = match self.refresh_tenant(&role.tenant_id).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "refresh after the write failed");
                    return outcome;
                }
            };
            let row = snap.by_key(&role.key());
            let done = match (&outcome, row) {
                (
                    Outcome::Active { request_id, .. } | Outcome::Submitted { request_id, .. },
                    Some(r),
                ) => {
                    if let Some(a) = r
                        .assignment
                        .as_ref()
                        .filter(|a| a.is_activation() || role.assignment.is_none())
                    {
                        return Outcome::Active {
                            until: a.end,
                            request_id: request_id.clone(),
                        };
                    }
                    false
                }
                (Outcome::Deactivated { .. }, Some(r)) => r.assignment.is_none(),
                (Outcome::Deactivated { .. }, None) => true,
                _ => true,
            };
            if done || tokio::time::Instant::now() >= deadline {
                return outcome;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Deactivates an activation (not an admin assignment). Refused within 5 minutes of the
    /// activation's start ([`Error::TooEarly`]) without sending anything.
    #[instrument(skip(self, role), fields(role = %role.describe()), err(level = "debug"))]
    pub async fn deactivate(&self, role: &Role) -> Result<Outcome> {
        let _write = self.begin_write(role)?;
        self.check_deactivatable(role)?;
        let outcome = self.deactivate_checked(role).await?;
        Ok(self.settle(role, outcome).await)
    }

    fn check_deactivatable(&self, role: &Role) -> Result<()> {
        let Some(a) = &role.assignment else {
            return Err(Error::InvalidState {
                message: format!("{} is not active; nothing to deactivate", role.describe()),
            });
        };
        if !a.is_activation() {
            return Err(Error::InvalidState {
                message: format!(
                    "{} is assigned to you by an administrator ({}), not activated; it cannot be deactivated here",
                    role.describe(),
                    a.end
                        .map(|e| format!("until {}", format_datetime(e)))
                        .unwrap_or_else(|| "permanent".into())
                ),
            });
        }
        if matches!(a.member_type, Some(MemberType::Group)) {
            return Err(Error::InvalidState {
                message: format!(
                    "{} is active through a group; deactivate the group membership instead",
                    role.describe()
                ),
            });
        }
        // A start so late that 5 minutes more leave the calendar: the service decides.
        if let Some(earliest) = a
            .start
            .and_then(|start| start.checked_add(time::Duration::minutes(5)))
        {
            let now = self.now();
            if now < earliest {
                let wait = PimDuration::from_time(earliest - now);
                return Err(Error::TooEarly {
                    message: format!(
                        "{} was activated less than 5 minutes ago; PIM allows deactivation from {} (in {wait})",
                        role.describe(),
                        format_datetime(earliest)
                    ),
                    retry_at: Some(earliest),
                });
            }
        }
        Ok(())
    }

    async fn deactivate_checked(&self, role: &Role) -> Result<Outcome> {
        let mut claims: Option<String> = None;
        for attempt in 0..2 {
            match self.send_deactivation(role, claims.clone()).await {
                Err(Error::StepUpRequired {
                    resource,
                    claims: c,
                }) if attempt == 0 && self.inner.step_up.is_some() => {
                    if let Some(h) = &self.inner.step_up {
                        h.step_up(&role.tenant_id, resource, &c).await?;
                    }
                    claims = Some(c);
                }
                other => return other,
            }
        }
        Err(Error::InvalidState {
            message: "step-up did not satisfy the service".into(),
        })
    }

    async fn send_deactivation(&self, role: &Role, claims: Option<String>) -> Result<Outcome> {
        let principal = self.principal_id(&role.tenant_id).await?;
        let tid = role.tenant_id.as_str();
        let req = ActivationRequest::default();
        match role.kind {
            RoleKind::EntraRole | RoleKind::Group => {
                let (path, body) =
                    graph_body(role, &principal, &Action::SelfDeactivate, None, &req);
                match self
                    .inner
                    .graph
                    .post_request(tid, path, body.clone(), claims.clone())
                    .await
                {
                    Ok(r) => Ok(Outcome::Deactivated {
                        request_id: r.id.unwrap_or_default(),
                    }),
                    Err(Failure::Definite(e)) => Err(e),
                    Err(Failure::Uncertain(e)) => {
                        tracing::warn!(error = %e, "deactivation outcome uncertain; re-reading");
                        if self.active_now(role).await.is_none() {
                            return Ok(Outcome::Deactivated {
                                request_id: String::new(),
                            });
                        }
                        match self.inner.graph.post_request(tid, path, body, claims).await {
                            Ok(r) => Ok(Outcome::Deactivated {
                                request_id: r.id.unwrap_or_default(),
                            }),
                            Err(f) => {
                                let e = second_attempt_error(f);
                                if is_code(&e, "RoleAssignmentDoesNotExist") {
                                    Ok(Outcome::Deactivated {
                                        request_id: String::new(),
                                    })
                                } else {
                                    Err(e)
                                }
                            }
                        }
                    }
                }
            }
            RoleKind::AzureResource => {
                let name = uuid::Uuid::new_v4().to_string();
                let body = arm_body(role, &principal, &Action::SelfDeactivate, None, &req);
                let r = self.arm_put(role, &name, body, claims).await?;
                Ok(Outcome::Deactivated {
                    request_id: r.name.unwrap_or(name),
                })
            }
        }
    }

    /// More time. On an activation: deactivate, then activate again for the requested
    /// duration (contract A.6), after checking the policy and the 5-minute rule so nothing is
    /// lost to a refusal; justification and ticket default to those of the last activation
    /// request. On an admin assignment ending within 14 days: a `selfExtend` request, decided
    /// by an administrator.
    #[instrument(skip(self, role, req), fields(role = %role.describe()), err(level = "debug"))]
    pub async fn extend(&self, role: &Role, req: ActivationRequest) -> Result<Outcome> {
        let _write = self.begin_write(role)?;
        let Some(a) = role.assignment.clone() else {
            return Err(Error::InvalidState {
                message: format!("{} is not active; activate it instead", role.describe()),
            });
        };
        let policy = self.policy(role).await;
        if a.is_activation() {
            let mut req = req;
            if (req.justification.is_none() || req.ticket.is_none())
                && let Some(prev) = self.last_activation(role).await
            {
                if req.justification.is_none() {
                    req.justification = prev.justification;
                }
                if req.ticket.is_none() {
                    req.ticket = prev.ticket;
                }
            }
            req.start = None;
            validate(&role.label(), policy.known(), &req)?;
            self.check_deactivatable(role)?;
            let duration = req
                .duration
                .unwrap_or_else(|| default_duration(policy.known()));
            check_end(self.start_time(&req), duration)?;
            // Step up before deactivating, so a declined step-up loses nothing.
            let claims = self.proactive_step_up(role, policy.known()).await?;
            self.deactivate_checked(role).await?;
            let mut last_err = None;
            for _ in 0..5 {
                match self
                    .activate_checked(role, &req, duration, claims.clone())
                    .await
                {
                    Ok(o) => return Ok(self.settle(role, o).await),
                    Err(e) if is_code(&e, "RoleAssignmentExists") => {
                        // The deactivation is still being processed.
                        last_err = Some(e);
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    Err(e) => {
                        let _ = self.refresh_tenant(&role.tenant_id).await;
                        return Err(reactivation_failed(role, e));
                    }
                }
            }
            let _ = self.refresh_tenant(&role.tenant_id).await;
            return Err(reactivation_failed(
                role,
                last_err.unwrap_or(Error::Uncertain {
                    detail: "re-activation did not go through".into(),
                }),
            ));
        }
        let now = self.now();
        match a.end {
            Some(end) if end - now <= time::Duration::days(14) => {}
            _ => {
                return Err(Error::InvalidState {
                    message: format!(
                        "{} is assigned {}; PIM lets you ask for an extension only within 14 days of its end",
                        role.describe(),
                        a.end
                            .map(|e| format!("until {}", format_datetime(e)))
                            .unwrap_or_else(|| "permanently".into())
                    ),
                });
            }
        }
        let duration = req
            .duration
            .unwrap_or_else(|| default_duration(policy.known()));
        let p = policy.known().cloned().map(|mut p| {
            // Extension length is decided by the admin; don't cap it by the activation max.
            p.max_duration = None;
            p
        });
        validate(
            &role.label(),
            p.as_ref(),
            &ActivationRequest {
                duration: Some(duration),
                ..req.clone()
            },
        )?;
        check_end(self.start_time(&req), duration)?;
        let mut claims = self.proactive_step_up(role, policy.known()).await?;
        for attempt in 0..2 {
            match self
                .send_activation(role, &req, duration, Action::SelfExtend, claims.clone())
                .await
            {
                Err(Error::StepUpRequired {
                    resource,
                    claims: c,
                }) if attempt == 0 && self.inner.step_up.is_some() => {
                    if let Some(h) = &self.inner.step_up {
                        h.step_up(&role.tenant_id, resource, &c).await?;
                    }
                    claims = Some(c);
                }
                Ok(o) => return Ok(self.settle(role, o).await),
                Err(e) => return Err(e),
            }
        }
        Err(Error::InvalidState {
            message: "step-up did not satisfy the service".into(),
        })
    }

    /// The newest activation request for the role (for extend's justification/ticket).
    async fn last_activation(&self, role: &Role) -> Option<ScheduleRequest> {
        match role.kind {
            RoleKind::EntraRole | RoleKind::Group => {
                let path = if role.kind == RoleKind::Group {
                    GROUP_REQUESTS
                } else {
                    ROLE_REQUESTS
                };
                let since = OffsetDateTime::UNIX_EPOCH;
                self.find_graph_request(
                    role,
                    path,
                    &Action::SelfActivate,
                    since + time::Duration::minutes(5),
                )
                .await
                .and_then(|q| graph_schedule_request(&q))
            }
            RoleKind::AzureResource => {
                let reqs = self
                    .inner
                    .arm
                    .requests_provider(&role.tenant_id)
                    .await
                    .ok()
                    .flatten()?;
                reqs.iter()
                    .filter(|q| {
                        q.properties.as_ref().is_some_and(|p| {
                            p.request_type == Some(Action::SelfActivate)
                                && p.role_definition_id.as_deref().is_some_and(|r| {
                                    last_segment(r) == last_segment(&role.role_definition_id)
                                })
                                && p.scope.as_deref().is_some_and(|s| {
                                    s.trim_end_matches('/')
                                        .eq_ignore_ascii_case(role.scope.id.trim_end_matches('/'))
                                })
                        })
                    })
                    .filter_map(arm_schedule_request)
                    .max_by_key(|r| r.created)
            }
        }
    }

    /// Cancels the role's open request (pending approval or scheduled).
    #[instrument(skip(self, role), fields(role = %role.describe()), err(level = "debug"))]
    pub async fn cancel(&self, role: &Role) -> Result<Outcome> {
        let _write = self.begin_write(role)?;
        let Some(req) = role
            .pending
            .iter()
            .find(|r| r.status.needs_decision())
            .or_else(|| role.pending.iter().find(|r| r.status.is_open()))
        else {
            return Err(Error::InvalidState {
                message: format!("{} has no pending request to cancel", role.describe()),
            });
        };
        let tid = role.tenant_id.as_str();
        match role.kind {
            RoleKind::EntraRole => self.inner.graph.cancel(tid, ROLE_REQUESTS, &req.id).await?,
            RoleKind::Group => {
                self.inner
                    .graph
                    .cancel(tid, GROUP_REQUESTS, &req.id)
                    .await?
            }
            RoleKind::AzureResource => self.inner.arm.cancel(tid, &role.scope.id, &req.id).await?,
        }
        let _ = self.refresh_tenant(tid).await;
        Ok(Outcome::Canceled {
            request_id: req.id.clone(),
        })
    }
}

/// A request the service accepted without telling us about it.
/// Home tenant first (added when missing), then by name; no duplicate ids; `is_home` set
/// from the home tenant id.
/// The API a role's writes go to.
fn resource_of(role: &Role) -> Resource {
    match role.kind {
        RoleKind::EntraRole | RoleKind::Group => Resource::Graph,
        RoleKind::AzureResource => Resource::Arm,
    }
}

/// The claims request a policy implies for activation: its authentication context
/// (`acrs`, only the one the policy names) and/or MFA (`amr`). `None` when it needs neither.
pub fn policy_claims(p: &Policy) -> Option<String> {
    let mut at = serde_json::Map::new();
    if let Some(c) = &p.authentication_context {
        at.insert("acrs".into(), json!({"essential": true, "value": c}));
    }
    if p.mfa_required {
        at.insert("amr".into(), json!({"values": ["mfa"]}));
    }
    (!at.is_empty()).then(|| json!({ "access_token": at }).to_string())
}

/// The hidden tenant ids (lower case) after hiding the tenants `hide` and showing `show`
/// (ids, any case), starting from `hidden`. Ids of tenants that are not in `all` (gone) are
/// dropped. Refused with [`Error::InvalidInput`] when no tenant of `all` would stay shown.
pub fn hidden_tenants_after(
    all: &[Tenant],
    hidden: &[String],
    hide: &[String],
    show: &[String],
) -> Result<Vec<String>> {
    let has = |list: &[String], id: &str| list.iter().any(|h| h.trim().eq_ignore_ascii_case(id));
    let next: Vec<String> = all
        .iter()
        .map(|t| t.id.to_ascii_lowercase())
        .filter(|id| (has(hidden, id) || has(hide, id)) && !has(show, id))
        .collect();
    if !all.is_empty() && next.len() == all.len() {
        return Err(Error::InvalidInput(
            "at least one tenant must stay shown; hide fewer tenants, or sign the account out"
                .into(),
        ));
    }
    Ok(normalise_ids(next))
}

/// Tenant ids, trimmed, lower case, sorted, without blanks or duplicates (how hidden tenants
/// are stored and compared).
pub fn normalise_ids(ids: Vec<String>) -> Vec<String> {
    let mut ids: Vec<String> = ids
        .into_iter()
        .map(|i| i.trim().to_ascii_lowercase())
        .filter(|i| !i.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn normalise_tenants(home: &str, mut list: Vec<Tenant>) -> Vec<Tenant> {
    for t in &mut list {
        t.is_home = t.id.eq_ignore_ascii_case(home);
    }
    if !list.iter().any(|t| t.is_home) {
        list.push(Tenant::from_id(home, true));
    }
    list.sort_by_key(|t| (!t.is_home, t.display_name.to_lowercase()));
    list.dedup_by(|a, b| a.id.eq_ignore_ascii_case(&b.id));
    list
}

fn unknown_request(id: &str) -> ScheduleRequest {
    ScheduleRequest {
        id: id.to_owned(),
        resource_id: None,
        action: None,
        status: RequestStatus::Unknown("accepted".into()),
        created: None,
        start: None,
        duration: None,
        end: None,
        justification: None,
        ticket: None,
        approval_id: None,
    }
}

fn reactivation_failed(role: &Role, e: Error) -> Error {
    match e {
        e if e.needs_user() => e,
        other => Error::InvalidState {
            message: format!(
                "{} was deactivated to extend it, but activating it again failed: {other}. Activate it again",
                role.describe()
            ),
        },
    }
}

/// The error of a write sent again after an uncertain first attempt: if this one is
/// uncertain too, say so.
fn second_attempt_error(f: Failure) -> Error {
    match f {
        Failure::Uncertain(e) => Error::Uncertain {
            detail: e.to_string(),
        },
        Failure::Definite(e) => e,
    }
}

fn is_code(e: &Error, code: &str) -> bool {
    matches!(e, Error::Api { code: c, .. } if c.eq_ignore_ascii_case(code))
}

/// A claim from a JWT payload (no validation; routing only).
pub(crate) fn jwt_claim(token: &str, claim: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get(claim).and_then(Value::as_str).map(str::to_owned)
}

pub(crate) fn entra_row(tid: &str, i: &GraphRoleInstance, rid: &str) -> Role {
    let scope_id = i
        .app_scope_id
        .clone()
        .filter(|s| !s.is_empty())
        .or(i
            .directory_scope_id
            .clone()
            .filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "/".into());
    let kind = if scope_id == "/" {
        ScopeKind::Directory
    } else if scope_id
        .to_ascii_lowercase()
        .starts_with("/administrativeunits/")
    {
        ScopeKind::AdministrativeUnit
    } else {
        ScopeKind::DirectoryObject
    };
    let display = match kind {
        ScopeKind::Directory => "Directory".to_owned(),
        _ => i
            .directory_scope
            .as_ref()
            .or(i.app_scope.as_ref())
            .and_then(|s| s.display_name.clone())
            .unwrap_or_else(|| scope_id.clone()),
    };
    Role {
        kind: RoleKind::EntraRole,
        tenant_id: tid.to_owned(),
        tenant_name: String::new(),
        name: i
            .role_definition
            .as_ref()
            .and_then(|d| d.display_name.clone())
            .unwrap_or_else(|| rid.to_owned()),
        role_definition_id: rid.to_owned(),
        scope: Scope {
            id: scope_id.clone(),
            display_name: display,
            kind,
        },
        app_scope_id: i.app_scope_id.clone().filter(|s| !s.is_empty()),
        access: None,
        state: RoleState::Eligible,
        eligibility: None,
        assignment: None,
        pending: Vec::new(),
        policy: PolicyInfo::NotLoaded,
    }
}

pub(crate) fn arm_row(tid: &str, p: &ArmInstanceProps) -> Option<Role> {
    let rid = p.role_definition_id.clone()?;
    let scope = p.scope.clone().unwrap_or_else(|| "/".into());
    let exp = p.expanded_properties.as_ref();
    let name = exp
        .and_then(|e| e.role_definition.as_ref())
        .and_then(|d| d.display_name.clone())
        .unwrap_or_else(|| last_segment(&rid));
    let sdisplay = exp
        .and_then(|e| e.scope.as_ref())
        .and_then(|d| d.display_name.clone())
        .unwrap_or_else(|| scope.clone());
    Some(Role {
        kind: RoleKind::AzureResource,
        tenant_id: tid.to_owned(),
        tenant_name: String::new(),
        name,
        role_definition_id: rid,
        scope: Scope {
            kind: Scope::arm_kind(&scope),
            id: scope,
            display_name: sdisplay,
        },
        app_scope_id: None,
        access: None,
        state: RoleState::Eligible,
        eligibility: None,
        assignment: None,
        pending: Vec::new(),
        policy: PolicyInfo::NotLoaded,
    })
}

/// Inserts `r`, or merges into the row with the same key.
pub(crate) fn upsert(rows: &mut Vec<Role>, r: Role, merge: impl FnOnce(&mut Role, &Role)) {
    let k = r.key();
    if let Some(existing) = rows.iter_mut().find(|x| x.key() == k) {
        merge(existing, &r);
        if existing.eligibility.is_none() {
            existing.eligibility = r.eligibility;
        }
        if matches!(existing.policy, PolicyInfo::NotLoaded) {
            existing.policy = r.policy;
        }
    } else {
        rows.push(r);
    }
}

/// Keeps the most useful assignment: an activation over an admin assignment, else the later end.
pub(crate) fn merge_assignment(row: &mut Role, a: ActiveAssignment) {
    let better = match &row.assignment {
        None => true,
        Some(old) => {
            (a.is_activation() && !old.is_activation())
                || (a.is_activation() == old.is_activation()
                    && a.end.is_none_or(|e| old.end.is_some_and(|o| e > o)))
        }
    };
    if better {
        row.assignment = Some(a);
    }
}

pub(crate) fn attach_request(
    rows: &mut [Role],
    kind: RoleKind,
    tid: &str,
    rid: &str,
    scope: &str,
    access: Option<&AccessId>,
    sr: ScheduleRequest,
) {
    let rid_l = last_segment(rid);
    let scope_l = scope.trim_end_matches('/').to_ascii_lowercase();
    let hit = rows.iter_mut().find(|r| {
        r.kind == kind
            && r.tenant_id.eq_ignore_ascii_case(tid)
            && last_segment(&r.role_definition_id) == rid_l
            && r.app_scope_id
                .as_deref()
                .unwrap_or(&r.scope.id)
                .trim_end_matches('/')
                .to_ascii_lowercase()
                == scope_l
            && (access.is_none() || r.access.as_ref() == access)
    });
    if let Some(r) = hit
        && !r.pending.iter().any(|p| p.id == sr.id)
    {
        r.pending.push(sr);
        r.pending.sort_by_key(|p| std::cmp::Reverse(p.created));
    }
}

pub(crate) fn is_open_activation(sr: &ScheduleRequest, now: OffsetDateTime) -> bool {
    let relevant = matches!(
        sr.action,
        Some(Action::SelfActivate | Action::SelfExtend | Action::SelfRenew) | None
    );
    relevant
        && (sr.status.needs_decision()
            || (sr.status.is_open() && sr.start.is_some_and(|s| s > now)))
}

pub(crate) fn graph_schedule_request(q: &GraphRequest) -> Option<ScheduleRequest> {
    let (start, duration, end) = schedule_of(q.schedule_info.as_ref());
    Some(ScheduleRequest {
        id: q.id.clone()?,
        resource_id: None,
        action: q.action.clone(),
        status: q
            .status
            .clone()
            .unwrap_or(RequestStatus::Unknown(String::new())),
        created: q.created_date_time,
        start,
        duration,
        end,
        justification: q.justification.clone(),
        ticket: q.ticket_info.as_ref().and_then(|t| {
            Some(Ticket {
                number: t.ticket_number.clone()?,
                system: t.ticket_system.clone().unwrap_or_default(),
            })
        }),
        approval_id: q.approval_id.clone(),
    })
}

pub(crate) fn arm_schedule_request(q: &ArmResource<ArmRequestProps>) -> Option<ScheduleRequest> {
    let p = q.properties.as_ref()?;
    let (start, duration, end) = schedule_of(p.schedule_info.as_ref());
    let name = q.name.clone().or_else(|| {
        q.id.as_deref()
            .map(|i| i.rsplit('/').next().unwrap_or(i).to_owned())
    })?;
    Some(ScheduleRequest {
        id: name,
        resource_id: q.id.clone(),
        action: p.request_type.clone(),
        status: p
            .status
            .clone()
            .unwrap_or(RequestStatus::Unknown(String::new())),
        created: p.created_on,
        start,
        duration,
        end,
        justification: p.justification.clone(),
        ticket: p.ticket_info.as_ref().and_then(|t| {
            Some(Ticket {
                number: t.ticket_number.clone()?,
                system: t.ticket_system.clone().unwrap_or_default(),
            })
        }),
        approval_id: p.approval_id.clone(),
    })
}

fn schedule_of(
    s: Option<&crate::wire::ScheduleInfo>,
) -> (
    Option<OffsetDateTime>,
    Option<PimDuration>,
    Option<OffsetDateTime>,
) {
    let Some(s) = s else {
        return (None, None, None);
    };
    let exp = s.expiration.as_ref();
    let duration = exp
        .and_then(|e| e.duration.as_deref())
        .and_then(|d| PimDuration::parse(d).ok());
    let end = exp
        .and_then(|e| e.end_date_time)
        .or_else(|| s.start_date_time?.checked_add(duration?.to_time()));
    (s.start_date_time, duration, end)
}

/// Refuses, before anything is sent, a request whose end (start + duration) is past the last
/// date `time` can represent (year 9999): a far `--start`, or a duration built without
/// [`PimDuration::parse`] (which caps it at [`PimDuration::MAX`]).
fn check_end(start: OffsetDateTime, duration: PimDuration) -> Result<()> {
    match start.checked_add(duration.to_time()) {
        Some(_) => Ok(()),
        None => Err(Error::InvalidInput(format!(
            "an activation from {} lasting {duration} would end after the year 9999; choose an earlier start or a shorter duration",
            format_datetime(start)
        ))),
    }
}

fn outcome_of(
    sr: &ScheduleRequest,
    now: OffsetDateTime,
    start: OffsetDateTime,
    duration: PimDuration,
) -> Result<Outcome> {
    let request_id = sr.id.clone();
    let st = sr.start.unwrap_or(start);
    if sr.status.is_failure()
        || matches!(sr.status, RequestStatus::Canceled | RequestStatus::Revoked)
    {
        return Err(Error::InvalidState {
            message: format!(
                "the request ended with status {} (request {request_id})",
                sr.status
            ),
        });
    }
    if sr.status.needs_decision() {
        return Ok(Outcome::PendingApproval { request_id });
    }
    if st > now.saturating_add(time::Duration::seconds(60)) {
        return Ok(Outcome::Scheduled {
            start: Some(st),
            request_id,
        });
    }
    if matches!(
        sr.status,
        RequestStatus::Provisioned | RequestStatus::AdminApproved
    ) {
        return Ok(Outcome::Active {
            until: sr.end.or_else(|| st.checked_add(duration.to_time())),
            request_id,
        });
    }
    Ok(Outcome::Submitted {
        request_id,
        status: sr.status.to_string(),
    })
}

fn graph_body(
    role: &Role,
    principal: &str,
    action: &Action,
    schedule: Option<(OffsetDateTime, PimDuration)>,
    req: &ActivationRequest,
) -> (&'static str, Value) {
    let mut body = serde_json::Map::new();
    body.insert("action".into(), json!(action.as_str()));
    body.insert("principalId".into(), json!(principal));
    let path = match role.kind {
        RoleKind::Group => {
            body.insert("groupId".into(), json!(role.scope.id));
            body.insert(
                "accessId".into(),
                json!(role.access.as_ref().map(|a| a.as_str()).unwrap_or("member")),
            );
            GROUP_REQUESTS
        }
        _ => {
            body.insert("roleDefinitionId".into(), json!(role.role_definition_id));
            match &role.app_scope_id {
                Some(app) => body.insert("appScopeId".into(), json!(app)),
                None => body.insert("directoryScopeId".into(), json!(role.scope.id)),
            };
            ROLE_REQUESTS
        }
    };
    insert_justification_and_ticket(&mut body, req);
    if let Some((start, duration)) = schedule {
        body.insert(
            "scheduleInfo".into(),
            json!({
                "startDateTime": format_datetime(start),
                "expiration": {"type": "afterDuration", "duration": duration.to_iso8601()}
            }),
        );
    }
    (path, Value::Object(body))
}

/// Adds `justification` (when not blank) and `ticketInfo` (when given) to a request body:
/// the same members on Graph and ARM.
fn insert_justification_and_ticket(
    body: &mut serde_json::Map<String, Value>,
    req: &ActivationRequest,
) {
    if let Some(j) = req
        .justification
        .as_deref()
        .filter(|j| !j.trim().is_empty())
    {
        body.insert("justification".into(), json!(j));
    }
    if let Some(t) = &req.ticket {
        body.insert(
            "ticketInfo".into(),
            json!({"ticketNumber": t.number, "ticketSystem": t.system}),
        );
    }
}

fn arm_body(
    role: &Role,
    principal: &str,
    action: &Action,
    schedule: Option<(OffsetDateTime, PimDuration)>,
    req: &ActivationRequest,
) -> Value {
    let mut p = serde_json::Map::new();
    p.insert("principalId".into(), json!(principal));
    p.insert("roleDefinitionId".into(), json!(role.role_definition_id));
    p.insert("requestType".into(), json!(action.as_pascal()));
    if *action == Action::SelfActivate
        && let Some(s) = role
            .eligibility
            .as_ref()
            .and_then(|e| e.schedule_id.clone())
    {
        p.insert("linkedRoleEligibilityScheduleId".into(), json!(s));
    }
    if *action == Action::SelfExtend
        && let Some(s) = role.assignment.as_ref().and_then(|a| a.schedule_id.clone())
    {
        p.insert("targetRoleAssignmentScheduleId".into(), json!(s));
    }
    insert_justification_and_ticket(&mut p, req);
    if let Some((start, duration)) = schedule {
        p.insert(
            "scheduleInfo".into(),
            json!({
                "startDateTime": format_datetime(start),
                "expiration": {"type": "AfterDuration", "endDateTime": null, "duration": duration.to_iso8601()}
            }),
        );
    }
    json!({ "properties": Value::Object(p) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn hidden_tenants_after_hides_shows_and_keeps_one_shown() {
        let all = vec![
            Tenant::from_id("AAAA", true),
            Tenant::from_id("bbbb", false),
            Tenant::from_id("cccc", false),
        ];
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        // Hiding: ids in any case, duplicates merged; a gone tenant's id is dropped.
        assert_eq!(
            hidden_tenants_after(&all, &s(&["gone", "BBBB"]), &s(&[" cccc ", "bbbb"]), &[])
                .unwrap(),
            s(&["bbbb", "cccc"])
        );
        // Showing wins over hiding the same tenant.
        assert_eq!(
            hidden_tenants_after(&all, &s(&["bbbb", "cccc"]), &[], &s(&["CCCC"])).unwrap(),
            s(&["bbbb"])
        );
        // The home tenant may be hidden, but not every tenant.
        assert_eq!(
            hidden_tenants_after(&all, &[], &s(&["aaaa"]), &[]).unwrap(),
            s(&["aaaa"])
        );
        let e = hidden_tenants_after(&all, &s(&["bbbb", "cccc"]), &s(&["aaaa"]), &[]).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(m) if m.contains("at least one tenant")));
        // An empty list (not discovered yet): nothing to refuse.
        assert_eq!(
            hidden_tenants_after(&[], &[], &s(&["x"]), &[]).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn policy_claims_ask_only_what_the_policy_names() {
        let mut p = Policy::default();
        assert_eq!(policy_claims(&p), None);
        p.mfa_required = true;
        assert_eq!(policy_claims(&p).as_deref(), Some(crate::http::MFA_CLAIMS));
        p.mfa_required = false;
        p.authentication_context = Some("c7".into());
        assert_eq!(
            policy_claims(&p).as_deref(),
            Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c7"}}}"#)
        );
        p.mfa_required = true;
        let v: Value = serde_json::from_str(&policy_claims(&p).unwrap()).unwrap();
        assert_eq!(v["access_token"]["acrs"]["value"], "c7");
        assert_eq!(v["access_token"]["amr"]["values"][0], "mfa");
    }

    fn sr(status: &str, start: Option<OffsetDateTime>) -> ScheduleRequest {
        ScheduleRequest {
            id: "r".into(),
            resource_id: None,
            action: Some(Action::SelfActivate),
            status: RequestStatus::parse(status),
            created: None,
            start,
            duration: None,
            end: None,
            justification: None,
            ticket: None,
            approval_id: None,
        }
    }

    #[test]
    fn open_requests_are_pending_or_future() {
        let now = datetime!(2026-08-21 08:00 UTC);
        assert!(is_open_activation(&sr("PendingApproval", None), now));
        assert!(is_open_activation(
            &sr("granted", Some(now + time::Duration::hours(1))),
            now
        ));
        assert!(!is_open_activation(
            &sr("Granted", Some(now - time::Duration::hours(1))),
            now
        ));
        assert!(!is_open_activation(&sr("Provisioned", None), now));
        assert!(!is_open_activation(&sr("Canceled", None), now));
        let mut deact = sr("PendingApproval", None);
        deact.action = Some(Action::SelfDeactivate);
        assert!(!is_open_activation(&deact, now));
    }

    #[test]
    fn activations_win_over_assignments_when_merging() {
        let asg = |t: &str, end: Option<OffsetDateTime>| ActiveAssignment {
            instance_id: None,
            schedule_id: None,
            assignment_type: Some(AssignmentType::parse(t)),
            member_type: None,
            start: None,
            end,
            linked_eligibility_schedule_id: None,
        };
        let mut row = Role {
            kind: RoleKind::EntraRole,
            tenant_id: "t".into(),
            tenant_name: "T".into(),
            name: "R".into(),
            role_definition_id: "r".into(),
            scope: Scope {
                id: "/".into(),
                display_name: "Directory".into(),
                kind: ScopeKind::Directory,
            },
            app_scope_id: None,
            access: None,
            state: RoleState::Eligible,
            eligibility: None,
            assignment: None,
            pending: vec![],
            policy: PolicyInfo::NotLoaded,
        };
        merge_assignment(&mut row, asg("Assigned", None));
        merge_assignment(
            &mut row,
            asg("Activated", Some(datetime!(2026-08-21 09:00 UTC))),
        );
        assert!(row.assignment.as_ref().unwrap().is_activation());
        merge_assignment(&mut row, asg("Assigned", None));
        assert!(row.assignment.as_ref().unwrap().is_activation());
        attach_request(
            &mut [row.clone()],
            RoleKind::EntraRole,
            "T",
            "R",
            "/",
            None,
            sr("PendingApproval", None),
        );
        let mut rows = vec![row];
        attach_request(
            &mut rows,
            RoleKind::EntraRole,
            "t",
            "r",
            "",
            None,
            sr("PendingApproval", None),
        );
        assert_eq!(
            rows[0].pending.len(),
            1,
            "scope `/` and empty compare equal"
        );
        rows[0].recompute_state(datetime!(2026-08-21 08:00 UTC));
        assert_eq!(rows[0].state, RoleState::Active);
    }

    #[test]
    fn schedule_end_from_duration_or_end_date() {
        let info: crate::wire::ScheduleInfo = serde_json::from_value(serde_json::json!({
            "startDateTime": "2026-08-21T08:00:00Z",
            "expiration": {"type": "afterDuration", "duration": "PT90M", "endDateTime": null}
        }))
        .unwrap();
        let (start, d, end) = schedule_of(Some(&info));
        assert_eq!(start, Some(datetime!(2026-08-21 08:00 UTC)));
        assert_eq!(d, Some(PimDuration::from_minutes(90)));
        assert_eq!(end, Some(datetime!(2026-08-21 09:30 UTC)));
    }

    #[test]
    fn schedule_end_does_not_overflow_past_the_last_date() {
        let info = |start: &str, duration: &str| -> crate::wire::ScheduleInfo {
            serde_json::from_value(serde_json::json!({
                "startDateTime": start,
                "expiration": {"type": "afterDuration", "duration": duration}
            }))
            .unwrap()
        };
        // The last representable date plus two hours.
        let (start, d, end) = schedule_of(Some(&info("9999-12-31T23:00:00Z", "PT2H")));
        assert_eq!(start, Some(datetime!(9999-12-31 23:00 UTC)));
        assert_eq!(d, Some(PimDuration::from_hours(2)));
        assert_eq!(end, None);
        // 3,000,000 days from the server: not a duration we accept.
        let (_, d, end) = schedule_of(Some(&info("2026-08-21T08:00:00Z", "P3000000D")));
        assert_eq!((d, end), (None, None));
    }

    #[test]
    fn outcome_does_not_overflow_past_the_last_date() {
        let late = datetime!(9999-12-31 23:30 UTC);
        let mut req = sr("Provisioned", Some(late));
        let d = PimDuration::from_hours(1);
        // Starts within a minute of "now": active, with an end that cannot be computed.
        assert!(matches!(
            outcome_of(&req, late, late, d).unwrap(),
            Outcome::Active { until: None, .. }
        ));
        // "now + 60 s" past the last date.
        let last = datetime!(9999-12-31 23:59:59 UTC);
        req.start = Some(last);
        assert!(outcome_of(&req, last, last, d).is_ok());
    }

    #[derive(Debug)]
    struct NoTokens;

    #[async_trait::async_trait]
    impl crate::token::TokenSource for NoTokens {
        async fn access_token(&self, _req: &TokenRequest) -> Result<crate::token::AccessToken> {
            Err(Error::SignInRequired {
                reason: "tests send nothing".into(),
            })
        }
    }

    /// A session that must not reach the network (nothing listens on port 9).
    fn offline_session(now: OffsetDateTime) -> Session {
        let mut e = crate::config::Endpoints::for_cloud(crate::config::Cloud::Public);
        let nowhere = url::Url::parse("http://127.0.0.1:9").unwrap();
        e.authority_host = nowhere.clone();
        e.graph = nowhere.clone();
        e.arm = nowhere;
        let mut o = SessionOptions::new(e, Arc::new(NoTokens), "t");
        o.clock = Arc::new(crate::clock::ManualClock::new(now));
        o.retry.max_retries = 0;
        Session::new(o)
    }

    fn entra_role(state: RoleState) -> Role {
        Role {
            kind: RoleKind::EntraRole,
            tenant_id: "t".into(),
            tenant_name: "T".into(),
            name: "Global Reader".into(),
            role_definition_id: "r".into(),
            scope: Scope {
                id: "/".into(),
                display_name: "Directory".into(),
                kind: ScopeKind::Directory,
            },
            app_scope_id: None,
            access: None,
            state,
            eligibility: Some(EligibleRole {
                instance_id: None,
                schedule_id: None,
                start: None,
                end: None,
                member_type: None,
            }),
            assignment: None,
            pending: vec![],
            policy: PolicyInfo::Known(Policy::default()),
        }
    }

    #[test]
    fn deactivation_check_survives_a_start_at_the_last_date() {
        let s = offline_session(datetime!(2026-08-21 08:00 UTC));
        let mut role = entra_role(RoleState::Active);
        role.assignment = Some(ActiveAssignment {
            instance_id: None,
            schedule_id: None,
            assignment_type: Some(AssignmentType::Activated),
            member_type: None,
            start: Some(datetime!(9999-12-31 23:58 UTC)),
            end: None,
            linked_eligibility_schedule_id: None,
        });
        // The 5-minute rule cannot be computed; the service enforces it.
        assert!(s.check_deactivatable(&role).is_ok());
    }

    #[tokio::test]
    async fn activation_ending_after_the_last_date_is_invalid_input() {
        let s = offline_session(datetime!(2026-08-21 08:00 UTC));
        let role = entra_role(RoleState::Eligible);
        let req = ActivationRequest {
            duration: Some(PimDuration::from_hours(1)),
            start: Some(datetime!(9999-12-31 23:30 UTC)),
            ..Default::default()
        };
        let err = s.activate(&role, req).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        assert!(err.to_string().contains("9999"), "{err}");
    }

    #[test]
    fn jwt_claims_are_read_without_validation() {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"oid":"abc","tid":"t"}"#);
        assert_eq!(
            jwt_claim(&format!("e30.{payload}."), "oid").as_deref(),
            Some("abc")
        );
        assert_eq!(jwt_claim("garbage", "oid"), None);
    }

    #[test]
    fn outcomes_from_status() {
        let now = datetime!(2026-08-21 08:00 UTC);
        let mut sr = ScheduleRequest {
            id: "r1".into(),
            resource_id: None,
            action: Some(Action::SelfActivate),
            status: RequestStatus::Provisioned,
            created: None,
            start: Some(now),
            duration: Some(PimDuration::from_hours(1)),
            end: Some(now + time::Duration::hours(1)),
            justification: None,
            ticket: None,
            approval_id: None,
        };
        let d = PimDuration::from_hours(1);
        assert!(matches!(
            outcome_of(&sr, now, now, d).unwrap(),
            Outcome::Active { until: Some(_), .. }
        ));
        sr.status = RequestStatus::parse("PendingApproval");
        assert!(matches!(
            outcome_of(&sr, now, now, d).unwrap(),
            Outcome::PendingApproval { .. }
        ));
        sr.status = RequestStatus::Granted;
        sr.start = Some(now + time::Duration::hours(3));
        assert!(matches!(
            outcome_of(&sr, now, now, d).unwrap(),
            Outcome::Scheduled { .. }
        ));
        sr.status = RequestStatus::Denied;
        assert!(outcome_of(&sr, now, now, d).is_err());
    }

    #[test]
    fn request_bodies_follow_the_contract() {
        let role = Role {
            kind: RoleKind::AzureResource,
            tenant_id: "t".into(),
            tenant_name: "T".into(),
            name: "Contributor".into(),
            role_definition_id:
                "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/b2".into(),
            scope: Scope {
                id: "/subscriptions/s".into(),
                display_name: "Prod".into(),
                kind: ScopeKind::Subscription,
            },
            app_scope_id: None,
            access: None,
            state: RoleState::Eligible,
            eligibility: Some(EligibleRole {
                instance_id: None,
                schedule_id: Some("/x/roleEligibilitySchedules/e1".into()),
                start: None,
                end: None,
                member_type: None,
            }),
            assignment: None,
            pending: vec![],
            policy: PolicyInfo::NotLoaded,
        };
        let req = ActivationRequest {
            justification: Some("fix".into()),
            ticket: Some(Ticket {
                number: "1".into(),
                system: "J".into(),
            }),
            ..Default::default()
        };
        let b = arm_body(
            &role,
            "me",
            &Action::SelfActivate,
            Some((
                datetime!(2026-08-21 08:00 UTC),
                PimDuration::from_minutes(90),
            )),
            &req,
        );
        assert_eq!(b["properties"]["requestType"], "SelfActivate");
        assert_eq!(
            b["properties"]["scheduleInfo"]["expiration"]["duration"],
            "PT1H30M"
        );
        assert_eq!(
            b["properties"]["scheduleInfo"]["expiration"]["type"],
            "AfterDuration"
        );
        assert_eq!(
            b["properties"]["linkedRoleEligibilityScheduleId"],
            "/x/roleEligibilitySchedules/e1"
        );
        let mut g = role.clone();
        g.kind = RoleKind::Group;
        g.access = Some(AccessId::Owner);
        g.scope.id = "grp".into();
        let (path, b) = graph_body(
            &g,
            "me",
            &Action::SelfActivate,
            Some((datetime!(2026-08-21 08:00 UTC), PimDuration::from_hours(2))),
            &req,
        );
        assert_eq!(path, GROUP_REQUESTS);
        assert_eq!(b["accessId"], "owner");
        assert_eq!(b["action"], "selfActivate");
        assert_eq!(
            b["scheduleInfo"]["startDateTime"],
            "2026-08-21T08:00:00.000Z"
        );
        assert_eq!(b["scheduleInfo"]["expiration"]["type"], "afterDuration");
        assert_eq!(b["ticketInfo"]["ticketSystem"], "J");
    }
}
