//! Microsoft Graph client: the refresh `$batch` (with per-item throttling, per-item fallback
//! URLs and paging), schedule requests for Entra roles and PIM for Groups, cancel, policies;
//! and the Graph paths, OData filters and request bodies the session sends.

use reqwest::Method;
use serde_json::{Value, json};

use time::OffsetDateTime;

use crate::duration::PimDuration;
use crate::error::Error;
use crate::http::{Call, Failure, Http};
use crate::model::{Action, ActivationRequest, Role, RoleKind};
use crate::policy::Policy;
use crate::token::Resource;
use crate::wire::{GraphPolicyAssignment, GraphRequest, format_datetime, parse_items};

mod batch;
#[cfg(feature = "fuzzing")]
pub(crate) use batch::item_status;
pub(crate) use batch::{BatchItem, ItemOk, clone_error};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use batch::{item_body, lower_keys};

/// Entra role schedule requests: writes are POSTed here, mine are listed below it.
pub(crate) const ROLE_REQUESTS: &str = "/roleManagement/directory/roleAssignmentScheduleRequests";
/// PIM for Groups schedule requests: writes are POSTed here, mine are listed below it.
pub(crate) const GROUP_REQUESTS: &str =
    "/identityGovernance/privilegedAccess/group/assignmentScheduleRequests";
/// The signed-in user's object id alone.
pub(crate) const ME_ID: &str = "/me?$select=id";

/// The schedule request collection for a role's kind (Entra roles or groups).
pub(crate) fn requests_path(kind: RoleKind) -> &'static str {
    match kind {
        RoleKind::Group => GROUP_REQUESTS,
        _ => ROLE_REQUESTS,
    }
}

/// The ids of the refresh `$batch` items ([`refresh_items`]).
pub(crate) mod item {
    /// `/me`.
    pub const ME: &str = "me";
    /// My Entra eligibility instances.
    pub const ELIGIBLE: &str = "eligible";
    /// My active Entra instances.
    pub const ACTIVE: &str = "active";
    /// My Entra role requests.
    pub const REQUESTS: &str = "requests";
    /// The directory-wide Entra role policy assignments.
    pub const POLICIES: &str = "policies";
    /// My group eligibility instances.
    pub const GROUP_ELIGIBLE: &str = "groupEligible";
    /// My active group instances.
    pub const GROUP_ACTIVE: &str = "groupActive";
    /// My group requests.
    pub const GROUP_REQUESTS: &str = "groupRequests";
    /// My Entra role requests, for my history ([`super::history_items`]).
    pub const ROLE_HISTORY: &str = "roleHistory";
    /// My group requests, for my history ([`super::history_items`]).
    pub const GROUP_HISTORY: &str = "groupHistory";
    /// Entra role requests waiting for my approval ([`super::inbox_items`]).
    pub const ROLE_INBOX: &str = "roleInbox";
    /// Group requests waiting for my approval ([`super::inbox_items`]).
    pub const GROUP_INBOX: &str = "groupInbox";
}

/// The refresh `$batch` for one tenant: me, Entra eligible/active/requests, all Entra role
/// policies (rules expanded when the service can; the [`item::POLICIES`] item's
/// alternative 0), group eligible/active/requests. Each item lists plainer fallbacks after
/// its preferred URL.
pub(crate) fn refresh_items() -> Vec<BatchItem> {
    const ELIG: &str = "/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')";
    const ACT: &str = "/roleManagement/directory/roleAssignmentScheduleInstances/filterByCurrentUser(on='principal')";
    const GELIG: &str = "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances/filterByCurrentUser(on='principal')";
    const GACT: &str = "/identityGovernance/privilegedAccess/group/assignmentScheduleInstances/filterByCurrentUser(on='principal')";
    let with = |base: &str, alts: &[&str]| -> Vec<String> {
        alts.iter()
            .map(|q| {
                if q.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{q}")
                }
            })
            .collect()
    };
    let policies = "/policies/roleManagementPolicyAssignments?$filter=scopeId%20eq%20'/'%20and%20scopeType%20eq%20'DirectoryRole'";
    let roles = [
        "$expand=roleDefinition,directoryScope",
        "$expand=roleDefinition",
        "",
    ];
    let groups = ["$expand=group($select=id,displayName)", ""];
    vec![
        BatchItem::new(
            item::ME,
            &[
                "/me?$select=id,displayName,userPrincipalName".to_owned(),
                "/me".to_owned(),
            ],
        ),
        BatchItem::new(item::ELIGIBLE, &with(ELIG, &roles)),
        BatchItem::new(item::ACTIVE, &with(ACT, &roles)),
        BatchItem::new(
            item::REQUESTS,
            &[format!(
                "{ROLE_REQUESTS}/filterByCurrentUser(on='principal')"
            )],
        ),
        BatchItem::new(
            item::POLICIES,
            &[
                format!("{policies}&$expand=policy($expand=rules)"),
                policies.to_owned(),
            ],
        ),
        BatchItem::new(item::GROUP_ELIGIBLE, &with(GELIG, &groups)),
        BatchItem::new(item::GROUP_ACTIVE, &with(GACT, &groups)),
        BatchItem::new(
            item::GROUP_REQUESTS,
            &[format!(
                "{GROUP_REQUESTS}/filterByCurrentUser(on='principal')"
            )],
        ),
    ]
}

/// The history `$batch` for one tenant ([`crate::Session::history`]): my object id
/// ([`item::ME`]), and my Entra role and group schedule requests of every status (the
/// `filterByCurrentUser(on='principal')` lists, which keep completed requests until the
/// system deletes them; contract A.7, B.5), names expanded where the service can, plainer
/// fallbacks after. No `$filter` on `createdDateTime`: the contract does not say the lists
/// take one, so the caller filters by date itself.
pub(crate) fn history_items() -> Vec<BatchItem> {
    let mine = "/filterByCurrentUser(on='principal')";
    let roles = format!("{ROLE_REQUESTS}{mine}");
    let groups = format!("{GROUP_REQUESTS}{mine}");
    vec![
        BatchItem::new(item::ME, &[ME_ID.to_owned()]),
        BatchItem::new(
            item::ROLE_HISTORY,
            &[
                format!("{roles}?$expand=roleDefinition,directoryScope"),
                format!("{roles}?$expand=roleDefinition"),
                roles.clone(),
            ],
        ),
        BatchItem::new(
            item::GROUP_HISTORY,
            &[
                format!("{groups}?$expand=group($select=id,displayName)"),
                groups.clone(),
            ],
        ),
    ]
}

/// PIM for Groups approvals (v1.0): `{GROUP_APPROVALS}/{request id}` holds the stages.
pub(crate) const GROUP_APPROVALS: &str =
    "/identityGovernance/privilegedAccess/group/assignmentApprovals";

/// The approver's `$batch` for one tenant ([`crate::Session::approvals`]): the Entra role and
/// group requests waiting for a decision where I am an approver
/// (`filterByCurrentUser(on='approver')`, `status eq 'PendingApproval'`), the requester and
/// the role or group expanded where the service can, plainer fallbacks after (the caller
/// keeps only `PendingApproval` items itself, in case a fallback drops the filter).
pub(crate) fn inbox_items() -> Vec<BatchItem> {
    let theirs = "/filterByCurrentUser(on='approver')";
    let pending = "$filter=status%20eq%20'PendingApproval'";
    let roles = format!("{ROLE_REQUESTS}{theirs}");
    let groups = format!("{GROUP_REQUESTS}{theirs}");
    vec![
        BatchItem::new(
            item::ROLE_INBOX,
            &[
                format!("{roles}?{pending}&$expand=principal,roleDefinition"),
                format!("{roles}?{pending}&$expand=roleDefinition"),
                format!("{roles}?{pending}"),
                roles.clone(),
            ],
        ),
        BatchItem::new(
            item::GROUP_INBOX,
            &[
                format!("{groups}?{pending}&$expand=principal,group"),
                format!("{groups}?{pending}&$expand=group"),
                format!("{groups}?{pending}"),
                groups.clone(),
            ],
        ),
    ]
}

/// The path that reads an Entra role definition's display name; an id that is no path
/// segment is refused ([`id_segment`]).
pub(crate) fn role_definition_name_path(id: &str) -> Result<String, Error> {
    id_segment(id)
        .map(|id| format!("/roleManagement/directory/roleDefinitions/{id}?$select=id,displayName"))
}

/// The path that reads a directory scope's display name: an administrative unit
/// (`/administrativeUnits/{id}`) or any other directory object (its last segment).
pub(crate) fn directory_scope_name_path(scope_id: &str) -> Result<String, Error> {
    let bare = scope_id.trim_start_matches('/');
    match bare.split_once('/') {
        Some((coll, oid)) if coll.eq_ignore_ascii_case("administrativeUnits") => id_segment(oid)
            .map(|oid| format!("/directory/administrativeUnits/{oid}?$select=id,displayName")),
        _ => id_segment(bare.rsplit('/').next().unwrap_or(bare))
            .map(|oid| format!("/directoryObjects/{oid}?$select=id,displayName")),
    }
}

/// The path that reads a group's display name.
pub(crate) fn group_name_path(group_id: &str) -> Result<String, Error> {
    id_segment(group_id).map(|gid| format!("/groups/{gid}?$select=id,displayName"))
}

/// The body of a schedule request for an Entra role or a group (`selfActivate`,
/// `selfExtend`, `selfDeactivate`), and the collection it is POSTed to. `schedule` is the
/// start and duration (none for a deactivation).
pub(crate) fn request_body(
    role: &Role,
    principal: &str,
    action: &Action,
    schedule: Option<(OffsetDateTime, PimDuration)>,
    req: &ActivationRequest,
) -> (&'static str, Value) {
    let mut body = serde_json::Map::new();
    body.insert("action".into(), json!(action.as_str()));
    body.insert("principalId".into(), json!(principal));
    let path = match role.kind {
        RoleKind::Group => {
            body.insert("groupId".into(), json!(role.scope.id));
            body.insert(
                "accessId".into(),
                json!(role.access.as_ref().map(|a| a.as_str()).unwrap_or("member")),
            );
            GROUP_REQUESTS
        }
        _ => {
            body.insert("roleDefinitionId".into(), json!(role.role_definition_id));
            match &role.app_scope_id {
                Some(app) => body.insert("appScopeId".into(), json!(app)),
                None => body.insert("directoryScopeId".into(), json!(role.scope.id)),
            };
            ROLE_REQUESTS
        }
    };
    insert_justification_and_ticket(&mut body, req);
    if let Some((start, duration)) = schedule {
        body.insert(
            "scheduleInfo".into(),
            json!({
                "startDateTime": format_datetime(start),
                "expiration": {"type": "afterDuration", "duration": duration.to_iso8601()}
            }),
        );
    }
    (path, Value::Object(body))
}

/// Adds `justification` (when not blank) and `ticketInfo` (when given) to a request body:
/// the same members on Graph and ARM.
pub(crate) fn insert_justification_and_ticket(
    body: &mut serde_json::Map<String, Value>,
    req: &ActivationRequest,
) {
    if let Some(j) = req
        .justification
        .as_deref()
        .filter(|j| !j.trim().is_empty())
    {
        body.insert("justification".into(), json!(j));
    }
    if let Some(t) = &req.ticket {
        body.insert(
            "ticketInfo".into(),
            json!({"ticketNumber": t.number, "ticketSystem": t.system}),
        );
    }
}

/// Encodes an OData string literal (`'` doubled) for use inside a URL.
pub(crate) fn odata_literal(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'#')
        .add(b'&')
        .add(b'+')
        .add(b'?')
        .add(b'%')
        .add(b'"');
    percent_encoding::utf8_percent_encode(&s.replace('\'', "''"), SET).to_string()
}

/// Characters kept as they are in a path segment: RFC 3986 unreserved characters and the
/// sub-delimiters, `:` and `@`; everything else (`/`, `?`, `#`, `%`, backslash, spaces, non-ASCII)
/// is percent-encoded.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// Encodes a path segment (opaque ids): the result is always one segment. An id that is
/// empty, `.` or `..` is refused by [`id_segment`]; use that for ids from responses.
pub(crate) fn path_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// An id from a response as one encoded path segment; an empty id, `.` or `..` (which
/// would name another path) is the server's error.
pub(crate) fn id_segment(id: &str) -> Result<String, Error> {
    if matches!(id, "" | "." | "..") {
        return Err(Error::InvalidResponse(format!(
            "the service sent `{}` as an id, which is not one",
            id.escape_debug()
        )));
    }
    Ok(path_segment(id))
}

/// Graph client for one session.
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    pub http: Http,
}

impl Graph {
    fn base(&self) -> String {
        format!(
            "{}/v1.0",
            self.http.endpoints.graph.as_str().trim_end_matches('/')
        )
    }

    /// Absolute URL for a relative Graph path.
    pub fn url(&self, rel: &str) -> String {
        format!("{}{}", self.base(), rel)
    }

    /// **Graph beta, the only beta URL the client builds**: an Entra role approval
    /// (`/beta/roleManagement/directory/roleAssignmentApprovals/{id}`, whose `steps` say who
    /// decides) or one of its steps (`…/steps/{stepId}`, PATCHed to decide). Microsoft offers
    /// Entra role approvals in beta only ("The roleAssignmentApprovals APIs are only available
    /// in /beta", Entra docs `pim-apis.md`; v1.0 answers 400): beta APIs may change without
    /// notice, so every use goes through here. Ids from responses must be one path segment.
    pub fn entra_approval_beta_url(
        &self,
        approval_id: &str,
        step_id: Option<&str>,
    ) -> Result<String, Error> {
        let base = format!(
            "{}/beta/roleManagement/directory/roleAssignmentApprovals/{}",
            self.http.endpoints.graph.as_str().trim_end_matches('/'),
            id_segment(approval_id)?
        );
        Ok(match step_id {
            Some(s) => format!("{base}/steps/{}", id_segment(s)?),
            None => base,
        })
    }

    /// A PIM for Groups approval (v1.0, its `stages`) or one of its steps (`…/steps/{id}`,
    /// PATCHed to decide, as the update page documents it).
    pub fn group_approval_url(
        &self,
        approval_id: &str,
        step_id: Option<&str>,
    ) -> Result<String, Error> {
        let base = self.url(&format!("{GROUP_APPROVALS}/{}", id_segment(approval_id)?));
        Ok(match step_id {
            Some(s) => format!("{base}/steps/{}", id_segment(s)?),
            None => base,
        })
    }

    /// POSTs a schedule request (`path` = collection path). Never retried here (except 429).
    pub async fn post_request(
        &self,
        tenant: &str,
        path: &str,
        body: Value,
        claims: Option<String>,
    ) -> Result<GraphRequest, Failure> {
        let call = Call {
            method: Method::POST,
            url: self.url(path),
            tenant: tenant.to_owned(),
            resource: Resource::Graph,
            body: Some(body),
            idempotent: false,
            claims,
        };
        let r = self.http.call(&call).await?;
        let v = match r.json() {
            Ok(Value::Object(m)) => Value::Object(m),
            _ => Value::Object(Default::default()),
        };
        serde_json::from_value(v)
            .map_err(|e| Failure::Definite(Error::InvalidResponse(format!("request: {e}"))))
    }

    /// Lists my requests at a `filterByCurrentUser` collection (all pages).
    pub async fn my_requests(&self, tenant: &str, path: &str) -> Result<Vec<GraphRequest>, Error> {
        let url = self.url(&format!("{path}/filterByCurrentUser(on='principal')"));
        let items = self.http.get_all(tenant, Resource::Graph, &url).await?;
        Ok(parse_items("requests", items))
    }

    /// Cancels a request (`POST {path}/{id}/cancel`).
    pub async fn cancel(&self, tenant: &str, path: &str, id: &str) -> Result<(), Error> {
        let call = Call {
            method: Method::POST,
            url: self.url(&format!("{path}/{}/cancel", id_segment(id)?)),
            tenant: tenant.to_owned(),
            resource: Resource::Graph,
            body: None,
            idempotent: true, // cancelling twice is harmless
            claims: None,
        };
        self.http.call(&call).await?;
        Ok(())
    }

    /// Rules of a policy by id (`/policies/roleManagementPolicies/{id}/rules`).
    pub async fn policy_rules(&self, tenant: &str, policy_id: &str) -> Result<Policy, Error> {
        let url = self.url(&format!(
            "/policies/roleManagementPolicies/{}/rules",
            id_segment(policy_id)?
        ));
        let rules = self.http.get_all(tenant, Resource::Graph, &url).await?;
        let mut p = Policy::from_rules(&rules);
        p.policy_id = Some(policy_id.to_owned());
        Ok(p)
    }

    /// An Entra role's directory-wide policy: the assignment with expanded rules; on 500
    /// (or 400, 501) the assignment without expansion and then the rules by policy id.
    pub async fn entra_policy(
        &self,
        tenant: &str,
        role_definition_id: &str,
    ) -> Result<Policy, Error> {
        let filter = format!(
            "$filter=scopeId%20eq%20'/'%20and%20scopeType%20eq%20'DirectoryRole'%20and%20roleDefinitionId%20eq%20'{}'",
            odata_literal(role_definition_id)
        );
        let url = self.url(&format!(
            "/policies/roleManagementPolicyAssignments?{filter}&$expand=policy($expand=rules)"
        ));
        let items = match self.http.get_all(tenant, Resource::Graph, &url).await {
            Ok(i) => i,
            Err(Error::Api {
                status: 500 | 400 | 501,
                ..
            }) => {
                let plain = self.url(&format!(
                    "/policies/roleManagementPolicyAssignments?{filter}"
                ));
                self.http.get_all(tenant, Resource::Graph, &plain).await?
            }
            Err(e) => return Err(e),
        };
        let pa = parse_items::<GraphPolicyAssignment>("policy assignments", items)
            .into_iter()
            .next()
            .ok_or_else(|| Error::InvalidResponse("no policy assignment for this role".into()))?;
        policy_from_assignment(self, tenant, pa).await
    }

    /// A group's policy (member or owner): assignment with expanded rules; on 500 (or 400)
    /// the assignment without expansion and then the rules by policy id.
    pub async fn group_policy(
        &self,
        tenant: &str,
        group_id: &str,
        access: &str,
    ) -> Result<Policy, Error> {
        let filter = format!(
            "$filter=scopeId%20eq%20'{}'%20and%20scopeType%20eq%20'Group'%20and%20roleDefinitionId%20eq%20'{}'",
            odata_literal(group_id),
            odata_literal(access)
        );
        let expanded = self.url(&format!(
            "/policies/roleManagementPolicyAssignments?{filter}&$expand=policy($expand=rules)"
        ));
        match self.http.get_all(tenant, Resource::Graph, &expanded).await {
            Ok(items) => {
                let pas: Vec<GraphPolicyAssignment> = parse_items("policy assignments", items);
                let pa = pas
                    .into_iter()
                    .find(|p| {
                        p.role_definition_id
                            .as_deref()
                            .is_none_or(|r| r.eq_ignore_ascii_case(access))
                    })
                    .ok_or_else(|| {
                        Error::InvalidResponse("no policy assignment for this group".into())
                    })?;
                policy_from_assignment(self, tenant, pa).await
            }
            Err(Error::Api {
                status: 500 | 400 | 501,
                ..
            }) => {
                let plain = self.url(&format!(
                    "/policies/roleManagementPolicyAssignments?{filter}"
                ));
                let items = self.http.get_all(tenant, Resource::Graph, &plain).await?;
                let pas: Vec<GraphPolicyAssignment> = parse_items("policy assignments", items);
                let id = pas
                    .into_iter()
                    .find_map(|p| p.policy_id.into_option())
                    .ok_or_else(|| Error::InvalidResponse("no policy id for this group".into()))?;
                self.policy_rules(tenant, &id).await
            }
            Err(e) => Err(e),
        }
    }
}

/// Policy from an assignment: its expanded rules, or (when not expanded) the rules by id.
pub(crate) async fn policy_from_assignment(
    g: &Graph,
    tenant: &str,
    pa: GraphPolicyAssignment,
) -> Result<Policy, Error> {
    let policy_id = pa
        .policy_id
        .get()
        .or_else(|| pa.policy.as_ref().and_then(|p| p.id.get()));
    match pa.policy.and_then(|p| p.rules) {
        Some(rules) => {
            let mut p = Policy::from_rules(&rules);
            p.policy_id = policy_id;
            Ok(p)
        }
        None => match policy_id {
            Some(id) => g.policy_rules(tenant, &id).await,
            None => Err(Error::InvalidResponse(
                "policy assignment without policy".into(),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::test_server::{TestServer, response};

    #[tokio::test]
    async fn batch_item_statuses_outside_http_are_invalid_responses() {
        let body = json!({"responses": [
            // 65736 used to be read as 65736 % 65536 = 200.
            {"id": "a", "status": 65736, "body": {"value": []}},
            {"id": "b", "status": -1, "body": {}},
            {"id": "c", "status": "99", "body": {}},
            {"id": "d", "status": "200", "body": {"value": [1]}},
            {"id": "e", "status": 404, "body": {"error": {"code": "NotFound", "message": "no"}}}
        ]})
        .to_string();
        let server = TestServer::start(move |_, _| response(200, body.as_bytes(), true)).await;
        let graph = Graph {
            http: crate::http::tests::test_http(&server.base),
        };
        let items = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|id| BatchItem::new(id, &["/x".to_owned()]))
            .collect();
        let mut results = graph.batch("t", items).await;
        for id in ["a", "b", "c"] {
            let r = results.remove(id).unwrap();
            assert!(matches!(r, Err(Error::InvalidResponse(_))), "{id}: {r:?}");
        }
        assert_eq!(results.remove("d").unwrap().unwrap().body["value"][0], 1);
        assert!(matches!(
            results.remove("e").unwrap(),
            Err(Error::Api { status: 404, .. })
        ));
    }

    /// A server that records the request targets it receives and answers `body`.
    async fn recording(body: &'static str) -> (TestServer, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let server = TestServer::start(move |method, path| {
            log.lock().unwrap().push(format!("{method} {path}"));
            response(200, body.as_bytes(), true)
        })
        .await;
        (server, seen)
    }

    #[tokio::test]
    async fn ids_from_responses_are_one_path_segment() {
        let (server, seen) = recording(r#"{"value":[]}"#).await;
        let graph = Graph {
            http: crate::http::tests::test_http(&server.base),
        };
        let odd = "x/../../me?y=1#z %\\é";
        graph.policy_rules("t", odd).await.unwrap();
        graph.cancel("t", "/requests", odd).await.unwrap();
        let enc = "x%2F..%2F..%2Fme%3Fy=1%23z%20%25%5C%C3%A9";
        assert_eq!(
            *seen.lock().unwrap(),
            [
                format!("GET /v1.0/policies/roleManagementPolicies/{enc}/rules"),
                format!("POST /v1.0/requests/{enc}/cancel"),
            ]
        );
        for bad in ["", ".", ".."] {
            let err = graph.policy_rules("t", bad).await.unwrap_err();
            assert!(matches!(err, Error::InvalidResponse(_)), "{bad:?}: {err:?}");
            let err = graph.cancel("t", "/requests", bad).await.unwrap_err();
            assert!(matches!(err, Error::InvalidResponse(_)), "{bad:?}: {err:?}");
        }
        assert_eq!(seen.lock().unwrap().len(), 2, "a bad id was sent");
    }

    #[tokio::test]
    async fn batch_next_links_stay_on_the_graph_origin() {
        let elsewhere = TestServer::start(|_, _| response(200, br#"{"value":[]}"#, true)).await;
        let link = format!("{}/v1.0/next", elsewhere.base);
        let body = json!({"responses": [
            {"id": "a", "status": 200, "body": {"value": [1], "@odata.nextLink": link}}
        ]})
        .to_string();
        let server = TestServer::start(move |_, _| response(200, body.as_bytes(), true)).await;
        let graph = Graph {
            http: crate::http::tests::test_http(&server.base),
        };
        let mut results = graph
            .batch("t", vec![BatchItem::new("a", &["/x".to_owned()])])
            .await;
        let err = graph
            .collect("t", results.remove("a").unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidResponse(m) if m.contains(&link)),
            "{err:?}"
        );
        assert_eq!(elsewhere.hits(), 0);
    }

    #[test]
    fn odata_literals_are_quoted_and_encoded() {
        assert_eq!(odata_literal("O'Brien & co"), "O''Brien%20%26%20co");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(path_segment("a\\b"), "a%5Cb");
        assert_eq!(path_segment("x@y:z"), "x@y:z");
    }

    #[test]
    fn item_bodies_may_be_base64() {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::STANDARD.encode(br#"{"value":[1]}"#);
        assert_eq!(item_body(Some(&Value::String(b))), json!({"value": [1]}));
        assert_eq!(item_body(None), Value::Null);
        let h = lower_keys(Some(&json!({"Retry-After": "2.5", "X": 1})));
        assert_eq!(h.get("retry-after").map(String::as_str), Some("2.5"));
    }

    #[test]
    fn request_bodies_follow_the_contract() {
        use time::macros::datetime;

        use crate::model::{AccessId, EligibleRole, Scope, ScopeKind, Ticket};
        use crate::testing::{eligible, test_role};
        let role = Role {
            kind: RoleKind::AzureResource,
            scope: Scope {
                id: "/subscriptions/s".into(),
                display_name: "Prod".into(),
                kind: ScopeKind::Subscription,
            },
            eligibility: Some(EligibleRole {
                schedule_id: Some("/x/roleEligibilitySchedules/e1".into()),
                ..eligible()
            }),
            ..test_role(
                "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/b2",
                "Contributor",
            )
        };
        let req = ActivationRequest {
            justification: Some("fix".into()),
            ticket: Some(Ticket {
                number: "1".into(),
                system: "J".into(),
            }),
            ..Default::default()
        };
        let b = crate::arm::request_body(
            &role,
            "me",
            &Action::SelfActivate,
            Some((
                datetime!(2026-08-21 08:00 UTC),
                PimDuration::from_minutes(90),
            )),
            &req,
        );
        assert_eq!(b["properties"]["requestType"], "SelfActivate");
        assert_eq!(
            b["properties"]["scheduleInfo"]["expiration"]["duration"],
            "PT1H30M"
        );
        assert_eq!(
            b["properties"]["scheduleInfo"]["expiration"]["type"],
            "AfterDuration"
        );
        assert_eq!(
            b["properties"]["linkedRoleEligibilityScheduleId"],
            "/x/roleEligibilitySchedules/e1"
        );
        let mut g = role.clone();
        g.kind = RoleKind::Group;
        g.access = Some(AccessId::Owner);
        g.scope.id = "grp".into();
        let (path, b) = request_body(
            &g,
            "me",
            &Action::SelfActivate,
            Some((datetime!(2026-08-21 08:00 UTC), PimDuration::from_hours(2))),
            &req,
        );
        assert_eq!(path, GROUP_REQUESTS);
        assert_eq!(b["accessId"], "owner");
        assert_eq!(b["action"], "selfActivate");
        assert_eq!(
            b["scheduleInfo"]["startDateTime"],
            "2026-08-21T08:00:00.000Z"
        );
        assert_eq!(b["scheduleInfo"]["expiration"]["type"], "afterDuration");
        assert_eq!(b["ticketInfo"]["ticketSystem"], "J");
    }
}
