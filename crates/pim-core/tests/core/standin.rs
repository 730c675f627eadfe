//! An odd but contract-conforming stand-in (not pim-sim): no `$batch`, no `$expand`, nulls,
//! upper-case enums, ARM ids in different shapes, no `expandedProperties`, forbidden
//! policies and groups (double-wrapped), provider-level ARM request listing refused.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use pim_core::config::{Endpoints, MapEnv};
use pim_core::token::{AccessToken, Secret, TokenRequest, TokenSource};
use pim_core::{PolicyInfo, RoleKind, RoleState, Session, SessionOptions};
use serde_json::{Value, json};

#[derive(Debug)]
struct StaticTokens;

#[async_trait]
impl TokenSource for StaticTokens {
    async fn access_token(&self, _req: &TokenRequest) -> pim_core::Result<AccessToken> {
        Ok(AccessToken {
            token: Secret::new("e30.eyJvaWQiOiJ1MSJ9."),
            expires_on: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        })
    }
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn wrapped_403() -> Response {
    let inner = json!({"errorCode": "PermissionScopeNotGranted", "message": "Authorization failed due to missing permission scope X.", "instanceAnnotations": []});
    (
        StatusCode::FORBIDDEN,
        axum::Json(json!({"error": {"code": "UnknownError", "message": inner.to_string(), "innerError": {"request-id": "rid-1"}}})),
    )
        .into_response()
}

async fn handler(base: Arc<String>, method: Method, uri: Uri, _body: Bytes) -> Response {
    let path = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8_lossy()
        .to_string();
    let query = percent_encoding::percent_decode_str(uri.query().unwrap_or(""))
        .decode_utf8_lossy()
        .to_string();
    let expand = query.contains("$expand");
    match (method.as_str(), path.as_str()) {
        ("POST", "/v1.0/$batch") => StatusCode::NOT_FOUND.into_response(),
        ("GET", "/tenants") => ok(
            json!({"value": [{"tenantId": "t1", "displayName": null, "defaultDomain": "odd.example", "domains": null}]}),
        ),
        ("GET", "/v1.0/me") => ok(json!({"id": "u1", "displayName": null})),
        ("GET", p) if p.contains("roleEligibilityScheduleInstances/filterByCurrentUser") => {
            if expand {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(
                        json!({"error": {"code": "BadRequest", "message": "expand unsupported"}}),
                    ),
                )
                    .into_response();
            }
            if query.contains("page=2") {
                ok(
                    json!({"value": [{"id": 7, "roleDefinitionId": "r2", "directoryScopeId": "/administrativeUnits/au1", "memberType": "DIRECT", "startDateTime": null, "endDateTime": null, "newField": [1]}]}),
                )
            } else {
                ok(json!({
                    "@odata.nextLink": format!("{base}/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')?page=2"),
                    "value": [{"id": "e-1", "roleDefinitionId": "r1", "directoryScopeId": null, "memberType": "Direct", "roleEligibilityScheduleId": "s1"}]
                }))
            }
        }
        ("GET", p) if p.contains("roleAssignmentScheduleInstances/filterByCurrentUser") => {
            if expand {
                return (StatusCode::NOT_IMPLEMENTED, "no").into_response();
            }
            ok(
                json!({"value": [{"roleDefinitionId": "r1", "directoryScopeId": "/", "assignmentType": "ACTIVATED", "memberType": "direct",
                "startDateTime": "2020-01-01T00:00:00.1234567Z", "endDateTime": "2099-01-01T00:00:00Z"}]}),
            )
        }
        ("GET", p) if p.contains("roleAssignmentScheduleRequests/filterByCurrentUser") => {
            ok(json!({"value": null}))
        }
        ("GET", "/v1.0/policies/roleManagementPolicyAssignments") => wrapped_403(),
        ("GET", p) if p.starts_with("/v1.0/identityGovernance") => wrapped_403(),
        ("GET", "/v1.0/roleManagement/directory/roleDefinitions/r1") => {
            ok(json!({"id": "r1", "displayName": "Odd Role"}))
        }
        ("GET", "/v1.0/directory/administrativeUnits/au1") => {
            ok(json!({"id": "au1", "displayName": "AU One"}))
        }
        ("GET", "/providers/Microsoft.Authorization/roleEligibilityScheduleInstances") => {
            ok(json!({"value": [
            {"name": "i1", "properties": {"scope": "/subscriptions/S1/resourceGroups/RG-Odd",
             "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/g1",
             "roleEligibilityScheduleId": "e1", "memberType": "direct", "expandedProperties": null}}
        ], "nextLink": null}))
        }
        ("GET", "/providers/Microsoft.Authorization/roleAssignmentScheduleInstances") => {
            ok(json!({"value": [
                {"properties": {"scope": "/subscriptions/s1/resourcegroups/rg-odd",
                 "roleDefinitionId": "/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/G1",
                 "linkedRoleEligibilityScheduleId": "/subscriptions/s1/providers/Microsoft.Authorization/roleEligibilitySchedules/E1",
                 "assignmentType": "activated", "startDateTime": "2020-01-01T00:00:00Z", "endDateTime": "2099-01-01T00:00:00Z"}}
            ]}))
        }
        ("GET", "/providers/Microsoft.Authorization/roleAssignmentScheduleRequests") => (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"error": {"code": "InvalidFilter", "message": "not at provider level"}}),
            ),
        )
            .into_response(),
        ("GET", p)
            if p.ends_with("/providers/Microsoft.Authorization/roleAssignmentScheduleRequests") =>
        {
            ok(json!({"value": []}))
        }
        ("GET", "/providers/Microsoft.Authorization/roleDefinitions/g1") => {
            ok(json!({"properties": {"roleName": "Odd Azure Role"}}))
        }
        _ => {
            eprintln!("stand-in: unhandled {method} {path}?{query}");
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": {"code": "NotFound", "message": "no"}})),
            )
                .into_response()
        }
    }
}

#[tokio::test]
async fn tolerant_of_an_odd_stand_in() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Arc::new(format!("http://{}", listener.local_addr().unwrap()));
    let b2 = base.clone();
    let app = axum::Router::new()
        .fallback(move |m: Method, u: Uri, body: Bytes| handler(b2.clone(), m, u, body));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let env = MapEnv(
        [
            ("PIM_GRAPH_ENDPOINT", base.as_str()),
            ("PIM_ARM_ENDPOINT", base.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    );
    let mut opts = SessionOptions::new(
        Endpoints::from_env(&env).unwrap(),
        Arc::new(StaticTokens),
        "t1",
    );
    opts.retry.base_backoff = std::time::Duration::from_millis(10);
    let session = Session::new(opts);
    let snap = session.refresh().await.unwrap();
    assert_eq!(snap.tenants.len(), 1);
    let t = &snap.tenants[0];
    assert_eq!(t.tenant.display_name, "odd.example");
    assert!(t.error.is_none());
    assert!(
        t.warnings.iter().any(|w| w.to_string().contains("groups")),
        "{:?}",
        t.warnings
    );
    let names: Vec<String> = snap.roles().map(|r| r.describe()).collect();

    let odd = snap
        .roles()
        .find(|r| r.name == "Odd Role")
        .unwrap_or_else(|| panic!("{names:#?}"));
    assert_eq!(odd.state, RoleState::Active);
    assert!(
        odd.eligibility.is_some(),
        "eligibility and activation merged: {names:#?}"
    );
    assert!(
        matches!(odd.policy, PolicyInfo::Unknown { .. }),
        "{:?}",
        odd.policy
    );
    let r2 = snap
        .roles()
        .find(|r| r.role_definition_id == "r2")
        .unwrap_or_else(|| panic!("{names:#?}"));
    assert_eq!(r2.scope.display_name, "AU One");
    assert_eq!(r2.state, RoleState::Eligible);

    let azure: Vec<_> = snap
        .roles()
        .filter(|r| r.kind == RoleKind::AzureResource)
        .collect();
    assert_eq!(
        azure.len(),
        1,
        "ARM ids in different shapes are one role: {names:#?}"
    );
    assert_eq!(azure[0].name, "Odd Azure Role");
    assert_eq!(azure[0].scope.display_name, "RG-Odd");
    assert_eq!(azure[0].state, RoleState::Active);
}
