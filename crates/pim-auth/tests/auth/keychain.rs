//! The real OS keychain (Secret Service on Linux). Ignored by default: CI runs it inside a
//! private `dbus-run-session` with an unlocked throwaway gnome-keyring.

use pim_auth::SecretStore;
use pim_auth::store::{KeyringStore, delete_chunked, read_chunked, write_chunked};

#[test]
#[ignore = "needs a Secret Service (run inside dbus-run-session with gnome-keyring)"]
fn secret_service_roundtrip() {
    let store = KeyringStore::platform_default().expect("the platform keychain is available");
    let user = format!("rt:test:pim-auth-it:{}.roundtrip", std::process::id());
    let token: String = (0..4096)
        .map(|i| {
            char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."[i % 65])
        })
        .collect();
    write_chunked(&store, &user, token.as_bytes()).unwrap();
    // Header plus two parts of one generation.
    let header: serde_json::Value =
        serde_json::from_slice(&store.get(&user).unwrap().unwrap()).unwrap();
    let part = |i: usize| format!("{user}#{}.{i}", header["g"].as_str().unwrap());
    assert!(store.get(&part(0)).unwrap().is_some());
    assert!(store.get(&part(1)).unwrap().is_some());
    assert!(store.get(&part(2)).unwrap().is_none());
    assert_eq!(
        read_chunked(&store, &user).unwrap().unwrap(),
        token.as_bytes()
    );
    // A shorter token replaces it and leaves no stale parts.
    write_chunked(&store, &user, b"0.short-token").unwrap();
    assert!(store.get(&part(0)).unwrap().is_none());
    assert_eq!(
        read_chunked(&store, &user).unwrap().unwrap(),
        b"0.short-token"
    );
    write_chunked(&store, &user, token.as_bytes()).unwrap();
    assert!(delete_chunked(&store, &user).unwrap());
    assert_eq!(read_chunked(&store, &user).unwrap(), None);
    assert_eq!(store.get(&user).unwrap(), None);
}

/// The whole sign-in with the real Secret Service: the refresh token lands in the keychain,
/// rotates there, survives a restart, and sign-out deletes it.
#[tokio::test]
#[ignore = "needs a Secret Service (run inside dbus-run-session with gnome-keyring)"]
async fn secret_service_sign_in() {
    use std::sync::Arc;

    use pim_auth::{Auth, LoginOptions};
    use pim_core::token::Resource;

    let store = KeyringStore::platform_default().expect("the platform keychain is available");
    // A fresh client id keeps this run's entries apart from any other.
    let client_id = uuid::Uuid::new_v4().to_string();
    let s = store.clone();
    let cid = client_id.clone();
    let h = crate::harness::start_with(move |o| {
        o.secret_store = Arc::new(s);
        o.client_id = cid;
    })
    .await;
    let account = h
        .auth
        .login_interactive(LoginOptions::default())
        .await
        .unwrap();
    let user = account.keychain_user();
    assert!(user.starts_with(&format!("rt:public:{client_id}:")));
    let first = read_chunked(&store, &user).unwrap().unwrap();
    let mut req = h.request(&account.home_tenant_id, Resource::Arm);
    req.force_refresh = true;
    h.auth
        .token_source(&account)
        .access_token(&req)
        .await
        .unwrap();
    h.auth.flush().await;
    let second = read_chunked(&store, &user).unwrap().unwrap();
    assert_ne!(first, second);

    let mut options = pim_auth::AuthOptions::with_secret_store(
        h.endpoints.clone(),
        client_id.clone(),
        h.dir.path().join("config"),
        Arc::new(store.clone()),
    );
    options.browser = Arc::new(h.browser.clone());
    let auth2 = Auth::new(options).unwrap();
    let (_, ts) = auth2.default_token_source().unwrap();
    ts.access_token(&req).await.unwrap();
    assert_eq!(auth2.keychain_warning(), None);

    assert!(auth2.logout(&account).await.unwrap());
    assert_eq!(read_chunked(&store, &user).unwrap(), None);
}
