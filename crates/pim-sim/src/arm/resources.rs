//! How ARM renders the PIM items: eligibility and assignment schedules and instances,
//! schedule requests, their `expandedProperties` (scope, role definition, principal),
//! and full resource ids.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::clock::fmt_dt;
use crate::state::{
    Action, Assignment, AssignmentType, Eligibility, Request, State, Target, Tenant, seeded_guid,
};

use super::PROVIDER;

/// `{id, displayName, type}` of a scope.
pub(super) fn scope_json(tenant: &Tenant, scope: &str) -> Value {
    let segs: Vec<&str> = scope.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        [_, sub] => {
            let name = tenant
                .subs
                .iter()
                .find(|s| s.id.eq_ignore_ascii_case(sub))
                .map(|s| s.name.clone())
                .unwrap_or_else(|| (*sub).to_owned());
            json!({"id": scope, "displayName": name, "type": "subscription"})
        }
        [_, _, _, rg] => json!({"id": scope, "displayName": rg, "type": "resourcegroup"}),
        [.., "managementGroups", mg] => {
            json!({"id": scope, "displayName": mg, "type": "managementgroup"})
        }
        _ => {
            json!({"id": scope, "displayName": segs.last().copied().unwrap_or_default(), "type": "resource"})
        }
    }
}

/// Full role definition id for a role GUID used at a scope.
pub(super) fn role_def_id(scope: &str, role: &str) -> String {
    let segs: Vec<&str> = scope.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        [s, sub, ..] if s.eq_ignore_ascii_case("subscriptions") => {
            format!("/subscriptions/{sub}{PROVIDER}/roleDefinitions/{role}")
        }
        _ => format!("{PROVIDER}/roleDefinitions/{role}"),
    }
}

fn role_name(tenant: &Tenant, role: &str) -> String {
    tenant
        .azure_roles
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(role))
        .map(|r| r.name.clone())
        .unwrap_or_else(|| role.to_owned())
}

/// `expandedProperties` of an item of `principal` (the signed-in user or a directory
/// user: `email` is the UPN) about `t`.
fn expanded(st: &State, tenant: &Tenant, principal: &str, t: &Target) -> Value {
    let p = match st.person(tenant, principal) {
        Some(p) => {
            json!({"id": p.id, "displayName": p.display_name, "email": p.upn.or(p.mail), "type": "User"})
        }
        None => json!({"id": principal, "displayName": null, "email": null, "type": "User"}),
    };
    json!({
        "scope": scope_json(tenant, &t.scope),
        "roleDefinition": {"id": role_def_id(&t.scope, &t.role), "displayName": role_name(tenant, &t.role), "type": "BuiltInRole"},
        "principal": p,
    })
}

fn d(t: Option<OffsetDateTime>) -> Value {
    t.map(|t| json!(fmt_dt(t))).unwrap_or(Value::Null)
}

pub(super) fn res(scope: &str, typ: &str, name: &str, props: Value) -> Value {
    json!({
        "properties": props,
        "name": name,
        "id": format!("{scope}{PROVIDER}/{typ}/{name}"),
        "type": format!("Microsoft.Authorization/{typ}"),
    })
}

pub(super) fn elig_instance(st: &State, tn: &Tenant, e: &Eligibility) -> Value {
    res(
        &e.target.scope,
        "roleEligibilityScheduleInstances",
        &e.instance_id,
        json!({
            "scope": e.target.scope, "roleDefinitionId": role_def_id(&e.target.scope, &e.target.role),
            "principalId": e.principal, "principalType": "User", "status": "Provisioned",
            "roleEligibilityScheduleId": format!("{}{PROVIDER}/roleEligibilitySchedules/{}", e.target.scope, e.schedule_id),
            "startDateTime": fmt_dt(e.start), "endDateTime": d(e.end), "memberType": "Direct",
            "createdOn": fmt_dt(e.created), "condition": null, "conditionVersion": null,
            "expandedProperties": expanded(st, tn, &e.principal, &e.target),
        }),
    )
}

pub(super) fn elig_schedule(st: &State, tn: &Tenant, e: &Eligibility) -> Value {
    res(
        &e.target.scope,
        "roleEligibilitySchedules",
        &e.schedule_id,
        json!({
            "scope": e.target.scope, "roleDefinitionId": role_def_id(&e.target.scope, &e.target.role),
            "principalId": e.principal, "principalType": "User", "status": "Provisioned",
            "roleEligibilityScheduleRequestId": format!("{}{PROVIDER}/roleEligibilityScheduleRequests/{}", e.target.scope, seeded_guid(&e.schedule_id)),
            "startDateTime": fmt_dt(e.start), "endDateTime": d(e.end), "memberType": "Direct",
            "createdOn": fmt_dt(e.created), "updatedOn": fmt_dt(e.created), "condition": null, "conditionVersion": null,
            "expandedProperties": expanded(st, tn, &e.principal, &e.target),
        }),
    )
}

fn linked_elig(st: &State, a: &Assignment) -> (Value, Value) {
    match a
        .eligibility
        .as_deref()
        .and_then(|id| st.eligibilities.iter().find(|e| e.schedule_id == id))
    {
        Some(e) => (
            json!(format!(
                "{}{PROVIDER}/roleEligibilitySchedules/{}",
                e.target.scope, e.schedule_id
            )),
            json!(format!(
                "{}{PROVIDER}/roleEligibilityScheduleInstances/{}",
                e.target.scope, e.instance_id
            )),
        ),
        None => (Value::Null, Value::Null),
    }
}

fn atype(a: &Assignment) -> &'static str {
    if a.atype == AssignmentType::Activated {
        "Activated"
    } else {
        "Assigned"
    }
}

pub(super) fn assign_instance(st: &State, tn: &Tenant, a: &Assignment) -> Value {
    let (ls, li) = linked_elig(st, a);
    res(
        &a.target.scope,
        "roleAssignmentScheduleInstances",
        &a.instance_id,
        json!({
            "scope": a.target.scope, "roleDefinitionId": role_def_id(&a.target.scope, &a.target.role),
            "principalId": a.principal, "principalType": "User",
            "roleAssignmentScheduleId": format!("{}{PROVIDER}/roleAssignmentSchedules/{}", a.target.scope, a.schedule_id),
            "originRoleAssignmentId": format!("{}{PROVIDER}/roleAssignments/{}", a.target.scope, a.origin_id),
            "status": "Provisioned", "startDateTime": fmt_dt(a.start), "endDateTime": d(a.end),
            "linkedRoleEligibilityScheduleId": ls, "linkedRoleEligibilityScheduleInstanceId": li,
            "assignmentType": atype(a), "memberType": "Direct", "condition": null, "conditionVersion": null,
            "createdOn": fmt_dt(a.created), "expandedProperties": expanded(st, tn, &a.principal, &a.target),
        }),
    )
}

pub(super) fn assign_schedule(
    st: &State,
    tn: &Tenant,
    a: &Assignment,
    now: OffsetDateTime,
) -> Value {
    let (ls, _) = linked_elig(st, a);
    res(
        &a.target.scope,
        "roleAssignmentSchedules",
        &a.schedule_id,
        json!({
            "scope": a.target.scope, "roleDefinitionId": role_def_id(&a.target.scope, &a.target.role),
            "principalId": a.principal, "principalType": "User",
            "roleAssignmentScheduleRequestId": a.request_id.as_ref().map(|r| format!("{}{PROVIDER}/roleAssignmentScheduleRequests/{r}", a.target.scope)),
            "linkedRoleEligibilityScheduleId": ls, "assignmentType": atype(a), "memberType": "Direct",
            "status": if a.start > now { "Granted" } else { "Provisioned" },
            "startDateTime": fmt_dt(a.start), "endDateTime": d(a.end), "condition": null, "conditionVersion": null,
            "createdOn": fmt_dt(a.created), "updatedOn": fmt_dt(a.created), "expandedProperties": expanded(st, tn, &a.principal, &a.target),
        }),
    )
}

pub(super) fn request_json(st: &State, tn: &Tenant, q: &Request) -> Value {
    let exp = q.expiration.as_ref();
    let instance = st
        .assignments
        .iter()
        .find(|a| Some(&a.schedule_id) == q.target_schedule_id.as_ref())
        .map(|a| a.instance_id.clone());
    let scope = if q.arm_scope.is_empty() {
        q.target.scope.clone()
    } else {
        q.arm_scope.clone()
    };
    let ticket = match &q.ticket {
        Some(t) => json!({"ticketNumber": t.number, "ticketSystem": t.system}),
        None => json!({"ticketNumber": null, "ticketSystem": null}),
    };
    res(
        &scope,
        "roleAssignmentScheduleRequests",
        &q.id,
        json!({
            "targetRoleAssignmentScheduleId": q.target_schedule_id,
            "targetRoleAssignmentScheduleInstanceId": if q.action == Action::SelfActivate { Value::Null } else { json!(instance) },
            "scope": q.target.scope,
            "roleDefinitionId": role_def_id(&q.target.scope, &q.target.role),
            "principalId": q.principal, "principalType": "User",
            "requestType": q.action.arm(), "status": q.status, "approvalId": q.approval_id,
            "scheduleInfo": {
                "startDateTime": d(q.start),
                "expiration": {
                    "type": exp.map(|e| e.etype.arm()).unwrap_or("NoExpiration"),
                    "endDateTime": d(exp.and_then(|e| e.end)),
                    "duration": exp.and_then(|e| e.duration.clone()),
                }
            },
            "linkedRoleEligibilityScheduleId": q.linked_eligibility,
            "justification": q.justification, "ticketInfo": ticket,
            "requestorId": q.principal, "createdOn": fmt_dt(q.created),
            "condition": null, "conditionVersion": null,
            "expandedProperties": expanded(st, tn, &q.principal, &q.target),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_definition_ids() {
        assert_eq!(
            role_def_id("/subscriptions/a/resourceGroups/rg", "r"),
            "/subscriptions/a/providers/Microsoft.Authorization/roleDefinitions/r"
        );
        assert_eq!(
            role_def_id("/providers/Microsoft.Management/managementGroups/m", "r"),
            "/providers/Microsoft.Authorization/roleDefinitions/r"
        );
    }
}
