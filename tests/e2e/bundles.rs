//! Bundles: `pim bundle save|list|remove` and `pim activate --bundle NAME`, with roles saved by
//! their identities in `bundles.json`.

use pim_tests::{TestEnv, role, roles_named};
use serde_json::Value;

use crate::batch::{by_name, rfc3339, writes};

/// Minutes from the simulator's now to `endsAt`.
async fn minutes_left(env: &TestEnv, ends_at: &Value) -> i64 {
    let clock = env.ctl("GET", "/_sim/clock", None).await;
    (rfc3339(ends_at) - rfc3339(&clock["now"])).whole_minutes()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn bundles_are_saved_listed_activated_and_removed() {
    let env = TestEnv::demo().await;
    env.login().await;
    let run = env.pim(&["bundle", "list"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("No bundles"), "{}", run.stdout);
    assert_eq!(
        env.pim(&["bundle", "list", "--json"]).await.json(),
        Value::Array(vec![])
    );

    let run = env
        .pim(&[
            "bundle",
            "save",
            "on call",
            "Global Reader",
            "SQL Prod Admins member",
            "Contributor",
            "--reason",
            "on call",
            "--ticket-system",
            "Jira",
            "--duration",
            "8h",
        ])
        .await;
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("Saved the bundle `on call` with 3 roles"),
        "{}",
        run.stdout
    );
    // Saved by identity, with the names for listing.
    let file: Value =
        serde_json::from_slice(&std::fs::read(env.config_dir().join("bundles.json")).unwrap())
            .unwrap();
    let roles = env.roles().await;
    let saved = &file["bundles"][0];
    assert_eq!(saved["name"], "on call");
    assert_eq!(saved["duration"], "PT8H");
    let gr = &saved["roles"][0];
    let gr_role = role(&roles, "Global Reader");
    assert_eq!(gr["roleDefinitionId"], gr_role["roleDefinitionId"]);
    assert_eq!(gr["tenantId"], gr_role["tenantId"]);
    assert_eq!(gr["scopeId"], "/");
    assert_eq!(gr["kind"], "entraRole");
    let sql = &saved["roles"][1];
    assert_eq!(sql["kind"], "group");
    assert_eq!(sql["accessId"], "member");
    let member = roles_named(&roles, "SQL Prod Admins")
        .into_iter()
        .find(|r| r["accessId"] == "member")
        .unwrap();
    assert_eq!(sql["scopeId"], member["scopeId"]);

    let run = env.pim(&["bundle", "list"]).await;
    run.expect_code(0);
    for part in [
        "on call (3 roles, duration 8h",
        "ticket system Jira",
        "Global Reader — Directory (Contoso)",
        "SQL Prod Admins (member)",
        "Contributor — Prod (Contoso)",
    ] {
        assert!(run.stdout.contains(part), "`{part}` in {}", run.stdout);
    }

    // An explicit --duration over one role's maximum (SQL Prod Admins member: 4h) is that
    // role's error; nothing is sent.
    env.clear_requests().await;
    let run = env
        .pim(&[
            "activate",
            "--bundle",
            "ON CALL",
            "--ticket",
            "CHG-1",
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
    assert!(writes(&env).await.is_empty());

    // The bundle's 8h is cut down to each role's maximum, and said so; its reason and
    // ticket system complete the command line's ticket number.
    let run = env
        .pim(&[
            "activate", "--bundle", "on call", "--ticket", "CHG-1", "--json",
        ])
        .await;
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("SQL Prod Admins (member) — SQL Prod Admins (Contoso): 8h is over its maximum; asking for 4h."),
        "{}",
        run.stderr
    );
    let v = run.json();
    assert_eq!(v.as_array().unwrap().len(), 3);
    for (name, minutes) in [
        ("Global Reader", 480),
        ("SQL Prod Admins", 240),
        ("Contributor", 480),
    ] {
        let item = by_name(&v, name);
        assert_eq!(item["outcome"], "active", "{item}");
        let left = minutes_left(&env, &item["endsAt"]).await;
        assert!(
            (minutes - 2..=minutes).contains(&left),
            "{name}: {left} min"
        );
    }
    assert_eq!(writes(&env).await.len(), 3);

    // Again: nothing is sent.
    env.clear_requests().await;
    let run = env.pim(&["activate", "--bundle", "on call"]).await;
    run.expect_code(0);
    assert_eq!(
        run.stdout.matches("already active").count(),
        3,
        "{}",
        run.stdout
    );
    assert!(writes(&env).await.is_empty());

    // The command line wins over the bundle: a bundle without a reason, and a duration.
    env.pim(&[
        "bundle",
        "save",
        "fabrikam",
        "Teams Administrator",
        "Key Vault Reader",
    ])
    .await
    .expect_code(0);
    let run = env.pim(&["activate", "--bundle", "fabrikam"]).await;
    run.expect_code(3);
    assert!(run.stderr.contains("--reason"), "{}", run.stderr);
    let run = env
        .pim(&[
            "activate",
            "--bundle",
            "fabrikam",
            "--reason",
            "audit",
            "--duration",
            "2h",
            "--json",
        ])
        .await;
    run.expect_code(0);
    let v = run.json();
    for name in ["Teams Administrator", "Key Vault Reader"] {
        let left = minutes_left(&env, &by_name(&v, name)["endsAt"]).await;
        assert!((118..=120).contains(&left), "{name}: {left} min");
    }

    // --scope and role names do not go with --bundle.
    env.pim(&["activate", "--bundle", "fabrikam", "--scope", "x"])
        .await
        .expect_code(2);
    env.pim(&["activate", "Global Reader", "--bundle", "fabrikam"])
        .await
        .expect_code(2);

    let run = env.pim(&["bundle", "remove", "On Call"]).await;
    run.expect_code(0);
    assert!(
        run.stdout.contains("Removed the bundle `on call`"),
        "{}",
        run.stdout
    );
    let run = env.pim(&["bundle", "remove", "on call"]).await;
    run.expect_code(2);
    assert!(run.stderr.contains("saved: fabrikam"), "{}", run.stderr);
    let run = env.pim(&["activate", "--bundle", "on call"]).await;
    run.expect_code(2);
    let list = env.pim(&["bundle", "list", "--json"]).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "fabrikam");
    env.assert_no_leak(&[]);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn a_bundle_role_no_longer_eligible_fails_alone() {
    let env = TestEnv::demo().await;
    env.login().await;
    // Unknown names save nothing.
    let run = env
        .pim(&["bundle", "save", "b", "Global Reader", "No Such Role"])
        .await;
    run.expect_code(2);
    assert!(run.stderr.contains("No Such Role"), "{}", run.stderr);
    assert!(!env.config_dir().join("bundles.json").exists());

    env.pim(&[
        "bundle",
        "save",
        "b",
        "Global Reader",
        "Teams Administrator",
        "--reason",
        "x",
    ])
    .await
    .expect_code(0);
    // Teams Administrator is no longer eligible (its role definition is another one now).
    let path = env.config_dir().join("bundles.json");
    let mut file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    file["bundles"][0]["roles"][1]["roleDefinitionId"] =
        "00000000-0000-0000-0000-000000000000".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();

    env.clear_requests().await;
    let run = env.pim(&["activate", "--bundle", "b", "--json"]).await;
    run.expect_code(1);
    let v = run.json();
    assert_eq!(by_name(&v, "Global Reader")["outcome"], "active");
    let gone = by_name(&v, "Teams Administrator");
    assert_eq!(gone["outcome"], "failed");
    assert_eq!(gone["error"]["code"], "notEligible");
    assert!(
        gone["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no longer among your eligible roles"),
        "{gone}"
    );
    assert_eq!(writes(&env).await.len(), 1);
    let run = env.pim(&["activate", "--bundle", "b"]).await;
    run.expect_code(1);
    assert!(
        run.stdout
            .contains("Teams Administrator — Directory (Fabrikam): failed: it is no longer"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn a_broken_bundles_file_is_named_and_kept() {
    let env = TestEnv::demo().await;
    env.login().await;
    let path = env.config_dir().join("bundles.json");
    std::fs::write(&path, b"{ not json").unwrap();
    let name = path.display().to_string();
    for args in [
        &["bundle", "list"][..],
        &["bundle", "save", "x", "Global Reader"],
        &["bundle", "remove", "x"],
        &["activate", "--bundle", "x"],
    ] {
        let run = env.pim(args).await;
        run.expect_code(1);
        assert!(
            run.stderr.contains(&name) && run.stderr.contains("damaged"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"{ not json",
        "never overwritten"
    );
}

/// The signed-in user's Entra role requests in each tenant, as Graph lists them, read with a
/// sign-in of this test's own (not through `pim`): (request id, request), sorted by id.
async fn my_role_requests(
    env: &TestEnv,
    tokens: &dyn pim_core::token::TokenSource,
    scope: &str,
) -> Vec<(String, Value)> {
    use pim_core::token::{Resource, TokenRequest};
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for tenant in [
        "cab01047-8ad9-4792-8e42-569340767f1b",
        "f3b6c2d1-7a9e-4c58-b1d2-5e8f9a0b3c47",
    ] {
        // Minted now: the simulator's clock may have moved past the last one's expiry.
        let token = tokens
            .access_token(&TokenRequest {
                tenant_id: tenant.to_owned(),
                resource: Resource::Graph,
                scope: scope.to_owned(),
                claims: None,
                force_refresh: true,
            })
            .await
            .unwrap();
        let mut url = Some(format!(
            "{}/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/filterByCurrentUser(on='principal')",
            env.base
        ));
        while let Some(u) = url {
            let v: Value = http
                .get(&u)
                .bearer_auth(token.token.expose())
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .json()
                .await
                .unwrap();
            for q in v["value"].as_array().unwrap() {
                out.push((q["id"].as_str().unwrap().to_owned(), q.clone()));
            }
            url = v["@odata.nextLink"].as_str().map(str::to_owned);
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The requests in `after` that are not in `before`.
fn new_requests(before: &[(String, Value)], after: &[(String, Value)]) -> Vec<Value> {
    after
        .iter()
        .filter(|(id, _)| !before.iter().any(|(b, _)| b == id))
        .map(|(_, q)| q.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn command_line_options_win_over_the_bundles_and_the_rest_come_from_it() {
    let env = TestEnv::demo().await;
    env.login().await;
    let mem = tempfile::tempdir().unwrap();
    let (_, tokens, endpoints) = pim_tests::sign_in_in_memory(&env.base, mem.path()).await;
    let graph = endpoints.graph_scope.clone();
    env.pim(&[
        "bundle",
        "save",
        "entra",
        "Global Reader",
        "Teams Administrator",
        "--reason",
        "R1 from the bundle",
        "--ticket-system",
        "Jira",
        "--duration",
        "1h",
    ])
    .await
    .expect_code(0);

    // Reason and ticket system from the command line; the duration from the bundle.
    let before = my_role_requests(&env, tokens.as_ref(), &graph).await;
    let run = env
        .pim(&[
            "activate",
            "--bundle",
            "entra",
            "--reason",
            "R2 from the command line",
            "--ticket-system",
            "ServiceNow",
            "--ticket",
            "T-1",
        ])
        .await;
    run.expect_code(0);
    let sent = new_requests(
        &before,
        &my_role_requests(&env, tokens.as_ref(), &graph).await,
    );
    assert_eq!(sent.len(), 2, "{sent:#?}");
    for q in &sent {
        assert_eq!(q["action"], "selfActivate", "{q}");
        assert_eq!(q["justification"], "R2 from the command line", "{q}");
        assert_eq!(q["ticketInfo"]["ticketSystem"], "ServiceNow", "{q}");
        assert_eq!(q["ticketInfo"]["ticketNumber"], "T-1", "{q}");
        assert_eq!(q["scheduleInfo"]["expiration"]["duration"], "PT1H", "{q}");
    }

    // Once they have ended: without --reason and --ticket-system, the bundle's are sent.
    env.advance(61 * 60).await;
    let before = my_role_requests(&env, tokens.as_ref(), &graph).await;
    let run = env
        .pim(&["activate", "--bundle", "entra", "--ticket", "T-2", "--json"])
        .await;
    run.expect_code(0);
    let v = run.json();
    for name in ["Global Reader", "Teams Administrator"] {
        assert_eq!(by_name(&v, name)["already"], false, "{v:#}");
    }
    let sent = new_requests(
        &before,
        &my_role_requests(&env, tokens.as_ref(), &graph).await,
    );
    assert_eq!(sent.len(), 2, "{sent:#?}");
    for q in &sent {
        assert_eq!(q["justification"], "R1 from the bundle", "{q}");
        assert_eq!(q["ticketInfo"]["ticketSystem"], "Jira", "{q}");
        assert_eq!(q["ticketInfo"]["ticketNumber"], "T-2", "{q}");
        assert_eq!(q["scheduleInfo"]["expiration"]["duration"], "PT1H", "{q}");
    }
}
