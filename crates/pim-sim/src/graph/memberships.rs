//! The signed-in user's effective directory memberships: `/me/memberOf`,
//! `/me/transitiveMemberOf` (groups whose PIM-for-Groups *member* access is in effect,
//! and tenant-wide directory roles in effect) and `/me/ownedObjects` (groups whose
//! *owner* access is in effect), each also with an OData cast segment
//! (`/microsoft.graph.group`, `/microsoft.graph.directoryRole`).
//!
//! "In effect" is [`State::effective`]: admin assignments at once, activations after the
//! kind's propagation delay, so a client can tell "active in PIM" from "ready".

use serde_json::{Value, json};

use crate::reply::Reply;
use crate::service_errors;
use crate::state::{Kind, State, Tenant, seeded_guid};
use crate::wire::Env;

use super::respond::collection;

/// What `/me/memberOf` accepts (User.Read is the least privileged).
const MEMBERSHIP_READ: &[&str] = &[
    "User.Read",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "GroupMember.Read.All",
];

/// Which relationship of the user is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Relation {
    /// `memberOf` and `transitiveMemberOf` (no nested groups here, so the same).
    MemberOf,
    /// `ownedObjects`.
    OwnedObjects,
}

/// The OData cast of a navigation (`microsoft.graph.group`): `Ok(None)` without one,
/// `Err(())` for a type that is not a group or directory role.
pub(super) fn cast(seg: Option<&str>) -> Result<Option<&'static str>, ()> {
    match seg.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("microsoft.graph.group") => Ok(Some("group")),
        Some("microsoft.graph.directoryrole") => Ok(Some("directoryRole")),
        Some(_) => Err(()),
    }
}

fn group_json(tenant: &Tenant, id: &str) -> Value {
    let g = tenant.groups.iter().find(|g| g.id.eq_ignore_ascii_case(id));
    json!({
        "@odata.type": "#microsoft.graph.group",
        "id": g.map_or(id, |g| g.id.as_str()),
        "deletedDateTime": null,
        "description": g.and_then(|g| g.description.clone()),
        "displayName": g.map(|g| g.name.clone()),
        "groupTypes": [],
        "isAssignableToRole": true,
        "mail": null,
        "mailEnabled": false,
        "securityEnabled": true,
    })
}

/// A directory role object: its id is the tenant's activated role object, not the
/// template (Graph's `directoryRole`), so it is seeded per tenant and template.
fn directory_role_json(tenant: &Tenant, template: &str) -> Value {
    let r = tenant
        .role_defs
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(template));
    json!({
        "@odata.type": "#microsoft.graph.directoryRole",
        "id": seeded_guid(&format!("{}/directoryRole/{}", tenant.id, template.to_ascii_lowercase())),
        "deletedDateTime": null,
        "description": r.and_then(|r| r.description.clone()),
        "displayName": r.map(|r| r.name.clone()),
        "roleTemplateId": template,
    })
}

/// Lists the caller's `rel` objects in effect now, of the `cast` type where given.
pub(super) fn memberships(
    st: &State,
    env: &Env<'_>,
    rel: Relation,
    cast: Option<&'static str>,
) -> Reply {
    if !env
        .claims
        .scp
        .iter()
        .any(|s| MEMBERSHIP_READ.iter().any(|x| x.eq_ignore_ascii_case(s)))
    {
        return service_errors::graph(
            env.ctx,
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let (tn, oid, now) = (&env.tenant, env.claims.oid.as_str(), env.now);
    let access = match rel {
        Relation::MemberOf => "member",
        Relation::OwnedObjects => "owner",
    };
    let mut items: Vec<Value> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    if cast != Some("directoryRole") {
        for a in st.effective(&tn.id, oid, Kind::Group, now) {
            let key = a.target.scope.to_ascii_lowercase();
            if a.target.role.eq_ignore_ascii_case(access) && !seen.contains(&key) {
                seen.push(key);
                items.push(group_json(tn, &a.target.scope));
            }
        }
    }
    if rel == Relation::MemberOf && cast != Some("group") {
        for role in st.wids(&tn.id, oid, now) {
            items.push(directory_role_json(tn, &role));
        }
    }
    let context = match cast {
        Some("group") => "groups",
        Some(_) => "directoryRoles",
        None => "directoryObjects",
    };
    collection(env, st, context, items, &[])
}
