//! ARM role assignment approvals (api-version `2021-01-01-preview`), the approver's side
//! of Azure resource roles: `[{scope}]/providers/Microsoft.Authorization/
//! roleAssignmentApprovals` (list with `$filter=asApprover()`, `asCreatedBy()`,
//! `asTarget()`), `…/{id}` (get), `…/{id}/stages[/{stageId}]` (list, get; also addressed as
//! `steps`, as an older Swagger revision names them) and `PATCH`/`PUT …/stages/{stageId}`
//! (decide, 200 with the stage).

use serde_json::{Value, json};

use crate::approvals::{self, Refusal};
use crate::odata;
use crate::reply::{ARM_JSON, Reply};
use crate::service_errors;
use crate::state::{Approval, Decision, Kind, Stage, State, norm_scope};
use crate::wire::Env;

use super::{PROVIDER, page};

/// API versions accepted for `roleAssignmentApprovals` [Doc: REST reference, "Role
/// Assignment Approval"].
pub const APPROVAL_API_VERSIONS: [&str; 1] = ["2021-01-01-preview"];

const TYPE: &str = "Microsoft.Authorization/roleAssignmentApprovals";

fn stage_res(approval: &Approval, s: &Stage, me: &str) -> Value {
    json!({
        "id": format!("{PROVIDER}/roleAssignmentApprovals/{}/stages/{}", approval.name(), s.id),
        "type": format!("{TYPE}/stages"),
        "name": s.id,
        "properties": {
            "displayName": s.display_name,
            "status": s.status.name(),
            "assignedToMe": s.assigned_to(me),
            "reviewedBy": s.reviewed_by.as_ref().map(|p| json!({
                "principalId": p.id, "principalType": "user",
                "principalName": p.display_name, "userPrincipalName": p.upn,
            })),
            "reviewedDateTime": s.reviewed.map(crate::clock::fmt_dt),
            "reviewResult": s.decision.map_or("NotReviewed", Decision::name),
            "justification": s.justification.clone().unwrap_or_default(),
        }
    })
}

fn approval_res(a: &Approval, me: &str) -> Value {
    let stages: Vec<Value> = a.stages.iter().map(|s| stage_res(a, s, me)).collect();
    json!({
        "id": format!("{PROVIDER}/roleAssignmentApprovals/{}", a.name()),
        "type": TYPE,
        "name": a.name(),
        "properties": {"stages": stages},
    })
}

fn refused(env: &Env<'_>, r: Refusal, id: &str, stage: &str) -> Reply {
    let (status, code, message) = match r {
        Refusal::NotFound => (
            404,
            "RoleAssignmentApprovalNotFound",
            format!("The role assignment approval '{id}' could not be found."),
        ),
        Refusal::StageNotFound => (
            404,
            "RoleAssignmentApprovalStageNotFound",
            format!("The role assignment approval stage '{stage}' could not be found."),
        ),
        Refusal::NotAssigned => (
            403,
            "AuthorizationFailed",
            format!(
                "The client '{}' with object id '{}' does not have authorization to perform action 'Microsoft.Authorization/roleAssignmentApprovals/stages/write' over scope '{PROVIDER}/roleAssignmentApprovals/{id}/stages/{stage}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
                env.tenant.user_upn, env.claims.oid
            ),
        ),
        Refusal::AlreadyCompleted => (
            409,
            "RoleAssignmentApprovalAlreadyCompleted",
            "The role assignment approval stage has already been completed.".to_owned(),
        ),
        Refusal::NotStarted => (
            409,
            "RoleAssignmentApprovalStageNotStarted",
            "The role assignment approval stage has not started: an earlier stage is still in progress.".to_owned(),
        ),
        Refusal::NotPending => (
            409,
            "RoleAssignmentRequestNotPending",
            "The role assignment request is no longer pending approval.".to_owned(),
        ),
        Refusal::JustificationRequired(d) => (
            400,
            "ApproverJustificationRequired",
            format!(
                "A justification is required to {} this request.",
                d.name().to_ascii_lowercase()
            ),
        ),
    };
    service_errors::arm(status, code, &message)
}

/// Routes `[{scope}]/providers/Microsoft.Authorization/roleAssignmentApprovals/{rest…}`
/// (api-version and scope already checked).
pub(super) fn handle(st: &mut State, env: &Env<'_>, scope: &str, rest: &[&str]) -> Reply {
    let l: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = l.iter().map(String::as_str).collect();
    let stages = |s: &str| s == "stages" || s == "steps";
    match (env.r.method, l.as_slice()) {
        ("GET", []) => list(st, env, scope),
        ("GET", [_]) => get(st, env, rest[0], None),
        ("GET", [_, s]) if stages(s) => get(st, env, rest[0], Some(None)),
        ("GET", [_, s, _]) if stages(s) => get(st, env, rest[0], Some(Some(rest[2]))),
        ("PATCH" | "PUT", [_, s, _]) if stages(s) => decide(st, env, rest[0], rest[2]),
        (m, [] | [_] | [_, _] | [_, _, _]) => service_errors::arm(
            405,
            "MethodNotAllowed",
            &format!("The requested method '{m}' is not allowed for this resource."),
        ),
        _ => service_errors::arm(
            404,
            "InvalidResourceType",
            &format!(
                "The resource type could not be found for the path '{}' in the namespace 'Microsoft.Authorization'.",
                env.r.path
            ),
        ),
    }
}

/// The list: `asApprover()` (other users' requests with a stage of the caller),
/// `asCreatedBy()` / `asTarget()` (the caller's own requests), or both without a filter;
/// at a scope, the approvals of requests at, above or below it.
fn list(st: &State, env: &Env<'_>, scope: &str) -> Reply {
    let (as_approver, as_requestor) = match env.q.get("$filter").filter(|f| !f.trim().is_empty()) {
        None => (true, true),
        Some(f) => match odata::parse_filter(f) {
            Some(x) if x.has_func("asApprover") => (true, false),
            Some(x) if x.has_func("asCreatedBy") || x.has_func("asTarget") => (false, true),
            _ => {
                return service_errors::arm(
                    400,
                    "InvalidFilterInQueryString",
                    &format!("The filter '{f}' is not supported."),
                );
            }
        },
    };
    let oid = &env.claims.oid;
    let related = |s: &str| {
        let (i, t) = (norm_scope(s), norm_scope(scope));
        scope.is_empty() || i == t || t.starts_with(&(i.clone() + "/")) || i.starts_with(&(t + "/"))
    };
    let mut items = Vec::new();
    for q in st.requests.iter().filter(|q| {
        q.target.kind == Kind::AzureResource
            && q.target.tenant == env.tenant.id
            && related(&q.target.scope)
    }) {
        let Some(key) = q.approval_id.as_deref() else {
            continue;
        };
        let stored = st.approval_of(&q.id);
        let wanted = match stored {
            Some(a) => as_approver && a.has_approver(oid),
            None => as_requestor && q.principal.eq_ignore_ascii_case(oid),
        };
        if !wanted {
            continue;
        }
        if let Some((a, _)) = approvals::lookup(st, &env.tenant, Kind::AzureResource, key, oid) {
            items.push(approval_res(&a, oid));
        }
    }
    page(st, env, items)
}

/// `…/{id}` (`stage: None`), `…/{id}/stages` (`Some(None)`), `…/{id}/stages/{s}`.
fn get(st: &State, env: &Env<'_>, id: &str, stage: Option<Option<&str>>) -> Reply {
    let oid = &env.claims.oid;
    let Some((a, _)) = approvals::lookup(st, &env.tenant, Kind::AzureResource, id, oid) else {
        return refused(env, Refusal::NotFound, id, "");
    };
    match stage {
        None => Reply::json(200, approval_res(&a, oid), ARM_JSON),
        Some(None) => {
            let items = a.stages.iter().map(|s| stage_res(&a, s, oid)).collect();
            page(st, env, items)
        }
        Some(Some(sid)) => match a.stages.iter().find(|s| s.id.eq_ignore_ascii_case(sid)) {
            Some(s) => Reply::json(200, stage_res(&a, s, oid), ARM_JSON),
            None => refused(env, Refusal::StageNotFound, id, sid),
        },
    }
}

/// `PATCH|PUT …/{id}/stages/{stageId}` `{"properties": {"reviewResult": "Approve"|"Deny",
/// "justification": "…"}}` (the properties unwrapped are accepted too): 200 with the
/// stage (empty with `armDecisionEmpty`).
fn decide(st: &mut State, env: &Env<'_>, id: &str, stage: &str) -> Reply {
    let invalid = || {
        service_errors::arm(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'properties.reviewResult' must be 'Approve' or 'Deny'.",
        )
    };
    let Ok(body @ Value::Object(_)) = serde_json::from_slice::<Value>(env.r.body) else {
        return invalid();
    };
    let props = body
        .get("properties")
        .filter(|p| p.is_object())
        .unwrap_or(&body);
    let Some(decision) = props
        .get("reviewResult")
        .and_then(Value::as_str)
        .and_then(Decision::parse)
    else {
        return invalid();
    };
    let justification = match props.get("justification") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return invalid(),
    };
    let me = st.me(&env.tenant);
    let result = approvals::review(
        st,
        env.now,
        &env.tenant,
        Kind::AzureResource,
        id,
        stage,
        &me,
        decision,
        justification,
    );
    match result {
        Ok(_) if st.config.arm_decision_empty => Reply::empty(200),
        Ok(s) => {
            let a =
                approvals::lookup(st, &env.tenant, Kind::AzureResource, id, &me.id).map(|(a, _)| a);
            match a {
                Some(a) => Reply::json(200, stage_res(&a, &s, &me.id), ARM_JSON),
                None => Reply::empty(200),
            }
        }
        Err(r) => refused(env, r, id, stage),
    }
}
