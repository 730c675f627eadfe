//! Approvals, scheduled starts, expiry on the virtual clock, cancel, extend, ARM PUT
//! idempotency.

use serde_json::{Value, json};

use crate::harness::*;

const ACTIVE: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances/filterByCurrentUser(on='principal')";
const SCHEDULES: &str =
    "/v1.0/roleManagement/directory/roleAssignmentSchedules/filterByCurrentUser(on='principal')";

fn has_role(r: &Resp, role: &str) -> bool {
    r.values().iter().any(|v| v["roleDefinitionId"] == role)
}

#[tokio::test]
async fn approval_then_approve() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let r = sim
        .activate(&t, GLOBAL_ADMIN, "/", "PT1H", Some("break glass"))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["status"], "PendingApproval");
    let approval = r.body["approvalId"]
        .as_str()
        .expect("approvalId")
        .to_owned();
    let id = r.id();
    let pending = sim.control_get("/_sim/pending").await;
    let p = pending
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["id"] == id.as_str())
        .cloned()
        .expect("pending");
    assert_eq!(p["kind"], "entraRole");
    assert_eq!(p["roleName"], "Global Administrator");
    assert_eq!(p["tenantId"], CONTOSO);
    assert_eq!(p["principalId"], ADELE);
    assert_eq!(p["status"], "PendingApproval");
    // listed with the documented filter
    let l = sim.get("/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/filterByCurrentUser(on='principal')?$filter=status eq 'PendingApproval'", &t).await;
    assert_eq!(l.values().len(), 1);
    assert!(!has_role(&sim.get(ACTIVE, &t).await, GLOBAL_ADMIN));
    // approve by approval id over HTTP
    let a = sim
        .control_post(
            &format!("/_sim/approvals/{approval}/approve"),
            &json!({"justification": "ok"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let g = sim.role_request(&t, &id).await;
    assert_eq!(g.body["status"], "Provisioned");
    assert!(has_role(&sim.get(ACTIVE, &t).await, GLOBAL_ADMIN));
    // approving again is an error
    let again = sim
        .control_post(&format!("/_sim/approvals/{id}/approve"), &Value::Null)
        .await;
    assert_eq!(again.status, 400);
    assert!(
        sim.control_get("/_sim/pending")
            .await
            .body
            .as_array()
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn approval_then_deny_and_cancel_rules() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let r = sim.activate(&t, GLOBAL_ADMIN, "/", "PT1H", Some("x")).await;
    let id = r.id();
    sim.ctl().deny(&id, None).expect("deny");
    assert_eq!(sim.role_request(&t, &id).await.body["status"], "Denied");
    assert!(!has_role(&sim.get(ACTIVE, &t).await, GLOBAL_ADMIN));
    // cancelling a denied (completed) request → 400
    let c = sim.cancel_role_request(&t, &id).await;
    assert_eq!(c.status, 400);
    assert_eq!(c.code(), "InvalidRoleAssignmentRequest");
    // pending → cancel → Canceled
    let r = sim.activate(&t, GLOBAL_ADMIN, "/", "PT1H", Some("x")).await;
    let id2 = r.id();
    let c = sim.cancel_role_request(&t, &id2).await;
    assert_eq!(c.status, 204);
    assert_eq!(sim.role_request(&t, &id2).await.body["status"], "Canceled");
    // a provisioned one cannot be cancelled; an unknown one is 404
    let p = sim
        .activate(&t, GLOBAL_READER, "/", "PT1H", Some("x"))
        .await;
    let c = sim.cancel_role_request(&t, &p.id()).await;
    assert_eq!(c.status, 400);
    let c = sim
        .post_empty(
            &format!("{ROLE_REQUESTS}/00000000-0000-0000-0000-000000000000/cancel"),
            &t,
        )
        .await;
    assert_eq!(c.status, 404);
}

#[tokio::test]
async fn scheduled_start_appears_on_the_virtual_clock() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let start_at = sim.ctl().now() + time::Duration::hours(2);
    let mut b = activate_body(GLOBAL_READER, "/", "PT1H", Some("later"));
    b["scheduleInfo"]["startDateTime"] = json!(rfc3339(start_at));
    let r = sim.post(ROLE_REQUESTS, &t, &b).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["status"], "Granted");
    let id = r.id();
    assert!(!has_role(&sim.get(ACTIVE, &t).await, GLOBAL_READER));
    let sched = sim.get(SCHEDULES, &t).await;
    let s = sched
        .find_role(GLOBAL_READER)
        .expect("future schedule listed");
    assert_eq!(s["status"], "Granted");
    // advance over HTTP
    let adv = sim
        .control_post("/_sim/clock/advance", &json!({"seconds": 7201}))
        .await;
    assert_eq!(adv.status, 200);
    assert!(adv.body["now"].is_string());
    let t = sim.graph_token().await;
    assert!(has_role(&sim.get(ACTIVE, &t).await, GLOBAL_READER));
    assert_eq!(
        sim.role_request(&t, &id).await.body["status"],
        "Provisioned"
    );
    // a Granted future request can be cancelled
    let mut b = activate_body(SECURITY_ADMIN, "/", "PT1H", Some("x"));
    b["ticketInfo"] = json!({"ticketNumber": "1", "ticketSystem": "x"});
    b["scheduleInfo"]["startDateTime"] = json!(rfc3339(sim.ctl().now() + time::Duration::hours(1)));
    let mfa = sim
        .graph_token_with(r#"{"access_token":{"amr":{"values":["mfa"]}}}"#)
        .await;
    let g = sim.post(ROLE_REQUESTS, &mfa, &b).await;
    assert_eq!(g.body["status"], "Granted", "{}", g.body);
    let c = sim.cancel_role_request(&mfa, &g.id()).await;
    assert_eq!(c.status, 204);
    sim.ctl().advance(3 * 3600);
    let t = sim.graph_token().await;
    assert!(!has_role(&sim.get(ACTIVE, &t).await, SECURITY_ADMIN));
}

#[tokio::test]
async fn instances_expire_and_the_demo_activation_ends() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let a = sim.get(ACTIVE, &t).await;
    let ua = a.find_role(USER_ADMIN).expect("User Administrator active");
    assert_eq!(ua["assignmentType"], "Activated");
    assert_eq!(ua["directoryScopeId"], AU_EUROPE);
    let dr = a.find_role(DIRECTORY_READERS).expect("Directory Readers");
    assert_eq!(dr["assignmentType"], "Assigned");
    assert_eq!(dr["endDateTime"], Value::Null);
    let end = time::OffsetDateTime::parse(
        ua["endDateTime"].as_str().expect("end"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("parse");
    let mins = (end - sim.ctl().now()).whole_minutes();
    assert!((8..=10).contains(&mins), "ends ~10 min after start: {mins}");
    sim.ctl().advance(11 * 60);
    let t = sim.graph_token().await;
    let a = sim.get(ACTIVE, &t).await;
    assert!(!has_role(&a, USER_ADMIN), "expired instance vanished");
    assert!(has_role(&a, DIRECTORY_READERS));
    // the Date header follows the virtual clock
    let date = a.header("date").expect("date");
    let now = sim.ctl().now();
    let expected = now
        .format(&time::macros::format_description!(
            "[day] [month repr:short] [year]"
        ))
        .expect("fmt");
    assert!(date.contains(&expected), "{date} vs {expected}");
    // an expired token is rejected (401)
    sim.ctl().advance(3601);
    let r = sim.get(ACTIVE, &t).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "InvalidAuthenticationToken");
}

#[tokio::test]
async fn self_extend_rules() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let extend = |role: &str, scope: &str| {
        json!({"action": "selfExtend", "principalId": ADELE, "roleDefinitionId": role, "directoryScopeId": scope,
               "justification": "more time", "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT2H"}}})
    };
    // on an activation: rejected by default
    let r = sim
        .post(ROLE_REQUESTS, &t, &extend(USER_ADMIN, AU_EUROPE))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "InvalidRoleAssignmentRequest");
    // configurable
    sim.ctl()
        .configure(&json!({"selfExtendOnActivation": "accept"}))
        .expect("config");
    let r = sim
        .post(ROLE_REQUESTS, &t, &extend(USER_ADMIN, AU_EUROPE))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "Provisioned");
    sim.ctl().advance(30 * 60);
    let t = sim.graph_token().await;
    assert!(
        has_role(&sim.get(ACTIVE, &t).await, USER_ADMIN),
        "extended past its old end"
    );
    // on a time-bound Assigned row: admin decision
    let r = sim
        .post(ROLE_REQUESTS, &t, &extend(REPORTS_READER, "/"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "PendingAdminDecision");
    let id = r.id();
    sim.ctl().approve(&id, None).expect("approve");
    assert_eq!(
        sim.role_request(&t, &id).await.body["status"],
        "Provisioned"
    );
    // on a permanent assignment: invalid; on nothing: does not exist
    assert_eq!(
        sim.post(ROLE_REQUESTS, &t, &extend(DIRECTORY_READERS, "/"))
            .await
            .code(),
        "InvalidRoleAssignmentRequest"
    );
    assert_eq!(
        sim.post(ROLE_REQUESTS, &t, &extend(GLOBAL_READER, "/"))
            .await
            .code(),
        "RoleAssignmentDoesNotExist"
    );
}

#[tokio::test]
async fn group_lifecycle_and_deactivate_status_config() {
    let sim = start("demo").await;
    sim.ctl()
        .configure(&json!({"deactivateStatus": "Provisioned"}))
        .expect("config");
    let t = sim.graph_token().await;
    let body = |action: &str| {
        json!({"accessId": "member", "principalId": ADELE, "groupId": SQL_GROUP, "action": action,
        "justification": "x", "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}}})
    };
    assert_eq!(
        sim.post(GROUP_REQUESTS, &t, &body("selfActivate"))
            .await
            .status,
        201
    );
    assert_eq!(
        sim.post(GROUP_REQUESTS, &t, &body("selfActivate"))
            .await
            .code(),
        "RoleAssignmentExists"
    );
    assert_eq!(
        sim.post(GROUP_REQUESTS, &t, &body("selfDeactivate"))
            .await
            .code(),
        "ActiveDurationTooShort"
    );
    sim.ctl().advance(301);
    let t = sim.graph_token().await;
    let d = sim.post(GROUP_REQUESTS, &t, &body("selfDeactivate")).await;
    assert_eq!(d.status, 201);
    assert_eq!(d.body["status"], "Provisioned");
    assert_eq!(
        sim.post(GROUP_REQUESTS, &t, &body("selfDeactivate"))
            .await
            .code(),
        "RoleAssignmentDoesNotExist"
    );
    // owner approval through the control API
    let mut o = body("selfActivate");
    o["accessId"] = json!("owner");
    let r = sim.post(GROUP_REQUESTS, &t, &o).await;
    assert_eq!(r.body["status"], "PendingApproval");
    let pending = sim.ctl().pending();
    assert_eq!(pending[0].kind, "group");
    assert_eq!(pending[0].role_name, "SQL Prod Admins (owner)");
    sim.ctl().approve(&pending[0].id, None).expect("approve");
    let inst = sim.get("/v1.0/identityGovernance/privilegedAccess/group/assignmentScheduleInstances/filterByCurrentUser(on='principal')", &t).await;
    assert!(inst.values().iter().any(|v| v["accessId"] == "owner"));
}

#[tokio::test]
async fn arm_put_idempotency_cancel_and_deactivate() {
    let sim = start("demo").await;
    let t = sim.arm_token().await;
    let name = uuid::Uuid::new_v4().to_string();
    let body = arm_activate(PROD_SUB, CONTRIBUTOR, "PT1H", Some("j"), Some("CHG-9"));
    let first = sim.put(&arm_request_path(PROD_SUB, &name), &t, &body).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = sim.put(&arm_request_path(PROD_SUB, &name), &t, &body).await;
    assert!(again.status == 201 || again.status == 200);
    assert_eq!(again.body["name"], first.body["name"]);
    let mut other = body.clone();
    other["properties"]["justification"] = json!("different");
    let diff = sim
        .put(&arm_request_path(PROD_SUB, &name), &t, &other)
        .await;
    assert_eq!(diff.status, 400);
    assert_eq!(diff.code(), "RoleAssignmentRequestExists");
    // duplicate activation with a fresh name
    let dup = sim.arm_put_new(&t, &body).await;
    assert_eq!(dup.code(), "RoleAssignmentExists");
    // deactivate: guard, then Revoked
    let deact = json!({"properties": {"principalId": ADELE, "roleDefinitionId": arm_role(PROD_SUB, CONTRIBUTOR), "requestType": "SelfDeactivate"}});
    let r = sim.arm_put_new(&t, &deact).await;
    assert_eq!(r.code(), "ActiveDurationTooShort");
    sim.ctl().advance(300);
    let t = sim.arm_token().await;
    let r = sim.arm_put_new(&t, &deact).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["properties"]["status"], "Revoked");
    assert_eq!(r.body["properties"]["requestType"], "SelfDeactivate");
    let r = sim.arm_put_new(&t, &deact).await;
    assert_eq!(r.code(), "RoleAssignmentDoesNotExist");
    // scheduled, then cancelled → 200 with an empty body
    let mut later = arm_activate(PROD_SUB, CONTRIBUTOR, "PT1H", Some("j"), Some("CHG-9"));
    later["properties"]["scheduleInfo"]["startDateTime"] =
        json!(rfc3339(sim.ctl().now() + time::Duration::hours(3)));
    let n2 = uuid::Uuid::new_v4().to_string();
    let g = sim.put(&arm_request_path(PROD_SUB, &n2), &t, &later).await;
    assert_eq!(g.body["properties"]["status"], "Granted");
    let c = sim.arm_cancel(&t, PROD_SUB, &n2).await;
    assert_eq!(c.status, 200);
    assert_eq!(
        sim.get(&arm_request_path(PROD_SUB, &n2), &t).await.body["properties"]["status"],
        "Canceled"
    );
    let c = sim.arm_cancel(&t, PROD_SUB, &n2).await;
    assert_eq!(c.status, 400, "cancelling twice");
}

#[tokio::test]
async fn a_lagging_request_list_shows_new_requests_late() {
    const MINE: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/filterByCurrentUser(on='principal')";
    let sim = start("demo").await;
    sim.ctl()
        .configure(&json!({"requestListLag": 30}))
        .expect("config");
    let t = sim.graph_token().await;
    let r = sim
        .activate(&t, GLOBAL_ADMIN, "/", "PT1H", Some("break glass"))
        .await;
    assert_eq!(r.status, 201);
    let id = r.id();
    let listed = |r: &Resp| r.values().iter().any(|v| v["id"] == id.as_str());
    assert!(!listed(&sim.get(MINE, &t).await), "listed at once");
    // The request exists all the same.
    let by_id = sim
        .get(
            &format!("/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/{id}"),
            &t,
        )
        .await;
    assert_eq!(by_id.status, 200);
    sim.ctl().advance(31);
    assert!(listed(&sim.get(MINE, &t).await), "not listed after the lag");
}
