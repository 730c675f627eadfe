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
    // Header plus two parts.
    assert!(store.get(&format!("{user}#0")).unwrap().is_some());
    assert!(store.get(&format!("{user}#1")).unwrap().is_some());
    assert!(store.get(&format!("{user}#2")).unwrap().is_none());
    assert_eq!(
        read_chunked(&store, &user).unwrap().unwrap(),
        token.as_bytes()
    );
    // A shorter token replaces it and leaves no stale parts.
    write_chunked(&store, &user, b"0.short-token").unwrap();
    assert!(store.get(&format!("{user}#0")).unwrap().is_none());
    assert_eq!(
        read_chunked(&store, &user).unwrap().unwrap(),
        b"0.short-token"
    );
    write_chunked(&store, &user, token.as_bytes()).unwrap();
    assert!(delete_chunked(&store, &user).unwrap());
    assert_eq!(read_chunked(&store, &user).unwrap(), None);
    assert!(store.get(&format!("{user}#0")).unwrap().is_none());
    assert!(store.get(&format!("{user}#1")).unwrap().is_none());
}
