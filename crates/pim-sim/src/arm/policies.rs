//! Role management policies and policy assignments at a scope, for the tenant's Azure
//! roles (rules from the nearest configured policy).

use serde_json::{Value, json};

use crate::odata;
use crate::policy::{self, Dialect};
use crate::reply::{ARM_JSON, Reply};
use crate::service_errors;
use crate::state::{Kind, State, Target, Tenant, norm_scope, seeded_guid};
use crate::wire::Env;

use super::resources::{res, role_def_id, scope_json};
use super::{PROVIDER, page};

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

pub(super) fn policy_assignments(
    st: &State,
    env: &Env<'_>,
    scope: &str,
    name: Option<&str>,
) -> Reply {
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

pub(super) fn policies(st: &State, env: &Env<'_>, scope: &str, name: Option<&str>) -> Reply {
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
