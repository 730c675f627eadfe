//! The stored refresh token: the keychain (or memory for the session when it fails), the
//! cross-process lock file that orders changes to it, and the check that a token is sent
//! only to the endpoints it was issued for (see [`crate::bound`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pim_core::sync::lock;
use pim_core::token::Secret;
use pim_core::{Error, Result};

use super::Inner;
use super::options::keychain_warning_text;
use crate::accounts::Account;
use crate::bound::{BoundEndpoints, StoredToken};
use crate::store::{SecretStore, StoreError, delete_chunked, read_chunked, write_chunked};

/// Refresh tokens: keychain first, an in-memory copy for this process, memory-only with a
/// warning when the keychain fails. Never a file.
#[derive(Debug)]
pub(super) struct Vault {
    store: Arc<dyn SecretStore>,
    session: Mutex<HashMap<String, StoredToken>>,
    warning: Mutex<Option<String>>,
    /// Recent keychain reads and writes per user: concurrent refreshes of one user share one
    /// read; other users never wait for it (a keychain prompt can take minutes).
    recent: Mutex<HashMap<String, Arc<RecentSlot>>>,
    /// The refresh token this process last wrote per keychain user (see
    /// [`Vault::save_if_current`]).
    written: Mutex<HashMap<String, Secret>>,
    /// The config folder: its [`LOCK_FILE`] serialises the keychain writes and deletes of
    /// every process using it (the tray and `pim`).
    lock_dir: PathBuf,
}

/// The lock file (empty) in the config folder that serialises keychain changes across
/// processes.
pub const LOCK_FILE: &str = "keychain.lock";

/// Runs `f` holding the exclusive lock on `dir`/[`LOCK_FILE`] (blocking until other
/// processes release it; [`crate::filelock::acquire`]). When the file cannot be opened or locked (a read-only folder), `f`
/// runs without it, which only loses the ordering against other processes.
fn with_file_lock<T>(
    dir: &std::path::Path,
    f: impl FnOnce() -> std::result::Result<T, StoreError>,
) -> std::result::Result<T, StoreError> {
    let file = crate::accounts::create_private_dir(dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            crate::filelock::acquire(&dir.join(LOCK_FILE), None).map_err(|e| e.to_string())
        });
    if let Err(e) = &file {
        tracing::warn!(error = %e, "cannot lock {LOCK_FILE}; changing the keychain without it");
    }
    let out = f();
    // Closing the file releases the lock.
    drop(file);
    out
}

/// One user's last keychain read or write, and the lock its next read holds.
type RecentSlot = tokio::sync::Mutex<Option<(std::time::Instant, StoredToken)>>;

/// How long a keychain read is reused by other refreshes of this process. Short: another
/// process may rotate the token (the old one stays valid, and a rejected token is re-read).
const KEYCHAIN_REUSE: Duration = Duration::from_secs(2);

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, StoreError> + Send + 'static,
) -> std::result::Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Other(format!("keychain task failed: {e}"))))
}

impl Vault {
    pub(super) fn new(
        store: Arc<dyn SecretStore>,
        warning: Option<String>,
        lock_dir: PathBuf,
    ) -> Vault {
        Vault {
            store,
            session: Mutex::new(HashMap::new()),
            warning: Mutex::new(warning),
            recent: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
            lock_dir,
        }
    }

    /// Like [`Vault::load`], but concurrent callers share one keychain read, and a read or
    /// write of the last [`KEYCHAIN_REUSE`] is reused.
    pub(super) async fn load_shared(&self, user: &str) -> Result<Option<StoredToken>> {
        if let Some(s) = lock(&self.session).get(user) {
            return Ok(Some(s.clone()));
        }
        let slot = self.recent(user);
        let mut recent = slot.lock().await;
        if let Some((at, s)) = recent.as_ref()
            && at.elapsed() < KEYCHAIN_REUSE
        {
            return Ok(Some(s.clone()));
        }
        let loaded = self.load(user).await?;
        *recent = loaded
            .as_ref()
            .map(|s| (std::time::Instant::now(), s.clone()));
        Ok(loaded)
    }

    fn recent(&self, user: &str) -> Arc<RecentSlot> {
        lock(&self.recent)
            .entry(user.to_owned())
            .or_default()
            .clone()
    }

    /// The refresh token: the memory copy when the keychain failed to save it this session,
    /// else the keychain (read each time, so a token rotated by another process, e.g. the
    /// tray while the CLI runs, is picked up).
    pub(super) async fn load(&self, user: &str) -> Result<Option<StoredToken>> {
        if let Some(s) = lock(&self.session).get(user) {
            return Ok(Some(s.clone()));
        }
        let store = self.store.clone();
        let u = user.to_owned();
        match blocking(move || read_chunked(store.as_ref(), &u)).await {
            Ok(Some(bytes)) => match StoredToken::decode(bytes) {
                Ok(t) => Ok(Some(t)),
                Err(why) => Err(Error::SignInRequired {
                    reason: format!("the saved sign-in in the keychain is not readable: {why}"),
                }),
            },
            Ok(None) => Ok(None),
            Err(StoreError::Integrity(m)) => Err(Error::SignInRequired {
                reason: format!("the saved sign-in in the keychain is damaged ({m})"),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the refresh token from the keychain");
                self.set_warning(&e);
                Err(Error::SignInRequired {
                    reason: format!("the saved sign-in cannot be read: {e}"),
                })
            }
        }
    }

    /// Saves to the keychain; when that fails, keeps the token in memory for this session and
    /// sets the warning.
    pub(super) async fn save(&self, user: &str, token: &StoredToken) {
        *self.recent(user).lock().await = Some((std::time::Instant::now(), token.clone()));
        let store = self.store.clone();
        let u = user.to_owned();
        let bytes = token.encode();
        let dir = self.lock_dir.clone();
        match blocking(move || with_file_lock(&dir, || write_chunked(store.as_ref(), &u, &bytes)))
            .await
        {
            Ok(()) => {
                lock(&self.session).remove(user);
                lock(&self.written).insert(user.to_owned(), token.token.clone());
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot save the refresh token in the keychain; keeping it in memory for this session");
                self.set_warning(&e);
                lock(&self.session).insert(user.to_owned(), token.clone());
            }
        }
    }

    /// Deletes every part. Errors only when the keychain fails.
    pub(super) async fn delete(&self, user: &str) -> std::result::Result<bool, StoreError> {
        *self.recent(user).lock().await = None;
        let had_session = lock(&self.session).remove(user).is_some();
        lock(&self.written).remove(user);
        let store = self.store.clone();
        let u = user.to_owned();
        let dir = self.lock_dir.clone();
        let deleted =
            blocking(move || with_file_lock(&dir, || delete_chunked(store.as_ref(), &u))).await?;
        Ok(deleted || had_session)
    }

    /// Deletes the refresh token of `user` if it is still `used` (or gone): checked and deleted
    /// under the cross-process [`LOCK_FILE`]. Returns whether it was deleted (or absent);
    /// `false` when a newer token replaced it.
    pub(super) async fn delete_if_current(
        &self,
        user: &str,
        used: &Secret,
    ) -> std::result::Result<bool, StoreError> {
        let in_memory = lock(&self.session).get(user).map(|t| t.token.clone());
        if let Some(t) = in_memory {
            if t != *used {
                return Ok(false);
            }
            self.delete(user).await?;
            return Ok(true);
        }
        *self.recent(user).lock().await = None;
        let store = self.store.clone();
        let u = user.to_owned();
        let used = used.clone();
        let dir = self.lock_dir.clone();
        let deleted = blocking(move || {
            with_file_lock(&dir, || {
                let current = read_chunked(store.as_ref(), &u)
                    .ok()
                    .flatten()
                    .and_then(|b| StoredToken::decode(b).ok());
                if current.is_some_and(|c| c.token != used) {
                    return Ok(false);
                }
                delete_chunked(store.as_ref(), &u)?;
                Ok(true)
            })
        })
        .await?;
        if deleted {
            lock(&self.written).remove(user);
        }
        Ok(deleted)
    }

    /// Saves a rotated refresh token only if the keychain still holds the sign-in it was
    /// rotated from: the token `used` for the refresh, or the one this process last wrote.
    /// Checked and written under the cross-process [`LOCK_FILE`], which sign-out and sign-in
    /// also take, so a sign-out (or a new sign-in) in another process wins: the rotated token
    /// is dropped instead of bringing back a live token nobody can see. Returns whether it
    /// was kept (in the keychain, or in memory when the keychain fails as in
    /// [`Vault::save`]).
    pub(super) async fn save_if_current(
        &self,
        user: &str,
        token: &StoredToken,
        used: &Secret,
    ) -> bool {
        if lock(&self.session).contains_key(user) {
            // Kept in memory this session: no other process can see or delete it.
            self.save(user, token).await;
            return true;
        }
        // As in `save`: refreshes of this process use the newest token while it is written.
        *self.recent(user).lock().await = Some((std::time::Instant::now(), token.clone()));
        let mut expected = vec![used.clone()];
        expected.extend(lock(&self.written).get(user).cloned());
        let store = self.store.clone();
        let u = user.to_owned();
        let bytes = token.encode();
        let dir = self.lock_dir.clone();
        let outcome = blocking(move || {
            with_file_lock(&dir, || {
                let current = read_chunked(store.as_ref(), &u)?
                    .and_then(|b| StoredToken::decode(b).ok())
                    .map(|t| t.token);
                if !current.is_some_and(|c| expected.contains(&c)) {
                    return Ok(false);
                }
                write_chunked(store.as_ref(), &u, &bytes)?;
                Ok(true)
            })
        })
        .await;
        match outcome {
            Ok(true) => {
                lock(&self.written).insert(user.to_owned(), token.token.clone());
                true
            }
            Ok(false) => {
                *self.recent(user).lock().await = None;
                tracing::info!(
                    "signed out or in again by another process during the refresh; its refresh token is dropped"
                );
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot save the refresh token in the keychain; keeping it in memory for this session");
                self.set_warning(&e);
                lock(&self.session).insert(user.to_owned(), token.clone());
                true
            }
        }
    }

    fn set_warning(&self, e: &StoreError) {
        *lock(&self.warning) = Some(keychain_warning_text(e));
    }

    pub(super) fn warning(&self) -> Option<String> {
        lock(&self.warning).clone()
    }
}

impl Inner {
    /// The endpoints this configuration sends refresh and access tokens to, as bound to the
    /// refresh tokens it saves.
    pub(super) fn bound(&self) -> BoundEndpoints {
        BoundEndpoints::of(self.client.endpoints())
    }

    /// Refuses a saved sign-in whose endpoints (see [`crate::bound`]) are not the ones this
    /// configuration and the accounts file would send its tokens to: someone edited
    /// `accounts.json` (or the configuration) after the sign-in. A value written before
    /// endpoints were bound counts as bound to the cloud's well-known endpoints.
    pub(super) fn check_bound(&self, account: &Account, stored: &StoredToken) -> Result<()> {
        let legacy;
        let bound = match &stored.bound {
            Some(b) => b,
            None => {
                legacy = BoundEndpoints::well_known(account.cloud);
                &legacy
            }
        };
        let file = BoundEndpoints::of(&account.endpoints(Some(self.client.endpoints()))?);
        let here = self.bound();
        let place = format!("in {}", self.accounts.path().display());
        let Some((name, now, then, place)) = file
            .difference(bound)
            .map(|(n, a, b)| (n, a, b, place.as_str()))
            .or_else(|| {
                here.difference(bound)
                    .map(|(n, a, b)| (n, a, b, "in this configuration"))
            })
        else {
            return Ok(());
        };
        let was = if stored.bound.is_some() {
            format!("the saved sign-in was made with {then}")
        } else {
            format!(
                "the saved sign-in predates bound endpoints and is trusted only with the \
                 cloud's standard {then}"
            )
        };
        tracing::debug!(upn = %account.upn, endpoint = name, %now, "the account's endpoints differ from its saved sign-in; nothing is sent");
        Err(Error::SignInRequired {
            reason: format!(
                "the {name} of {} {place} is {now}, but {was}; nothing was sent. If you \
                 changed it on purpose, sign in again; if not, someone else did: restore the \
                 file",
                account.upn
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pim_core::config::{Cloud, Endpoints};

    use crate::auth::test_support::*;
    use crate::auth::{Auth, AuthOptions};
    use crate::store::{LimitedStore, MemoryStore};

    #[tokio::test]
    async fn damaged_keychain_entry_is_sign_in_required() {
        let dir = tempfile::tempdir().unwrap();
        let store = LimitedStore::new();
        let a = account("cid");
        write_chunked(&store, &a.keychain_user(), &[b'r'; 5000]).unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&store.get(&a.keychain_user()).unwrap().unwrap()).unwrap();
        let part1 = format!("{}#{}.1", a.keychain_user(), header["g"].as_str().unwrap());
        store.set(&part1, b"tampered").unwrap();
        let auth = Auth::new(options(dir.path(), Arc::new(store))).unwrap();
        let err = auth
            .token_source(&a)
            .access_token(&req())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::SignInRequired { .. }), "{err:?}");
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[tokio::test]
    async fn endpoints_must_match_the_saved_sign_in() {
        use pim_core::test_server::{TestServer, response};
        let server = TestServer::start(|_, _| response(500, b"", true)).await;
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::new();
        let a = account("cid");
        let o = options(dir.path(), Arc::new(store.clone()));
        save_bound(&store, &a, &o.endpoints);
        // The file names another authority (and this configuration follows it, as the CLI
        // and the tray do): refused before anything is sent.
        let mut edited = a.clone();
        edited.authority_host = server.base.clone();
        let mut o2 = o.clone();
        o2.endpoints = edited.endpoints(Some(&o.endpoints)).unwrap();
        let auth = Auth::new(o2).unwrap();
        let err = auth
            .token_source(&edited)
            .access_token(&req())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::SignInRequired { .. }), "{err:?}");
        let text = err.to_string();
        for part in [
            "authority host",
            &server.base,
            "accounts.json",
            // What to do, in words every face can follow (the CLI adds `pim login`).
            "sign in again",
            "127.0.0.1:9",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        assert!(!text.contains("0.rt"), "{text}");
        // Same authority, another Graph endpoint in the file.
        let mut edited = a.clone();
        edited.graph_endpoint = Some(server.base.clone());
        let mut o3 = o.clone();
        o3.endpoints = edited.endpoints(Some(&o.endpoints)).unwrap();
        let err = Auth::new(o3)
            .unwrap()
            .token_source(&edited)
            .access_token(&req())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("Graph endpoint"), "{err}");
        assert_eq!(server.hits(), 0, "nothing reached the edited endpoints");
        // The file as signed in: the token goes to the (unreachable) bound authority.
        let err = Auth::new(o)
            .unwrap()
            .token_source(&a)
            .access_token(&req())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Transport(_)), "{err:?}");
    }

    #[tokio::test]
    async fn values_without_bound_endpoints_are_trusted_with_the_standard_endpoints_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::new();
        let auth = Auth::new(options(dir.path(), Arc::new(store.clone()))).unwrap();
        let legacy = StoredToken::decode(b"0.rt".to_vec()).unwrap();
        // Standard endpoints (with or without them written in the file): accepted.
        let standard = Auth::new(AuthOptions::with_secret_store(
            Endpoints::for_cloud(Cloud::Public),
            "cid".into(),
            dir.path().join("cfg"),
            Arc::new(store.clone()),
        ))
        .unwrap();
        let mut a = account("cid");
        a.authority_host = "https://login.microsoftonline.com".into();
        standard.inner.check_bound(&a, &legacy).unwrap();
        a.graph_endpoint = Some("https://graph.microsoft.com".into());
        a.arm_endpoint = Some("https://management.azure.com/".into());
        standard.inner.check_bound(&a, &legacy).unwrap();
        // Other endpoints (a simulator, or an edited file): sign in again.
        a.arm_endpoint = Some("http://127.0.0.1:9".into());
        let err = standard.inner.check_bound(&a, &legacy).unwrap_err();
        assert!(err.to_string().contains("ARM endpoint"), "{err}");
        assert!(err.to_string().contains("standard"), "{err}");
        let err = auth
            .inner
            .check_bound(&account("cid"), &legacy)
            .unwrap_err();
        assert!(err.to_string().contains("authority host"), "{err}");
    }

    /// A keychain whose read of `stuck` waits (a prompt nobody answers) until released.
    #[derive(Debug)]
    struct PromptingStore {
        release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
    }

    impl SecretStore for PromptingStore {
        fn get(&self, user: &str) -> std::result::Result<Option<Vec<u8>>, StoreError> {
            if user == "stuck" {
                let _ = lock(&self.release).recv();
            }
            Ok(Some(format!("rt-{user}").into_bytes()))
        }
        fn set(&self, _: &str, _: &[u8]) -> std::result::Result<(), StoreError> {
            Ok(())
        }
        fn delete(&self, _: &str) -> std::result::Result<bool, StoreError> {
            Ok(true)
        }
    }

    #[tokio::test]
    async fn a_stuck_keychain_read_does_not_stall_other_accounts() {
        let (release, rx) = std::sync::mpsc::channel();
        let vault = Arc::new(Vault::new(
            Arc::new(PromptingStore {
                release: std::sync::Mutex::new(rx),
            }),
            None,
            tempfile::tempdir().unwrap().keep(),
        ));
        let stuck = {
            let vault = vault.clone();
            tokio::spawn(async move { vault.load_shared("stuck").await })
        };
        tokio::task::yield_now().await;
        // Guard only: with one lock for every user this waits for the prompt forever.
        let other = tokio::time::timeout(Duration::from_secs(20), vault.load_shared("other"))
            .await
            .expect("another account waited for the stuck keychain read")
            .unwrap();
        assert_eq!(
            other.map(|s| s.token.expose().to_owned()).as_deref(),
            Some("rt-other")
        );
        assert!(!stuck.is_finished());
        release.send(()).unwrap();
        let s = stuck.await.unwrap().unwrap();
        assert_eq!(
            s.map(|s| s.token.expose().to_owned()).as_deref(),
            Some("rt-stuck")
        );
    }
}
