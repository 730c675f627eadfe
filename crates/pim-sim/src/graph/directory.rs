//! Directory objects and names: `/me`, `/organization`, role definitions, `/groups/{id}`,
//! and the `$expand`ed navigation properties (role definition, directory scope,
//! principal, group) of PIM items.

use serde_json::{Value, json};

use crate::odata::{self, Expand};
use crate::reply::Reply;
use crate::service_errors;
use crate::state::{State, Tenant};
use crate::wire::Env;

use super::respond::{collection, entity};

const ROLEDEF_READ: &[&str] = &[
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
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

pub(super) fn me(st: &State, env: &Env<'_>) -> Reply {
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

pub(super) fn organization(st: &State, env: &Env<'_>) -> Reply {
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

pub(super) fn role_definitions(st: &State, env: &Env<'_>, id: Option<&str>) -> Reply {
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

pub(super) fn group_object(st: &State, env: &Env<'_>, id: &str) -> Reply {
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

/// The `$expand=principal` of an item of `principal`: the signed-in user or a directory
/// user (`#microsoft.graph.user`), else a bare `directoryObject`.
pub(super) fn principal_json(st: &State, tenant: &Tenant, principal: &str) -> Value {
    match st.person(tenant, principal) {
        Some(p) => json!({
            "@odata.type": "#microsoft.graph.user", "id": p.id, "displayName": p.display_name,
            "userPrincipalName": p.upn, "mail": p.mail,
        }),
        None => json!({"@odata.type": "#microsoft.graph.directoryObject", "id": principal}),
    }
}

/// Adds `$expand`ed navigation properties to an Entra item.
pub(super) fn expand_entra(
    st: &State,
    env: &Env<'_>,
    v: &mut Value,
    (principal, role, scope): (&str, &str, &str),
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
    expand_principal(st, env, o, principal, exp, &mut keep);
    keep
}

fn expand_principal(
    st: &State,
    env: &Env<'_>,
    o: &mut serde_json::Map<String, Value>,
    principal: &str,
    exp: &[Expand],
    keep: &mut Vec<&'static str>,
) {
    if let Some(e) = odata::find_expand(exp, "principal") {
        let mut p = principal_json(st, &env.tenant, principal);
        if let Some(sel) = &e.select {
            odata::apply_select(&mut p, sel, &[]);
        }
        o.insert("principal".into(), p);
        keep.push("principal");
    }
}

pub(super) fn expand_group(
    st: &State,
    env: &Env<'_>,
    v: &mut Value,
    (principal, group_id): (&str, &str),
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
    expand_principal(st, env, o, principal, exp, &mut keep);
    keep
}
