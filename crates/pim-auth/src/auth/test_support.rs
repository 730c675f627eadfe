//! Test helpers shared by the `auth` submodules' tests.

use std::sync::{Arc, Mutex};

use pim_core::config::{Cloud, Endpoints};
use pim_core::sync::lock;
use pim_core::token::{Resource, Secret, TokenRequest};

use super::{Auth, AuthOptions};
use crate::accounts::{Account, CredentialKind};
use crate::bound::{BoundEndpoints, StoredToken};
use crate::browser::BrowserOpener;
use crate::store::{MemoryStore, SecretStore, write_chunked};

#[derive(Debug, Default)]
struct NoBrowser(Mutex<usize>);
impl BrowserOpener for NoBrowser {
    fn open(&self, _url: &str) -> std::io::Result<()> {
        *lock(&self.0) += 1;
        Err(std::io::Error::other("no browser here"))
    }
}

pub(super) fn options(dir: &std::path::Path, store: Arc<dyn SecretStore>) -> AuthOptions {
    let mut e = Endpoints::for_cloud(Cloud::Public);
    // Nothing listens there: these tests must not reach the network.
    e.authority_host = url::Url::parse("http://127.0.0.1:9").unwrap();
    let mut o = AuthOptions::with_secret_store(e, "cid".into(), dir.join("cfg"), store);
    o.browser = Arc::new(NoBrowser::default());
    o
}

pub(super) fn account(client_id: &str) -> Account {
    Account {
        upn: "a@x".into(),
        name: "A".into(),
        oid: "o".into(),
        home_tenant_id: "t".into(),
        cloud: Cloud::Public,
        client_id: client_id.into(),
        authority_host: "http://127.0.0.1:9".into(),
        kind: CredentialKind::Browser,
        graph_endpoint: None,
        arm_endpoint: None,
        hidden_tenants: Vec::new(),
    }
}

pub(super) fn req() -> TokenRequest {
    TokenRequest {
        tenant_id: "t".into(),
        resource: Resource::Graph,
        scope: "https://graph.microsoft.com/.default".into(),
        claims: None,
        force_refresh: false,
    }
}

/// Options and an account whose authority is the test server at `base`.
pub(super) fn fake_authority(
    dir: &std::path::Path,
    base: &str,
    store: MemoryStore,
) -> (Auth, Account) {
    let mut o = options(dir, Arc::new(store.clone()));
    o.endpoints.authority_host = url::Url::parse(base).unwrap();
    let mut a = account("cid");
    a.authority_host = base.to_owned();
    save_bound(&store, &a, &o.endpoints);
    (Auth::new(o).unwrap(), a)
}

/// Saves refresh token `0.rt` for `a`, bound to `e`.
pub(super) fn save_bound(store: &dyn SecretStore, a: &Account, e: &Endpoints) {
    let t = StoredToken::new(Secret::new("0.rt".to_owned()), BoundEndpoints::of(e));
    write_chunked(store, &a.keychain_user(), &t.encode()).unwrap();
}
