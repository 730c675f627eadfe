//! PIM request processing shared by Graph (Entra roles, groups) and ARM: policy
//! enforcement, activation, deactivation, extension, cancel, approvals and the
//! passage of time.
//!
//! Invariant: the order of checks is principal → request shape → minimum duration →
//! policy rules (all failures reported together) → authentication context → duplicates.

use time::{Duration, OffsetDateTime};

use crate::clock::parse_duration;
use crate::service_errors::PimError;
use crate::state::{
    Action, Assignment, AssignmentType, ExpType, Expiration, Kind, Request, State, Target, Ticket,
    new_b64, new_guid,
};

/// Minimum activation length and deactivation guard.
pub const MIN_ACTIVE: Duration = Duration::minutes(5);
/// A start this far in the past still counts as "now".
pub const START_TOLERANCE: Duration = Duration::minutes(5);

/// The caller, from the access token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub oid: String,
    pub mfa: bool,
    pub acrs: Vec<String>,
}

/// A request as parsed from the wire.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub id: String,
    pub action: Action,
    pub principal: String,
    pub target: Target,
    pub justification: Option<String>,
    pub ticket: Option<Ticket>,
    pub start: Option<OffsetDateTime>,
    pub expiration: Option<Expiration>,
    pub is_validation_only: bool,
    pub custom_data: Option<String>,
    pub arm_scope: String,
    pub arm_body: Option<serde_json::Value>,
    pub linked_eligibility: Option<String>,
    pub target_schedule_id: Option<String>,
}

fn last_segment(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

fn nonempty(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|x| !x.trim().is_empty())
}

/// End of a schedule that starts at `start` with `exp`; `Err` when the shape is invalid.
pub fn end_of(
    start: OffsetDateTime,
    exp: &Option<Expiration>,
) -> Result<Option<OffsetDateTime>, PimError> {
    let Some(exp) = exp else { return Ok(None) };
    match exp.etype {
        ExpType::AfterDuration => {
            if exp.end.is_some() {
                return Err(PimError::invalid());
            }
            let d = exp
                .duration
                .as_deref()
                .and_then(parse_duration)
                .ok_or_else(PimError::invalid)?;
            start.checked_add(d).map(Some).ok_or_else(PimError::invalid)
        }
        ExpType::AfterDateTime => {
            if nonempty(&exp.duration) {
                return Err(PimError::invalid());
            }
            exp.end.map(Some).ok_or_else(PimError::invalid)
        }
        ExpType::NoExpiration | ExpType::NotSpecified => Ok(None),
    }
}

fn effective_start(
    now: OffsetDateTime,
    s: Option<OffsetDateTime>,
) -> Result<OffsetDateTime, PimError> {
    match s {
        None => Ok(now),
        Some(s) if s < now - START_TOLERANCE => Err(PimError::invalid()),
        Some(s) if s < now => Ok(now),
        Some(s) => Ok(s),
    }
}

/// Processes a self-service request. Returns the stored (or, for validation-only
/// requests, the would-be) request.
pub fn submit(
    st: &mut State,
    now: OffsetDateTime,
    caller: &Caller,
    r: NewRequest,
) -> Result<Request, PimError> {
    if !r.principal.eq_ignore_ascii_case(&caller.oid) {
        return Err(PimError::invalid());
    }
    match r.action {
        Action::SelfActivate => activate(st, now, caller, r),
        Action::SelfDeactivate => deactivate(st, now, r),
        Action::SelfExtend | Action::SelfRenew => extend(st, now, r),
        _ => Err(PimError {
            status: 403,
            code: "AuthorizationFailed".into(),
            message: "The signed-in user is not allowed to perform administrative requests (Privileged Role Administrator required).".into(),
        }),
    }
}

fn base_request(r: &NewRequest, now: OffsetDateTime, status: &str) -> Request {
    Request {
        id: r.id.clone(),
        target: r.target.clone(),
        principal: r.principal.clone(),
        action: r.action,
        status: status.into(),
        created: now,
        completed: None,
        approval_id: None,
        justification: r.justification.clone(),
        ticket: r.ticket.clone(),
        start: r.start,
        expiration: r.expiration.clone(),
        target_schedule_id: r.target_schedule_id.clone(),
        is_validation_only: r.is_validation_only,
        custom_data: r.custom_data.clone(),
        arm_scope: r.arm_scope.clone(),
        arm_body: r.arm_body.clone(),
        linked_eligibility: r.linked_eligibility.clone(),
        extends: None,
    }
}

fn activate(
    st: &mut State,
    now: OffsetDateTime,
    caller: &Caller,
    r: NewRequest,
) -> Result<Request, PimError> {
    let start = effective_start(now, r.start)?;
    let end = end_of(start, &r.expiration)?;
    if let Some(e) = end
        && e - start < MIN_ACTIVE
    {
        return Err(PimError::too_short());
    }
    let policy = st.policy_for(&r.target);
    let mut failed = Vec::new();
    let elig = st.eligibilities.iter().find(|e| {
        e.target.same(&r.target)
            && e.principal.eq_ignore_ascii_case(&r.principal)
            && e.start <= start.max(now)
            && e.end.is_none_or(|x| start < x)
            && r.linked_eligibility.as_deref().is_none_or(|l| {
                last_segment(l).eq_ignore_ascii_case(last_segment(&e.schedule_id))
                    || l.eq_ignore_ascii_case(&e.instance_id)
            })
    });
    let elig_id = elig.map(|e| e.schedule_id.clone());
    if elig.is_none() {
        failed.push("EligibilityRule");
    }
    match end {
        None if policy.expiration_required => failed.push("ExpirationRule"),
        Some(e) if e - start > policy.max => failed.push("ExpirationRule"),
        _ => {}
    }
    if policy.justification && !nonempty(&r.justification) {
        failed.push("JustificationRule");
    }
    if policy.ticketing && !r.ticket.as_ref().is_some_and(|t| nonempty(&t.number)) {
        failed.push("TicketingRule");
    }
    if policy.mfa && !caller.mfa {
        failed.push("MfaRule");
    }
    if !failed.is_empty() {
        return Err(PimError::rules(&failed));
    }
    if let Some(c) = &policy.auth_context
        && !caller.acrs.iter().any(|a| a == c)
    {
        return Err(PimError::acrs(c));
    }
    if st.assignments.iter().any(|a| {
        a.target.same(&r.target)
            && a.principal.eq_ignore_ascii_case(&r.principal)
            && a.scheduled(now)
    }) {
        return Err(PimError::exists());
    }
    if st.requests.iter().any(|q| {
        q.target.same(&r.target)
            && q.principal.eq_ignore_ascii_case(&r.principal)
            && q.action == Action::SelfActivate
            && q.status == "PendingApproval"
    }) {
        return Err(PimError::bad(
            "PendingRoleAssignmentRequest",
            "There is already an existing pending Role assignment request.",
        ));
    }
    let mut req = base_request(&r, now, "Provisioned");
    if r.start.is_none() || r.start.is_some_and(|s| s < now) {
        req.start = Some(start);
    }
    if policy.approval {
        req.status = "PendingApproval".into();
        req.approval_id = Some(match r.target.kind {
            Kind::AzureResource => format!(
                "/providers/Microsoft.Authorization/roleAssignmentApprovals/{}",
                new_guid()
            ),
            _ => new_guid(),
        });
    } else if start > now {
        req.status = "Granted".into();
    }
    if r.is_validation_only {
        return Ok(req);
    }
    if !policy.approval {
        let Some(end) = end else {
            // noExpiration allowed only when the policy does not require expiration
            return provision(st, now, req, start, None, elig_id);
        };
        return provision(st, now, req, start, Some(end), elig_id);
    }
    st.requests.push(req.clone());
    Ok(req)
}

fn provision(
    st: &mut State,
    now: OffsetDateTime,
    mut req: Request,
    start: OffsetDateTime,
    end: Option<OffsetDateTime>,
    elig: Option<String>,
) -> Result<Request, PimError> {
    let a = new_activation(&req, start, end, elig);
    req.target_schedule_id = Some(a.schedule_id.clone());
    req.completed = (start <= now).then_some(now);
    st.assignments.push(a);
    st.requests.push(req.clone());
    Ok(req)
}

fn new_activation(
    req: &Request,
    start: OffsetDateTime,
    end: Option<OffsetDateTime>,
    elig: Option<String>,
) -> Assignment {
    let (schedule_id, instance_id, origin_id) = match req.target.kind {
        Kind::EntraRole => {
            let b = new_b64();
            (req.id.clone(), format!("{b}-1"), format!("{b}-1-e"))
        }
        Kind::Group => {
            let id = format!("{}_{}_{}", req.target.scope, req.target.role, req.id);
            (id.clone(), id.clone(), id)
        }
        Kind::AzureResource => {
            let inst = new_guid();
            (new_guid(), inst.clone(), inst)
        }
    };
    Assignment {
        schedule_id,
        instance_id,
        origin_id,
        principal: req.principal.clone(),
        target: req.target.clone(),
        start,
        end,
        atype: AssignmentType::Activated,
        created: req.created,
        request_id: Some(req.id.clone()),
        eligibility: elig,
        expiration: req.expiration.clone().unwrap_or(Expiration {
            etype: ExpType::NoExpiration,
            duration: None,
            end: None,
        }),
        removed: false,
    }
}

fn deactivate(st: &mut State, now: OffsetDateTime, r: NewRequest) -> Result<Request, PimError> {
    let idx = st
        .assignments
        .iter()
        .position(|a| {
            a.atype == AssignmentType::Activated
                && a.target.same(&r.target)
                && a.principal.eq_ignore_ascii_case(&r.principal)
                && a.scheduled(now)
        })
        .ok_or_else(PimError::not_exists)?;
    let a = &st.assignments[idx];
    if a.start <= now && now - a.start < MIN_ACTIVE {
        return Err(PimError::too_short());
    }
    let mut req = base_request(&r, now, &st.config.deactivate_status.clone());
    req.target_schedule_id = Some(st.assignments[idx].schedule_id.clone());
    req.completed = Some(now);
    req.start = Some(now);
    if r.is_validation_only {
        return Ok(req);
    }
    st.assignments[idx].removed = true;
    st.requests.push(req.clone());
    Ok(req)
}

fn extend(st: &mut State, now: OffsetDateTime, r: NewRequest) -> Result<Request, PimError> {
    let renew = r.action == Action::SelfRenew;
    let idx = st
        .assignments
        .iter()
        .position(|a| {
            a.target.same(&r.target)
                && a.principal.eq_ignore_ascii_case(&r.principal)
                && !a.removed
                && if renew {
                    a.atype == AssignmentType::Assigned
                        && a.end
                            .is_some_and(|e| e <= now && now - e <= Duration::days(30))
                } else {
                    a.scheduled(now)
                }
        })
        .ok_or_else(PimError::not_exists)?;
    let a = st.assignments[idx].clone();
    let start = r.start.unwrap_or(now);
    let new_end = end_of(start, &r.expiration)?;
    let mut req = base_request(&r, now, "PendingAdminDecision");
    req.start = Some(start);
    req.target_schedule_id = Some(a.schedule_id.clone());
    req.extends = Some(a.schedule_id.clone());
    match a.atype {
        AssignmentType::Activated => {
            if st.config.self_extend_on_activation != "accept" || renew {
                return Err(PimError::invalid());
            }
            let Some(new_end) = new_end else {
                return Err(PimError::rules(&["ExpirationRule"]));
            };
            let policy = st.policy_for(&r.target);
            let mut failed = Vec::new();
            if new_end - start > policy.max {
                failed.push("ExpirationRule");
            }
            if policy.justification && !nonempty(&r.justification) {
                failed.push("JustificationRule");
            }
            if !failed.is_empty() {
                return Err(PimError::rules(&failed));
            }
            req.status = "Provisioned".into();
            req.completed = Some(now);
            if !r.is_validation_only {
                st.assignments[idx].end = Some(new_end);
                st.requests.push(req.clone());
            }
            Ok(req)
        }
        AssignmentType::Assigned => {
            if a.end.is_none() || new_end.is_none() {
                return Err(PimError::invalid());
            }
            if !renew && a.end.is_some_and(|e| e - now > Duration::days(14)) {
                return Err(PimError::bad(
                    "RoleAssignmentRequestPolicyValidationFailed",
                    "The following policy rules failed: [\"ExtensionRule\"]",
                ));
            }
            req.approval_id = Some(new_guid());
            if !r.is_validation_only {
                st.requests.push(req.clone());
            }
            Ok(req)
        }
    }
}

/// Whether a status can be cancelled.
fn cancellable(st: &State, q: &Request, now: OffsetDateTime) -> bool {
    match q.status.as_str() {
        "PendingApproval"
        | "PendingAdminDecision"
        | "PendingProvisioning"
        | "PendingScheduleCreation" => true,
        "Granted" => st
            .assignments
            .iter()
            .any(|a| a.request_id.as_deref() == Some(&q.id) && !a.removed && a.start > now),
        _ => false,
    }
}

/// Cancels a request of the caller; 404 when unknown, 400 when not cancellable.
pub fn cancel(
    st: &mut State,
    now: OffsetDateTime,
    principal: &str,
    kind: Kind,
    id: &str,
) -> Result<Request, PimError> {
    let idx = st
        .requests
        .iter()
        .position(|q| {
            q.target.kind == kind
                && q.id.eq_ignore_ascii_case(id)
                && q.principal.eq_ignore_ascii_case(principal)
        })
        .ok_or_else(|| PimError {
            status: 404,
            code: "RoleAssignmentRequestNotFound".into(),
            message: format!("The role assignment request '{id}' was not found."),
        })?;
    if !cancellable(st, &st.requests[idx], now) {
        return Err(PimError::invalid());
    }
    let rid = st.requests[idx].id.clone();
    for a in st.assignments.iter_mut() {
        if a.request_id.as_deref() == Some(rid.as_str()) && a.start > now {
            a.removed = true;
        }
    }
    let q = &mut st.requests[idx];
    q.status = "Canceled".into();
    q.completed = Some(now);
    Ok(q.clone())
}

/// Approves or denies a pending request (test hook).
pub fn decide(
    st: &mut State,
    now: OffsetDateTime,
    id: &str,
    approve: bool,
) -> crate::Result<Request> {
    let idx = st
        .requests
        .iter()
        .position(|q| {
            q.id.eq_ignore_ascii_case(id)
                || q.approval_id.as_deref().is_some_and(|a| {
                    a.eq_ignore_ascii_case(id) || last_segment(a).eq_ignore_ascii_case(id)
                })
        })
        .ok_or_else(|| crate::Error::NotFound(format!("request {id}")))?;
    let q = st.requests[idx].clone();
    if q.status != "PendingApproval" && q.status != "PendingAdminDecision" {
        return Err(crate::Error::Invalid(format!(
            "request {id} is {} (not pending)",
            q.status
        )));
    }
    if !approve {
        let q = &mut st.requests[idx];
        q.status = "Denied".into();
        q.completed = Some(now);
        return Ok(q.clone());
    }
    if q.status == "PendingAdminDecision" {
        let start = q.start.unwrap_or(now);
        let end = end_of(start, &q.expiration).ok().flatten();
        if let Some(sid) = &q.extends
            && let Some(a) = st.assignments.iter_mut().find(|a| &a.schedule_id == sid)
        {
            a.end = end;
            a.removed = false;
        }
        let q = &mut st.requests[idx];
        q.status = "Provisioned".into();
        q.completed = Some(now);
        return Ok(q.clone());
    }
    Ok(grant(st, now, idx))
}

/// Provisions the approved activation request number `idx`: its assignment starts at
/// the requested start (or now, if that has passed); the request becomes `Provisioned`
/// (`Granted` for a later start), or `Failed` when the role is active already or too
/// little time is left.
pub(crate) fn grant(st: &mut State, now: OffsetDateTime, idx: usize) -> Request {
    let q = st.requests[idx].clone();
    let start = q.start.unwrap_or(now).max(now);
    let end = match &q.expiration {
        Some(Expiration {
            etype: ExpType::AfterDateTime,
            end,
            ..
        }) => *end,
        e => end_of(start, e).ok().flatten(),
    };
    let exists = st.assignments.iter().any(|a| {
        a.target.same(&q.target)
            && a.principal.eq_ignore_ascii_case(&q.principal)
            && a.scheduled(now)
    });
    if exists || end.is_some_and(|e| e - start < MIN_ACTIVE) {
        let q = &mut st.requests[idx];
        q.status = "Failed".into();
        q.completed = Some(now);
        return q.clone();
    }
    let elig = st
        .eligibilities
        .iter()
        .find(|e| e.target.same(&q.target) && e.principal.eq_ignore_ascii_case(&q.principal))
        .map(|e| e.schedule_id.clone());
    let a = new_activation(&q, start, end, elig);
    let q = &mut st.requests[idx];
    q.target_schedule_id = Some(a.schedule_id.clone());
    q.status = if start <= now {
        "Provisioned"
    } else {
        "Granted"
    }
    .into();
    q.completed = (start <= now).then_some(now);
    let out = q.clone();
    st.assignments.push(a);
    out
}

/// Applies the passage of time: scheduled activations that have started flip their
/// request from `Granted` to `Provisioned`. (Expiry needs no action: rows are filtered
/// by their end time when read.)
pub fn tick(st: &mut State, now: OffsetDateTime) {
    let started: Vec<(String, OffsetDateTime)> = st
        .assignments
        .iter()
        .filter(|a| !a.removed && a.start <= now)
        .filter_map(|a| a.request_id.clone().map(|r| (r, a.start)))
        .collect();
    for q in st.requests.iter_mut().filter(|q| q.status == "Granted") {
        if let Some((_, s)) = started.iter().find(|(r, _)| *r == q.id) {
            q.status = "Provisioned".into();
            q.completed = Some(*s);
        }
    }
    crate::approvals::expire(st, now);
}

/// End of the request's requested schedule (for display).
pub fn requested_end(q: &Request) -> Option<OffsetDateTime> {
    q.start
        .and_then(|s| end_of(s, &q.expiration).ok().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn exp(
        etype: ExpType,
        duration: Option<&str>,
        end: Option<OffsetDateTime>,
    ) -> Option<Expiration> {
        Some(Expiration {
            etype,
            duration: duration.map(str::to_owned),
            end,
        })
    }

    #[test]
    fn schedule_ends() {
        let s = datetime!(2026-08-21 08:00 UTC);
        assert_eq!(end_of(s, &None), Ok(None));
        assert_eq!(
            end_of(s, &exp(ExpType::AfterDuration, Some("PT8H"), None)),
            Ok(Some(datetime!(2026-08-21 16:00 UTC)))
        );
        assert_eq!(
            end_of(
                s,
                &exp(
                    ExpType::AfterDateTime,
                    None,
                    Some(datetime!(2026-08-21 09:00 UTC))
                )
            ),
            Ok(Some(datetime!(2026-08-21 09:00 UTC)))
        );
        assert_eq!(end_of(s, &exp(ExpType::NoExpiration, None, None)), Ok(None));
        assert!(end_of(s, &exp(ExpType::AfterDuration, None, None)).is_err());
        assert!(end_of(s, &exp(ExpType::AfterDuration, Some("soon"), None)).is_err());
        assert!(
            end_of(s, &exp(ExpType::AfterDuration, Some("PT1H"), Some(s))).is_err(),
            "duration and endDateTime together"
        );
        let far = datetime!(9999-12-31 23:00 UTC);
        assert!(
            end_of(far, &exp(ExpType::AfterDuration, Some("PT8H"), None)).is_err(),
            "no overflow panic"
        );
    }

    #[test]
    fn start_tolerance() {
        let now = datetime!(2026-08-21 08:00 UTC);
        assert_eq!(effective_start(now, None), Ok(now));
        assert_eq!(
            effective_start(now, Some(now - Duration::minutes(4))),
            Ok(now)
        );
        assert!(effective_start(now, Some(now - Duration::minutes(6))).is_err());
        let later = now + Duration::hours(1);
        assert_eq!(effective_start(now, Some(later)), Ok(later));
    }
}
