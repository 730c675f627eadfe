//! Writes: activate, deactivate, extend, cancel. Each checks the known policy and the role's
//! state before anything is sent, runs one at a time per role, steps up once when the
//! service asks ([`Session::with_step_up`]), and hands uncertain outcomes to `reconcile.rs`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::batch::ActivationPlan;
use super::reconcile::{Reconciled, is_code};
use super::rows::{arm_schedule_request, graph_schedule_request};
use super::{Inner, Session};
use crate::duration::PimDuration;
use crate::graph::{ME_ID, requests_path};
use crate::model::*;
use crate::policy::{Policy, validate};
use crate::token::{Resource, TokenRequest};
use crate::wire::{format_datetime, last_segment};
use crate::{Error, Result};

/// A role's write under way: while it lives, other writes to the role are refused; dropping
/// it (the write ended, failed or was cancelled) allows them again.
#[derive(Debug)]
pub(super) struct WriteGuard {
    inner: Arc<Inner>,
    key: String,
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        self.inner
            .writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key);
    }
}

impl Session {
    /// Starts a write to `role` (activate, extend, deactivate, cancel): one at a time per
    /// role, so a second click while one runs cannot send a second request. The returned
    /// guard ends it when dropped.
    pub(super) fn begin_write(&self, role: &Role) -> Result<WriteGuard> {
        let key = role.key();
        let fresh = self
            .inner
            .writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.clone());
        if !fresh {
            return Err(Error::InvalidState {
                message: format!(
                    "a change to {} is already in progress; wait for it to finish",
                    role.describe()
                ),
            });
        }
        Ok(WriteGuard {
            inner: self.inner.clone(),
            key,
        })
    }

    /// Sends a write with `claims` (`send`), and when the service demands a step-up and
    /// the host has a [`super::StepUpHook`], runs the hook and sends it once more with the
    /// service's claims. Whatever the second attempt answers is the answer.
    async fn with_step_up<T, F, Fut>(
        &self,
        role: &Role,
        claims: Option<String>,
        send: F,
    ) -> Result<T>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        with_hook(self.inner.step_up.as_ref(), role, claims, send).await
    }

    /// [`Session::activate`].
    pub(super) async fn activate_role(
        &self,
        role: &Role,
        req: ActivationRequest,
    ) -> Result<Outcome> {
        let _write = self.begin_write(role)?;
        let plan = self.check_activation_of(role, &req).await?;
        let claims = self.proactive_step_up(role, plan.policy.known()).await?;
        let outcome = self
            .activate_checked(role, &plan.request, plan.duration(), claims)
            .await?;
        Ok(self.settle(role, outcome).await)
    }

    /// [`Session::check_activation`]: the role's state, its policy and the request's end,
    /// checked with nothing sent.
    pub(super) async fn check_activation_of(
        &self,
        role: &Role,
        req: &ActivationRequest,
    ) -> Result<ActivationPlan> {
        if role.eligibility.is_none() {
            return Err(Error::InvalidState {
                message: format!(
                    "{} is not an eligibility you can activate (it is {})",
                    role.describe(),
                    if role.assignment.is_some() {
                        "assigned to you directly"
                    } else {
                        "not eligible"
                    }
                ),
            });
        }
        if let Some(a) = &role.assignment
            && a.is_activation()
        {
            return Err(Error::InvalidState {
                message: format!(
                    "{} is already active{}; use extend to get more time",
                    role.describe(),
                    a.end
                        .map(|e| format!(" until {}", format_datetime(e)))
                        .unwrap_or_default()
                ),
            });
        }
        if let Some(p) = role.pending.iter().find(|p| p.status.needs_decision()) {
            return Err(Error::InvalidState {
                message: format!(
                    "a request for {} is already waiting for approval (request {}); cancel it first",
                    role.describe(),
                    p.id
                ),
            });
        }
        let policy = self.policy(role).await;
        validate(&role.label(), policy.known(), req)?;
        let duration = req
            .duration
            .unwrap_or_else(|| default_duration(policy.known()));
        check_end(self.start_time(req), duration)?;
        Ok(ActivationPlan {
            role: role.clone(),
            request: ActivationRequest {
                duration: Some(duration),
                ..req.clone()
            },
            policy,
        })
    }

    /// Proactive step-up: when the role's known policy names an authentication context or
    /// MFA, obtains once a token carrying exactly those claims before the write is sent
    /// (silently when the sign-in already satisfies them; otherwise through the token source's
    /// interactive sign-in or the [`super::StepUpHook`]). Returns the claims the write must be
    /// sent with, or `None` (nothing required, or it could not be obtained ahead: the service's
    /// answer then drives the reactive step-up).
    pub(super) async fn proactive_step_up(
        &self,
        role: &Role,
        policy: Option<&Policy>,
    ) -> Result<Option<String>> {
        let Some(claims) = policy.and_then(policy_claims) else {
            return Ok(None);
        };
        let resource = resource_of(role);
        let http = &self.inner.graph.http;
        let req = TokenRequest {
            tenant_id: role.tenant_id.clone(),
            resource,
            scope: http.scope(resource),
            claims: Some(claims.clone()),
            force_refresh: false,
        };
        match http.tokens.access_token(&req).await {
            Ok(_) => Ok(Some(claims)),
            Err(Error::StepUpRequired { .. }) => match &self.inner.step_up {
                Some(h) => {
                    tracing::info!(role = %role.describe(), "policy asks for a step-up before activation");
                    h.step_up(&role.tenant_id, resource, &claims).await?;
                    Ok(Some(claims))
                }
                None => Ok(None),
            },
            Err(e) => {
                tracing::debug!(error = %e, "cannot obtain the step-up token ahead; sending without it");
                Ok(None)
            }
        }
    }

    /// A selfActivate, stepped up once when the service asks.
    async fn activate_checked(
        &self,
        role: &Role,
        req: &ActivationRequest,
        duration: PimDuration,
        claims: Option<String>,
    ) -> Result<Outcome> {
        self.with_step_up(role, claims, |claims| {
            self.send_activation(role, req, duration, Action::SelfActivate, claims)
        })
        .await
    }

    fn start_time(&self, req: &ActivationRequest) -> OffsetDateTime {
        req.start.unwrap_or_else(|| self.inner.time.server_now())
    }

    /// Sends a selfActivate/selfExtend with the given claims; reconciles uncertain outcomes.
    pub(super) async fn send_activation(
        &self,
        role: &Role,
        req: &ActivationRequest,
        duration: PimDuration,
        action: Action,
        claims: Option<String>,
    ) -> Result<Outcome> {
        let principal = self.principal_id(&role.tenant_id).await?;
        let start = self.start_time(req);
        let sent_at = self.inner.time.server_now();
        match role.kind {
            RoleKind::EntraRole | RoleKind::Group => {
                let (path, body) = crate::graph::request_body(
                    role,
                    &principal,
                    &action,
                    Some((start, duration)),
                    req,
                );
                let r = match self
                    .post_graph_activation(role, path, body, &action, claims, sent_at)
                    .await?
                {
                    Reconciled::Request(r) => *r,
                    Reconciled::Active(o) => return Ok(o),
                };
                // A 2xx without a usable body still means "accepted": settle() will look.
                let sr = graph_schedule_request(&r).unwrap_or_else(|| unknown_request(""));
                outcome_of(&sr, self.now(), start, duration)
            }
            RoleKind::AzureResource => {
                let name = uuid::Uuid::new_v4().to_string();
                let body = crate::arm::request_body(
                    role,
                    &principal,
                    &action,
                    Some((start, duration)),
                    req,
                );
                let r = self.arm_put(role, &name, body, claims).await?;
                let sr = arm_schedule_request(&r).unwrap_or_else(|| unknown_request(&name));
                outcome_of(&sr, self.now(), start, duration)
            }
        }
    }

    /// The signed-in user's object id in `tenant`: cached, else the access token's `oid`,
    /// else `GET /me`.
    async fn principal_id(&self, tenant: &str) -> Result<String> {
        if let Some(p) = self
            .caches()
            .principals
            .get(&tenant.to_ascii_lowercase())
            .cloned()
        {
            return Ok(p);
        }
        let http = &self.inner.graph.http;
        let tok = http
            .tokens
            .access_token(&TokenRequest {
                tenant_id: tenant.to_owned(),
                resource: Resource::Graph,
                scope: http.endpoints.graph_scope.clone(),
                claims: None,
                force_refresh: false,
            })
            .await?;
        let oid = jwt_claim(tok.token.expose(), "oid");
        let id = match oid {
            Some(o) => o,
            None => {
                let v = http
                    .get_json(tenant, Resource::Graph, &self.inner.graph.url(ME_ID))
                    .await?;
                v.get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        Error::InvalidResponse(
                            "cannot tell who is signed in (no id from /me)".into(),
                        )
                    })?
            }
        };
        self.caches()
            .principals
            .insert(tenant.to_ascii_lowercase(), id.clone());
        Ok(id)
    }

    /// [`Session::deactivate`].
    pub(super) async fn deactivate_role(&self, role: &Role) -> Result<Outcome> {
        let _write = self.begin_write(role)?;
        self.check_deactivatable(role)?;
        let outcome = self.deactivate_checked(role).await?;
        Ok(self.settle(role, outcome).await)
    }

    fn check_deactivatable(&self, role: &Role) -> Result<()> {
        let Some(a) = &role.assignment else {
            return Err(Error::InvalidState {
                message: format!("{} is not active; nothing to deactivate", role.describe()),
            });
        };
        if !a.is_activation() {
            return Err(Error::InvalidState {
                message: format!(
                    "{} is assigned to you by an administrator ({}), not activated; it cannot be deactivated here",
                    role.describe(),
                    a.end
                        .map(|e| format!("until {}", format_datetime(e)))
                        .unwrap_or_else(|| "permanent".into())
                ),
            });
        }
        if matches!(a.member_type, Some(MemberType::Group)) {
            return Err(Error::InvalidState {
                message: format!(
                    "{} is active through a group; deactivate the group membership instead",
                    role.describe()
                ),
            });
        }
        // PIM's five-minute guard, by the model's one rule (a start so late that five minutes
        // more leave the calendar: the service decides).
        let now = self.now();
        let earliest = role.deactivatable_at(now);
        if now < earliest {
            let wait = PimDuration::from_time(earliest - now);
            return Err(Error::TooEarly {
                message: format!(
                    "{} was activated less than 5 minutes ago; PIM allows deactivation from {} (in {wait})",
                    role.describe(),
                    format_datetime(earliest)
                ),
                retry_at: Some(earliest),
            });
        }
        Ok(())
    }

    /// A selfDeactivate, stepped up once when the service asks.
    async fn deactivate_checked(&self, role: &Role) -> Result<Outcome> {
        self.with_step_up(role, None, |claims| self.send_deactivation(role, claims))
            .await
    }

    async fn send_deactivation(&self, role: &Role, claims: Option<String>) -> Result<Outcome> {
        let principal = self.principal_id(&role.tenant_id).await?;
        let req = ActivationRequest::default();
        let action = Action::SelfDeactivate;
        match role.kind {
            RoleKind::EntraRole | RoleKind::Group => {
                let (path, body) =
                    crate::graph::request_body(role, &principal, &action, None, &req);
                let request_id = self
                    .post_graph_deactivation(role, path, body, claims)
                    .await?;
                Ok(Outcome::Deactivated { request_id })
            }
            RoleKind::AzureResource => {
                let name = uuid::Uuid::new_v4().to_string();
                let body = crate::arm::request_body(role, &principal, &action, None, &req);
                let r = self.arm_put(role, &name, body, claims).await?;
                Ok(Outcome::Deactivated {
                    request_id: r.name.into_option().unwrap_or(name),
                })
            }
        }
    }

    /// [`Session::extend`].
    pub(super) async fn extend_role(&self, role: &Role, req: ActivationRequest) -> Result<Outcome> {
        let _write = self.begin_write(role)?;
        let Some(a) = role.assignment.clone() else {
            return Err(Error::InvalidState {
                message: format!("{} is not active; activate it instead", role.describe()),
            });
        };
        let policy = self.policy(role).await;
        if a.is_activation() {
            let mut req = req;
            if (req.justification.is_none() || req.ticket.is_none())
                && let Some(prev) = self.last_activation(role).await
            {
                if req.justification.is_none() {
                    req.justification = prev.justification;
                }
                if req.ticket.is_none() {
                    req.ticket = prev.ticket;
                }
            }
            req.start = None;
            // One extend rule for every face: the length the activation ran, within the
            // policy, unless the caller names a duration.
            let duration = *req
                .duration
                .get_or_insert_with(|| role.extend_duration(policy.known()));
            validate(&role.label(), policy.known(), &req)?;
            self.check_deactivatable(role)?;
            check_end(self.start_time(&req), duration)?;
            // Step up before deactivating, so a declined step-up loses nothing.
            let claims = self.proactive_step_up(role, policy.known()).await?;
            self.deactivate_checked(role).await?;
            let mut last_err = None;
            for _ in 0..5 {
                match self
                    .activate_checked(role, &req, duration, claims.clone())
                    .await
                {
                    Ok(o) => return Ok(self.settle(role, o).await),
                    Err(e) if is_code(&e, "RoleAssignmentExists") => {
                        // The deactivation is still being processed.
                        last_err = Some(e);
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    Err(e) => {
                        let _ = self.refresh_tenant(&role.tenant_id).await;
                        return Err(reactivation_failed(role, e));
                    }
                }
            }
            let _ = self.refresh_tenant(&role.tenant_id).await;
            return Err(reactivation_failed(
                role,
                last_err.unwrap_or(Error::Uncertain {
                    detail: "re-activation did not go through".into(),
                }),
            ));
        }
        let now = self.now();
        match a.end {
            Some(end) if end - now <= time::Duration::days(14) => {}
            _ => {
                return Err(Error::InvalidState {
                    message: format!(
                        "{} is assigned {}; PIM lets you ask for an extension only within 14 days of its end",
                        role.describe(),
                        a.end
                            .map(|e| format!("until {}", format_datetime(e)))
                            .unwrap_or_else(|| "permanently".into())
                    ),
                });
            }
        }
        let duration = req
            .duration
            .unwrap_or_else(|| default_duration(policy.known()));
        // The extension's length is the administrator's to decide.
        crate::policy::validate_extension(
            &role.label(),
            policy.known(),
            &ActivationRequest {
                duration: Some(duration),
                ..req.clone()
            },
        )?;
        check_end(self.start_time(&req), duration)?;
        let claims = self.proactive_step_up(role, policy.known()).await?;
        let outcome = self
            .with_step_up(role, claims, |claims| {
                self.send_activation(role, &req, duration, Action::SelfExtend, claims)
            })
            .await?;
        Ok(self.settle(role, outcome).await)
    }

    /// The newest activation request for the role (for extend's justification/ticket, and
    /// what `again.rs` repeats); `None` when there is none or the list cannot be read.
    pub(super) async fn last_activation(&self, role: &Role) -> Option<ScheduleRequest> {
        match role.kind {
            RoleKind::EntraRole | RoleKind::Group => {
                let since = OffsetDateTime::UNIX_EPOCH;
                self.find_graph_request(
                    role,
                    requests_path(role.kind),
                    &Action::SelfActivate,
                    since + time::Duration::minutes(5),
                )
                .await
                .and_then(|q| graph_schedule_request(&q))
            }
            RoleKind::AzureResource => {
                let reqs = self
                    .inner
                    .arm
                    .requests_provider(&role.tenant_id)
                    .await
                    .ok()
                    .flatten()?;
                reqs.iter()
                    .filter(|q| {
                        q.properties.as_ref().is_some_and(|p| {
                            p.request_type == Some(Action::SelfActivate)
                                && p.role_definition_id.as_deref().is_some_and(|r| {
                                    last_segment(r) == last_segment(&role.role_definition_id)
                                })
                                && p.scope.as_deref().is_some_and(|s| {
                                    s.trim_end_matches('/')
                                        .eq_ignore_ascii_case(role.scope.id.trim_end_matches('/'))
                                })
                        })
                    })
                    .filter_map(arm_schedule_request)
                    .max_by_key(|r| r.created)
            }
        }
    }

    /// [`Session::cancel`].
    pub(super) async fn cancel_request(&self, role: &Role) -> Result<Outcome> {
        let _write = self.begin_write(role)?;
        let Some(req) = role
            .pending
            .iter()
            .find(|r| r.status.needs_decision())
            .or_else(|| role.pending.iter().find(|r| r.status.is_open()))
        else {
            return Err(Error::InvalidState {
                message: format!("{} has no pending request to cancel", role.describe()),
            });
        };
        let tid = role.tenant_id.as_str();
        match role.kind {
            RoleKind::EntraRole | RoleKind::Group => {
                self.inner
                    .graph
                    .cancel(tid, requests_path(role.kind), &req.id)
                    .await?
            }
            RoleKind::AzureResource => self.inner.arm.cancel(tid, &role.scope.id, &req.id).await?,
        }
        let _ = self.refresh_tenant(tid).await;
        Ok(Outcome::Canceled {
            request_id: req.id.clone(),
        })
    }
}

/// The API a role's writes go to.
pub(super) fn resource_of(role: &Role) -> Resource {
    match role.kind {
        RoleKind::EntraRole | RoleKind::Group => Resource::Graph,
        RoleKind::AzureResource => Resource::Arm,
    }
}

/// Sends a write with `claims` (`send`); when the service demands a step-up and there is a
/// `hook`, runs it and sends the write once more with the service's claims.
pub(super) async fn with_hook<T, F, Fut>(
    hook: Option<&Arc<dyn super::StepUpHook>>,
    role: &Role,
    claims: Option<String>,
    send: F,
) -> Result<T>
where
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    match (send(claims).await, hook) {
        (Err(Error::StepUpRequired { resource, claims }), Some(hook)) => {
            hook.step_up(&role.tenant_id, resource, &claims).await?;
            send(Some(claims)).await
        }
        (other, _) => other,
    }
}

/// The claims request a policy implies for activation: its authentication context
/// (`acrs`, only the one the policy names) and/or MFA (`amr`). `None` when it needs neither.
pub fn policy_claims(p: &Policy) -> Option<String> {
    let mut at = serde_json::Map::new();
    if let Some(c) = &p.authentication_context {
        at.insert("acrs".into(), json!({"essential": true, "value": c}));
    }
    if p.mfa_required {
        at.insert("amr".into(), json!({"values": ["mfa"]}));
    }
    (!at.is_empty()).then(|| json!({ "access_token": at }).to_string())
}

/// A request the service accepted without telling us about it.
fn unknown_request(id: &str) -> ScheduleRequest {
    ScheduleRequest {
        id: id.to_owned(),
        resource_id: None,
        action: None,
        status: RequestStatus::Unknown("accepted".into()),
        created: None,
        start: None,
        duration: None,
        end: None,
        justification: None,
        ticket: None,
        approval_id: None,
    }
}

fn reactivation_failed(role: &Role, e: Error) -> Error {
    match e {
        e if e.needs_user() => e,
        other => Error::InvalidState {
            message: format!(
                "{} was deactivated to extend it, but activating it again failed: {other}. Activate it again",
                role.describe()
            ),
        },
    }
}

/// A claim from a JWT payload (no validation; routing only).
pub(crate) fn jwt_claim(token: &str, claim: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get(claim).and_then(Value::as_str).map(str::to_owned)
}

/// Refuses, before anything is sent, a request whose end (start + duration) is past the last
/// date `time` can represent (year 9999): a far `--start`, or a duration built without
/// [`PimDuration::parse`] (which caps it at [`PimDuration::MAX`]).
fn check_end(start: OffsetDateTime, duration: PimDuration) -> Result<()> {
    match start.checked_add(duration.to_time()) {
        Some(_) => Ok(()),
        None => Err(Error::InvalidInput(format!(
            "an activation from {} lasting {duration} would end after the year 9999; choose an earlier start or a shorter duration",
            format_datetime(start)
        ))),
    }
}

/// What the service's answer to an activation means for the user.
fn outcome_of(
    sr: &ScheduleRequest,
    now: OffsetDateTime,
    start: OffsetDateTime,
    duration: PimDuration,
) -> Result<Outcome> {
    let request_id = sr.id.clone();
    let st = sr.start.unwrap_or(start);
    if sr.status.is_failure()
        || matches!(sr.status, RequestStatus::Canceled | RequestStatus::Revoked)
    {
        return Err(Error::InvalidState {
            message: format!(
                "the request ended with status {} (request {request_id})",
                sr.status
            ),
        });
    }
    if sr.status.needs_decision() {
        return Ok(Outcome::PendingApproval { request_id });
    }
    if st > now.saturating_add(time::Duration::seconds(60)) {
        return Ok(Outcome::Scheduled {
            start: Some(st),
            request_id,
        });
    }
    if matches!(
        sr.status,
        RequestStatus::Provisioned | RequestStatus::AdminApproved
    ) {
        return Ok(Outcome::Active {
            until: sr.end.or_else(|| st.checked_add(duration.to_time())),
            request_id,
        });
    }
    Ok(Outcome::Submitted {
        request_id,
        status: sr.status.to_string(),
    })
}

#[cfg(test)]
pub(super) mod tests {
    use time::macros::datetime;

    use super::super::SessionOptions;
    use super::super::rows::tests::sr;
    use super::*;
    use crate::testing::{activated, eligible, test_role};

    #[test]
    fn policy_claims_ask_only_what_the_policy_names() {
        let mut p = Policy::default();
        assert_eq!(policy_claims(&p), None);
        p.mfa_required = true;
        assert_eq!(policy_claims(&p).as_deref(), Some(crate::http::MFA_CLAIMS));
        p.mfa_required = false;
        p.authentication_context = Some("c7".into());
        assert_eq!(
            policy_claims(&p).as_deref(),
            Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c7"}}}"#)
        );
        p.mfa_required = true;
        let v: Value = serde_json::from_str(&policy_claims(&p).unwrap()).unwrap();
        assert_eq!(v["access_token"]["acrs"]["value"], "c7");
        assert_eq!(v["access_token"]["amr"]["values"][0], "mfa");
    }

    #[test]
    fn outcome_does_not_overflow_past_the_last_date() {
        let late = datetime!(9999-12-31 23:30 UTC);
        let mut req = sr("Provisioned", Some(late));
        let d = PimDuration::from_hours(1);
        // Starts within a minute of "now": active, with an end that cannot be computed.
        assert!(matches!(
            outcome_of(&req, late, late, d).unwrap(),
            Outcome::Active { until: None, .. }
        ));
        // "now + 60 s" past the last date.
        let last = datetime!(9999-12-31 23:59:59 UTC);
        req.start = Some(last);
        assert!(outcome_of(&req, last, last, d).is_ok());
    }

    #[derive(Debug)]
    struct NoTokens;

    #[async_trait::async_trait]
    impl crate::token::TokenSource for NoTokens {
        async fn access_token(&self, _req: &TokenRequest) -> Result<crate::token::AccessToken> {
            Err(Error::SignInRequired {
                reason: "tests send nothing".into(),
            })
        }
    }

    /// A session that must not reach the network (nothing listens on port 9).
    pub(crate) fn offline_session(now: OffsetDateTime) -> Session {
        let mut e = crate::config::Endpoints::for_cloud(crate::config::Cloud::Public);
        let nowhere = url::Url::parse("http://127.0.0.1:9").unwrap();
        e.authority_host = nowhere.clone();
        e.graph = nowhere.clone();
        e.arm = nowhere;
        let mut o = SessionOptions::new(e, Arc::new(NoTokens), "t");
        o.clock = Arc::new(crate::clock::ManualClock::new(now));
        o.retry.max_retries = 0;
        Session::new(o)
    }

    pub(crate) fn entra_role(state: RoleState) -> Role {
        Role {
            state,
            eligibility: Some(eligible()),
            policy: PolicyInfo::Known(Policy::default()),
            ..test_role("r", "Global Reader")
        }
    }

    #[test]
    fn deactivation_check_survives_a_start_at_the_last_date() {
        let s = offline_session(datetime!(2026-08-21 08:00 UTC));
        let mut role = entra_role(RoleState::Active);
        role.assignment = Some(activated(Some(datetime!(9999-12-31 23:58 UTC)), None));
        // The 5-minute rule cannot be computed; the service enforces it.
        assert!(s.check_deactivatable(&role).is_ok());
    }

    #[tokio::test]
    async fn activation_ending_after_the_last_date_is_invalid_input() {
        let s = offline_session(datetime!(2026-08-21 08:00 UTC));
        let role = entra_role(RoleState::Eligible);
        let req = ActivationRequest {
            duration: Some(PimDuration::from_hours(1)),
            start: Some(datetime!(9999-12-31 23:30 UTC)),
            ..Default::default()
        };
        let err = s.activate(&role, req).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        assert!(err.to_string().contains("9999"), "{err}");
    }

    #[test]
    fn jwt_claims_are_read_without_validation() {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"oid":"abc","tid":"t"}"#);
        assert_eq!(
            jwt_claim(&format!("e30.{payload}."), "oid").as_deref(),
            Some("abc")
        );
        assert_eq!(jwt_claim("garbage", "oid"), None);
    }

    #[test]
    fn outcomes_from_status() {
        let now = datetime!(2026-08-21 08:00 UTC);
        let mut sr = ScheduleRequest {
            id: "r1".into(),
            resource_id: None,
            action: Some(Action::SelfActivate),
            status: RequestStatus::Provisioned,
            created: None,
            start: Some(now),
            duration: Some(PimDuration::from_hours(1)),
            end: Some(now + time::Duration::hours(1)),
            justification: None,
            ticket: None,
            approval_id: None,
        };
        let d = PimDuration::from_hours(1);
        assert!(matches!(
            outcome_of(&sr, now, now, d).unwrap(),
            Outcome::Active { until: Some(_), .. }
        ));
        sr.status = RequestStatus::parse("PendingApproval");
        assert!(matches!(
            outcome_of(&sr, now, now, d).unwrap(),
            Outcome::PendingApproval { .. }
        ));
        sr.status = RequestStatus::Granted;
        sr.start = Some(now + time::Duration::hours(3));
        assert!(matches!(
            outcome_of(&sr, now, now, d).unwrap(),
            Outcome::Scheduled { .. }
        ));
        sr.status = RequestStatus::Denied;
        assert!(outcome_of(&sr, now, now, d).is_err());
    }
}
