//! Policy enforcement: every rule error with its exact code and message.

use serde_json::json;

use crate::harness::*;

const ACRS_MSG: &str = "&claims=%7B%22access_token%22%3A%7B%22acrs%22%3A%7B%22essential%22%3Atrue%2C%20%22value%22%3A%22c1%22%7D%7D%7D";
const SHORT: &str = "The Active duration is too short. Miniumum Required is 5 minutes.";

fn rules_msg(list: &str) -> String {
    format!("The following policy rules failed: {list}")
}

#[tokio::test]
async fn justification_ticket_mfa_and_expiration_rules() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let r = sim.activate(&t, GLOBAL_READER, "/", "PT1H", None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "RoleAssignmentRequestPolicyValidationFailed");
    assert_eq!(r.message(), rules_msg(r#"["JustificationRule"]"#));
    let inner = &r.body["error"]["innerError"];
    assert!(
        inner["date"]
            .as_str()
            .is_some_and(|d| d.len() == 19 && !d.ends_with('Z')),
        "{inner}"
    );
    assert_eq!(
        inner["request-id"].as_str(),
        r.header("request-id").as_deref()
    );
    assert!(inner["client-request-id"].is_string());
    // several at once, in the documented JSON-array form
    let r = sim.activate(&t, SECURITY_ADMIN, "/", "PT1H", None).await;
    assert_eq!(
        r.message(),
        rules_msg(r#"["JustificationRule","TicketingRule","MfaRule"]"#)
    );
    let mut b = activate_body(SECURITY_ADMIN, "/", "PT1H", Some("incident"));
    b["ticketInfo"] = json!({"ticketNumber": "INC-1", "ticketSystem": "ServiceNow"});
    let r = sim.post(ROLE_REQUESTS, &t, &b).await;
    assert_eq!(r.message(), rules_msg(r#"["MfaRule"]"#));
    // with an MFA session it goes through
    let mfa = sim
        .graph_token_with(r#"{"access_token":{"amr":{"values":["mfa"]}}}"#)
        .await;
    let r = sim.post(ROLE_REQUESTS, &mfa, &b).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "Provisioned");
    // too long
    let r = sim
        .activate(&t, GLOBAL_READER, "/", "PT9H", Some("x"))
        .await;
    assert_eq!(r.message(), rules_msg(r#"["ExpirationRule"]"#));
    // noExpiration
    let mut b = activate_body(GLOBAL_READER, "/", "PT1H", Some("x"));
    b["scheduleInfo"]["expiration"] = json!({"type": "noExpiration"});
    let r = sim.post(ROLE_REQUESTS, &t, &b).await;
    assert_eq!(r.message(), rules_msg(r#"["ExpirationRule"]"#));
    // afterDateTime beyond the maximum
    let mut b = activate_body(GLOBAL_READER, "/", "PT1H", Some("x"));
    let end = time::OffsetDateTime::now_utc() + time::Duration::hours(12);
    b["scheduleInfo"]["expiration"] = json!({"type": "afterDateTime", "endDateTime": end.format(&time::format_description::well_known::Rfc3339).expect("fmt")});
    let r = sim.post(ROLE_REQUESTS, &t, &b).await;
    assert_eq!(r.message(), rules_msg(r#"["ExpirationRule"]"#));
}

#[tokio::test]
async fn eligibility_rule_and_principal_check() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    // not eligible for Privileged Role Administrator
    let r = sim
        .activate(
            &t,
            "e8611ab8-c189-46e8-94e1-60213ab1f814",
            "/",
            "PT1H",
            Some("x"),
        )
        .await;
    assert_eq!(r.code(), "RoleAssignmentRequestPolicyValidationFailed");
    assert_eq!(r.message(), rules_msg(r#"["EligibilityRule"]"#));
    // eligible for User Administrator only at the AU scope
    let r = sim.activate(&t, USER_ADMIN, "/", "PT1H", Some("x")).await;
    assert_eq!(r.message(), rules_msg(r#"["EligibilityRule"]"#));
    // not eligible and too long: both reported
    let r = sim
        .activate(
            &t,
            "e8611ab8-c189-46e8-94e1-60213ab1f814",
            "/",
            "PT30H",
            Some("x"),
        )
        .await;
    assert_eq!(
        r.message(),
        rules_msg(r#"["EligibilityRule","ExpirationRule"]"#)
    );
    // someone else's principal id
    let mut b = activate_body(GLOBAL_READER, "/", "PT1H", Some("x"));
    b["principalId"] = json!("3fbd929d-8c56-4462-851e-0eb9a7b3a2a5");
    let r = sim.post(ROLE_REQUESTS, &t, &b).await;
    assert_eq!(r.code(), "InvalidRoleAssignmentRequest");
    assert_eq!(r.message(), "The role assignment request is invalid.");
}

#[tokio::test]
async fn authentication_context_rule() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let r = sim
        .activate(&t, EXCHANGE_ADMIN, "/", "PT1H", Some("mail flow"))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "RoleAssignmentRequestAcrsValidationFailed");
    assert_eq!(r.message(), ACRS_MSG);
    // decode the claims from the message and step up with them
    let enc = r
        .message()
        .split("claims=")
        .nth(1)
        .expect("claims")
        .to_owned();
    let claims = percent_encoding::percent_decode_str(&enc)
        .decode_utf8()
        .expect("utf8")
        .into_owned();
    assert_eq!(
        claims,
        r#"{"access_token":{"acrs":{"essential":true, "value":"c1"}}}"#
    );
    let up = sim.graph_token_with(&claims).await;
    let r = sim
        .activate(&up, EXCHANGE_ADMIN, "/", "PT1H", Some("mail flow"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn durations_and_duplicates() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let r = sim
        .activate(&t, GLOBAL_READER, "/", "PT4M", Some("x"))
        .await;
    assert_eq!(r.code(), "ActiveDurationTooShort");
    assert_eq!(r.message(), SHORT);
    let ok = sim
        .activate(&t, GLOBAL_READER, "/", "PT30M", Some("x"))
        .await;
    assert_eq!(ok.status, 201);
    let dup = sim
        .activate(&t, GLOBAL_READER, "/", "PT30M", Some("x"))
        .await;
    assert_eq!(dup.code(), "RoleAssignmentExists");
    assert_eq!(dup.message(), "The Role assignment already exists.");
    // the 5-minute deactivation guard
    let deact = json!({"action": "selfDeactivate", "principalId": ADELE, "roleDefinitionId": GLOBAL_READER, "directoryScopeId": "/"});
    let r = sim.post(ROLE_REQUESTS, &t, &deact).await;
    assert_eq!(r.code(), "ActiveDurationTooShort");
    assert_eq!(r.message(), SHORT);
    sim.ctl().advance(5 * 60);
    let t = sim.graph_token().await;
    let r = sim.post(ROLE_REQUESTS, &t, &deact).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "Revoked");
    assert_eq!(r.body["action"], "selfDeactivate");
    // nothing left to deactivate
    let r = sim.post(ROLE_REQUESTS, &t, &deact).await;
    assert_eq!(r.code(), "RoleAssignmentDoesNotExist");
    assert_eq!(r.message(), "The Role assignment does not exist.");
    // re-activation right after is accepted
    let again = sim
        .activate(&t, GLOBAL_READER, "/", "PT30M", Some("x"))
        .await;
    assert_eq!(again.status, 201);
}

#[tokio::test]
async fn malformed_requests_get_the_service_error_shape() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let raw = sim
        .http
        .post(sim.url(ROLE_REQUESTS))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(raw.status().as_u16(), 400);
    let body: serde_json::Value = raw.json().await.expect("json");
    assert_eq!(body["error"]["code"], "BadRequest");
    let mut b = activate_body(GLOBAL_READER, "/", "PT1H", Some("x"));
    b["action"] = json!("selfDestruct");
    assert_eq!(
        sim.post(ROLE_REQUESTS, &t, &b).await.code(),
        "InvalidRoleAssignmentRequest"
    );
    let mut b = activate_body(GLOBAL_READER, "/", "PT1H", Some("x"));
    b["scheduleInfo"]["expiration"]["endDateTime"] = json!("2030-01-01T00:00:00Z");
    assert_eq!(
        sim.post(ROLE_REQUESTS, &t, &b).await.code(),
        "InvalidRoleAssignmentRequest",
        "duration and endDateTime together"
    );
    let mut b = activate_body(GLOBAL_READER, "/", "PT1H", Some("x"));
    b["justification"] = json!(42);
    assert_eq!(
        sim.post(ROLE_REQUESTS, &t, &b).await.code(),
        "InvalidRoleAssignmentRequest"
    );
    assert_eq!(
        sim.post(ROLE_REQUESTS, &t, &json!([1, 2])).await.code(),
        "BadRequest"
    );
    // case-insensitive enums on input
    let mut b = activate_body(GLOBAL_READER, "/", "PT1H", Some("x"));
    b["action"] = json!("SelfActivate");
    b["scheduleInfo"]["expiration"]["type"] = json!("AfterDuration");
    let r = sim.post(ROLE_REQUESTS, &t, &b).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["action"], "selfActivate");
    assert_eq!(
        r.body["scheduleInfo"]["expiration"]["type"],
        "afterDuration"
    );
}

#[tokio::test]
async fn start_times_and_validation_only() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let fmt = |d: time::OffsetDateTime| {
        d.format(&time::format_description::well_known::Rfc3339)
            .expect("fmt")
    };
    let now = sim.ctl().now();
    // 4 minutes in the past counts as now
    let mut b = activate_body(GLOBAL_READER, "/", "PT1H", Some("x"));
    b["scheduleInfo"]["startDateTime"] = json!(fmt(now - time::Duration::minutes(4)));
    b["isValidationOnly"] = json!(true);
    let r = sim.post(ROLE_REQUESTS, &t, &b).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["isValidationOnly"], true);
    assert_eq!(r.body["status"], "Provisioned");
    let active = sim.get("/v1.0/roleManagement/directory/roleAssignmentScheduleInstances/filterByCurrentUser(on='principal')", &t).await;
    assert!(
        !active
            .values()
            .iter()
            .any(|v| v["roleDefinitionId"] == GLOBAL_READER),
        "validation only creates nothing"
    );
    // 10 minutes in the past is rejected
    b["scheduleInfo"]["startDateTime"] = json!(fmt(now - time::Duration::minutes(10)));
    assert_eq!(
        sim.post(ROLE_REQUESTS, &t, &b).await.code(),
        "InvalidRoleAssignmentRequest"
    );
}

#[tokio::test]
async fn group_and_arm_rules() {
    let sim = start("demo").await;
    let g = sim.graph_token().await;
    let r = sim
        .post(GROUP_REQUESTS, &g, &json!({"accessId": "member", "principalId": ADELE, "groupId": SQL_GROUP, "action": "selfActivate",
            "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT5H"}}}))
        .await;
    assert_eq!(
        r.message(),
        rules_msg(r#"["ExpirationRule","JustificationRule"]"#)
    );
    let a = sim.arm_token().await;
    let r = sim
        .arm_put_new(&a, &arm_activate(PROD_SUB, CONTRIBUTOR, "PT1H", None, None))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "RoleAssignmentRequestPolicyValidationFailed");
    assert_eq!(
        r.message(),
        rules_msg(r#"["JustificationRule","TicketingRule"]"#)
    );
    assert!(
        r.body["error"].get("innerError").is_none(),
        "ARM errors have no innerError"
    );
    let r = sim
        .arm_put_new(
            &a,
            &arm_activate(PROD_SUB, CONTRIBUTOR, "PT2M", Some("j"), Some("t")),
        )
        .await;
    assert_eq!(r.code(), "ActiveDurationTooShort");
    assert_eq!(r.message(), SHORT);
    // Owner: not eligible
    let r = sim
        .arm_put_new(
            &a,
            &arm_activate(
                PROD_SUB,
                "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
                "PT1H",
                Some("j"),
                None,
            ),
        )
        .await;
    assert_eq!(r.message(), rules_msg(r#"["EligibilityRule"]"#));
}
