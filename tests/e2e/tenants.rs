//! Choosing the tenants to show (`pim tenants hide|show`): the choice is saved with the
//! account, hidden tenants are not read by any command, `--tenant` still reaches one, and the
//! choice survives a new sign-in.

use std::collections::BTreeSet;

use pim_tests::TestEnv;
use serde_json::Value;

fn tenant_names(roles: &[Value]) -> BTreeSet<String> {
    roles
        .iter()
        .map(|r| r["tenantName"].as_str().unwrap().to_owned())
        .collect()
}

async fn batches(env: &TestEnv) -> usize {
    env.requests()
        .await
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1.0/$batch")
        .count()
}

fn shown(run: &pim_tests::Run) -> Vec<(String, bool)> {
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["displayName"].as_str().unwrap().to_owned(),
                t["shown"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn hidden_tenants_are_skipped_everywhere_until_shown_again() {
    let env = TestEnv::demo().await;
    env.login().await;
    let all = env.pim(&["tenants", "--json"]).await;
    all.expect_code(0);
    assert_eq!(
        shown(&all),
        vec![("Contoso".to_owned(), true), ("Fabrikam".to_owned(), true)]
    );

    // Hide the guest tenant by its domain (names, domains and ids all work).
    let hide = env
        .pim(&["tenants", "hide", "fabrikam.onmicrosoft.com"])
        .await;
    hide.expect_code(0);
    assert!(
        hide.stdout.contains("Fabrikam") && hide.stdout.contains("hidden"),
        "{}",
        hide.stdout
    );
    let saved = std::fs::read_to_string(env.config_dir().join("accounts.json")).unwrap();
    assert!(saved.contains("\"hiddenTenants\""), "{saved}");
    let accounts = env.pim(&["accounts", "--json"]).await.json();
    assert_eq!(
        accounts[0]["hiddenTenants"],
        serde_json::json!(["f3b6c2d1-7a9e-4c58-b1d2-5e8f9a0b3c47"])
    );

    // Not read at all: one $batch (the home tenant's) for `pim roles`.
    env.clear_requests().await;
    let roles = env.roles().await;
    assert_eq!(tenant_names(&roles), BTreeSet::from(["Contoso".to_owned()]));
    assert_eq!(batches(&env).await, 1);

    let status = env.pim(&["status"]).await;
    status.expect_code(0);
    assert!(
        status.stdout.contains("Hidden: Fabrikam"),
        "{}",
        status.stdout
    );
    let status = env.pim(&["status", "--json"]).await;
    status.expect_code(0);
    assert_eq!(status.json()["hiddenTenants"][0]["name"], "Fabrikam");

    // A role there is not found, and the message says where it may be and what to do.
    let act = env
        .pim(&[
            "activate",
            "Teams Administrator",
            "--reason",
            "x",
            "--duration",
            "1h",
        ])
        .await;
    act.expect_code(2);
    assert!(
        act.stderr.contains(
            "(hidden tenants were not searched: Fabrikam; add --tenant NAME, or `pim tenants show \
             NAME`)"
        ),
        "{}",
        act.stderr
    );

    // --tenant reaches a hidden tenant explicitly.
    let run = env.pim(&["roles", "--json", "--tenant", "Fabrikam"]).await;
    run.expect_code(0);
    let fab: Vec<Value> = run.json().as_array().unwrap().clone();
    assert_eq!(tenant_names(&fab), BTreeSet::from(["Fabrikam".to_owned()]));
    assert!(fab.iter().any(|r| r["name"] == "Teams Administrator"));

    // Refused: hiding every tenant, an unknown tenant, nothing named.
    let last = env.pim(&["tenants", "hide", "Contoso"]).await;
    last.expect_code(2);
    assert!(
        last.stderr.contains("at least one tenant must stay shown"),
        "{}",
        last.stderr
    );
    let unknown = env.pim(&["tenants", "hide", "Northwind"]).await;
    unknown.expect_code(2);
    assert!(
        unknown.stderr.contains("no tenant `Northwind`") && unknown.stderr.contains("Fabrikam ("),
        "{}",
        unknown.stderr
    );
    env.pim(&["tenants", "show"]).await.expect_code(2);
    let after = env.pim(&["tenants", "--json"]).await;
    assert_eq!(
        shown(&after),
        vec![("Contoso".to_owned(), true), ("Fabrikam".to_owned(), false)],
        "refused changes leave the choice as it was"
    );

    // A new sign-in keeps the choice.
    env.login().await;
    assert_eq!(
        tenant_names(&env.roles().await),
        BTreeSet::from(["Contoso".to_owned()])
    );

    // Shown again.
    env.pim(&["tenants", "show", "fabrikam"])
        .await
        .expect_code(0);
    let roles = env.roles().await;
    assert_eq!(
        tenant_names(&roles),
        BTreeSet::from(["Contoso".to_owned(), "Fabrikam".to_owned()])
    );
    env.pim(&["tenants", "hide", "Fabrikam"])
        .await
        .expect_code(0);
    env.pim(&["tenants", "show", "--all"]).await.expect_code(0);
    let saved = std::fs::read_to_string(env.config_dir().join("accounts.json")).unwrap();
    assert!(!saved.contains("hiddenTenants"), "{saved}");
    assert_eq!(tenant_names(&env.roles().await).len(), 2);
}
