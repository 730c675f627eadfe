//! The approver's inbox, continued: decisions made elsewhere, cancelled and timed-out
//! requests, the caller's own request, permission scopes and the control API
//! (`/_sim/incoming`).

use pim_sim::{IncomingRequest, NewIncoming, Scenario};
use serde_json::{Value, json};

use crate::approvals::*;
use crate::harness::*;

#[tokio::test]
async fn requests_decided_elsewhere_cancelled_or_timed_out_conflict() {
    let sim = start("demo").await;
    let g = sim.graph_token().await;
    // decided by another approver (the control API)
    let diego = incoming_of(&sim, DIEGO);
    let c = sim
        .control_post(
            &format!("/_sim/approvals/{}/approve", diego.approval_id),
            &Value::Null,
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.body);
    let path = format!(
        "{GROUP_APPROVALS}/{}/steps/{}",
        diego.approval_id, diego.stages[0].id
    );
    let p = sim.patch(&path, &g, &decision("Approve", Some("ok"))).await;
    assert_eq!(p.status, 409);
    assert_eq!(p.code(), "ApprovalStepAlreadyCompleted");
    let diego = incoming_of(&sim, DIEGO);
    assert_eq!(diego.status, "Provisioned");
    assert_eq!(
        diego.stages[0]
            .reviewed_by
            .as_ref()
            .map(|p| p.display_name.as_str()),
        Some("Privileged Role Administrator"),
        "a stage only the user approves is decided by an administrator"
    );
    // cancelled by the requester
    let alex = incoming_of(&sim, ALEX);
    let cancel = sim
        .control_post(&format!("/_sim/incoming/{}/cancel", alex.id), &Value::Null)
        .await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    assert_eq!(cancel.body["status"], "Canceled");
    let path = format!(
        "{ENTRA_APPROVALS}/{}/steps/{}",
        alex.approval_id, alex.stages[0].id
    );
    let p = sim.patch(&path, &g, &decision("Approve", Some("ok"))).await;
    assert_eq!(p.status, 409);
    assert_eq!(p.code(), "RoleAssignmentRequestNotPending");
    // nobody decided within 24 hours: TimedOut, the stage Expired
    sim.ctl().advance(24 * 3600);
    let lee = incoming_of(&sim, LEE);
    assert_eq!(lee.status, "TimedOut");
    assert_eq!(lee.stages[0].status, "Expired");
    let a = sim.arm_token().await;
    let name = lee.approval_id.rsplit('/').next().expect("name").to_owned();
    let p = sim
        .patch(
            &arm_path(&format!("/{name}/stages/{}", lee.stages[0].id)),
            &a,
            &json!({"properties": {"reviewResult": "Approve", "justification": "late"}}),
        )
        .await;
    assert_eq!(p.status, 409);
    // the control API refuses a request no longer pending
    assert_eq!(
        sim.control_post(&format!("/_sim/approvals/{}/deny", lee.id), &Value::Null)
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn my_own_request_is_not_mine_to_approve() {
    let sim = start("demo").await;
    let g = sim.graph_token().await;
    let r = sim
        .activate(&g, GLOBAL_ADMIN, "/", "PT1H", Some("break glass"))
        .await;
    assert_eq!(r.body["status"], "PendingApproval");
    let approval = r.body["approvalId"]
        .as_str()
        .expect("approvalId")
        .to_owned();
    let a = sim.get(&format!("{ENTRA_APPROVALS}/{approval}"), &g).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let step = &a.body["steps"][0];
    assert_eq!(step["assignedToMe"], false);
    assert_eq!(step["status"], "InProgress");
    let p = sim
        .patch(
            &format!(
                "{ENTRA_APPROVALS}/{approval}/steps/{}",
                step["id"].as_str().unwrap_or_default()
            ),
            &g,
            &decision("Approve", Some("self")),
        )
        .await;
    assert_eq!(p.status, 403, "{}", p.body);
    // the request id addresses it too (Graph documents the approval by the request id)
    let by_request = sim.get(&format!("{ENTRA_APPROVALS}/{}", r.id()), &g).await;
    assert_eq!(by_request.status, 200, "{}", by_request.body);
    assert_eq!(by_request.body["steps"][0]["id"], step["id"]);
    // the approver list does not hold it; /_sim/pending does
    assert!(
        sim.get(ENTRA_APPROVER, &g)
            .await
            .values()
            .iter()
            .all(|v| v["principalId"] != ADELE)
    );
    assert_eq!(sim.ctl().pending().len(), 1);
}

#[tokio::test]
async fn approvals_need_their_permission_scopes() {
    let sim = start("demo").await;
    let read = sim
        .access_token(
            "https://graph.microsoft.com/RoleAssignmentSchedule.Read.Directory https://graph.microsoft.com/PrivilegedAssignmentSchedule.Read.AzureADGroup openid offline_access",
            None,
        )
        .await;
    let alex = incoming_of(&sim, ALEX);
    let diego = incoming_of(&sim, DIEGO);
    // reading works with the read scopes
    assert_eq!(
        sim.get(&format!("{ENTRA_APPROVALS}/{}", alex.approval_id), &read)
            .await
            .status,
        200
    );
    assert_eq!(
        sim.get(&format!("{GROUP_APPROVALS}/{}", diego.approval_id), &read)
            .await
            .status,
        200
    );
    // deciding needs ReadWrite
    let p = sim
        .patch(
            &format!(
                "{ENTRA_APPROVALS}/{}/steps/{}",
                alex.approval_id, alex.stages[0].id
            ),
            &read,
            &decision("Approve", Some("ok")),
        )
        .await;
    assert_eq!(p.status, 403);
    assert_eq!(p.code(), "PermissionScopeNotGranted");
    assert_eq!(
        p.message(),
        "Authorization failed due to missing permission scope RoleAssignmentSchedule.ReadWrite.Directory."
    );
    sim.control_post("/_sim/config", &json!({"wrapErrors": true}))
        .await;
    let p = sim
        .patch(
            &format!(
                "{GROUP_APPROVALS}/{}/steps/{}",
                diego.approval_id, diego.stages[0].id
            ),
            &read,
            &decision("Approve", Some("ok")),
        )
        .await;
    assert_eq!(p.status, 403);
    assert_eq!(p.code(), "UnknownError");
    let inner: Value = serde_json::from_str(&p.message()).expect("backend error");
    assert_eq!(inner["errorCode"], "PermissionScopeNotGranted");
    // the approver lists need the request scopes
    let user = sim
        .access_token(
            "https://graph.microsoft.com/User.Read openid offline_access",
            None,
        )
        .await;
    assert_eq!(sim.get(ENTRA_APPROVER, &user).await.status, 403);
    assert_eq!(incoming_of(&sim, ALEX).status, "PendingApproval");
}

#[tokio::test]
async fn the_control_api_adds_incoming_requests() {
    let sim = start("small").await;
    let g = sim.graph_token().await;
    // an inline requester joins the directory
    let r = sim
        .control_post(
            "/_sim/incoming",
            &json!({
                "kind": "entraRole", "role": "Teams Administrator",
                "requester": {"displayName": "Pat Doe", "userPrincipalName": "pat@tailspin.onmicrosoft.com"},
                "justification": "Team setup", "ticketNumber": "T-1", "duration": "PT2H"
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    assert_eq!(r.body["approvalId"], id.as_str());
    assert_eq!(r.body["status"], "PendingApproval");
    assert_eq!(r.body["requester"]["displayName"], "Pat Doe");
    assert_eq!(r.body["roleName"], "Teams Administrator");
    assert_eq!(r.body["stages"][0]["assignedToMe"], true);
    let l = sim
        .get(&format!("{ENTRA_APPROVER}?$expand=principal"), &g)
        .await;
    let item = l
        .values()
        .into_iter()
        .find(|v| v["id"] == id.as_str())
        .expect("listed");
    assert_eq!(
        item["principal"]["userPrincipalName"],
        "pat@tailspin.onmicrosoft.com"
    );
    // in process: a second one by the same requester (now a directory user), two stages
    let new: NewIncoming = serde_json::from_value(json!({
        "tenant": "Tailspin",
        "kind": "group", "group": "Ops Oncall", "access": "member",
        "requester": "pat@tailspin.onmicrosoft.com", "createdOffset": "-PT1H",
        "stages": [{"approvers": ["me"]}, {"displayName": "Second look", "approvers": ["me"]}]
    }))
    .expect("spec");
    let added = sim.ctl().add_incoming(&new).expect("added");
    assert_eq!(added.stages.len(), 2);
    assert_eq!(
        added.requester.id,
        r.body["requester"]["id"].as_str().unwrap_or_default()
    );
    let listed = sim.control_get("/_sim/incoming").await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(2));
    // decide both stages over Graph
    let path = |sid: &str| format!("{GROUP_APPROVALS}/{}/steps/{sid}", added.approval_id);
    let j = Some("fine");
    assert_eq!(
        sim.patch(&path(&added.stages[0].id), &g, &decision("Approve", j))
            .await
            .status,
        204
    );
    sim.control_post("/_sim/config", &json!({"graphDecisionStatus": 200}))
        .await;
    let p = sim
        .patch(&path(&added.stages[1].id), &g, &decision("Approve", j))
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["status"], "Completed");
    let done: Vec<IncomingRequest> = sim.ctl().incoming();
    let grp = done
        .iter()
        .find(|i| i.id == added.id)
        .expect("group request");
    assert_eq!(grp.status, "Provisioned");
    assert!(grp.assignment.as_ref().is_some_and(|x| x.active));
    // errors: unknown role, unknown tenant, malformed body, the user as requester
    for (body, status) in [
        (
            json!({"kind": "entraRole", "role": "Nope", "requester": "pat@tailspin.onmicrosoft.com"}),
            400,
        ),
        (
            json!({"tenant": "nowhere", "kind": "entraRole", "role": "Global Reader", "requester": "pat@tailspin.onmicrosoft.com"}),
            404,
        ),
        (json!({"kind": "entraRole"}), 400),
        (
            json!({"kind": "entraRole", "role": "Global Reader", "requester": "ghost@tailspin.onmicrosoft.com"}),
            400,
        ),
    ] {
        assert_eq!(
            sim.control_post("/_sim/incoming", &body).await.status,
            status,
            "{body}"
        );
    }
    assert_eq!(
        sim.control_post("/_sim/incoming/nope/cancel", &Value::Null)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_scenario_without_incoming_requests_has_an_empty_inbox() {
    let sim = start_with(Scenario::builtin("small").expect("small"), None).await;
    let g = sim.graph_token().await;
    let l = sim.get(ENTRA_APPROVER, &g).await;
    assert_eq!(l.status, 200);
    assert!(l.values().is_empty());
    let a = sim.arm_token().await;
    let al = sim
        .get(
            &format!("{ARM_APPROVALS}?{ARM_API}&$filter=asApprover()"),
            &a,
        )
        .await;
    assert_eq!(al.status, 200);
    assert!(al.values().is_empty());
    assert!(sim.ctl().incoming().is_empty());
}
