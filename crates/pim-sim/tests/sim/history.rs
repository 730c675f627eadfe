//! "My history": the demo user's past requests, listed by the request lists as they
//! are, never pending and never active.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::harness::*;
use crate::schema::*;

const FBCU: &str = "filterByCurrentUser(on='principal')";
const STAGING: &str = "/subscriptions/4c8e1a27-95d3-4b6f-a2e0-7f3b9d5c1e68";
const ARM_REQUESTS: &str = "/providers/Microsoft.Authorization/roleAssignmentScheduleRequests?api-version=2020-10-01&$filter=asRequestor()";

fn mine(set: &str) -> String {
    format!("{set}/{FBCU}")
}

/// A Graph or ARM time.
fn at(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(
        v.as_str().expect("a time"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339")
}

/// Every item of a Graph collection, following `@odata.nextLink`.
async fn all_pages(sim: &Sim, token: &str, path: &str) -> Vec<Value> {
    let mut r = sim.get(path, token).await;
    let mut out = Vec::new();
    loop {
        assert_eq!(r.status, 200, "{}", r.body);
        out.extend(r.values());
        match r.body["@odata.nextLink"].as_str() {
            Some(next) => r = sim.get_abs(next, token).await,
            None => return out,
        }
    }
}

fn statuses(items: &[Value], key: &str) -> Vec<String> {
    let mut s: Vec<String> = items
        .iter()
        .filter_map(|v| v[key].as_str().map(str::to_owned))
        .collect();
    s.sort();
    s.dedup();
    s
}

#[tokio::test]
async fn graph_request_lists_carry_history() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let now = sim.ctl().now();
    for (set, ty) in [
        (ROLE_REQUESTS, "unifiedRoleAssignmentScheduleRequest"),
        (
            GROUP_REQUESTS,
            "privilegedAccessGroupAssignmentScheduleRequest",
        ),
    ] {
        let r = sim.get(&mine(set), &t).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_graph_collection(ty, &r.body);
        let items = r.values();
        let past: Vec<&Value> = items
            .iter()
            .filter(|v| at(&v["createdDateTime"]) < now - time::Duration::days(1))
            .collect();
        assert!(past.len() >= 5, "{set}: {}", past.len());
        for v in &past {
            let created = at(&v["createdDateTime"]);
            assert!(created > now - time::Duration::days(22), "{v}");
            assert!(v["completedDateTime"].is_string(), "{v}");
            assert!(v["justification"].is_string(), "{v}");
        }
        let st = statuses(&items, "status");
        for s in ["Canceled", "Denied", "Provisioned", "Revoked"] {
            assert!(st.contains(&s.to_owned()), "{set}: {st:?}");
        }
        assert_eq!(
            statuses(&items, "action"),
            ["selfActivate", "selfDeactivate"]
        );
        // never pending: the documented pending filter finds nothing
        let p = sim
            .get(
                &format!("{}?$filter=status eq 'PendingApproval'", mine(set)),
                &t,
            )
            .await;
        assert_eq!(p.status, 200);
        assert!(p.values().is_empty(), "{}", p.body);
        // a past request reads by id, and cannot be cancelled
        let denied = items
            .iter()
            .find(|v| v["status"] == "Denied")
            .expect("denied");
        let id = denied["id"].as_str().expect("id");
        let g = sim.get(&format!("{set}/{id}"), &t).await;
        assert_eq!(g.status, 200);
        assert_eq!(g.body["status"], "Denied");
        assert!(g.body["approvalId"].is_string(), "decided by an approver");
        let c = sim.post_empty(&format!("{set}/{id}/cancel"), &t).await;
        assert_eq!(c.status, 400, "{}", c.body);
        // a deactivation names the schedule of the activation it ended
        let off = items
            .iter()
            .find(|v| v["action"] == "selfDeactivate")
            .expect("deactivation");
        assert!(
            items.iter().any(|v| v["action"] == "selfActivate"
                && v["status"] == "Provisioned"
                && v["targetScheduleId"] == off["targetScheduleId"]),
            "{off}"
        );
    }
    // tickets where the policy asks for them
    let entra = sim.get(&mine(ROLE_REQUESTS), &t).await;
    let sec = entra
        .values()
        .into_iter()
        .find(|v| v["roleDefinitionId"] == SECURITY_ADMIN && v["action"] == "selfActivate")
        .expect("a Security Administrator activation");
    assert_eq!(sec["ticketInfo"]["ticketNumber"], "INC0045120");
    assert_eq!(sec["ticketInfo"]["ticketSystem"], "ServiceNow");
    assert_eq!(sec["scheduleInfo"]["expiration"]["duration"], "PT2H");
    // nothing pending, nothing extra active
    assert!(sim.ctl().pending().is_empty());
    let active = sim
        .get(
            "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances/filterByCurrentUser(on='principal')",
            &t,
        )
        .await;
    let mut roles: Vec<String> = active
        .values()
        .iter()
        .filter_map(|v| v["roleDefinitionId"].as_str().map(str::to_owned))
        .collect();
    roles.sort();
    let mut expect = vec![DIRECTORY_READERS, REPORTS_READER, USER_ADMIN];
    expect.sort_unstable();
    assert_eq!(roles, expect);
    let groups_active = sim
        .get(
            "/v1.0/identityGovernance/privilegedAccess/group/assignmentScheduleInstances/filterByCurrentUser(on='principal')",
            &t,
        )
        .await;
    assert!(groups_active.values().is_empty(), "{}", groups_active.body);
    // pages like every request list
    let whole = entra.values().len();
    sim.ctl()
        .configure(&json!({"pageSize": 2}))
        .expect("config");
    assert_eq!(all_pages(&sim, &t, &mine(ROLE_REQUESTS)).await.len(), whole);
}

#[tokio::test]
async fn arm_request_lists_carry_history() {
    let sim = start("demo").await;
    let a = sim.arm_token().await;
    let r = sim.get(ARM_REQUESTS, &a).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_arm(
        "RoleAssignmentScheduleRequest.json",
        "RoleAssignmentScheduleRequestListResult",
        &r.body,
    );
    let items = r.values();
    assert_eq!(items.len(), 4, "{}", r.body);
    let props: Vec<Value> = items.iter().map(|v| v["properties"].clone()).collect();
    assert_eq!(
        statuses(&props, "status"),
        ["Canceled", "Denied", "Provisioned", "Revoked"]
    );
    assert_eq!(
        statuses(&props, "requestType"),
        ["SelfActivate", "SelfDeactivate"]
    );
    for p in &props {
        assert_eq!(p["scope"], STAGING);
        assert_eq!(p["expandedProperties"]["scope"]["displayName"], "Staging");
        assert_eq!(
            p["expandedProperties"]["roleDefinition"]["displayName"],
            "Contributor"
        );
        assert!(p["createdOn"].is_string());
    }
    // at the Staging subscription too; the Prod subscription has none
    let s = sim
        .get(
            &format!("{STAGING}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests?api-version=2020-10-01&$filter=asRequestor()"),
            &a,
        )
        .await;
    assert_eq!(s.values().len(), 4);
    let p = sim
        .get(
            &format!("{PROD_SUB}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests?api-version=2020-10-01&$filter=asRequestor()"),
            &a,
        )
        .await;
    assert!(p.values().is_empty(), "{}", p.body);
    // the Staging eligibility has ended: no row for it
    let e = sim
        .get(
            "/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01&$filter=asTarget()",
            &a,
        )
        .await;
    assert!(
        e.values()
            .iter()
            .all(|v| v["properties"]["scope"] != STAGING)
    );
    // read by name, not cancellable
    let canceled = items
        .iter()
        .find(|v| v["properties"]["status"] == "Canceled")
        .expect("canceled");
    let name = canceled["name"].as_str().expect("name");
    let g = sim.get(&arm_request_path(STAGING, name), &a).await;
    assert_eq!(g.status, 200);
    assert_arm(
        "RoleAssignmentScheduleRequest.json",
        "RoleAssignmentScheduleRequest",
        &g.body,
    );
    assert_eq!(sim.arm_cancel(&a, STAGING, name).await.status, 400);
    assert!(sim.ctl().approve(name, None).is_err(), "not pending");
    // pages with nextLink
    sim.ctl()
        .configure(&json!({"pageSize": 3}))
        .expect("config");
    let p1 = sim.get(ARM_REQUESTS, &a).await;
    assert_eq!(p1.values().len(), 3);
    let next = p1.body["nextLink"].as_str().expect("nextLink");
    assert_eq!(sim.get_abs(next, &a).await.values().len(), 1);
    // the guest tenant has its own history
    let rt = sim.sign_in("organizations", ARM_DEFAULT, None).await["refresh_token"]
        .as_str()
        .expect("rt")
        .to_owned();
    let fab = sim.refresh(FABRIKAM, &rt, ARM_DEFAULT).await;
    let ft = fab.body["access_token"].as_str().expect("at");
    sim.ctl()
        .configure(&json!({"pageSize": null}))
        .expect("config");
    let f = sim.get(ARM_REQUESTS, ft).await;
    assert_eq!(f.values().len(), 2, "{}", f.body);
    assert_arm(
        "RoleAssignmentScheduleRequest.json",
        "RoleAssignmentScheduleRequestListResult",
        &f.body,
    );
}

#[tokio::test]
async fn a_new_request_joins_the_history() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let before = sim.get(&mine(ROLE_REQUESTS), &t).await.values().len();
    let r = sim
        .activate(&t, GLOBAL_ADMIN, "/", "PT1H", Some("change window"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["status"], "PendingApproval",
        "past denials do not block"
    );
    let list = sim.get(&mine(ROLE_REQUESTS), &t).await.values();
    assert_eq!(list.len(), before + 1);
    let pending = sim
        .get(
            &format!(
                "{}?$filter=status eq 'PendingApproval'",
                mine(ROLE_REQUESTS)
            ),
            &t,
        )
        .await;
    assert_eq!(pending.values().len(), 1);
    assert_eq!(sim.ctl().pending().len(), 1);
}
