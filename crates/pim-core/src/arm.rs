//! Azure Resource Manager client: tenants, my eligibility/assignment instances, my requests
//! (provider level, falling back per scope), schedule requests (PUT with a client-chosen GUID,
//! idempotent), cancel, policies (effective rules), the names of role definitions and
//! subscriptions; and the ARM request bodies the session sends.

use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::duration::PimDuration;
use crate::error::Error;
use crate::graph::{id_segment, insert_justification_and_ticket, path_segment};
use crate::http::{Call, Failure, Http};
use crate::model::{Action, ActivationRequest, Role};
use crate::policy::Policy;
use crate::token::Resource;
use crate::wire::{
    ArmInstanceProps, ArmPolicyAssignmentProps, ArmRequestProps, ArmResource, ArmTenant,
    format_datetime, last_segment, parse_items,
};

/// PIM api-version.
pub const API_VERSION: &str = "2020-10-01";
/// The api-version of `roleAssignmentApprovals` (a preview: the only one Microsoft publishes).
pub const APPROVALS_API_VERSION: &str = "2021-01-01-preview";
const AUTHZ: &str = "/providers/Microsoft.Authorization";

/// An ARM resource id or scope from a response (`/subscriptions/…/resourceGroups/…`, a
/// role definition or policy id) as an encoded path to append to the ARM base URL: empty or
/// `/` for the root, otherwise it starts with `/` and has no empty, `.` or `..` segment;
/// each segment is percent-encoded on its own. Anything else (`@host`, `.example.com`,
/// `https://…`, `/../`) is the server's error: such an id could send the token elsewhere.
pub(crate) fn arm_path(id: &str) -> Result<String, Error> {
    let trimmed = id.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let bad = || {
        Error::InvalidResponse(format!(
            "the service sent `{}` as an Azure resource id, which is not one",
            id.chars().take(200).collect::<String>().escape_debug()
        ))
    };
    let rest = trimmed.strip_prefix('/').ok_or_else(bad)?;
    let mut out = String::with_capacity(trimmed.len());
    for seg in rest.split('/') {
        if matches!(seg, "" | "." | "..") {
            return Err(bad());
        }
        out.push('/');
        out.push_str(&path_segment(seg));
    }
    Ok(out)
}

/// The body of a schedule request for an Azure role (`SelfActivate`, `SelfExtend`,
/// `SelfDeactivate`); `schedule` is the start and duration (none for a deactivation).
pub(crate) fn request_body(
    role: &Role,
    principal: &str,
    action: &Action,
    schedule: Option<(OffsetDateTime, PimDuration)>,
    req: &ActivationRequest,
) -> Value {
    let mut p = serde_json::Map::new();
    p.insert("principalId".into(), json!(principal));
    p.insert("roleDefinitionId".into(), json!(role.role_definition_id));
    p.insert("requestType".into(), json!(action.as_pascal()));
    if *action == Action::SelfActivate
        && let Some(s) = role
            .eligibility
            .as_ref()
            .and_then(|e| e.schedule_id.clone())
    {
        p.insert("linkedRoleEligibilityScheduleId".into(), json!(s));
    }
    if *action == Action::SelfExtend
        && let Some(s) = role.assignment.as_ref().and_then(|a| a.schedule_id.clone())
    {
        p.insert("targetRoleAssignmentScheduleId".into(), json!(s));
    }
    insert_justification_and_ticket(&mut p, req);
    if let Some((start, duration)) = schedule {
        p.insert(
            "scheduleInfo".into(),
            json!({
                "startDateTime": format_datetime(start),
                "expiration": {"type": "AfterDuration", "endDateTime": null, "duration": duration.to_iso8601()}
            }),
        );
    }
    json!({ "properties": Value::Object(p) })
}

/// ARM client for one session.
#[derive(Debug, Clone)]
pub(crate) struct Arm {
    pub http: Http,
}

impl Arm {
    fn base(&self) -> String {
        self.http
            .endpoints
            .arm
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    /// `{base}{scope}/providers/Microsoft.Authorization/{rest}`; `scope` (from a response) must
    /// be an ARM path ([`arm_path`]).
    fn scoped(&self, scope: &str, rest: &str) -> Result<String, Error> {
        Ok(format!("{}{}{AUTHZ}/{rest}", self.base(), arm_path(scope)?))
    }

    /// The URL that reads a role definition (its `properties.roleName`); `id` (from a
    /// response) must be an ARM path ([`arm_path`]).
    pub fn role_definition_url(&self, id: &str) -> Result<String, Error> {
        Ok(format!(
            "{}{}?api-version=2022-04-01",
            self.base(),
            arm_path(id)?
        ))
    }

    /// The URL that reads the caller's permissions at `scope` (`{scope}/providers/
    /// Microsoft.Authorization/permissions`, api-version 2022-04-01); `scope` must be an ARM
    /// path ([`arm_path`]).
    pub fn permissions_url(&self, scope: &str) -> Result<String, Error> {
        self.scoped(scope, "permissions?api-version=2022-04-01")
    }

    /// The URL that reads a subscription (its `displayName`); `id` (from a response) must
    /// be an ARM path ([`arm_path`]).
    pub fn subscription_url(&self, id: &str) -> Result<String, Error> {
        Ok(format!(
            "{}{}?api-version=2020-01-01",
            self.base(),
            arm_path(id)?
        ))
    }

    /// A role assignment approval (`/providers/Microsoft.Authorization/roleAssignmentApprovals/
    /// {name}`, its `stages`) or one of its stages (`…/stages/{stageId}`, PATCHed to decide);
    /// api-version [`APPROVALS_API_VERSION`]. Names from responses must be one path segment.
    pub fn approval_url(&self, name: &str, stage: Option<&str>) -> Result<String, Error> {
        let mut rest = format!("roleAssignmentApprovals/{}", id_segment(name)?);
        if let Some(s) = stage {
            rest.push_str(&format!("/stages/{}", id_segment(s)?));
        }
        self.scoped("", &format!("{rest}?api-version={APPROVALS_API_VERSION}"))
    }

    /// Requests where I am an approver (provider level, `asApprover()`, every page): the
    /// requester, role, scope and what was asked, as raw items.
    pub async fn approver_requests(&self, tenant: &str) -> Result<Vec<Value>, Error> {
        let url = self.scoped(
            "",
            &format!(
                "roleAssignmentScheduleRequests?api-version={API_VERSION}&$filter=asApprover()"
            ),
        )?;
        self.http.get_all(tenant, Resource::Arm, &url).await
    }

    /// Approvals where I am an approver (`roleAssignmentApprovals`, `asApprover()`, every
    /// page): their stages, as raw items.
    pub async fn approvals_as_approver(&self, tenant: &str) -> Result<Vec<Value>, Error> {
        let url = self.scoped(
            "",
            &format!(
                "roleAssignmentApprovals?api-version={APPROVALS_API_VERSION}&$filter=asApprover()"
            ),
        )?;
        self.http.get_all(tenant, Resource::Arm, &url).await
    }

    /// `GET /tenants?api-version=2020-01-01` with the home tenant's token.
    pub async fn tenants(&self, home: &str) -> Result<Vec<ArmTenant>, Error> {
        let url = format!("{}/tenants?api-version=2020-01-01", self.base());
        let items = self.http.get_all(home, Resource::Arm, &url).await?;
        Ok(parse_items("tenants", items))
    }

    /// My eligibility instances (provider level, `asTarget()`).
    pub async fn eligibility(
        &self,
        tenant: &str,
    ) -> Result<Vec<ArmResource<ArmInstanceProps>>, Error> {
        let url = self.scoped(
            "",
            &format!(
                "roleEligibilityScheduleInstances?api-version={API_VERSION}&$filter=asTarget()"
            ),
        )?;
        let items = self.http.get_all(tenant, Resource::Arm, &url).await?;
        Ok(parse_items("eligibility instances", items))
    }

    /// My active instances (provider level, `asTarget()`).
    pub async fn assignments(
        &self,
        tenant: &str,
    ) -> Result<Vec<ArmResource<ArmInstanceProps>>, Error> {
        let url = self.scoped(
            "",
            &format!(
                "roleAssignmentScheduleInstances?api-version={API_VERSION}&$filter=asTarget()"
            ),
        )?;
        let items = self.http.get_all(tenant, Resource::Arm, &url).await?;
        Ok(parse_items("assignment instances", items))
    }

    /// My requests at provider level (`asRequestor()`); `Ok(None)` when the service refuses
    /// the provider-level listing (contract C.6 uncertainty): then use [`Arm::requests_at`].
    pub async fn requests_provider(
        &self,
        tenant: &str,
    ) -> Result<Option<Vec<ArmResource<ArmRequestProps>>>, Error> {
        let q = format!(
            "roleAssignmentScheduleRequests?api-version={API_VERSION}&$filter=asRequestor()"
        );
        match self
            .http
            .get_all(tenant, Resource::Arm, &self.scoped("", &q)?)
            .await
        {
            Ok(items) => Ok(Some(parse_items("requests", items))),
            Err(e)
                if e.needs_user() || matches!(e, Error::Transport(_) | Error::Throttled { .. }) =>
            {
                Err(e)
            }
            Err(e) => {
                tracing::info!(error = %e, "provider-level request listing refused; listing per scope");
                Ok(None)
            }
        }
    }

    /// My requests at each scope (in parallel), de-duplicated; scopes that fail are skipped.
    pub async fn requests_at(
        &self,
        tenant: &str,
        scopes: &[String],
    ) -> Vec<ArmResource<ArmRequestProps>> {
        let q = format!(
            "roleAssignmentScheduleRequests?api-version={API_VERSION}&$filter=asRequestor()"
        );
        let q = &q;
        let futs = scopes.iter().map(|s| async move {
            let url = self.scoped(s, q)?;
            self.http.get_all(tenant, Resource::Arm, &url).await
        });
        let results = futures::future::join_all(futs).await;
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in results {
            match r {
                Ok(items) => {
                    for it in parse_items::<ArmResource<ArmRequestProps>>("requests", items) {
                        let key = it
                            .name
                            .get()
                            .or(it.id.get())
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        if seen.insert(key) {
                            out.push(it);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "listing requests at a scope failed"),
            }
        }
        out
    }

    /// `PUT {scope}/.../roleAssignmentScheduleRequests/{name}`.
    pub async fn put_request(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
        body: Value,
        claims: Option<String>,
    ) -> Result<ArmResource<ArmRequestProps>, Failure> {
        let url = id_segment(name)
            .and_then(|name| {
                self.scoped(
                    scope,
                    &format!("roleAssignmentScheduleRequests/{name}?api-version={API_VERSION}"),
                )
            })
            .map_err(Failure::Definite)?;
        let call = Call {
            method: Method::PUT,
            url,
            tenant: tenant.to_owned(),
            resource: Resource::Arm,
            body: Some(body),
            idempotent: false, // uncertain outcomes are reconciled by GET of the same name
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

    /// `GET` a request by name; `Ok(None)` when it does not exist.
    pub async fn get_request(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
    ) -> Result<Option<ArmResource<ArmRequestProps>>, Error> {
        let url = self.scoped(
            scope,
            &format!(
                "roleAssignmentScheduleRequests/{}?api-version={API_VERSION}",
                id_segment(name)?
            ),
        )?;
        match self.http.get_json(tenant, Resource::Arm, &url).await {
            Ok(v) => Ok(serde_json::from_value(v).ok()),
            Err(Error::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST {scope}/.../roleAssignmentScheduleRequests/{name}/cancel`.
    pub async fn cancel(&self, tenant: &str, scope: &str, name: &str) -> Result<(), Error> {
        let call = Call {
            method: Method::POST,
            url: self.scoped(
                scope,
                &format!(
                    "roleAssignmentScheduleRequests/{}/cancel?api-version={API_VERSION}",
                    id_segment(name)?
                ),
            )?,
            tenant: tenant.to_owned(),
            resource: Resource::Arm,
            body: None,
            idempotent: true,
            claims: None,
        };
        self.http.call(&call).await?;
        Ok(())
    }

    /// The policy of a role at a scope, from the policy assignment's effective rules.
    pub async fn policy(
        &self,
        tenant: &str,
        scope: &str,
        role_definition_id: &str,
    ) -> Result<Policy, Error> {
        let filtered = self.scoped(
            scope,
            &format!(
                "roleManagementPolicyAssignments?api-version={API_VERSION}&$filter=roleDefinitionId%20eq%20'{}'",
                crate::graph::odata_literal(role_definition_id)
            ),
        )?;
        let items = match self.http.get_all(tenant, Resource::Arm, &filtered).await {
            Ok(i) => i,
            Err(Error::Api { status: 400, .. }) => {
                let plain = self.scoped(
                    scope,
                    &format!("roleManagementPolicyAssignments?api-version={API_VERSION}"),
                )?;
                self.http.get_all(tenant, Resource::Arm, &plain).await?
            }
            Err(e) => return Err(e),
        };
        let want = last_segment(role_definition_id);
        let pas: Vec<ArmResource<ArmPolicyAssignmentProps>> =
            parse_items("policy assignments", items);
        let pa = pas
            .into_iter()
            .filter_map(|r| r.properties)
            .find(|p| {
                p.role_definition_id
                    .as_deref()
                    .is_none_or(|r| last_segment(r) == want)
            })
            .ok_or_else(|| Error::InvalidResponse("no policy assignment for this role".into()))?;
        if !pa.effective_rules.is_empty() {
            let mut p = Policy::from_rules(&pa.effective_rules);
            p.policy_id = pa.policy_id.into_option();
            return Ok(p);
        }
        let pid = pa.policy_id.into_option().ok_or_else(|| {
            Error::InvalidResponse("policy assignment without rules or policy id".into())
        })?;
        let url = format!(
            "{}{}?api-version={API_VERSION}",
            self.base(),
            arm_path(&pid)?
        );
        let v = self.http.get_json(tenant, Resource::Arm, &url).await?;
        let props = v.get("properties").cloned().unwrap_or(Value::Null);
        let rules = props
            .get("effectiveRules")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .or_else(|| props.get("rules").and_then(Value::as_array))
            .cloned()
            .unwrap_or_default();
        let mut p = Policy::from_rules(&rules);
        p.policy_id = Some(pid);
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::test_server::{TestServer, response};

    #[test]
    fn arm_paths_are_paths() {
        assert_eq!(arm_path("").unwrap(), "");
        assert_eq!(arm_path("/").unwrap(), "");
        assert_eq!(
            arm_path("/subscriptions/s1/resourceGroups/rg (1)/").unwrap(),
            "/subscriptions/s1/resourceGroups/rg%20(1)"
        );
        for bad in [
            "@evil.example/x",
            ".evil.example/x",
            "https://evil.example/x",
            "subscriptions/s1",
            "/subscriptions/../x",
            "/subscriptions//x",
            "/subscriptions/./x",
        ] {
            assert!(
                matches!(arm_path(bad), Err(Error::InvalidResponse(_))),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn scopes_names_and_policy_ids_stay_on_the_arm_origin() {
        let elsewhere = TestServer::start(|_, _| response(200, b"{}", true)).await;
        let evil = format!("@{}", elsewhere.base.trim_start_matches("http://"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let pid = format!("{evil}/p");
        let assignments = serde_json::json!({"value": [{"properties": {
            "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/r",
            "policyId": pid
        }}]})
        .to_string();
        let home = TestServer::start(move |method, path| {
            log.lock().unwrap().push(format!("{method} {path}"));
            if path.contains("roleManagementPolicyAssignments") {
                response(200, assignments.as_bytes(), true)
            } else {
                response(200, b"{}", true)
            }
        })
        .await;
        let arm = Arm {
            http: crate::http::tests::test_http(&home.base),
        };
        let body = serde_json::json!({});
        for scope in [evil.as_str(), ".evil.example", "/subscriptions/../.."] {
            let r = arm.put_request("t", scope, "n", body.clone(), None).await;
            assert!(
                matches!(r, Err(Failure::Definite(Error::InvalidResponse(_)))),
                "{scope}: {r:?}"
            );
            let r = arm.get_request("t", scope, "n").await;
            assert!(
                matches!(r, Err(Error::InvalidResponse(_))),
                "{scope}: {r:?}"
            );
            let r = arm.cancel("t", scope, "n").await;
            assert!(
                matches!(r, Err(Error::InvalidResponse(_))),
                "{scope}: {r:?}"
            );
        }
        let r = arm.cancel("t", "/subscriptions/s", "..").await;
        assert!(matches!(r, Err(Error::InvalidResponse(_))), "{r:?}");
        // The policy id read from a response.
        let err = arm.policy("t", "/subscriptions/s", "r").await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidResponse(m) if m.contains(&pid)),
            "{err:?}"
        );
        assert_eq!(elsewhere.hits(), 0, "a token went to another origin");
        // Legitimate scopes and names keep working, encoded per segment.
        arm.cancel("t", "/subscriptions/s/resourceGroups/rg (1)", "a/b")
            .await
            .unwrap();
        let last = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            last,
            format!(
                "POST /subscriptions/s/resourceGroups/rg%20(1){AUTHZ}/roleAssignmentScheduleRequests/a%2Fb/cancel?api-version={API_VERSION}"
            )
        );
    }
}
