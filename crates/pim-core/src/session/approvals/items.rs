//! The approver's inbox, pure parts: the public types ([`ApprovalItem`], [`ApprovalRef`] and
//! its id, [`ApprovalStage`], [`Inbox`]), wire items to items, which stage is mine, and
//! refusals said plainly. Tested here; the I/O is in the parent module.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use serde_json::Value;
use time::OffsetDateTime;

use crate::duration::PimDuration;
use crate::model::*;
use crate::session::history::{arm_items, graph_items};
use crate::wire::{
    ArmApprovalProps, ArmApprovalStageProps, ArmApproverRequestProps, ArmRequestProps, ArmResource,
    GraphApproval, GraphApprovalStage, GraphApproverRequest, WirePrincipal, parse_items,
};
use crate::{Error, Result};

/// Approve or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// Grant the request (this stage; the last stage's approval provisions it).
    Approve,
    /// Refuse the request (needs a justification).
    Deny,
}

impl Decision {
    /// The `reviewResult` sent: `Approve` or `Deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "Approve",
            Decision::Deny => "Deny",
        }
    }

    /// Whether a stage's `reviewResult` says this decision (`Approve`/`Approved`,
    /// `Deny`/`Denied`, any case).
    pub(crate) fn matches(self, review_result: &str) -> bool {
        let r = review_result.trim().to_ascii_lowercase();
        match self {
            Decision::Approve => r == "approve" || r == "approved",
            Decision::Deny => r == "deny" || r == "denied",
        }
    }
}

/// Where an approval lives, as [`ApprovalItem::id`] spells it:
/// `entra|group|azure:<tenant id>:<approval id>[:<stage id>]`, each part percent-encoded
/// (`:`, `%`, spaces and control characters). The approval id is Graph's request id, or the
/// name (GUID) of the ARM approval. Without a stage, [`Session::decide`](crate::Session::decide) decides the stage
/// that is mine and in progress.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApprovalRef {
    /// Entra role, group or Azure role.
    pub kind: RoleKind,
    /// Tenant id.
    pub tenant_id: String,
    /// Graph approval id (= request id) or ARM approval name.
    pub approval_id: String,
    /// A stage (step) id, when one is pinned.
    pub stage_id: Option<String>,
}

/// Characters escaped in an id's parts.
const ID_PART: &percent_encoding::AsciiSet =
    &percent_encoding::CONTROLS.add(b':').add(b'%').add(b' ');

impl ApprovalRef {
    /// The id (see [`ApprovalRef`]).
    pub fn encode(&self) -> String {
        let part = |s: &str| percent_encoding::utf8_percent_encode(s, ID_PART).to_string();
        let tag = match self.kind {
            RoleKind::EntraRole => "entra",
            RoleKind::Group => "group",
            RoleKind::AzureResource => "azure",
        };
        let mut id = format!(
            "{tag}:{}:{}",
            part(&self.tenant_id),
            part(&self.approval_id)
        );
        if let Some(s) = &self.stage_id {
            id.push(':');
            id.push_str(&part(s));
        }
        id
    }

    /// Reads an id made by [`ApprovalRef::encode`]; anything else is [`Error::InvalidInput`].
    pub fn parse(id: &str) -> Result<ApprovalRef> {
        let bad = || {
            Error::InvalidInput(format!(
                "`{}` is not an approval id; `pim approvals` lists them (kind:tenant:approval)",
                id.chars().take(200).collect::<String>()
            ))
        };
        let part = |s: &str| -> Result<String> {
            let d = percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map_err(|_| bad())?
                .into_owned();
            if d.trim().is_empty() {
                return Err(bad());
            }
            Ok(d)
        };
        let parts: Vec<&str> = id.trim().split(':').collect();
        let (tag, tenant, approval, stage) = match parts.as_slice() {
            [k, t, a] => (*k, *t, *a, None),
            [k, t, a, s] => (*k, *t, *a, Some(*s)),
            _ => return Err(bad()),
        };
        let kind = match tag.to_ascii_lowercase().as_str() {
            "entra" => RoleKind::EntraRole,
            "group" => RoleKind::Group,
            "azure" => RoleKind::AzureResource,
            _ => return Err(bad()),
        };
        Ok(ApprovalRef {
            kind,
            tenant_id: part(tenant)?,
            approval_id: part(approval)?,
            stage_id: stage.map(part).transpose()?,
        })
    }
}

/// One stage (Graph "step") of an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalStage {
    /// Stage id (ARM: the stage's name).
    pub id: String,
    /// Its display name, when it has one (e.g. "Security lead").
    pub name: Option<String>,
    /// `NotStarted`, `InProgress`, `Completed`, `Expired` (others kept as sent; empty when
    /// the service did not say).
    pub status: String,
    /// Whether the signed-in user is one of its approvers.
    pub assigned_to_me: bool,
    /// `NotReviewed`, `Approve`/`Approved`, `Deny`/`Denied`, when given.
    pub review_result: Option<String>,
}

impl ApprovalStage {
    /// Waiting for its approvers now (`InProgress`).
    pub fn in_progress(&self) -> bool {
        self.status.eq_ignore_ascii_case("InProgress")
    }

    /// Mine and in progress: the one stage a decision can be sent for.
    pub fn actionable(&self) -> bool {
        self.assigned_to_me && self.in_progress()
    }
}

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requester {
    /// Object id, when given.
    pub id: Option<String>,
    /// Display name (the object id, or "unknown", when the service gave none).
    pub name: String,
    /// User principal name, when given.
    pub upn: Option<String>,
}

/// Another user's request waiting for a decision where the signed-in user is an approver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalItem {
    /// Opaque id for [`Session::decide`](crate::Session::decide) ([`ApprovalRef`]): kind, tenant and approval.
    pub id: String,
    /// Entra role, group or Azure role.
    pub kind: RoleKind,
    /// Tenant id.
    pub tenant_id: String,
    /// Tenant display name.
    pub tenant_name: String,
    /// Graph approval id (= request id) or ARM approval name.
    pub approval_id: String,
    /// The request's id (Graph) or name (ARM).
    pub request_id: String,
    /// Who asks.
    pub requester: Requester,
    /// Role, group or Azure role display name (the id when it could not be read).
    pub name: String,
    /// Entra `roleDefinitionId`, group `accessId`, or the ARM role definition id.
    pub role_definition_id: String,
    /// Groups: member or owner.
    pub access: Option<AccessId>,
    /// Where.
    pub scope: Scope,
    /// The requester's justification.
    pub justification: Option<String>,
    /// The requester's ticket.
    pub ticket: Option<Ticket>,
    /// Requested start.
    #[serde(with = "time::serde::rfc3339::option")]
    pub start: Option<OffsetDateTime>,
    /// Requested length.
    pub duration: Option<PimDuration>,
    /// When it was asked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    /// The stage assigned to me: the one in progress, else the first not started, else the
    /// last; `None` when no stage names me or the stages could not be read.
    pub stage: Option<ApprovalStage>,
    /// Whether it waits for my decision now ([`ApprovalStage::actionable`]).
    pub actionable: bool,
    /// When not actionable: the stage in progress (its name, or "another approver").
    pub waiting_for: Option<String>,
}

impl ApprovalItem {
    /// Name shown to users: the display name, plus `(member)`/`(owner)` for groups.
    pub fn label(&self) -> String {
        match &self.access {
            Some(a) if self.kind == RoleKind::Group => format!("{} ({})", self.name, a),
            _ => self.name.clone(),
        }
    }
}

impl AsRef<str> for ApprovalItem {
    fn as_ref(&self) -> &str {
        &self.id
    }
}

/// One tenant's part of an [`Inbox`]: what could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantInbox {
    /// The tenant.
    pub tenant: Tenant,
    /// Set when none of its lists could be read.
    pub error: Option<TenantError>,
    /// Lists or approvals that could not be read while others were.
    pub warnings: Vec<Warning>,
}

/// Requests waiting for the signed-in user as an approver ([`Session::approvals`](crate::Session::approvals)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inbox {
    /// Every tenant's requests, oldest first (the longest waiting on top).
    pub items: Vec<ApprovalItem>,
    /// Per tenant read: errors and warnings.
    pub tenants: Vec<TenantInbox>,
}

/// The stages of a Graph approval (v1.0 `stages`, beta `steps`); stages without an id are
/// skipped.
pub(crate) fn graph_stages(v: Value) -> Vec<ApprovalStage> {
    let a: GraphApproval = serde_json::from_value(v).unwrap_or_default();
    let list = if a.stages.is_empty() {
        a.steps
    } else {
        a.stages
    };
    parse_items::<GraphApprovalStage>("approval stages", list)
        .into_iter()
        .filter_map(|s| {
            Some(ApprovalStage {
                id: s.id.get().filter(|i| !i.trim().is_empty())?,
                name: s.display_name.get().filter(|n| !n.trim().is_empty()),
                status: s.status.get().unwrap_or_default(),
                assigned_to_me: s.assigned_to_me.unwrap_or(false),
                review_result: s.review_result.get(),
            })
        })
        .collect()
}

/// The last segment of an ARM id, case kept.
fn arm_name(id: &str) -> String {
    id.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(id)
        .to_owned()
}

/// An ARM approval's name and its stages (`stages`, or an older revision's `steps`); the
/// stage id is its `name`, else the last segment of its `id`.
pub(crate) fn arm_stages(v: Value) -> (Option<String>, Vec<ApprovalStage>) {
    let a: ArmResource<ArmApprovalProps> = serde_json::from_value(v).unwrap_or_default();
    let name = a
        .name
        .get()
        .or_else(|| a.id.as_deref().map(arm_name))
        .filter(|n| !n.trim().is_empty());
    let p = a.properties.unwrap_or_default();
    let list = if p.stages.is_empty() {
        p.steps
    } else {
        p.stages
    };
    let stages = parse_items::<ArmResource<ArmApprovalStageProps>>("approval stages", list)
        .into_iter()
        .filter_map(|s| {
            let id = s
                .name
                .get()
                .or_else(|| s.id.as_deref().map(arm_name))
                .filter(|i| !i.trim().is_empty())?;
            let p = s.properties.unwrap_or_default();
            Some(ApprovalStage {
                id,
                name: p.display_name.get().filter(|n| !n.trim().is_empty()),
                status: p.status.get().unwrap_or_default(),
                assigned_to_me: p.assigned_to_me.unwrap_or(false),
                review_result: p.review_result.get(),
            })
        })
        .collect();
    (name, stages)
}

/// My stage among `stages` and who the request waits for when it is not me: (my stage,
/// actionable, waiting for). My stage is the one in progress, else the first of mine not
/// started, else my last.
pub(crate) fn my_stage(stages: &[ApprovalStage]) -> (Option<ApprovalStage>, bool, Option<String>) {
    if let Some(s) = stages.iter().find(|s| s.actionable()) {
        return (Some(s.clone()), true, None);
    }
    let mine = stages
        .iter()
        .find(|s| s.assigned_to_me && s.status.eq_ignore_ascii_case("NotStarted"))
        .or_else(|| stages.iter().rev().find(|s| s.assigned_to_me))
        .cloned();
    let waiting = stages
        .iter()
        .find(|s| s.in_progress())
        .map(|s| s.name.clone().unwrap_or_else(|| "another approver".into()));
    (mine, false, waiting)
}

fn requester(id: Option<String>, p: Option<WirePrincipal>) -> Requester {
    let p = p.unwrap_or_default();
    let id = p.id.get().or(id).filter(|i| !i.trim().is_empty());
    let upn = p
        .user_principal_name
        .get()
        .or(p.email.get())
        .or(p.mail.get())
        .filter(|u| !u.trim().is_empty());
    let name = p
        .display_name
        .get()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| upn.clone())
        .or_else(|| id.clone())
        .unwrap_or_else(|| "unknown".into());
    Requester { id, name, upn }
}

/// A request waiting for a decision, before its stages are known and its names resolved.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub row: Role,
    pub request: ScheduleRequest,
    pub requester: Requester,
    pub approval_id: String,
}

/// Graph approver-list items of `kind` in tenant `tid` still waiting for approval, as drafts
/// (the approval id is the request's `approvalId`, else its id). Items that are no request,
/// name no role or group, or wait for nothing are skipped.
pub(crate) fn graph_drafts(
    kind: RoleKind,
    tid: &str,
    items: Vec<Value>,
    group_names: &HashMap<(String, String), String>,
) -> Vec<Draft> {
    let mut out = Vec::new();
    for v in items {
        let who: GraphApproverRequest = serde_json::from_value(v.clone()).unwrap_or_default();
        for (row, request) in graph_items(kind, tid, vec![v], group_names) {
            if request.status != RequestStatus::PendingApproval {
                continue;
            }
            let approval_id = who
                .approval_id
                .get()
                .filter(|a| !a.trim().is_empty())
                .unwrap_or_else(|| request.id.clone());
            out.push(Draft {
                row,
                request,
                requester: requester(who.principal_id.get(), who.principal.clone()),
                approval_id,
            });
        }
    }
    out
}

/// ARM `asApprover()` request items in tenant `tid` still waiting for approval, as drafts
/// (the approval name is the last segment of `approvalId`; items without one are skipped).
pub(crate) fn arm_drafts(tid: &str, items: Vec<Value>) -> Vec<Draft> {
    let mut out = Vec::new();
    for v in items {
        let who: ArmResource<ArmApproverRequestProps> =
            serde_json::from_value(v.clone()).unwrap_or_default();
        let Ok(q) = serde_json::from_value::<ArmResource<ArmRequestProps>>(v) else {
            continue;
        };
        let who = who.properties.unwrap_or_default();
        let Some(approval_id) = who
            .approval_id
            .as_deref()
            .map(arm_name)
            .filter(|a| !a.trim().is_empty())
        else {
            continue;
        };
        for (row, request) in arm_items(tid, std::slice::from_ref(&q), None) {
            if request.status != RequestStatus::PendingApproval {
                continue;
            }
            out.push(Draft {
                row,
                request,
                requester: requester(
                    who.principal_id.get(),
                    who.expanded_properties.clone().and_then(|e| e.principal),
                ),
                approval_id: approval_id.clone(),
            });
        }
    }
    out
}

/// The item for a named draft with its stages (`None`: could not be read).
pub(crate) fn finish(
    d: Draft,
    tenant_name: &str,
    stages: Option<&[ApprovalStage]>,
) -> ApprovalItem {
    let (stage, actionable, waiting_for) = match stages {
        Some(s) => my_stage(s),
        None => (None, false, None),
    };
    let r = d.request;
    let duration = r.duration.or_else(|| {
        let (s, e) = (r.start?, r.end?);
        (e > s).then(|| PimDuration::from_time(e - s))
    });
    ApprovalItem {
        id: ApprovalRef {
            kind: d.row.kind,
            tenant_id: d.row.tenant_id.clone(),
            approval_id: d.approval_id.clone(),
            stage_id: None,
        }
        .encode(),
        kind: d.row.kind,
        tenant_id: d.row.tenant_id,
        tenant_name: tenant_name.to_owned(),
        approval_id: d.approval_id,
        request_id: r.id,
        requester: d.requester,
        name: d.row.name,
        role_definition_id: d.row.role_definition_id,
        access: d.row.access,
        scope: d.row.scope,
        justification: r.justification,
        ticket: r.ticket,
        start: r.start,
        duration,
        created_at: r.created,
        stage,
        actionable,
        waiting_for,
    }
}

/// Oldest first (the longest waiting on top); ties by tenant, then id.
pub(crate) fn oldest_first(items: &mut [ApprovalItem]) {
    items.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.tenant_id.cmp(&b.tenant_id))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The stage a decision goes to: the pinned one, else mine in progress; otherwise why the
/// request does not wait for me, plainly ([`Error::InvalidState`]).
pub(crate) fn pick_stage(r: &ApprovalRef, stages: &[ApprovalStage]) -> Result<ApprovalStage> {
    let refuse = |m: String| Err(Error::InvalidState { message: m });
    let candidate = match &r.stage_id {
        Some(id) => match stages.iter().find(|s| s.id.eq_ignore_ascii_case(id)) {
            Some(s) => Some(s),
            None => return refuse(format!("this approval has no stage `{id}`")),
        },
        None => stages.iter().find(|s| s.actionable()),
    };
    if let Some(s) = candidate
        && s.actionable()
    {
        return Ok(s.clone());
    }
    let mine: Vec<&ApprovalStage> = match candidate {
        Some(s) => vec![s],
        None => stages.iter().filter(|s| s.assigned_to_me).collect(),
    };
    let current = stages.iter().find(|s| s.in_progress());
    let is = |s: &&ApprovalStage, st: &str| s.status.eq_ignore_ascii_case(st);
    if mine.is_empty() {
        return refuse(match current {
            Some(_) => "this request does not wait for you: you are not an approver of its current stage".into(),
            None => "this request no longer waits for a decision: it was already decided by someone else".into(),
        });
    }
    if let (Some(c), true) = (current, mine.iter().any(|s| is(s, "NotStarted"))) {
        return refuse(format!(
            "this request does not wait for you yet: an earlier stage ({}) must decide first",
            c.name.as_deref().unwrap_or("another approver")
        ));
    }
    if mine.iter().any(|s| is(s, "Expired")) {
        return refuse("this request no longer waits for you: its approval timed out".into());
    }
    refuse("this request no longer waits for you: it was already decided by someone else".into())
}

/// A decision's refusal, said plainly: 409 (decided elsewhere, no longer pending, stage not
/// started), 403 (the permission or role it needs), 404, and a required justification.
pub(crate) fn explain_refusal(kind: RoleKind, decision: Decision, e: Error) -> Error {
    let Error::Api {
        status,
        code,
        message,
        request_id,
    } = e
    else {
        return e;
    };
    let lc = code.to_ascii_lowercase();
    let state = |m: &str| Error::InvalidState {
        message: m.to_owned(),
    };
    match status {
        409 if lc.contains("notpending") => state(
            "this request no longer waits for a decision: it was cancelled, timed out or decided",
        ),
        409 if lc.contains("notstarted") => {
            state("this request does not wait for you yet: an earlier stage must decide first")
        }
        409 => {
            state("this request no longer waits for you: it was already decided by someone else")
        }
        404 => state("this request no longer waits for you: its approval or stage was not found"),
        400 if lc.contains("justificationrequired") => Error::PolicyViolation {
            rules: vec!["ApproverJustificationRule".into()],
            message: format!(
                "a justification is required to {} this request: say why",
                if decision == Decision::Approve {
                    "approve"
                } else {
                    "deny"
                }
            ),
        },
        403 if matches!(
            lc.as_str(),
            "permissionscopenotgranted" | "authorization_requestdenied"
        ) || kind != RoleKind::AzureResource && lc.contains("scope") =>
        {
            let perm = match kind {
                RoleKind::Group => "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
                _ => "RoleAssignmentSchedule.ReadWrite.Directory",
            };
            Error::Api {
                status,
                code,
                message: format!(
                    "deciding needs the delegated Microsoft Graph permission {perm}, which the app registration lacks (an administrator grants it): {message}"
                ),
                request_id,
            }
        }
        403 => state(match kind {
            RoleKind::AzureResource => {
                "you cannot decide this stage: only its approvers can (Microsoft.Authorization/roleAssignmentApprovals/stages/write), and never on their own request"
            }
            _ => {
                "you cannot decide this stage: only its approvers can, and never on their own request"
            }
        }),
        _ => Error::Api {
            status,
            code,
            message,
            request_id,
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const T: &str = "tenant-1";

    fn stage(id: &str, status: &str, mine: bool, name: Option<&str>) -> ApprovalStage {
        ApprovalStage {
            id: id.into(),
            name: name.map(Into::into),
            status: status.into(),
            assigned_to_me: mine,
            review_result: None,
        }
    }

    #[test]
    fn ids_round_trip_and_odd_ones_are_refused() {
        let r = ApprovalRef {
            kind: RoleKind::AzureResource,
            tenant_id: "t".into(),
            approval_id: "a:b%c d".into(),
            stage_id: None,
        };
        let id = r.encode();
        assert_eq!(id, "azure:t:a%3Ab%25c%20d");
        assert_eq!(ApprovalRef::parse(&id).unwrap(), r);
        let pinned = ApprovalRef {
            kind: RoleKind::Group,
            stage_id: Some("s1".into()),
            ..r.clone()
        };
        assert_eq!(ApprovalRef::parse(&pinned.encode()).unwrap(), pinned);
        assert_eq!(
            ApprovalRef::parse(" ENTRA:t:q ").unwrap().kind,
            RoleKind::EntraRole
        );
        for bad in [
            "",
            "entra",
            "entra:t",
            "x:t:a",
            "entra::a",
            "entra:t: ",
            "a:b:c:d:e",
            "entra:t:%FF",
        ] {
            assert!(
                matches!(ApprovalRef::parse(bad), Err(Error::InvalidInput(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn graph_stages_read_v1_stages_or_beta_steps_tolerantly() {
        let v1 = graph_stages(json!({"id": "q", "stages": [
            {"id": "s1", "displayName": "", "status": "InProgress", "assignedToMe": true,
             "reviewResult": "NotReviewed", "reviewedBy": null, "somethingNew": 1},
            {"id": null, "status": "NotStarted"},
            "not a stage"
        ]}));
        assert_eq!(
            v1,
            [ApprovalStage {
                review_result: Some("NotReviewed".into()),
                ..stage("s1", "InProgress", true, None)
            }]
        );
        let beta = graph_stages(json!({"id": "q", "steps": [
            {"id": "s2", "displayName": "Lead", "status": null, "assignedToMe": "TRUE"}
        ]}));
        assert_eq!(beta, [stage("s2", "", true, Some("Lead"))]);
        assert!(graph_stages(json!(null)).is_empty());
        assert!(graph_stages(json!({"stages": null, "steps": 5})).is_empty());
    }

    #[test]
    fn arm_stages_are_named_by_name_or_id() {
        let (name, stages) = arm_stages(json!({
            "id": "/providers/Microsoft.Authorization/roleAssignmentApprovals/AbC",
            "properties": {"stages": [
                {"name": "AbC", "properties": {"status": "Completed", "assignedToMe": false,
                 "reviewResult": "Approve"}},
                {"id": "/x/stages/Def", "properties": {"displayName": "Me", "status": "InProgress",
                 "assignedToMe": true}},
                {"properties": null}
            ]}
        }));
        assert_eq!(name.as_deref(), Some("AbC"), "case kept");
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[0].review_result.as_deref(), Some("Approve"));
        assert!(stages[1].actionable() && stages[1].id == "Def");
        let (name, stages) = arm_stages(json!({"name": "n", "properties": {"steps": [
            {"name": "s", "properties": {"status": "inprogress", "assignedToMe": true}}]}}));
        assert_eq!((name.as_deref(), stages.len()), (Some("n"), 1));
        assert!(stages[0].actionable(), "status compared case-insensitively");
        assert_eq!(arm_stages(json!([])), (None, Vec::new()));
    }

    #[test]
    fn my_stage_is_the_one_in_progress_else_waits_for_another() {
        let (s, act, wait) = my_stage(&[stage("1", "InProgress", true, None)]);
        assert!(act && wait.is_none() && s.unwrap().id == "1");
        let two = [
            stage("1", "InProgress", false, Some("Security lead")),
            stage("2", "NotStarted", true, None),
        ];
        let (s, act, wait) = my_stage(&two);
        assert!(!act);
        assert_eq!(s.unwrap().id, "2");
        assert_eq!(wait.as_deref(), Some("Security lead"));
        let (s, act, wait) = my_stage(&[
            stage("1", "Completed", true, None),
            stage("2", "InProgress", false, None),
        ]);
        assert!(!act && s.unwrap().id == "1");
        assert_eq!(wait.as_deref(), Some("another approver"));
        assert_eq!(my_stage(&[]), (None, false, None));
    }

    #[test]
    fn graph_items_become_drafts_and_items() {
        let items = vec![
            json!({"id": "q1", "status": "PendingApproval", "principalId": "p1",
                "roleDefinitionId": "rd", "directoryScopeId": "/", "approvalId": "q1",
                "createdDateTime": "2026-08-01T10:00:00Z", "justification": "Fix SSO",
                "scheduleInfo": {"startDateTime": "2026-08-01T10:00:00Z",
                    "expiration": {"type": "afterDuration", "duration": "PT1H"}},
                "ticketInfo": {"ticketNumber": "INC-1", "ticketSystem": "SN"},
                "principal": {"id": "p1", "displayName": "Alex Wilber",
                    "userPrincipalName": "alexw@contoso.com"},
                "roleDefinition": {"displayName": "Global Administrator"}, "newThing": [1]}),
            // Decided already: not waiting.
            json!({"id": "q2", "status": "Provisioned", "roleDefinitionId": "rd"}),
            // No approval id, no principal expansion, nulls.
            json!({"id": "q3", "status": "PendingApproval", "principalId": "p3",
                "roleDefinitionId": "rd", "approvalId": null, "principal": null,
                "justification": null, "scheduleInfo": null, "ticketInfo": null}),
        ];
        let drafts = graph_drafts(RoleKind::EntraRole, T, items, &HashMap::new());
        assert_eq!(drafts.len(), 2);
        let stages = [stage("s", "InProgress", true, None)];
        let a = finish(drafts[0].clone(), "Contoso", Some(&stages));
        assert_eq!(a.id, "entra:tenant-1:q1");
        assert_eq!(a.name, "Global Administrator");
        assert_eq!(a.requester.name, "Alex Wilber");
        assert_eq!(a.requester.upn.as_deref(), Some("alexw@contoso.com"));
        assert_eq!(a.duration, Some(PimDuration::from_hours(1)));
        assert_eq!(a.ticket.as_ref().unwrap().number, "INC-1");
        assert_eq!(a.tenant_name, "Contoso");
        assert!(a.actionable);
        let b = finish(drafts[1].clone(), "Contoso", None);
        assert_eq!(
            (b.approval_id.as_str(), b.requester.name.as_str()),
            ("q3", "p3")
        );
        assert_eq!(
            (b.justification, b.duration, b.created_at),
            (None, None, None)
        );
        assert!(
            !b.actionable && b.stage.is_none(),
            "stages unknown: not actionable"
        );
    }

    #[test]
    fn arm_items_become_drafts_by_their_approval_name() {
        let drafts = arm_drafts(
            T,
            vec![
                json!({"name": "r1", "properties": {"status": "PendingApproval", "principalId": "p",
                "scope": "/subscriptions/s",
                "roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/b24",
                "approvalId": "/providers/Microsoft.Authorization/roleAssignmentApprovals/G1",
                "createdOn": "2026-08-01T10:00:00Z",
                "expandedProperties": {"principal": {"id": "p", "displayName": "Lee Gu",
                    "email": "leeg@contoso.com"},
                    "roleDefinition": {"displayName": "Contributor"},
                    "scope": {"id": "/subscriptions/s", "displayName": "Prod", "type": "subscription"}}}}),
                // No approval: nothing to decide.
                json!({"name": "r2", "properties": {"status": "PendingApproval", "scope": "/subscriptions/s",
                "roleDefinitionId": "/r/b24"}}),
                json!({"name": "r3", "properties": null}),
            ],
        );
        assert_eq!(drafts.len(), 1);
        let i = finish(drafts[0].clone(), "Contoso", Some(&[]));
        assert_eq!(i.id, "azure:tenant-1:G1");
        assert_eq!(
            (i.name.as_str(), i.scope.display_name.as_str()),
            ("Contributor", "Prod")
        );
        assert_eq!(i.requester.upn.as_deref(), Some("leeg@contoso.com"));
        assert!(!i.actionable, "no stage of mine");
    }

    #[test]
    fn stages_to_decide_and_refusals_are_plain() {
        let r = ApprovalRef::parse("group:t:a").unwrap();
        let msg = |e: Error| match e {
            Error::InvalidState { message } => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            pick_stage(&r, &[stage("1", "InProgress", true, None)])
                .unwrap()
                .id,
            "1"
        );
        let done = [stage("1", "Completed", true, None)];
        assert!(
            msg(pick_stage(&r, &done).unwrap_err()).contains("already decided by someone else")
        );
        let later = [
            stage("1", "InProgress", false, Some("Lead")),
            stage("2", "NotStarted", true, None),
        ];
        assert!(msg(pick_stage(&r, &later).unwrap_err()).contains("an earlier stage (Lead)"));
        let other = [stage("1", "InProgress", false, None)];
        assert!(msg(pick_stage(&r, &other).unwrap_err()).contains("not an approver"));
        let expired = [stage("1", "Expired", true, None)];
        assert!(msg(pick_stage(&r, &expired).unwrap_err()).contains("timed out"));
        let pinned = ApprovalRef::parse("group:t:a:9").unwrap();
        assert!(msg(pick_stage(&pinned, &done).unwrap_err()).contains("no stage `9`"));

        let api = |status, code: &str| Error::Api {
            status,
            code: code.into(),
            message: "m".into(),
            request_id: None,
        };
        let e = explain_refusal(
            RoleKind::Group,
            Decision::Approve,
            api(409, "ApprovalStepAlreadyCompleted"),
        );
        assert!(msg(e).contains("already decided by someone else"));
        let e = explain_refusal(
            RoleKind::Group,
            Decision::Approve,
            api(409, "RoleAssignmentRequestNotPending"),
        );
        assert!(msg(e).contains("cancelled, timed out or decided"));
        let e = explain_refusal(
            RoleKind::EntraRole,
            Decision::Deny,
            api(400, "ApproverJustificationRequired"),
        );
        assert!(
            matches!(e, Error::PolicyViolation { rules, .. } if rules == ["ApproverJustificationRule"])
        );
        let e = explain_refusal(
            RoleKind::Group,
            Decision::Approve,
            api(403, "PermissionScopeNotGranted"),
        );
        assert!(
            matches!(&e, Error::Api { status: 403, message, .. } if message.contains("PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup")),
            "{e:?}"
        );
        let e = explain_refusal(
            RoleKind::AzureResource,
            Decision::Approve,
            api(403, "AuthorizationFailed"),
        );
        assert!(msg(e).contains("roleAssignmentApprovals/stages/write"));
        let e = explain_refusal(RoleKind::Group, Decision::Approve, api(500, "x"));
        assert!(matches!(e, Error::Api { status: 500, .. }));
        let e = explain_refusal(
            RoleKind::Group,
            Decision::Approve,
            Error::Transport("t".into()),
        );
        assert!(matches!(e, Error::Transport(_)));
    }

    #[test]
    fn review_results_match_present_and_past_tense() {
        assert!(Decision::Approve.matches("Approved") && Decision::Approve.matches("approve"));
        assert!(Decision::Deny.matches("DENIED") && !Decision::Deny.matches("Approve"));
    }
}
