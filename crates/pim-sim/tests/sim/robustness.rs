//! Bad input never breaks the server: every malformed request gets the service's own
//! error shape (and the connection stays usable).

use serde_json::{Value, json};

use crate::harness::*;

/// Sends `body` as JSON, whatever it holds; answers the status and the body as JSON
/// (`null` where it is not).
async fn send_json(req: reqwest::RequestBuilder, token: &str, body: &[u8]) -> (u16, Value) {
    let r = req
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("answered");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn malformed_bodies_get_error_shapes_everywhere() {
    let sim = start("demo").await;
    let g = sim.graph_token().await;
    let a = sim.arm_token().await;
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"text\"".to_vec(),
        b"{\"action\":5}".to_vec(),
        b"{\"action\":\"selfActivate\",\"principalId\":{},\"scheduleInfo\":[]}".to_vec(),
        b"{\"properties\":5}".to_vec(),
        b"{\"properties\":{\"requestType\":\"SelfActivate\",\"principalId\":\"x\",\"roleDefinitionId\":\"\"}}".to_vec(),
        b"{\"requests\":5}".to_vec(),
        b"{\"requests\":[{\"id\":\"1\",\"method\":\"GET\",\"url\":\"%%%\"}]}".to_vec(),
        b"{\"scheduleInfo\":{\"startDateTime\":\"9999-12-31T23:59:59Z\",\"expiration\":{\"type\":\"afterDuration\",\"duration\":\"P9999999D\"}}}".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x7b],
    ];
    let graph_posts = [
        ROLE_REQUESTS.to_owned(),
        GROUP_REQUESTS.to_owned(),
        "/v1.0/$batch".to_owned(),
        format!("{ROLE_REQUESTS}/x/cancel"),
    ];
    for body in &bodies {
        for path in &graph_posts {
            let (status, v) = send_json(sim.http.post(sim.url(path)), &g, body).await;
            if path.ends_with("$batch") && status == 200 {
                continue;
            }
            assert!((400..500).contains(&status), "{path} {status} {v}");
            assert!(v["error"]["code"].is_string(), "{path}: {v}");
            assert!(
                v["error"]["innerError"]["request-id"].is_string(),
                "{path}: {v}"
            );
        }
        let path = arm_request_path(PROD_SUB, "b4c4e0f5-0000-4000-8000-000000000001");
        let (status, v) = send_json(sim.http.put(sim.url(&path)), &a, body).await;
        assert!((400..500).contains(&status), "ARM {status} {v}");
        assert!(v["error"]["code"].is_string(), "ARM: {v}");
        for (path, form) in [
            ("token", "grant_type=%ZZ&&=&client_id"),
            ("devicecode", "%%%"),
            ("token", ""),
        ] {
            let r = sim
                .http
                .post(sim.url(&format!("/organizations/oauth2/v2.0/{path}")))
                .body(form)
                .send()
                .await
                .expect("answered");
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert!(v["error"].is_string(), "{path}: {v}");
        }
    }
    // odd paths and queries
    for p in [
        "/v1.0/",
        "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(",
        "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on=)",
        "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests('')",
        "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')?$filter=((((&$expand=((,&$select=,,,&$top=-1&$skiptoken=%FF",
        "/v1.0/policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and scopeType eq 'Nope'",
        "/v1.0/policies/roleManagementPolicies/nope/rules/nope",
        "/v1.0/%E2%82%AC/%00",
    ] {
        let r = sim.get(p, &g).await;
        assert!((200..500).contains(&r.status), "{p}: {}", r.status);
    }
    for p in [
        "/providers/Microsoft.Authorization/?api-version=2020-10-01",
        "/subscriptions/x/y/z/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01",
        "/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=1999-01-01",
        "/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01&$filter=)))",
        "/subscriptions?api-version=2020-01-01",
    ] {
        let r = sim.get(p, &a).await;
        assert!((200..500).contains(&r.status), "{p}: {}", r.status);
        assert!(
            r.status == 200 || r.body["error"]["code"].is_string(),
            "{p}: {}",
            r.body
        );
    }
    // control input
    assert_eq!(
        sim.control_post("/_sim/clock/advance", &json!({"seconds": 1e300}))
            .await
            .status,
        400
    );
    assert_eq!(
        sim.control_post("/_sim/config", &json!([1])).await.status,
        400
    );
    // the server is still fine
    assert_eq!(sim.get("/v1.0/me", &g).await.status, 200);
}
