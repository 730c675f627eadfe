//! The tray's engine adapter (`CoreAdapter`) over the real pim-core `Session` and pim-auth
//! sign-in, against an in-process pim-sim with the demo scenario over loopback. Refresh
//! tokens go to an in-memory store (never the user's keychain).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use pim_accounts::Accounts;
use pim_auth::{Auth, AuthOptions, LoginOptions, MemoryStore};
use pim_core::config::{Cloud, Endpoints, parse_base_url};
use pim_tray::core_adapter::CoreAdapter;
use pim_tray::demo::DemoBrowser;
use pim_tray::dto::ActivationInput;
use pim_tray::engine::{ActivationOutcome, Engine};
use pim_tray::view::{Ready, RoleState, RoleView, TrayModel};

/// A demo simulator and endpoints of `cloud` pointing every service at it.
async fn sim_in(cloud: Cloud) -> (pim_sim::SimHandle, Endpoints) {
    let sim = pim_sim::Simulator::start(pim_sim::SimOptions::default())
        .await
        .expect("simulator");
    let base = parse_base_url("sim", &sim.base_url()).unwrap();
    let mut e = Endpoints::for_cloud(cloud);
    e.authority_host = base.clone();
    e.graph = base.clone();
    e.arm = base;
    (sim, e)
}

async fn demo_engine(dir: &std::path::Path) -> Arc<CoreAdapter> {
    demo_engine_and_sim(dir).await.0
}

/// [`demo_engine`], with the simulator's control API.
async fn demo_engine_and_sim(dir: &std::path::Path) -> (Arc<CoreAdapter>, pim_sim::SimControl) {
    let (sim, e) = sim_in(Cloud::Public).await;
    let control = sim.control();
    let mut o = AuthOptions::with_secret_store(
        e,
        pim_core::config::DEFAULT_CLIENT_ID.to_owned(),
        dir.to_owned(),
        Arc::new(MemoryStore::new()),
    );
    o.browser = Arc::new(DemoBrowser::new());
    (
        CoreAdapter::new(Accounts::new(o).unwrap(), true, Some(Box::new(sim))),
        control,
    )
}

/// A memory store whose deletes take 300 ms (test only).
#[derive(Debug)]
struct SlowDelete(MemoryStore);

impl pim_auth::SecretStore for SlowDelete {
    fn get(&self, user: &str) -> Result<Option<Vec<u8>>, pim_auth::StoreError> {
        self.0.get(user)
    }
    fn set(&self, user: &str, secret: &[u8]) -> Result<(), pim_auth::StoreError> {
        self.0.set(user, secret)
    }
    fn delete(&self, user: &str) -> Result<bool, pim_auth::StoreError> {
        std::thread::sleep(Duration::from_millis(300));
        self.0.delete(user)
    }
}

async fn wait_model(
    engine: &CoreAdapter,
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
            deactivatable_from: Some(_),
            end: Some(_),
            // Activated before this process: not followed.
            ready: Ready::Unknown,
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
    let form = engine.activation_form(&sec, 60).await.unwrap();
    let p = form.policy;
    assert!(p.known && p.mfa && p.ticket && p.justification);
    assert_eq!(p.max_duration_minutes, 240);
    assert_eq!(form.duration_minutes, 60);
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
    let p = engine.activation_form(&ga, 60).await.unwrap().policy;
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
    // Deleting a keychain entry takes a while (as a real keychain may), so the order of
    // "token deleted" and "account gone from the menu" shows.
    let store = Arc::new(SlowDelete(MemoryStore::new()));
    let mut sims = Vec::new();
    let mut endpoints = Vec::new();
    for cloud in [Cloud::Public, Cloud::UsGovernment] {
        let (sim, e) = sim_in(cloud).await;
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
    let engine = CoreAdapter::new(Accounts::new(options(&endpoints[0])).unwrap(), true, None);
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
    // Each account's tenant list is cached for the next start (shared with the CLI), and a
    // restarted engine reads both tenants at once from it.
    let cache = pim_auth::TenantCache::new(dir.path());
    let public_key = m.accounts[1].key.clone();
    assert_eq!(cache.load(&gov.key()).map(|t| t.len()), Some(2));
    assert_eq!(cache.load(&public_key).map(|t| t.len()), Some(2));
    // Removing the US Gov account keeps the public one's sections and cached tenants. Its
    // sections leave the model only once its refresh token is gone from the store.
    let mut rx = engine.subscribe();
    rx.borrow_and_update();
    let (watch_store, gov_user) = (store.clone(), gov.keychain_user());
    let token_when_gone = tokio::spawn(async move {
        loop {
            rx.changed().await.expect("engine alive");
            if rx.borrow_and_update().accounts.len() == 1 {
                return watch_store
                    .0
                    .users()
                    .iter()
                    .any(|u| u.starts_with(&gov_user));
            }
        }
    });
    engine.remove_account(&gov.key()).await.expect("remove");
    assert!(
        !token_when_gone.await.unwrap(),
        "the account left the menu while its refresh token was still saved"
    );
    assert_eq!(
        cache.load(&gov.key()),
        None,
        "signed out: its tenants are forgotten"
    );
    assert_eq!(cache.load(&public_key).map(|t| t.len()), Some(2));
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

/// A stand-in for `az` (test only): answers `az account get-access-token --scope S
/// [--tenant T]` with tokens the simulator issues to its user, as the Azure CLI does after
/// `az login` (home tenant when no `--tenant`).
#[cfg(unix)]
#[derive(Debug)]
struct SimAz {
    tokens: Arc<dyn pim_core::token::TokenSource>,
    home: String,
    arm_scope: String,
    calls: std::sync::Mutex<Vec<String>>,
}

#[cfg(unix)]
#[async_trait::async_trait]
impl azure_identity::Executor for SimAz {
    async fn run(
        &self,
        _program: &std::ffi::OsStr,
        args: &[&std::ffi::OsStr],
    ) -> std::io::Result<std::process::Output> {
        use std::os::unix::process::ExitStatusExt;
        let line: Vec<String> = args
            .iter()
            .flat_map(|a| {
                a.to_string_lossy()
                    .split_whitespace()
                    .map(|w| w.trim_matches(['"', '\'']).to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        self.calls.lock().unwrap().push(line.join(" "));
        let arg = |name: &str| {
            line.iter()
                .skip_while(|w| *w != name)
                .nth(1)
                .filter(|v| !v.is_empty())
                .cloned()
        };
        let scope = arg("--scope").unwrap_or_default();
        let tenant = arg("--tenant").unwrap_or_else(|| self.home.clone());
        let resource = if scope == self.arm_scope {
            pim_core::token::Resource::Arm
        } else {
            pim_core::token::Resource::Graph
        };
        let t = self
            .tokens
            .access_token(&pim_core::token::TokenRequest {
                tenant_id: tenant,
                resource,
                scope,
                claims: None,
                force_refresh: false,
            })
            .await
            .map_err(std::io::Error::other)?;
        let exp = (time::OffsetDateTime::now_utc() + time::Duration::hours(1)).unix_timestamp();
        Ok(std::process::Output {
            status: std::process::ExitStatus::from_raw(0),
            stdout: format!(
                r#"{{"accessToken":"{}","expires_on":{exp},"tokenType":"Bearer"}}"#,
                t.token.expose()
            )
            .into_bytes(),
            stderr: Vec::new(),
        })
    }
}

/// Settings' "Azure CLI sign-in": the account comes from `az` (nothing stored in the
/// keychain), lists and activates Azure resource roles with az's tokens, and when Graph
/// refuses the Azure CLI's app, the menu says which sign-in Entra roles need.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_cli_account_from_settings_lists_and_activates_azure_roles() {
    use pim_tray::engine::NewAccountCloud;
    let dir = tempfile::tempdir().unwrap();
    let (sim, e) = sim_in(Cloud::Public).await;
    let ctl = sim.control();
    // What `az login` did beforehand: the user's tokens, in az's own cache (here: memory).
    let mut az_login = AuthOptions::with_secret_store(
        e.clone(),
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46".to_owned(),
        dir.path().join("az"),
        Arc::new(MemoryStore::new()),
    );
    az_login.browser = Arc::new(DemoBrowser::new());
    let az_auth = Auth::new(az_login).unwrap();
    let az_user = az_auth
        .login_interactive(LoginOptions::default())
        .await
        .unwrap();
    let az = Arc::new(SimAz {
        tokens: az_auth.token_source(&az_user),
        home: az_user.home_tenant_id.clone(),
        arm_scope: e.arm_scope.clone(),
        calls: std::sync::Mutex::new(Vec::new()),
    });
    let store = Arc::new(MemoryStore::new());
    let mut o = AuthOptions::with_secret_store(
        e,
        pim_core::config::DEFAULT_CLIENT_ID.to_owned(),
        dir.path().join("tray"),
        store.clone(),
    );
    o.browser = Arc::new(DemoBrowser::new());
    o.az_executor = Some(az.clone());
    let engine = CoreAdapter::new(Accounts::new(o).unwrap(), false, Some(Box::new(sim)));
    // Graph refuses the Azure CLI's app, as Entra ID does.
    ctl.add_fault(pim_sim::FaultSpec {
        method: None,
        path: Some("/v1.0/".into()),
        times: 10_000,
        fault: pim_sim::Fault::Status {
            status: 403,
            retry_after: None,
            code: Some("PermissionScopeNotGranted".into()),
            message: Some(
                "Authorization failed due to missing permission scope \
                 RoleAssignmentSchedule.ReadWrite.Directory."
                    .into(),
            ),
            wrapped: false,
        },
    });

    engine.add_account(NewAccountCloud::AzureCli).await.unwrap();
    let m = wait_model(&engine, "the Azure CLI account's roles", |m| {
        m.roles().any(|r| r.title() == "Reader — rg-web")
    })
    .await;
    assert_eq!(m.accounts.len(), 1);
    assert_eq!(m.accounts[0].upn, az_user.upn);
    assert!(
        m.roles()
            .all(|r| r.kind == pim_tray::view::RoleKind::AzureResource),
        "only Azure roles through the Azure CLI: {:?}",
        m.roles().map(|r| r.title()).collect::<Vec<_>>()
    );
    let home = &m.accounts[0].tenants[0];
    assert_eq!(
        home.warnings,
        vec![pim_tray::core_adapter::AZURE_CLI_GRAPH_NOTE.to_owned()]
    );
    let list = engine.accounts().unwrap();
    assert!(list[0].azure_cli && list[0].current, "{list:?}");
    assert!(
        store.is_empty(),
        "nothing of an Azure CLI account goes to the keychain"
    );
    assert!(
        az.calls
            .lock()
            .unwrap()
            .iter()
            .all(|c| c.contains("account get-access-token")),
        "{:?}",
        az.calls.lock().unwrap()
    );

    // A write with az's token: the role becomes active.
    let key = role(&m, "Reader — rg-web").key.clone();
    let outcome = engine
        .activate(ActivationInput {
            key: key.clone(),
            justification: "Deploy fix CHG-881".into(),
            ticket: None,
            duration_minutes: 60,
            start: None,
        })
        .await
        .unwrap();
    assert_eq!(outcome, ActivationOutcome::Active);
    wait_model(&engine, "Reader active", |m| {
        m.roles()
            .any(|r| r.key == key && matches!(r.state, RoleState::Active { .. }))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activation_made_here_shows_applying_then_ready_with_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, control) = demo_engine_and_sim(dir.path()).await;
    // Groups apply one second after activation here (the demo says 10 s).
    control
        .set_propagation_delay(&serde_json::json!({"group": 1}))
        .unwrap();
    engine.set_ready_options(pim_core::ReadyOptions {
        first: Duration::from_millis(200),
        max: Duration::from_millis(500),
        timeout: Duration::from_secs(15),
    });
    engine.sign_in().await.expect("demo sign-in");
    let m = wait_model(&engine, "the demo roles", |m| m.roles().count() > 10).await;
    let sql = role(&m, "SQL Prod Admins (member)").key.clone();
    let seen = pim_tray::reminders::last_change(&m);
    let outcome = engine
        .activate(ActivationInput {
            key: sql.clone(),
            justification: "Restore the reporting database".into(),
            ticket: None,
            duration_minutes: 60,
            start: None,
        })
        .await
        .unwrap();
    assert_eq!(outcome, ActivationOutcome::Active);
    let m = wait_model(&engine, "SQL Prod Admins ready", |m| {
        m.role(&sql).is_some_and(|r| {
            matches!(
                r.state,
                RoleState::Active {
                    ready: Ready::Ready { after: Some(_) },
                    ..
                }
            )
        })
    })
    .await;
    // The menu said so, and the notification says when.
    let notices = pim_tray::reminders::notices(&m, seen);
    let ready: Vec<_> = notices
        .iter()
        .filter_map(|n| match n {
            pim_tray::reminders::Notice::Ready { title, after } => Some((title.clone(), *after)),
            _ => None,
        })
        .collect();
    assert_eq!(ready.len(), 1, "{notices:?}");
    assert_eq!(ready[0].0, "SQL Prod Admins (member)");
    assert!(ready[0].1.is_some_and(|d| d >= time::Duration::ZERO));
    let (title, _) = pim_tray::notify::notice_text(&notices[notices.len() - 1]);
    assert!(
        title.starts_with("SQL Prod Admins (member) is ready (after "),
        "{title}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_my_requests_of_every_kind_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let engine = demo_engine(dir.path()).await;
    let since = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    let err = engine.history(since).await.expect_err("signed out");
    assert!(
        matches!(err, pim_core::Error::SignInRequired { .. }),
        "{err:?}"
    );
    engine.sign_in().await.expect("demo sign-in");
    wait_model(&engine, "the demo roles", |m| m.roles().count() > 10).await;
    let h = engine.history(since).await.expect("history");
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    let kinds: std::collections::BTreeSet<&str> =
        h.entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["azureResource", "entraRole", "group"]
            .into_iter()
            .collect()
    );
    assert!(
        h.entries
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    assert!(h.entries.iter().all(|e| e.created_at >= since));
    // A shorter period lists fewer.
    let week = engine
        .history(time::OffsetDateTime::now_utc() - time::Duration::days(7))
        .await
        .unwrap();
    assert!(week.entries.len() < h.entries.len());
}

/// The activation of `key` (any of its rows) with its end, if it is active.
fn active_end(m: &TrayModel, key: &str) -> Option<time::OffsetDateTime> {
    m.roles()
        .filter(|r| r.key == key)
        .find_map(|r| r.active_end())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_activation_is_activated_again_as_before_or_sends_the_user_to_the_form() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, control) = demo_engine_and_sim(dir.path()).await;
    engine.sign_in().await.expect("demo sign-in");
    let m = wait_model(&engine, "the demo roles", |m| m.roles().count() > 10).await;
    let gr = role(&m, "Global Reader").key.clone();
    let outcome = engine
        .activate(ActivationInput {
            key: gr.clone(),
            justification: "Investigating sign-ins".into(),
            ticket: None,
            duration_minutes: 45,
            start: None,
        })
        .await
        .unwrap();
    assert_eq!(outcome, ActivationOutcome::Active);
    // Active: nothing to activate again, and not a reason for the form.
    let err = engine.activate_again(&gr).await.unwrap_err();
    assert!(!pim_core::again_needs_form(&err), "{err}");

    // Past PIM's five minutes (the service's clock), deactivated: the core says it ended.
    control.advance(6 * 60);
    engine.refresh().await.unwrap();
    engine.deactivate(&gr).await.unwrap();
    let m = wait_model(&engine, "Global Reader ended", |m| {
        active_end(m, &gr).is_none()
            && m.accounts[0]
                .changes
                .iter()
                .any(|c| c.kind == pim_core::ChangeKind::Ended && c.key == gr && c.at.is_some())
    })
    .await;
    // The menu offers it again, and the "ended" notice has the button.
    let now = m.service_now(time::OffsetDateTime::now_utc());
    let menu = pim_tray::menu::build(&m, now);
    let outline = pim_tray::tray::outline(&menu);
    assert!(
        outline.contains(
            "Recently ended | Global Reader · ended just now | Global Reader · ended just now > Activate again"
        ),
        "{outline}"
    );
    let ended = pim_tray::reminders::notices(&m, 0)
        .into_iter()
        .rfind(|n| matches!(n, pim_tray::reminders::Notice::Ended { key, .. } if *key == gr))
        .expect("an ended notice");
    assert_eq!(
        pim_tray::notify::notice_actions(&ended),
        Some((gr.as_str(), pim_tray::notify::ENDED_ACTIONS))
    );

    // Activated again for the 45 minutes it was asked for before (the tray knows the
    // service's clock to the second).
    let outcome = engine.activate_again(&gr).await.unwrap();
    assert_eq!(outcome, ActivationOutcome::Active);
    let m = wait_model(&engine, "Global Reader active again", |m| {
        active_end(m, &gr).is_some()
    })
    .await;
    let left = active_end(&m, &gr).unwrap() - m.service_now(time::OffsetDateTime::now_utc());
    assert!(
        left > time::Duration::minutes(43) && left < time::Duration::minutes(46),
        "{left}"
    );
    let outline = pim_tray::tray::outline(&pim_tray::menu::build(&m, now));
    assert!(!outline.contains("Recently ended"), "{outline}");

    // Never requested before: the form, not an error.
    let reader = role(&m, "Reader — rg-web").key.clone();
    let err = engine.activate_again(&reader).await.unwrap_err();
    assert!(pim_core::again_needs_form(&err), "{err}");
    assert!(active_end(&engine.subscribe().borrow(), &reader).is_none());
}

/// A bundle of the roles with these titles in `m`, as `bundles.json` keeps them (their keys'
/// parts), plus one role no account has.
fn bundle_of(m: &TrayModel, titles: &[&str]) -> pim_accounts::bundles::Bundle {
    let mut roles: Vec<serde_json::Value> = titles
        .iter()
        .map(|t| {
            let r = role(m, t);
            let parts: Vec<&str> = r.key.split('|').collect();
            let scope = if parts[3].is_empty() { "/" } else { parts[3] };
            let mut v = serde_json::json!({
                "tenantId": parts[1], "kind": parts[0], "roleDefinitionId": parts[2],
                "scopeId": scope, "name": r.name, "scopeName": "", "tenantName": "Contoso"
            });
            if !parts[4].is_empty() {
                v["accessId"] = parts[4].into();
            }
            v
        })
        .collect();
    roles.push(serde_json::json!({
        "tenantId": "00000000-0000-0000-0000-000000000009", "kind": "entraRole",
        "roleDefinitionId": "gone", "scopeId": "/", "name": "Retired Role", "scopeName": ""
    }));
    serde_json::from_value(serde_json::json!({
        "name": "Morning", "roles": roles, "reason": "Daily operations", "duration": "PT2H"
    }))
    .expect("bundle")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_activates_its_roles_together_and_reports_each() {
    use pim_tray::bundle::BundleRoleOutcome;
    let dir = tempfile::tempdir().unwrap();
    let engine = demo_engine(dir.path()).await;
    engine.sign_in().await.expect("demo sign-in");
    let m = wait_model(&engine, "the demo roles", |m| m.roles().count() > 10).await;
    let bundle = bundle_of(&m, &["Global Reader", "Reader — rg-web"]);

    let form = engine.bundle_form(&bundle, 60).await.expect("form");
    assert_eq!(form.reason, "Daily operations");
    assert_eq!(form.roles.len(), 3);
    assert!(form.roles[0].policy.is_some() && form.roles[1].policy.is_some());
    assert_eq!(form.roles[2].policy, None, "the retired role is not found");
    assert!(form.combined.justification);
    assert_eq!(
        form.duration_minutes,
        120.min(form.combined.max_duration_minutes)
    );

    let input = ActivationInput {
        key: String::new(),
        justification: "Daily operations".into(),
        ticket: None,
        duration_minutes: form.duration_minutes,
        start: None,
    };
    let results = engine
        .activate_bundle(&bundle, input.clone(), None)
        .await
        .expect("activated");
    let outcomes: Vec<_> = results.iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        [
            BundleRoleOutcome::Active,
            BundleRoleOutcome::Active,
            BundleRoleOutcome::Failed("no longer eligible".into())
        ],
        "{results:#?}"
    );
    wait_model(&engine, "both roles active", |m| {
        ["Global Reader", "Reader — rg-web"].iter().all(|t| {
            m.roles()
                .any(|r| r.title() == *t && matches!(r.state, RoleState::Active { .. }))
        })
    })
    .await;
    // Retrying only the failed one sends nothing else.
    let only = vec![results[2].key.clone()];
    let again = engine
        .activate_bundle(&bundle, input, Some(only))
        .await
        .expect("retried");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].title, "Retired Role");
}

/// The approver's inbox of the demo: read into the model across the three kinds, one
/// request greyed (its stage for me has not started), decided from the engine as the
/// decision window does; the simulator then has the requester's assignment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_inbox_is_read_into_the_model_and_decided() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, control) = demo_engine_and_sim(dir.path()).await;
    // Signed out: nothing to read, nothing shown.
    engine.read_approvals().await.expect("nobody signed in");
    assert!(engine.subscribe().borrow().approvals.is_empty());
    engine.sign_in().await.expect("demo sign-in");
    wait_model(&engine, "the demo roles", |m| m.roles().count() > 10).await;
    engine.read_approvals().await.expect("inbox");
    let m = engine.subscribe().borrow().clone();
    let titles: Vec<String> = m.approvals.iter().map(|a| a.title()).collect();
    for want in [
        "Alex Wilber — Global Administrator",
        "Lee Gu — Contributor — Prod",
        "Diego Siciliani — SQL Prod Admins (member)",
    ] {
        assert!(titles.iter().any(|t| t == want), "{want} in {titles:?}");
    }
    let isaiah = m
        .approvals
        .iter()
        .find(|a| a.item.requester.name == "Isaiah Langer")
        .expect("Isaiah Langer's two-stage request");
    assert!(!isaiah.item.actionable, "stage 1 is Megan Bowen's");
    assert_eq!(m.approvals_waiting(), m.approvals.len() - 1);
    assert!(
        m.approvals
            .windows(2)
            .all(|w| w[0].item.created_at <= w[1].item.created_at),
        "oldest first: {titles:?}"
    );
    let id = |who: &str| {
        m.approvals
            .iter()
            .find(|a| a.item.requester.name == who)
            .map(|a| a.id().to_owned())
            .unwrap()
    };
    let (alex, lee, diego) = (id("Alex Wilber"), id("Lee Gu"), id("Diego Siciliani"));

    // The service refuses for a missing permission: said with what to grant; nothing
    // changes, the request still waits.
    control.add_fault(pim_sim::FaultSpec {
        method: Some("PATCH".into()),
        path: Some("assignmentApprovals".into()),
        times: 1,
        fault: pim_sim::Fault::Status {
            status: 403,
            retry_after: None,
            code: Some("PermissionScopeNotGranted".into()),
            message: None,
            wrapped: false,
        },
    });
    let err = engine
        .decide(&diego, pim_core::Decision::Approve, None)
        .await
        .expect_err("no permission");
    assert!(
        err.to_string().contains("PrivilegedAssignmentSchedule"),
        "names the permission: {err}"
    );
    engine.read_approvals().await.expect("inbox again");
    assert!(engine.subscribe().borrow().approval(&diego).is_some());
    // A denial without a reason is refused before anything is sent.
    let err = engine
        .decide(&lee, pim_core::Decision::Deny, Some("  ".into()))
        .await
        .expect_err("deny without a reason");
    assert!(matches!(err, pim_core::Error::InvalidInput(_)), "{err:?}");
    engine
        .decide(
            &alex,
            pim_core::Decision::Approve,
            Some("INC-2217 checked".into()),
        )
        .await
        .expect("approve");
    engine
        .decide(
            &lee,
            pim_core::Decision::Deny,
            Some("Use the change window".into()),
        )
        .await
        .expect("deny");
    // Decided: out of the model at once, and the service agrees on a new read.
    assert!(engine.subscribe().borrow().approval(&alex).is_none());
    engine.read_approvals().await.expect("inbox again");
    let m = engine.subscribe().borrow().clone();
    assert!(m.approval(&alex).is_none() && m.approval(&lee).is_none());
    assert!(m.approval(&diego).is_some());
    let incoming = control.incoming();
    let by = |who: &str| {
        incoming
            .iter()
            .find(|q| q.requester.display_name == who)
            .unwrap()
    };
    assert!(
        by("Alex Wilber")
            .assignment
            .as_ref()
            .is_some_and(|a| a.active),
        "approving activates the requester's assignment: {:?}",
        by("Alex Wilber")
    );
    assert_eq!(by("Lee Gu").status, "Denied");
    assert_eq!(
        by("Lee Gu").stages[0].justification.as_deref(),
        Some("Use the change window")
    );

    // Decided elsewhere meanwhile: said plainly, nothing sent twice; then gone from the model.
    control
        .approve(
            &by("Diego Siciliani").id,
            Some("decided by another approver"),
        )
        .expect("decided elsewhere");
    let err = engine
        .decide(&diego, pim_core::Decision::Approve, None)
        .await
        .expect_err("already decided");
    assert!(
        err.to_string().contains("already"),
        "says it was decided: {err}"
    );
    engine.read_approvals().await.expect("inbox again");
    assert!(engine.subscribe().borrow().approval(&diego).is_none());
    // Gone from the inbox: the engine says so without asking the service.
    let err = engine
        .decide(&alex, pim_core::Decision::Approve, None)
        .await
        .expect_err("no longer in the inbox");
    assert!(
        matches!(err, pim_core::Error::InvalidState { .. }),
        "{err:?}"
    );

    // A new request arrives: the next read has it, waiting for me.
    let new: pim_sim::NewIncoming = serde_json::from_value(serde_json::json!({
        "kind": "entraRole", "role": "Exchange Administrator",
        "requester": "alexw@contoso.onmicrosoft.com",
        "justification": "Mailbox migration", "ticketNumber": "CHG-9", "ticketSystem": "ServiceNow"
    }))
    .unwrap();
    control.add_incoming(&new).expect("new incoming request");
    engine.read_approvals().await.expect("inbox again");
    let m = engine.subscribe().borrow().clone();
    let exch = m
        .approvals
        .iter()
        .find(|a| a.item.name == "Exchange Administrator")
        .expect("the new request");
    assert!(exch.item.actionable);
    assert_eq!(exch.item.ticket.as_ref().unwrap().number, "CHG-9");
    // Signing out empties the inbox.
    engine.sign_out().await.unwrap();
    assert!(engine.subscribe().borrow().approvals.is_empty());
}
