//! Graph approvals (the approver's side): PIM for Groups
//! `identityGovernance/privilegedAccess/group/assignmentApprovals/{id}` (v1.0: `stages`,
//! also addressed as `steps` as the update page documents; beta: `steps`) and PIM for
//! Entra roles `roleManagement/directory/roleAssignmentApprovals/{id}` (beta only, with
//! `steps`): get an approval, list and get its stages, decide one (`PATCH`, 204).

use serde_json::{Value, json};

use crate::approvals::{self, Refusal};
use crate::reply::Reply;
use crate::service_errors;
use crate::state::{Approval, Decision, Kind, Stage, State};
use crate::wire::Env;

use super::respond::{bad_json, bad_request, d, entity};

const ENTRA_READ: &[&str] = &[
    "RoleAssignmentSchedule.Read.Directory",
    "RoleAssignmentSchedule.ReadWrite.Directory",
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
];
const ENTRA_DECIDE: &[&str] = &["RoleAssignmentSchedule.ReadWrite.Directory"];
const GROUP_READ: &[&str] = &[
    "PrivilegedAssignmentSchedule.Read.AzureADGroup",
    "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
];
const GROUP_DECIDE: &[&str] = &["PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup"];

/// Which approvals a path is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    /// `identityGovernance/privilegedAccess/group/assignmentApprovals`.
    Group,
    /// `roleManagement/directory/roleAssignmentApprovals` (beta).
    Entra,
}

impl Family {
    fn kind(self) -> Kind {
        match self {
            Self::Group => Kind::Group,
            Self::Entra => Kind::EntraRole,
        }
    }
    fn set(self) -> &'static str {
        match self {
            Self::Group => "identityGovernance/privilegedAccess/group/assignmentApprovals",
            Self::Entra => "roleManagement/directory/roleAssignmentApprovals",
        }
    }
    fn scopes(self, decide: bool) -> &'static [&'static str] {
        match (self, decide) {
            (Self::Group, false) => GROUP_READ,
            (Self::Group, true) => GROUP_DECIDE,
            (Self::Entra, false) => ENTRA_READ,
            (Self::Entra, true) => ENTRA_DECIDE,
        }
    }
}

/// The name of an approval's stage collection in `version`: `stages` (v1.0), `steps`
/// (beta).
fn stages_prop(env: &Env<'_>) -> &'static str {
    if env.r.version == "beta" {
        "steps"
    } else {
        "stages"
    }
}

/// Whether `seg` (lower case) names the stage collection: v1.0 accepts `stages` and
/// `steps`, beta `steps`.
pub(super) fn is_stages_seg(env: &Env<'_>, seg: &str) -> bool {
    seg == "steps" || (seg == "stages" && env.r.version != "beta")
}

fn stage_json(st: &State, env: &Env<'_>, s: &Stage) -> Value {
    let result = match s.decision {
        None => "NotReviewed",
        Some(d) if st.config.review_result_past_tense => d.past(),
        Some(d) => d.name(),
    };
    json!({
        "id": s.id,
        "displayName": s.display_name,
        "reviewedDateTime": d(s.reviewed),
        "reviewResult": result,
        "status": s.status.name(),
        "assignedToMe": s.assigned_to(&env.claims.oid),
        "justification": s.justification.clone().unwrap_or_default(),
        "reviewedBy": s.reviewed_by.as_ref().map(|p| json!({"id": p.id, "displayName": p.display_name})),
    })
}

fn approval_json(st: &State, env: &Env<'_>, f: Family, a: &Approval) -> Value {
    let prop = stages_prop(env);
    let stages: Vec<Value> = a.stages.iter().map(|s| stage_json(st, env, s)).collect();
    let mut o = serde_json::Map::new();
    o.insert("id".into(), json!(a.id));
    o.insert(
        format!("{prop}@odata.context"),
        json!(format!(
            "{}/{}/$metadata#{}('{}')/{prop}",
            env.ctx.base,
            env.r.version,
            f.set(),
            a.id
        )),
    );
    o.insert(prop.into(), Value::Array(stages));
    Value::Object(o)
}

fn refused(env: &Env<'_>, r: Refusal, id: &str, stage: &str) -> Reply {
    let (status, code, message) = match r {
        Refusal::NotFound => (
            404,
            "ResourceNotFound",
            format!("The approval '{id}' was not found."),
        ),
        Refusal::StageNotFound => (
            404,
            "ResourceNotFound",
            format!("The approval step '{stage}' was not found."),
        ),
        Refusal::NotAssigned => (
            403,
            "AuthorizationFailed",
            "The signed-in user is not an approver of this approval step.".to_owned(),
        ),
        Refusal::AlreadyCompleted => (
            409,
            "ApprovalStepAlreadyCompleted",
            "The approval step has already been completed.".to_owned(),
        ),
        Refusal::NotStarted => (
            409,
            "ApprovalStepNotStarted",
            "The approval step has not started: an earlier step is still in progress.".to_owned(),
        ),
        Refusal::NotPending => (
            409,
            "RoleAssignmentRequestNotPending",
            "The request is no longer pending approval.".to_owned(),
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
    service_errors::graph(env.ctx, status, code, &message)
}

/// `GET {set}/{id}`: the approval with its stages.
pub(super) fn get_approval(st: &State, env: &Env<'_>, f: Family, id: &str) -> Reply {
    if let Err(e) = env.require(st, f.scopes(false), f == Family::Group) {
        return e;
    }
    match approvals::lookup(st, &env.tenant, f.kind(), id, &env.claims.oid) {
        Some((a, _)) => entity(
            env,
            &format!("{}/$entity", f.set()),
            approval_json(st, env, f, &a),
        ),
        None => refused(env, Refusal::NotFound, id, ""),
    }
}

/// `GET {set}/{id}/steps[/{stageId}]`: the stages, or one.
pub(super) fn get_stages(
    st: &State,
    env: &Env<'_>,
    f: Family,
    id: &str,
    stage: Option<&str>,
) -> Reply {
    if let Err(e) = env.require(st, f.scopes(false), f == Family::Group) {
        return e;
    }
    let Some((a, _)) = approvals::lookup(st, &env.tenant, f.kind(), id, &env.claims.oid) else {
        return refused(env, Refusal::NotFound, id, "");
    };
    let prop = stages_prop(env);
    let context = format!("{}('{}')/{prop}", f.set(), a.id);
    match stage {
        None => {
            let items: Vec<Value> = a.stages.iter().map(|s| stage_json(st, env, s)).collect();
            super::respond::collection(env, st, &context, items, &[])
        }
        Some(sid) => match a.stages.iter().find(|s| s.id.eq_ignore_ascii_case(sid)) {
            Some(s) => entity(env, &format!("{context}/$entity"), stage_json(st, env, s)),
            None => refused(env, Refusal::StageNotFound, id, sid),
        },
    }
}

/// `PATCH {set}/{id}/steps/{stageId}` `{"reviewResult": "Approve"|"Deny",
/// "justification": "…"}`: 204 (or 200 with the stage, `graphDecisionStatus`).
pub(super) fn decide(st: &mut State, env: &Env<'_>, f: Family, id: &str, stage: &str) -> Reply {
    if let Err(e) = env.require(st, f.scopes(true), f == Family::Group) {
        return e;
    }
    let Ok(v @ Value::Object(_)) = serde_json::from_slice::<Value>(env.r.body) else {
        return bad_json(env.ctx);
    };
    let Some(decision) = v
        .get("reviewResult")
        .and_then(Value::as_str)
        .and_then(Decision::parse)
    else {
        return bad_request(
            env.ctx,
            "The property 'reviewResult' is required and must be 'Approve' or 'Deny'.",
        );
    };
    let justification = match v.get("justification") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            return bad_request(env.ctx, "The property 'justification' must be a string.");
        }
    };
    let me = st.me(&env.tenant);
    match approvals::review(
        st,
        env.now,
        &env.tenant,
        f.kind(),
        id,
        stage,
        &me,
        decision,
        justification,
    ) {
        Ok(s) if st.config.graph_decision_status == 200 => {
            let context = format!("{}('{id}')/{}/$entity", f.set(), stages_prop(env));
            entity(env, &context, stage_json(st, env, &s))
        }
        Ok(_) => Reply::empty(204),
        Err(r) => refused(env, r, id, stage),
    }
}
