//! The account layer against an in-process simulator (demo scenario) over loopback, with
//! refresh tokens in memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pim_auth::{AuthOptions, LoginOptions, MemoryStore};
use pim_core::config::{Cloud, Endpoints, MapEnv, parse_base_url};
use pim_core::token::Resource;

use super::*;

/// GETs the authorize URL without following the redirect, then delivers the code to the
/// loopback listener (the simulator signs its user in at once).
#[derive(Debug)]
struct FollowBrowser;

impl pim_auth::BrowserOpener for FollowBrowser {
    fn open(&self, url: &str) -> std::io::Result<()> {
        let url = url.to_owned();
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let resp = http.get(&url).send().await.unwrap();
            let location = resp.headers()["location"].to_str().unwrap().to_owned();
            http.get(&location).send().await.unwrap();
        });
        Ok(())
    }
}

async fn sim(cloud: Cloud) -> (pim_sim::SimHandle, Endpoints) {
    let sim = pim_sim::Simulator::start(pim_sim::SimOptions::default())
        .await
        .unwrap();
    let base = parse_base_url("sim", &sim.base_url()).unwrap();
    let mut e = Endpoints::for_cloud(cloud);
    e.authority_host = base.clone();
    e.graph = base.clone();
    e.arm = base;
    (sim, e)
}

fn options(e: &Endpoints, dir: &Path, store: &Arc<MemoryStore>) -> AuthOptions {
    let mut o = AuthOptions::with_secret_store(
        e.clone(),
        pim_core::config::DEFAULT_CLIENT_ID.to_owned(),
        dir.to_owned(),
        store.clone(),
    );
    o.browser = Arc::new(FollowBrowser);
    o
}

#[derive(Debug, Default)]
struct CountingStepUp(AtomicUsize);

#[async_trait::async_trait]
impl StepUpHook for CountingStepUp {
    async fn step_up(&self, _tenant: &str, _resource: Resource, _claims: &str) -> Result<()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opened_account_reads_its_roles_and_caches_its_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let (_sim, e) = sim(Cloud::Public).await;
    let made = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = made.clone();
    let accounts = Accounts::new(options(&e, dir.path(), &store))
        .unwrap()
        .with_step_up(Arc::new(move |a: &Account, _auth: &Auth| {
            seen.lock().unwrap().push(a.upn.clone());
            Arc::new(CountingStepUp::default()) as Arc<dyn StepUpHook>
        }));
    let account = accounts
        .auth()
        .login_interactive(LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(accounts.saved().unwrap(), vec![account.clone()]);
    let cache = accounts.auth().tenant_cache();
    assert_eq!(cache.load(&account.key()), None);

    let open = accounts.open(account.clone(), Tenants::Shown).unwrap();
    // A browser account's session gets the face's step-up hook.
    assert_eq!(*made.lock().unwrap(), vec![account.upn.clone()]);
    let snap = open.refresh().await.unwrap();
    assert!(snap.roles().count() > 3, "{snap:?}");
    assert!(!graph_unreadable(&snap));
    let cached = cache.load(&account.key()).expect("tenant list saved");
    assert_eq!(cached, open.session().tenants().await.unwrap());

    // A second process starts from the cached list.
    let again = accounts.open(account, Tenants::Shown).unwrap();
    assert_eq!(again.session().tenant_list(), Some(cached));
    accounts.flush().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hiding_a_tenant_is_saved_and_applied_and_the_last_one_stays_shown() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let (_sim, e) = sim(Cloud::Public).await;
    let accounts = Accounts::new(options(&e, dir.path(), &store)).unwrap();
    let account = accounts
        .auth()
        .login_interactive(LoginOptions::default())
        .await
        .unwrap();
    let mut open = accounts.open(account.clone(), Tenants::Shown).unwrap();
    open.refresh().await.unwrap();
    let all = open.session().tenants().await.unwrap();
    assert!(all.len() >= 2, "the demo has several tenants: {all:?}");
    let other = all.iter().find(|t| !t.is_home).unwrap().id.clone();

    open.set_tenants_shown(std::slice::from_ref(&other), &[])
        .await
        .unwrap();
    assert_eq!(
        open.account().hidden_tenants,
        vec![other.to_ascii_lowercase()]
    );
    assert_eq!(
        accounts.account(&account.key()).unwrap().hidden_tenants,
        vec![other.to_ascii_lowercase()],
        "saved with the account"
    );
    let snap = open.refresh().await.unwrap();
    assert!(snap.tenants.iter().all(|t| t.tenant.id != other));
    assert!(snap.hidden.iter().any(|t| t.id == other));

    // `Tenants::All` reads hidden tenants too.
    let all_open = accounts
        .open(accounts.account(&account.key()).unwrap(), Tenants::All)
        .unwrap();
    let snap = all_open.refresh().await.unwrap();
    assert!(snap.tenants.iter().any(|t| t.tenant.id == other));

    // A tenant the account does not reach, and hiding every tenant, are refused.
    let err = open
        .set_tenants_shown(&["00000000-0000-0000-0000-00000000dead".into()], &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not reach"), "{err}");
    let ids: Vec<String> = all.iter().map(|t| t.id.clone()).collect();
    let err = open.set_tenants_shown(&ids, &[]).await.unwrap_err();
    assert!(err.to_string().contains("at least one tenant"), "{err}");
    assert_eq!(
        open.account().hidden_tenants,
        vec![other.to_ascii_lowercase()]
    );

    open.set_tenants_shown(&[], std::slice::from_ref(&other))
        .await
        .unwrap();
    assert!(open.account().hidden_tenants.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_account_uses_its_own_cloud_and_the_default_comes_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let (_public, e_pub) = sim(Cloud::Public).await;
    let (gov_sim, e_gov) = sim(Cloud::UsGovernment).await;
    let accounts = Accounts::new(options(&e_pub, dir.path(), &store)).unwrap();
    let public = accounts
        .auth()
        .login_interactive(LoginOptions::default())
        .await
        .unwrap();
    let gov_auth = accounts
        .auth_with(e_gov.clone(), pim_core::config::DEFAULT_CLIENT_ID)
        .unwrap();
    let gov = gov_auth
        .login_interactive(LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(gov.cloud, Cloud::UsGovernment);
    // The last sign-in is the default, and comes first.
    let keys: Vec<String> = accounts.saved().unwrap().iter().map(Account::key).collect();
    assert_eq!(keys, vec![gov.key(), public.key()]);
    accounts.auth().set_default_account(&public).unwrap();
    let keys: Vec<String> = accounts.saved().unwrap().iter().map(Account::key).collect();
    assert_eq!(keys, vec![public.key(), gov.key()]);

    // The US Government account's session reads the US Government simulator only.
    let before = gov_sim.control().requests().len();
    let open = accounts.open(gov.clone(), Tenants::Shown).unwrap();
    open.refresh().await.unwrap();
    assert!(gov_sim.control().requests().len() > before);

    let mut set: OpenSet<OpenAccount> = OpenSet::new();
    set.insert(accounts.open(public.clone(), Tenants::Shown).unwrap(), true);
    set.insert(open.clone(), false);
    assert_eq!(set.keys(), vec![public.key(), gov.key()]);
    // Reopening as the default moves it first, once.
    set.insert(open, true);
    assert_eq!(set.keys(), vec![gov.key(), public.key()]);
    for s in set.sessions() {
        s.refresh().await.unwrap();
    }
    let role = set
        .first()
        .unwrap()
        .session()
        .snapshot()
        .roles()
        .next()
        .unwrap()
        .key();
    let (session, found) = set.role(&role).unwrap();
    assert_eq!(found.key(), role);
    assert!(session.snapshot().by_key(&role).is_some());
    assert!(set.remove(&gov.key()).is_some());
    assert_eq!(set.keys(), vec![public.key()]);
    accounts.flush().await;
}

#[test]
fn endpoint_precedence_is_cloud_then_variables_then_settings() {
    let env = |pairs: &[(&str, &str)]| {
        MapEnv(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    };
    let none = EndpointSettings::default();
    let gov = EndpointSettings {
        cloud: Some(Cloud::UsGovernment),
        ..EndpointSettings::default()
    };
    assert_eq!(
        endpoints(&env(&[]), &none).unwrap(),
        Endpoints::for_cloud(Cloud::Public)
    );
    assert_eq!(
        endpoints(&env(&[]), &gov).unwrap(),
        Endpoints::for_cloud(Cloud::UsGovernment)
    );
    // PIM_CLOUD beats the settings' cloud.
    assert_eq!(
        endpoints(&env(&[("PIM_CLOUD", "china")]), &gov).unwrap(),
        Endpoints::for_cloud(Cloud::China)
    );
    // Variables override the settings' cloud's hosts; the settings' URLs override both.
    let e = endpoints(
        &env(&[("PIM_GRAPH_ENDPOINT", "http://127.0.0.1:9/")]),
        &EndpointSettings {
            arm: Some("http://127.0.0.1:8/".into()),
            graph: None,
            ..gov.clone()
        },
    )
    .unwrap();
    assert_eq!(e.cloud, Cloud::UsGovernment);
    assert_eq!(e.graph.as_str(), "http://127.0.0.1:9/");
    assert_eq!(e.arm.as_str(), "http://127.0.0.1:8/");
    assert_eq!(
        e.authority_host,
        Endpoints::for_cloud(Cloud::UsGovernment).authority_host
    );
    let e = endpoints(
        &env(&[("PIM_GRAPH_ENDPOINT", "http://127.0.0.1:9/")]),
        &EndpointSettings {
            graph: Some("http://127.0.0.1:7/".into()),
            ..none.clone()
        },
    )
    .unwrap();
    assert_eq!(e.graph.as_str(), "http://127.0.0.1:7/");
    // An explicit cloud beats PIM_CLOUD; the variables still apply.
    let e = endpoints_in(
        Cloud::UsGovernment,
        &env(&[
            ("PIM_CLOUD", "china"),
            ("PIM_ARM_ENDPOINT", "http://127.0.0.1:8/"),
        ]),
    )
    .unwrap();
    assert_eq!(e.cloud, Cloud::UsGovernment);
    assert_eq!(e.arm.as_str(), "http://127.0.0.1:8/");
    // A bad URL in the settings is an error naming it.
    let err = endpoints(
        &env(&[]),
        &EndpointSettings {
            arm: Some("not a url".into()),
            ..none
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("ARM endpoint"), "{err}");
}
