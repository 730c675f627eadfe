//! Azure Resource Manager, `Microsoft.Authorization` PIM resources (api-version
//! 2020-10-01): eligibility/assignment schedules and instances, schedule requests
//! (PUT by client-chosen name, cancel), role management policies and policy
//! assignments, plus `GET /tenants` and `GET /subscriptions`.
//!
//! Also the caller's effective `permissions` at a scope (api-version 2022-04-01 and
//! the others of [`PERMISSIONS_API_VERSIONS`]), and role assignment approvals, the
//! approver's side (api-version [`APPROVAL_API_VERSIONS`]).
//!
//! This module routes a request, checks its api-version, token and scope, and serves
//! `/tenants` and `/subscriptions`; [`resources`] renders the PIM items, [`schedules`]
//! lists and reads them and takes schedule requests, [`policies`] serves the policies,
//! [`permissions`] the caller's permissions, [`approvals`] the approvals.

mod approvals;
mod permissions;
mod policies;
mod resources;
mod schedules;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::authority::ARM_AUD;
use crate::clock::fmt_dt;
use crate::odata::{self, Query};
use crate::reply::{ARM_JSON, Ctx, Reply};
use crate::server::Shared;
use crate::service_errors;
use crate::state::{State, Tenant};
use crate::wire::{ApiReq, Env, TokenProblem};

pub use approvals::APPROVAL_API_VERSIONS;
pub use permissions::PERMISSIONS_API_VERSIONS;
use policies::{policies, policy_assignments};
use schedules::{cancel, get_one, get_request, list, put_request};

/// API versions accepted for the PIM resources.
pub const PIM_API_VERSIONS: [&str; 5] = [
    "2020-10-01",
    "2020-10-01-preview",
    "2022-04-01-preview",
    "2024-02-01-preview",
    "2024-09-01-preview",
];

pub(super) const PROVIDER: &str = "/providers/Microsoft.Authorization";

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
    if rest.len() == 1 && rest[0].eq_ignore_ascii_case("permissions") {
        return permissions_at(&st, &env, r.method, scope, &api, path);
    }
    if rest.len() == 2 && rest[0].eq_ignore_ascii_case("roleDefinitions") && r.method == "GET" {
        if !PERMISSIONS_API_VERSIONS.contains(&api.as_str()) {
            return invalid_api_version(&api, &PERMISSIONS_API_VERSIONS);
        }
        if let Err(e) = check_scope(&st, &env.tenant, scope) {
            return e;
        }
        return permissions::role_definition(&env, scope, rest[1]);
    }
    if rest
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case("roleAssignmentApprovals"))
    {
        if !APPROVAL_API_VERSIONS.contains(&api.as_str()) {
            return invalid_api_version(&api, &APPROVAL_API_VERSIONS);
        }
        if let Err(e) = check_scope(&st, &env.tenant, scope) {
            return e;
        }
        return approvals::handle(&mut st, &env, scope, &rest[1..]);
    }
    if !PIM_API_VERSIONS.contains(&api.as_str()) {
        return invalid_api_version(&api, &PIM_API_VERSIONS);
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

fn invalid_api_version(api: &str, supported: &[&str]) -> Reply {
    service_errors::arm(
        400,
        "InvalidApiVersionParameter",
        &format!(
            "The api-version '{api}' is invalid. The supported versions are '{}'.",
            supported.join(",")
        ),
    )
}

/// `{scope}/providers/Microsoft.Authorization/permissions`: GET only, at a subscription,
/// resource group, resource or management group.
fn permissions_at(
    st: &State,
    env: &Env<'_>,
    method: &str,
    scope: &str,
    api: &str,
    path: &str,
) -> Reply {
    if !PERMISSIONS_API_VERSIONS.contains(&api) {
        return invalid_api_version(api, &PERMISSIONS_API_VERSIONS);
    }
    if scope.is_empty() {
        return not_found(path);
    }
    if let Err(e) = check_scope(st, &env.tenant, scope) {
        return e;
    }
    if method != "GET" {
        return service_errors::arm(
            405,
            "MethodNotAllowed",
            &format!("The requested method '{method}' is not allowed for this resource."),
        );
    }
    permissions::permissions(st, env, scope)
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

pub(super) fn page(st: &State, env: &Env<'_>, items: Vec<Value>) -> Reply {
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
