//! Microsoft Graph v1.0: `/me`, `/organization`, the user's effective memberships
//! (`/me/memberOf`, `/me/transitiveMemberOf`, `/me/ownedObjects`), PIM for Entra roles
//! (`/roleManagement/directory/...`), PIM for Groups
//! (`/identityGovernance/privilegedAccess/group/...`) and role management policies
//! (`/policies/...`), and the approver's side of both PIM families ([`approvals`]; the
//! Entra-role approvals live in Graph beta only). `/beta/...` serves the same paths as
//! `/v1.0/...`. This module routes a request to its resource family; `$batch` lives in
//! [`batch`] and calls [`dispatch`] per item.

mod approvals;
pub mod batch;
mod directory;
mod groups;
mod memberships;
mod policies;
mod respond;
mod roles;
mod schedules;

use crate::authority::GRAPH_AUD;
use crate::odata::Query;
use crate::reply::{Ctx, Reply};
use crate::server::Shared;
use crate::service_errors;
use crate::state::Kind;
use crate::wire::{ApiReq, Env, TokenProblem};

use approvals::{Family, is_stages_seg};
use directory::{group_object, me, organization, role_definitions};
use groups::{GROUP, group_post};
use memberships::{Relation, memberships};
use policies::{policies, policy_assignments, policy_by_id};
use roles::{ENTRA, entra_post};
use schedules::{cancel, get_request, pim_list};

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
    let beta = r.version == "beta";
    match (m, l.as_slice()) {
        ("GET", ["me"]) => me(&st, &env),
        ("GET", ["me", rel, rest @ ..]) if rest.len() <= 1 && relation(rel).is_some() => {
            match memberships::cast(rest.first().map(|_| segs[2].as_str())) {
                Ok(cast) => {
                    memberships(&st, &env, relation(rel).unwrap_or(Relation::MemberOf), cast)
                }
                Err(()) => not_found(ctx, r.path),
            }
        }
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
        (
            "GET",
            [
                "identitygovernance",
                "privilegedaccess",
                "group",
                "assignmentapprovals",
                _,
            ],
        ) => approvals::get_approval(&st, &env, Family::Group, &segs[4]),
        (
            "GET",
            [
                "identitygovernance",
                "privilegedaccess",
                "group",
                "assignmentapprovals",
                _,
                s,
            ],
        ) if is_stages_seg(&env, s) => {
            approvals::get_stages(&st, &env, Family::Group, &segs[4], None)
        }
        (
            "GET",
            [
                "identitygovernance",
                "privilegedaccess",
                "group",
                "assignmentapprovals",
                _,
                s,
                _,
            ],
        ) if is_stages_seg(&env, s) => {
            approvals::get_stages(&st, &env, Family::Group, &segs[4], Some(&segs[6]))
        }
        (
            "PATCH",
            [
                "identitygovernance",
                "privilegedaccess",
                "group",
                "assignmentapprovals",
                _,
                s,
                _,
            ],
        ) if is_stages_seg(&env, s) => {
            approvals::decide(&mut st, &env, Family::Group, &segs[4], &segs[6])
        }
        ("GET", ["rolemanagement", "directory", "roleassignmentapprovals", _]) if beta => {
            approvals::get_approval(&st, &env, Family::Entra, &segs[3])
        }
        (
            "GET",
            [
                "rolemanagement",
                "directory",
                "roleassignmentapprovals",
                _,
                s,
            ],
        ) if beta && is_stages_seg(&env, s) => {
            approvals::get_stages(&st, &env, Family::Entra, &segs[3], None)
        }
        (
            "GET",
            [
                "rolemanagement",
                "directory",
                "roleassignmentapprovals",
                _,
                s,
                _,
            ],
        ) if beta && is_stages_seg(&env, s) => {
            approvals::get_stages(&st, &env, Family::Entra, &segs[3], Some(&segs[5]))
        }
        (
            "PATCH",
            [
                "rolemanagement",
                "directory",
                "roleassignmentapprovals",
                _,
                s,
                _,
            ],
        ) if beta && is_stages_seg(&env, s) => {
            approvals::decide(&mut st, &env, Family::Entra, &segs[3], &segs[5])
        }
        // Entra-role approvals are in beta only [Doc]
        (_, ["rolemanagement", "directory", "roleassignmentapprovals", ..]) => {
            not_found(ctx, &format!("/{}", segs[2]))
        }
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

/// The relationship a `/me/{rel}` segment (lower case) lists.
fn relation(seg: &str) -> Option<Relation> {
    match seg {
        "memberof" | "transitivememberof" => Some(Relation::MemberOf),
        "ownedobjects" => Some(Relation::OwnedObjects),
        _ => None,
    }
}

fn known_path(l: &[&str]) -> bool {
    matches!(l, ["me", rel] | ["me", rel, _] if relation(rel).is_some())
        || matches!(
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
