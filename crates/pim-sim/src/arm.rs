//! Azure Resource Manager, `Microsoft.Authorization` PIM resources (api-version
//! 2020-10-01): eligibility/assignment schedules and instances, schedule requests
//! (PUT by client-chosen name, cancel), role management policies and policy
//! assignments, plus `GET /tenants` and `GET /subscriptions`.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::authority::ARM_AUD;
use crate::clock::fmt_dt;
use crate::engine::{self, NewRequest};
use crate::odata::{self, Query};
use crate::policy::{self, Dialect};
use crate::reply::{ARM_JSON, Ctx, Reply};
use crate::server::Shared;
use crate::service_errors::{self, PimError};
use crate::state::{
    Action, Assignment, AssignmentType, Eligibility, Kind, Listed, Listing, Request, State, Target,
    Tenant, norm_scope, seeded_guid,
};
use crate::wire::{self, ApiReq, Env, TokenProblem};

/// API versions accepted for the PIM resources.
pub const PIM_API_VERSIONS: [&str; 5] = [
    "2020-10-01",
    "2020-10-01-preview",
    "2022-04-01-preview",
    "2024-02-01-preview",
    "2024-09-01-preview",
];

const PROVIDER: &str = "/providers/Microsoft.Authorization";

/// Handles one ARM request.
pub fn dispatch(sh: &Shared, ctx: &Ctx, r: &ApiReq<'_>) -> Reply {
    let q = Query::parse(r.raw_query);
    let Some(api) = q
        .get("api-version")
        .map(str::to_owned)
        .filter(|v| !v.is_empty())
    else {
        return service_errors::arm(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    let mut st = sh.lock();
    let auds = [ARM_AUD, "https://management.core.windows.net"];
    let env = match Env::check(&st, ctx, r, q, &auds) {
        Ok(env) => env,
        Err(p) => return token_error(ctx, p),
    };
    let path = r.path.trim_end_matches('/');
    let lower = path.to_ascii_lowercase();
    if lower == "/tenants" && r.method == "GET" {
        return tenants(&st, &env);
    }
    if lower == "/subscriptions" && r.method == "GET" {
        return subscriptions(&env);
    }
    let Some(idx) = lower.rfind("/providers/microsoft.authorization/") else {
        return not_found(path);
    };
    let scope = &path[..idx];
    let rest: Vec<&str> = path[idx + "/providers/microsoft.authorization/".len()..]
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if !PIM_API_VERSIONS.contains(&api.as_str()) {
        return service_errors::arm(
            400,
            "InvalidApiVersionParameter",
            &format!(
                "The api-version '{api}' is invalid. The supported versions are '{}'.",
                PIM_API_VERSIONS.join(",")
            ),
        );
    }
    if let Err(e) = check_scope(&st, &env.tenant, scope) {
        return e;
    }
    let l: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = l.iter().map(String::as_str).collect();
    match (r.method, l.as_slice()) {
        ("GET", [coll]) if is_read_coll(coll) => list(&st, &env, scope, coll),
        ("GET", [coll, _]) if is_read_coll(coll) => get_one(&st, &env, scope, coll, rest[1]),
        ("GET", ["roleassignmentschedulerequests"]) => {
            list(&st, &env, scope, "roleassignmentschedulerequests")
        }
        ("GET", ["roleassignmentschedulerequests", _]) => get_request(&st, &env, rest[1]),
        ("PUT", ["roleassignmentschedulerequests", _]) => {
            put_request(&mut st, &env, scope, rest[1], false)
        }
        ("POST", ["roleassignmentschedulerequests", _, "validate"]) => {
            put_request(&mut st, &env, scope, rest[1], true)
        }
        ("POST", ["roleassignmentschedulerequests", _, "cancel"]) => cancel(&mut st, &env, rest[1]),
        ("GET", ["rolemanagementpolicyassignments"]) => policy_assignments(&st, &env, scope, None),
        ("GET", ["rolemanagementpolicyassignments", _]) => {
            policy_assignments(&st, &env, scope, Some(rest[1]))
        }
        ("GET", ["rolemanagementpolicies"]) => policies(&st, &env, scope, None),
        ("GET", ["rolemanagementpolicies", _]) => policies(&st, &env, scope, Some(rest[1])),
        (m, [c, ..])
            if is_read_coll(c)
                || c.starts_with("rolemanagementpolic")
                || *c == "roleassignmentschedulerequests" =>
        {
            service_errors::arm(
                405,
                "MethodNotAllowed",
                &format!("The requested method '{m}' is not allowed for this resource."),
            )
        }
        _ => not_found(path),
    }
}

fn not_found(path: &str) -> Reply {
    service_errors::arm(
        404,
        "InvalidResourceType",
        &format!(
            "The resource type could not be found for the path '{path}' in the namespace 'Microsoft.Authorization'."
        ),
    )
}

fn token_error(ctx: &Ctx, p: TokenProblem) -> Reply {
    let (code, msg) = match p {
        TokenProblem::Missing => (
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.".to_owned(),
        ),
        TokenProblem::Invalid => (
            "InvalidAuthenticationToken",
            "The access token is invalid.".to_owned(),
        ),
        TokenProblem::Audience(a) => (
            "InvalidAuthenticationToken",
            format!(
                "The access token has been obtained for wrong audience or resource '{a}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."
            ),
        ),
        TokenProblem::Expired(exp) => {
            let e = OffsetDateTime::from_unix_timestamp(exp)
                .map(fmt_dt)
                .unwrap_or_default();
            (
                "ExpiredAuthenticationToken",
                format!(
                    "The access token expiry UTC time '{e}' is earlier than current UTC time '{}'.",
                    fmt_dt(ctx.now)
                ),
            )
        }
    };
    service_errors::arm(401, code, &msg).header(
        "WWW-Authenticate",
        format!("Bearer authorization_uri=\"{}/common\", error=\"invalid_token\", error_description=\"{msg}\"", ctx.base),
    )
}

fn is_read_coll(c: &str) -> bool {
    matches!(
        c,
        "roleeligibilityscheduleinstances"
            | "roleeligibilityschedules"
            | "roleassignmentscheduleinstances"
            | "roleassignmentschedules"
    )
}

/// Validates an ARM scope against the caller's tenant.
fn check_scope(st: &State, tenant: &Tenant, scope: &str) -> Result<(), Reply> {
    if scope.is_empty() {
        return Ok(());
    }
    let segs: Vec<&str> = scope.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        [s, sub, rest @ ..] if s.eq_ignore_ascii_case("subscriptions") => {
            let Some(sb) = tenant.subs.iter().find(|x| x.id.eq_ignore_ascii_case(sub)) else {
                if let Some(other) = st
                    .tenants
                    .iter()
                    .find(|t| t.subs.iter().any(|x| x.id.eq_ignore_ascii_case(sub)))
                {
                    return Err(service_errors::arm(
                        401,
                        "InvalidAuthenticationTokenTenant",
                        &format!(
                            "The access token is from the wrong issuer '{}/{}/'. It must match the tenant '{}/{}/' associated with this subscription. Please use the authority (URL) '{}/{}' to get the token.",
                            "https://sts.windows.net",
                            tenant.id,
                            "https://sts.windows.net",
                            other.id,
                            "https://login.windows.net",
                            other.id
                        ),
                    ));
                }
                return Err(service_errors::arm(
                    404,
                    "SubscriptionNotFound",
                    &format!("The subscription '{sub}' could not be found."),
                ));
            };
            match rest {
                [] => Ok(()),
                [rg_kw, rg, ..] if rg_kw.eq_ignore_ascii_case("resourceGroups") => {
                    if sb
                        .resource_groups
                        .iter()
                        .any(|x| x.eq_ignore_ascii_case(rg))
                    {
                        Ok(())
                    } else {
                        Err(service_errors::arm(
                            404,
                            "ResourceGroupNotFound",
                            &format!("Resource group '{rg}' could not be found."),
                        ))
                    }
                }
                _ => Err(service_errors::arm(
                    400,
                    "InvalidScope",
                    &format!("The scope '{scope}' is not valid."),
                )),
            }
        }
        [p, m, mg, id]
            if p.eq_ignore_ascii_case("providers")
                && m.eq_ignore_ascii_case("Microsoft.Management")
                && mg.eq_ignore_ascii_case("managementGroups")
                && !id.is_empty() =>
        {
            Ok(())
        }
        _ => Err(service_errors::arm(
            400,
            "InvalidScope",
            &format!("The scope '{scope}' is not valid."),
        )),
    }
}

/// `{id, displayName, type}` of a scope.
fn scope_json(tenant: &Tenant, scope: &str) -> Value {
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
fn role_def_id(scope: &str, role: &str) -> String {
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

fn expanded(st: &State, tenant: &Tenant, t: &Target) -> Value {
    json!({
        "scope": scope_json(tenant, &t.scope),
        "roleDefinition": {"id": role_def_id(&t.scope, &t.role), "displayName": role_name(tenant, &t.role), "type": "BuiltInRole"},
        "principal": {"id": tenant.user_oid, "displayName": st.user.display_name, "email": tenant.user_upn, "type": "User"},
    })
}

fn d(t: Option<OffsetDateTime>) -> Value {
    t.map(|t| json!(fmt_dt(t))).unwrap_or(Value::Null)
}

fn res(scope: &str, typ: &str, name: &str, props: Value) -> Value {
    json!({
        "properties": props,
        "name": name,
        "id": format!("{scope}{PROVIDER}/{typ}/{name}"),
        "type": format!("Microsoft.Authorization/{typ}"),
    })
}

fn elig_instance(st: &State, tn: &Tenant, e: &Eligibility) -> Value {
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
            "expandedProperties": expanded(st, tn, &e.target),
        }),
    )
}

fn elig_schedule(st: &State, tn: &Tenant, e: &Eligibility) -> Value {
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
            "expandedProperties": expanded(st, tn, &e.target),
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

fn assign_instance(st: &State, tn: &Tenant, a: &Assignment) -> Value {
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
            "createdOn": fmt_dt(a.created), "expandedProperties": expanded(st, tn, &a.target),
        }),
    )
}

fn assign_schedule(st: &State, tn: &Tenant, a: &Assignment, now: OffsetDateTime) -> Value {
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
            "createdOn": fmt_dt(a.created), "updatedOn": fmt_dt(a.created), "expandedProperties": expanded(st, tn, &a.target),
        }),
    )
}

fn request_json(st: &State, tn: &Tenant, q: &Request) -> Value {
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
            "expandedProperties": expanded(st, tn, &q.target),
        }),
    )
}

fn related(item_scope: &str, scope: &str, at_only: bool) -> bool {
    if scope.is_empty() {
        return true;
    }
    let (i, s) = (norm_scope(item_scope), norm_scope(scope));
    i == s || s.starts_with(&(i.clone() + "/")) || (!at_only && i.starts_with(&(s + "/")))
}

fn list(st: &State, env: &Env<'_>, scope: &str, coll: &str) -> Reply {
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
    let mine = |p: &str, t: &Target| {
        t.kind == Kind::AzureResource
            && t.tenant == tn.id
            && p.eq_ignore_ascii_case(&oid)
            && related(&t.scope, scope, at_only)
    };
    let items: Vec<Value> = st
        .listed(Listing::from_coll(coll), now, mine)
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

fn page(st: &State, env: &Env<'_>, items: Vec<Value>) -> Reply {
    let offset = match env.q.get("$skiptoken") {
        Some(t) => match odata::parse_skip_token(t) {
            Some(o) => o,
            None => {
                return service_errors::arm(400, "InvalidSkipToken", "The skip token is invalid.");
            }
        },
        None => 0,
    };
    let items: Vec<Value> = items.into_iter().skip(offset).collect();
    let mut body = Map::new();
    match st.config.page_size {
        Some(p) if items.len() > p => {
            let page: Vec<Value> = items.into_iter().take(p).collect();
            let rest = odata::raw_without(env.r.raw_query, "$skiptoken");
            let sep = if rest.is_empty() { "" } else { "&" };
            body.insert("value".into(), Value::Array(page));
            body.insert(
                "nextLink".into(),
                json!(format!(
                    "{}{}?{rest}{sep}$skipToken={}",
                    env.ctx.base,
                    env.r.raw_path,
                    odata::skip_token(offset + p)
                )),
            );
        }
        _ => {
            body.insert("value".into(), Value::Array(items));
        }
    }
    Reply::json(200, Value::Object(body), ARM_JSON)
}

fn get_one(st: &State, env: &Env<'_>, scope: &str, coll: &str, name: &str) -> Reply {
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

fn get_request(st: &State, env: &Env<'_>, name: &str) -> Reply {
    match find_request(st, env, name) {
        Some(q) => Reply::json(200, request_json(st, &env.tenant, q), ARM_JSON),
        None => request_not_found(name),
    }
}

fn put_request(st: &mut State, env: &Env<'_>, scope: &str, name: &str, validate: bool) -> Reply {
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
    match engine::submit(st, env.now, &caller, req) {
        Ok(q) => Reply::json(
            if validate { 200 } else { 201 },
            request_json(st, &env.tenant, &q),
            ARM_JSON,
        ),
        Err(e) => service_errors::arm_pim(&e),
    }
}

fn cancel(st: &mut State, env: &Env<'_>, name: &str) -> Reply {
    match engine::cancel(st, env.now, &env.claims.oid, Kind::AzureResource, name) {
        Ok(_) => Reply::empty(200),
        Err(e) if e.status == 404 => request_not_found(name),
        Err(e) => service_errors::arm_pim(&e),
    }
}

fn forbidden(env: &Env<'_>, scope: &str, action: &str) -> Reply {
    service_errors::arm(
        403,
        "AuthorizationFailed",
        &format!(
            "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}{PROVIDER}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
            env.claims.upn, env.claims.oid
        ),
    )
}

fn policy_guid(tenant: &Tenant, scope: &str, role: &str) -> String {
    seeded_guid(&format!(
        "{}/armpolicy/{}/{}",
        tenant.id,
        norm_scope(scope),
        role.to_ascii_lowercase()
    ))
}

/// What ARM checks before it lists or reads a policy collection (`resource`, as in
/// `roleManagementPolicies`; `what`, its name in words): a scope is required, and
/// reading may be configured to be forbidden.
fn policy_read_guard(
    st: &State,
    env: &Env<'_>,
    scope: &str,
    resource: &str,
    what: &str,
) -> Result<(), Reply> {
    if scope.is_empty() {
        return Err(service_errors::arm(
            400,
            "InvalidScope",
            &format!("A scope is required to list {what}."),
        ));
    }
    if st.config.arm_policy_read_forbidden {
        let action = format!("Microsoft.Authorization/{resource}/read");
        return Err(forbidden(env, scope, &action));
    }
    Ok(())
}

/// The Azure role `role` at `scope` in `tn`, as a policy is looked up for it.
fn azure_target(tn: &Tenant, role: &str, scope: &str) -> Target {
    Target {
        kind: Kind::AzureResource,
        tenant: tn.id.clone(),
        role: role.to_owned(),
        scope: scope.to_owned(),
    }
}

/// With a `name`, the one of `items` so named (case-insensitively), else a 404 whose
/// `(code, what)` are the error code and the item's name in words; without, a page of
/// all `items`.
fn named_or_page(
    st: &State,
    env: &Env<'_>,
    items: Vec<Value>,
    name: Option<&str>,
    (code, what): (&str, &str),
) -> Reply {
    let Some(n) = name else {
        return page(st, env, items);
    };
    match items.into_iter().find(|i| {
        i["name"]
            .as_str()
            .is_some_and(|x| x.eq_ignore_ascii_case(n))
    }) {
        Some(v) => Reply::json(200, v, ARM_JSON),
        None => service_errors::arm(404, code, &format!("The {what} '{n}' was not found.")),
    }
}

fn policy_assignments(st: &State, env: &Env<'_>, scope: &str, name: Option<&str>) -> Reply {
    let what = "role management policy assignments";
    if let Err(e) = policy_read_guard(st, env, scope, "roleManagementPolicyAssignments", what) {
        return e;
    }
    let tn = &env.tenant;
    let role_filter = env
        .q
        .get("$filter")
        .and_then(odata::parse_filter)
        .and_then(|f| f.eq_value("roleDefinitionId"));
    let items: Vec<Value> = tn
        .azure_roles
        .iter()
        .filter(|r| role_filter.as_deref().is_none_or(|f| f.rsplit('/').next().unwrap_or(f).eq_ignore_ascii_case(&r.id)))
        .map(|r| {
            let pol = st.policy_for(&azure_target(tn, &r.id, scope));
            let pg = policy_guid(tn, scope, &r.id);
            let policy_id = format!("{scope}{PROVIDER}/roleManagementPolicies/{pg}");
            let rd = role_def_id(scope, &r.id);
            res(scope, "roleManagementPolicyAssignments", &format!("{pg}_{}", r.id), json!({
                "scope": scope, "roleDefinitionId": rd, "policyId": policy_id,
                "effectiveRules": policy::rules(&pol, &tn.approvers, Dialect::Arm),
                "policyAssignmentProperties": {
                    "scope": scope_json(tn, scope),
                    "roleDefinition": {"id": rd, "displayName": r.name, "type": "BuiltInRole"},
                    "policy": {"id": policy_id, "lastModifiedBy": {"id": null, "displayName": "Admin", "type": null, "email": null}, "lastModifiedDateTime": null},
                }
            }))
        })
        .collect();
    let not_found = (
        "RoleManagementPolicyAssignmentNotFound",
        "role management policy assignment",
    );
    named_or_page(st, env, items, name, not_found)
}

fn policies(st: &State, env: &Env<'_>, scope: &str, name: Option<&str>) -> Reply {
    let what = "role management policies";
    if let Err(e) = policy_read_guard(st, env, scope, "roleManagementPolicies", what) {
        return e;
    }
    let tn = &env.tenant;
    let items: Vec<Value> = tn
        .azure_roles
        .iter()
        .map(|r| {
            let pol = st.policy_for(&azure_target(tn, &r.id, scope));
            let rules = policy::rules(&pol, &tn.approvers, Dialect::Arm);
            res(scope, "roleManagementPolicies", &policy_guid(tn, scope, &r.id), json!({
                "scope": scope, "displayName": "Default", "description": "",
                "isOrganizationDefault": false,
                "lastModifiedBy": {"id": null, "displayName": "Admin", "type": null, "email": null},
                "lastModifiedDateTime": null,
                "rules": rules.clone(), "effectiveRules": rules,
                "policyProperties": {"scope": scope_json(tn, scope)},
            }))
        })
        .collect();
    named_or_page(
        st,
        env,
        items,
        name,
        ("RoleManagementPolicyNotFound", "role management policy"),
    )
}

fn tenants(st: &State, env: &Env<'_>) -> Reply {
    let items: Vec<Value> = st
        .tenants
        .iter()
        .map(|t| {
            json!({
                "id": format!("/tenants/{}", t.id), "tenantId": t.id, "countryCode": "US",
                "displayName": t.name, "domains": t.domains, "tenantCategory": "Home",
                "defaultDomain": t.default_domain, "tenantType": "AAD",
            })
        })
        .collect();
    page(st, env, items)
}

fn subscriptions(env: &Env<'_>) -> Reply {
    let items: Vec<Value> = env
        .tenant
        .subs
        .iter()
        .map(|s| json!({
            "id": format!("/subscriptions/{}", s.id), "authorizationSource": "RoleBased",
            "subscriptionId": s.id, "tenantId": env.tenant.id, "displayName": s.name, "state": "Enabled",
        }))
        .collect();
    Reply::json(200, json!({"value": items}), ARM_JSON)
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
