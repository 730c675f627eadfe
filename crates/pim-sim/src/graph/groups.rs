//! PIM for Groups (`/identityGovernance/privilegedAccess/group/...`): the scopes it
//! asks for, how its eligibility/assignment schedules, instances and requests render,
//! and the target a POSTed request names.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::clock::fmt_dt;
use crate::reply::Reply;
use crate::service_errors::PimError;
use crate::state::{Assignment, AssignmentType, Eligibility, Kind, Request, State, Target};
use crate::wire::{self, Env};

use super::respond::d;
use super::schedules::{
    Flavour, assignment_schedule_info, created_by, elig_schedule_info, post_request,
    request_schedule, ticket_json,
};

const GROUP_ELIG_READ: &[&str] = &[
    "PrivilegedEligibilitySchedule.Read.AzureADGroup",
    "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup",
    "PrivilegedAccess.Read.AzureADGroup",
    "PrivilegedAccess.ReadWrite.AzureADGroup",
];
const GROUP_ASSIGN_READ: &[&str] = &[
    "PrivilegedAssignmentSchedule.Read.AzureADGroup",
    "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
    "PrivilegedAccess.Read.AzureADGroup",
    "PrivilegedAccess.ReadWrite.AzureADGroup",
];
const GROUP_REQ_WRITE: &[&str] = &[
    "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
    "PrivilegedAccess.ReadWrite.AzureADGroup",
];

pub(super) const GROUP: Flavour = Flavour {
    kind: Kind::Group,
    elig_read: GROUP_ELIG_READ,
    assign_read: GROUP_ASSIGN_READ,
    req_write: GROUP_REQ_WRITE,
    requests_set: "identityGovernance/privilegedAccess/group/assignmentScheduleRequests",
    type_prefix: "privilegedAccessGroup",
    elig_instance: group_elig_instance,
    elig_schedule: group_elig_schedule,
    assign_instance: group_assign_instance,
    assign_schedule: group_assign_schedule,
    request: group_request,
};

fn group_elig_instance(e: &Eligibility) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.privilegedAccessGroupEligibilityScheduleInstance",
        "id": e.instance_id, "startDateTime": fmt_dt(e.start), "endDateTime": d(e.end),
        "memberType": "direct", "principalId": e.principal, "accessId": e.target.role,
        "groupId": e.target.scope, "eligibilityScheduleId": e.schedule_id,
    })
}

fn group_elig_schedule(e: &Eligibility) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.privilegedAccessGroupEligibilitySchedule",
        "id": e.schedule_id, "createdDateTime": fmt_dt(e.created), "createdUsing": e.schedule_id,
        "modifiedDateTime": null, "status": "Provisioned", "scheduleInfo": elig_schedule_info(e),
        "memberType": "direct", "principalId": e.principal, "accessId": e.target.role, "groupId": e.target.scope,
    })
}

fn group_assign_instance(a: &Assignment) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.privilegedAccessGroupAssignmentScheduleInstance",
        "id": a.instance_id, "startDateTime": fmt_dt(a.start), "endDateTime": d(a.end),
        "principalId": a.principal, "accessId": a.target.role, "groupId": a.target.scope,
        "memberType": "direct",
        "assignmentType": if a.atype == AssignmentType::Activated { "activated" } else { "assigned" },
        "assignmentScheduleId": a.schedule_id,
    })
}

fn group_assign_schedule(a: &Assignment, now: OffsetDateTime) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.privilegedAccessGroupAssignmentSchedule",
        "id": a.schedule_id, "createdDateTime": fmt_dt(a.created),
        "createdUsing": a.request_id.clone().unwrap_or_else(|| a.schedule_id.clone()),
        "modifiedDateTime": null, "status": if a.start > now { "Granted" } else { "Provisioned" },
        "scheduleInfo": assignment_schedule_info(a),
        "accessId": a.target.role, "groupId": a.target.scope, "principalId": a.principal,
        "memberType": "direct",
        "assignmentType": if a.atype == AssignmentType::Activated { "activated" } else { "assigned" },
    })
}

fn group_request(q: &Request) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.privilegedAccessGroupAssignmentScheduleRequest",
        "id": q.id, "status": q.status,
        "completedDateTime": d(q.completed), "createdDateTime": fmt_dt(q.created),
        "approvalId": q.approval_id, "customData": q.custom_data,
        "createdBy": created_by(&q.principal),
        "action": q.action.graph(), "isValidationOnly": q.is_validation_only,
        "justification": q.justification, "scheduleInfo": request_schedule(q), "ticketInfo": ticket_json(q),
        "accessId": q.target.role, "principalId": q.principal, "groupId": q.target.scope,
        "targetScheduleId": q.target_schedule_id,
    })
}

pub(super) fn group_post(st: &mut State, env: &Env<'_>) -> Reply {
    post_request(st, env, &GROUP, |v| {
        let group = wire::req_str(v, "groupId")?;
        let access = wire::req_str(v, "accessId")?.to_ascii_lowercase();
        if access != "member" && access != "owner" {
            return Err(PimError::invalid());
        }
        Ok(Target {
            kind: Kind::Group,
            tenant: env.tenant.id.clone(),
            role: access,
            scope: group,
        })
    })
}
