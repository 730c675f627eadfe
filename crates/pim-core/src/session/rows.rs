//! Pure row building: Graph and ARM wire items become the model's [`Role`]s, one per role
//! (eligibility and assignment merged), with the open requests attached. No I/O: the
//! loaders (`load.rs`) read, these functions build; each is tested on its own.

use std::collections::HashMap;

use serde_json::Value;
use time::OffsetDateTime;

use crate::duration::PimDuration;
use crate::model::*;
use crate::policy::Policy;
use crate::wire::{
    ArmInstanceProps, ArmRequestProps, ArmResource, GraphGroupInstance, GraphPolicyAssignment,
    GraphRequest, GraphRoleInstance, ScheduleInfo, last_segment, parse_items,
};

/// A Graph schedule instance (an Entra role's or a group's): what its row's eligibility or
/// assignment is made of.
pub(crate) trait GraphInstance {
    /// The eligibility this instance is, when it comes from an eligibility list.
    fn eligibility(&self) -> EligibleRole;
    /// The assignment this instance is, when it comes from an active list.
    fn assignment(&self) -> ActiveAssignment;
    /// When it ends (`None`: permanent).
    fn end(&self) -> Option<OffsetDateTime>;
}

impl GraphInstance for GraphRoleInstance {
    fn eligibility(&self) -> EligibleRole {
        EligibleRole {
            instance_id: self.id.get(),
            schedule_id: self.role_eligibility_schedule_id.get(),
            start: self.start_date_time.get(),
            end: self.end_date_time.get(),
            member_type: self.member_type.clone(),
        }
    }
    fn assignment(&self) -> ActiveAssignment {
        ActiveAssignment {
            instance_id: self.id.get(),
            schedule_id: self.role_assignment_schedule_id.get(),
            assignment_type: self.assignment_type.clone(),
            member_type: self.member_type.clone(),
            start: self.start_date_time.get(),
            end: self.end_date_time.get(),
            linked_eligibility_schedule_id: None,
        }
    }
    fn end(&self) -> Option<OffsetDateTime> {
        self.end_date_time.get()
    }
}

impl GraphInstance for GraphGroupInstance {
    fn eligibility(&self) -> EligibleRole {
        EligibleRole {
            instance_id: self.id.get(),
            schedule_id: self.eligibility_schedule_id.get(),
            start: self.start_date_time.get(),
            end: self.end_date_time.get(),
            member_type: self.member_type.clone(),
        }
    }
    fn assignment(&self) -> ActiveAssignment {
        ActiveAssignment {
            instance_id: self.id.get(),
            schedule_id: self.assignment_schedule_id.get(),
            assignment_type: self.assignment_type.clone(),
            member_type: self.member_type.clone(),
            start: self.start_date_time.get(),
            end: self.end_date_time.get(),
            linked_eligibility_schedule_id: None,
        }
    }
    fn end(&self) -> Option<OffsetDateTime> {
        self.end_date_time.get()
    }
}

/// Adds the rows of Graph eligibility and active instances (Entra roles or groups: the one
/// loop for both) to `rows`: `row` makes an instance's bare row (`None` skips it); an
/// active instance that ended by `now` is left out; an instance of a role already in
/// `rows` is merged into its row ([`upsert`], [`merge_assignment`]).
pub(crate) fn add_graph_instances<I: GraphInstance>(
    rows: &mut Vec<Role>,
    eligible: &[I],
    active: &[I],
    now: OffsetDateTime,
    row: impl Fn(&I) -> Option<Role>,
) {
    for i in eligible {
        let Some(mut r) = row(i) else { continue };
        r.eligibility = Some(i.eligibility());
        upsert(rows, r, |_, _| {});
    }
    for i in active {
        if i.end().is_some_and(|e| e <= now) {
            continue;
        }
        let Some(mut r) = row(i) else { continue };
        let a = i.assignment();
        r.assignment = Some(a.clone());
        upsert(rows, r, move |existing, _| merge_assignment(existing, a));
    }
}

/// Attaches my open Graph activation requests ([`is_open_activation`]) of `kind` (Entra
/// roles or groups) to their rows; requests for roles not in `rows` are dropped.
pub(crate) fn add_graph_requests(
    rows: &mut [Role],
    kind: RoleKind,
    tid: &str,
    requests: &[GraphRequest],
    now: OffsetDateTime,
) {
    for q in requests {
        let Some(sr) = graph_schedule_request(q) else {
            continue;
        };
        if !is_open_activation(&sr, now) {
            continue;
        }
        match kind {
            RoleKind::Group => {
                let (Some(gid), Some(acc)) = (q.group_id.as_deref(), q.access_id.as_ref()) else {
                    continue;
                };
                attach_request(rows, kind, tid, acc.as_str(), gid, Some(acc), sr);
            }
            _ => {
                let Some(rid) = q.role_definition_id.as_deref() else {
                    continue;
                };
                attach_request(rows, kind, tid, rid, &graph_request_scope(q), None, sr);
            }
        }
    }
}

/// An Entra role request's scope: its app scope, else its directory scope, else `/`.
pub(crate) fn graph_request_scope(q: &GraphRequest) -> String {
    q.app_scope_id
        .get()
        .or(q.directory_scope_id.get().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "/".into())
}

/// The Entra role policies of the refresh batch's policy assignments (`items`): role
/// definition id (lower case) → policy, for the assignments whose rules came expanded
/// (`expanded`: the batch item's first URL worked); the others' policy ids, as
/// (role definition id lower case, policy id), to read the rules by later.
pub(crate) fn entra_policies(
    items: Vec<Value>,
    expanded: bool,
) -> (HashMap<String, PolicyInfo>, Vec<(String, String)>) {
    let mut known = HashMap::new();
    let mut ids = Vec::new();
    for pa in parse_items::<GraphPolicyAssignment>("policy assignments", items) {
        let Some(rid) = pa.role_definition_id.get() else {
            continue;
        };
        let rules = pa.policy.as_ref().and_then(|p| p.rules.clone());
        let pid = pa
            .policy_id
            .get()
            .or_else(|| pa.policy.as_ref().and_then(|p| p.id.get()));
        match rules {
            Some(rules) if expanded => {
                let mut p = Policy::from_rules(&rules);
                p.policy_id = pid;
                known.insert(rid.to_ascii_lowercase(), PolicyInfo::Known(p));
            }
            _ => {
                if let Some(pid) = pid {
                    ids.push((rid.to_ascii_lowercase(), pid));
                }
            }
        }
    }
    (known, ids)
}

/// An Entra role instance's bare row (no eligibility, assignment or requests yet) for role
/// definition `rid`; names not expanded in the payload are the ids for now.
pub(crate) fn entra_row(tid: &str, i: &GraphRoleInstance, rid: &str) -> Role {
    let scope_id = i
        .app_scope_id
        .get()
        .filter(|s| !s.is_empty())
        .or(i.directory_scope_id.get().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "/".into());
    let kind = if scope_id == "/" {
        ScopeKind::Directory
    } else if scope_id
        .to_ascii_lowercase()
        .starts_with("/administrativeunits/")
    {
        ScopeKind::AdministrativeUnit
    } else {
        ScopeKind::DirectoryObject
    };
    let display = match kind {
        ScopeKind::Directory => "Directory".to_owned(),
        _ => i
            .directory_scope
            .as_ref()
            .or(i.app_scope.as_ref())
            .and_then(|s| s.display_name.get())
            .unwrap_or_else(|| scope_id.clone()),
    };
    Role {
        kind: RoleKind::EntraRole,
        tenant_id: tid.to_owned(),
        tenant_name: String::new(),
        name: i
            .role_definition
            .as_ref()
            .and_then(|d| d.display_name.get())
            .unwrap_or_else(|| rid.to_owned()),
        role_definition_id: rid.to_owned(),
        scope: Scope {
            id: scope_id.clone(),
            display_name: display,
            kind,
        },
        app_scope_id: i.app_scope_id.get().filter(|s| !s.is_empty()),
        access: None,
        state: RoleState::Eligible,
        eligibility: None,
        assignment: None,
        pending: Vec::new(),
        policy: PolicyInfo::NotLoaded,
    }
}

/// A group instance's bare row; `None` without a group id. The name is the payload's, else
/// the one in `names` ((tenant lower, group id lower) → name), else the group id.
pub(crate) fn group_row(
    tid: &str,
    i: &GraphGroupInstance,
    names: &HashMap<(String, String), String>,
) -> Option<Role> {
    let gid = i.group_id.get()?;
    let access = i.access_id.clone().unwrap_or(AccessId::Member);
    let name = i
        .group
        .as_ref()
        .and_then(|g| g.display_name.get())
        .or_else(|| {
            names
                .get(&(tid.to_ascii_lowercase(), gid.to_ascii_lowercase()))
                .cloned()
        })
        .unwrap_or_else(|| gid.clone());
    Some(Role {
        kind: RoleKind::Group,
        tenant_id: tid.to_owned(),
        tenant_name: String::new(),
        name: name.clone(),
        role_definition_id: access.as_str().to_owned(),
        scope: Scope {
            id: gid,
            display_name: name,
            kind: ScopeKind::Group,
        },
        app_scope_id: None,
        access: Some(access),
        state: RoleState::Eligible,
        eligibility: None,
        assignment: None,
        pending: Vec::new(),
        policy: PolicyInfo::NotLoaded,
    })
}

/// An ARM instance's bare row; `None` without a role definition id. Names not expanded in
/// the payload are the role definition's last segment and the scope id for now.
pub(crate) fn arm_row(tid: &str, p: &ArmInstanceProps) -> Option<Role> {
    let rid = p.role_definition_id.get()?;
    let scope = p.scope.get().unwrap_or_else(|| "/".into());
    let exp = p.expanded_properties.as_ref();
    let name = exp
        .and_then(|e| e.role_definition.as_ref())
        .and_then(|d| d.display_name.get())
        .unwrap_or_else(|| last_segment(&rid));
    let sdisplay = exp
        .and_then(|e| e.scope.as_ref())
        .and_then(|d| d.display_name.get())
        .unwrap_or_else(|| scope.clone());
    Some(Role {
        kind: RoleKind::AzureResource,
        tenant_id: tid.to_owned(),
        tenant_name: String::new(),
        name,
        role_definition_id: rid,
        scope: Scope {
            kind: Scope::arm_kind(&scope),
            id: scope,
            display_name: sdisplay,
        },
        app_scope_id: None,
        access: None,
        state: RoleState::Eligible,
        eligibility: None,
        assignment: None,
        pending: Vec::new(),
        policy: PolicyInfo::NotLoaded,
    })
}

/// The rows of ARM eligibility and active instances, and the scopes of the eligibilities
/// (where requests are listed when the provider-level listing is refused). An active
/// instance joins the eligibility it links to (by the schedule id's last segment), else the
/// row with its key; one that ended by `now` is left out.
pub(crate) fn arm_rows(
    tid: &str,
    eligible: &[ArmResource<ArmInstanceProps>],
    active: &[ArmResource<ArmInstanceProps>],
    now: OffsetDateTime,
) -> (Vec<Role>, Vec<String>) {
    let mut rows: Vec<Role> = Vec::new();
    let mut scopes: Vec<String> = Vec::new();
    for e in eligible {
        let Some(p) = &e.properties else { continue };
        let Some(mut r) = arm_row(tid, p) else {
            continue;
        };
        if !scopes.iter().any(|s| s.eq_ignore_ascii_case(&r.scope.id)) {
            scopes.push(r.scope.id.clone());
        }
        r.eligibility = Some(EligibleRole {
            instance_id: e.name.get().or(e.id.get()),
            schedule_id: p.role_eligibility_schedule_id.get(),
            start: p.start_date_time.get(),
            end: p.end_date_time.get(),
            member_type: p.member_type.clone(),
        });
        upsert(&mut rows, r, |_, _| {});
    }
    for a in active {
        let Some(p) = &a.properties else { continue };
        if p.end_date_time.is_some_and(|e| e <= now) {
            continue;
        }
        let Some(mut r) = arm_row(tid, p) else {
            continue;
        };
        let linked = p
            .linked_role_eligibility_schedule_id
            .as_deref()
            .map(last_segment);
        let asg = ActiveAssignment {
            instance_id: a.name.get().or(a.id.get()),
            schedule_id: p.role_assignment_schedule_id.get(),
            assignment_type: p.assignment_type.clone(),
            member_type: p.member_type.clone(),
            start: p.start_date_time.get(),
            end: p.end_date_time.get(),
            linked_eligibility_schedule_id: linked.clone(),
        };
        // Match by linked eligibility schedule (last segment) first, then by key.
        if let Some(l) = &linked
            && let Some(row) = rows.iter_mut().find(|x| {
                x.eligibility
                    .as_ref()
                    .and_then(|e| e.schedule_id.as_deref())
                    .is_some_and(|s| last_segment(s) == *l)
            })
        {
            merge_assignment(row, asg);
            continue;
        }
        r.assignment = Some(asg.clone());
        upsert(&mut rows, r, move |existing, _| {
            merge_assignment(existing, asg)
        });
    }
    (rows, scopes)
}

/// Attaches my open ARM activation requests ([`is_open_activation`]) to their rows.
pub(crate) fn add_arm_requests(
    rows: &mut [Role],
    tid: &str,
    requests: &[ArmResource<ArmRequestProps>],
    now: OffsetDateTime,
) {
    for q in requests {
        let Some(p) = &q.properties else { continue };
        let Some(sr) = arm_schedule_request(q) else {
            continue;
        };
        if !is_open_activation(&sr, now) {
            continue;
        }
        let (Some(rid), Some(scope)) = (p.role_definition_id.as_deref(), p.scope.as_deref()) else {
            continue;
        };
        attach_request(rows, RoleKind::AzureResource, tid, rid, scope, None, sr);
    }
}

/// A tenant's rows made ready to show: the tenant's name, a policy the session learnt
/// earlier (`policies`, by role key) where the row has none known, the state at `now`; in
/// order of kind, name and scope name.
pub(crate) fn finish_rows(
    rows: &mut [Role],
    tenant_name: &str,
    policies: &HashMap<String, PolicyInfo>,
    now: OffsetDateTime,
) {
    for r in rows.iter_mut() {
        r.tenant_name = tenant_name.to_owned();
        if let Some(p) = policies.get(&r.key())
            && !matches!(r.policy, PolicyInfo::Known(_))
        {
            r.policy = p.clone();
        }
        r.recompute_state(now);
    }
    rows.sort_by(|a, b| {
        (
            a.kind,
            a.name.to_lowercase(),
            a.scope.display_name.to_lowercase(),
        )
            .cmp(&(
                b.kind,
                b.name.to_lowercase(),
                b.scope.display_name.to_lowercase(),
            ))
    });
}

/// Inserts `r`, or merges into the row with the same key.
pub(crate) fn upsert(rows: &mut Vec<Role>, r: Role, merge: impl FnOnce(&mut Role, &Role)) {
    let k = r.key();
    if let Some(existing) = rows.iter_mut().find(|x| x.key() == k) {
        merge(existing, &r);
        if existing.eligibility.is_none() {
            existing.eligibility = r.eligibility;
        }
        if matches!(existing.policy, PolicyInfo::NotLoaded) {
            existing.policy = r.policy;
        }
    } else {
        rows.push(r);
    }
}

/// Keeps the most useful assignment: an activation over an admin assignment, else the later end.
pub(crate) fn merge_assignment(row: &mut Role, a: ActiveAssignment) {
    let better = match &row.assignment {
        None => true,
        Some(old) => {
            (a.is_activation() && !old.is_activation())
                || (a.is_activation() == old.is_activation()
                    && a.end.is_none_or(|e| old.end.is_some_and(|o| e > o)))
        }
    };
    if better {
        row.assignment = Some(a);
    }
}

/// Adds `sr` to the pending requests of the row of `kind` in tenant `tid` for role
/// definition `rid` (compared by last segment) at `scope` (and `access`, for groups), once.
pub(crate) fn attach_request(
    rows: &mut [Role],
    kind: RoleKind,
    tid: &str,
    rid: &str,
    scope: &str,
    access: Option<&AccessId>,
    sr: ScheduleRequest,
) {
    let rid_l = last_segment(rid);
    let scope_l = scope.trim_end_matches('/').to_ascii_lowercase();
    let hit = rows.iter_mut().find(|r| {
        r.kind == kind
            && r.tenant_id.eq_ignore_ascii_case(tid)
            && last_segment(&r.role_definition_id) == rid_l
            && r.app_scope_id
                .as_deref()
                .unwrap_or(&r.scope.id)
                .trim_end_matches('/')
                .to_ascii_lowercase()
                == scope_l
            && (access.is_none() || r.access.as_ref() == access)
    });
    if let Some(r) = hit
        && !r.pending.iter().any(|p| p.id == sr.id)
    {
        r.pending.push(sr);
        r.pending.sort_by_key(|p| std::cmp::Reverse(p.created));
    }
}

/// Whether a request is an activation still to come: waiting for a decision, or granted
/// for a start after `now`.
pub(crate) fn is_open_activation(sr: &ScheduleRequest, now: OffsetDateTime) -> bool {
    let relevant = matches!(
        sr.action,
        Some(Action::SelfActivate | Action::SelfExtend | Action::SelfRenew) | None
    );
    relevant
        && (sr.status.needs_decision()
            || (sr.status.is_open() && sr.start.is_some_and(|s| s > now)))
}

/// A Graph schedule request in the model; `None` without an id.
pub(crate) fn graph_schedule_request(q: &GraphRequest) -> Option<ScheduleRequest> {
    let (start, duration, end) = schedule_of(q.schedule_info.as_ref());
    Some(ScheduleRequest {
        id: q.id.get()?,
        resource_id: None,
        action: q.action.clone(),
        status: q
            .status
            .clone()
            .unwrap_or(RequestStatus::Unknown(String::new())),
        created: q.created_date_time.get(),
        start,
        duration,
        end,
        justification: q.justification.get(),
        ticket: q.ticket_info.as_ref().and_then(|t| {
            Some(Ticket {
                number: t.ticket_number.get()?,
                system: t.ticket_system.get().unwrap_or_default(),
            })
        }),
        approval_id: q.approval_id.get(),
    })
}

/// An ARM schedule request in the model (its id is the request's name); `None` without
/// properties or a name.
pub(crate) fn arm_schedule_request(q: &ArmResource<ArmRequestProps>) -> Option<ScheduleRequest> {
    let p = q.properties.as_ref()?;
    let (start, duration, end) = schedule_of(p.schedule_info.as_ref());
    let name = q.name.get().or_else(|| {
        q.id.as_deref()
            .map(|i| i.rsplit('/').next().unwrap_or(i).to_owned())
    })?;
    Some(ScheduleRequest {
        id: name,
        resource_id: q.id.get(),
        action: p.request_type.clone(),
        status: p
            .status
            .clone()
            .unwrap_or(RequestStatus::Unknown(String::new())),
        created: p.created_on.get(),
        start,
        duration,
        end,
        justification: p.justification.get(),
        ticket: p.ticket_info.as_ref().and_then(|t| {
            Some(Ticket {
                number: t.ticket_number.get()?,
                system: t.ticket_system.get().unwrap_or_default(),
            })
        }),
        approval_id: p.approval_id.get(),
    })
}

/// Start, duration and end of a schedule; the end from the duration when not given, `None`
/// when it would be past the last representable date.
pub(crate) fn schedule_of(
    s: Option<&ScheduleInfo>,
) -> (
    Option<OffsetDateTime>,
    Option<PimDuration>,
    Option<OffsetDateTime>,
) {
    let Some(s) = s else {
        return (None, None, None);
    };
    let exp = s.expiration.as_ref();
    let duration = exp
        .and_then(|e| e.duration.as_deref())
        .and_then(|d| PimDuration::parse(d).ok());
    let end = exp
        .and_then(|e| e.end_date_time.get())
        .or_else(|| s.start_date_time.get()?.checked_add(duration?.to_time()));
    (s.start_date_time.get(), duration, end)
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::testing::test_role;

    /// A selfActivate request `r` with `status`, starting at `start`.
    pub(crate) fn sr(status: &str, start: Option<OffsetDateTime>) -> ScheduleRequest {
        ScheduleRequest {
            id: "r".into(),
            resource_id: None,
            action: Some(Action::SelfActivate),
            status: RequestStatus::parse(status),
            created: None,
            start,
            duration: None,
            end: None,
            justification: None,
            ticket: None,
            approval_id: None,
        }
    }

    #[test]
    fn open_requests_are_pending_or_future() {
        let now = datetime!(2026-08-21 08:00 UTC);
        assert!(is_open_activation(&sr("PendingApproval", None), now));
        assert!(is_open_activation(
            &sr("granted", Some(now + time::Duration::hours(1))),
            now
        ));
        assert!(!is_open_activation(
            &sr("Granted", Some(now - time::Duration::hours(1))),
            now
        ));
        assert!(!is_open_activation(&sr("Provisioned", None), now));
        assert!(!is_open_activation(&sr("Canceled", None), now));
        let mut deact = sr("PendingApproval", None);
        deact.action = Some(Action::SelfDeactivate);
        assert!(!is_open_activation(&deact, now));
    }

    #[test]
    fn activations_win_over_assignments_when_merging() {
        let asg = |t: &str, end: Option<OffsetDateTime>| ActiveAssignment {
            instance_id: None,
            schedule_id: None,
            assignment_type: Some(AssignmentType::parse(t)),
            member_type: None,
            start: None,
            end,
            linked_eligibility_schedule_id: None,
        };
        let mut row = test_role("r", "R");
        merge_assignment(&mut row, asg("Assigned", None));
        merge_assignment(
            &mut row,
            asg("Activated", Some(datetime!(2026-08-21 09:00 UTC))),
        );
        assert!(row.assignment.as_ref().unwrap().is_activation());
        merge_assignment(&mut row, asg("Assigned", None));
        assert!(row.assignment.as_ref().unwrap().is_activation());
        attach_request(
            &mut [row.clone()],
            RoleKind::EntraRole,
            "T",
            "R",
            "/",
            None,
            sr("PendingApproval", None),
        );
        let mut rows = vec![row];
        attach_request(
            &mut rows,
            RoleKind::EntraRole,
            "t",
            "r",
            "",
            None,
            sr("PendingApproval", None),
        );
        assert_eq!(
            rows[0].pending.len(),
            1,
            "scope `/` and empty compare equal"
        );
        rows[0].recompute_state(datetime!(2026-08-21 08:00 UTC));
        assert_eq!(rows[0].state, RoleState::Active);
    }

    #[test]
    fn schedule_end_from_duration_or_end_date() {
        let info: ScheduleInfo = serde_json::from_value(serde_json::json!({
            "startDateTime": "2026-08-21T08:00:00Z",
            "expiration": {"type": "afterDuration", "duration": "PT90M", "endDateTime": null}
        }))
        .unwrap();
        let (start, d, end) = schedule_of(Some(&info));
        assert_eq!(start, Some(datetime!(2026-08-21 08:00 UTC)));
        assert_eq!(d, Some(PimDuration::from_minutes(90)));
        assert_eq!(end, Some(datetime!(2026-08-21 09:30 UTC)));
    }

    #[test]
    fn schedule_end_does_not_overflow_past_the_last_date() {
        let info = |start: &str, duration: &str| -> ScheduleInfo {
            serde_json::from_value(serde_json::json!({
                "startDateTime": start,
                "expiration": {"type": "afterDuration", "duration": duration}
            }))
            .unwrap()
        };
        // The last representable date plus two hours.
        let (start, d, end) = schedule_of(Some(&info("9999-12-31T23:00:00Z", "PT2H")));
        assert_eq!(start, Some(datetime!(9999-12-31 23:00 UTC)));
        assert_eq!(d, Some(PimDuration::from_hours(2)));
        assert_eq!(end, None);
        // 3,000,000 days from the server: not a duration we accept.
        let (_, d, end) = schedule_of(Some(&info("2026-08-21T08:00:00Z", "P3000000D")));
        assert_eq!((d, end), (None, None));
    }

    fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Vec<T> {
        parse_items("test", vec![v])
    }

    const NOW: OffsetDateTime = datetime!(2026-08-21 08:00 UTC);

    #[test]
    fn the_shared_loop_builds_an_entra_row_eligible_and_active() {
        let eligible: Vec<GraphRoleInstance> = parse(json!({
            "id": "e1", "roleDefinitionId": "rd1", "directoryScopeId": "/",
            "roleEligibilityScheduleId": "es1", "memberType": "Direct",
            "roleDefinition": {"displayName": "Global Reader"}
        }));
        let active: Vec<GraphRoleInstance> = parse(json!({
            "id": "a1", "roleDefinitionId": "rd1", "directoryScopeId": "/",
            "roleAssignmentScheduleId": "as1", "assignmentType": "Activated",
            "startDateTime": "2026-08-21T07:00:00Z", "endDateTime": "2026-08-21T09:00:00Z"
        }));
        let mut rows = Vec::new();
        add_graph_instances(&mut rows, &eligible, &active, NOW, |i| {
            let rid = i.role_definition_id.as_deref()?;
            let mut r = entra_row("t", i, rid);
            r.policy = PolicyInfo::Known(Policy::default());
            Some(r)
        });
        assert_eq!(rows.len(), 1, "eligibility and activation are one row");
        let r = &rows[0];
        assert_eq!(
            (r.kind, r.name.as_str()),
            (RoleKind::EntraRole, "Global Reader")
        );
        assert_eq!(r.scope.kind, ScopeKind::Directory);
        assert_eq!(r.scope.display_name, "Directory");
        assert!(matches!(r.policy, PolicyInfo::Known(_)));
        let e = r.eligibility.as_ref().unwrap();
        assert_eq!(e.schedule_id.as_deref(), Some("es1"));
        let a = r.assignment.as_ref().unwrap();
        assert!(a.is_activation());
        assert_eq!(a.schedule_id.as_deref(), Some("as1"));
        assert_eq!(a.end, Some(datetime!(2026-08-21 09:00 UTC)));
    }

    #[test]
    fn the_shared_loop_builds_a_group_row_and_attaches_its_request() {
        let eligible: Vec<GraphGroupInstance> = parse(json!({
            "id": "ge1", "groupId": "G1", "accessId": "owner", "eligibilityScheduleId": "ges1"
        }));
        // Ended an hour ago: left out.
        let active: Vec<GraphGroupInstance> = parse(json!({
            "id": "ga1", "groupId": "G1", "accessId": "owner", "assignmentType": "Activated",
            "endDateTime": "2026-08-21T07:00:00Z"
        }));
        let names = HashMap::from([(("t".to_owned(), "g1".to_owned()), "Admins".to_owned())]);
        let mut rows = Vec::new();
        add_graph_instances(&mut rows, &eligible, &active, NOW, |i| {
            group_row("T", i, &names)
        });
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.kind, RoleKind::Group);
        assert_eq!(
            (r.name.as_str(), r.scope.display_name.as_str()),
            ("Admins", "Admins")
        );
        assert_eq!(r.access, Some(AccessId::Owner));
        assert_eq!(r.role_definition_id, "owner");
        assert_eq!(r.scope.kind, ScopeKind::Group);
        assert!(r.assignment.is_none(), "an ended activation is not active");
        let requests: Vec<GraphRequest> = parse(json!({
            "id": "q1", "action": "selfActivate", "status": "PendingApproval",
            "groupId": "g1", "accessId": "owner"
        }));
        add_graph_requests(&mut rows, RoleKind::Group, "T", &requests, NOW);
        assert_eq!(rows[0].pending.len(), 1);
        assert_eq!(rows[0].pending[0].id, "q1");
        // A member request is not for the owner row.
        let member: Vec<GraphRequest> = parse(json!({
            "id": "q2", "action": "selfActivate", "status": "PendingApproval",
            "groupId": "g1", "accessId": "member"
        }));
        add_graph_requests(&mut rows, RoleKind::Group, "T", &member, NOW);
        assert_eq!(rows[0].pending.len(), 1);
    }

    #[test]
    fn rows_from_null_and_unknown_fields() {
        // Nulls everywhere, an unknown member, an open-enum value the model does not know.
        let entra: Vec<GraphRoleInstance> = parse(json!({
            "id": null, "roleDefinitionId": "rd9", "directoryScopeId": null, "appScopeId": "",
            "memberType": "SomethingNew", "roleDefinition": null, "directoryScope": null,
            "startDateTime": null, "endDateTime": null, "surprise": {"x": 1}
        }));
        let mut rows = Vec::new();
        add_graph_instances(&mut rows, &entra, &[], NOW, |i| {
            let rid = i.role_definition_id.as_deref()?;
            Some(entra_row("t", i, rid))
        });
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            r.name, "rd9",
            "no expanded name: the id until it is resolved"
        );
        assert_eq!(r.scope.id, "/");
        assert_eq!(r.app_scope_id, None);
        assert_eq!(
            r.eligibility.as_ref().unwrap().member_type,
            Some(MemberType::Unknown("SomethingNew".into()))
        );
        // Without a role definition id or a group id there is no row.
        let bare: Vec<GraphRoleInstance> = parse(json!({"id": "x", "roleDefinitionId": null}));
        add_graph_instances(&mut rows, &bare, &bare, NOW, |i| {
            let rid = i.role_definition_id.as_deref()?;
            Some(entra_row("t", i, rid))
        });
        let groups: Vec<GraphGroupInstance> = parse(json!({"groupId": null, "accessId": null}));
        add_graph_instances(&mut rows, &groups, &groups, NOW, |i| {
            group_row("t", i, &HashMap::new())
        });
        assert_eq!(rows.len(), 1);
        // A group without access id or name: member, named by its id.
        let g: Vec<GraphGroupInstance> = parse(json!({"groupId": "g2", "group": null}));
        let r = group_row("t", &g[0], &HashMap::new()).unwrap();
        assert_eq!((r.name.as_str(), r.access), ("g2", Some(AccessId::Member)));
        // An ARM instance without properties or role definition: no row.
        let arm: Vec<ArmResource<ArmInstanceProps>> = parse(json!({"id": "x", "properties": null}));
        let none: Vec<ArmResource<ArmInstanceProps>> =
            parse(json!({"properties": {"scope": "/subscriptions/s"}}));
        let (rows, scopes) = arm_rows("t", &arm, &none, NOW);
        assert!(rows.is_empty() && scopes.is_empty());
        // A request without an id is no request.
        let q: Vec<GraphRequest> = parse(json!({"id": null, "status": "PendingApproval"}));
        assert!(graph_schedule_request(&q[0]).is_none());
    }

    #[test]
    fn arm_activations_join_their_linked_eligibility() {
        let eligible: Vec<ArmResource<ArmInstanceProps>> = parse(json!({
            "name": "e1", "properties": {
                "roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/b2",
                "scope": "/subscriptions/s",
                "roleEligibilityScheduleId": "/x/roleEligibilitySchedules/ES1"
            }
        }));
        let active: Vec<ArmResource<ArmInstanceProps>> = parse(json!({
            "name": "a1", "properties": {
                "roleDefinitionId": "/other/roleDefinitions/b2",
                "scope": "/subscriptions/s/",
                "assignmentType": "Activated",
                "linkedRoleEligibilityScheduleId": "/y/roleEligibilitySchedules/ES1"
            }
        }));
        let (mut rows, scopes) = arm_rows("t", &eligible, &active, NOW);
        assert_eq!(rows.len(), 1);
        assert_eq!(scopes, ["/subscriptions/s"]);
        assert_eq!(rows[0].name, "b2");
        assert_eq!(rows[0].scope.kind, ScopeKind::Subscription);
        let a = rows[0].assignment.as_ref().unwrap();
        assert_eq!(a.linked_eligibility_schedule_id.as_deref(), Some("es1")); // last segment, lower case
        let requests: Vec<ArmResource<ArmRequestProps>> = parse(json!({
            "name": "q1", "properties": {
                "roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/b2",
                "scope": "/subscriptions/s", "requestType": "SelfActivate", "status": "PendingApproval"
            }
        }));
        add_arm_requests(&mut rows, "t", &requests, NOW);
        assert_eq!(rows[0].pending[0].id, "q1");
    }

    #[test]
    fn entra_policies_known_when_expanded_else_ids() {
        let items = vec![
            json!({"roleDefinitionId": "RD1", "policyId": "p1", "policy": {"id": "p1", "rules": []}}),
            json!({"roleDefinitionId": "rd2", "policy": {"id": "p2"}}),
            json!({"roleDefinitionId": null, "policyId": "p3"}),
        ];
        let (known, ids) = entra_policies(items.clone(), true);
        assert!(
            matches!(known.get("rd1"), Some(PolicyInfo::Known(p)) if p.policy_id.as_deref() == Some("p1"))
        );
        assert_eq!(ids, [("rd2".to_owned(), "p2".to_owned())]);
        // Rules from a plainer fallback are not trusted as expanded.
        let (known, ids) = entra_policies(items, false);
        assert!(known.is_empty());
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn finished_rows_are_named_sorted_and_keep_learnt_policies() {
        let g: Vec<GraphGroupInstance> =
            parse(json!({"groupId": "g", "group": {"displayName": "b"}}));
        let mut group = group_row("t", &g[0], &HashMap::new()).unwrap();
        group.eligibility = Some(g[0].eligibility());
        let e: Vec<GraphRoleInstance> =
            parse(json!({"roleDefinitionId": "z", "roleDefinition": {"displayName": "Z"}}));
        let mut entra = entra_row("t", &e[0], "z");
        entra.eligibility = Some(e[0].eligibility());
        let learnt = HashMap::from([(
            group.key(),
            PolicyInfo::Unknown {
                reason: "403".into(),
            },
        )]);
        let mut rows = vec![group, entra];
        finish_rows(&mut rows, "Contoso", &learnt, NOW);
        assert_eq!(rows[0].kind, RoleKind::EntraRole, "Entra roles first");
        assert!(rows.iter().all(|r| r.tenant_name == "Contoso"));
        assert!(matches!(rows[1].policy, PolicyInfo::Unknown { .. }));
        assert_eq!(rows[1].state, RoleState::Eligible);
    }
}
