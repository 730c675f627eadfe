//! `GET {scope}/providers/Microsoft.Authorization/permissions`: what the caller may do
//! at a scope, one entry per role assignment of theirs in effect that applies there (at
//! the scope or a parent scope), with the role definition's permissions.
//!
//! "In effect" is [`State::effective`]: admin assignments at once, activations after the
//! Azure propagation delay.

use serde_json::{Value, json};

use crate::state::{Kind, RolePermission, State, norm_scope};
use crate::wire::Env;

use super::page;
use crate::reply::Reply;

/// API versions ARM accepts for `Microsoft.Authorization/permissions`.
pub const PERMISSIONS_API_VERSIONS: [&str; 6] = [
    "2015-07-01",
    "2017-05-01",
    "2018-01-01-preview",
    "2018-07-01",
    "2022-04-01",
    "2022-05-01-preview",
];

/// Whether an assignment at `at` applies at `scope` (the same scope or a child of it).
fn applies(at: &str, scope: &str) -> bool {
    let (a, s) = (norm_scope(at), norm_scope(scope));
    s == a || s.starts_with(&(a + "/"))
}

fn permission_json(p: &RolePermission) -> Value {
    json!({
        "actions": p.actions,
        "notActions": p.not_actions,
        "dataActions": p.data_actions,
        "notDataActions": p.not_data_actions,
    })
}

/// The caller's permissions at `scope` (not empty; checked by the router).
pub(super) fn permissions(st: &State, env: &Env<'_>, scope: &str) -> Reply {
    let tn = &env.tenant;
    let mut items = Vec::new();
    for a in st.effective(&tn.id, &env.claims.oid, Kind::AzureResource, env.now) {
        if !applies(&a.target.scope, scope) {
            continue;
        }
        match tn
            .azure_permissions
            .get(&a.target.role.to_ascii_lowercase())
            .filter(|p| !p.is_empty())
        {
            Some(blocks) => items.extend(blocks.iter().map(permission_json)),
            None => items.push(permission_json(&RolePermission::default())),
        }
    }
    page(st, env, items)
}

/// `GET {scope}/providers/Microsoft.Authorization/roleDefinitions/{id}`: a role definition
/// of the tenant's (built-in roles: the same at every scope), with its permissions.
pub(super) fn role_definition(env: &Env<'_>, scope: &str, id: &str) -> Reply {
    let tn = &env.tenant;
    let Some(rd) = tn
        .azure_roles
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(id))
    else {
        return crate::service_errors::arm(
            404,
            "RoleDefinitionDoesNotExist",
            &format!("The specified role definition with ID '{id}' does not exist."),
        );
    };
    let blocks: Vec<Value> = tn
        .azure_permissions
        .get(&rd.id.to_ascii_lowercase())
        .map(|p| p.iter().map(permission_json).collect())
        .unwrap_or_default();
    Reply::json(
        200,
        json!({
            "id": format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/{}", rd.id),
            "name": rd.id,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {
                "roleName": rd.name,
                "description": rd.description,
                "type": "BuiltInRole",
                "permissions": blocks,
                "assignableScopes": ["/"],
            }
        }),
        crate::reply::ARM_JSON,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_apply_downwards() {
        let sub = "/subscriptions/a";
        let rg = "/subscriptions/a/resourceGroups/RG";
        let res = "/subscriptions/a/resourceGroups/rg/providers/Microsoft.Web/sites/app";
        assert!(applies(sub, sub));
        assert!(applies(sub, rg));
        assert!(applies(rg, res));
        assert!(!applies(rg, sub));
        assert!(!applies("/subscriptions/a/resourceGroups/r", rg));
    }
}
