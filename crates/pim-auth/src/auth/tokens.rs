//! The [`TokenSource`] of one account: the in-memory access-token cache, single-flight
//! refreshes, and saving (or, on `invalid_grant`, deleting) the refresh token they rotate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pim_core::sync::lock;
use pim_core::token::{AccessToken, Resource, Secret, TokenRequest, TokenSource};
use pim_core::{Error, Result};

use super::{Inner, expiry, fresh};
use crate::accounts::Account;
use crate::bound::StoredToken;
use crate::entra::{ErrorKind, Grant, TokenError, TokenResponse};

/// The stored refresh token of one account.
#[derive(Debug, Default)]
pub(super) struct RtState {
    /// Sequence number of the refresh response whose token is stored (0: none by refresh).
    pub(super) saved_seq: u64,
    /// Sequence number of the newest rotated token handed to a background save.
    pub(super) newest: u64,
    /// Bumped by sign-in and sign-out: a refresh that started before must not store its
    /// rotated token afterwards.
    pub(super) epoch: u64,
}

/// Per account: `write` serialises keychain writes and deletes of its refresh token;
/// `state` (never held across an await) orders them.
#[derive(Debug, Default)]
pub(super) struct AccountLock {
    pub(super) write: tokio::sync::Mutex<()>,
    state: Mutex<RtState>,
}

impl AccountLock {
    pub(super) fn state(&self) -> std::sync::MutexGuard<'_, RtState> {
        lock(&self.state)
    }
}

/// Single flight of one access-token refresh: callers of the same key queue on `lock`; a
/// caller that waited while another refreshed (`done` moved) takes that result.
#[derive(Debug, Default)]
pub(super) struct Flight {
    lock: tokio::sync::Mutex<()>,
    done: AtomicU64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct CacheKey {
    pub(super) account: String,
    pub(super) tenant: String,
    pub(super) scope: String,
    pub(super) claims: Option<String>,
}

impl Inner {
    pub(super) fn account_lock(&self, key: &str) -> Arc<AccountLock> {
        lock(&self.locks).entry(key.to_owned()).or_default().clone()
    }

    fn flight(&self, key: &CacheKey) -> Arc<Flight> {
        lock(&self.flights).entry(key.clone()).or_default().clone()
    }

    /// Stores the refresh token a refresh response rotated from `used`, in the background (the
    /// caller does not wait for the keychain), unless a newer response's token is stored by
    /// then or the account signed in or out since the refresh started, in this process or
    /// another ([`Vault::save_if_current`](super::Vault::save_if_current)). Returns `false`
    /// when the account signed in or out in this process meanwhile (the caller then keeps
    /// nothing).
    async fn save_rotated(
        &self,
        account: &Account,
        epoch: u64,
        seq: u64,
        rt: &str,
        used: &Secret,
    ) -> bool {
        let account_lock = self.account_lock(&account.key());
        {
            let mut state = account_lock.state();
            if state.epoch != epoch {
                tracing::debug!(
                    "signed in or out during the refresh; its refresh token is dropped"
                );
                return false;
            }
            state.newest = state.newest.max(seq);
        }
        let vault = self.vault.clone();
        let user = account.keychain_user();
        let rt = StoredToken::new(Secret::new(rt.to_owned()), self.bound());
        let used = used.clone();
        let task = tokio::spawn(async move {
            let _write = account_lock.write.lock().await;
            {
                let mut state = account_lock.state();
                if state.epoch != epoch {
                    tracing::debug!(
                        "signed in or out during the refresh; its refresh token is dropped"
                    );
                    return;
                }
                if state.saved_seq > seq || state.newest > seq {
                    tracing::debug!("a newer refresh token is saved or about to be");
                    return;
                }
                state.saved_seq = seq;
            }
            vault.save_if_current(&user, &rt, &used).await;
        });
        let mut saves = lock(&self.saves);
        saves.retain(|h| !h.is_finished());
        saves.push(task);
        true
    }

    pub(super) fn forget_access_tokens(&self, account_key: &str) {
        lock(&self.cache).retain(|k, _| k.account != account_key);
    }

    pub(super) fn cached(&self, key: &CacheKey) -> Option<AccessToken> {
        let now = self.clock.now();
        lock(&self.cache)
            .get(key)
            .filter(|t| fresh(t.expires_on, now))
            .cloned()
    }

    pub(super) fn cache_token(&self, key: CacheKey, response: &TokenResponse) -> AccessToken {
        let token = AccessToken {
            token: Secret::new(response.access_token.clone()),
            expires_on: expiry(self.clock.now(), response.lifetime()),
        };
        lock(&self.cache).insert(key, token.clone());
        token
    }

    /// An access token for `req`. Refreshes of the same key share one request (single
    /// flight); refreshes of different tenants, resources or claims run concurrently with
    /// the current refresh token (Entra keeps it valid after rotation). Only the update of
    /// the stored refresh token is serialised per account; the token of the last response to
    /// arrive wins.
    async fn access_token(&self, account: &Account, req: &TokenRequest) -> Result<AccessToken> {
        self.usable(account)?;
        let key = CacheKey {
            account: account.key(),
            tenant: req.tenant_id.clone(),
            scope: req.scope.clone(),
            claims: req.claims.clone(),
        };
        if !req.force_refresh
            && let Some(t) = self.cached(&key)
        {
            return Ok(t);
        }
        let flight = self.flight(&key);
        let seen = flight.done.load(Ordering::SeqCst);
        let guard = flight.lock.lock().await;
        if flight.done.load(Ordering::SeqCst) != seen
            && let Some(t) = self.cached(&key)
        {
            // Refreshed by another caller while this one waited (even a forced refresh
            // gets a token newer than the one it wanted replaced).
            return Ok(t);
        }
        if req.force_refresh {
            lock_remove(&self.cache, &key);
        } else if let Some(t) = self.cached(&key) {
            return Ok(t);
        }
        let epoch = self.account_lock(&account.key()).state().epoch;
        let user = account.keychain_user();
        let scope = format!("{} offline_access", req.scope);
        let mut retried = false;
        let (result, used) = loop {
            let Some(stored) = self.vault.load_shared(&user).await? else {
                return Err(Error::SignInRequired {
                    reason: format!("{} has no saved sign-in", account.upn),
                });
            };
            // Never send the token (nor ask for access tokens) elsewhere than where it was
            // issued for.
            self.check_bound(account, &stored)?;
            let rt = stored.token;
            let result = self
                .client
                .token(
                    &req.tenant_id,
                    Grant::RefreshToken(&rt),
                    &scope,
                    req.claims.as_deref(),
                )
                .await?;
            // Another process (or a concurrent refresh here) may have rotated the token
            // meanwhile: retry once with the keychain's current one before declaring the
            // sign-in dead.
            if let Err(TokenError::Entra(e)) = &result
                && e.kind() == ErrorKind::SignInRequired
                && !retried
                && self
                    .vault
                    .load(&user)
                    .await
                    .ok()
                    .flatten()
                    .map(|s| s.token)
                    .as_ref()
                    != Some(&rt)
            {
                retried = true;
                continue;
            }
            break (result, rt);
        };
        let seq = self.rt_seq.fetch_add(1, Ordering::SeqCst) + 1;
        match result {
            Ok(response) => {
                let current = match &response.refresh_token {
                    Some(new_rt) => self.save_rotated(account, epoch, seq, new_rt, &used).await,
                    None => true,
                };
                tracing::debug!(tenant = %req.tenant_id, resource = %req.resource, "access token refreshed");
                let token = if current {
                    self.cache_token(key, &response)
                } else {
                    // Signed out meanwhile: hand the token to this caller, keep nothing.
                    AccessToken {
                        token: Secret::new(response.access_token.clone()),
                        expires_on: expiry(self.clock.now(), response.lifetime()),
                    }
                };
                flight.done.fetch_add(1, Ordering::SeqCst);
                Ok(token)
            }
            Err(TokenError::Entra(e)) => match e.kind() {
                ErrorKind::SignInRequired => {
                    // A tenant the user no longer belongs to (e.g. a guest tenant that
                    // removed them, still in a cached tenant list) also answers
                    // invalid_grant: keep the sign-in when the home tenant accepts it.
                    if !req.tenant_id.eq_ignore_ascii_case(&account.home_tenant_id)
                        && self.home_accepts(account, epoch, &used).await
                    {
                        tracing::info!(tenant = %req.tenant_id, error = %e, "this tenant refuses the sign-in; the home tenant accepts it");
                        return Err(TokenError::Entra(e).into());
                    }
                    tracing::warn!(upn = %account.upn, error = %e, "refresh token rejected");
                    {
                        let lock = self.account_lock(&account.key());
                        let _write = lock.write.lock().await;
                        // Delete it unless a concurrent refresh or sign-in (here or in another
                        // process) replaced it.
                        match self.vault.delete_if_current(&user, &used).await {
                            Ok(true) => {
                                tracing::warn!(upn = %account.upn, "deleted the rejected refresh token");
                                self.forget_access_tokens(&account.key());
                            }
                            Ok(false) => {}
                            Err(err) => {
                                tracing::warn!(error = %err, "cannot delete the rejected refresh token");
                                self.forget_access_tokens(&account.key());
                            }
                        }
                    }
                    Err(Error::SignInRequired {
                        reason: format!(
                            "the saved sign-in of {} is no longer valid: {e}",
                            account.upn
                        ),
                    })
                }
                ErrorKind::InteractionRequired => {
                    let claims = e.claims.clone().or_else(|| req.claims.clone());
                    drop(guard);
                    if self.allow_interactive {
                        return self.step_up(account, req, claims).await;
                    }
                    match claims {
                        Some(claims) => Err(Error::StepUpRequired {
                            resource: req.resource,
                            claims,
                        }),
                        None => Err(Error::SignInRequired {
                            reason: format!(
                                "Entra ID asks {} to sign in interactively: {e}",
                                account.upn
                            ),
                        }),
                    }
                }
                _ => Err(TokenError::Entra(e).into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the home tenant still accepts `rt` (one Graph token refresh; its tokens are
    /// kept on success).
    async fn home_accepts(&self, account: &Account, epoch: u64, rt: &Secret) -> bool {
        let graph = self.scope(Resource::Graph);
        let scope = format!("{graph} offline_access");
        let Ok(Ok(response)) = self
            .client
            .token(
                &account.home_tenant_id,
                Grant::RefreshToken(rt),
                &scope,
                None,
            )
            .await
        else {
            return false;
        };
        let seq = self.rt_seq.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(new_rt) = &response.refresh_token
            && !self.save_rotated(account, epoch, seq, new_rt, rt).await
        {
            return true;
        }
        self.cache_token(
            CacheKey {
                account: account.key(),
                tenant: account.home_tenant_id.clone(),
                scope: graph,
                claims: None,
            },
            &response,
        );
        true
    }
}

fn lock_remove(cache: &Mutex<HashMap<CacheKey, AccessToken>>, key: &CacheKey) {
    lock(cache).remove(key);
}

/// The [`TokenSource`] of one account.
#[derive(Debug)]
pub(super) struct AccountTokenSource {
    pub(super) inner: Arc<Inner>,
    pub(super) account: Account,
}

#[async_trait]
impl TokenSource for AccountTokenSource {
    async fn access_token(&self, req: &TokenRequest) -> Result<AccessToken> {
        self.inner.access_token(&self.account, req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Auth;
    use crate::auth::test_support::*;
    use crate::bound::BoundEndpoints;
    use crate::store::{MemoryStore, read_chunked};

    #[tokio::test]
    async fn token_source_without_saved_sign_in_or_for_other_client() {
        let dir = tempfile::tempdir().unwrap();
        let auth = Auth::new(options(dir.path(), Arc::new(MemoryStore::new()))).unwrap();
        let err = auth
            .token_source(&account("cid"))
            .access_token(&req())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no saved sign-in"), "{err}");
        let err = auth
            .token_source(&account("other"))
            .access_token(&req())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("another"), "{err}");
        assert!(matches!(
            auth.default_token_source(),
            Err(Error::SignInRequired { .. })
        ));
    }

    #[tokio::test]
    async fn unreachable_authority_is_a_transport_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::new();
        let a = account("cid");
        let o = options(dir.path(), Arc::new(store.clone()));
        save_bound(&store, &a, &o.endpoints);
        let auth = Auth::new(o).unwrap();
        let err = auth
            .token_source(&a)
            .access_token(&req())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Transport(_)), "{err:?}");
        assert!(!err.to_string().contains("0.rt"));
        assert_eq!(store.len(), 1, "a network error keeps the refresh token");
    }

    /// A token endpoint that holds each answer until the test lets it go: `arrived` hears of
    /// each request, `go` releases one answer (a rotated refresh token `1.rotated`).
    async fn gated_authority() -> (
        pim_core::test_server::TestServer,
        std::sync::mpsc::Receiver<()>,
        std::sync::mpsc::Sender<()>,
    ) {
        use pim_core::test_server::{TestServer, response};
        let (arrived_tx, arrived) = std::sync::mpsc::channel::<()>();
        let (go, go_rx) = std::sync::mpsc::channel::<()>();
        let arrived_tx = Mutex::new(arrived_tx);
        let go_rx = Mutex::new(go_rx);
        let server = TestServer::start(move |_, _| {
            let _ = lock(&arrived_tx).send(());
            let _ = lock(&go_rx).recv();
            response(
                200,
                br#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"1.rotated"}"#,
                true,
            )
        })
        .await;
        (server, arrived, go)
    }

    /// Two processes (two `Auth`s over one keychain and config folder): one signs out (or
    /// signs in anew) while the other waits for a slow refresh; the rotated token that
    /// arrives afterwards is not written back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 3)]
    async fn sign_out_in_another_process_wins_over_a_running_refresh() {
        for sign_in_again in [false, true] {
            let (server, arrived, go) = gated_authority().await;
            let dir = tempfile::tempdir().unwrap();
            let store = MemoryStore::new();
            let (tray, a) = fake_authority(dir.path(), &server.base, store.clone());
            let mut o = options(dir.path(), Arc::new(store.clone()));
            o.endpoints.authority_host = url::Url::parse(&server.base).unwrap();
            let cli = Auth::new(o.clone()).unwrap();
            let ts = tray.token_source(&a);
            let refresh = tokio::spawn(async move { ts.access_token(&req()).await });
            tokio::task::spawn_blocking(move || arrived.recv())
                .await
                .unwrap()
                .unwrap();
            // `pim logout` while the tray's refresh is on the wire.
            cli.logout(&a).await.unwrap();
            assert!(store.is_empty());
            if sign_in_again {
                let t = StoredToken::new(
                    Secret::new("2.new".to_owned()),
                    BoundEndpoints::of(&o.endpoints),
                );
                cli.inner.vault.save(&a.keychain_user(), &t).await;
            }
            go.send(()).unwrap();
            let token = refresh.await.unwrap().unwrap();
            assert_eq!(token.token.expose(), "at");
            tray.flush().await;
            if sign_in_again {
                let saved = read_chunked(&store, &a.keychain_user()).unwrap().unwrap();
                let saved = StoredToken::decode(saved).unwrap();
                assert_eq!(saved.token.expose(), "2.new", "the new sign-in is kept");
            } else {
                assert!(store.is_empty(), "signed out: {:?}", store.users());
            }
        }
    }

    /// Without a sign-out, the rotated token is saved; a second process whose refresh
    /// started from the same token does not overwrite the first one's rotation.
    #[tokio::test(flavor = "multi_thread", worker_threads = 3)]
    async fn a_refresh_saves_its_rotated_token_when_the_sign_in_is_unchanged() {
        let (server, arrived, go) = gated_authority().await;
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::new();
        let (tray, a) = fake_authority(dir.path(), &server.base, store.clone());
        go.send(()).unwrap();
        tray.token_source(&a).access_token(&req()).await.unwrap();
        tray.flush().await;
        arrived.recv().unwrap();
        let saved = StoredToken::decode(read_chunked(&store, &a.keychain_user()).unwrap().unwrap())
            .unwrap();
        assert_eq!(saved.token.expose(), "1.rotated");
        assert_eq!(
            saved.bound,
            Some(BoundEndpoints::of(tray.inner.client.endpoints()))
        );
    }

    #[tokio::test]
    async fn absurd_token_lifetimes_do_not_overflow() {
        use pim_core::test_server::{TestServer, response};
        for expires_in in ["18446744073709551615", "\"18446744073709551615\"", "0"] {
            let body = format!(
                r#"{{"access_token":"at","token_type":"Bearer","expires_in":{expires_in}}}"#
            );
            let server = TestServer::start(move |_, _| response(200, body.as_bytes(), true)).await;
            let dir = tempfile::tempdir().unwrap();
            let (auth, a) = fake_authority(dir.path(), &server.base, MemoryStore::new());
            let now = time::OffsetDateTime::now_utc();
            let t = auth.token_source(&a).access_token(&req()).await.unwrap();
            assert_eq!(t.token.expose(), "at");
            assert!(t.expires_on >= now, "{expires_in}");
            assert!(
                t.expires_on <= now + time::Duration::days(2),
                "{expires_in}: {}",
                t.expires_on
            );
        }
    }
}
