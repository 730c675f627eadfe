//! Smoke tests of the `pim` binary against an in-process pim-sim.
//!
//! They need a Secret Service (the refresh token lives in the OS keychain), so they skip with
//! a message when `DBUS_SESSION_BUS_ADDRESS` is unset. Run them like CI does:
//! `dbus-run-session -- bash -c 'export XDG_DATA_HOME=$(mktemp -d); echo -n pw |
//! gnome-keyring-daemon --unlock --components=secrets --daemonize; cargo test -p pim-cli'`.
//! The browser is `curl -sL` (GET the authorize URL, follow the redirect to pim's loopback).
//! Each test uses its own client id, so their keychain entries never collide.
#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Output;

use pim_sim::{SimHandle, SimOptions, Simulator};
use serde_json::Value;

struct Cli {
    sim: SimHandle,
    config: tempfile::TempDir,
    home: tempfile::TempDir,
    client_id: String,
}

fn keychain_available() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        eprintln!(
            "skipping: no Secret Service (DBUS_SESSION_BUS_ADDRESS is unset); run inside dbus-run-session with gnome-keyring"
        );
        return false;
    }
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: curl (the test browser) is not installed");
        return false;
    }
    true
}

impl Cli {
    async fn start() -> Cli {
        let sim = Simulator::start(SimOptions::default()).await.unwrap();
        Cli {
            sim,
            config: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
            client_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    async fn run(&self, args: &[&str]) -> Output {
        let base = self.sim.base_url();
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pim"))
            .args(args)
            .env("PIM_AUTHORITY_HOST", &base)
            .env("PIM_GRAPH_ENDPOINT", &base)
            .env("PIM_ARM_ENDPOINT", &base)
            .env("PIM_CLIENT_ID", &self.client_id)
            // A folder that does not exist yet: pim must create it.
            .env("PIM_CONFIG_DIR", self.config.path().join("pim"))
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env("BROWSER", "curl -sL -o /dev/null")
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .unwrap();
        eprintln!(
            "$ pim {}\n-> {:?}\n{}{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    async fn login(&self) {
        let out = self.run(&["login"]).await;
        assert_eq!(out.status.code(), Some(0));
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_then_roles_json_and_status() {
    if !keychain_available() {
        return;
    }
    let cli = Cli::start().await;
    cli.login().await;
    let out = cli.run(&["roles", "--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    let roles = json(&out);
    let items = roles.as_array().unwrap();
    for r in items {
        for k in ["kind", "name", "scope", "state", "endsAt", "tenantId"] {
            assert!(r.get(k).is_some(), "{k} missing in {r}");
        }
    }
    let by = |n: &str| {
        items
            .iter()
            .find(|r| r["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing"))
    };
    assert_eq!(by("Directory Readers")["state"], "active");
    assert!(by("Directory Readers")["endsAt"].is_null());
    assert_eq!(by("Global Reader")["state"], "eligible");
    assert_eq!(by("Global Reader")["kind"], "entraRole");
    assert_eq!(by("Contributor")["kind"], "azureResource");
    assert_eq!(by("Contributor")["scope"], "Prod");
    assert_eq!(by("SQL Prod Admins")["kind"], "group");
    let ua = items
        .iter()
        .find(|r| r["name"] == "User Administrator" && r["scope"] == "Europe")
        .unwrap();
    assert_eq!(ua["state"], "active");
    assert!(ua["endsAt"].is_string());

    let out = cli.run(&["status", "--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    let s = json(&out);
    assert_eq!(s["account"]["upn"], "adele@contoso.onmicrosoft.com");
    assert!(s["tenants"].as_array().unwrap().len() >= 2);

    let out = cli.run(&["roles"]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("Global Reader"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_refusals_exit_3_before_sending() {
    if !keychain_available() {
        return;
    }
    let cli = Cli::start().await;
    cli.login().await;
    cli.sim.control().clear_requests();
    let out = cli.run(&["activate", "Global Reader"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).to_lowercase().contains("justification"),
        "{}",
        stderr(&out)
    );
    let out = cli
        .run(&[
            "activate",
            "global reader",
            "--reason",
            "x",
            "--duration",
            "9h",
        ])
        .await;
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("8h"), "{}", stderr(&out));
    let out = cli
        .run(&["activate", "Security Administrator", "--reason", "x"])
        .await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).to_lowercase().contains("ticket"),
        "{}",
        stderr(&out)
    );
    let writes = cli
        .sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.contains("ScheduleRequests"))
        .count();
    assert_eq!(writes, 0, "nothing may be sent for a refused request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activate_deactivate_and_ambiguity() {
    if !keychain_available() {
        return;
    }
    let cli = Cli::start().await;
    cli.login().await;
    let out = cli
        .run(&[
            "activate",
            "Global Reader",
            "--reason",
            "testing",
            "--duration",
            "30m",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("active until"));
    let out = cli.run(&["deactivate", "Global Reader"]).await;
    assert_eq!(out.status.code(), Some(3), "5-minute rule");
    cli.sim.control().advance(6 * 60);
    let out = cli.run(&["deactivate", "Global Reader", "--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["outcome"], "deactivated");
    let out = cli
        .run(&["activate", "SQL Prod Admins", "--reason", "x"])
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("SQL Prod Admins (owner)"));
    let out = cli
        .run(&["activate", "Global Administrator", "--reason", "approve me"])
        .await;
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("pending approval"));
    let out = cli.run(&["cancel", "Global Administrator"]).await;
    assert_eq!(out.status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_sign_in_exit_4() {
    if !keychain_available() {
        return;
    }
    let cli = Cli::start().await;
    let out = cli.run(&["roles", "--json"]).await;
    assert_eq!(out.status.code(), Some(4));
    assert!(out.stdout.is_empty(), "no JSON on failure");
    assert!(stderr(&out).contains("pim login"));
    let out = cli.run(&["activate"]).await;
    assert_eq!(out.status.code(), Some(2), "usage error");
}

/// The tenant list is cached in the config folder after the first run; the next run reads
/// every tenant without discovering them first (`GET /tenants` is still re-checked in
/// parallel), and a damaged cache is ignored and rewritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_list_is_cached_between_runs() {
    if !keychain_available() {
        return;
    }
    let cli = Cli::start().await;
    cli.login().await;
    let cache = cli.config.path().join("pim").join("tenants.json");
    assert!(!cache.exists());
    let first = cli.run(&["roles", "--json"]).await;
    assert_eq!(first.status.code(), Some(0));
    let text = std::fs::read_to_string(&cache).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let lists: Vec<&Value> = v["accounts"].as_object().unwrap().values().collect();
    assert_eq!(lists.len(), 1);
    let names: Vec<&str> = lists[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Contoso", "Fabrikam"]);
    assert!(!text.contains("eyJ"), "nothing token-like in the cache");
    let modified = std::fs::metadata(&cache).unwrap().modified().unwrap();

    // Same answer from the cache; an unchanged list is not rewritten.
    cli.sim.control().clear_requests();
    let second = cli.run(&["roles", "--json"]).await;
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(json(&second), json(&first));
    assert_eq!(
        std::fs::metadata(&cache).unwrap().modified().unwrap(),
        modified
    );
    let reqs = cli.sim.control().requests();
    assert_eq!(reqs.iter().filter(|r| r.path == "/tenants").count(), 1);

    // A damaged cache: ignored, the command works, the file is rewritten.
    std::fs::write(&cache, b"{ not json").unwrap();
    let third = cli.run(&["roles", "--json"]).await;
    assert_eq!(third.status.code(), Some(0));
    assert_eq!(json(&third), json(&first));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    assert_eq!(v["version"], 1);

    // Signing out forgets the account's tenants.
    assert_eq!(cli.run(&["logout"]).await.status.code(), Some(0));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    assert!(v["accounts"].as_object().unwrap().is_empty());
}

/// `--tenant NAME` naming no tenant of the account is a usage error that lists the tenants,
/// not an empty list; `.`/`..` are not tenant names (they would leave the authority's tenant
/// path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tenant_is_a_usage_error() {
    if !keychain_available() {
        return;
    }
    let cli = Cli::start().await;
    cli.login().await;
    for args in [
        &["--tenant", "..", "roles"][..],
        &["--tenant", "Northwind", "roles", "--json"],
        &["--tenant", "nowhere.example", "status"],
        &["--tenant", "Northwind", "tenants"],
        &[
            "--tenant",
            "..",
            "activate",
            "Global Reader",
            "--reason",
            "x",
        ],
        &["--tenant", "Northwind", "policy", "Global Reader"],
    ] {
        let out = cli.run(args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("no tenant `{}`", args[1]))
                && err.contains("Contoso (")
                && err.contains("Fabrikam ("),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // A known tenant still works, by name or domain, in any case.
    let out = cli.run(&["--tenant", "fabrikam", "roles", "--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    // Signing in to `..` is refused before anything is sent.
    let out = cli.run(&["--tenant", "..", "login"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a tenant id or domain"),
        "{}",
        stderr(&out)
    );
}

/// `accounts.json` is plain metadata: pointing an account's authority (or Graph, ARM) at
/// another host must not send its refresh token or access tokens there (issue 9, item 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_endpoints_in_accounts_json_send_nothing() {
    if !keychain_available() {
        return;
    }
    let cli = Cli::start().await;
    cli.login().await;
    let path = cli.config.path().join("pim").join("accounts.json");
    let original = std::fs::read(&path).unwrap();
    // A listener that counts whoever connects (and never answers).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere = format!("http://{}", listener.local_addr().unwrap());
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = connections.clone();
    let accept = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    for field in ["authorityHost", "graphEndpoint", "armEndpoint"] {
        let mut file: Value = serde_json::from_slice(&original).unwrap();
        file["accounts"][0][field] = Value::String(elsewhere.clone());
        std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
        let out = cli.run(&["roles"]).await;
        assert_eq!(out.status.code(), Some(4), "{field}");
        let err = stderr(&out);
        let name = match field {
            "authorityHost" => "authority host",
            "graphEndpoint" => "Graph endpoint",
            _ => "ARM endpoint",
        };
        for part in [
            name,
            elsewhere.as_str(),
            "accounts.json",
            "pim login",
            "nothing was sent",
        ] {
            assert!(err.contains(part), "{field}: `{part}` missing in {err}");
        }
        assert_eq!(
            connections.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{field}: the listener received a connection"
        );
    }
    // Signing in again (the change was intended, or to repair it) rewrites the account.
    cli.login().await;
    let out = cli.run(&["roles", "--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    accept.abort();
}
