//! Deciding other users' requests (the approver's inbox), shared by Graph and ARM: which
//! requests wait for the caller, what an approval looks like to the caller, recording a
//! stage's decision (the next stage starts; the last approval provisions the requester's
//! activation; a denial ends the request), decisions made elsewhere (the control API),
//! cancellation by the requester and the 24-hour approval window.
//!
//! Invariant: only the caller's own stage, while it is the current (`InProgress`) one of
//! a request still `PendingApproval`, can be decided by the caller.

use time::{Duration, OffsetDateTime};

use crate::requests;
use crate::state::{
    Approval, Decision, Kind, Person, Request, Stage, StageStatus, State, Tenant, seeded_guid,
};

/// How long approvers have to decide [Doc: "Delegated approvers have 24 hours to approve
/// requests … isn't configurable"]; then the request is `TimedOut`.
pub const APPROVAL_WINDOW: Duration = Duration::hours(24);

/// Why a decision was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such approval (for the caller, in this tenant and kind).
    NotFound,
    /// The approval has no such stage.
    StageNotFound,
    /// The stage is not assigned to the caller (or it is the caller's own request).
    NotAssigned,
    /// The stage was decided already (by the caller or another approver).
    AlreadyCompleted,
    /// The caller's stage waits for an earlier one.
    NotStarted,
    /// The request is no longer waiting (cancelled, timed out, denied at another stage).
    NotPending,
    /// The decision needs a justification (`approverJustification`).
    JustificationRequired(Decision),
}

fn request_index(st: &State, id: &str) -> Option<usize> {
    st.requests.iter().position(|q| q.id == id)
}

/// The requests of `kind` in tenant `tenant_id` that `oid` approves at some stage, in
/// state order, whatever their status (`filterByCurrentUser(on='approver')`,
/// `asApprover()`).
pub fn approver_requests<'a>(
    st: &'a State,
    kind: Kind,
    tenant_id: &str,
    oid: &str,
) -> Vec<&'a Request> {
    st.requests
        .iter()
        .filter(|q| q.target.kind == kind && q.target.tenant.eq_ignore_ascii_case(tenant_id))
        .filter(|q| st.approval_of(&q.id).is_some_and(|a| a.has_approver(oid)))
        .collect()
}

/// The approval `key` (id or name) of a request of `kind` in `tenant`, as `caller` sees
/// it: a stored approval (another user's request), or the approval of the caller's own
/// request, one stage of the tenant's approvers whose state follows the request's status.
pub fn lookup(
    st: &State,
    tenant: &Tenant,
    kind: Kind,
    key: &str,
    caller: &str,
) -> Option<(Approval, Request)> {
    let of_kind = |q: &Request| q.target.kind == kind && q.target.tenant == tenant.id;
    if let Some(a) = st.approvals.iter().find(|a| a.is(key)) {
        return st
            .requests
            .iter()
            .find(|q| q.id == a.request_id && of_kind(q))
            .map(|q| (a.clone(), q.clone()));
    }
    // addressed by the approval id (or its name) or, as Graph documents it, the request id
    let q = st.requests.iter().find(|q| {
        of_kind(q)
            && q.principal.eq_ignore_ascii_case(caller)
            && q.approval_id.as_deref().is_some_and(|id| {
                id.eq_ignore_ascii_case(key)
                    || id
                        .rsplit('/')
                        .next()
                        .is_some_and(|n| n.eq_ignore_ascii_case(key))
                    || q.id.eq_ignore_ascii_case(key)
            })
    })?;
    Some((own_view(tenant, q), q.clone()))
}

/// The approval of the caller's own request: one stage for the tenant's approvers.
fn own_view(tenant: &Tenant, q: &Request) -> Approval {
    let id = q.approval_id.clone().unwrap_or_default();
    let (status, decision) = match q.status.as_str() {
        "PendingApproval" | "PendingAdminDecision" => (StageStatus::InProgress, None),
        "Denied" | "AdminDenied" => (StageStatus::Completed, Some(Decision::Deny)),
        "TimedOut" => (StageStatus::Expired, None),
        "Canceled" => (StageStatus::Completed, None),
        _ => (StageStatus::Completed, Some(Decision::Approve)),
    };
    let name = id.rsplit('/').next().unwrap_or(&id).to_owned();
    Approval {
        request_id: q.id.clone(),
        stages: vec![Stage {
            id: if q.target.kind == Kind::AzureResource {
                name
            } else {
                seeded_guid(&format!("{id}/stage"))
            },
            display_name: None,
            approvers: tenant
                .approvers
                .iter()
                .map(|a| Person {
                    id: a.id.clone(),
                    display_name: a.description.clone(),
                    upn: None,
                    mail: None,
                })
                .collect(),
            status,
            decision,
            reviewed_by: None,
            reviewed: q.completed.filter(|_| decision.is_some()),
            justification: None,
        }],
        id,
    }
}

/// Records `caller`'s `decision` on stage `stage_id` of the approval `key` (of a request
/// of `kind` in `tenant`); returns the decided stage.
#[allow(clippy::too_many_arguments)]
pub fn review(
    st: &mut State,
    now: OffsetDateTime,
    tenant: &Tenant,
    kind: Kind,
    key: &str,
    stage_id: &str,
    caller: &Person,
    decision: Decision,
    justification: Option<&str>,
) -> Result<Stage, Refusal> {
    let (approval, request) = lookup(st, tenant, kind, key, &caller.id).ok_or(Refusal::NotFound)?;
    let si = approval
        .stages
        .iter()
        .position(|s| s.id.eq_ignore_ascii_case(stage_id))
        .ok_or(Refusal::StageNotFound)?;
    let stage = &approval.stages[si];
    if !stage.assigned_to(&caller.id) {
        return Err(Refusal::NotAssigned);
    }
    let pending = request.status == "PendingApproval";
    match stage.status {
        StageStatus::Completed => return Err(Refusal::AlreadyCompleted),
        StageStatus::Expired => return Err(Refusal::NotPending),
        _ if !pending => return Err(Refusal::NotPending),
        StageStatus::NotStarted => return Err(Refusal::NotStarted),
        StageStatus::InProgress => {}
    }
    let justification = justification.map(str::trim).filter(|j| !j.is_empty());
    let required = match st.config.approver_justification.as_str() {
        "optional" => false,
        "denyOnly" => decision == Decision::Deny,
        _ => true,
    };
    if required && justification.is_none() {
        return Err(Refusal::JustificationRequired(decision));
    }
    let ai = st
        .approvals
        .iter()
        .position(|a| a.id == approval.id)
        .ok_or(Refusal::NotFound)?;
    apply(st, now, ai, si, caller.clone(), decision, justification);
    Ok(st.approvals[ai].stages[si].clone())
}

/// Decides stage `si` of approval `ai`: the next stage starts, or (last stage approved)
/// the requester's activation is provisioned, or (denied) the request is `Denied`.
fn apply(
    st: &mut State,
    now: OffsetDateTime,
    ai: usize,
    si: usize,
    by: Person,
    decision: Decision,
    justification: Option<&str>,
) -> Option<Request> {
    let idx = request_index(st, &st.approvals[ai].request_id)?;
    let stage = &mut st.approvals[ai].stages[si];
    stage.status = StageStatus::Completed;
    stage.decision = Some(decision);
    stage.reviewed_by = Some(by);
    stage.reviewed = Some(now);
    stage.justification = justification.map(str::to_owned);
    let has_next = si + 1 < st.approvals[ai].stages.len();
    match (decision, has_next) {
        (Decision::Approve, true) => {
            st.approvals[ai].stages[si + 1].status = StageStatus::InProgress;
            Some(st.requests[idx].clone())
        }
        (Decision::Approve, false) => Some(requests::grant(st, now, idx)),
        (Decision::Deny, _) => {
            let q = &mut st.requests[idx];
            q.status = "Denied".into();
            q.completed = Some(now);
            Some(q.clone())
        }
    }
}

/// The stored approval that `key` (approval id or name, or request id) names.
fn stored(st: &State, key: &str) -> Option<usize> {
    st.approvals
        .iter()
        .position(|a| a.is(key) || a.request_id.eq_ignore_ascii_case(key))
}

/// A decision made elsewhere (`POST /_sim/approvals/{id}/{approve|deny}`): on another
/// user's request, the current stage is decided by one of its other approvers (or a
/// Privileged Role Administrator when it has none); on the signed-in user's own request,
/// the whole request is decided ([`requests::decide`]).
pub fn decide_elsewhere(
    st: &mut State,
    now: OffsetDateTime,
    key: &str,
    approve: bool,
) -> crate::Result<Request> {
    let Some(ai) = stored(st, key) else {
        return requests::decide(st, now, key, approve);
    };
    let idx = request_index(st, &st.approvals[ai].request_id)
        .ok_or_else(|| crate::Error::NotFound(format!("request {key}")))?;
    let q = &st.requests[idx];
    let current = st.approvals[ai].current();
    let (Some(si), "PendingApproval") = (current, q.status.as_str()) else {
        return Err(crate::Error::Invalid(format!(
            "request {key} is {} (not pending)",
            q.status
        )));
    };
    let me = st
        .tenant(&q.target.tenant)
        .map(|t| t.user_oid.clone())
        .unwrap_or_default();
    let by = st.approvals[ai].stages[si]
        .approvers
        .iter()
        .find(|p| !p.id.eq_ignore_ascii_case(&me))
        .cloned()
        .unwrap_or_else(|| Person {
            id: seeded_guid("pim-sim/privileged-role-administrator"),
            display_name: "Privileged Role Administrator".into(),
            upn: None,
            mail: None,
        });
    let decision = if approve {
        Decision::Approve
    } else {
        Decision::Deny
    };
    apply(st, now, ai, si, by, decision, None)
        .ok_or_else(|| crate::Error::NotFound(format!("request {key}")))
}

/// The requester cancels their waiting request (`POST /_sim/incoming/{id}/cancel`).
pub fn cancel_incoming(st: &mut State, now: OffsetDateTime, key: &str) -> crate::Result<Request> {
    let ai = stored(st, key).ok_or_else(|| crate::Error::NotFound(format!("incoming {key}")))?;
    let idx = request_index(st, &st.approvals[ai].request_id)
        .ok_or_else(|| crate::Error::NotFound(format!("incoming {key}")))?;
    let q = &mut st.requests[idx];
    if q.status != "PendingApproval" {
        return Err(crate::Error::Invalid(format!(
            "request {key} is {} (not pending)",
            q.status
        )));
    }
    q.status = "Canceled".into();
    q.completed = Some(now);
    Ok(q.clone())
}

/// Ends the waiting requests nobody decided within [`APPROVAL_WINDOW`]: `TimedOut`, their
/// current stage `Expired`.
pub fn expire(st: &mut State, now: OffsetDateTime) {
    for a in st.approvals.iter_mut() {
        let Some(q) = st.requests.iter_mut().find(|q| q.id == a.request_id) else {
            continue;
        };
        let deadline = q.created + APPROVAL_WINDOW;
        if q.status != "PendingApproval" || now < deadline {
            continue;
        }
        q.status = "TimedOut".into();
        q.completed = Some(deadline);
        if let Some(si) = a.current() {
            a.stages[si].status = StageStatus::Expired;
        }
    }
}
