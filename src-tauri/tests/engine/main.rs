//! The tray's engine adapter (`CoreEngine`) over the real pim-core `Session` and pim-auth
//! sign-in, against an in-process pim-sim with the demo scenario over loopback. Refresh
//! tokens go to an in-memory store (never the user's keychain).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use pim_auth::{Auth, AuthOptions, LoginOptions, MemoryStore};
use pim_core::config::{Cloud, Endpoints, parse_base_url};
use pim_tray::core_engine::CoreEngine;
use pim_tray::demo::DemoBrowser;
use pim_tray::dto::ActivationInput;
use pim_tray::engine::{ActivationOutcome, Engine};
use pim_tray::view::{RoleState, RoleView, TrayModel};

async fn demo_engine(dir: &std::path::Path) -> Arc<CoreEngine> {
    let sim = pim_sim::Simulator::start(pim_sim::SimOptions::default())
        .await
        .expect("simulator");
    let base = parse_base_url("sim", &sim.base_url()).unwrap();
    let mut e = Endpoints::for_cloud(Cloud::Public);
    e.authority_host = base.clone();
    e.graph = base.clone();
    e.arm = base;
    let mut o = AuthOptions::with_secret_store(
        e.clone(),
        pim_core::config::DEFAULT_CLIENT_ID.to_owned(),
        dir.to_owned(),
        Arc::new(MemoryStore::new()),
    );
    o.browser = Arc::new(DemoBrowser::new());
    CoreEngine::new(Auth::new(o).unwrap(), e, true, Some(sim))
}

async fn wait_model(
    engine: &CoreEngine,
    what: &str,
    pred: impl Fn(&TrayModel) -> bool,
) -> TrayModel {
    let mut rx = engine.subscribe();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let m = rx.borrow_and_update().clone();
            if pred(&m) {
                return m;
            }
            rx.changed().await.expect("engine alive");
        }
    })
    .await;
    found.unwrap_or_else(|_| {
        panic!(
            "timed out waiting for {what}: {:#?}",
            engine.subscribe().borrow()
        )
    })
}

fn role<'a>(m: &'a TrayModel, title: &str) -> &'a RoleView {
    m.roles()
        .find(|r| r.title() == title)
        .unwrap_or_else(|| panic!("no role {title}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_sign_in_maps_every_kind_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let engine = demo_engine(dir.path()).await;
    engine.sign_in().await.expect("demo sign-in");
    let m = wait_model(&engine, "the demo roles", |m| m.roles().count() > 10).await;
    assert!(m.demo);
    let tenants: Vec<_> = m.accounts[0]
        .tenants
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(tenants, ["Contoso", "Fabrikam"]);
    assert_eq!(m.accounts[0].upn, "adele@contoso.onmicrosoft.com");
    assert!(matches!(
        role(&m, "Directory Readers").state,
        RoleState::Assigned { end: None }
    ));
    assert!(matches!(
        role(&m, "User Administrator (Europe)").state,
        RoleState::Active {
            start: Some(_),
            end: Some(_)
        }
    ));
    assert!(matches!(
        role(&m, "SQL Prod Admins (owner)").state,
        RoleState::Eligible
    ));
    assert!(matches!(
        role(&m, "Reader — rg-web").state,
        RoleState::Eligible
    ));
    assert!(m.any_activation());
    // The account is remembered without any secret in the config folder.
    let accounts = std::fs::read_to_string(dir.path().join("accounts.json")).unwrap();
    assert!(accounts.contains("adele@contoso.onmicrosoft.com"));
    assert!(!accounts.to_lowercase().contains("refresh"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_role_activates_through_step_up_and_approval_role_goes_pending_then_cancels() {
    let dir = tempfile::tempdir().unwrap();
    let engine = demo_engine(dir.path()).await;
    engine.sign_in().await.expect("demo sign-in");
    let m = wait_model(&engine, "the demo roles", |m| m.roles().count() > 10).await;

    let sec = role(&m, "Security Administrator").key.clone();
    let p = engine.policy(&sec).await.unwrap();
    assert!(p.known && p.mfa && p.ticket && p.justification);
    assert_eq!(p.max_duration_minutes, Some(240));
    let outcome = engine
        .activate(ActivationInput {
            key: sec.clone(),
            justification: "Investigating alert 4711".into(),
            ticket: Some(("INC-4711".into(), "ServiceNow".into())),
            duration_minutes: 60,
            start: None,
        })
        .await
        .expect("activation with MFA step-up");
    assert_eq!(outcome, ActivationOutcome::Active);
    wait_model(&engine, "Security Administrator active", |m| {
        m.role(&sec)
            .is_some_and(|r| matches!(r.state, RoleState::Active { .. }))
    })
    .await;

    let ga = role(&m, "Global Administrator").key.clone();
    let p = engine.policy(&ga).await.unwrap();
    assert!(p.approval);
    let outcome = engine
        .activate(ActivationInput {
            key: ga.clone(),
            justification: "Tenant-wide change CHG-12".into(),
            ticket: None,
            duration_minutes: 60,
            start: None,
        })
        .await
        .unwrap();
    assert_eq!(outcome, ActivationOutcome::Pending);
    wait_model(&engine, "Global Administrator pending", |m| {
        m.role(&ga).is_some_and(|r| r.state == RoleState::Pending)
    })
    .await;
    engine.cancel(&ga).await.expect("cancel");
    wait_model(&engine, "Global Administrator eligible again", |m| {
        m.role(&ga).is_some_and(|r| r.state == RoleState::Eligible)
    })
    .await;

    // Deactivating the demo's long-running activation works; a fresh one is refused by the
    // 5-minute guard with a message the user can act on.
    let ua = role(&m, "User Administrator (Europe)").key.clone();
    engine.deactivate(&ua).await.expect("deactivate");
    wait_model(&engine, "User Administrator eligible", |m| {
        m.role(&ua).is_some_and(|r| r.state == RoleState::Eligible)
    })
    .await;
    let err = engine.deactivate(&sec).await.expect_err("5-minute guard");
    assert!(err.to_string().contains("5 minutes"), "{err}");

    engine.sign_out().await.unwrap();
    let m = engine.subscribe().borrow().clone();
    assert!(m.accounts.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_in_two_clouds_show_side_by_side_and_are_removed_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let mut sims = Vec::new();
    let mut endpoints = Vec::new();
    for cloud in [Cloud::Public, Cloud::UsGovernment] {
        let sim = pim_sim::Simulator::start(pim_sim::SimOptions::default())
            .await
            .expect("simulator");
        let base = parse_base_url("sim", &sim.base_url()).unwrap();
        let mut e = Endpoints::for_cloud(cloud);
        e.authority_host = base.clone();
        e.graph = base.clone();
        e.arm = base;
        endpoints.push(e);
        sims.push(sim);
    }
    let options = |e: &Endpoints| {
        let mut o = AuthOptions::with_secret_store(
            e.clone(),
            pim_core::config::DEFAULT_CLIENT_ID.to_owned(),
            dir.path().to_owned(),
            store.clone(),
        );
        o.browser = Arc::new(DemoBrowser::new());
        o
    };
    // The US Government account, signed in as Settings → Add account (US Government) does.
    let gov = Auth::new(options(&endpoints[1]))
        .unwrap()
        .login_interactive(LoginOptions::default())
        .await
        .expect("US Gov sign-in");
    let engine = CoreEngine::new(
        Auth::new(options(&endpoints[0])).unwrap(),
        endpoints[0].clone(),
        true,
        None,
    );
    engine.set_auth_options(options(&endpoints[0]));
    engine.sign_in().await.expect("public sign-in");
    engine.use_account(&gov.key()).await.expect("make default");
    let m = wait_model(&engine, "both accounts' roles", |m| {
        m.accounts.len() == 2 && m.accounts.iter().all(|a| !a.tenants.is_empty())
    })
    .await;
    assert_eq!(
        m.accounts[0].key,
        gov.key(),
        "the default account comes first"
    );
    assert!(
        m.accounts[1].key.starts_with("public:"),
        "{:?}",
        m.accounts[1].key
    );
    let listed = engine.accounts().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        listed[0].current && listed[0].cloud == "usgov",
        "{listed:?}"
    );
    // Removing the US Gov account keeps the public one's sections.
    engine.remove_account(&gov.key()).await.expect("remove");
    let m = wait_model(&engine, "one account left", |m| m.accounts.len() == 1).await;
    assert!(m.accounts[0].key.starts_with("public:"));
    assert!(m.roles().count() > 10);
    let listed = engine.accounts().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].current && listed[0].cloud == "public",
        "{listed:?}"
    );
}
