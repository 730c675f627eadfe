//! The control API's view of other users' requests waiting for the signed-in user
//! (`GET|POST /_sim/incoming`, `POST /_sim/incoming/{id}/cancel`): [`IncomingRequest`]
//! and [`NewIncoming`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::fmt_dt;
use crate::scenario::IncomingSpec;
use crate::state::{Request, State};

use super::{kind_name, role_name, scope_name};

/// A request to add with `POST /_sim/incoming`: an [`IncomingSpec`] and its tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewIncoming {
    /// Tenant id, name or domain (default: the home tenant).
    #[serde(default)]
    pub tenant: Option<String>,
    /// The request.
    #[serde(flatten)]
    pub spec: IncomingSpec,
}

/// Who made an incoming request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IncomingPerson {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// User principal name (none for the policies' approver entries).
    pub user_principal_name: Option<String>,
}

/// One approval stage of an incoming request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IncomingStage {
    /// Stage (Graph step) id.
    pub id: String,
    /// Label.
    pub display_name: Option<String>,
    /// `NotStarted`, `InProgress`, `Completed` or `Expired`.
    pub status: String,
    /// `NotReviewed`, `Approve` or `Deny`.
    pub review_result: String,
    /// Who may decide it.
    pub approvers: Vec<IncomingPerson>,
    /// The signed-in user is one of the approvers.
    pub assigned_to_me: bool,
    /// Who decided it.
    pub reviewed_by: Option<IncomingPerson>,
    /// The approver's justification.
    pub justification: Option<String>,
}

/// The requester's assignment after the last approval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IncomingAssignment {
    /// Assignment schedule id (the request's `targetScheduleId`).
    pub schedule_id: String,
    /// Start.
    pub start: String,
    /// End (`None`: permanent).
    pub end: Option<String>,
    /// Active now (the requester's assignment instance lists show it).
    pub active: bool,
}

/// Another user's request that waits (or waited) for the signed-in user's decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IncomingRequest {
    /// Request id (Graph) or name (ARM).
    pub id: String,
    /// Approval id as the request's `approvalId` says it.
    pub approval_id: String,
    /// `entraRole`, `group` or `azureResource`.
    pub kind: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Role display name (groups: `"<group> (member|owner)"`).
    pub role_name: String,
    /// Role definition id, or `member`/`owner`.
    pub role: String,
    /// Directory scope, group id or ARM scope.
    pub scope: String,
    /// Scope display name.
    pub scope_name: String,
    /// Who asks.
    pub requester: IncomingPerson,
    /// Request status: `PendingApproval`, `Provisioned`, `Granted`, `Denied`, `Canceled`,
    /// `TimedOut` or `Failed`.
    pub status: String,
    /// Requester's justification.
    pub justification: Option<String>,
    /// Ticket number.
    pub ticket_number: Option<String>,
    /// Ticket system.
    pub ticket_system: Option<String>,
    /// When it was asked.
    pub created: String,
    /// Requested start.
    pub start: Option<String>,
    /// Requested duration.
    pub duration: Option<String>,
    /// Approval stages in order.
    pub stages: Vec<IncomingStage>,
    /// The requester's activation, once approved.
    pub assignment: Option<IncomingAssignment>,
}

fn person(p: &crate::state::Person) -> IncomingPerson {
    IncomingPerson {
        id: p.id.clone(),
        display_name: p.display_name.clone(),
        user_principal_name: p.upn.clone(),
    }
}

/// The incoming view of request `q` (which has a stored approval), at `now`.
pub(super) fn view(st: &State, q: &Request, now: OffsetDateTime) -> Option<IncomingRequest> {
    let a = st.approval_of(&q.id)?;
    let tenant = st.tenant(&q.target.tenant)?;
    let requester = st
        .person(tenant, &q.principal)
        .map(|p| person(&p))
        .unwrap_or_else(|| IncomingPerson {
            id: q.principal.clone(),
            display_name: q.principal.clone(),
            user_principal_name: None,
        });
    let stages = a
        .stages
        .iter()
        .map(|s| IncomingStage {
            id: s.id.clone(),
            display_name: s.display_name.clone(),
            status: s.status.name().into(),
            review_result: s.decision.map_or("NotReviewed", |d| d.name()).into(),
            approvers: s.approvers.iter().map(person).collect(),
            assigned_to_me: s.assigned_to(&tenant.user_oid),
            reviewed_by: s.reviewed_by.as_ref().map(person),
            justification: s.justification.clone(),
        })
        .collect();
    let assignment = q.target_schedule_id.as_ref().and_then(|sid| {
        st.assignments
            .iter()
            .find(|x| &x.schedule_id == sid && x.principal == q.principal)
            .map(|x| IncomingAssignment {
                schedule_id: sid.clone(),
                start: fmt_dt(x.start),
                end: x.end.map(fmt_dt),
                active: x.current(now),
            })
    });
    Some(IncomingRequest {
        id: q.id.clone(),
        approval_id: a.id.clone(),
        kind: kind_name(q.target.kind).into(),
        tenant_id: q.target.tenant.clone(),
        role_name: role_name(st, &q.target),
        role: q.target.role.clone(),
        scope: q.target.scope.clone(),
        scope_name: scope_name(st, &q.target),
        requester,
        status: q.status.clone(),
        justification: q.justification.clone(),
        ticket_number: q.ticket.as_ref().and_then(|t| t.number.clone()),
        ticket_system: q.ticket.as_ref().and_then(|t| t.system.clone()),
        created: fmt_dt(q.created),
        start: q.start.map(fmt_dt),
        duration: q.expiration.as_ref().and_then(|e| e.duration.clone()),
        stages,
        assignment,
    })
}

/// Every incoming request of `tenant` (all tenants when `None`), in state order.
pub(super) fn list(st: &State, tenant: Option<&str>, now: OffsetDateTime) -> Vec<IncomingRequest> {
    st.requests
        .iter()
        .filter(|q| tenant.is_none_or(|t| q.target.tenant.eq_ignore_ascii_case(t)))
        .filter_map(|q| view(st, q, now))
        .collect()
}
