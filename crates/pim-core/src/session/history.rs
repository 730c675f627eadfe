//! My history: the signed-in user's own PIM requests (activations, deactivations,
//! extensions, and what administrators did for them) in the session's tenants, newest first.
//!
//! Per tenant, one Graph `$batch` (my object id, my Entra role requests, my group requests:
//! the `filterByCurrentUser(on='principal')` lists, pages followed) alongside ARM's
//! `asRequestor()` request list (provider level, else per scope, as `load.rs` does for
//! pending requests); all tenants in parallel. A list that cannot be read becomes a
//! [`Warning`] of its tenant, not a failure.
//!
//! The lists are filtered by date here, not by the service: the contract does not say they
//! take a `$filter` on `createdDateTime` (A.7 shows only `status`), so every request the
//! service still keeps is read and those older than `since` are dropped before naming.
//!
//! Names come from the payloads (`$expand`, ARM `expandedProperties`), then from the latest
//! snapshot's rows, then from `names.rs` (cached per session); a name that cannot be read
//! stays the id. The mapping from wire items to entries is pure and tested here.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::Session;
use super::rows::{arm_row, arm_schedule_request, entra_row, graph_schedule_request, group_row};
use crate::duration::PimDuration;
use crate::graph::{history_items, item};
use crate::model::*;
use crate::wire::{
    ArmInstanceProps, ArmRequestProps, ArmResource, GraphGroupInstance, GraphMe, GraphRequest,
    GraphRoleInstance, Lenient, NamedObject, last_segment,
};
use crate::{Error, Result};

/// One of my PIM requests, as the service keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// When the request was made (`createdDateTime`, ARM `createdOn`).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Tenant id.
    pub tenant_id: String,
    /// Tenant display name.
    pub tenant_name: String,
    /// Entra role, group or Azure role.
    pub kind: RoleKind,
    /// The request's id (Graph) or name (ARM).
    pub request_id: String,
    /// Display name of the role, the group or the Azure role (the id when it could not be
    /// read).
    pub name: String,
    /// Entra `roleDefinitionId`, group `accessId`, or the ARM role definition id.
    pub role_definition_id: String,
    /// Groups: member or owner (`None` when the request did not say).
    pub access: Option<AccessId>,
    /// Where (display name, or the id when it could not be read).
    pub scope: Scope,
    /// What was asked (`selfActivate`, `selfDeactivate`, `adminAssign`, …; unknown values
    /// kept as the service spells them); `None` when the service did not say.
    pub action: Option<Action>,
    /// Where it ended up (`Provisioned`, `Denied`, `Canceled`, …; unknown values kept);
    /// `None` when the service did not say.
    pub status: Option<RequestStatus>,
    /// Requested start.
    #[serde(with = "time::serde::rfc3339::option")]
    pub start: Option<OffsetDateTime>,
    /// Requested length (`scheduleInfo.expiration.duration`, else end minus start).
    pub duration: Option<PimDuration>,
    /// Requested end (explicit, or start plus duration).
    #[serde(with = "time::serde::rfc3339::option")]
    pub end: Option<OffsetDateTime>,
    /// Justification given.
    pub justification: Option<String>,
    /// Ticket given.
    pub ticket: Option<Ticket>,
}

impl HistoryEntry {
    /// Name shown to users: the display name, plus `(member)`/`(owner)` for groups (as
    /// [`Role::label`]).
    pub fn label(&self) -> String {
        match &self.access {
            Some(a) if self.kind == RoleKind::Group => format!("{} ({})", self.name, a),
            _ => self.name.clone(),
        }
    }
}

/// One tenant's part of [`History`]: what could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantHistory {
    /// The tenant.
    pub tenant: Tenant,
    /// Set when none of its request lists could be read.
    pub error: Option<TenantError>,
    /// Lists that could not be read while others were (their entries are missing).
    pub warnings: Vec<Warning>,
}

/// My requests since a date, in every tenant read ([`Session::history`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    /// Requests made before this are left out.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// The requests of every tenant, newest first.
    pub entries: Vec<HistoryEntry>,
    /// Per tenant read (in the session's order): errors and warnings.
    pub tenants: Vec<TenantHistory>,
}

/// A request's bare row (its kind, tenant, role, scope and names so far) and the request.
type Item = (Role, ScheduleRequest);

/// Navigation properties Graph expands on a request that [`GraphRequest`] does not read.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Expanded {
    directory_scope: Option<NamedObject>,
    app_scope: Option<NamedObject>,
    group: Option<NamedObject>,
}

/// Graph request items of `kind` (Entra roles or groups) in tenant `tid` as bare rows and
/// requests. Items without an id, or without a role definition (Entra) or group id (groups),
/// and items that are no request are skipped. Group names come from the payload, else
/// `group_names` ((tenant lower, group id lower) → name), else stay the id.
pub(crate) fn graph_items(
    kind: RoleKind,
    tid: &str,
    items: Vec<Value>,
    group_names: &HashMap<(String, String), String>,
) -> Vec<Item> {
    let mut out = Vec::new();
    for v in items {
        // Expansions of an unexpected shape are ignored; the request itself must parse.
        let x: Expanded = serde_json::from_value(v.clone()).unwrap_or_default();
        let q: GraphRequest = match serde_json::from_value(v) {
            Ok(q) => q,
            Err(e) => {
                tracing::warn!(error = %e, "skipping a request that does not parse");
                continue;
            }
        };
        let Some(sr) = graph_schedule_request(&q) else {
            continue;
        };
        let row = match kind {
            RoleKind::Group => {
                let inst = GraphGroupInstance {
                    group_id: q.group_id.clone(),
                    access_id: q.access_id.clone(),
                    group: x.group,
                    ..GraphGroupInstance::default()
                };
                group_row(tid, &inst, group_names).map(|mut r| {
                    // The row's default (member) is not what a request without one said.
                    r.access = q.access_id.clone();
                    r
                })
            }
            _ => q.role_definition_id.as_deref().map(|rid| {
                let inst = GraphRoleInstance {
                    role_definition_id: q.role_definition_id.clone(),
                    directory_scope_id: q.directory_scope_id.clone(),
                    app_scope_id: q.app_scope_id.clone(),
                    role_definition: q.role_definition.clone(),
                    directory_scope: x.directory_scope,
                    app_scope: x.app_scope,
                    ..GraphRoleInstance::default()
                };
                entra_row(tid, &inst, rid)
            }),
        };
        if let Some(row) = row {
            out.push((row, sr));
        }
    }
    out
}

/// ARM requests in tenant `tid` as bare rows and requests. `asRequestor()` also lists
/// requests the user made for others (an administrator's assignments): when `principal`
/// (the user's object id in the tenant) is known, requests for another principal are left
/// out. Items without properties, a name or a role definition are skipped.
pub(crate) fn arm_items(
    tid: &str,
    items: &[ArmResource<ArmRequestProps>],
    principal: Option<&str>,
) -> Vec<Item> {
    let mut out = Vec::new();
    for q in items {
        let Some(p) = &q.properties else { continue };
        if let (Some(me), Some(for_whom)) = (principal, p.principal_id.as_deref())
            && !for_whom.eq_ignore_ascii_case(me)
        {
            continue;
        }
        let Some(sr) = arm_schedule_request(q) else {
            continue;
        };
        let props = ArmInstanceProps {
            scope: p.scope.clone(),
            role_definition_id: p.role_definition_id.clone(),
            expanded_properties: p.expanded_properties.clone(),
            ..ArmInstanceProps::default()
        };
        if let Some(row) = arm_row(tid, &props) {
            out.push((row, sr));
        }
    }
    out
}

/// Whether a row's name is still an id (as the row builders leave it when the payload had
/// none), so a better one should be looked for.
fn name_unknown(r: &Role) -> bool {
    match r.kind {
        RoleKind::EntraRole => r.name == r.role_definition_id,
        RoleKind::Group => r.name == r.scope.id,
        RoleKind::AzureResource => r
            .name
            .eq_ignore_ascii_case(&last_segment(&r.role_definition_id)),
    }
}

/// Whether two scope ids are the same scope (case and a trailing `/` aside).
fn same_scope(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Names rows still named by id from `known`, the latest snapshot's rows of the same tenant:
/// a role by its definition (Azure: its last segment), a group by its id, a scope by its id.
pub(crate) fn name_from_rows(rows: &mut [Role], known: &[Role]) {
    for r in rows.iter_mut() {
        let peers = known
            .iter()
            .filter(|k| k.kind == r.kind && k.tenant_id.eq_ignore_ascii_case(&r.tenant_id));
        if name_unknown(r) {
            let hit = peers.clone().find(|k| {
                !name_unknown(k)
                    && match r.kind {
                        RoleKind::Group => same_scope(&k.scope.id, &r.scope.id),
                        RoleKind::AzureResource => {
                            last_segment(&k.role_definition_id)
                                == last_segment(&r.role_definition_id)
                        }
                        RoleKind::EntraRole => k
                            .role_definition_id
                            .eq_ignore_ascii_case(&r.role_definition_id),
                    }
            });
            if let Some(k) = hit {
                r.name = k.name.clone();
                if r.kind == RoleKind::Group {
                    r.scope.display_name = k.scope.display_name.clone();
                }
            }
        }
        if r.scope.display_name == r.scope.id
            && let Some(k) = peers.clone().find(|k| {
                same_scope(&k.scope.id, &r.scope.id) && k.scope.display_name != k.scope.id
            })
        {
            r.scope.display_name = k.scope.display_name.clone();
        }
    }
}

/// The entry for a named row and its request, in a tenant called `tenant_name`; `None` when
/// the request has no creation time (it cannot be placed in a history).
pub(crate) fn entry(row: Role, sr: ScheduleRequest, tenant_name: &str) -> Option<HistoryEntry> {
    let created_at = sr.created?;
    let duration = sr.duration.or_else(|| {
        let (s, e) = (sr.start?, sr.end?);
        (e > s).then(|| PimDuration::from_time(e - s))
    });
    Some(HistoryEntry {
        created_at,
        tenant_id: row.tenant_id,
        tenant_name: tenant_name.to_owned(),
        kind: row.kind,
        request_id: sr.id,
        name: row.name,
        role_definition_id: row.role_definition_id,
        access: row.access,
        scope: row.scope,
        action: sr.action,
        status: match sr.status {
            RequestStatus::Unknown(s) if s.trim().is_empty() => None,
            s => Some(s),
        },
        start: sr.start,
        duration,
        end: sr.end,
        justification: sr.justification,
        ticket: sr.ticket,
    })
}

/// Keeps the items made at or after `since` (those without a creation time are dropped).
pub(crate) fn since_filter(items: &mut Vec<Item>, since: OffsetDateTime) {
    items.retain(|(_, sr)| sr.created.is_some_and(|c| c >= since));
}

/// Newest first; ties in tenant, then request id order (stable output).
pub(crate) fn newest_first(entries: &mut [HistoryEntry]) {
    entries.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.tenant_id.cmp(&b.tenant_id))
            .then_with(|| a.request_id.cmp(&b.request_id))
    });
}

/// One tenant's history: its status, its entries (unsorted), and the error to report when
/// nothing could be read.
struct TenantPart {
    status: TenantHistory,
    entries: Vec<HistoryEntry>,
    error: Option<Error>,
}

impl Session {
    /// [`Session::history_of`]: every tenant `tenants` names, in parallel. Fails only when
    /// no tenant could be read at all (then with the first tenant's error, or one the user
    /// must act on, e.g. [`Error::SignInRequired`]).
    pub(super) async fn read_history(
        &self,
        tenants: &[Tenant],
        since: OffsetDateTime,
    ) -> Result<History> {
        let parts =
            futures::future::join_all(tenants.iter().map(|t| self.tenant_history(t, since))).await;
        let mut entries = Vec::new();
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
            entries.extend(p.entries);
            statuses.push(p.status);
        }
        if !any_read && let Some(e) = fatal {
            return Err(e);
        }
        newest_first(&mut entries);
        Ok(History {
            since,
            entries,
            tenants: statuses,
        })
    }

    /// One tenant: the Graph lists and the ARM list in parallel, filtered by `since`, named.
    async fn tenant_history(&self, t: &Tenant, since: OffsetDateTime) -> TenantPart {
        let tid = t.id.as_str();
        let ((roles, groups), arm) = tokio::join!(self.graph_history(tid), self.arm_history(t));
        let mut warnings = Vec::new();
        let mut items: Vec<Item> = Vec::new();
        let group_names = self.caches().group_names.clone();
        let principal = self
            .caches()
            .principals
            .get(&tid.to_ascii_lowercase())
            .cloned();
        let (roles, groups, arm) = match (roles, groups, arm) {
            (Err(a), Err(b), Err(c)) => {
                // Nothing could be read: the error the user may have to act on, else Graph's.
                let e = super::first_to_act_on([a, b, c]);
                let error = e.as_ref().map(|e| TenantError {
                    code: e.code().to_owned(),
                    message: e.to_string(),
                });
                return TenantPart {
                    status: TenantHistory {
                        tenant: t.clone(),
                        error,
                        warnings,
                    },
                    entries: Vec::new(),
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
        match roles {
            Ok(v) => items.extend(graph_items(RoleKind::EntraRole, tid, v, &group_names)),
            Err(e) => warnings.push(Warning::unreadable("Entra role requests", &e)),
        }
        match groups {
            Ok(v) => items.extend(graph_items(RoleKind::Group, tid, v, &group_names)),
            Err(e) => warnings.push(Warning::unreadable("Group requests", &e)),
        }
        match arm {
            Ok(v) => items.extend(arm_items(tid, &v, principal.as_deref())),
            Err(e) => warnings.push(Warning::unreadable("Azure role requests", &e)),
        }
        since_filter(&mut items, since);
        let (mut rows, requests): (Vec<Role>, Vec<ScheduleRequest>) = items.into_iter().unzip();
        self.name_history_rows(tid, &mut rows).await;
        let entries = rows
            .into_iter()
            .zip(requests)
            .filter_map(|(r, sr)| entry(r, sr, &t.display_name))
            .collect();
        TenantPart {
            status: TenantHistory {
                tenant: t.clone(),
                error: None,
                warnings,
            },
            entries,
            error: None,
        }
    }

    /// My Entra role and group requests in one `$batch` (pages followed); remembers my object
    /// id in the tenant.
    async fn graph_history(&self, tid: &str) -> (Result<Vec<Value>>, Result<Vec<Value>>) {
        let g = &self.inner.graph;
        let mut res = g.batch(tid, history_items()).await;
        let mut take = |id: &str| {
            res.remove(id)
                .unwrap_or_else(|| Err(Error::InvalidResponse(format!("no result for {id}"))))
        };
        let (me, roles, groups) = (
            take(item::ME),
            take(item::ROLE_HISTORY),
            take(item::GROUP_HISTORY),
        );
        if let Ok(ok) = me
            && let Ok(m) = serde_json::from_value::<GraphMe>(ok.body)
            && let Some(id) = m.id.get()
        {
            self.caches()
                .principals
                .insert(tid.to_ascii_lowercase(), id);
        }
        tokio::join!(g.collect(tid, roles), g.collect(tid, groups))
    }

    /// My ARM requests: at provider level, else at each scope where the user holds or is
    /// eligible for an Azure role (from the latest snapshot, else read now). Requests at
    /// scopes the user no longer has a role at are then missed.
    async fn arm_history(&self, t: &Tenant) -> Result<Vec<ArmResource<ArmRequestProps>>> {
        let arm = &self.inner.arm;
        let tid = t.id.as_str();
        if let Some(all) = arm.requests_provider(tid).await? {
            return Ok(all);
        }
        let snap = self.snapshot();
        let mut found: Vec<String> = snap
            .roles()
            .filter(|r| r.kind == RoleKind::AzureResource && r.tenant_id.eq_ignore_ascii_case(tid))
            .map(|r| r.scope.id.clone())
            .collect();
        if found.is_empty() {
            let (elig, act) = tokio::join!(arm.eligibility(tid), arm.assignments(tid));
            found = elig
                .into_iter()
                .chain(act)
                .flatten()
                .filter_map(|i| i.properties.and_then(|p| p.scope.into_option()))
                .collect();
        }
        let mut scopes: Vec<String> = Vec::new();
        for s in found {
            if !scopes.iter().any(|x| same_scope(x, &s)) {
                scopes.push(s);
            }
        }
        Ok(arm.requests_at(tid, &scopes).await)
    }

    /// Names the rows of tenant `tid`: from the latest snapshot, then as a refresh does
    /// (`names.rs`: Entra roles and scopes, groups, Azure roles and subscriptions).
    pub(super) async fn name_history_rows(&self, tid: &str, rows: &mut [Role]) {
        if rows.is_empty() {
            return;
        }
        {
            let snap = self.snapshot();
            let known: Vec<Role> = snap
                .roles()
                .filter(|r| r.tenant_id.eq_ignore_ascii_case(tid))
                .cloned()
                .collect();
            name_from_rows(rows, &known);
        }
        self.resolve_scope_names(tid, rows).await;
        self.resolve_role_names(tid, rows).await;
        let mut seen = HashSet::new();
        let groups: Vec<GraphGroupInstance> = rows
            .iter()
            .filter(|r| r.kind == RoleKind::Group && name_unknown(r))
            .filter(|r| seen.insert(r.scope.id.to_ascii_lowercase()))
            .map(|r| GraphGroupInstance {
                group_id: Lenient(Some(r.scope.id.clone())),
                ..GraphGroupInstance::default()
            })
            .collect();
        if !groups.is_empty() {
            self.resolve_group_names(tid, groups.iter()).await;
            let c = self.caches();
            for r in rows
                .iter_mut()
                .filter(|r| r.kind == RoleKind::Group && name_unknown(r))
            {
                let k = (tid.to_ascii_lowercase(), r.scope.id.to_ascii_lowercase());
                if let Some(n) = c.group_names.get(&k) {
                    r.name = n.clone();
                    r.scope.display_name = n.clone();
                }
            }
        }
        self.resolve_arm_names(tid, rows).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::wire::parse_items;

    const T: &str = "tenant-1";

    fn no_names() -> HashMap<(String, String), String> {
        HashMap::new()
    }

    /// Rows and requests made into entries, in a tenant called "Contoso".
    fn entries(items: Vec<Item>) -> Vec<HistoryEntry> {
        items
            .into_iter()
            .filter_map(|(r, sr)| entry(r, sr, "Contoso"))
            .collect()
    }

    #[test]
    fn an_entra_request_becomes_an_entry() {
        let items = graph_items(
            RoleKind::EntraRole,
            T,
            vec![json!({
                "id": "q1", "action": "selfActivate", "status": "Provisioned",
                "principalId": "me", "roleDefinitionId": "rd1", "directoryScopeId": "/",
                "createdDateTime": "2026-08-01T10:00:00.1234567Z",
                "justification": "Quarterly review",
                "scheduleInfo": {"startDateTime": "2026-08-01T10:00:00Z",
                    "expiration": {"type": "afterDuration", "duration": "PT4H"}},
                "ticketInfo": {"ticketNumber": "INC1", "ticketSystem": "ServiceNow"},
                "roleDefinition": {"id": "rd1", "displayName": "Global Reader"},
                "somethingNew": [1, 2, 3]
            })],
            &no_names(),
        );
        let e = entries(items);
        assert_eq!(e.len(), 1);
        let e = &e[0];
        assert_eq!(e.created_at, datetime!(2026-08-01 10:00:00.1234567 UTC));
        assert_eq!(
            (e.tenant_id.as_str(), e.tenant_name.as_str()),
            (T, "Contoso")
        );
        assert_eq!(e.kind, RoleKind::EntraRole);
        assert_eq!(e.request_id, "q1");
        assert_eq!(e.name, "Global Reader");
        assert_eq!(e.scope.display_name, "Directory");
        assert_eq!(e.scope.kind, ScopeKind::Directory);
        assert_eq!(e.action, Some(Action::SelfActivate));
        assert_eq!(e.status, Some(RequestStatus::Provisioned));
        assert_eq!(e.duration, Some(PimDuration::from_hours(4)));
        assert_eq!(e.end, Some(datetime!(2026-08-01 14:00 UTC)));
        assert_eq!(e.justification.as_deref(), Some("Quarterly review"));
        assert_eq!(
            e.ticket,
            Some(Ticket {
                number: "INC1".into(),
                system: "ServiceNow".into()
            })
        );
    }

    #[test]
    fn an_administrative_unit_scope_is_named_by_its_expansion_else_its_id() {
        let item = |expanded: Value| {
            let mut v = json!({
                "id": "q", "roleDefinitionId": "rd", "createdDateTime": "2026-08-01T10:00:00Z",
                "directoryScopeId": "/administrativeUnits/au1"
            });
            v["directoryScope"] = expanded;
            entries(graph_items(RoleKind::EntraRole, T, vec![v], &no_names())).remove(0)
        };
        let e = item(json!({"id": "au1", "displayName": "Europe"}));
        assert_eq!(e.scope.display_name, "Europe");
        assert_eq!(e.scope.kind, ScopeKind::AdministrativeUnit);
        // An expansion of the wrong shape is ignored, not a reason to drop the request.
        let e = item(json!("Europe"));
        assert_eq!(e.scope.display_name, "/administrativeUnits/au1");
        assert_eq!(e.name, "rd", "no name: the id until it is resolved");
    }

    #[test]
    fn a_group_request_becomes_an_entry_named_by_payload_or_cache() {
        let items = vec![
            json!({"id": "g1", "action": "selfActivate", "status": "Denied",
                "groupId": "G", "accessId": "owner", "createdDateTime": "2026-08-02T10:00:00Z",
                "group": {"displayName": "SQL Prod Admins"}}),
            json!({"id": "g2", "action": "selfDeactivate", "status": "Revoked",
                "groupId": "H", "accessId": "member", "createdDateTime": "2026-08-03T10:00:00Z"}),
            json!({"id": "g3", "status": "Canceled", "groupId": "unnamed",
                "createdDateTime": "2026-08-04T10:00:00Z"}),
            // No group: no entry.
            json!({"id": "g4", "status": "Canceled", "createdDateTime": "2026-08-04T10:00:00Z"}),
        ];
        let names = HashMap::from([((T.to_owned(), "h".to_owned()), "Helpdesk".to_owned())]);
        let e = entries(graph_items(RoleKind::Group, T, items, &names));
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].label(), "SQL Prod Admins (owner)");
        assert_eq!(e[0].scope.display_name, "SQL Prod Admins");
        assert_eq!(e[0].status, Some(RequestStatus::Denied));
        assert_eq!(e[1].label(), "Helpdesk (member)");
        assert_eq!(e[1].action, Some(Action::SelfDeactivate));
        assert_eq!(e[1].duration, None, "a deactivation asks for no time");
        assert_eq!(
            (
                e[2].label().as_str(),
                e[2].access.as_ref(),
                e[2].action.as_ref()
            ),
            ("unnamed", None, None),
            "no access or action given: none claimed"
        );
    }

    #[test]
    fn an_arm_request_becomes_an_entry() {
        let items: Vec<ArmResource<ArmRequestProps>> = parse_items(
            "test",
            vec![
                json!({"id": "/subscriptions/s/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/n1",
                "name": "n1", "type": "Microsoft.Authorization/roleAssignmentScheduleRequests",
                "properties": {
                    "scope": "/subscriptions/s", "principalId": "ME",
                    "roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/b24",
                    "requestType": "SelfActivate", "status": "Provisioned", "createdOn": "2026-08-05T10:00:00.91Z",
                    "scheduleInfo": {"startDateTime": "2026-08-05T10:00:00Z",
                        "expiration": {"type": "AfterDateTime", "endDateTime": "2026-08-05T12:30:00Z", "duration": null}},
                    "justification": "Deploy", "ticketInfo": {"ticketNumber": null, "ticketSystem": null},
                    "expandedProperties": {
                        "scope": {"id": "/subscriptions/s", "displayName": "Staging", "type": "subscription"},
                        "roleDefinition": {"id": "x", "displayName": "Contributor", "type": "BuiltInRole"}
                    }
                }}),
                // For someone else (an administrator's request): not mine.
                json!({"name": "n2", "properties": {"principalId": "other", "scope": "/subscriptions/s",
                    "roleDefinitionId": "/r/b24", "requestType": "AdminAssign", "createdOn": "2026-08-05T10:00:00Z"}}),
                // No properties, no role: skipped.
                json!({"name": "n3", "properties": null}),
                json!({"name": "n4", "properties": {"createdOn": "2026-08-05T10:00:00Z"}}),
            ],
        );
        let e = entries(arm_items(T, &items, Some("me")));
        assert_eq!(e.len(), 1, "{e:#?}");
        let e = &e[0];
        assert_eq!(e.kind, RoleKind::AzureResource);
        assert_eq!(e.request_id, "n1");
        assert_eq!(
            (e.name.as_str(), e.scope.display_name.as_str()),
            ("Contributor", "Staging")
        );
        assert_eq!(e.scope.kind, ScopeKind::Subscription);
        assert_eq!(e.action, Some(Action::SelfActivate), "PascalCase on ARM");
        assert_eq!(e.action.as_ref().unwrap().as_str(), "selfActivate");
        assert_eq!(
            e.duration,
            Some(PimDuration::from_minutes(150)),
            "from the end when no duration is given"
        );
        assert_eq!(e.ticket, None, "a null ticket is no ticket");
        // Without knowing who the user is, every request is kept.
        assert_eq!(entries(arm_items(T, &items, None)).len(), 2);
    }

    #[test]
    fn nulls_unknown_values_and_odd_ids_are_tolerated() {
        let items = vec![
            json!({"id": 42, "action": "selfTeleport", "status": "SomethingNew",
                "roleDefinitionId": "../x y/é", "directoryScopeId": null, "appScopeId": null,
                "createdDateTime": "2026-08-06T10:00:00Z", "justification": null,
                "scheduleInfo": null, "ticketInfo": null, "roleDefinition": null}),
            // Nulls and text of the wrong type: read as missing.
            json!({"id": "q2", "action": null, "status": null, "roleDefinitionId": "rd",
                "createdDateTime": "2026-08-06T11:00:00Z", "justification": 5,
                "scheduleInfo": {"startDateTime": false, "expiration": null}}),
            // A member the model reads as a structure, of another shape: that item is
            // skipped, the others are kept.
            json!({"id": "q5", "action": 7, "roleDefinitionId": "rd",
                "createdDateTime": "2026-08-06T11:00:00Z"}),
            // Without a creation time a request cannot be placed: no entry.
            json!({"id": "q3", "roleDefinitionId": "rd", "createdDateTime": null}),
            json!({"id": "q4", "roleDefinitionId": "rd", "createdDateTime": "yesterday"}),
            // Without an id it is no request.
            json!({"id": null, "roleDefinitionId": "rd", "createdDateTime": "2026-08-06T10:00:00Z"}),
            json!("not an object"),
        ];
        let e = entries(graph_items(RoleKind::EntraRole, T, items, &no_names()));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert_eq!(e[0].request_id, "42");
        assert_eq!(e[0].name, "../x y/é");
        assert_eq!(e[0].scope.id, "/");
        assert_eq!(e[0].action, Some(Action::Unknown("selfTeleport".into())));
        assert_eq!(
            e[0].status.as_ref().map(RequestStatus::as_str),
            Some("SomethingNew")
        );
        assert_eq!((e[0].duration, e[0].start, e[0].end), (None, None, None));
        assert_eq!(
            (e[1].request_id.as_str(), e[1].status.as_ref()),
            ("q2", None)
        );
        assert_eq!(e[1].action, None);
        assert_eq!(e[1].justification.as_deref(), Some("5"));
        assert_eq!(e[1].start, None);
    }

    #[test]
    fn since_filters_and_newest_come_first() {
        let item = |id: &str, tid: &str, at: &str| {
            graph_items(
                RoleKind::EntraRole,
                tid,
                vec![json!({"id": id, "roleDefinitionId": "rd", "createdDateTime": at})],
                &no_names(),
            )
        };
        let mut items: Vec<Item> = [
            item("old", "a", "2026-07-01T00:00:00Z"),
            item("edge", "b", "2026-08-01T00:00:00Z"),
            item("new", "a", "2026-08-20T00:00:00Z"),
            item("tie-b", "b", "2026-08-10T00:00:00Z"),
            item("tie-a", "a", "2026-08-10T00:00:00Z"),
        ]
        .into_iter()
        .flatten()
        .collect();
        since_filter(&mut items, datetime!(2026-08-01 00:00 UTC));
        let mut e = entries(items);
        newest_first(&mut e);
        let ids: Vec<&str> = e.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(ids, ["new", "tie-a", "tie-b", "edge"]);
    }

    #[test]
    fn names_come_from_the_snapshot_rows() {
        use crate::testing::test_role;
        let mut entra = test_role("rd1", "Global Reader");
        entra.tenant_id = T.into();
        let mut au = test_role("rd2", "User Administrator");
        au.tenant_id = T.into();
        au.scope = Scope {
            id: "/administrativeUnits/AU1".into(),
            display_name: "Europe".into(),
            kind: ScopeKind::AdministrativeUnit,
        };
        let mut group = test_role("member", "SQL Prod Admins");
        group.kind = RoleKind::Group;
        group.tenant_id = T.into();
        group.scope = Scope {
            id: "g1".into(),
            display_name: "SQL Prod Admins".into(),
            kind: ScopeKind::Group,
        };
        let mut azure = test_role(
            "/subscriptions/p/providers/Microsoft.Authorization/roleDefinitions/B24",
            "Contributor",
        );
        azure.kind = RoleKind::AzureResource;
        azure.tenant_id = T.into();
        let mut elsewhere = test_role("rd3", "Teams Administrator");
        elsewhere.tenant_id = "other".into();
        let known = [entra, au, group, azure, elsewhere];

        let mut items = graph_items(
            RoleKind::EntraRole,
            T,
            vec![
                json!({"id": "1", "roleDefinitionId": "RD1", "createdDateTime": "2026-08-01T00:00:00Z"}),
                json!({"id": "2", "roleDefinitionId": "rd2", "directoryScopeId": "/administrativeUnits/au1",
                    "createdDateTime": "2026-08-01T00:00:00Z"}),
                json!({"id": "3", "roleDefinitionId": "rd3", "createdDateTime": "2026-08-01T00:00:00Z"}),
            ],
            &no_names(),
        );
        items.extend(graph_items(
            RoleKind::Group,
            T,
            vec![json!({"id": "4", "groupId": "G1", "accessId": "owner",
                "createdDateTime": "2026-08-01T00:00:00Z"})],
            &no_names(),
        ));
        let arm: Vec<ArmResource<ArmRequestProps>> = parse_items(
            "test",
            vec![
                json!({"name": "5", "properties": {"scope": "/subscriptions/staging",
                "roleDefinitionId": "/subscriptions/staging/providers/Microsoft.Authorization/roleDefinitions/b24",
                "createdOn": "2026-08-01T00:00:00Z"}}),
            ],
        );
        items.extend(arm_items(T, &arm, None));
        let (mut rows, reqs): (Vec<Role>, Vec<ScheduleRequest>) = items.into_iter().unzip();
        name_from_rows(&mut rows, &known);
        let e = entries(rows.into_iter().zip(reqs).collect());
        let names: Vec<(String, String)> = e
            .iter()
            .map(|e| (e.label(), e.scope.display_name.clone()))
            .collect();
        assert_eq!(
            names,
            [
                ("Global Reader".into(), "Directory".into()),
                ("User Administrator".into(), "Europe".into()),
                ("rd3".into(), "Directory".into()),
                ("SQL Prod Admins (owner)".into(), "SQL Prod Admins".into()),
                ("Contributor".into(), "/subscriptions/staging".into()),
            ],
            "another tenant's names are not used; an unknown subscription stays its id here"
        );
    }
}
