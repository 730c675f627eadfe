//! PIM for Entra roles (`/roleManagement/directory/...`): the scopes it asks for, how
//! its eligibility/assignment schedules, instances and requests render, and the target
//! a POSTed request names.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::clock::fmt_dt;
use crate::reply::Reply;
use crate::service_errors::PimError;
use crate::state::{Assignment, AssignmentType, Eligibility, Kind, Request, State, Target};
use crate::wire::{self, Env};

use super::respond::d;
use super::schedules::{
    Flavour, created_by, elig_schedule_info, post_request, request_schedule, ticket_json,
};

const ELIG_READ: &[&str] = &[
    "RoleEligibilitySchedule.Read.Directory",
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
];
const ASSIGN_READ: &[&str] = &[
    "RoleAssignmentSchedule.Read.Directory",
    "RoleAssignmentSchedule.ReadWrite.Directory",
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
];
const REQ_WRITE: &[&str] = &[
    "RoleAssignmentSchedule.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
];

fn entra_elig_instance(e: &Eligibility) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleEligibilityScheduleInstance",
        "id": e.instance_id, "principalId": e.principal, "roleDefinitionId": e.target.role,
        "directoryScopeId": e.target.scope, "appScopeId": null,
        "startDateTime": fmt_dt(e.start), "endDateTime": d(e.end),
        "memberType": "Direct", "roleEligibilityScheduleId": e.schedule_id,
    })
}

fn entra_elig_schedule(e: &Eligibility) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleEligibilitySchedule",
        "id": e.schedule_id, "principalId": e.principal, "roleDefinitionId": e.target.role,
        "directoryScopeId": e.target.scope, "appScopeId": null,
        "createdUsing": e.schedule_id, "createdDateTime": fmt_dt(e.created), "modifiedDateTime": null,
        "status": "Provisioned", "memberType": "Direct", "scheduleInfo": elig_schedule_info(e),
    })
}

fn entra_assign_instance(a: &Assignment) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleAssignmentScheduleInstance",
        "id": a.instance_id, "principalId": a.principal, "roleDefinitionId": a.target.role,
        "directoryScopeId": a.target.scope, "appScopeId": null,
        "startDateTime": fmt_dt(a.start), "endDateTime": d(a.end),
        "assignmentType": if a.atype == AssignmentType::Activated { "Activated" } else { "Assigned" },
        "memberType": "Direct", "roleAssignmentOriginId": a.origin_id,
        "roleAssignmentScheduleId": a.schedule_id,
    })
}

fn entra_assign_schedule(a: &Assignment, now: OffsetDateTime) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleAssignmentSchedule",
        "id": a.schedule_id, "principalId": a.principal, "roleDefinitionId": a.target.role,
        "directoryScopeId": a.target.scope, "appScopeId": null,
        "createdUsing": a.request_id.clone().unwrap_or_else(|| a.schedule_id.clone()),
        "createdDateTime": fmt_dt(a.created), "modifiedDateTime": null,
        "status": if a.start > now { "Granted" } else { "Provisioned" },
        "assignmentType": if a.atype == AssignmentType::Activated { "Activated" } else { "Assigned" },
        "memberType": "Direct",
        "scheduleInfo": {
            "startDateTime": fmt_dt(a.start), "recurrence": null,
            "expiration": match a.end {
                Some(end) => json!({"type": "afterDateTime", "endDateTime": fmt_dt(end), "duration": null}),
                None => json!({"type": "noExpiration", "endDateTime": null, "duration": null}),
            }
        },
    })
}

fn entra_request(q: &Request) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleAssignmentScheduleRequest",
        "id": q.id, "status": q.status,
        "createdDateTime": fmt_dt(q.created), "completedDateTime": d(q.completed),
        "approvalId": q.approval_id, "customData": q.custom_data,
        "action": q.action.graph(), "principalId": q.principal,
        "roleDefinitionId": q.target.role, "directoryScopeId": q.target.scope, "appScopeId": null,
        "isValidationOnly": q.is_validation_only, "targetScheduleId": q.target_schedule_id,
        "justification": q.justification, "createdBy": created_by(&q.principal),
        "scheduleInfo": request_schedule(q), "ticketInfo": ticket_json(q),
    })
}

pub(super) const ENTRA: Flavour = Flavour {
    kind: Kind::EntraRole,
    elig_read: ELIG_READ,
    assign_read: ASSIGN_READ,
    req_write: REQ_WRITE,
    requests_set: "roleManagement/directory/roleAssignmentScheduleRequests",
    type_prefix: "unifiedRole",
    elig_instance: entra_elig_instance,
    elig_schedule: entra_elig_schedule,
    assign_instance: entra_assign_instance,
    assign_schedule: entra_assign_schedule,
    request: entra_request,
};

pub(super) fn entra_post(st: &mut State, env: &Env<'_>) -> Reply {
    post_request(st, env, &ENTRA, |v| {
        let role = wire::req_str(v, "roleDefinitionId")?;
        let scope = match wire::opt_str(v, "directoryScopeId")? {
            Some(s) => s,
            None => wire::opt_str(v, "appScopeId")?.ok_or_else(PimError::invalid)?,
        };
        Ok(Target {
            kind: Kind::EntraRole,
            tenant: env.tenant.id.clone(),
            role,
            scope,
        })
    })
}
