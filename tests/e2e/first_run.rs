//! Clean first run: login, listing, status, where the refresh token lives.

use pim_tests::{TestEnv, role, roles_named};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn login_from_clean_environment_stores_token_only_in_keychain() {
    let env = TestEnv::demo().await;
    assert!(!env.config_dir().exists());

    // Before login every command that needs a token says so, with exit 4.
    let run = env.pim(&["roles"]).await;
    run.expect_code(4);
    assert!(run.stderr.contains("pim login"), "{}", run.stderr);
    // Said once, by the CLI; the core's message names no front end.
    assert_eq!(run.stderr.matches("pim login").count(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains("tray"), "{}", run.stderr);

    env.login().await;
    assert!(env.config_dir().is_dir(), "login creates PIM_CONFIG_DIR");

    let items = env.keychain_items();
    assert!(
        !items.is_empty(),
        "the refresh token must be an item in the Secret Service"
    );
    let secrets: Vec<String> = items.iter().map(|(_, s)| s.clone()).collect();

    // Everything else works from the keychain alone, across processes.
    let roles = env.roles().await;
    assert!(roles.len() >= 10, "{roles:#?}");
    env.pim(&["status"]).await.expect_code(0);
    env.pim(&["roles"]).await.expect_code(0);

    env.assert_no_leak(&secrets);

    // Logout removes every keychain part.
    env.pim(&["logout"]).await.expect_code(0);
    assert!(
        env.keychain_items().is_empty(),
        "logout must delete the keychain entries"
    );
    env.pim(&["roles"]).await.expect_code(4);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn roles_json_shows_the_demo_tenants() {
    let env = TestEnv::demo().await;
    env.login().await;
    let roles = env.roles().await;

    for r in &roles {
        for key in ["kind", "name", "scope", "state", "endsAt", "tenantId"] {
            assert!(r.get(key).is_some(), "`{key}` missing in {r}");
        }
        let kind = r["kind"].as_str().unwrap();
        assert!(
            ["entraRole", "group", "azureResource"].contains(&kind),
            "{r}"
        );
        let state = r["state"].as_str().unwrap();
        assert!(
            ["eligible", "active", "pending", "scheduled"].contains(&state),
            "{r}"
        );
    }

    let gr = role(&roles, "Global Reader");
    assert_eq!(gr["kind"], "entraRole");
    assert_eq!(gr["state"], "eligible");
    assert!(gr["endsAt"].is_null());

    // Activated about 50 minutes ago, ends about 10 minutes after the simulator started.
    let ua = role(&roles, "User Administrator");
    assert_eq!(ua["state"], "active", "{ua}");
    assert_eq!(ua["scope"], "Europe", "{ua}");
    let ends = time::OffsetDateTime::parse(
        ua["endsAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = ends - time::OffsetDateTime::now_utc();
    assert!(
        left > time::Duration::minutes(5) && left < time::Duration::minutes(15),
        "User Administrator should end in about 10 minutes: {ua}"
    );

    // Permanent assignment: active with no end.
    let dr = role(&roles, "Directory Readers");
    assert_eq!(dr["state"], "active");
    assert!(dr["endsAt"].is_null(), "{dr}");

    let sql = roles_named(&roles, "SQL Prod Admins");
    assert_eq!(sql.len(), 2, "member and owner: {sql:#?}");
    assert!(sql.iter().all(|r| r["kind"] == "group"));

    let contributor = role(&roles, "Contributor");
    assert_eq!(contributor["kind"], "azureResource");
    assert_eq!(contributor["scope"], "Prod");
    let reader = role(&roles, "Reader");
    assert_eq!(reader["scope"], "rg-web");

    // Both tenants, each role under its own tenant.
    let contoso = gr["tenantId"].as_str().unwrap();
    let teams = role(&roles, "Teams Administrator");
    assert_ne!(teams["tenantId"].as_str().unwrap(), contoso);
    assert_eq!(
        role(&roles, "Billing Administrator")["tenantId"],
        teams["tenantId"]
    );
    for name in [
        "Security Administrator",
        "Global Administrator",
        "Exchange Administrator",
    ] {
        assert_eq!(role(&roles, name)["tenantId"], contoso, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn json_output_is_only_json_at_any_log_level() {
    let env = TestEnv::demo().await;
    env.login().await;
    for level in ["trace", "debug", "info", "off"] {
        for args in [&["roles", "--json"][..], &["status", "--json"][..]] {
            let run = env.pim_with(args, &[("RUST_LOG", level)]).await;
            run.expect_code(0);
            run.json();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn human_output_is_a_table_with_time_left() {
    let env = TestEnv::demo().await;
    env.login().await;
    let run = env.pim(&["roles"]).await;
    run.expect_code(0);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("User Administrator"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(line.contains("Europe"), "{line}");
    assert!(line.contains('m'), "time left in minutes expected: {line}");

    let run = env.pim(&["status"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("adele@contoso"), "{}", run.stdout);
    assert!(run.stdout.contains("User Administrator"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn bad_usage_and_unknown_roles_are_explained() {
    let env = TestEnv::demo().await;
    env.pim(&["frobnicate"]).await.expect_code(2);
    env.pim(&["activate"]).await.expect_code(2);
    env.login().await;

    let run = env
        .pim(&["activate", "No Such Role", "--reason", "x"])
        .await;
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("No Such Role"), "{}", run.stderr);

    // Case-insensitive exact names resolve without --tenant (names differ across tenants).
    let run = env.pim(&["policy", "global reader"]).await;
    run.expect_code(0);
    assert!(
        run.stdout.contains("8"),
        "max duration 8 h expected: {}",
        run.stdout
    );

    // An ambiguous name lists the candidates, and nothing is sent.
    let run = env
        .pim(&["activate", "Administrator", "--reason", "x"])
        .await;
    assert_ne!(run.code, 0);
    for candidate in [
        "Global Administrator",
        "Security Administrator",
        "Teams Administrator",
    ] {
        assert!(
            run.stderr.contains(candidate),
            "{candidate}: {}",
            run.stderr
        );
    }
}
