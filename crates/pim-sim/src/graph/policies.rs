//! Role management policies (`/policies/roleManagementPolicies`, their `rules`) and
//! policy assignments (`/policies/roleManagementPolicyAssignments`), for directory
//! roles and groups.

use serde_json::{Value, json};

use crate::odata::{self, Query};
use crate::policy::{self, Dialect};
use crate::reply::Reply;
use crate::service_errors;
use crate::state::{Kind, State, Target, Tenant, seeded_guid};
use crate::wire::Env;

use super::respond::{bad_request, collection, entity, forbidden_scope};

const POLICY_DIR: &[&str] = &[
    "RoleManagementPolicy.Read.Directory",
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagementPolicy.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
];
const POLICY_GROUP: &[&str] = &[
    "RoleManagementPolicy.Read.AzureADGroup",
    "RoleManagementPolicy.ReadWrite.AzureADGroup",
];

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

pub(super) fn policy_assignments(st: &State, env: &Env<'_>, id: Option<&str>) -> Reply {
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

pub(super) fn policies(st: &State, env: &Env<'_>) -> Reply {
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

pub(super) fn policy_by_id(
    st: &State,
    env: &Env<'_>,
    id: &str,
    rules: Option<Option<&str>>,
) -> Reply {
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
