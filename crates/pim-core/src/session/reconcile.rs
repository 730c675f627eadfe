//! Writes whose outcome is uncertain (the answer was lost or timed out, or was a 5xx), and
//! waiting for a write to show. Graph requests have no idempotency key: they are looked up
//! by re-reading, never blindly sent again (after a 503, which most likely means "not
//! taken", they are checked once and then sent again). ARM requests reuse their
//! client-chosen name: GET it, PUT it again when it does not exist.

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use super::Session;
use super::rows::graph_request_scope;
use crate::http::Failure;
use crate::model::*;
use crate::wire::{ArmRequestProps, ArmResource, GraphRequest, Lenient};
use crate::{Error, Result};

/// What re-reading found after a Graph write with an uncertain outcome.
pub(super) enum Reconciled {
    /// The request, in the user's request list.
    Request(Box<GraphRequest>),
    /// The role is active (the request was carried out and is no longer listed as new).
    Active(Outcome),
}

impl Session {
    /// POSTs a Graph activation or extension (`body` to the collection `path`), and settles
    /// an uncertain outcome: after a 503, looks once and sends again when nothing shows;
    /// after any other uncertain failure, looks for [`super::SessionOptions::reconcile`]
    /// and reports [`Error::Uncertain`] when nothing shows. `sent_at` is the server time
    /// before the first POST.
    pub(super) async fn post_graph_activation(
        &self,
        role: &Role,
        path: &str,
        body: Value,
        action: &Action,
        claims: Option<String>,
        sent_at: OffsetDateTime,
    ) -> Result<Reconciled> {
        let graph = &self.inner.graph;
        let tid = role.tenant_id.as_str();
        let first = graph
            .post_request(tid, path, body.clone(), claims.clone())
            .await;
        match first {
            Ok(r) => Ok(Reconciled::Request(Box::new(r))),
            Err(Failure::Definite(e)) => Err(e),
            // The service answered that it is unavailable: it most likely did not
            // take the request. Check once, then send it again.
            Err(Failure::Uncertain(e @ Error::Api { status: 503, .. })) => {
                tracing::warn!(error = %e, "service unavailable; checking before sending again");
                if let Some(found) = self.find_graph_request(role, path, action, sent_at).await {
                    return Ok(Reconciled::Request(Box::new(found)));
                }
                if let Some(o) = self.active_now(role).await {
                    return Ok(Reconciled::Active(o));
                }
                match graph.post_request(tid, path, body, claims).await {
                    Ok(r) => Ok(Reconciled::Request(Box::new(r))),
                    Err(f) => {
                        let e = second_attempt_error(f);
                        if is_code(&e, "RoleAssignmentExists") {
                            return Ok(Reconciled::Active(Outcome::Active {
                                until: None,
                                request_id: String::new(),
                            }));
                        }
                        Err(e)
                    }
                }
            }
            // The request may well have been carried out (the answer was lost, timed
            // out or was a server error): look for it, never send it again.
            Err(Failure::Uncertain(e)) => {
                tracing::warn!(error = %e, "activation outcome uncertain; reconciling by re-reading");
                self.reconcile_graph(role, path, action, sent_at)
                    .await
                    .ok_or_else(|| Error::Uncertain {
                        detail: e.to_string(),
                    })
            }
        }
    }

    /// POSTs a Graph deactivation; on an uncertain outcome, re-reads the role and sends it
    /// again only while the role is still active (`RoleAssignmentDoesNotExist` then counts
    /// as done). Returns the request id (empty when unknown).
    pub(super) async fn post_graph_deactivation(
        &self,
        role: &Role,
        path: &str,
        body: Value,
        claims: Option<String>,
    ) -> Result<String> {
        let graph = &self.inner.graph;
        let tid = role.tenant_id.as_str();
        match graph
            .post_request(tid, path, body.clone(), claims.clone())
            .await
        {
            Ok(r) => Ok(r.id.into_option().unwrap_or_default()),
            Err(Failure::Definite(e)) => Err(e),
            Err(Failure::Uncertain(e)) => {
                tracing::warn!(error = %e, "deactivation outcome uncertain; re-reading");
                if self.active_now(role).await.is_none() {
                    return Ok(String::new());
                }
                match graph.post_request(tid, path, body, claims).await {
                    Ok(r) => Ok(r.id.into_option().unwrap_or_default()),
                    Err(f) => {
                        let e = second_attempt_error(f);
                        if is_code(&e, "RoleAssignmentDoesNotExist") {
                            Ok(String::new())
                        } else {
                            Err(e)
                        }
                    }
                }
            }
        }
    }

    /// ARM PUT with reconciliation by name: on an uncertain outcome, GET the same name; when it
    /// does not exist, PUT again with the same name (idempotent). `RoleAssignmentExists` /
    /// `RoleAssignmentDoesNotExist` after an uncertain first attempt count as success.
    pub(super) async fn arm_put(
        &self,
        role: &Role,
        name: &str,
        body: Value,
        claims: Option<String>,
    ) -> Result<ArmResource<ArmRequestProps>> {
        let arm = &self.inner.arm;
        let tid = role.tenant_id.as_str();
        let scope = role.scope.id.as_str();
        match arm
            .put_request(tid, scope, name, body.clone(), claims.clone())
            .await
        {
            Ok(r) => Ok(r),
            Err(Failure::Definite(e)) => Err(e),
            Err(Failure::Uncertain(e)) => {
                tracing::warn!(error = %e, request = name, "ARM request outcome uncertain; checking by name");
                if let Some(r) = arm.get_request(tid, scope, name).await? {
                    return Ok(r);
                }
                match arm.put_request(tid, scope, name, body, claims).await {
                    Ok(r) => Ok(r),
                    Err(f) => {
                        let e = second_attempt_error(f);
                        if is_code(&e, "RoleAssignmentExists")
                            || is_code(&e, "RoleAssignmentDoesNotExist")
                        {
                            return Ok(ArmResource {
                                id: Lenient(None),
                                name: Lenient(Some(name.to_owned())),
                                properties: Some(ArmRequestProps {
                                    status: Some(RequestStatus::Provisioned),
                                    ..Default::default()
                                }),
                            });
                        }
                        Err(e)
                    }
                }
            }
        }
    }

    /// Newest of my requests matching role, scope and action created since `since` - 5 min.
    pub(super) async fn find_graph_request(
        &self,
        role: &Role,
        path: &str,
        action: &Action,
        since: OffsetDateTime,
    ) -> Option<GraphRequest> {
        let list = self
            .inner
            .graph
            .my_requests(&role.tenant_id, path)
            .await
            .ok()?;
        let from = since.saturating_sub(time::Duration::minutes(5));
        list.into_iter()
            .filter(|q| q.action.as_ref() == Some(action))
            .filter(|q| match role.kind {
                RoleKind::Group => {
                    q.group_id
                        .as_deref()
                        .is_some_and(|g| g.eq_ignore_ascii_case(&role.scope.id))
                        && q.access_id.as_ref() == role.access.as_ref()
                }
                _ => {
                    q.role_definition_id
                        .as_deref()
                        .is_some_and(|r| r.eq_ignore_ascii_case(&role.role_definition_id))
                        && graph_request_scope(q).eq_ignore_ascii_case(
                            role.app_scope_id.as_deref().unwrap_or(&role.scope.id),
                        )
                }
            })
            .filter(|q| q.created_date_time.is_none_or(|c| c >= from))
            .max_by_key(|q| q.created_date_time.get())
    }

    /// After a Graph activation or extension with an uncertain outcome: looks for the
    /// request in the user's request list, and at the role's state, until one shows it or
    /// [`super::SessionOptions::reconcile`] passes. There is no idempotency key for Graph
    /// requests and the list can lag behind the write: a second POST could make a second
    /// request, so `None` (nothing found) is reported as an unknown outcome, never sent again.
    async fn reconcile_graph(
        &self,
        role: &Role,
        path: &str,
        action: &Action,
        since: OffsetDateTime,
    ) -> Option<Reconciled> {
        let deadline = tokio::time::Instant::now() + self.inner.reconcile;
        let mut wait = Duration::from_millis(250);
        loop {
            if let Some(found) = self.find_graph_request(role, path, action, since).await {
                return Some(Reconciled::Request(Box::new(found)));
            }
            if let Some(o) = self.active_now(role).await {
                return Some(Reconciled::Active(o));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                tracing::warn!(role = %role.describe(), "the uncertain request did not show up; its outcome is unknown");
                return None;
            }
            tracing::debug!(
                ?wait,
                "the uncertain request is not listed yet; looking again"
            );
            tokio::time::sleep(wait.min(deadline - now)).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }

    /// After an uncertain activation: is the role active now? (re-reads the tenant)
    async fn active_now(&self, role: &Role) -> Option<Outcome> {
        let snap = self.refresh_tenant(&role.tenant_id).await.ok()?;
        let r = snap.by_key(&role.key())?;
        let a = r.assignment.as_ref()?;
        Some(Outcome::Active {
            until: a.end,
            request_id: String::new(),
        })
    }

    /// Re-reads the role's tenant until the outcome shows (or `settle` passes), publishes the
    /// snapshot, and fills in the real end time.
    pub(super) async fn settle(&self, role: &Role, outcome: Outcome) -> Outcome {
        let deadline = tokio::time::Instant::now() + self.inner.settle;
        loop {
            let snap = match self.refresh_tenant(&role.tenant_id).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "refresh after the write failed");
                    return outcome;
                }
            };
            if let Some(o) = settled(role, &outcome, snap.by_key(&role.key())) {
                return o;
            }
            if tokio::time::Instant::now() >= deadline {
                return outcome;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// Whether the re-read `row` of `role` shows the outcome of a write: `Some` (the outcome,
/// with the activation's real end filled in) once it does, `None` while it does not yet.
/// An activation not listed as active yet, and a deactivated role still listed as held, are
/// waited for; anything else shows at once.
pub(super) fn settled(role: &Role, outcome: &Outcome, row: Option<&Role>) -> Option<Outcome> {
    match (outcome, row) {
        (Outcome::Active { request_id, .. } | Outcome::Submitted { request_id, .. }, Some(r)) => r
            .assignment
            .as_ref()
            .filter(|a| a.is_activation() || role.assignment.is_none())
            .map(|a| Outcome::Active {
                until: a.end,
                request_id: request_id.clone(),
            }),
        (Outcome::Deactivated { .. }, Some(r)) => r.assignment.is_none().then(|| outcome.clone()),
        _ => Some(outcome.clone()),
    }
}

/// The error of a write sent again after an uncertain first attempt: if this one is
/// uncertain too, say so.
fn second_attempt_error(f: Failure) -> Error {
    match f {
        Failure::Uncertain(e) => Error::Uncertain {
            detail: e.to_string(),
        },
        Failure::Definite(e) => e,
    }
}

/// Whether `e` is a service error with `code` (any case).
pub(super) fn is_code(e: &Error, code: &str) -> bool {
    matches!(e, Error::Api { code: c, .. } if c.eq_ignore_ascii_case(code))
}
