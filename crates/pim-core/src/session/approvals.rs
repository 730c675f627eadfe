//! The approver's inbox: other users' requests waiting for the signed-in user's decision, in
//! the session's tenants ([`Session::approvals`]), and deciding them ([`Session::decide`]).
//!
//! Per tenant, all tenants in parallel:
//! - Entra roles and groups: one Graph `$batch` of the `filterByCurrentUser(on='approver')`
//!   request lists (`status eq 'PendingApproval'`, the requester and the role or group
//!   expanded where the service can, plainer fallbacks after), then each request's approval
//!   for its stages: groups `GET /v1.0/identityGovernance/privilegedAccess/group/
//!   assignmentApprovals/{id}`, Entra roles `GET /beta/roleManagement/directory/
//!   roleAssignmentApprovals/{id}` (beta only, see [`crate::graph`]'s one beta URL). The
//!   approval id is the request id [Doc].
//! - Azure: ARM `roleAssignmentScheduleRequests?$filter=asApprover()` (the requester, role,
//!   scope, justification, ticket, schedule; `expandedProperties`) alongside
//!   `roleAssignmentApprovals?$filter=asApprover()` (the stages), joined by the request's
//!   `approvalId`; an approval missing from that list is read by its name.
//!
//! A list or an approval that cannot be read is a [`Warning`] of its tenant, not a failure.
//!
//! **Which stage is mine:** only a stage with `assignedToMe` **and** status `InProgress` can
//! be decided ([`ApprovalItem::actionable`]). A request whose stage for me has not started
//! (an earlier stage waits for another approver) is listed, not actionable, with the current
//! stage's name in [`ApprovalItem::waiting_for`]. So is a request whose stages could not be
//! read.
//!
//! **Deciding** ([`Session::decide`]) sends one PATCH, never twice: a denial without a
//! justification is refused before anything is sent; the approval is re-read first, so a
//! request decided elsewhere, cancelled or not yet at my stage is said so plainly without
//! sending; a 409 says the same; after an uncertain outcome (timeout, reset, 5xx) the
//! approval is re-read to see whether the decision took. Whether the approver must give a
//! justification to approve is the requester's role policy; it is not read here: the
//! service's 400 (`ApproverJustificationRequired`) comes back as an
//! [`Error::PolicyViolation`] naming `ApproverJustificationRule`.

mod items;

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use super::Session;
use crate::graph::{inbox_items, item};
use crate::http::{Call, Failure};
use crate::model::*;
use crate::token::Resource;
use crate::{Error, Result};
pub use items::{
    ApprovalItem, ApprovalRef, ApprovalStage, Decision, Inbox, Requester, TenantInbox,
};
pub(crate) use items::{
    Draft, arm_drafts, arm_stages, explain_refusal, finish, graph_drafts, graph_stages,
    oldest_first, pick_stage,
};

/// One tenant's inbox: its status, its items, and the error to report when nothing could be
/// read.
struct TenantPart {
    status: TenantInbox,
    items: Vec<ApprovalItem>,
    error: Option<Error>,
}

impl Session {
    /// [`Session::approvals_of`]: every tenant in parallel; fails only when no tenant could
    /// be read at all (then with an error the user must act on, if any, else the first).
    pub(super) async fn read_approvals(&self, tenants: &[Tenant]) -> Result<Inbox> {
        let parts = futures::future::join_all(tenants.iter().map(|t| self.tenant_inbox(t))).await;
        let mut items = Vec::new();
        let mut statuses = Vec::new();
        let mut fatal: Option<Error> = None;
        let mut any_read = parts.is_empty();
        for p in parts {
            match p.error {
                Some(e) => {
                    if fatal
                        .as_ref()
                        .is_none_or(|f| !f.needs_user() && e.needs_user())
                    {
                        fatal = Some(e);
                    }
                }
                None => any_read = true,
            }
            items.extend(p.items);
            statuses.push(p.status);
        }
        if !any_read && let Some(e) = fatal {
            return Err(e);
        }
        oldest_first(&mut items);
        Ok(Inbox {
            items,
            tenants: statuses,
        })
    }

    async fn tenant_inbox(&self, t: &Tenant) -> TenantPart {
        let tid = t.id.as_str();
        let ((roles, groups), arm) = tokio::join!(self.graph_inbox(tid), self.arm_inbox(tid));
        let mut warnings = Vec::new();
        let (roles, groups, arm) = match (roles, groups, arm) {
            (Err(a), Err(b), Err(c)) => {
                let e = super::first_to_act_on([a, b, c]);
                let error = e.as_ref().map(|e| TenantError {
                    code: e.code().to_owned(),
                    message: e.to_string(),
                });
                return TenantPart {
                    status: TenantInbox {
                        tenant: t.clone(),
                        error,
                        warnings,
                    },
                    items: Vec::new(),
                    error: e,
                };
            }
            (Err(e), Err(_), arm) => {
                warnings.push(Warning::GraphUnreadable {
                    reason: e.to_string(),
                });
                (Ok(Vec::new()), Ok(Vec::new()), arm)
            }
            other => other,
        };
        let group_names = self.caches().group_names.clone();
        let mut drafts = Vec::new();
        for (kind, list, what) in [
            (
                RoleKind::EntraRole,
                roles,
                "Entra role requests waiting for you",
            ),
            (RoleKind::Group, groups, "Group requests waiting for you"),
        ] {
            match list {
                Ok(v) => drafts.extend(graph_drafts(kind, tid, v, &group_names)),
                Err(e) => warnings.push(Warning::unreadable(what, &e)),
            }
        }
        let mut arm_approvals: HashMap<String, Vec<ApprovalStage>> = HashMap::new();
        match arm {
            Ok((reqs, approvals)) => {
                drafts.extend(arm_drafts(tid, reqs));
                match approvals {
                    Ok(list) => {
                        for v in list {
                            if let (Some(name), stages) = arm_stages(v) {
                                arm_approvals.insert(name.to_ascii_lowercase(), stages);
                            }
                        }
                    }
                    Err(e) => warnings.push(Warning::unreadable("Azure role approvals", &e)),
                }
            }
            Err(e) => warnings.push(Warning::unreadable(
                "Azure role requests waiting for you",
                &e,
            )),
        }
        // Stages: ARM's from the list (else read by name), Graph's read per approval.
        let stages = self.stages_of(tid, &drafts, &arm_approvals).await;
        let mut unread: Vec<&str> = Vec::new();
        for (d, s) in drafts.iter().zip(&stages) {
            if let Err(e) = s {
                let what = match d.row.kind {
                    RoleKind::EntraRole => "Approval steps of Entra role requests",
                    RoleKind::Group => "Approval steps of group requests",
                    RoleKind::AzureResource => "Approval stages of Azure role requests",
                };
                if !unread.contains(&what) {
                    unread.push(what);
                    warnings.push(Warning::unreadable(what, e));
                }
            }
        }
        let mut rows: Vec<Role> = drafts.iter().map(|d| d.row.clone()).collect();
        self.name_history_rows(tid, &mut rows).await;
        let items = drafts
            .into_iter()
            .zip(rows)
            .zip(stages)
            .map(|((mut d, row), s)| {
                d.row = row;
                finish(d, &t.display_name, s.ok().as_deref())
            })
            .collect();
        TenantPart {
            status: TenantInbox {
                tenant: t.clone(),
                error: None,
                warnings,
            },
            items,
            error: None,
        }
    }

    /// Each draft's stages (in order, up to 8 reads at a time).
    async fn stages_of(
        &self,
        tid: &str,
        drafts: &[Draft],
        arm_approvals: &HashMap<String, Vec<ApprovalStage>>,
    ) -> Vec<Result<Vec<ApprovalStage>>> {
        // Eight at a time, in groups: a buffered stream of closures would make the future
        // not `Send` for every caller (rustc's higher-ranked closure limits), and the tray
        // reads the inbox on its runtime's worker threads.
        let mut out = Vec::with_capacity(drafts.len());
        for group in drafts.chunks(8) {
            let reads = group.iter().map(|d| self.stages_for(tid, d, arm_approvals));
            out.extend(futures::future::join_all(reads).await);
        }
        out
    }

    /// One request's stages: ARM's from the list read beside the requests when there,
    /// else the approval read by its id.
    async fn stages_for(
        &self,
        tid: &str,
        d: &Draft,
        arm_approvals: &HashMap<String, Vec<ApprovalStage>>,
    ) -> Result<Vec<ApprovalStage>> {
        if d.row.kind == RoleKind::AzureResource
            && let Some(s) = arm_approvals.get(&d.approval_id.to_ascii_lowercase())
        {
            return Ok(s.clone());
        }
        self.read_stages(&ApprovalRef {
            kind: d.row.kind,
            tenant_id: tid.to_owned(),
            approval_id: d.approval_id.clone(),
            stage_id: None,
        })
        .await
    }

    /// The Entra role and group requests waiting for me, in one `$batch` (pages followed).
    async fn graph_inbox(&self, tid: &str) -> (Result<Vec<Value>>, Result<Vec<Value>>) {
        let g = &self.inner.graph;
        let mut res = g.batch(tid, inbox_items()).await;
        let mut take = |id: &str| {
            res.remove(id)
                .unwrap_or_else(|| Err(Error::InvalidResponse(format!("no result for {id}"))))
        };
        let (roles, groups) = (take(item::ROLE_INBOX), take(item::GROUP_INBOX));
        tokio::join!(g.collect(tid, roles), g.collect(tid, groups))
    }

    /// The Azure requests waiting for me, and (apart) the approvals with their stages.
    async fn arm_inbox(&self, tid: &str) -> Result<(Vec<Value>, Result<Vec<Value>>)> {
        let arm = &self.inner.arm;
        let (reqs, approvals) =
            tokio::join!(arm.approver_requests(tid), arm.approvals_as_approver(tid));
        Ok((reqs?, approvals))
    }

    /// The URL of an approval (or one of its stages) and the resource it is on.
    fn approval_url(&self, r: &ApprovalRef, stage: Option<&str>) -> Result<(String, Resource)> {
        Ok(match r.kind {
            RoleKind::EntraRole => (
                self.inner
                    .graph
                    .entra_approval_beta_url(&r.approval_id, stage)?,
                Resource::Graph,
            ),
            RoleKind::Group => (
                self.inner.graph.group_approval_url(&r.approval_id, stage)?,
                Resource::Graph,
            ),
            RoleKind::AzureResource => (
                self.inner.arm.approval_url(&r.approval_id, stage)?,
                Resource::Arm,
            ),
        })
    }

    /// An approval's stages, read now.
    pub(super) async fn read_stages(&self, r: &ApprovalRef) -> Result<Vec<ApprovalStage>> {
        let (url, resource) = self.approval_url(r, None)?;
        let v = self
            .inner
            .graph
            .http
            .get_json(&r.tenant_id, resource, &url)
            .await?;
        Ok(match r.kind {
            RoleKind::AzureResource => arm_stages(v).1,
            _ => graph_stages(v),
        })
    }

    /// [`Session::decide`].
    pub(super) async fn decide_approval(
        &self,
        id: &str,
        decision: Decision,
        justification: Option<String>,
    ) -> Result<()> {
        let r = ApprovalRef::parse(id)?;
        let justification = justification
            .map(|j| j.trim().to_owned())
            .filter(|j| !j.is_empty());
        if decision == Decision::Deny && justification.is_none() {
            return Err(Error::InvalidInput(
                "a denial needs a justification: say why the request is denied".into(),
            ));
        }
        let stages = self
            .read_stages(&r)
            .await
            .map_err(|e| explain_refusal(r.kind, decision, e))?;
        let stage = pick_stage(&r, &stages)?;
        let (url, resource) = self.approval_url(&r, Some(&stage.id))?;
        let mut review = serde_json::Map::new();
        review.insert("reviewResult".into(), json!(decision.as_str()));
        if let Some(j) = &justification {
            review.insert("justification".into(), json!(j));
        }
        let body = match r.kind {
            RoleKind::AzureResource => json!({ "properties": Value::Object(review) }),
            _ => Value::Object(review),
        };
        let call = Call {
            method: Method::PATCH,
            url,
            tenant: r.tenant_id.clone(),
            resource,
            body: Some(body),
            idempotent: false, // a decision is never sent twice
            claims: None,
        };
        match self.inner.graph.http.call(&call).await {
            Ok(_) => Ok(()),
            Err(Failure::Definite(e)) => Err(explain_refusal(r.kind, decision, e)),
            Err(Failure::Uncertain(e)) => {
                tracing::warn!(error = %e, "a decision's outcome is unknown; reading the approval");
                self.decision_took(&r, &stage.id, decision, e).await
            }
        }
    }

    /// After an uncertain answer: whether the stage now shows the decision (then it took).
    async fn decision_took(
        &self,
        r: &ApprovalRef,
        stage_id: &str,
        decision: Decision,
        e: Error,
    ) -> Result<()> {
        let uncertain = |detail: String| Error::Uncertain { detail };
        let stages = self
            .read_stages(r)
            .await
            .map_err(|again| uncertain(format!("{e}; reading the approval again: {again}")))?;
        match stages.iter().find(|s| s.id.eq_ignore_ascii_case(stage_id)) {
            Some(s) if s.in_progress() => Err(uncertain(format!(
                "{e}; the request still waits for your decision"
            ))),
            Some(s)
                if s.review_result
                    .as_deref()
                    .is_some_and(|x| decision.matches(x)) =>
            {
                Ok(())
            }
            Some(_) => Err(Error::InvalidState {
                message:
                    "this request no longer waits for you: it was already decided by someone else"
                        .into(),
            }),
            None => Err(uncertain(format!(
                "{e}; the stage is gone from the approval"
            ))),
        }
    }
}
