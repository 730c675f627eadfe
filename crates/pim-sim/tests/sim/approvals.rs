//! The approver's inbox: other users' requests waiting for the signed-in user (Graph
//! `filterByCurrentUser(on='approver')`, group and beta Entra approvals, ARM
//! `roleAssignmentApprovals`), deciding them, the errors, multi-stage approvals and the
//! control API (`/_sim/incoming`).

use jsonschema::{Draft, Validator};
use pim_sim::IncomingRequest;
use serde_json::{Value, json};

use crate::harness::*;
use crate::schema::{assert_arm, assert_graph_collection, errors, strip_nulls};

pub const ALEX: &str = "6e7b768e-07e2-4810-8459-485f84f8f204";
pub const LEE: &str = "9a2f4c1d-3b8e-4f57-a6d0-1e5c7b9f2a48";
pub const DIEGO: &str = "c5d81e3a-6f29-4b07-9e4c-2a8f0d6b1c73";
pub const MEGAN: &str = "3fbd929d-8c56-4462-851e-0eb9a7b3a2a5";
pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

pub const ENTRA_APPROVER: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/filterByCurrentUser(on='approver')";
pub const GROUP_APPROVER: &str = "/v1.0/identityGovernance/privilegedAccess/group/assignmentScheduleRequests/filterByCurrentUser(on='approver')";
pub const ENTRA_APPROVALS: &str = "/beta/roleManagement/directory/roleAssignmentApprovals";
pub const GROUP_APPROVALS: &str =
    "/v1.0/identityGovernance/privilegedAccess/group/assignmentApprovals";
pub const ARM_APPROVALS: &str = "/providers/Microsoft.Authorization/roleAssignmentApprovals";
pub const ARM_API: &str = "api-version=2021-01-01-preview";

/// JSON Schema (draft-04) of ARM `RoleAssignmentApproval` and `RoleAssignmentApprovalStep`,
/// transcribed from the `definitions` of Azure/azure-rest-api-specs
/// `specification/authorization/resource-manager/Microsoft.Authorization/preview/2021-01-01-preview/authorization-RoleAssignmentApprovalCalls.json`
/// (the revision whose approval properties hold `stages`); not in `shared/pim-api/specs`.
fn arm_approval_schema(definition: &str) -> Validator {
    let schema = json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "$ref": format!("#/definitions/{definition}"),
        "definitions": {
            "RoleAssignmentApprovalActorIdentity": {"type": "object", "properties": {
                "principalId": {"type": "string"},
                "principalType": {"type": "string", "enum": ["user", "servicePrincipal"]},
                "principalName": {"type": "string"},
                "userPrincipalName": {"type": "string"}}},
            "RoleAssignmentApproval": {"type": "object", "required": ["id", "name", "type", "properties"], "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "type": {"type": "string"},
                "properties": {"$ref": "#/definitions/RoleAssignmentApprovalProperties"}}},
            "RoleAssignmentApprovalProperties": {"type": "object", "required": ["stages"], "properties": {
                "stages": {"type": "array", "items": {"$ref": "#/definitions/RoleAssignmentApprovalStep"}}}},
            "RoleAssignmentApprovalStep": {"type": "object", "required": ["id", "name", "type", "properties"], "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "type": {"type": "string"},
                "properties": {"$ref": "#/definitions/RoleAssignmentApprovalStepProperties"}}},
            "RoleAssignmentApprovalStepProperties": {"type": "object", "properties": {
                "displayName": {"type": "string"},
                "status": {"type": "string", "enum": ["NotStarted", "InProgress", "Completed", "Expired", "Initializing", "Escalating", "Completing", "Escalated"]},
                "assignedToMe": {"type": "boolean"},
                "reviewedBy": {"$ref": "#/definitions/RoleAssignmentApprovalActorIdentity"},
                "reviewedDateTime": {"type": "string", "format": "date-time"},
                "reviewResult": {"type": "string", "enum": ["Approve", "Deny", "NotReviewed"]},
                "justification": {"type": "string"}}}
        }
    });
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .build(&schema)
        .expect("arm approval schema")
}

/// JSON Schema (2020-12) of Graph `approval` with its stages (v1.0 `stages` of
/// `approvalStage`; beta `steps` of `approvalStep`), transcribed from the `EntityType`s
/// `approval` and `approvalStage` of microsoftgraph/msgraph-metadata
/// `clean_v10_metadata/cleanMetadata.xml` (commit f54f11b6, the one `shared/pim-api/specs`
/// was cut from) with the mapping rules of `specs/README.md`; not in the specs subset.
fn graph_approval_schema(prop: &str) -> Validator {
    let nullable = |t: &str| json!({"type": [t, "null"]});
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["id", prop],
        "properties": {
            "id": {"type": "string"},
            prop: {"type": "array", "items": {"$ref": "#/$defs/stage"}}
        },
        "$defs": {"stage": {"type": "object", "required": ["id"], "properties": {
            "id": {"type": "string"},
            "assignedToMe": nullable("boolean"),
            "displayName": nullable("string"),
            "justification": nullable("string"),
            "reviewedBy": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {
                "id": nullable("string"), "displayName": nullable("string")}}]},
            "reviewedDateTime": {"anyOf": [{"type": "null"}, {"type": "string", "format": "date-time"}]},
            "reviewResult": nullable("string"),
            "status": nullable("string")
        }}}
    });
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .build(&schema)
        .expect("graph approval schema")
}

fn assert_valid(v: &Validator, what: &str, instance: &Value) {
    let errs = errors(v, instance);
    assert!(errs.is_empty(), "{what} invalid: {errs:?}\n{instance:#}");
}

pub fn incoming_of(sim: &Sim, requester: &str) -> IncomingRequest {
    sim.ctl()
        .incoming()
        .into_iter()
        .find(|i| i.requester.id == requester)
        .unwrap_or_else(|| panic!("incoming request of {requester}"))
}

pub fn arm_path(rest: &str) -> String {
    format!("{ARM_APPROVALS}{rest}?{ARM_API}")
}

pub fn decision(result: &str, justification: Option<&str>) -> Value {
    match justification {
        Some(j) => json!({"reviewResult": result, "justification": j}),
        None => json!({"reviewResult": result}),
    }
}

#[tokio::test]
async fn the_demo_inbox_lists_each_kind_with_what_an_approver_needs() {
    let sim = start("demo").await;
    let g = sim.graph_token().await;
    let a = sim.arm_token().await;
    // Entra roles: Alex Wilber asks for Global Administrator with INC-2217
    let l = sim
        .get(
            &format!("{ENTRA_APPROVER}?$filter=status eq 'PendingApproval'&$expand=principal,roleDefinition($select=displayName)"),
            &g,
        )
        .await;
    assert_eq!(l.status, 200, "{}", l.body);
    assert_graph_collection("unifiedRoleAssignmentScheduleRequest", &l.body);
    let items = l.values();
    assert_eq!(items.len(), 1, "{items:#?}");
    let ga = &items[0];
    assert_eq!(ga["principalId"], ALEX);
    assert_eq!(ga["principal"]["displayName"], "Alex Wilber");
    assert_eq!(
        ga["principal"]["userPrincipalName"],
        "alexw@contoso.onmicrosoft.com"
    );
    assert_eq!(ga["roleDefinition"]["displayName"], "Global Administrator");
    assert_eq!(ga["roleDefinitionId"], GLOBAL_ADMIN);
    assert_eq!(ga["directoryScopeId"], "/");
    assert_eq!(ga["ticketInfo"]["ticketNumber"], "INC-2217");
    assert_eq!(
        ga["justification"],
        "Renew the expiring SAML signing certificate of the Salesforce app"
    );
    assert_eq!(ga["scheduleInfo"]["expiration"]["duration"], "PT1H");
    assert!(ga["scheduleInfo"]["startDateTime"].is_string());
    assert!(ga["createdDateTime"].is_string());
    assert_eq!(ga["status"], "PendingApproval");
    assert_eq!(
        ga["approvalId"], ga["id"],
        "Graph approval id = request id [Doc]"
    );
    // not among the signed-in user's own requests
    let mine = sim
        .get(
            &format!("{ROLE_REQUESTS}/filterByCurrentUser(on='principal')"),
            &g,
        )
        .await;
    assert!(mine.values().iter().all(|v| v["principalId"] == ADELE));
    // PIM for Groups: Diego Siciliani asks for SQL Prod Admins membership
    let gl = sim
        .get(&format!("{GROUP_APPROVER}?$expand=principal,group"), &g)
        .await;
    assert_graph_collection("privilegedAccessGroupAssignmentScheduleRequest", &gl.body);
    let sql = &gl.values()[0];
    assert_eq!(sql["principal"]["displayName"], "Diego Siciliani");
    assert_eq!(sql["group"]["displayName"], "SQL Prod Admins");
    assert_eq!(sql["accessId"], "member");
    assert_eq!(sql["approvalId"], sql["id"]);
    // Azure: the schedule requests asApprover() carry the requester, role and scope
    let ar = sim
        .get(
            "/providers/Microsoft.Authorization/roleAssignmentScheduleRequests?api-version=2020-10-01&$filter=asApprover()",
            &a,
        )
        .await;
    assert_eq!(ar.status, 200, "{}", ar.body);
    let reqs = ar.values();
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    for r in &reqs {
        assert_arm(
            "RoleAssignmentScheduleRequest.json",
            "RoleAssignmentScheduleRequest",
            r,
        );
    }
    let contributor = reqs
        .iter()
        .find(|r| r["properties"]["principalId"] == LEE)
        .expect("Lee's request");
    let p = &contributor["properties"];
    assert_eq!(
        p["expandedProperties"]["principal"]["displayName"],
        "Lee Gu"
    );
    assert_eq!(
        p["expandedProperties"]["principal"]["email"],
        "leeg@contoso.onmicrosoft.com"
    );
    assert_eq!(
        p["expandedProperties"]["roleDefinition"]["displayName"],
        "Contributor"
    );
    assert_eq!(p["expandedProperties"]["scope"]["displayName"], "Prod");
    assert_eq!(p["ticketInfo"]["ticketNumber"], "CHG0032511");
    assert_eq!(p["status"], "PendingApproval");
    let approval_id = p["approvalId"].as_str().expect("approvalId").to_owned();
    assert!(approval_id.starts_with("/providers/Microsoft.Authorization/roleAssignmentApprovals/"));
    // the user's own Azure requests do not list them
    let own = sim
        .get(
            "/providers/Microsoft.Authorization/roleAssignmentScheduleRequests?api-version=2020-10-01&$filter=asRequestor()",
            &a,
        )
        .await;
    assert!(
        own.values()
            .iter()
            .all(|r| r["properties"]["principalId"] == ADELE)
    );
    // ARM approvals asApprover(): one stage of mine in progress; the two-stage one has
    // Megan's first, mine second (not started)
    let al = sim
        .get(
            &format!("{ARM_APPROVALS}?{ARM_API}&$filter=asApprover()"),
            &a,
        )
        .await;
    assert_eq!(al.status, 200, "{}", al.body);
    let approvals = al.values();
    assert_eq!(approvals.len(), 2);
    let schema = arm_approval_schema("RoleAssignmentApproval");
    for x in &approvals {
        assert_valid(&schema, "RoleAssignmentApproval", &strip_nulls(x));
        assert_eq!(x["type"], "Microsoft.Authorization/roleAssignmentApprovals");
    }
    let lee = approvals
        .iter()
        .find(|x| x["id"] == approval_id.as_str())
        .expect("Lee's approval");
    let stage = &lee["properties"]["stages"][0];
    assert_eq!(stage["properties"]["assignedToMe"], true);
    assert_eq!(stage["properties"]["status"], "InProgress");
    assert_eq!(stage["properties"]["reviewResult"], "NotReviewed");
    assert_eq!(
        stage["name"], lee["name"],
        "stage 1 id = approval id [Observed]"
    );
    let two = approvals
        .iter()
        .find(|x| x["id"] != approval_id.as_str())
        .expect("the two-stage approval");
    let stages = two["properties"]["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0]["properties"]["displayName"], "Security lead");
    assert_eq!(stages[0]["properties"]["assignedToMe"], false);
    assert_eq!(stages[0]["properties"]["status"], "InProgress");
    assert_eq!(stages[1]["properties"]["assignedToMe"], true);
    assert_eq!(stages[1]["properties"]["status"], "NotStarted");
    // control: four incoming, none of them the user's pending requests
    assert_eq!(sim.ctl().incoming().len(), 4);
    assert!(sim.ctl().pending().is_empty());
    let state = sim.control_get("/_sim/state").await;
    let contoso = &state.body["tenants"][0];
    assert_eq!(contoso["incoming"].as_array().map(Vec::len), Some(4));
    assert!(
        contoso["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .all(|q| q["status"] != "PendingApproval")
    );
}

#[tokio::test]
async fn approving_an_entra_request_activates_the_requester() {
    let sim = start("demo").await;
    let g = sim.graph_token().await;
    let alex = incoming_of(&sim, ALEX);
    // the beta approval with its steps
    let r = sim
        .get(&format!("{ENTRA_APPROVALS}/{}", alex.approval_id), &g)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_valid(&graph_approval_schema("steps"), "approval", &r.body);
    assert!(r.body["@odata.context"].as_str().is_some_and(|c| {
        c.ends_with("/beta/$metadata#roleManagement/directory/roleAssignmentApprovals/$entity")
    }));
    let step = &r.body["steps"][0];
    assert_eq!(step["assignedToMe"], true);
    assert_eq!(step["status"], "InProgress");
    assert_eq!(step["reviewResult"], "NotReviewed");
    let step_id = step["id"].as_str().expect("step id").to_owned();
    // the steps collection and one step
    let steps = sim
        .get(&format!("{ENTRA_APPROVALS}/{}/steps", alex.approval_id), &g)
        .await;
    assert_eq!(steps.values().len(), 1);
    let one = sim
        .get(
            &format!("{ENTRA_APPROVALS}/{}/steps/{step_id}", alex.approval_id),
            &g,
        )
        .await;
    assert_eq!(one.body["id"], step_id.as_str());
    // Graph beta serves the request lists too
    let beta = sim
        .get(&format!("/beta{}", &ENTRA_APPROVER["/v1.0".len()..]), &g)
        .await;
    assert_eq!(beta.status, 200, "{}", beta.body);
    assert!(
        beta.body["@odata.context"]
            .as_str()
            .is_some_and(|c| c.contains("/beta/$metadata#"))
    );
    assert_eq!(beta.values().len(), 1);
    // Entra approvals are beta only [Doc]
    let v1 = sim
        .get(
            &format!(
                "/v1.0/roleManagement/directory/roleAssignmentApprovals/{}",
                alex.approval_id
            ),
            &g,
        )
        .await;
    assert_eq!(v1.status, 400);
    // approve
    let path = format!("{ENTRA_APPROVALS}/{}/steps/{step_id}", alex.approval_id);
    let p = sim
        .patch(
            &path,
            &g,
            &decision("Approve", Some("Change INC-2217 reviewed")),
        )
        .await;
    assert_eq!(p.status, 204, "{}", p.body);
    assert!(p.body.is_null());
    let after = sim
        .get(&format!("{ENTRA_APPROVALS}/{}", alex.approval_id), &g)
        .await;
    let step = &after.body["steps"][0];
    assert_eq!(step["status"], "Completed");
    assert_eq!(step["reviewResult"], "Approve");
    assert_eq!(step["justification"], "Change INC-2217 reviewed");
    assert_eq!(step["reviewedBy"]["id"], ADELE);
    assert_eq!(step["reviewedBy"]["displayName"], "Adele Vance");
    assert!(step["reviewedDateTime"].is_string());
    // the request is provisioned and the requester's activation is active
    let l = sim.get(ENTRA_APPROVER, &g).await;
    let q = l
        .values()
        .into_iter()
        .find(|v| v["id"] == alex.id.as_str())
        .expect("listed");
    assert_eq!(q["status"], "Provisioned");
    assert!(q["targetScheduleId"].is_string());
    let alex = incoming_of(&sim, ALEX);
    assert_eq!(alex.status, "Provisioned");
    let assignment = alex.assignment.expect("the requester's assignment");
    assert!(assignment.active);
    // ... and it is Alex's, not the signed-in user's
    let active = sim
        .get("/v1.0/roleManagement/directory/roleAssignmentScheduleInstances/filterByCurrentUser(on='principal')", &g)
        .await;
    assert!(active.find_role(GLOBAL_ADMIN).is_none());
    // deciding again: 409
    let again = sim.patch(&path, &g, &decision("Deny", Some("no"))).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.code(), "ApprovalStepAlreadyCompleted");
    // unknown approval and step: 404
    let none = sim
        .patch(
            &format!("{ENTRA_APPROVALS}/00000000-0000-0000-0000-000000000000/steps/{step_id}"),
            &g,
            &decision("Approve", Some("x")),
        )
        .await;
    assert_eq!(none.status, 404);
    let bad_step = sim
        .get(
            &format!("{ENTRA_APPROVALS}/{}/steps/nope", alex.approval_id),
            &g,
        )
        .await;
    assert_eq!(bad_step.status, 404);
}

#[tokio::test]
async fn denying_a_group_request_needs_a_justification_and_records_it() {
    let sim = start("demo").await;
    let g = sim.graph_token().await;
    let diego = incoming_of(&sim, DIEGO);
    // v1.0: `stages` (CSDL), addressed as `steps` too (the update page)
    let r = sim
        .get(&format!("{GROUP_APPROVALS}/{}", diego.approval_id), &g)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_valid(&graph_approval_schema("stages"), "approval", &r.body);
    let sid = r.body["stages"][0]["id"]
        .as_str()
        .expect("stage")
        .to_owned();
    for seg in ["stages", "steps"] {
        let one = sim
            .get(
                &format!("{GROUP_APPROVALS}/{}/{seg}/{sid}", diego.approval_id),
                &g,
            )
            .await;
        assert_eq!(one.status, 200, "{seg}");
    }
    let path = format!("{GROUP_APPROVALS}/{}/steps/{sid}", diego.approval_id);
    // no justification: 400 (approverJustification: required)
    let p = sim.patch(&path, &g, &decision("Deny", None)).await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert_eq!(p.code(), "ApproverJustificationRequired");
    let blank = sim.patch(&path, &g, &decision("Deny", Some("  "))).await;
    assert_eq!(blank.status, 400);
    // a bad decision: 400
    let odd = sim.patch(&path, &g, &decision("Maybe", Some("x"))).await;
    assert_eq!(odd.status, 400);
    let p = sim
        .patch(&path, &g, &decision("Deny", Some("Not during the freeze")))
        .await;
    assert_eq!(p.status, 204, "{}", p.body);
    let diego = incoming_of(&sim, DIEGO);
    assert_eq!(diego.status, "Denied");
    assert!(diego.assignment.is_none());
    assert_eq!(diego.stages[0].review_result, "Deny");
    assert_eq!(
        diego.stages[0].justification.as_deref(),
        Some("Not during the freeze")
    );
    let l = sim.get(GROUP_APPROVER, &g).await;
    assert_eq!(l.values()[0]["status"], "Denied");
    // configurable: a justification only for denials, or never
    sim.control_post(
        "/_sim/config",
        &json!({"approverJustification": "denyOnly"}),
    )
    .await;
    let add = sim
        .control_post(
            "/_sim/incoming",
            &json!({"kind": "group", "group": "SQL Prod Admins", "access": "owner", "requester": "leeg@contoso.onmicrosoft.com"}),
        )
        .await;
    assert_eq!(add.status, 201, "{}", add.body);
    let path = format!(
        "{GROUP_APPROVALS}/{}/stages/{}",
        add.body["approvalId"].as_str().expect("approvalId"),
        add.body["stages"][0]["id"].as_str().expect("stage")
    );
    assert_eq!(
        sim.patch(&path, &g, &decision("Deny", None)).await.status,
        400
    );
    assert_eq!(
        sim.patch(&path, &g, &decision("approve", None))
            .await
            .status,
        204
    );
    // past-tense rendering (the resource docs' spelling)
    sim.control_post("/_sim/config", &json!({"reviewResultPastTense": true}))
        .await;
    let r = sim
        .get(
            &format!(
                "{GROUP_APPROVALS}/{}",
                add.body["approvalId"].as_str().unwrap_or_default()
            ),
            &g,
        )
        .await;
    assert_eq!(r.body["stages"][0]["reviewResult"], "Approved");
    assert_eq!(
        sim.control_post(
            "/_sim/config",
            &json!({"approverJustification": "sometimes"})
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn azure_decisions_answer_the_stage_and_errors_are_arm_shaped() {
    let sim = start("demo").await;
    let a = sim.arm_token().await;
    let lee = incoming_of(&sim, LEE);
    let name = lee.approval_id.rsplit('/').next().expect("name").to_owned();
    let stage = lee.stages[0].id.clone();
    assert_eq!(stage, name);
    // get the approval, its stages and one stage
    let r = sim.get(&arm_path(&format!("/{name}")), &a).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_valid(
        &arm_approval_schema("RoleAssignmentApproval"),
        "approval",
        &strip_nulls(&r.body),
    );
    let s = sim.get(&arm_path(&format!("/{name}/stages")), &a).await;
    assert_eq!(s.values().len(), 1);
    let one = sim
        .get(&arm_path(&format!("/{name}/stages/{stage}")), &a)
        .await;
    assert_valid(
        &arm_approval_schema("RoleAssignmentApprovalStep"),
        "stage",
        &strip_nulls(&one.body),
    );
    assert_eq!(
        one.body["type"],
        "Microsoft.Authorization/roleAssignmentApprovals/stages"
    );
    // api-version: only 2021-01-01-preview
    let old = sim
        .get(
            &format!("{ARM_APPROVALS}/{name}?api-version=2020-10-01"),
            &a,
        )
        .await;
    assert_eq!(old.status, 400);
    assert_eq!(old.code(), "InvalidApiVersionParameter");
    // malformed decision
    let bad = sim
        .patch(
            &arm_path(&format!("/{name}/stages/{stage}")),
            &a,
            &json!({"properties": {}}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.code(), "InvalidRequestContent");
    // approve: 200 with the stage
    let body = json!({"properties": {"reviewResult": "Approve", "justification": "CHG0032511 approved in CAB"}});
    let p = sim
        .patch(&arm_path(&format!("/{name}/stages/{stage}")), &a, &body)
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_valid(
        &arm_approval_schema("RoleAssignmentApprovalStep"),
        "stage",
        &strip_nulls(&p.body),
    );
    let props = &p.body["properties"];
    assert_eq!(props["status"], "Completed");
    assert_eq!(props["reviewResult"], "Approve");
    assert_eq!(props["reviewedBy"]["principalId"], ADELE);
    assert_eq!(props["reviewedBy"]["principalName"], "Adele Vance");
    assert_eq!(props["reviewedBy"]["principalType"], "user");
    // the request is provisioned for Lee
    let lee = incoming_of(&sim, LEE);
    assert_eq!(lee.status, "Provisioned");
    assert!(lee.assignment.as_ref().is_some_and(|x| x.active));
    let req = sim.get(&arm_request_path(PROD_SUB, &lee.id), &a).await;
    assert_eq!(req.body["properties"]["status"], "Provisioned");
    assert_eq!(req.body["properties"]["principalId"], LEE);
    // not the signed-in user's role
    let mine = sim
        .get(&format!("{PROD_SUB}/providers/Microsoft.Authorization/roleAssignmentScheduleInstances?api-version=2020-10-01&$filter=asTarget()"), &a)
        .await;
    assert!(
        mine.values()
            .iter()
            .all(|v| v["properties"]["principalId"] == ADELE)
    );
    // again: 409; PUT (the Swagger's other verb) the same
    let again = sim
        .put(&arm_path(&format!("/{name}/stages/{stage}")), &a, &body)
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.code(), "RoleAssignmentApprovalAlreadyCompleted");
    // unknown approval, unknown stage
    let none = sim
        .patch(
            &arm_path("/6f1e2d3c-0000-4000-8000-000000000000/stages/x"),
            &a,
            &body,
        )
        .await;
    assert_eq!(none.status, 404);
    assert_eq!(none.code(), "RoleAssignmentApprovalNotFound");
    let no_stage = sim
        .get(&arm_path(&format!("/{name}/stages/nope")), &a)
        .await;
    assert_eq!(no_stage.status, 404);
    // the body the Entra how-to shows (no `properties`), and an empty answer by config
    sim.control_post(
        "/_sim/config",
        &json!({"armDecisionEmpty": true, "approverJustification": "optional"}),
    )
    .await;
    let add = sim
        .control_post(
            "/_sim/incoming",
            &json!({"kind": "azureRole", "role": "Reader", "subscription": "Prod", "resourceGroup": "rg-web", "requester": "Alex Wilber"}),
        )
        .await;
    assert_eq!(add.status, 201, "{}", add.body);
    let aname = add.body["approvalId"]
        .as_str()
        .and_then(|x| x.rsplit('/').next())
        .expect("name")
        .to_owned();
    let sid = add.body["stages"][0]["id"]
        .as_str()
        .expect("stage")
        .to_owned();
    let p = sim
        .patch(
            &arm_path(&format!("/{aname}/stages/{sid}")),
            &a,
            &json!({"reviewResult": "Deny"}),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.is_null());
    assert_eq!(
        sim.ctl()
            .incoming()
            .iter()
            .find(|i| i.approval_id.ends_with(&aname))
            .map(|i| i.status.clone()),
        Some("Denied".to_owned())
    );
}

#[tokio::test]
async fn only_the_current_stage_assigned_to_me_can_be_decided() {
    let sim = start("demo").await;
    let a = sim.arm_token().await;
    let owner = sim
        .ctl()
        .incoming()
        .into_iter()
        .find(|i| i.role == OWNER)
        .expect("the two-stage Owner request");
    assert_eq!(owner.scope_name, "rg-data");
    let name = owner
        .approval_id
        .rsplit('/')
        .next()
        .expect("name")
        .to_owned();
    let (first, second) = (owner.stages[0].id.clone(), owner.stages[1].id.clone());
    assert!(owner.stages[0].approvers.iter().any(|p| p.id == MEGAN));
    let body = json!({"properties": {"reviewResult": "Approve", "justification": "ok"}});
    // my stage has not started: 409
    let early = sim
        .patch(&arm_path(&format!("/{name}/stages/{second}")), &a, &body)
        .await;
    assert_eq!(early.status, 409, "{}", early.body);
    assert_eq!(early.code(), "RoleAssignmentApprovalStageNotStarted");
    // Megan's stage is not mine: 403
    let theirs = sim
        .patch(&arm_path(&format!("/{name}/stages/{first}")), &a, &body)
        .await;
    assert_eq!(theirs.status, 403, "{}", theirs.body);
    assert_eq!(theirs.code(), "AuthorizationFailed");
    // Megan approves elsewhere: my stage becomes current
    sim.ctl()
        .approve(&owner.id, None)
        .expect("stage 1 approved");
    let owner = incoming_of(&sim, &owner.requester.id);
    assert_eq!(owner.status, "PendingApproval");
    assert_eq!(owner.stages[0].status, "Completed");
    assert_eq!(
        owner.stages[0]
            .reviewed_by
            .as_ref()
            .map(|p| p.display_name.as_str()),
        Some("Megan Bowen")
    );
    assert_eq!(owner.stages[1].status, "InProgress");
    assert!(owner.stages[1].assigned_to_me);
    let p = sim
        .patch(&arm_path(&format!("/{name}/stages/{second}")), &a, &body)
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let owner = incoming_of(&sim, &owner.requester.id);
    assert_eq!(owner.status, "Provisioned");
    assert!(owner.assignment.is_some_and(|x| x.active));
}
