//! The caller's eligibility and assignment schedules and instances (list with
//! `$filter`, `atScope()`, paging; get by name) and schedule requests (PUT by
//! client-chosen name, idempotent re-PUT, validate, get, cancel).

use serde_json::Value;

use crate::approvals;
use crate::odata;
use crate::reply::{ARM_JSON, Reply};
use crate::requests::{self, NewRequest};
use crate::service_errors::{self, PimError};
use crate::state::{Action, Kind, Listed, Listing, Request, State, Target, norm_scope};
use crate::wire::{self, Env};

use super::page;
use super::resources::{
    assign_instance, assign_schedule, elig_instance, elig_schedule, request_json,
};

fn related(item_scope: &str, scope: &str, at_only: bool) -> bool {
    if scope.is_empty() {
        return true;
    }
    let (i, s) = (norm_scope(item_scope), norm_scope(scope));
    i == s || s.starts_with(&(i.clone() + "/")) || (!at_only && i.starts_with(&(s + "/")))
}

pub(super) fn list(st: &State, env: &Env<'_>, scope: &str, coll: &str) -> Reply {
    let filter = match env.q.get("$filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => match odata::parse_filter(f) {
            Some(x) => Some(x),
            None => {
                return service_errors::arm(
                    400,
                    "InvalidFilterInQueryString",
                    &format!("The filter '{f}' is not supported."),
                );
            }
        },
        None => None,
    };
    let at_only = filter.as_ref().is_some_and(|f| f.has_func("atScope"));
    let oid = env.claims.oid.clone();
    let tn = &env.tenant;
    let now = env.now;
    let listing = Listing::from_coll(coll);
    // `asApprover()` lists other users' requests with a stage the caller approves
    let approver =
        listing == Listing::Requests && filter.as_ref().is_some_and(|f| f.has_func("asApprover"));
    let mine = |p: &str, t: &Target| {
        t.kind == Kind::AzureResource
            && t.tenant == tn.id
            && p.eq_ignore_ascii_case(&oid)
            && related(&t.scope, scope, at_only)
    };
    let listed: Vec<Listed<'_>> = if approver {
        approvals::approver_requests(st, Kind::AzureResource, &tn.id, &oid)
            .into_iter()
            .filter(|q| related(&q.target.scope, scope, at_only))
            .map(Listed::Request)
            .collect()
    } else {
        st.listed(listing, now, mine)
    };
    let items: Vec<Value> = listed
        .into_iter()
        .map(|item| match item {
            Listed::EligibilityInstance(e) => elig_instance(st, tn, e),
            Listed::EligibilitySchedule(e) => elig_schedule(st, tn, e),
            Listed::AssignmentInstance(a) => assign_instance(st, tn, a),
            Listed::AssignmentSchedule(a) => assign_schedule(st, tn, a, now),
            Listed::Request(q) => request_json(st, tn, q),
        })
        .collect();
    let items = match filter {
        Some(f) => items
            .into_iter()
            .filter(|item| {
                let props = item.get("properties").cloned().unwrap_or_default();
                f.matches(
                    &props,
                    &|name, args| match name.to_ascii_lowercase().as_str() {
                        "astarget" | "asrequestor" | "atscope" => true,
                        "asapprover" => approver,
                        "assignedto" => args.first().is_some_and(|a| a.eq_ignore_ascii_case(&oid)),
                        _ => false,
                    },
                )
            })
            .collect(),
        None => items,
    };
    page(st, env, items)
}

pub(super) fn get_one(st: &State, env: &Env<'_>, scope: &str, coll: &str, name: &str) -> Reply {
    let tn = &env.tenant;
    let now = env.now;
    let oid = &env.claims.oid;
    let ok = |p: &str, t: &Target| {
        t.kind == Kind::AzureResource
            && t.tenant == tn.id
            && p.eq_ignore_ascii_case(oid)
            && norm_scope(&t.scope) == norm_scope(scope)
    };
    let found = match coll {
        "roleeligibilityscheduleinstances" => st
            .eligibilities
            .iter()
            .find(|e| {
                ok(&e.principal, &e.target)
                    && e.instance_id.eq_ignore_ascii_case(name)
                    && e.current(now)
            })
            .map(|e| elig_instance(st, tn, e)),
        "roleeligibilityschedules" => st
            .eligibilities
            .iter()
            .find(|e| ok(&e.principal, &e.target) && e.schedule_id.eq_ignore_ascii_case(name))
            .map(|e| elig_schedule(st, tn, e)),
        "roleassignmentscheduleinstances" => st
            .assignments
            .iter()
            .find(|a| {
                ok(&a.principal, &a.target)
                    && a.instance_id.eq_ignore_ascii_case(name)
                    && a.current(now)
            })
            .map(|a| assign_instance(st, tn, a)),
        _ => st
            .assignments
            .iter()
            .find(|a| {
                ok(&a.principal, &a.target)
                    && a.schedule_id.eq_ignore_ascii_case(name)
                    && a.scheduled(now)
            })
            .map(|a| assign_schedule(st, tn, a, now)),
    };
    match found {
        Some(v) => Reply::json(200, v, ARM_JSON),
        None => service_errors::arm(
            404,
            "ResourceNotFound",
            &format!("The resource '{name}' was not found."),
        ),
    }
}

fn find_request<'a>(st: &'a State, env: &Env<'_>, name: &str) -> Option<&'a Request> {
    st.requests.iter().find(|q| {
        q.target.kind == Kind::AzureResource
            && q.target.tenant == env.tenant.id
            && q.id.eq_ignore_ascii_case(name)
    })
}

fn request_not_found(name: &str) -> Reply {
    service_errors::arm(
        404,
        "RoleAssignmentScheduleRequestNotFound",
        &format!("The role assignment schedule request '{name}' was not found."),
    )
}

pub(super) fn get_request(st: &State, env: &Env<'_>, name: &str) -> Reply {
    match find_request(st, env, name) {
        Some(q) => Reply::json(200, request_json(st, &env.tenant, q), ARM_JSON),
        None => request_not_found(name),
    }
}

pub(super) fn put_request(
    st: &mut State,
    env: &Env<'_>,
    scope: &str,
    name: &str,
    validate: bool,
) -> Reply {
    if scope.is_empty() {
        return service_errors::arm(
            400,
            "InvalidScope",
            "A scope is required to create a role assignment schedule request.",
        );
    }
    let body: Value = match serde_json::from_slice(env.r.body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return service_errors::arm(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized.",
            );
        }
    };
    let Some(props) = body.get("properties").filter(|p| p.is_object()).cloned() else {
        return service_errors::arm(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'properties' is required.",
        );
    };
    if !validate && let Some(existing) = find_request(st, env, name) {
        let same = existing.arm_body.as_ref() == Some(&props)
            && norm_scope(&existing.arm_scope) == norm_scope(scope);
        return if same {
            Reply::json(201, request_json(st, &env.tenant, existing), ARM_JSON)
        } else {
            service_errors::arm(
                400,
                "RoleAssignmentRequestExists",
                &format!(
                    "A role assignment schedule request with the name '{name}' already exists with different properties."
                ),
            )
        };
    }
    let parsed = (|| -> Result<NewRequest, PimError> {
        let role_full = wire::req_str(&props, "roleDefinitionId")?;
        let role = role_full
            .rsplit('/')
            .next()
            .unwrap_or(&role_full)
            .to_owned();
        let action =
            Action::parse(&wire::req_str(&props, "requestType")?).ok_or_else(PimError::invalid)?;
        let (start, expiration) = wire::schedule(&props)?;
        Ok(NewRequest {
            id: name.to_owned(),
            action,
            principal: wire::req_str(&props, "principalId")?,
            target: Target {
                kind: Kind::AzureResource,
                tenant: env.tenant.id.clone(),
                role,
                scope: scope.to_owned(),
            },
            justification: wire::opt_str(&props, "justification")?,
            ticket: wire::ticket(&props)?,
            start,
            expiration,
            is_validation_only: validate,
            custom_data: None,
            arm_scope: scope.to_owned(),
            arm_body: Some(props.clone()),
            linked_eligibility: wire::opt_str(&props, "linkedRoleEligibilityScheduleId")?,
            target_schedule_id: wire::opt_str(&props, "targetRoleAssignmentScheduleId")?,
        })
    })();
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return service_errors::arm_pim(&e),
    };
    let caller = env.caller();
    match requests::submit(st, env.now, &caller, req) {
        Ok(q) => Reply::json(
            if validate { 200 } else { 201 },
            request_json(st, &env.tenant, &q),
            ARM_JSON,
        ),
        Err(e) => service_errors::arm_pim(&e),
    }
}

pub(super) fn cancel(st: &mut State, env: &Env<'_>, name: &str) -> Reply {
    match requests::cancel(st, env.now, &env.claims.oid, Kind::AzureResource, name) {
        Ok(_) => Reply::empty(200),
        Err(e) if e.status == 404 => request_not_found(name),
        Err(e) => service_errors::arm_pim(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_relations() {
        let sub = "/subscriptions/a";
        let rg = "/subscriptions/a/resourceGroups/rg";
        assert!(related(sub, rg, false));
        assert!(related(sub, rg, true));
        assert!(related(rg, sub, false));
        assert!(!related(rg, sub, true));
        assert!(related(rg, "", true));
        assert!(!related("/subscriptions/b", sub, false));
    }
}
