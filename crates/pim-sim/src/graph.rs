//! Microsoft Graph v1.0: `/me`, `/organization`, PIM for Entra roles
//! (`/roleManagement/directory/...`), PIM for Groups
//! (`/identityGovernance/privilegedAccess/group/...`) and role management policies
//! (`/policies/...`). `$batch` lives in `batch.rs` and calls [`dispatch`] per item.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::authority::GRAPH_AUD;
use crate::clock::fmt_dt;
use crate::engine::{self, NewRequest};
use crate::odata::{self, Expand, Query};
use crate::policy::{self, Dialect};
use crate::reply::{Ctx, GRAPH_JSON, Reply};
use crate::server::Shared;
use crate::service_errors::{self, PimError};
use crate::state::{
    Action, Assignment, AssignmentType, Eligibility, Kind, Listed, Listing, Request, State, Target,
    Tenant, new_guid, seeded_guid,
};
use crate::wire::{self, ApiReq, Env, TokenProblem};

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
const POLICY_DIR: &[&str] = &[
    "RoleManagementPolicy.Read.Directory",
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagementPolicy.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
];
const ROLEDEF_READ: &[&str] = &[
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
];
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
const POLICY_GROUP: &[&str] = &[
    "RoleManagementPolicy.Read.AzureADGroup",
    "RoleManagementPolicy.ReadWrite.AzureADGroup",
];
const USER_READ: &[&str] = &[
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "Directory.Read.All",
];
const GROUP_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Group.ReadWrite.All",
];

impl Env<'_> {
    fn require(&self, st: &State, scopes: &[&str], group: bool) -> Result<(), Reply> {
        if self
            .claims
            .scp
            .iter()
            .any(|s| scopes.iter().any(|x| x.eq_ignore_ascii_case(s)))
        {
            return Ok(());
        }
        Err(forbidden_scope(self.ctx, st, scopes, group))
    }
    fn expand(&self) -> Vec<Expand> {
        self.q
            .get("$expand")
            .map(odata::parse_expand)
            .unwrap_or_default()
    }
}

fn forbidden_scope(ctx: &Ctx, st: &State, scopes: &[&str], group: bool) -> Reply {
    let msg = service_errors::missing_scope_message(scopes);
    if group && st.config.wrap_errors {
        service_errors::graph_wrapped(ctx, 403, "PermissionScopeNotGranted", &msg)
    } else {
        service_errors::graph(ctx, 403, "PermissionScopeNotGranted", &msg)
    }
}

fn not_found(ctx: &Ctx, path: &str) -> Reply {
    service_errors::graph(
        ctx,
        400,
        "BadRequest",
        &format!(
            "Resource not found for the segment '{}'.",
            path.rsplit('/').next().unwrap_or(path)
        ),
    )
}

fn bad_request(ctx: &Ctx, msg: &str) -> Reply {
    service_errors::graph(ctx, 400, "BadRequest", msg)
}

fn bad_json(ctx: &Ctx) -> Reply {
    bad_request(
        ctx,
        "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
    )
}

/// `filterByCurrentUser(on='x')` → `Some(Some(x))`; other function syntax → `Some(None)`.
fn function_on(seg: &str) -> Option<Option<String>> {
    let s = seg.strip_prefix("microsoft.graph.").unwrap_or(seg);
    let lower = s.to_ascii_lowercase();
    if !lower.starts_with("filterbycurrentuser") {
        return None;
    }
    let inner = s.get("filterByCurrentUser".len()..)?.trim();
    let inner = inner.strip_prefix('(')?.strip_suffix(')')?;
    let (k, v) = inner.split_once('=')?;
    if !k.trim().eq_ignore_ascii_case("on") {
        return Some(None);
    }
    let v = v.trim();
    let v = v
        .strip_prefix('\'')
        .and_then(|x| x.strip_suffix('\''))
        .unwrap_or(v);
    Some(Some(v.to_owned()))
}

/// `name('key')` → (name, key).
fn key_syntax(seg: &str) -> Option<(&str, &str)> {
    let open = seg.find('(')?;
    let inner = seg[open + 1..].strip_suffix(')')?;
    let key = inner.trim().trim_matches('\'');
    Some((&seg[..open], key))
}

/// Handles one Graph request (not `$batch`).
pub fn dispatch(sh: &Shared, ctx: &Ctx, r: &ApiReq<'_>) -> Reply {
    let mut st = sh.lock();
    let auds = [GRAPH_AUD, "00000003-0000-0000-c000-000000000000"];
    let env = match Env::check(&st, ctx, r, Query::parse(r.raw_query), &auds) {
        Ok(env) => env,
        Err(p) => return token_error(ctx, p),
    };
    let mut segs: Vec<String> = r
        .path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    // normalise `coll('id')` key syntax into `coll/id`
    if let Some(last) = segs.last().cloned()
        && function_on(&last).is_none()
        && let Some((name, key)) = key_syntax(&last)
    {
        let (name, key) = (name.to_owned(), key.to_owned());
        segs.pop();
        segs.push(name);
        segs.push(key);
    }
    if segs.len() >= 2
        && let Some((name, key)) = key_syntax(&segs[segs.len() - 2].clone())
        && function_on(&segs[segs.len() - 2]).is_none()
    {
        let n = segs.len() - 2;
        let (name, key) = (name.to_owned(), key.to_owned());
        segs[n] = name;
        segs.insert(n + 1, key);
    }
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let m = r.method;
    match (m, l.as_slice()) {
        ("GET", ["me"]) => me(&st, &env),
        ("GET", ["organization"]) => organization(&st, &env),
        ("GET", ["roledefinitions"])
        | ("GET", ["rolemanagement", "directory", "roledefinitions"]) => {
            role_definitions(&st, &env, None)
        }
        ("GET", ["rolemanagement", "directory", "roledefinitions", _]) => {
            role_definitions(&st, &env, Some(&segs[3]))
        }
        ("GET", ["groups", _]) => group_object(&st, &env, &segs[1]),
        ("GET", ["rolemanagement", "directory", coll]) if is_entra_coll(coll) => {
            pim_list(&st, &env, &ENTRA, coll, None)
        }
        ("GET", ["rolemanagement", "directory", coll, f])
            if is_entra_coll(coll) && function_on(f).is_some() =>
        {
            pim_list(&st, &env, &ENTRA, coll, function_on(&segs[3]).flatten())
        }
        (
            "POST",
            [
                "rolemanagement",
                "directory",
                "roleassignmentschedulerequests",
            ],
        ) => entra_post(&mut st, &env),
        (
            "GET",
            [
                "rolemanagement",
                "directory",
                "roleassignmentschedulerequests",
                _,
            ],
        ) => get_request(&st, &env, Kind::EntraRole, &segs[3]),
        (
            "POST",
            [
                "rolemanagement",
                "directory",
                "roleassignmentschedulerequests",
                _,
                "cancel",
            ],
        ) => cancel(&mut st, &env, Kind::EntraRole, &segs[3]),
        ("GET", ["identitygovernance", "privilegedaccess", "group", coll])
            if is_group_coll(coll) =>
        {
            pim_list(&st, &env, &GROUP, coll, None)
        }
        ("GET", ["identitygovernance", "privilegedaccess", "group", coll, f])
            if is_group_coll(coll) && function_on(f).is_some() =>
        {
            pim_list(&st, &env, &GROUP, coll, function_on(&segs[4]).flatten())
        }
        (
            "POST",
            [
                "identitygovernance",
                "privilegedaccess",
                "group",
                "assignmentschedulerequests",
            ],
        ) => group_post(&mut st, &env),
        (
            "GET",
            [
                "identitygovernance",
                "privilegedaccess",
                "group",
                "assignmentschedulerequests",
                _,
            ],
        ) => get_request(&st, &env, Kind::Group, &segs[4]),
        (
            "POST",
            [
                "identitygovernance",
                "privilegedaccess",
                "group",
                "assignmentschedulerequests",
                _,
                "cancel",
            ],
        ) => cancel(&mut st, &env, Kind::Group, &segs[4]),
        ("GET", ["policies", "rolemanagementpolicyassignments"]) => {
            policy_assignments(&st, &env, None)
        }
        ("GET", ["policies", "rolemanagementpolicyassignments", _]) => {
            policy_assignments(&st, &env, Some(&segs[2]))
        }
        ("GET", ["policies", "rolemanagementpolicies"]) => policies(&st, &env),
        ("GET", ["policies", "rolemanagementpolicies", _]) => {
            policy_by_id(&st, &env, &segs[2], None)
        }
        ("GET", ["policies", "rolemanagementpolicies", _, "rules"]) => {
            policy_by_id(&st, &env, &segs[2], Some(None))
        }
        ("GET", ["policies", "rolemanagementpolicies", _, "rules", _]) => {
            policy_by_id(&st, &env, &segs[2], Some(Some(&segs[4])))
        }
        (_, [..]) if known_path(&l) => service_errors::graph(
            ctx,
            405,
            "Request_BadRequest",
            &format!("The HTTP method '{m}' is not supported for this resource."),
        ),
        _ => not_found(ctx, r.path),
    }
}

fn known_path(l: &[&str]) -> bool {
    matches!(
        l,
        ["me"]
            | ["organization"]
            | ["rolemanagement", ..]
            | ["identitygovernance", ..]
            | ["policies", ..]
    )
}

fn token_error(ctx: &Ctx, p: TokenProblem) -> Reply {
    let msg = match p {
        TokenProblem::Missing => "Access token is empty.".to_owned(),
        TokenProblem::Invalid => "IDX14100: JWT is not well formed.".to_owned(),
        TokenProblem::Audience(_) => {
            "Access token validation failure. Invalid audience.".to_owned()
        }
        TokenProblem::Expired(_) => "Lifetime validation failed, the token is expired.".to_owned(),
    };
    service_errors::graph(ctx, 401, "InvalidAuthenticationToken", &msg).header(
        "WWW-Authenticate",
        format!(
            "Bearer realm=\"\", authorization_uri=\"{}/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            ctx.base
        ),
    )
}

fn is_entra_coll(c: &str) -> bool {
    matches!(
        c,
        "roleeligibilityscheduleinstances"
            | "roleeligibilityschedules"
            | "roleassignmentscheduleinstances"
            | "roleassignmentschedules"
            | "roleassignmentschedulerequests"
    )
}

fn is_group_coll(c: &str) -> bool {
    matches!(
        c,
        "eligibilityscheduleinstances"
            | "eligibilityschedules"
            | "assignmentscheduleinstances"
            | "assignmentschedules"
            | "assignmentschedulerequests"
    )
}

// ---------- collections ----------

fn collection(env: &Env<'_>, st: &State, context: &str, items: Vec<Value>, keep: &[&str]) -> Reply {
    let ctx = env.ctx;
    let mut items = items;
    if let Some(f) = env.q.get("$filter").filter(|f| !f.trim().is_empty()) {
        let Some(filter) = odata::parse_filter(f) else {
            return bad_request(ctx, &format!("Invalid filter clause: {f}"));
        };
        items.retain(|i| filter.matches(i, &|_, _| false));
    }
    if let Some(sel) = env.q.get("$select") {
        let sel = odata::parse_select(sel);
        for i in items.iter_mut() {
            odata::apply_select(i, &sel, keep);
        }
    }
    let offset = match env.q.get("$skiptoken") {
        Some(t) => match odata::parse_skip_token(t) {
            Some(o) => o,
            None => return bad_request(ctx, "Invalid skip token."),
        },
        None => 0,
    };
    let top = env
        .q
        .get("$top")
        .and_then(|t| t.trim().parse::<usize>().ok());
    let page = match (st.config.page_size, top) {
        (Some(p), Some(t)) => Some(p.min(t).max(1)),
        (Some(p), None) => Some(p),
        (None, Some(t)) => Some(t.max(1)),
        (None, None) => None,
    };
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#{context}", ctx.base)),
    );
    if env
        .q
        .get("$count")
        .is_some_and(|c| c.eq_ignore_ascii_case("true"))
    {
        body.insert("@odata.count".into(), json!(items.len()));
    }
    let items: Vec<Value> = items.into_iter().skip(offset).collect();
    let (page_items, more) = match page {
        Some(p) if items.len() > p => (items.into_iter().take(p).collect::<Vec<_>>(), true),
        _ => (items, false),
    };
    if more {
        // batch item urls may carry raw spaces: keep the link a valid URL
        let rest = odata::raw_without(env.r.raw_query, "$skiptoken").replace(' ', "%20");
        let sep = if rest.is_empty() { "" } else { "&" };
        let next = offset + page_items.len();
        body.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/v1.0{}?{rest}{sep}$skiptoken={}",
                ctx.base,
                env.r.raw_path.replace(' ', "%20"),
                odata::skip_token(next)
            )),
        );
    }
    body.insert("value".into(), Value::Array(page_items));
    Reply::json(200, Value::Object(body), GRAPH_JSON)
}

fn entity(env: &Env<'_>, context: &str, mut v: Value) -> Reply {
    if let Some(sel) = env.q.get("$select") {
        odata::apply_select(&mut v, &odata::parse_select(sel), &[]);
    }
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "@odata.context".into(),
            json!(format!("{}/v1.0/$metadata#{context}", env.ctx.base)),
        );
    }
    Reply::json(200, v, GRAPH_JSON)
}

fn d(t: Option<OffsetDateTime>) -> Value {
    t.map(|t| json!(fmt_dt(t))).unwrap_or(Value::Null)
}

// ---------- directory objects ----------

fn me(st: &State, env: &Env<'_>) -> Reply {
    if let Err(e) = env.require(st, USER_READ, false) {
        return e;
    }
    let v = json!({
        "id": env.tenant.user_oid,
        "displayName": st.user.display_name,
        "userPrincipalName": env.tenant.user_upn,
        "mail": st.user.mail,
        "businessPhones": [],
        "givenName": st.user.display_name.split_whitespace().next(),
        "surname": st.user.display_name.split_whitespace().last(),
        "jobTitle": null, "mobilePhone": null, "officeLocation": null, "preferredLanguage": "en-US",
    });
    entity(env, "users/$entity", v)
}

fn organization(st: &State, env: &Env<'_>) -> Reply {
    if let Err(e) = env.require(st, USER_READ, false) {
        return e;
    }
    let t = &env.tenant;
    let domains: Vec<Value> = t
        .domains
        .iter()
        .map(|dn| {
            json!({
                "capabilities": "Email, OfficeCommunicationsOnline",
                "isDefault": dn.eq_ignore_ascii_case(&t.default_domain),
                "isInitial": dn.to_ascii_lowercase().ends_with(".onmicrosoft.com"),
                "name": dn, "type": "Managed"
            })
        })
        .collect();
    let v =
        json!({"id": t.id, "displayName": t.name, "tenantType": "AAD", "verifiedDomains": domains});
    collection(env, st, "organization", vec![v], &[])
}

fn role_def_json(st: &State, tenant: &Tenant, id: &str) -> Value {
    let _ = st;
    match tenant
        .role_defs
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(id))
    {
        Some(r) => json!({
            "id": r.id, "description": r.description, "displayName": r.name,
            "isBuiltIn": true, "isEnabled": true, "resourceScopes": ["/"], "templateId": r.id,
            "version": "1", "rolePermissions": []
        }),
        None => {
            json!({"id": id, "displayName": null, "isBuiltIn": false, "isEnabled": true, "templateId": id})
        }
    }
}

fn role_definitions(st: &State, env: &Env<'_>, id: Option<&str>) -> Reply {
    if let Err(e) = env.require(st, ROLEDEF_READ, false) {
        return e;
    }
    match id {
        Some(id) => {
            if !env
                .tenant
                .role_defs
                .iter()
                .any(|r| r.id.eq_ignore_ascii_case(id))
            {
                return service_errors::graph(
                    env.ctx,
                    404,
                    "Request_ResourceNotFound",
                    &format!(
                        "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                    ),
                );
            }
            entity(
                env,
                "roleManagement/directory/roleDefinitions/$entity",
                role_def_json(st, &env.tenant, id),
            )
        }
        None => {
            let items = env
                .tenant
                .role_defs
                .iter()
                .map(|r| role_def_json(st, &env.tenant, &r.id))
                .collect();
            collection(
                env,
                st,
                "roleManagement/directory/roleDefinitions",
                items,
                &[],
            )
        }
    }
}

fn group_object(st: &State, env: &Env<'_>, id: &str) -> Reply {
    if env.require(st, GROUP_READ, false).is_err() {
        return service_errors::graph(
            env.ctx,
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    match env
        .tenant
        .groups
        .iter()
        .find(|g| g.id.eq_ignore_ascii_case(id))
    {
        Some(g) => entity(
            env,
            "groups/$entity",
            json!({"id": g.id, "displayName": g.name, "description": g.description, "securityEnabled": true, "mailEnabled": false, "isAssignableToRole": true}),
        ),
        None => service_errors::graph(
            env.ctx,
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        ),
    }
}

fn directory_scope(tenant: &Tenant, scope: &str) -> Value {
    if scope == "/" {
        return Value::Null;
    }
    let id = scope.rsplit('/').next().unwrap_or(scope);
    if let Some(au) = tenant.aus.iter().find(|a| a.id.eq_ignore_ascii_case(id)) {
        return json!({"@odata.type": "#microsoft.graph.administrativeUnit", "id": au.id, "displayName": au.name});
    }
    json!({"@odata.type": "#microsoft.graph.directoryObject", "id": id})
}

fn principal_json(st: &State, tenant: &Tenant) -> Value {
    json!({"@odata.type": "#microsoft.graph.user", "id": tenant.user_oid, "displayName": st.user.display_name, "userPrincipalName": tenant.user_upn})
}

/// Adds `$expand`ed navigation properties to an Entra item.
fn expand_entra(
    st: &State,
    env: &Env<'_>,
    v: &mut Value,
    role: &str,
    scope: &str,
    exp: &[Expand],
) -> Vec<&'static str> {
    let mut keep = Vec::new();
    let Some(o) = v.as_object_mut() else {
        return keep;
    };
    if let Some(e) = odata::find_expand(exp, "roleDefinition") {
        let mut rd = role_def_json(st, &env.tenant, role);
        if let Some(sel) = &e.select {
            odata::apply_select(&mut rd, sel, &[]);
        }
        o.insert("roleDefinition".into(), rd);
        keep.push("roleDefinition");
    }
    if odata::find_expand(exp, "directoryScope").is_some() {
        o.insert("directoryScope".into(), directory_scope(&env.tenant, scope));
        keep.push("directoryScope");
    }
    if odata::find_expand(exp, "appScope").is_some() {
        o.insert("appScope".into(), Value::Null);
        keep.push("appScope");
    }
    if odata::find_expand(exp, "principal").is_some() {
        o.insert("principal".into(), principal_json(st, &env.tenant));
        keep.push("principal");
    }
    keep
}

fn expand_group(
    st: &State,
    env: &Env<'_>,
    v: &mut Value,
    group_id: &str,
    exp: &[Expand],
) -> Vec<&'static str> {
    let mut keep = Vec::new();
    let Some(o) = v.as_object_mut() else {
        return keep;
    };
    if let Some(e) = odata::find_expand(exp, "group") {
        let mut g = match env
            .tenant
            .groups
            .iter()
            .find(|g| g.id.eq_ignore_ascii_case(group_id))
        {
            Some(g) => {
                json!({"@odata.type": "#microsoft.graph.group", "id": g.id, "displayName": g.name})
            }
            None => Value::Null,
        };
        if let Some(sel) = &e.select {
            odata::apply_select(&mut g, sel, &[]);
        }
        o.insert("group".into(), g);
        keep.push("group");
    }
    if odata::find_expand(exp, "principal").is_some() {
        o.insert("principal".into(), principal_json(st, &env.tenant));
        keep.push("principal");
    }
    keep
}

// ---------- Entra role items ----------

fn schedule_info(
    start: Option<OffsetDateTime>,
    exp: &crate::state::Expiration,
    end: Option<OffsetDateTime>,
) -> Value {
    json!({
        "startDateTime": d(start),
        "recurrence": null,
        "expiration": {
            "type": exp.etype.graph(),
            "endDateTime": match exp.etype { crate::state::ExpType::AfterDateTime => d(exp.end.or(end)), _ => Value::Null },
            "duration": exp.duration,
        }
    })
}

fn elig_schedule_info(e: &Eligibility) -> Value {
    json!({
        "startDateTime": fmt_dt(e.start),
        "recurrence": null,
        "expiration": match e.end {
            Some(end) => json!({"type": "afterDateTime", "endDateTime": fmt_dt(end), "duration": null}),
            None => json!({"type": "noExpiration", "endDateTime": null, "duration": null}),
        }
    })
}

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

fn assignment_schedule_info(a: &Assignment) -> Value {
    schedule_info(Some(a.start), &a.expiration, a.end)
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

fn created_by(principal: &str) -> Value {
    json!({"application": null, "device": null, "user": {"displayName": null, "id": principal}})
}

fn ticket_json(q: &Request) -> Value {
    match &q.ticket {
        Some(t) => json!({"ticketNumber": t.number, "ticketSystem": t.system}),
        None => json!({"ticketNumber": null, "ticketSystem": null}),
    }
}

fn request_schedule(q: &Request) -> Value {
    let exp = q.expiration.clone().unwrap_or(crate::state::Expiration {
        etype: crate::state::ExpType::NotSpecified,
        duration: None,
        end: None,
    });
    schedule_info(q.start, &exp, engine::requested_end(q))
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

/// The `on` argument of `filterByCurrentUser(on='…')` (default `principal`): requests
/// also accept `createdBy` and `approver`; anything else is a 400.
fn filter_on(env: &Env<'_>, on: Option<String>, requests: bool) -> Result<String, Reply> {
    let on = on.unwrap_or_else(|| "principal".into());
    let valid_on: &[&str] = if requests {
        &["principal", "createdby", "approver"]
    } else {
        &["principal"]
    };
    if valid_on.contains(&on.to_ascii_lowercase().as_str()) {
        Ok(on)
    } else {
        Err(bad_request(
            env.ctx,
            &format!("The parameter 'on' has an invalid value '{on}'."),
        ))
    }
}

/// How Graph serves the PIM items of one kind, Entra roles ([`ENTRA`]) or groups
/// ([`GROUP`]): the scopes it asks for, where requests live, and how items render.
struct Flavour {
    kind: Kind,
    elig_read: &'static [&'static str],
    assign_read: &'static [&'static str],
    /// Also what reading and cancelling requests asks for.
    req_write: &'static [&'static str],
    /// The request entity set, as in `@odata.context` and `Location`.
    requests_set: &'static str,
    /// Type names are this and the listing's: `unifiedRole`, `privilegedAccessGroup`.
    type_prefix: &'static str,
    elig_instance: fn(&Eligibility) -> Value,
    elig_schedule: fn(&Eligibility) -> Value,
    assign_instance: fn(&Assignment) -> Value,
    assign_schedule: fn(&Assignment, OffsetDateTime) -> Value,
    request: fn(&Request) -> Value,
}

const ENTRA: Flavour = Flavour {
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

const GROUP: Flavour = Flavour {
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

/// [`GROUP`] for groups, [`ENTRA`] otherwise.
fn flavour(kind: Kind) -> &'static Flavour {
    if kind == Kind::Group { &GROUP } else { &ENTRA }
}

impl Flavour {
    /// The scopes that let a caller read `listing`.
    fn list_scopes(&self, listing: Listing) -> &'static [&'static str] {
        match listing {
            Listing::EligibilityInstances | Listing::EligibilitySchedules => self.elig_read,
            Listing::AssignmentInstances | Listing::AssignmentSchedules => self.assign_read,
            Listing::Requests => self.req_write,
        }
    }

    /// The `@odata.type` name (without namespace) of `listing`'s items.
    fn type_name(&self, listing: Listing) -> String {
        let item = match listing {
            Listing::EligibilityInstances => "EligibilityScheduleInstance",
            Listing::EligibilitySchedules => "EligibilitySchedule",
            Listing::AssignmentInstances => "AssignmentScheduleInstance",
            Listing::AssignmentSchedules => "AssignmentSchedule",
            Listing::Requests => "AssignmentScheduleRequest",
        };
        format!("{}{item}", self.type_prefix)
    }

    /// A listed record as Graph shows it.
    fn render(&self, item: Listed<'_>, now: OffsetDateTime) -> Value {
        match item {
            Listed::EligibilityInstance(e) => (self.elig_instance)(e),
            Listed::EligibilitySchedule(e) => (self.elig_schedule)(e),
            Listed::AssignmentInstance(a) => (self.assign_instance)(a),
            Listed::AssignmentSchedule(a) => (self.assign_schedule)(a, now),
            Listed::Request(q) => (self.request)(q),
        }
    }

    /// Adds the `$expand`ed navigation properties of an item about `t`; returns their names.
    fn expand(
        &self,
        st: &State,
        env: &Env<'_>,
        v: &mut Value,
        t: &Target,
        exp: &[Expand],
    ) -> Vec<&'static str> {
        if self.kind == Kind::Group {
            expand_group(st, env, v, &t.scope, exp)
        } else {
            expand_entra(st, env, v, &t.role, &t.scope, exp)
        }
    }
}

/// Lists one of the caller's PIM collections (`coll`, a known lower-case name) of
/// `f`'s kind in the caller's tenant, as `filterByCurrentUser(on=…)` asks where given.
fn pim_list(st: &State, env: &Env<'_>, f: &Flavour, coll: &str, on: Option<String>) -> Reply {
    let listing = Listing::from_coll(coll);
    if let Err(e) = env.require(st, f.list_scopes(listing), f.kind == Kind::Group) {
        return e;
    }
    let on = match filter_on(env, on, listing == Listing::Requests) {
        Ok(on) => on,
        Err(reply) => return reply,
    };
    // only requests accept `approver`; nobody here has any to approve
    let approver = on.eq_ignore_ascii_case("approver");
    let mine = |p: &str, t: &Target| {
        !approver
            && p.eq_ignore_ascii_case(&env.claims.oid)
            && t.kind == f.kind
            && t.tenant == env.tenant.id
    };
    let exp = env.expand();
    let mut keep: Vec<&'static str> = Vec::new();
    // A lagging request list (`requestListLag`) does not show requests made lately yet.
    let lag = time::Duration::seconds(i64::from(st.config.request_list_lag.unwrap_or(0)));
    let shown = |item: &Listed<'_>| match item {
        Listed::Request(q) => lag.is_zero() || q.created + lag <= env.now,
        _ => true,
    };
    let mut items = Vec::new();
    for item in st.listed(listing, env.now, mine).into_iter().filter(shown) {
        let mut v = f.render(item, env.now);
        keep = f.expand(st, env, &mut v, item.target(), &exp);
        items.push(v);
    }
    let context = format!("Collection({})", f.type_name(listing));
    collection(env, st, &context, items, &keep)
}

fn parse_body(env: &Env<'_>) -> Result<Value, Reply> {
    let v: Value = serde_json::from_slice(env.r.body).map_err(|_| bad_json(env.ctx))?;
    if !v.is_object() {
        return Err(bad_json(env.ctx));
    }
    Ok(v)
}

fn common_request(v: &Value, target: Target) -> Result<NewRequest, PimError> {
    let action = wire::req_str(v, "action")?;
    let action = Action::parse(&action).ok_or_else(PimError::invalid)?;
    let (start, expiration) = wire::schedule(v)?;
    let is_validation_only = match v.get("isValidationOnly") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(PimError::invalid()),
    };
    Ok(NewRequest {
        id: new_guid(),
        action,
        principal: wire::req_str(v, "principalId")?,
        target,
        justification: wire::opt_str(v, "justification")?,
        ticket: wire::ticket(v)?,
        start,
        expiration,
        is_validation_only,
        custom_data: wire::opt_str(v, "customData")?,
        arm_scope: String::new(),
        arm_body: None,
        linked_eligibility: None,
        target_schedule_id: wire::opt_str(v, "targetScheduleId")?,
    })
}

fn entra_post(st: &mut State, env: &Env<'_>) -> Reply {
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

/// Submits a schedule request POSTed for `f`'s kind: the body's kind-specific
/// `target` (read first, so its errors come first), then what all requests share.
fn post_request(
    st: &mut State,
    env: &Env<'_>,
    f: &Flavour,
    target: impl FnOnce(&Value) -> Result<Target, PimError>,
) -> Reply {
    if let Err(e) = env.require(st, f.req_write, f.kind == Kind::Group) {
        return e;
    }
    let v = match parse_body(env) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let req = match target(&v).and_then(|t| common_request(&v, t)) {
        Ok(r) => r,
        Err(e) => return service_errors::graph_pim(env.ctx, &e),
    };
    match engine::submit(st, env.now, &env.caller(), req) {
        Ok(q) => created(env, f.requests_set, (f.request)(&q), &q.id),
        Err(e) => service_errors::graph_pim(env.ctx, &e),
    }
}

fn created(env: &Env<'_>, set: &str, mut v: Value, id: &str) -> Reply {
    if let Some(o) = v.as_object_mut() {
        o.remove("@odata.type");
        o.insert(
            "@odata.context".into(),
            json!(format!("{}/v1.0/$metadata#{set}/$entity", env.ctx.base)),
        );
    }
    Reply::json(201, v, GRAPH_JSON)
        .header("Location", format!("{}/v1.0/{set}('{id}')", env.ctx.base))
}

fn get_request(st: &State, env: &Env<'_>, kind: Kind, id: &str) -> Reply {
    let f = flavour(kind);
    if let Err(e) = env.require(st, f.req_write, kind == Kind::Group) {
        return e;
    }
    let found = st.requests.iter().find(|q| {
        q.target.kind == kind
            && q.target.tenant == env.tenant.id
            && q.id.eq_ignore_ascii_case(id)
            && q.principal.eq_ignore_ascii_case(&env.claims.oid)
    });
    match found {
        Some(q) => entity(
            env,
            &format!("{}/$entity", f.requests_set),
            strip_type((f.request)(q)),
        ),
        None => service_errors::graph(
            env.ctx,
            404,
            "ResourceNotFound",
            &format!("The request '{id}' was not found."),
        ),
    }
}

fn strip_type(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("@odata.type");
    }
    v
}

fn cancel(st: &mut State, env: &Env<'_>, kind: Kind, id: &str) -> Reply {
    if let Err(e) = env.require(st, flavour(kind).req_write, kind == Kind::Group) {
        return e;
    }
    match engine::cancel(st, env.now, &env.claims.oid, kind, id) {
        Ok(_) => Reply::empty(204),
        Err(e) if e.status == 404 => {
            service_errors::graph(env.ctx, 404, "ResourceNotFound", &e.message)
        }
        Err(e) => service_errors::graph_pim(env.ctx, &e),
    }
}

// ---------- PIM for Groups ----------

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

fn group_post(st: &mut State, env: &Env<'_>) -> Reply {
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

// ---------- policies ----------

/// A policy as Graph names it.
struct GraphPolicy {
    policy_id: String,
    assignment_id: String,
    scope_id: String,
    scope_type: &'static str,
    role: String,
    target: Target,
}

fn graph_policies(tenant: &Tenant) -> Vec<GraphPolicy> {
    let mut out = Vec::new();
    for r in &tenant.role_defs {
        let pid = format!(
            "DirectoryRole_{}_{}",
            tenant.id,
            seeded_guid(&format!("{}/policy/{}", tenant.id, r.id))
        );
        out.push(GraphPolicy {
            assignment_id: format!("{pid}_{}", r.id),
            policy_id: pid,
            scope_id: "/".into(),
            scope_type: "DirectoryRole",
            role: r.id.clone(),
            target: Target {
                kind: Kind::EntraRole,
                tenant: tenant.id.clone(),
                role: r.id.clone(),
                scope: "/".into(),
            },
        });
    }
    for g in &tenant.groups {
        for access in ["member", "owner"] {
            let pid = format!(
                "Group_{}_{}",
                g.id,
                seeded_guid(&format!("{}/policy/{}/{access}", tenant.id, g.id))
            );
            out.push(GraphPolicy {
                assignment_id: format!("{pid}_{access}"),
                policy_id: pid,
                scope_id: g.id.clone(),
                scope_type: "Group",
                role: access.into(),
                target: Target {
                    kind: Kind::Group,
                    tenant: tenant.id.clone(),
                    role: access.into(),
                    scope: g.id.clone(),
                },
            });
        }
    }
    out
}

fn policy_json(st: &State, env: &Env<'_>, p: &GraphPolicy, with_rules: bool) -> Value {
    let mut v = json!({
        "id": p.policy_id, "displayName": p.scope_type, "description": p.scope_type,
        "isOrganizationDefault": false, "scopeId": p.scope_id, "scopeType": p.scope_type,
        "lastModifiedDateTime": null, "lastModifiedBy": {"displayName": null, "id": null},
    });
    if with_rules {
        let pol = st.policy_for(&p.target);
        v["rules"] = json!(policy::rules(&pol, &env.tenant.approvers, Dialect::Graph));
    }
    v
}

fn policy_read_guard(st: &State, env: &Env<'_>, group: bool) -> Result<(), Reply> {
    let scopes = if group { POLICY_GROUP } else { POLICY_DIR };
    env.require(st, scopes, group)?;
    if st.config.policy_read_forbidden {
        return Err(forbidden_scope(env.ctx, st, scopes, group));
    }
    Ok(())
}

/// The `$filter` that policy and policy-assignment lists require: the filter with
/// its `scopeId` and `scopeType` values.
fn scope_filter(env: &Env<'_>) -> Result<(odata::Filter, String, String), Reply> {
    let Some(filter) = env.q.get("$filter").and_then(odata::parse_filter) else {
        return Err(bad_request(
            env.ctx,
            "The $filter query parameter with scopeId and scopeType is required.",
        ));
    };
    let (Some(scope_id), Some(scope_type)) =
        (filter.eq_value("scopeId"), filter.eq_value("scopeType"))
    else {
        return Err(bad_request(
            env.ctx,
            "The $filter query parameter must specify scopeId and scopeType.",
        ));
    };
    Ok((filter, scope_id, scope_type))
}

/// Reading policy assignments of groups (or directory roles): [`policy_read_guard`],
/// then the configured failure of `$expand=policy($expand=rules)`.
fn assignments_read_guard(
    st: &State,
    env: &Env<'_>,
    group: bool,
    with_rules: bool,
) -> Result<(), Reply> {
    policy_read_guard(st, env, group)?;
    if with_rules && st.config.expand_policy_fails {
        return Err(service_errors::graph(
            env.ctx,
            500,
            "UnknownError",
            "An error has occurred.",
        ));
    }
    Ok(())
}

/// A policy assignment, with its `policy` (and that one's `rules`) where expanded.
fn assignment_item(
    st: &State,
    env: &Env<'_>,
    p: &GraphPolicy,
    expand_policy: bool,
    with_rules: bool,
) -> Value {
    let mut v = assignment_json(p);
    if expand_policy {
        v["policy"] = policy_json(st, env, p, with_rules);
    }
    v
}

fn policy_assignments(st: &State, env: &Env<'_>, id: Option<&str>) -> Reply {
    let all = graph_policies(&env.tenant);
    let exp = env.expand();
    let policy_exp = odata::find_expand(&exp, "policy");
    let with_rules = policy_exp.is_some_and(|p| odata::find_expand(&p.expand, "rules").is_some());
    if let Some(id) = id {
        let Some(p) = all
            .iter()
            .find(|p| p.assignment_id.eq_ignore_ascii_case(id))
        else {
            return service_errors::graph(
                env.ctx,
                404,
                "ResourceNotFound",
                &format!("The policy assignment '{id}' was not found."),
            );
        };
        if let Err(e) = assignments_read_guard(st, env, p.scope_type == "Group", with_rules) {
            return e;
        }
        let v = assignment_item(st, env, p, policy_exp.is_some(), with_rules);
        return entity(env, "policies/roleManagementPolicyAssignments/$entity", v);
    }
    let (filter, scope_id, scope_type) = match scope_filter(env) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let group = scope_type.eq_ignore_ascii_case("Group");
    let directory = scope_type.eq_ignore_ascii_case("Directory")
        || scope_type.eq_ignore_ascii_case("DirectoryRole");
    if !group && !directory {
        return bad_request(
            env.ctx,
            &format!("The scopeType '{scope_type}' is not supported."),
        );
    }
    if directory && scope_id != "/" {
        return bad_request(env.ctx, "The scopeId must be '/' for directory roles.");
    }
    if let Err(e) = assignments_read_guard(st, env, group, with_rules) {
        return e;
    }
    let role = filter.eq_value("roleDefinitionId");
    let items: Vec<Value> = all
        .iter()
        .filter(|p| (p.scope_type == "Group") == group)
        .filter(|p| p.scope_id.eq_ignore_ascii_case(&scope_id))
        .filter(|p| {
            role.as_deref()
                .is_none_or(|r| p.role.eq_ignore_ascii_case(r))
        })
        .map(|p| assignment_item(st, env, p, policy_exp.is_some(), with_rules))
        .collect();
    let context = if with_rules {
        "policies/roleManagementPolicyAssignments(policy(rules()))"
    } else if policy_exp.is_some() {
        "policies/roleManagementPolicyAssignments(policy())"
    } else {
        "policies/roleManagementPolicyAssignments"
    };
    // the filter was interpreted above: do not re-apply it generically
    page_only(env, st, context, items)
}

fn assignment_json(p: &GraphPolicy) -> Value {
    json!({
        "id": p.assignment_id, "policyId": p.policy_id, "scopeId": p.scope_id,
        "scopeType": p.scope_type, "roleDefinitionId": p.role,
    })
}

/// Collection without generic `$filter` (the handler interpreted it).
fn page_only(env: &Env<'_>, st: &State, context: &str, items: Vec<Value>) -> Reply {
    let stripped = odata::raw_without(env.r.raw_query, "$filter");
    let q = Query::parse(&stripped);
    let fake = Env {
        ctx: env.ctx,
        r: env.r,
        q,
        claims: env.claims.clone(),
        tenant: env.tenant.clone(),
        now: env.now,
    };
    collection(&fake, st, context, items, &["policy", "rules"])
}

fn policies(st: &State, env: &Env<'_>) -> Reply {
    let (_, scope_id, scope_type) = match scope_filter(env) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let group = scope_type.eq_ignore_ascii_case("Group");
    if let Err(e) = policy_read_guard(st, env, group) {
        return e;
    }
    let with_rules = odata::find_expand(&env.expand(), "rules").is_some();
    let items: Vec<Value> = graph_policies(&env.tenant)
        .iter()
        .filter(|p| {
            (p.scope_type == "Group") == group && p.scope_id.eq_ignore_ascii_case(&scope_id)
        })
        .map(|p| policy_json(st, env, p, with_rules))
        .collect();
    page_only(env, st, "policies/roleManagementPolicies", items)
}

fn policy_by_id(st: &State, env: &Env<'_>, id: &str, rules: Option<Option<&str>>) -> Reply {
    let all = graph_policies(&env.tenant);
    let Some(p) = all.iter().find(|p| p.policy_id.eq_ignore_ascii_case(id)) else {
        return service_errors::graph(
            env.ctx,
            404,
            "ResourceNotFound",
            &format!("The policy '{id}' was not found."),
        );
    };
    if let Err(e) = policy_read_guard(st, env, p.scope_type == "Group") {
        return e;
    }
    match rules {
        None => {
            let with_rules = odata::find_expand(&env.expand(), "rules").is_some();
            entity(
                env,
                "policies/roleManagementPolicies/$entity",
                policy_json(st, env, p, with_rules),
            )
        }
        Some(rule) => {
            let pol = st.policy_for(&p.target);
            let all_rules = policy::rules(&pol, &env.tenant.approvers, Dialect::Graph);
            match rule {
                None => collection(
                    env,
                    st,
                    &format!("policies/roleManagementPolicies('{}')/rules", p.policy_id),
                    all_rules,
                    &[],
                ),
                Some(rid) => match all_rules.into_iter().find(|r| {
                    r["id"]
                        .as_str()
                        .is_some_and(|x| x.eq_ignore_ascii_case(rid))
                }) {
                    Some(r) => entity(
                        env,
                        &format!(
                            "policies/roleManagementPolicies('{}')/rules/$entity",
                            p.policy_id
                        ),
                        r,
                    ),
                    None => service_errors::graph(
                        env.ctx,
                        404,
                        "ResourceNotFound",
                        &format!("The rule '{rid}' was not found."),
                    ),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_syntax() {
        assert_eq!(
            function_on("filterByCurrentUser(on='principal')"),
            Some(Some("principal".into()))
        );
        assert_eq!(
            function_on("microsoft.graph.filterByCurrentUser(on='approver')"),
            Some(Some("approver".into()))
        );
        assert_eq!(
            function_on("filterbycurrentuser(on=principal)"),
            Some(Some("principal".into()))
        );
        assert_eq!(function_on("roleAssignmentScheduleRequests"), None);
        assert_eq!(
            key_syntax("roleAssignmentScheduleRequests('abc')"),
            Some(("roleAssignmentScheduleRequests", "abc"))
        );
    }
}
