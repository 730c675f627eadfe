//! Every endpoint's successful response, validated against Microsoft's schemas.

use serde_json::{Value, json};

use crate::harness::*;
use crate::schema::*;

const ENTRA: &str = "/v1.0/roleManagement/directory";
const GROUP: &str = "/v1.0/identityGovernance/privilegedAccess/group";
const FBCU: &str = "filterByCurrentUser(on='principal')";

/// The rule `id` among a Graph policy's expanded `rules`.
fn policy_rule(policy: &Value, id: &str) -> Option<Value> {
    policy["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
}

/// GETs the ARM `path` and checks that it answers 200 with a `(file, definition)` of
/// the ARM specs.
async fn arm_valid(sim: &Sim, token: &str, path: &str, (file, definition): (&str, &str)) -> Resp {
    let r = sim.get(path, token).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    assert_arm(file, definition, &r.body);
    r
}

fn graph_rule_type(rule: &Value) -> String {
    rule["@odata.type"]
        .as_str()
        .expect("@odata.type")
        .trim_start_matches("#microsoft.graph.")
        .to_owned()
}

#[tokio::test]
async fn graph_entra_reads_validate() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let exp = "$expand=roleDefinition($select=id,displayName,templateId,isBuiltIn),directoryScope,appScope,principal";
    for (coll, ty) in [
        (
            "roleEligibilityScheduleInstances",
            "unifiedRoleEligibilityScheduleInstance",
        ),
        ("roleEligibilitySchedules", "unifiedRoleEligibilitySchedule"),
        (
            "roleAssignmentScheduleInstances",
            "unifiedRoleAssignmentScheduleInstance",
        ),
        ("roleAssignmentSchedules", "unifiedRoleAssignmentSchedule"),
        (
            "roleAssignmentScheduleRequests",
            "unifiedRoleAssignmentScheduleRequest",
        ),
    ] {
        for q in ["", exp] {
            let r = sim.get(&format!("{ENTRA}/{coll}/{FBCU}?{q}"), &t).await;
            assert_eq!(r.status, 200, "{coll}: {}", r.body);
            assert_graph_collection(ty, &r.body);
            assert!(
                r.body["@odata.context"]
                    .as_str()
                    .unwrap_or_default()
                    .ends_with(&format!("#Collection({ty})")),
                "{}",
                r.body["@odata.context"]
            );
        }
    }
    // the AU-scoped eligibility expands its administrative unit
    let r = sim
        .get(
            &format!("{ENTRA}/roleEligibilityScheduleInstances/{FBCU}?{exp}"),
            &t,
        )
        .await;
    let ua = r.find_role(USER_ADMIN).expect("user admin");
    assert_eq!(ua["directoryScopeId"], AU_EUROPE);
    assert_eq!(ua["directoryScope"]["displayName"], "Europe");
    assert_eq!(ua["roleDefinition"]["displayName"], "User Administrator");
    // percent-encoded quotes are equivalent
    let r = sim
        .get(
            &format!(
                "{ENTRA}/roleEligibilityScheduleInstances/filterByCurrentUser(on=%27principal%27)"
            ),
            &t,
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn graph_entra_writes_validate() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let r = sim
        .activate(&t, GLOBAL_READER, "/", "PT1H", Some("schema test"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_graph("unifiedRoleAssignmentScheduleRequest", &r.body);
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("roleAssignmentScheduleRequests('"))
    );
    let id = r.id();
    let g = sim.role_request(&t, &id).await;
    assert_eq!(g.status, 200);
    assert_graph("unifiedRoleAssignmentScheduleRequest", &g.body);
    let k = sim.get(&format!("{ROLE_REQUESTS}('{id}')"), &t).await;
    assert_eq!(k.status, 200, "key syntax: {}", k.body);
    // pending request (approval) and its cancel
    let p = sim
        .activate(&t, GLOBAL_ADMIN, "/", "PT1H", Some("needs approval"))
        .await;
    assert_eq!(p.status, 201);
    assert_graph("unifiedRoleAssignmentScheduleRequest", &p.body);
    let c = sim.cancel_role_request(&t, &p.id()).await;
    assert_eq!(c.status, 204);
    assert_eq!(c.body, Value::Null);
}

#[tokio::test]
async fn graph_group_endpoints_validate() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let act = sim
        .post(GROUP_REQUESTS, &t, &json!({
            "accessId": "member", "principalId": ADELE, "groupId": SQL_GROUP, "action": "selfActivate",
            "justification": "db maintenance",
            "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT2H"}}
        }))
        .await;
    assert_eq!(act.status, 201, "{}", act.body);
    assert_graph("privilegedAccessGroupAssignmentScheduleRequest", &act.body);
    let target = act.body["targetScheduleId"].as_str().expect("target");
    assert!(
        target.starts_with(&format!("{SQL_GROUP}_member_")),
        "{target}"
    );
    for (coll, ty) in [
        (
            "eligibilityScheduleInstances",
            "privilegedAccessGroupEligibilityScheduleInstance",
        ),
        (
            "eligibilitySchedules",
            "privilegedAccessGroupEligibilitySchedule",
        ),
        (
            "assignmentScheduleInstances",
            "privilegedAccessGroupAssignmentScheduleInstance",
        ),
        (
            "assignmentSchedules",
            "privilegedAccessGroupAssignmentSchedule",
        ),
        (
            "assignmentScheduleRequests",
            "privilegedAccessGroupAssignmentScheduleRequest",
        ),
    ] {
        let r = sim.get(&format!("{GROUP}/{coll}/{FBCU}"), &t).await;
        assert_eq!(r.status, 200, "{coll}: {}", r.body);
        assert_graph_collection(ty, &r.body);
    }
    let inst = sim
        .get(&format!("{GROUP}/assignmentScheduleInstances/{FBCU}"), &t)
        .await;
    let v = &inst.values()[0];
    assert_eq!(v["assignmentType"], "activated");
    assert_eq!(v["memberType"], "direct");
    let id = act.id();
    let g = sim.get(&format!("{GROUP_REQUESTS}/{id}"), &t).await;
    assert_eq!(g.status, 200);
    assert_graph("privilegedAccessGroupAssignmentScheduleRequest", &g.body);
    // owner needs approval → pending → cancel 204
    let own = sim
        .post(GROUP_REQUESTS, &t, &json!({
            "accessId": "owner", "principalId": ADELE, "groupId": SQL_GROUP, "action": "SelfActivate",
            "justification": "owner change", "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": "PT1H"}}
        }))
        .await;
    assert_eq!(own.status, 201, "{}", own.body);
    assert_eq!(own.body["status"], "PendingApproval");
    assert_eq!(
        own.body["action"], "selfActivate",
        "enums come back camelCase"
    );
    assert_eq!(
        own.body["scheduleInfo"]["expiration"]["type"],
        "afterDuration"
    );
    let c = sim
        .post_empty(&format!("{GROUP_REQUESTS}/{}/cancel", own.id()), &t)
        .await;
    assert_eq!(c.status, 204);
}

#[tokio::test]
async fn graph_policies_validate() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let r = sim
        .get("/v1.0/policies/roleManagementPolicyAssignments?$filter=scopeId%20eq%20'/'%20and%20scopeType%20eq%20'DirectoryRole'&$expand=policy($expand=rules)", &t)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_graph_collection("unifiedRoleManagementPolicyAssignment", &r.body);
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap_or_default()
            .ends_with("(policy(rules()))")
    );
    for a in r.values() {
        assert_graph("unifiedRoleManagementPolicy", &a["policy"]);
        let rules = a["policy"]["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), 17);
        for rule in rules {
            assert_graph(&graph_rule_type(rule), rule);
        }
    }
    // one role, the documented filter form
    let one = sim
        .get(&format!("/v1.0/policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and scopeType eq 'Directory' and roleDefinitionId eq '{EXCHANGE_ADMIN}'&$expand=policy($expand=rules)"), &t)
        .await;
    let vals = one.values();
    assert_eq!(vals.len(), 1);
    let ac = policy_rule(
        &vals[0]["policy"],
        "AuthenticationContext_EndUser_Assignment",
    )
    .expect("ac rule");
    assert_eq!(ac["isEnabled"], true);
    assert_eq!(ac["claimValue"], "c1");
    // group policy
    let g = sim
        .get(&format!("/v1.0/policies/roleManagementPolicyAssignments?$filter=scopeId eq '{SQL_GROUP}' and scopeType eq 'Group' and roleDefinitionId eq 'owner'&$expand=policy($expand=rules)"), &t)
        .await;
    assert_eq!(g.status, 200, "{}", g.body);
    assert_graph_collection("unifiedRoleManagementPolicyAssignment", &g.body);
    let gv = g.values();
    assert!(
        gv[0]["id"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!("Group_{SQL_GROUP}_"))
    );
    let approval = policy_rule(&gv[0]["policy"], "Approval_EndUser_Assignment").expect("approval");
    assert_eq!(approval["setting"]["isApprovalRequired"], true);
    // rules endpoint and policy by id
    let pid = vals[0]["policyId"].as_str().expect("policyId");
    let rules = sim
        .get(
            &format!("/v1.0/policies/roleManagementPolicies/{pid}/rules"),
            &t,
        )
        .await;
    assert_eq!(rules.status, 200, "{}", rules.body);
    assert_eq!(rules.values().len(), 17);
    for rule in rules.values() {
        assert_graph(&graph_rule_type(&rule), &rule);
    }
    let p = sim
        .get(
            &format!("/v1.0/policies/roleManagementPolicies/{pid}?$expand=rules"),
            &t,
        )
        .await;
    assert_eq!(p.status, 200);
    assert_graph("unifiedRoleManagementPolicy", &p.body);
    let list = sim.get("/v1.0/policies/roleManagementPolicies?$filter=scopeId eq '/' and scopeType eq 'DirectoryRole'&$expand=rules", &t).await;
    assert_eq!(list.status, 200);
    assert_graph_collection("unifiedRoleManagementPolicy", &list.body);
    // the filter is required
    let nf = sim
        .get("/v1.0/policies/roleManagementPolicyAssignments", &t)
        .await;
    assert_eq!(nf.status, 400);
}

#[tokio::test]
async fn graph_role_definitions_validate() {
    let sim = start("demo").await;
    let narrow = sim.graph_token().await;
    let r = sim
        .get("/v1.0/roleManagement/directory/roleDefinitions", &narrow)
        .await;
    assert_eq!(
        r.status, 403,
        "the recommended scope set does not include RoleManagement.Read.Directory"
    );
    let scope = "https://graph.microsoft.com/RoleManagement.Read.Directory offline_access";
    let t = sim.access_token(scope, None).await;
    let r = sim
        .get("/v1.0/roleManagement/directory/roleDefinitions", &t)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_graph_collection("unifiedRoleDefinition", &r.body);
    let one = sim
        .get(
            &format!("/v1.0/roleManagement/directory/roleDefinitions/{GLOBAL_READER}"),
            &t,
        )
        .await;
    assert_eq!(one.status, 200);
    assert_graph("unifiedRoleDefinition", &one.body);
    assert_eq!(one.body["displayName"], "Global Reader");
}

#[tokio::test]
async fn graph_me_and_organization() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let me = sim
        .get("/v1.0/me?$select=id,displayName,userPrincipalName", &t)
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["id"], ADELE);
    assert_eq!(me.body["displayName"], "Adele Vance");
    assert_eq!(
        me.body["userPrincipalName"],
        "adele@contoso.onmicrosoft.com"
    );
    assert!(me.body.get("mail").is_none(), "$select trims");
    let org = sim.get("/v1.0/organization", &t).await;
    assert_eq!(org.status, 200);
    let o = &org.values()[0];
    assert_eq!(o["id"], CONTOSO);
    assert_eq!(o["displayName"], "Contoso");
    let domains = o["verifiedDomains"].as_array().expect("domains");
    assert!(
        domains
            .iter()
            .any(|d| d["name"] == "contoso.onmicrosoft.com" && d["isDefault"] == true)
    );
}

#[tokio::test]
async fn arm_endpoints_validate() {
    let sim = start("demo").await;
    let t = sim.arm_token().await;
    let p = "/providers/Microsoft.Authorization";
    let r = sim
        .get(
            &format!(
                "{p}/roleEligibilityScheduleInstances?api-version=2020-10-01&$filter=asTarget()"
            ),
            &t,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.values().len(),
        2,
        "Contributor on Prod and Reader on rg-web"
    );
    assert_arm(
        "RoleEligibilityScheduleInstance.json",
        "RoleEligibilityScheduleInstanceListResult",
        &r.body,
    );
    let elig = r
        .values()
        .into_iter()
        .find(|v| {
            v["properties"]["expandedProperties"]["roleDefinition"]["displayName"] == "Contributor"
        })
        .expect("contributor");
    // activate
    let name = uuid::Uuid::new_v4().to_string();
    let mut body = arm_activate(PROD_SUB, CONTRIBUTOR, "PT1H", Some("deploy"), Some("CHG-1"));
    body["properties"]["linkedRoleEligibilityScheduleId"] =
        elig["properties"]["roleEligibilityScheduleId"].clone();
    let put = sim.put(&arm_request_path(PROD_SUB, &name), &t, &body).await;
    assert_eq!(put.status, 201, "{}", put.body);
    assert_arm(
        "RoleAssignmentScheduleRequest.json",
        "RoleAssignmentScheduleRequest",
        &put.body,
    );
    assert_eq!(put.body["properties"]["status"], "Provisioned");
    assert_eq!(put.body["properties"]["requestType"], "SelfActivate");
    let get = sim.get(&arm_request_path(PROD_SUB, &name), &t).await;
    assert_eq!(get.status, 200);
    assert_arm(
        "RoleAssignmentScheduleRequest.json",
        "RoleAssignmentScheduleRequest",
        &get.body,
    );
    let list = sim.get(&format!("{PROD_SUB}{p}/roleAssignmentScheduleRequests?api-version=2020-10-01&$filter=asRequestor()"), &t).await;
    assert_eq!(list.status, 200);
    assert_arm(
        "RoleAssignmentScheduleRequest.json",
        "RoleAssignmentScheduleRequestListResult",
        &list.body,
    );
    assert_eq!(list.values().len(), 1);
    let active = arm_valid(
        &sim,
        &t,
        &format!("{p}/roleAssignmentScheduleInstances?api-version=2020-10-01&$filter=asTarget()"),
        (
            "RoleAssignmentScheduleInstance.json",
            "RoleAssignmentScheduleInstanceListResult",
        ),
    )
    .await;
    assert_eq!(
        active.values()[0]["properties"]["assignmentType"],
        "Activated"
    );
    // policies
    let pa = arm_valid(
        &sim,
        &t,
        &format!("{PROD_SUB}{p}/roleManagementPolicyAssignments?api-version=2020-10-01"),
        (
            "RoleManagementPolicyAssignment.json",
            "RoleManagementPolicyAssignmentListResult",
        ),
    )
    .await;
    for a in pa.values() {
        assert_arm_rules(
            "RoleManagementPolicyAssignment.json",
            &a["properties"]["effectiveRules"],
        );
    }
    let pol = arm_valid(
        &sim,
        &t,
        &format!("{PROD_SUB}{p}/roleManagementPolicies?api-version=2020-10-01"),
        (
            "RoleManagementPolicy.json",
            "RoleManagementPolicyListResult",
        ),
    )
    .await;
    for x in pol.values() {
        assert_arm_rules("RoleManagementPolicy.json", &x["properties"]["rules"]);
    }
    let one_name = pol.values()[0]["name"].as_str().expect("name").to_owned();
    arm_valid(
        &sim,
        &t,
        &format!("{PROD_SUB}{p}/roleManagementPolicies/{one_name}?api-version=2020-10-01"),
        ("RoleManagementPolicy.json", "RoleManagementPolicy"),
    )
    .await;
}
