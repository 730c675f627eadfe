//! The control API, the ARM tenant list, multi-tenant behaviour and the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn control_endpoints() {
    let sim = start("demo").await;
    assert_eq!(
        sim.control_get("/_sim/health").await.body,
        json!({"ok": true})
    );
    let c = sim.control_get("/_sim/clock").await;
    let now = time::OffsetDateTime::parse(
        c.body["now"].as_str().expect("now"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    assert!((now - time::OffsetDateTime::now_utc()).abs() < time::Duration::seconds(5));
    let a = sim
        .control_post("/_sim/clock/advance", &json!({"seconds": 3600}))
        .await;
    let later = time::OffsetDateTime::parse(
        a.body["now"].as_str().expect("now"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    assert!(later - now >= time::Duration::seconds(3599));
    assert_eq!(
        sim.control_post("/_sim/clock/advance", &json!({"minutes": 1}))
            .await
            .status,
        400
    );
    assert_eq!(
        sim.control_post("/_sim/faults", &json!({"fault": {"kind": "explode"}}))
            .await
            .status,
        400
    );
    let state = sim.control_get("/_sim/state").await;
    let tenants = state.body["tenants"].as_array().expect("tenants");
    assert_eq!(tenants.len(), 2);
    let contoso = tenants
        .iter()
        .find(|t| t["displayName"] == "Contoso")
        .expect("contoso");
    assert!(
        contoso["eligible"]
            .as_array()
            .expect("eligible")
            .iter()
            .any(|e| e["roleName"] == "Global Reader")
    );
    assert!(
        contoso["active"]
            .as_array()
            .expect("active")
            .iter()
            .any(|e| e["roleName"] == "Directory Readers" && e["end"].is_null())
    );
    // request log
    let t = sim.graph_token().await;
    sim.http
        .delete(sim.url("/_sim/requests"))
        .send()
        .await
        .expect("clear");
    sim.get("/v1.0/me", &t).await;
    let log = sim.control_get("/_sim/requests").await;
    let entries = log.body.as_array().expect("log");
    assert!(entries.iter().any(|e| e["path"] == "/v1.0/me"
        && e["status"] == 200
        && e["resource"] == "graph"
        && e["method"] == "GET"));
    assert!(
        sim.control_post("/_sim/approvals/nope/approve", &json!(null))
            .await
            .status
            == 404
    );
    assert_eq!(sim.control_get("/_sim/nothing").await.status, 404);
}

#[tokio::test]
async fn arm_tenants_and_cross_tenant_rules() {
    let sim = start("demo").await;
    let a = sim.arm_token().await;
    let r = sim.get("/tenants?api-version=2020-01-01", &a).await;
    assert_eq!(r.status, 200);
    let tenants = r.values();
    assert_eq!(tenants.len(), 2);
    let f = tenants
        .iter()
        .find(|t| t["tenantId"] == FABRIKAM)
        .expect("fabrikam");
    assert_eq!(f["id"], format!("/tenants/{FABRIKAM}"));
    assert_eq!(f["displayName"], "Fabrikam");
    assert_eq!(f["defaultDomain"], "fabrikam.onmicrosoft.com");
    assert!(f["tenantCategory"].is_string());
    // a Contoso token cannot read a Fabrikam subscription
    let r = sim.get("/subscriptions/7e3c9a15-2b84-4d6f-a0c1-98e5f4b2d3a6/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01&$filter=asTarget()", &a).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "InvalidAuthenticationTokenTenant");
    let r = sim.get("/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01", &a).await;
    assert_eq!(r.status, 404);
    // with a Fabrikam token the guest sees Fabrikam's roles with its own object id
    let rt = sim.sign_in("organizations", ARM_DEFAULT, None).await["refresh_token"]
        .as_str()
        .expect("rt")
        .to_owned();
    let fab = sim.refresh(FABRIKAM, &rt, ARM_DEFAULT).await;
    let ft = fab.body["access_token"].as_str().expect("at").to_owned();
    let r = sim.get("/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01&$filter=asTarget()", &ft).await;
    let v = r.values();
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0]["properties"]["expandedProperties"]["roleDefinition"]["displayName"],
        "Key Vault Reader"
    );
    let oid = claims_of(&ft)["oid"].as_str().expect("oid").to_owned();
    assert_eq!(v[0]["properties"]["principalId"], oid.as_str());
    let rtg = fab.body["refresh_token"].as_str().expect("rt").to_owned();
    let g = sim.refresh(FABRIKAM, &rtg, GRAPH_DEFAULT).await;
    let gt = g.body["access_token"].as_str().expect("at").to_owned();
    let e = sim.get("/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')?$expand=roleDefinition", &gt).await;
    let names: Vec<String> = e
        .values()
        .iter()
        .map(|x| {
            x["roleDefinition"]["displayName"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(
        names.contains(&"Teams Administrator".to_owned())
            && names.contains(&"Billing Administrator".to_owned()),
        "{names:?}"
    );
    // activating with the wrong principal id (the home oid) is invalid in the guest tenant
    let r = sim
        .activate(
            &gt,
            "69091246-20e8-4a56-aa4d-066075b2a7a8",
            "/",
            "PT1H",
            Some("x"),
        )
        .await;
    assert_eq!(r.code(), "InvalidRoleAssignmentRequest");
    let mut b = activate_body(
        "69091246-20e8-4a56-aa4d-066075b2a7a8",
        "/",
        "PT1H",
        Some("x"),
    );
    b["principalId"] = json!(claims_of(&gt)["oid"]);
    assert_eq!(sim.post(ROLE_REQUESTS, &gt, &b).await.status, 201);
}

#[tokio::test]
async fn unknown_paths_and_query_options() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let r = sim.get("/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')?$foo=bar&unknown=1", &t).await;
    assert_eq!(r.status, 200, "unknown query options are ignored");
    let nf = sim.get("/v1.0/nothing/here", &t).await;
    assert_eq!(
        nf.status, 400,
        "Graph answers unknown segments with 400 BadRequest"
    );
    assert_eq!(nf.message(), "Resource not found for the segment 'here'.");
    let r = sim.get("/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')?$filter=roleDefinitionId eq 'f2ef992c-3afb-46b9-b7cf-a126ee74c451'", &t).await;
    assert_eq!(r.values().len(), 1);
    let r = sim.get("/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')?$count=true&$top=2", &t).await;
    assert_eq!(r.body["@odata.count"], 5);
    assert_eq!(r.values().len(), 2);
    assert!(r.body["@odata.nextLink"].is_string(), "$top pages");
    let r = sim.get("/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')?$filter=this is not odata", &t).await;
    assert_eq!(r.status, 400);
    assert_eq!(sim.get("/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/filterByCurrentUser(on='bogus')", &t).await.status, 400);
}

#[test]
fn binary_prints_ready_and_exits_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pim-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--scenario",
            "demo",
            "--page-size",
            "3",
            "--latency-ms",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pim-sim");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("ready line");
    let base = line
        .trim()
        .strip_prefix("PIM_SIM_READY ")
        .expect("PIM_SIM_READY prefix")
        .to_owned();
    assert!(
        base.starts_with("http://127.0.0.1:") && !base.ends_with('/'),
        "{base}"
    );
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut lines = Vec::new();
    for _ in 0..3 {
        let mut l = String::new();
        err.read_line(&mut l).expect("export line");
        lines.push(l.trim().to_owned());
    }
    assert_eq!(
        lines,
        vec![
            format!("export PIM_AUTHORITY_HOST={base}"),
            format!("export PIM_GRAPH_ENDPOINT={base}"),
            format!("export PIM_ARM_ENDPOINT={base}"),
        ]
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert_eq!(exit.code(), Some(0));
}

#[test]
fn scenario_files_load() {
    let demo = pim_sim::Scenario::load("demo").expect("demo");
    assert_eq!(demo.user.display_name, "Adele Vance");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/small.json");
    let small = pim_sim::Scenario::from_file(&path).expect("file");
    assert_eq!(small.name, "small");
    assert!(pim_sim::Scenario::from_file("/nonexistent.json").is_err());
}
