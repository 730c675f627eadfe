//! Several roles in one `pim activate`: every role checked against its own policy before
//! anything is sent, the requests in parallel, one line (or JSON object) per role, and a rerun
//! that sends only what is still missing.

use pim_tests::{TestEnv, role};
use serde_json::{Value, json};

/// POSTs/PUTs of schedule requests in the simulator's log.
pub async fn writes(env: &TestEnv) -> Vec<Value> {
    env.requests()
        .await
        .into_iter()
        .filter(|r| {
            let m = r["method"].as_str().unwrap_or("");
            let p = r["path"].as_str().unwrap_or("");
            (m == "POST" || m == "PUT") && p.contains("ScheduleRequests") && !p.ends_with("/cancel")
        })
        .collect()
}

/// The objects of a JSON array, by role name.
#[track_caller]
pub fn by_name<'a>(items: &'a Value, name: &str) -> &'a Value {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no `{name}` in {items:#}"))
}

const FOUR: [&str; 4] = [
    "Global Reader",
    "SQL Prod Admins member",
    "Teams Administrator",
    "Key Vault Reader",
];

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn several_roles_activate_in_one_go() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.clear_requests().await;
    // Four roles in two tenants (Entra, group, Azure), plus one already active.
    let mut args = vec!["activate"];
    args.extend(FOUR);
    args.extend([
        "User Administrator",
        "--reason",
        "on call",
        "--duration",
        "2h",
    ]);
    let run = env.pim(&args).await;
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "one line per role:\n{}", run.stdout);
    for (line, name) in lines.iter().zip([
        "Global Reader",
        "SQL Prod Admins (member)",
        "Teams Administrator",
        "Key Vault Reader",
    ]) {
        assert!(line.starts_with(name), "{line}");
        assert!(line.contains(": active until"), "{line}");
    }
    assert!(
        lines[4].starts_with("User Administrator") && lines[4].contains("already active"),
        "{}",
        lines[4]
    );
    assert_eq!(
        writes(&env).await.len(),
        4,
        "nothing sent for the active role"
    );
    let roles = env.roles().await;
    for name in ["Global Reader", "Teams Administrator", "Key Vault Reader"] {
        assert_eq!(role(&roles, name)["state"], "active", "{name}");
    }
    assert!(
        roles
            .iter()
            .any(|r| r["name"] == "SQL Prod Admins" && r["state"] == "active")
    );

    // The same command again sends nothing: every role is already active.
    env.clear_requests().await;
    let again = env.pim(&args).await;
    again.expect_code(0);
    assert_eq!(
        again.stdout.matches("already active").count(),
        5,
        "{}",
        again.stdout
    );
    assert!(writes(&env).await.is_empty());
    env.assert_no_leak(&[]);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn json_is_an_array_with_one_object_per_role() {
    let env = TestEnv::demo().await;
    env.login().await;
    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "Global Administrator",
            "User Administrator",
            "--reason",
            "audit",
            "--json",
        ])
        .await;
    run.expect_code(0);
    let v = run.json();
    assert_eq!(v.as_array().unwrap().len(), 3, "{v:#}");
    for item in v.as_array().unwrap() {
        for k in ["name", "scope", "tenantId", "kind", "outcome", "endsAt"] {
            assert!(item.get(k).is_some(), "{k} missing in {item}");
        }
        assert!(item.get("error").is_none(), "{item}");
    }
    let gr = by_name(&v, "Global Reader");
    assert_eq!(gr["outcome"], "active");
    assert_eq!(gr["kind"], "entraRole");
    assert_eq!(gr["scope"], "Directory");
    assert!(gr["endsAt"].is_string());
    assert_eq!(gr["already"], false);
    // Approval required: pending.
    assert_eq!(by_name(&v, "Global Administrator")["outcome"], "pending");
    let ua = by_name(&v, "User Administrator");
    assert_eq!(
        (&ua["outcome"], &ua["already"]),
        (&json!("active"), &json!(true))
    );
    assert_eq!(ua["scope"], "Europe");

    // Again: the pending request is not sent a second time.
    env.clear_requests().await;
    let again = env
        .pim(&[
            "activate",
            "Global Reader",
            "Global Administrator",
            "--reason",
            "audit",
            "--json",
        ])
        .await;
    again.expect_code(0);
    let v = again.json();
    let ga = by_name(&v, "Global Administrator");
    assert_eq!(
        (&ga["outcome"], &ga["already"]),
        (&json!("pending"), &json!(true))
    );
    assert!(writes(&env).await.is_empty());

    // One role with --json keeps its single object.
    let one = env
        .pim(&["activate", "Teams Administrator", "--reason", "x", "--json"])
        .await;
    one.expect_code(0);
    let v = one.json();
    assert_eq!(v["outcome"], "active", "{v:#}");
    assert_eq!(v["role"]["name"], "Teams Administrator");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn one_role_refused_by_its_policy_sends_nothing() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.clear_requests().await;
    // Contributor and Security Administrator need a ticket; Global Reader does not.
    let args = [
        "activate",
        "Global Reader",
        "Contributor",
        "Security Administrator",
        "--reason",
        "deploy",
    ];
    let run = env.pim(&args).await;
    run.expect_code(3);
    assert!(run.stderr.contains("nothing was sent"), "{}", run.stderr);
    for name in ["Contributor", "Security Administrator"] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(&format!("cannot activate {name}")) && l.contains("ticket")),
            "{name}: {}",
            run.stderr
        );
    }
    assert!(
        !run.stderr.contains("cannot activate Global Reader"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--ticket"), "hint: {}", run.stderr);

    // The same with --json: each role's object says why.
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let run = env.pim(&json_args).await;
    run.expect_code(3);
    let v = run.json();
    assert_eq!(by_name(&v, "Global Reader")["error"]["code"], "notSent");
    let c = by_name(&v, "Contributor");
    assert_eq!(c["outcome"], "failed");
    assert_eq!(c["error"]["code"], "policyViolation");

    // An explicit duration over one role's maximum (SQL Prod Admins member: 4h) is that
    // role's error, not a cap.
    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "SQL Prod Admins member",
            "--reason",
            "x",
            "--duration",
            "6h",
        ])
        .await;
    run.expect_code(3);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("SQL Prod Admins") && l.contains("4h")),
        "{}",
        run.stderr
    );
    // A name that matches no role: a usage error, nothing sent.
    let run = env
        .pim(&["activate", "Global Reader", "No Such Role", "--reason", "x"])
        .await;
    run.expect_code(2);
    assert!(run.stderr.contains("No Such Role"), "{}", run.stderr);
    assert!(writes(&env).await.is_empty(), "nothing may be sent");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn a_failed_role_leaves_the_others_and_a_rerun_retries_only_it() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.clear_requests().await;
    // The Entra role's request is refused once; the group and the Azure role go through.
    env.fault(
        json!({"method": "POST", "path": "roleAssignmentScheduleRequests", "times": 1,
        "fault": {"kind": "status", "status": 400, "code": "InvalidRoleAssignmentRequest",
                  "message": "simulated refusal"}}),
    )
    .await;
    let args = [
        "activate",
        "Global Reader",
        "SQL Prod Admins member",
        "Key Vault Reader",
        "--reason",
        "fix",
        "--json",
    ];
    let run = env.pim(&args).await;
    run.expect_code(1);
    let v = run.json();
    let gr = by_name(&v, "Global Reader");
    assert_eq!(gr["outcome"], "failed");
    assert!(
        gr["error"]["message"]
            .as_str()
            .unwrap()
            .contains("simulated refusal"),
        "{gr}"
    );
    assert_eq!(by_name(&v, "SQL Prod Admins")["outcome"], "active");
    assert_eq!(by_name(&v, "Key Vault Reader")["outcome"], "active");
    assert_eq!(writes(&env).await.len(), 3);

    // Again: only Global Reader is sent.
    env.clear_requests().await;
    let run = env.pim(&args).await;
    run.expect_code(0);
    let v = run.json();
    assert_eq!(by_name(&v, "Global Reader")["already"], false);
    assert_eq!(by_name(&v, "SQL Prod Admins")["already"], true);
    assert_eq!(by_name(&v, "Key Vault Reader")["already"], true);
    let w = writes(&env).await;
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0]["path"]
            .as_str()
            .unwrap()
            .contains("roleManagement/directory"),
        "{w:#?}"
    );
}

/// An RFC 3339 time in a JSON value.
#[track_caller]
pub fn rfc3339(v: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        v.as_str().unwrap_or_else(|| panic!("not a time: {v}")),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn several_roles_with_a_later_start_are_all_scheduled() {
    let env = TestEnv::demo().await;
    env.login().await;
    let now = rfc3339(&env.ctl("GET", "/_sim/clock", None).await["now"]);
    // Whole seconds: the CLI prints milliseconds.
    let start = now.replace_nanosecond(0).unwrap() + time::Duration::hours(2);
    let start_text = start
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    env.clear_requests().await;
    // One role of each kind, in both tenants.
    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "SQL Prod Admins member",
            "Key Vault Reader",
            "--reason",
            "night change",
            "--duration",
            "1h",
            "--start",
            &start_text,
            "--json",
        ])
        .await;
    run.expect_code(0);
    let v = run.json();
    assert_eq!(v.as_array().unwrap().len(), 3, "{v:#}");
    for name in ["Global Reader", "SQL Prod Admins", "Key Vault Reader"] {
        let item = by_name(&v, name);
        assert_eq!(item["outcome"], "scheduled", "{item}");
        assert_eq!(item["already"], false, "{item}");
        assert_eq!(rfc3339(&item["startsAt"]), start, "{item}");
        assert_eq!(
            rfc3339(&item["endsAt"]),
            start + time::Duration::hours(1),
            "{item}"
        );
        assert!(item.get("error").is_none(), "{item}");
    }
    assert_eq!(writes(&env).await.len(), 3);

    // The simulator holds three granted requests and three assignments starting then, none
    // of them active yet.
    let state = env.ctl("GET", "/_sim/state", None).await;
    let (mut granted, mut later) = (Vec::new(), Vec::new());
    for t in state["tenants"].as_array().unwrap() {
        for q in t["requests"].as_array().unwrap() {
            if q["status"] == "Granted" {
                assert_eq!(rfc3339(&q["start"]), start, "{q}");
                granted.push(q["roleName"].as_str().unwrap().to_owned());
            }
        }
        for a in t["active"].as_array().unwrap() {
            if a["active"] == false {
                assert_eq!(rfc3339(&a["start"]), start, "{a}");
                later.push(a["roleName"].as_str().unwrap().to_owned());
            }
        }
    }
    granted.sort();
    later.sort();
    let three = [
        "Global Reader",
        "Key Vault Reader",
        "SQL Prod Admins (member)",
    ];
    assert_eq!(granted, three, "{state:#}");
    assert_eq!(later, three, "{state:#}");
    let roles = env.roles().await;
    for name in ["Global Reader", "Key Vault Reader"] {
        assert_eq!(role(&roles, name)["state"], "scheduled", "{name}");
    }

    // The text output says so, one line per role.
    let run = env
        .pim(&[
            "activate",
            "Teams Administrator",
            "Reader",
            "--reason",
            "night change",
            "--duration",
            "1h",
            "--start",
            &start_text,
        ])
        .await;
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    for (line, name) in lines.iter().zip(["Teams Administrator", "Reader"]) {
        assert!(line.starts_with(name), "{line}");
        assert!(line.contains(": scheduled for 20"), "{line}");
    }

    // At the start, every one of them is active.
    env.advance(2 * 3600 + 60).await;
    let roles = env.roles().await;
    for name in [
        "Global Reader",
        "Key Vault Reader",
        "Teams Administrator",
        "Reader",
    ] {
        assert_eq!(role(&roles, name)["state"], "active", "{name}");
    }
}

/// The demo scenario where names need `--scope` or `--tenant`: Contributor and Reader are
/// eligible both on the Prod subscription and on its resource group rg-web (Contoso), and
/// Global Reader in Fabrikam as well as in Contoso.
fn same_names_in_two_places() -> pim_sim::Scenario {
    let mut v: Value =
        serde_json::from_str(include_str!("../../crates/pim-sim/scenarios/demo.json")).unwrap();
    let tenants = v["tenants"].as_array_mut().unwrap();
    let contoso = tenants[0]["eligible"].as_array_mut().unwrap();
    contoso.push(
        json!({"kind": "azureRole", "role": "Reader", "subscription": "Prod",
        "startOffset": "-P20D", "endOffset": "P10D"}),
    );
    contoso.push(
        json!({"kind": "azureRole", "role": "Contributor", "subscription": "Prod",
        "resourceGroup": "rg-web", "startOffset": "-P20D", "endOffset": "P10D"}),
    );
    let fabrikam = &mut tenants[1];
    assert_eq!(fabrikam["displayName"], "Fabrikam");
    fabrikam["roleDefinitions"]
        .as_array_mut()
        .unwrap()
        .push(json!({
        "id": "f2ef992c-3afb-46b9-b7cf-a126ee74c451", "displayName": "Global Reader",
        "description": "Can read everything that a Global Administrator can."}));
    fabrikam["eligible"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kind": "entraRole",
        "role": "Global Reader", "scope": "/", "startOffset": "-P15D", "endOffset": "P165D"}));
    fabrikam["policies"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kind": "entraRole",
        "role": "Global Reader", "maxDuration": "PT8H", "justification": true}));
    pim_sim::Scenario::from_json(&v.to_string()).unwrap()
}

/// The activated (not assigned) roles of the tenant named `tenant` in the simulator's
/// state: (role name, scope name), sorted.
async fn activated_in(env: &TestEnv, tenant: &str) -> Vec<(String, String)> {
    let state = env.ctl("GET", "/_sim/state", None).await;
    let t = state["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["displayName"] == tenant)
        .unwrap_or_else(|| panic!("no tenant {tenant} in {state:#}"));
    let mut out: Vec<(String, String)> = t["active"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["assignmentType"] == "Activated")
        .map(|a| {
            (
                a["roleName"].as_str().unwrap().to_owned(),
                a["scopeName"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn scope_and_tenant_apply_to_every_name() {
    let env = TestEnv::start(same_names_in_two_places()).await;
    env.login().await;
    let before = activated_in(&env, "Contoso").await;
    env.clear_requests().await;

    // Without --scope each name matches two roles: nothing is sent.
    let run = env
        .pim(&[
            "activate",
            "Contributor",
            "Reader",
            "--reason",
            "logs",
            "--ticket",
            "T-1",
            "--ticket-system",
            "Jira",
        ])
        .await;
    run.expect_code(2);
    assert!(writes(&env).await.is_empty(), "{}", run.stderr);

    // --scope picks rg-web for both names.
    let run = env
        .pim(&[
            "activate",
            "Contributor",
            "Reader",
            "--scope",
            "rg-web",
            "--reason",
            "logs",
            "--ticket",
            "T-1",
            "--ticket-system",
            "Jira",
            "--json",
        ])
        .await;
    run.expect_code(0);
    let v = run.json();
    for name in ["Contributor", "Reader"] {
        let item = by_name(&v, name);
        assert_eq!(item["outcome"], "active", "{item}");
        assert_eq!(item["scope"], "rg-web", "{item}");
    }
    let mut want = before.clone();
    want.extend([
        ("Contributor".to_owned(), "rg-web".to_owned()),
        ("Reader".to_owned(), "rg-web".to_owned()),
    ]);
    want.sort();
    assert_eq!(activated_in(&env, "Contoso").await, want);

    // --tenant applies to every name: Global Reader is found in Fabrikam, not Contoso…
    let fabrikam_before = activated_in(&env, "Fabrikam").await;
    env.clear_requests().await;
    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "Teams Administrator",
            "--tenant",
            "Fabrikam",
            "--reason",
            "audit",
            "--json",
        ])
        .await;
    run.expect_code(0);
    let v = run.json();
    let fabrikam_id = "f3b6c2d1-7a9e-4c58-b1d2-5e8f9a0b3c47";
    for name in ["Global Reader", "Teams Administrator"] {
        let item = by_name(&v, name);
        assert_eq!(item["outcome"], "active", "{item}");
        assert_eq!(item["tenantId"], fabrikam_id, "{item}");
    }
    assert_eq!(writes(&env).await.len(), 2);
    let mut want_f = fabrikam_before;
    want_f.extend([
        ("Global Reader".to_owned(), "Directory".to_owned()),
        ("Teams Administrator".to_owned(), "Directory".to_owned()),
    ]);
    want_f.sort();
    assert_eq!(activated_in(&env, "Fabrikam").await, want_f);
    assert_eq!(
        activated_in(&env, "Contoso").await,
        want,
        "Contoso untouched"
    );

    // …and a name the tenant does not have is a usage error, with nothing sent.
    env.clear_requests().await;
    let run = env
        .pim(&[
            "activate",
            "Billing Administrator",
            "Security Administrator",
            "--tenant",
            "Fabrikam",
            "--reason",
            "audit",
        ])
        .await;
    run.expect_code(2);
    assert!(
        run.stderr.contains("Security Administrator"),
        "{}",
        run.stderr
    );
    assert!(writes(&env).await.is_empty());
}
