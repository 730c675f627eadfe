//! `pim approvals`, `pim approve`, `pim deny`: the demo's requests of other users waiting for
//! the demo user (Alex Wilber, Lee Gu, Diego Siciliani; Isaiah Langer's second stage is mine,
//! not started), decided by id; a denial without a reason; a request decided elsewhere.

use pim_tests::TestEnv;
use serde_json::Value;

async fn inbox(env: &TestEnv) -> Vec<Value> {
    let run = env.pim(&["approvals", "--json"]).await;
    run.expect_code(0);
    match run.json() {
        Value::Array(v) => v,
        other => panic!("approvals --json is not an array: {other}"),
    }
}

fn by_requester<'a>(items: &'a [Value], name: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["requester"]["name"] == name)
        .unwrap_or_else(|| panic!("no request of {name}: {items:#?}"))
}

/// The simulator's view of the incoming request of `upn` (`/_sim/incoming`).
async fn incoming(env: &TestEnv, upn_prefix: &str) -> Value {
    let Value::Array(all) = env.ctl("GET", "/_sim/incoming", None).await else {
        panic!("incoming is not a list")
    };
    all.into_iter()
        .find(|i| {
            i["requester"]["userPrincipalName"]
                .as_str()
                .is_some_and(|u| u.starts_with(upn_prefix))
        })
        .unwrap_or_else(|| panic!("incoming request of {upn_prefix}"))
}

async fn patches(env: &TestEnv) -> usize {
    env.requests()
        .await
        .iter()
        .filter(|r| r["method"] == "PATCH")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn the_inbox_lists_and_decides_by_id() {
    let env = TestEnv::demo().await;
    env.login().await;

    let items = inbox(&env).await;
    assert_eq!(items.len(), 4, "{items:#?}");
    let keys = [
        "actionable",
        "createdAt",
        "duration",
        "id",
        "justification",
        "kind",
        "name",
        "requester",
        "scope",
        "stage",
        "tenantId",
        "ticket",
    ];
    for i in &items {
        let mut k: Vec<&str> = i.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort();
        assert_eq!(k, keys, "{i}");
    }
    let ga = by_requester(&items, "Alex Wilber");
    assert_eq!(ga["name"], "Global Administrator");
    assert_eq!(ga["kind"], "entraRole");
    assert_eq!(ga["requester"]["upn"], "alexw@contoso.onmicrosoft.com");
    assert_eq!(ga["ticket"]["number"], "INC-2217");
    assert_eq!(ga["duration"], "PT1H");
    assert_eq!(ga["actionable"], true);
    let lee = by_requester(&items, "Lee Gu");
    assert_eq!(
        (&lee["name"], &lee["scope"]),
        (&"Contributor".into(), &"Prod".into())
    );
    let sql = by_requester(&items, "Diego Siciliani");
    assert_eq!(sql["name"], "SQL Prod Admins (member)");
    let owner = by_requester(&items, "Isaiah Langer");
    assert_eq!(owner["actionable"], false);
    assert_eq!(owner["stage"]["status"], "NotStarted");

    // The table says who each waits for.
    let table = env.pim(&["approvals"]).await;
    table.expect_code(0);
    assert!(table.stdout.contains("Alex Wilber"), "{}", table.stdout);
    assert!(
        table.stdout.contains("Security lead first"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("3 of 4 wait for you"),
        "{}",
        table.stdout
    );

    // Approve by id: the requester is active.
    let id = ga["id"].as_str().unwrap();
    let run = env
        .pim(&["approve", id, "--reason", "Certificate renewal"])
        .await;
    run.expect_code(0);
    assert!(run.stdout.contains("approved"), "{}", run.stdout);
    let alex = incoming(&env, "alexw@").await;
    assert_eq!(alex["status"], "Provisioned", "{alex:#}");
    assert!(alex["assignment"].is_object());

    // Deny without a reason: a usage error, nothing sent.
    env.clear_requests().await;
    let sql_id = sql["id"].as_str().unwrap();
    let run = env.pim(&["deny", sql_id]).await;
    run.expect_code(2);
    assert!(run.stderr.contains("--reason"), "{}", run.stderr);
    let sent: Vec<Value> = env
        .requests()
        .await
        .into_iter()
        .filter(|r| r["resource"] != "control")
        .collect();
    assert!(sent.is_empty(), "nothing read or sent: {sent:#?}");
    // With one: denied.
    env.pim(&["deny", sql_id, "--reason", "Change freeze"])
        .await
        .expect_code(0);
    assert_eq!(incoming(&env, "diegos@").await["status"], "Denied");

    // Not yet my stage: refused (exit 3), nothing sent.
    env.clear_requests().await;
    let run = env
        .pim(&["approve", owner["id"].as_str().unwrap(), "--reason", "ok"])
        .await;
    run.expect_code(3);
    assert!(
        run.stderr.contains("does not wait for you yet"),
        "{}",
        run.stderr
    );
    assert_eq!(patches(&env).await, 0);

    // A bad id is a usage error.
    env.pim(&["approve", "not-an-id"]).await.expect_code(2);

    let left = inbox(&env).await;
    assert_eq!(left.len(), 2, "{left:#?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn a_request_decided_by_someone_else_exits_3() {
    let env = TestEnv::demo().await;
    env.login().await;
    let items = inbox(&env).await;
    let lee = by_requester(&items, "Lee Gu");
    // Another approver decides it first.
    let i = incoming(&env, "leeg@").await;
    let path = format!("/_sim/approvals/{}/approve", i["id"].as_str().unwrap());
    env.ctl("POST", &path, None).await;
    env.clear_requests().await;
    let run = env
        .pim(&["approve", lee["id"].as_str().unwrap(), "--reason", "ok"])
        .await;
    run.expect_code(3);
    assert!(
        run.stderr.contains("already decided by someone else"),
        "{}",
        run.stderr
    );
    assert_eq!(patches(&env).await, 0);
    // The approver's justification the policy requires: the service says so (exit 3).
    let ga = by_requester(&items, "Alex Wilber");
    let run = env.pim(&["approve", ga["id"].as_str().unwrap()]).await;
    run.expect_code(3);
    assert!(
        run.stderr.contains("justification is required"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--reason"), "{}", run.stderr);
}
