//! Several accounts and clouds in the CLI (`pim login --cloud`, `pim accounts`, `--account`,
//! `pim tenants`, `pim logout <upn>|--all`), and an Azure CLI account through a fake `az`.
//!
//! Two simulators stand in for two clouds: the first is the "public" cloud the environment
//! points at (PIM_* on every run); the second is reached only through the endpoints an account
//! stored when it signed in (`pim login --cloud usgov` run with PIM_* pointing at it).

use std::collections::BTreeSet;

use pim_tests::TestEnv;
use serde_json::Value;

const ADELE: &str = "adele@contoso.onmicrosoft.com";
const MEGAN: &str = "megan@northwind.onmicrosoft.com";

/// The demo scenario as another organisation: another user in two other tenants.
fn northwind() -> pim_sim::Scenario {
    let text = include_str!("../../crates/pim-sim/scenarios/demo.json")
        .replace("Adele Vance", "Megan Bowen")
        .replace("adele", "megan")
        .replace("contoso", "northwind")
        .replace("Contoso", "Northwind")
        .replace("fabrikam", "tailspin")
        .replace("Fabrikam", "Tailspin")
        .replace(
            "071cc716-8147-4397-a5ba-b2105951cc0b",
            "5a0b6e4c-2f1d-4a39-8c7e-0d9b1e2f3a4b",
        )
        .replace(
            "cab01047-8ad9-4792-8e42-569340767f1b",
            "7d3e1f20-6b5a-4c9d-8e2f-1a0b9c8d7e6f",
        )
        .replace(
            "f3b6c2d1-7a9e-4c58-b1d2-5e8f9a0b3c47",
            "2c4e6a8b-0d1f-4e3a-9b5c-7d9e1f3a5b7c",
        );
    pim_sim::Scenario::from_json(&text).unwrap()
}

async fn roles_json(env: &TestEnv, extra: &[&str]) -> Vec<Value> {
    let mut args = extra.to_vec();
    args.extend(["roles", "--json"]);
    let run = env.pim(&args).await;
    run.expect_code(0);
    match run.json() {
        Value::Array(v) => v,
        other => panic!("not an array: {other}"),
    }
}

/// (tenant name, kind) pairs present in `roles --json`.
fn tenant_kinds(roles: &[Value]) -> BTreeSet<(String, String)> {
    roles
        .iter()
        .map(|r| {
            (
                r["tenantName"].as_str().unwrap().to_owned(),
                r["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn tenants_of(roles: &[Value]) -> BTreeSet<String> {
    tenant_kinds(roles).into_iter().map(|(t, _)| t).collect()
}

async fn log(sim: &pim_sim::SimHandle) -> Vec<pim_sim::RecordedRequest> {
    sim.control().requests()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn two_accounts_in_two_clouds_do_not_mix() {
    let env = TestEnv::demo().await;
    let sim2 = pim_sim::Simulator::start(pim_sim::SimOptions {
        scenario: northwind(),
        ..pim_sim::SimOptions::default()
    })
    .await
    .unwrap();
    let b2 = sim2.base_url();
    let at_sim2 = [
        ("PIM_AUTHORITY_HOST", b2.as_str()),
        ("PIM_GRAPH_ENDPOINT", b2.as_str()),
        ("PIM_ARM_ENDPOINT", b2.as_str()),
    ];

    env.login().await;
    env.pim_with(&["login", "--cloud", "usgov"], &at_sim2)
        .await
        .expect_code(0);

    // Both listed; the last one signed in is the default.
    let run = env.pim(&["accounts", "--json"]).await;
    run.expect_code(0);
    let list = run.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:#?}");
    let by_upn = |u: &str| list.iter().find(|a| a["upn"] == u).unwrap().clone();
    assert_eq!(by_upn(ADELE)["cloud"], "public");
    assert_eq!(by_upn(MEGAN)["cloud"], "usgov");
    assert_eq!(by_upn(MEGAN)["default"], true);
    assert_eq!(by_upn(ADELE)["default"], false);
    let human = env.pim(&["accounts"]).await;
    human.expect_code(0);
    assert!(human.stdout.contains(ADELE) && human.stdout.contains(MEGAN));

    // The default (Megan) works against the second cloud although PIM_* names the first:
    // the account's stored endpoints are used. One refresh token serves both tenants and
    // both resources (Entra roles from Graph, Azure roles from ARM).
    sim2.control().clear_requests();
    env.clear_requests().await;
    let megan = roles_json(&env, &[]).await;
    assert_eq!(
        tenants_of(&megan),
        BTreeSet::from(["Northwind".to_owned(), "Tailspin".to_owned()])
    );
    let kinds = tenant_kinds(&megan);
    assert!(
        kinds.contains(&("Northwind".into(), "entraRole".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("Northwind".into(), "azureResource".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("Tailspin".into(), "entraRole".into())),
        "{kinds:?}"
    );
    assert!(
        env.requests().await.is_empty(),
        "Megan's run must not reach the first cloud"
    );
    let l2 = log(&sim2).await;
    assert!(
        !l2.iter().any(|r| r.path.ends_with("/authorize")),
        "no new sign-in"
    );
    let token_tenants: BTreeSet<String> = l2
        .iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .map(|r| r.path.split('/').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(
        token_tenants.len(),
        2,
        "both tenants from one refresh token: {token_tenants:?}"
    );

    // --account picks Adele (first cloud) for one command; the second cloud sees nothing.
    sim2.control().clear_requests();
    env.clear_requests().await;
    let adele = roles_json(&env, &["--account", ADELE]).await;
    assert_eq!(
        tenants_of(&adele),
        BTreeSet::from(["Contoso".to_owned(), "Fabrikam".to_owned()])
    );
    assert!(
        log(&sim2).await.is_empty(),
        "Adele's run must not reach the second cloud"
    );
    assert!(
        !env.requests()
            .await
            .iter()
            .any(|r| r["path"].as_str().unwrap_or("").ends_with("/authorize")),
        "no new sign-in"
    );

    // Tenants of an account (ARM /tenants), filtered by --tenant.
    let run = env.pim(&["tenants", "--json"]).await;
    run.expect_code(0);
    let names: BTreeSet<String> = run
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["displayName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["Northwind".to_owned(), "Tailspin".to_owned()])
    );
    let run = env
        .pim(&["--account", "1", "tenants", "--tenant", "fabrikam"])
        .await;
    run.expect_code(0);
    assert!(
        run.stdout.contains("Fabrikam") && !run.stdout.contains("Contoso"),
        "{}",
        run.stdout
    );

    // Switch the default by user name; by number.
    env.pim(&["accounts", "use", ADELE]).await.expect_code(0);
    assert_eq!(tenants_of(&roles_json(&env, &[]).await).len(), 2);
    assert!(tenants_of(&roles_json(&env, &[]).await).contains("Contoso"));
    env.pim(&["accounts", "use", "2"]).await.expect_code(0);
    assert!(tenants_of(&roles_json(&env, &[]).await).contains("Northwind"));
    env.pim(&["accounts", "use", "nobody@x"])
        .await
        .expect_code(2);

    // One keychain entry per account.
    assert_eq!(env.keychain_items().len(), 2);

    // Remove one, then all.
    env.pim(&["logout", MEGAN]).await.expect_code(0);
    let left = env.pim(&["accounts", "--json"]).await.json();
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["upn"], ADELE);
    assert_eq!(env.keychain_items().len(), 1);
    assert!(tenants_of(&roles_json(&env, &[]).await).contains("Contoso"));
    env.pim(&["logout", "--all"]).await.expect_code(0);
    assert!(env.keychain_items().is_empty());
    env.pim(&["roles"]).await.expect_code(4);
    env.assert_no_leak(&[]);
}

/// A fake `az` (test only) printing tokens the simulator issued, per tenant (default: the
/// first, as az's default tenant) and resource (`management` or `graph` in the scope).
fn fake_az(dir: &std::path::Path, tokens: &[(String, &str, String)]) -> String {
    let mut script = String::from("#!/bin/sh\n# Fake Azure CLI for tests.\nargs=\"$*\"\n");
    script.push_str(&format!("t={}\n", tokens[0].0));
    for (tenant, _, _) in tokens {
        script.push_str(&format!(
            "case \"$args\" in *{tenant}*) t={tenant};; esac\n"
        ));
    }
    script.push_str("case \"$args\" in *management*) r=management;; *) r=graph;; esac\n");
    for (tenant, resource, token) in tokens {
        script.push_str(&format!(
            "if [ \"$t\" = {tenant} ] && [ \"$r\" = {resource} ]; then echo '{{\"accessToken\":\"{token}\",\"expiresOn\":\"2099-01-01 00:00:00.000000\",\"expires_on\":4070908800,\"tokenType\":\"Bearer\"}}'; exit 0; fi\n"
        ));
    }
    script.push_str("echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let az = bin.join("az");
    std::fs::write(&az, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn azure_cli_account_lists_azure_roles_and_explains_graph() {
    use pim_core::token::{Resource, TokenRequest};
    let env = TestEnv::demo().await;
    // Tokens the simulator issues to its user, handed to the fake `az`.
    let mem = tempfile::tempdir().unwrap();
    let (account, source, endpoints) = pim_tests::sign_in_in_memory(&env.base, mem.path()).await;
    let tenants = [
        "cab01047-8ad9-4792-8e42-569340767f1b",
        "f3b6c2d1-7a9e-4c58-b1d2-5e8f9a0b3c47",
    ];
    assert_eq!(account.home_tenant_id, tenants[0]);
    let mut tokens = Vec::new();
    for t in tenants {
        for (resource, scope, word) in [
            (Resource::Arm, &endpoints.arm_scope, "management"),
            (Resource::Graph, &endpoints.graph_scope, "graph"),
        ] {
            let tok = source
                .access_token(&TokenRequest {
                    tenant_id: t.to_owned(),
                    resource,
                    scope: scope.clone(),
                    claims: None,
                    force_refresh: false,
                })
                .await
                .unwrap();
            tokens.push((t.to_owned(), word, tok.token.expose().to_owned()));
        }
    }
    let az_dir = tempfile::tempdir().unwrap();
    let path = fake_az(az_dir.path(), &tokens);
    let with_az = [("PATH", path.as_str())];

    let run = env.pim_with(&["login", "--azure-cli"], &with_az).await;
    run.expect_code(0);
    assert!(run.stdout.contains("Azure CLI"), "{}", run.stdout);
    let list = env.pim(&["accounts", "--json"]).await.json();
    assert_eq!(list[0]["kind"], "azure-cli");
    assert_eq!(list[0]["upn"], ADELE);

    // Graph refuses the Azure CLI's app (as Entra ID does): Azure roles still work, and the
    // user is told which app registration Entra roles need, per tenant, not as a crash.
    env.fault(serde_json::json!({
        "path": "/v1.0/", "times": 1000,
        "fault": {"kind": "status", "status": 403, "code": "PermissionScopeNotGranted",
                  "message": "Authorization failed due to missing permission scope RoleAssignmentSchedule.ReadWrite.Directory."}
    }))
    .await;
    env.clear_requests().await;
    let run = env.pim_with(&["roles"], &with_az).await;
    run.expect_code(0);
    assert!(run.stdout.contains("Contributor"), "{}", run.stdout);
    assert!(!run.stdout.contains("Global Reader"), "{}", run.stdout);
    assert!(run.stderr.contains("tenant Contoso"), "{}", run.stderr);
    assert!(run.stderr.contains("app registration"), "{}", run.stderr);
    assert!(
        !env.requests()
            .await
            .iter()
            .any(|r| r["resource"] == "authority"),
        "an Azure CLI account never asks the authority itself"
    );
    assert!(env.keychain_items().is_empty(), "nothing stored for az");

    // A bad `PIM_AZ_TIMEOUT` is a configuration error that names the fix; az is not run.
    env.clear_requests().await;
    let run = env
        .pim_with(
            &["roles"],
            &[("PATH", path.as_str()), ("PIM_AZ_TIMEOUT", "soon")],
        )
        .await;
    run.expect_code(1);
    assert!(
        run.stderr.contains("PIM_AZ_TIMEOUT=\"soon\"") && run.stderr.contains("1 to 3600"),
        "{}",
        run.stderr
    );
    assert!(env.requests().await.is_empty(), "nothing was sent");
    let run = env
        .pim_with(
            &["roles"],
            &[("PATH", path.as_str()), ("PIM_AZ_TIMEOUT", "120")],
        )
        .await;
    run.expect_code(0);

    // `az` signed out since: exit 4 with the Azure CLI's words and its command, not ours.
    let out_dir = tempfile::tempdir().unwrap();
    let signed_out = fake_az(
        out_dir.path(),
        &[("none".to_owned(), "none", "x".to_owned())],
    );
    let run = env
        .pim_with(&["roles"], &[("PATH", signed_out.as_str())])
        .await;
    run.expect_code(4);
    assert!(
        run.stderr.contains("Please run 'az login'") && run.stderr.contains("Run `az login"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("pim login"), "{}", run.stderr);
    env.assert_no_leak(&[]);
}
