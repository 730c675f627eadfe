//! Test control: the `/_sim/*` HTTP API and its in-process mirror [`SimControl`];
//! other users' requests waiting for the signed-in user are in [`incoming`].

mod incoming;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::api_error::{Error, Result};
use crate::approvals;
use crate::authority;
use crate::clock::fmt_dt;
use crate::faults::{FaultRule, FaultSpec};
use crate::reply::{JSON, Reply};
use crate::requests;
use crate::server::Shared;
use crate::state::{
    AssignmentType, DeviceStatus, Kind, PropagationDelay, RecordedRequest, SimConfig, State,
    Target, new_guid,
};

pub use incoming::{
    IncomingAssignment, IncomingPerson, IncomingRequest, IncomingStage, NewIncoming,
};

/// A request waiting for an approver or an admin decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PendingRequest {
    /// Request id (Graph) or name (ARM).
    pub id: String,
    /// `entraRole`, `group` or `azureResource`.
    pub kind: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Role display name (groups: `"<group> (member|owner)"`).
    pub role_name: String,
    /// Requesting principal.
    pub principal_id: String,
    /// `PendingApproval` or `PendingAdminDecision`.
    pub status: String,
    /// Approval id.
    pub approval_id: Option<String>,
    /// Graph action name.
    pub action: String,
    /// Scope display name.
    pub scope_name: String,
}

/// In-process control of a running simulator (same operations as `/_sim/*`).
#[derive(Debug, Clone)]
pub struct SimControl {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::EntraRole => "entraRole",
        Kind::Group => "group",
        Kind::AzureResource => "azureResource",
    }
}

/// Display name of a target's role.
pub(crate) fn role_name(st: &State, t: &Target) -> String {
    let Some(tn) = st.tenant(&t.tenant) else {
        return t.role.clone();
    };
    match t.kind {
        Kind::EntraRole => tn
            .role_defs
            .iter()
            .find(|r| r.id.eq_ignore_ascii_case(&t.role))
            .map(|r| r.name.clone()),
        Kind::Group => tn
            .groups
            .iter()
            .find(|g| g.id.eq_ignore_ascii_case(&t.scope))
            .map(|g| format!("{} ({})", g.name, t.role)),
        Kind::AzureResource => tn
            .azure_roles
            .iter()
            .find(|r| r.id.eq_ignore_ascii_case(&t.role))
            .map(|r| r.name.clone()),
    }
    .unwrap_or_else(|| t.role.clone())
}

/// Display name of a target's scope.
pub(crate) fn scope_name(st: &State, t: &Target) -> String {
    let Some(tn) = st.tenant(&t.tenant) else {
        return t.scope.clone();
    };
    let last = t.scope.rsplit('/').next().unwrap_or(&t.scope);
    match t.kind {
        Kind::EntraRole if t.scope == "/" => "Directory".into(),
        Kind::EntraRole => tn
            .aus
            .iter()
            .find(|a| a.id.eq_ignore_ascii_case(last))
            .map(|a| a.name.clone())
            .unwrap_or_else(|| t.scope.clone()),
        Kind::Group => tn
            .groups
            .iter()
            .find(|g| g.id.eq_ignore_ascii_case(&t.scope))
            .map(|g| g.name.clone())
            .unwrap_or_else(|| t.scope.clone()),
        Kind::AzureResource => {
            let segs: Vec<&str> = t.scope.trim_matches('/').split('/').collect();
            match segs.as_slice() {
                [_, sub] => tn
                    .subs
                    .iter()
                    .find(|s| s.id.eq_ignore_ascii_case(sub))
                    .map(|s| s.name.clone())
                    .unwrap_or_else(|| (*sub).to_owned()),
                _ => last.to_owned(),
            }
        }
    }
}

/// Whether `q` is the signed-in user's own request.
fn mine(st: &State, q: &crate::state::Request) -> bool {
    st.tenant(&q.target.tenant)
        .is_some_and(|t| t.user_oid.eq_ignore_ascii_case(&q.principal))
}

impl SimControl {
    /// Always true while the server runs.
    pub fn health(&self) -> bool {
        true
    }

    /// Simulated now.
    pub fn now(&self) -> OffsetDateTime {
        self.shared.clock.now()
    }

    /// Advances the virtual clock and applies scheduled starts (expiry is implicit).
    pub fn advance(&self, seconds: i64) -> OffsetDateTime {
        self.advance_by(Duration::seconds(seconds))
    }

    /// Advances the virtual clock by a duration.
    pub fn advance_by(&self, by: Duration) -> OffsetDateTime {
        let now = self.shared.clock.advance(by);
        requests::tick(&mut self.shared.lock(), now);
        now
    }

    /// Installs a fault rule.
    pub fn add_fault(&self, spec: FaultSpec) {
        let remaining = spec.times.max(1);
        self.shared
            .lock()
            .faults
            .push(FaultRule { spec, remaining });
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The request log (oldest first).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().log.clone()
    }

    /// Clears the request log.
    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }

    /// The signed-in user's own requests waiting for approval or an admin decision (other
    /// users' requests waiting for the signed-in user are [`SimControl::incoming`]).
    pub fn pending(&self) -> Vec<PendingRequest> {
        let st = self.shared.lock();
        st.requests
            .iter()
            .filter(|q| q.status == "PendingApproval" || q.status == "PendingAdminDecision")
            .filter(|q| mine(&st, q))
            .map(|q| PendingRequest {
                id: q.id.clone(),
                kind: kind_name(q.target.kind).into(),
                tenant_id: q.target.tenant.clone(),
                role_name: role_name(&st, &q.target),
                principal_id: q.principal.clone(),
                status: q.status.clone(),
                approval_id: q.approval_id.clone(),
                action: q.action.graph().into(),
                scope_name: scope_name(&st, &q.target),
            })
            .collect()
    }

    /// Approves a pending request (by request id/name or approval id) as an approver
    /// elsewhere: the signed-in user's own request is decided; another user's request
    /// (incoming) has its current stage approved by another approver of that stage.
    pub fn approve(&self, id: &str, justification: Option<&str>) -> Result<()> {
        let _ = justification;
        let now = self.shared.clock.now();
        approvals::decide_elsewhere(&mut self.shared.lock(), now, id, true).map(|_| ())
    }

    /// Denies a pending request (as [`SimControl::approve`] decides).
    pub fn deny(&self, id: &str, justification: Option<&str>) -> Result<()> {
        let _ = justification;
        let now = self.shared.clock.now();
        approvals::decide_elsewhere(&mut self.shared.lock(), now, id, false).map(|_| ())
    }

    /// Other users' requests that wait (or waited) for the signed-in user's decision, with
    /// their stages and status, in every tenant.
    pub fn incoming(&self) -> Vec<IncomingRequest> {
        let now = self.shared.clock.now();
        incoming::list(&self.shared.lock(), None, now)
    }

    /// Adds another user's request waiting for approval; returns it with its ids.
    pub fn add_incoming(&self, new: &NewIncoming) -> Result<IncomingRequest> {
        let now = self.shared.clock.now();
        let mut st = self.shared.lock();
        let ti = match &new.tenant {
            None => st.tenants.iter().position(|t| t.home).unwrap_or(0),
            Some(key) => {
                let id = st
                    .resolve_tenant(key)
                    .or_else(|| st.tenants.iter().find(|t| t.name.eq_ignore_ascii_case(key)))
                    .map(|t| t.id.clone())
                    .ok_or_else(|| Error::NotFound(format!("tenant {key}")))?;
                st.tenants.iter().position(|t| t.id == id).unwrap_or(0)
            }
        };
        let seed = format!("incoming/{}", new_guid());
        let id = st
            .add_incoming(ti, &new.spec, now, &seed)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let q = st
            .requests
            .iter()
            .find(|q| q.id == id)
            .ok_or_else(|| Error::NotFound(format!("request {id}")))?;
        incoming::view(&st, q, now).ok_or_else(|| Error::NotFound(format!("request {id}")))
    }

    /// The requester cancels their waiting request (by request id or approval id).
    pub fn cancel_incoming(&self, id: &str) -> Result<IncomingRequest> {
        let now = self.shared.clock.now();
        let mut st = self.shared.lock();
        let q = approvals::cancel_incoming(&mut st, now, id)?;
        incoming::view(&st, &q, now).ok_or_else(|| Error::NotFound(format!("request {id}")))
    }

    /// Completes a device-code sign-in.
    pub fn approve_device_code(&self, user_code: &str) -> Result<()> {
        authority::set_device_status(&self.shared, user_code, DeviceStatus::Approved)
    }

    /// Declines a device-code sign-in.
    pub fn decline_device_code(&self, user_code: &str) -> Result<()> {
        authority::set_device_status(&self.shared, user_code, DeviceStatus::Declined)
    }

    /// Applies a merge patch to the runtime configuration.
    pub fn configure(&self, patch: &Value) -> Result<SimConfig> {
        let mut st = self.shared.lock();
        st.config.merge(patch)?;
        Ok(st.config.clone())
    }

    /// Current runtime configuration.
    pub fn config(&self) -> SimConfig {
        self.shared.lock().config.clone()
    }

    /// The propagation delays: seconds from an activation's start until it takes effect,
    /// per kind.
    pub fn propagation_delay(&self) -> PropagationDelay {
        self.shared.lock().propagation
    }

    /// Changes the propagation delays with a merge patch (`{"group": 5}`; a kind set to
    /// `null` is 0). Activations already started are judged by the new delays.
    pub fn set_propagation_delay(&self, patch: &Value) -> Result<PropagationDelay> {
        let mut st = self.shared.lock();
        let mut next = st.propagation;
        next.merge(patch)?;
        st.propagation = next;
        Ok(next)
    }

    /// Revokes every refresh token (later use → `invalid_grant`).
    pub fn revoke_tokens(&self) {
        for g in self.shared.lock().auth.refresh.values_mut() {
            g.revoked = true;
        }
    }

    /// A JSON dump of eligibilities, active assignments and requests per tenant.
    pub fn state(&self) -> Value {
        let now = self.shared.clock.now();
        let st = self.shared.lock();
        let tenants: Vec<Value> = st
            .tenants
            .iter()
            .map(|t| {
                let eligible: Vec<Value> = st
                    .eligibilities
                    .iter()
                    .filter(|e| e.target.tenant == t.id && e.principal == t.user_oid && e.current(now))
                    .map(|e| json!({"kind": kind_name(e.target.kind), "roleName": role_name(&st, &e.target),
                        "scope": e.target.scope, "scopeName": scope_name(&st, &e.target),
                        "start": fmt_dt(e.start), "end": e.end.map(fmt_dt)}))
                    .collect();
                let active: Vec<Value> = st
                    .assignments
                    .iter()
                    .filter(|a| a.target.tenant == t.id && a.principal == t.user_oid && a.scheduled(now))
                    .map(|a| json!({"kind": kind_name(a.target.kind), "roleName": role_name(&st, &a.target),
                        "scope": a.target.scope, "scopeName": scope_name(&st, &a.target),
                        "assignmentType": if a.atype == AssignmentType::Activated { "Activated" } else { "Assigned" },
                        "active": a.current(now), "effective": st.is_effective(a, now),
                        "effectiveFrom": fmt_dt(st.effective_from(a)),
                        "start": fmt_dt(a.start), "end": a.end.map(fmt_dt)}))
                    .collect();
                let requests: Vec<Value> = st
                    .requests
                    .iter()
                    .filter(|q| q.target.tenant == t.id && q.principal == t.user_oid)
                    .map(|q| json!({"id": q.id, "kind": kind_name(q.target.kind), "roleName": role_name(&st, &q.target),
                        "scopeName": scope_name(&st, &q.target), "action": q.action.graph(), "status": q.status,
                        "created": fmt_dt(q.created), "start": q.start.map(fmt_dt),
                        "end": requests::requested_end(q).map(fmt_dt)}))
                    .collect();
                let incoming = serde_json::to_value(incoming::list(&st, Some(&t.id), now)).unwrap_or_default();
                json!({"tenantId": t.id, "displayName": t.name, "defaultDomain": t.default_domain,
                       "userObjectId": t.user_oid, "eligible": eligible, "active": active, "requests": requests,
                       "incoming": incoming})
            })
            .collect();
        json!({"now": fmt_dt(now), "user": {"displayName": st.user.display_name, "userPrincipalName": st.user.upn},
               "config": st.config, "propagationDelay": st.propagation, "tenants": tenants})
    }
}

fn ok(v: Value) -> Reply {
    Reply::json(200, v, JSON)
}

fn err(status: u16, msg: &str) -> Reply {
    Reply::json(status, json!({"error": msg}), JSON)
}

fn from_error(e: Error) -> Reply {
    match e {
        Error::NotFound(m) => err(404, &format!("not found: {m}")),
        other => err(400, &other.to_string()),
    }
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

/// Handles `/_sim/...` (path without the `/_sim` prefix, split into segments).
pub fn handle(c: &SimControl, method: &str, segs: &[&str], body: &[u8]) -> Reply {
    let body_json = || -> std::result::Result<Value, Reply> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(body).map_err(|e| err(400, &format!("invalid JSON body: {e}")))
    };
    let now_json = |t: OffsetDateTime| json!({"now": fmt_dt(t)});
    match (method, segs) {
        ("GET", ["health"]) => ok(json!({"ok": c.health()})),
        ("GET", ["clock"]) => ok(now_json(c.now())),
        ("POST", ["clock", "advance"]) => {
            match body_json().map(serde_json::from_value::<Advance>) {
                Ok(Ok(a)) if a.seconds.is_finite() && a.seconds.abs() <= 1e10 => {
                    ok(now_json(c.advance_by(Duration::seconds_f64(a.seconds))))
                }
                Ok(_) => err(400, "expected {\"seconds\": N}"),
                Err(r) => r,
            }
        }
        ("POST", ["faults"]) => match body_json().map(serde_json::from_value::<FaultSpec>) {
            Ok(Ok(spec)) => {
                c.add_fault(spec);
                ok(json!({"ok": true}))
            }
            Ok(Err(e)) => err(400, &format!("invalid fault: {e}")),
            Err(r) => r,
        },
        ("DELETE", ["faults"]) => {
            c.clear_faults();
            ok(json!({"ok": true}))
        }
        ("GET", ["requests"]) => ok(serde_json::to_value(c.requests()).unwrap_or_default()),
        ("DELETE", ["requests"]) => {
            c.clear_requests();
            ok(json!({"ok": true}))
        }
        ("GET", ["pending"]) => ok(serde_json::to_value(c.pending()).unwrap_or_default()),
        ("POST", ["approvals", id, action @ ("approve" | "deny")]) => {
            let just = body_json().ok().and_then(|v| {
                v.get("justification")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            let r = if *action == "approve" {
                c.approve(id, just.as_deref())
            } else {
                c.deny(id, just.as_deref())
            };
            match r {
                Ok(()) => ok(json!({"ok": true})),
                Err(e) => from_error(e),
            }
        }
        ("GET", ["incoming"]) => ok(serde_json::to_value(c.incoming()).unwrap_or_default()),
        ("POST", ["incoming"]) => match body_json().map(serde_json::from_value::<NewIncoming>) {
            Ok(Ok(new)) => match c.add_incoming(&new) {
                Ok(v) => Reply::json(201, serde_json::to_value(v).unwrap_or_default(), JSON),
                Err(e) => from_error(e),
            },
            Ok(Err(e)) => err(400, &format!("invalid incoming request: {e}")),
            Err(r) => r,
        },
        ("POST", ["incoming", id, "cancel"]) => match c.cancel_incoming(id) {
            Ok(v) => ok(serde_json::to_value(v).unwrap_or_default()),
            Err(e) => from_error(e),
        },
        ("POST", ["devicecode", code, action @ ("approve" | "decline")]) => {
            let r = if *action == "approve" {
                c.approve_device_code(code)
            } else {
                c.decline_device_code(code)
            };
            match r {
                Ok(()) => ok(json!({"ok": true})),
                Err(e) => from_error(e),
            }
        }
        ("GET", ["config"]) => ok(serde_json::to_value(c.config()).unwrap_or_default()),
        ("POST", ["config"]) => match body_json() {
            Ok(v) => match c.configure(&v) {
                Ok(cfg) => ok(serde_json::to_value(cfg).unwrap_or_default()),
                Err(e) => from_error(e),
            },
            Err(r) => r,
        },
        ("GET", ["propagation"]) => ok(json!(c.propagation_delay())),
        ("POST", ["propagation"]) => match body_json() {
            Ok(v) => match c.set_propagation_delay(&v) {
                Ok(d) => ok(json!(d)),
                Err(e) => from_error(e),
            },
            Err(r) => r,
        },
        ("POST", ["tokens", "revoke"]) => {
            c.revoke_tokens();
            ok(json!({"ok": true}))
        }
        ("GET", ["state"]) => ok(c.state()),
        _ => err(404, "unknown control endpoint"),
    }
}
