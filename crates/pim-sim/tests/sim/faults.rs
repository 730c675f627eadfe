//! Fault injection, paging, `$batch`, permission errors and degraded policy reads.

use serde_json::{Value, json};

use crate::harness::*;

const ELIG: &str = "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')";

async fn fault(sim: &Sim, spec: Value) {
    let r = sim.control_post("/_sim/faults", &spec).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn throttling_with_retry_after_variants() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    for (ra, expect) in [
        (json!("2"), Some("2")),
        (json!("0.5"), Some("0.5")),
        (Value::Null, None),
    ] {
        fault(&sim, json!({"method": "GET", "path": "roleEligibilityScheduleInstances", "fault": {"kind": "status", "status": 429, "retryAfter": ra}})).await;
        let r = sim.get(ELIG, &t).await;
        assert_eq!(r.status, 429);
        assert_eq!(r.code(), "TooManyRequests");
        assert_eq!(r.header("retry-after").as_deref(), expect);
        assert_eq!(r.body["error"]["innerError"]["status"], "429");
        assert_eq!(sim.get(ELIG, &t).await.status, 200, "times defaults to 1");
    }
    fault(&sim, json!({"path": "roleEligibility", "times": 2, "fault": {"kind": "status", "status": 503, "retryAfter": "1"}})).await;
    assert_eq!(sim.get(ELIG, &t).await.code(), "ServiceUnavailable");
    assert_eq!(sim.get(ELIG, &t).await.status, 503);
    assert_eq!(sim.get(ELIG, &t).await.status, 200);
    // ARM throttling uses the ARM shape
    let a = sim.arm_token().await;
    fault(&sim, json!({"path": "roleEligibilityScheduleInstances", "fault": {"kind": "status", "status": 429, "retryAfter": "3"}})).await;
    let r = sim.get("/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01&$filter=asTarget()", &a).await;
    assert_eq!(r.status, 429);
    assert!(r.body["error"]["code"].is_string());
    assert!(r.body["error"].get("innerError").is_none());
    assert_eq!(r.header("retry-after").as_deref(), Some("3"));
    // clear
    fault(&sim, json!({"fault": {"kind": "status", "status": 500}})).await;
    let del = sim
        .http
        .delete(sim.url("/_sim/faults"))
        .send()
        .await
        .expect("delete");
    assert_eq!(del.status().as_u16(), 200);
    assert_eq!(sim.get(ELIG, &t).await.status, 200);
}

#[tokio::test]
async fn connection_reset_and_uncertain_outcome() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    fault(
        &sim,
        json!({"method": "GET", "path": "roleEligibility", "fault": {"kind": "reset"}}),
    )
    .await;
    let r = sim.http.get(sim.url(ELIG)).bearer_auth(&t).send().await;
    assert!(r.is_err(), "connection dropped without a response");
    assert_eq!(sim.get(ELIG, &t).await.status, 200);
    // processed, then reset: the activation exists although the client saw an error
    fault(&sim, json!({"method": "POST", "path": "roleAssignmentScheduleRequests", "fault": {"kind": "after", "then": {"kind": "reset"}}})).await;
    let r = sim
        .http
        .post(sim.url(ROLE_REQUESTS))
        .bearer_auth(&t)
        .json(&activate_body(GLOBAL_READER, "/", "PT1H", Some("x")))
        .send()
        .await;
    assert!(r.is_err());
    let again = sim
        .activate(&t, GLOBAL_READER, "/", "PT1H", Some("x"))
        .await;
    assert_eq!(
        again.code(),
        "RoleAssignmentExists",
        "the first attempt succeeded"
    );
    let log = sim.ctl().requests();
    assert!(
        log.iter().any(|r| r.method == "POST" && r.status == 0),
        "reset recorded with status 0"
    );
}

#[tokio::test]
async fn claims_challenge_delay_and_wrapped_errors() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let claims = r#"{"access_token":{"nbf":{"essential":true, "value":"1726077595"}}}"#;
    fault(
        &sim,
        json!({"path": "/v1.0/", "fault": {"kind": "claimsChallenge", "claims": claims}}),
    )
    .await;
    let r = sim.get(ELIG, &t).await;
    assert_eq!(r.status, 401);
    let www = r.header("www-authenticate").expect("challenge");
    assert!(www.contains(r#"error="insufficient_claims""#), "{www}");
    let b64 = www
        .split("claims=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("claims");
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert_eq!(String::from_utf8(decoded).expect("utf8"), claims);
    // delay
    fault(
        &sim,
        json!({"path": "roleEligibility", "fault": {"kind": "delay", "ms": 300}}),
    )
    .await;
    let t0 = std::time::Instant::now();
    assert_eq!(sim.get(ELIG, &t).await.status, 200);
    assert!(t0.elapsed() >= std::time::Duration::from_millis(290));
    // injected 403 in the double-wrapped shape
    fault(&sim, json!({"path": "privilegedAccess", "fault": {"kind": "status", "status": 403, "code": "PermissionScopeNotGranted",
        "message": "Authorization failed due to missing permission scope PrivilegedEligibilitySchedule.Read.AzureADGroup.", "wrapped": true}})).await;
    let r = sim.get("/v1.0/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances/filterByCurrentUser(on='principal')", &t).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "UnknownError");
    let inner: Value = serde_json::from_str(&r.message()).expect("backend json in message");
    assert_eq!(inner["errorCode"], "PermissionScopeNotGranted");
    assert_eq!(inner["instanceAnnotations"], json!([]));
}

#[tokio::test]
async fn missing_scopes_and_forbidden_policy_reads() {
    let sim = start("demo").await;
    // a token with only User.Read
    let scope = "https://graph.microsoft.com/User.Read openid offline_access";
    let t = sim.access_token(scope, None).await;
    let r = sim.get(ELIG, &t).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "PermissionScopeNotGranted");
    assert!(r.message().starts_with("Authorization failed due to missing permission scope RoleEligibilitySchedule.Read.Directory,"));
    assert!(r.message().ends_with('.'));
    // group endpoints: plain by default, double-wrapped with wrapErrors
    let g = "/v1.0/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances/filterByCurrentUser(on='principal')";
    assert_eq!(sim.get(g, &t).await.code(), "PermissionScopeNotGranted");
    sim.control_post("/_sim/config", &json!({"wrapErrors": true}))
        .await;
    let w = sim.get(g, &t).await;
    assert_eq!(w.code(), "UnknownError");
    let inner: Value = serde_json::from_str(&w.message()).expect("json");
    assert_eq!(inner["errorCode"], "PermissionScopeNotGranted");
    assert_eq!(
        inner["message"],
        "Authorization failed due to missing permission scope PrivilegedEligibilitySchedule.Read.AzureADGroup,PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup,PrivilegedAccess.Read.AzureADGroup,PrivilegedAccess.ReadWrite.AzureADGroup."
    );
    // policy reads forbidden by config
    let full = sim.graph_token().await;
    let pol = "/v1.0/policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and scopeType eq 'DirectoryRole'&$expand=policy($expand=rules)";
    assert_eq!(sim.get(pol, &full).await.status, 200);
    sim.ctl()
        .configure(&json!({"policyReadForbidden": true, "wrapErrors": false}))
        .expect("config");
    let f = sim.get(pol, &full).await;
    assert_eq!(f.status, 403);
    assert_eq!(f.code(), "PermissionScopeNotGranted");
    // expand failure
    sim.ctl()
        .configure(&json!({"policyReadForbidden": false, "expandPolicyFails": true}))
        .expect("config");
    let e = sim.get(pol, &full).await;
    assert_eq!(e.status, 500);
    assert_eq!(e.message(), "An error has occurred.");
    // ARM policy reads forbidden
    let a = sim.arm_token().await;
    sim.ctl()
        .configure(&json!({"armPolicyReadForbidden": true}))
        .expect("config");
    let r = sim.get(&format!("{PROD_SUB}/providers/Microsoft.Authorization/roleManagementPolicyAssignments?api-version=2020-10-01"), &a).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "AuthorizationFailed");
    // bad config is rejected
    assert_eq!(
        sim.control_post("/_sim/config", &json!({"deactivateStatus": "Maybe"}))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn token_audience_and_absence() {
    let sim = start("demo").await;
    let a = sim.arm_token().await;
    let r = sim.get(ELIG, &a).await;
    assert_eq!(r.status, 401, "ARM token on Graph");
    assert_eq!(r.code(), "InvalidAuthenticationToken");
    let none = sim.http.get(sim.url(ELIG)).send().await.expect("get");
    assert_eq!(none.status().as_u16(), 401);
    let g = sim.graph_token().await;
    let r = sim.get("/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01", &g).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "InvalidAuthenticationToken");
    sim.ctl().advance(3601);
    let r = sim.get("/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01", &a).await;
    assert_eq!(r.code(), "ExpiredAuthenticationToken");
    let r = sim
        .get(
            "/providers/Microsoft.Authorization/roleEligibilityScheduleInstances",
            &a,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "MissingApiVersionParameter");
}

#[tokio::test]
async fn graph_and_arm_paging() {
    let sim = start("small").await;
    let t = sim.graph_token().await;
    let first = sim.get(&format!("{ELIG}?$expand=roleDefinition"), &t).await;
    assert_eq!(first.values().len(), 2);
    let next = first.body["@odata.nextLink"]
        .as_str()
        .expect("nextLink")
        .to_owned();
    assert!(next.starts_with(&sim.base), "absolute: {next}");
    assert!(next.contains("$skiptoken="));
    assert!(
        next.contains("$expand=roleDefinition"),
        "query kept: {next}"
    );
    let second = sim.get_abs(&next, &t).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.values().len(), 1);
    assert!(second.body.get("@odata.nextLink").is_none());
    let all: Vec<Value> = first.values().into_iter().chain(second.values()).collect();
    assert_eq!(all.len(), 3);
    assert!(
        all.iter()
            .all(|v| v["roleDefinition"]["displayName"].is_string())
    );
    let bad = sim.get(&format!("{ELIG}?$skiptoken=garbage"), &t).await;
    assert_eq!(bad.status, 400);
    // ARM pages with nextLink
    sim.ctl()
        .configure(&json!({"pageSize": 1}))
        .expect("config");
    let a = sim.arm_token().await;
    let r = sim.get("/tenants?api-version=2020-01-01", &a).await;
    assert_eq!(r.values().len(), 1);
    assert!(r.body.get("nextLink").is_none(), "one tenant only");
    let pa = sim.get("/subscriptions/3a7d5e91-c2b4-4f06-8d1a-b9e3c5f7a024/providers/Microsoft.Authorization/roleManagementPolicies?api-version=2020-10-01", &a).await;
    assert_eq!(pa.status, 200, "{}", pa.body);
    sim.ctl()
        .configure(&json!({"pageSize": 2}))
        .expect("config");
    let demo = start("demo").await;
    demo.ctl()
        .configure(&json!({"pageSize": 1}))
        .expect("config");
    let da = demo.arm_token().await;
    let p1 = demo.get("/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01&$filter=asTarget()", &da).await;
    assert_eq!(p1.values().len(), 1);
    let n = p1.body["nextLink"].as_str().expect("nextLink").to_owned();
    assert!(
        n.contains("api-version=2020-10-01") && n.contains("$filter=asTarget()"),
        "{n}"
    );
    let p2 = demo.get_abs(&n, &da).await;
    assert_eq!(p2.values().len(), 1);
    assert!(p2.body.get("nextLink").is_none());
    assert_ne!(p1.values()[0]["id"], p2.values()[0]["id"]);
}

fn batch_req(id: &str, url: &str) -> Value {
    json!({"id": id, "method": "GET", "url": url})
}

#[tokio::test]
async fn batch_behaviour() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let urls = [
        (
            "eligible",
            "/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')?$expand=roleDefinition($select=id,displayName)",
        ),
        (
            "active",
            "/roleManagement/directory/roleAssignmentScheduleInstances/filterByCurrentUser(on='principal')?$expand=roleDefinition($select=id,displayName)",
        ),
        (
            "pending",
            "/roleManagement/directory/roleAssignmentScheduleRequests/filterByCurrentUser(on='principal')?$filter=status eq 'PendingApproval'",
        ),
        (
            "policies",
            "/policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and scopeType eq 'DirectoryRole'&$expand=policy($expand=rules)",
        ),
        (
            "groupEligible",
            "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances/filterByCurrentUser(on='principal')",
        ),
        (
            "groupActive",
            "/identityGovernance/privilegedAccess/group/assignmentScheduleInstances/filterByCurrentUser(on='principal')",
        ),
        ("me", "me?$select=id"),
    ];
    fault(&sim, json!({"path": "roleManagementPolicyAssignments", "fault": {"kind": "status", "status": 429, "retryAfter": "7"}})).await;
    let reqs: Vec<Value> = urls.iter().map(|(i, u)| batch_req(i, u)).collect();
    let r = sim
        .post("/v1.0/$batch", &t, &json!({"requests": reqs}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let resp = r.body["responses"].as_array().expect("responses").clone();
    assert_eq!(resp.len(), urls.len());
    let ids: Vec<&str> = resp.iter().map(|x| x["id"].as_str().expect("id")).collect();
    let asked: Vec<&str> = urls.iter().map(|(i, _)| *i).collect();
    assert_ne!(ids, asked, "responses come back in another order");
    let by = |id: &str| resp.iter().find(|x| x["id"] == id).cloned().expect("item");
    assert_eq!(by("policies")["status"], 429);
    assert_eq!(by("policies")["headers"]["Retry-After"], "7");
    assert_eq!(by("policies")["body"]["error"]["code"], "TooManyRequests");
    assert_eq!(by("eligible")["status"], 200);
    assert!(
        by("eligible")["headers"]["Content-Type"]
            .as_str()
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert!(
        by("eligible")["body"]["value"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
    );
    assert_eq!(by("me")["body"]["id"], ADELE);
    let log = sim.ctl().requests();
    assert!(
        log.iter()
            .any(|l| l.path == "/v1.0/$batch" && l.batch_items == Some(urls.len()))
    );
    // paging inside a batch: the nextLink is absolute
    sim.ctl()
        .configure(&json!({"pageSize": 2}))
        .expect("config");
    let r = sim
        .post(
            "/v1.0/$batch",
            &t,
            &json!({"requests": [batch_req("e", urls[0].1)]}),
        )
        .await;
    let next = r.body["responses"][0]["body"]["@odata.nextLink"]
        .as_str()
        .expect("nextLink");
    assert!(
        next.starts_with(&format!("{}/v1.0/roleManagement", sim.base)),
        "{next}"
    );
    // duplicate ids (case-insensitive) → 400 for the whole batch
    let r = sim
        .post(
            "/v1.0/$batch",
            &t,
            &json!({"requests": [batch_req("A", "/me"), batch_req("a", "/me")]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "BadRequest");
    // more than 20
    let many: Vec<Value> = (0..21).map(|i| batch_req(&i.to_string(), "/me")).collect();
    assert_eq!(
        sim.post("/v1.0/$batch", &t, &json!({"requests": many}))
            .await
            .status,
        400
    );
    let twenty: Vec<Value> = (0..20).map(|i| batch_req(&i.to_string(), "/me")).collect();
    assert_eq!(
        sim.post("/v1.0/$batch", &t, &json!({"requests": twenty}))
            .await
            .status,
        200
    );
    // malformed
    assert_eq!(
        sim.post("/v1.0/$batch", &t, &json!({"nope": 1}))
            .await
            .status,
        400
    );
    // body without Content-Type header
    let r = sim.post("/v1.0/$batch", &t, &json!({"requests": [{"id": "1", "method": "POST", "url": "/roleManagement/directory/roleAssignmentScheduleRequests", "body": {}}]})).await;
    assert_eq!(r.status, 400);
    // dependsOn: a failed dependency yields 424
    let r = sim
        .post("/v1.0/$batch", &t, &json!({"requests": [
            {"id": "1", "method": "POST", "url": "/roleManagement/directory/roleAssignmentScheduleRequests",
             "headers": {"Content-Type": "application/json"}, "body": activate_body(GLOBAL_READER, "/", "PT1H", None)},
            {"id": "2", "method": "GET", "url": "/me", "dependsOn": ["1"]}
        ]}))
        .await;
    assert_eq!(r.status, 200);
    let resp = r.body["responses"].as_array().expect("responses").clone();
    let one = resp.iter().find(|x| x["id"] == "1").expect("1");
    assert_eq!(one["status"], 400);
    assert_eq!(
        one["body"]["error"]["message"],
        r#"The following policy rules failed: ["JustificationRule"]"#
    );
    assert_eq!(
        resp.iter().find(|x| x["id"] == "2").expect("2")["status"],
        424
    );
    // unknown dependency → 400
    let r = sim
        .post(
            "/v1.0/$batch",
            &t,
            &json!({"requests": [{"id": "1", "method": "GET", "url": "/me", "dependsOn": ["9"]}]}),
        )
        .await;
    assert_eq!(r.status, 400);
}
