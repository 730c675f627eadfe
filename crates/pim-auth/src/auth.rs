//! [`Auth`]: sign-in, sign-out, accounts, and the [`TokenSource`] for an account.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pim_core::config::{Endpoints, Env};
use pim_core::token::{AccessToken, Resource, Secret, TokenRequest, TokenSource};
use pim_core::{Error, Result};

use crate::accounts::{Account, AccountStore, CredentialKind};
use crate::azure_cli::AzureCliTokenSource;
use crate::bound::{BoundEndpoints, StoredToken};
use crate::browser::{BrowserOpener, SystemBrowser};
use crate::clock::{Clock, SystemClock};
use crate::entra::{
    self, ErrorKind, Grant, IdClaims, ORGANIZATIONS, TokenClient, TokenError, TokenResponse,
};
use crate::loopback::{Callback, Loopback};
use crate::pkce::{Pkce, random_state};
use crate::store::{
    KeyringStore, MemoryStore, SecretStore, StoreError, delete_chunked, read_chunked, write_chunked,
};

/// Access tokens are renewed this long before they expire.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// `now` plus a token's lifetime, saturating at the last date `time` can represent.
pub(crate) fn expiry(now: time::OffsetDateTime, lifetime: Duration) -> time::OffsetDateTime {
    let secs = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
    now.saturating_add(time::Duration::seconds(secs))
}

/// Whether a token expiring at `expires_on` is still good for [`REFRESH_MARGIN`] at `now`
/// (never overflowing, whatever date the token claims).
pub(crate) fn fresh(expires_on: time::OffsetDateTime, now: time::OffsetDateTime) -> bool {
    let margin = i64::try_from(REFRESH_MARGIN.as_secs()).unwrap_or(i64::MAX);
    expires_on.saturating_sub(time::Duration::seconds(margin)) > now
}

/// Default time to wait for the browser to come back.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Called with a URL the user may need to open by hand (printed by the CLI, shown by the tray).
pub type UrlCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// Called with the device-code instructions to show the user.
pub type DeviceCodeCallback = Arc<dyn Fn(&DeviceCodePrompt) + Send + Sync>;

/// Everything [`Auth`] needs. Build with [`AuthOptions::from_env`] (CLI, tray) or
/// [`AuthOptions::with_secret_store`] (tests; never touches the OS keychain), then adjust
/// fields.
#[derive(Clone)]
pub struct AuthOptions {
    /// Authority, Graph and ARM endpoints and scopes (from `PIM_CLOUD`, `PIM_AUTHORITY_HOST`...).
    pub endpoints: Endpoints,
    /// App registration (public client).
    pub client_id: String,
    /// Folder of `accounts.json` (created with 0700 on first sign-in).
    pub config_dir: PathBuf,
    /// Where refresh tokens are kept.
    pub secret_store: Arc<dyn SecretStore>,
    /// Set when the OS keychain could not be opened and `secret_store` is memory-only.
    pub keychain_warning: Option<String>,
    /// Opens the sign-in page.
    pub browser: Arc<dyn BrowserOpener>,
    /// Called with the authorize URL before the browser is started (so the user can open it
    /// by hand). When `None` and the browser cannot be started, sign-in fails.
    pub on_url: Option<UrlCallback>,
    /// Whether [`TokenSource::access_token`] may open the browser when a refresh needs
    /// interaction (step-up). `false`: it answers `StepUpRequired` / `SignInRequired`.
    pub allow_interactive: bool,
    /// Time source for access-token expiry.
    pub clock: Arc<dyn Clock>,
    /// How long a browser sign-in may take (default 5 minutes).
    pub login_timeout: Duration,
    /// HTTP client for the authority; `None` builds one (no redirects, 30 s timeout). A client
    /// given here must not follow redirects either (requests carry codes and refresh
    /// tokens); answers are read up to [`pim_core::http::MAX_RESPONSE_BYTES`] whatever the
    /// client.
    pub http: Option<reqwest::Client>,
    /// Runs `az` for [`CredentialKind::AzureCli`] accounts; `None` runs the real `az` through
    /// the shell (tests and the tray set their own).
    pub az_executor: Option<Arc<dyn azure_identity::Executor>>,
}

impl fmt::Debug for AuthOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthOptions")
            .field("endpoints", &self.endpoints)
            .field("client_id", &self.client_id)
            .field("config_dir", &self.config_dir)
            .field("secret_store", &self.secret_store)
            .field("keychain_warning", &self.keychain_warning)
            .field("browser", &self.browser)
            .field("allow_interactive", &self.allow_interactive)
            .field("login_timeout", &self.login_timeout)
            .finish_non_exhaustive()
    }
}

impl AuthOptions {
    /// Options using the OS keychain (installed as keyring-core's default store; memory-only
    /// with [`AuthOptions::keychain_warning`] set when unavailable), the system browser and
    /// clock, non-interactive token acquisition, 5-minute sign-in timeout.
    pub fn new(endpoints: Endpoints, client_id: String, config_dir: PathBuf) -> AuthOptions {
        let (store, warning): (Arc<dyn SecretStore>, _) = match KeyringStore::platform_default() {
            Ok(s) => (Arc::new(s), None),
            Err(e) => (
                Arc::new(MemoryStore::new()),
                Some(keychain_warning_text(&e)),
            ),
        };
        let mut o = AuthOptions::with_secret_store(endpoints, client_id, config_dir, store);
        o.keychain_warning = warning;
        o
    }

    /// Like [`AuthOptions::new`] but with an explicit secret store (does not touch the OS
    /// keychain).
    pub fn with_secret_store(
        endpoints: Endpoints,
        client_id: String,
        config_dir: PathBuf,
        secret_store: Arc<dyn SecretStore>,
    ) -> AuthOptions {
        AuthOptions {
            endpoints,
            client_id,
            config_dir,
            secret_store,
            keychain_warning: None,
            browser: Arc::new(SystemBrowser::new()),
            on_url: None,
            allow_interactive: false,
            clock: Arc::new(SystemClock),
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
            http: None,
            az_executor: None,
        }
    }

    /// [`AuthOptions::new`] with endpoints, client id and config folder from the environment
    /// (`PIM_CLOUD`, `PIM_AUTHORITY_HOST`, `PIM_GRAPH_ENDPOINT`, `PIM_ARM_ENDPOINT`,
    /// `PIM_CLIENT_ID`, `PIM_CONFIG_DIR`; `BROWSER` for the browser).
    pub fn from_env(env: Arc<dyn Env>) -> Result<AuthOptions> {
        let endpoints = Endpoints::from_env(env.as_ref())?;
        let client_id = pim_core::config::client_id_from_env(env.as_ref());
        let config_dir = pim_core::config::config_dir_from_env(env.as_ref())?;
        let mut o = AuthOptions::new(endpoints, client_id, config_dir);
        o.browser = Arc::new(SystemBrowser::with_env(env));
        Ok(o)
    }
}

fn keychain_warning_text(e: &StoreError) -> String {
    format!(
        "{e}. Your sign-in is kept in memory only and ends when this program exits \
         (nothing is written to disk)."
    )
}

/// `prompt` for the authorize request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Show the account picker.
    SelectAccount,
    /// Ask for credentials even with a session.
    Login,
    /// Ask for consent.
    Consent,
}

impl Prompt {
    fn as_str(self) -> &'static str {
        match self {
            Prompt::SelectAccount => "select_account",
            Prompt::Login => "login",
            Prompt::Consent => "consent",
        }
    }
}

/// Options of an interactive (browser) sign-in.
#[derive(Debug, Clone, Default)]
pub struct LoginOptions {
    /// Tenant to sign in to (GUID or domain); default `organizations` (the user's home tenant).
    pub tenant: Option<String>,
    /// Pre-fills the user name.
    pub login_hint: Option<String>,
    /// `domain_hint` (e.g. `contoso.com`), skips home-realm discovery.
    pub domain_hint: Option<String>,
    /// `prompt`; default none (reuse the browser session).
    pub prompt: Option<Prompt>,
    /// Resource of the first access token (default Graph).
    pub resource: Option<Resource>,
    /// Claims to satisfy during sign-in (step-up), JSON. `cp1` is always added.
    pub claims: Option<String>,
}

/// Options of a device-code sign-in.
#[derive(Clone, Default)]
pub struct DeviceCodeOptions {
    /// Tenant (default `organizations`).
    pub tenant: Option<String>,
    /// Resource of the first access token (default Graph).
    pub resource: Option<Resource>,
    /// Shows the instructions; when `None` they are logged at `warn` level.
    pub on_prompt: Option<DeviceCodeCallback>,
}

impl fmt::Debug for DeviceCodeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeOptions")
            .field("tenant", &self.tenant)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// What the user must do to finish a device-code sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodePrompt {
    /// Page to open, e.g. `https://microsoft.com/devicelogin`.
    pub verification_uri: String,
    /// Code to enter there.
    pub user_code: String,
    /// Entra's ready-made instruction.
    pub message: String,
    /// How long the code is valid.
    pub expires_in: Duration,
}

/// The stored refresh token of one account.
#[derive(Debug, Default)]
struct RtState {
    /// Sequence number of the refresh response whose token is stored (0: none by refresh).
    saved_seq: u64,
    /// Sequence number of the newest rotated token handed to a background save.
    newest: u64,
    /// Bumped by sign-in and sign-out: a refresh that started before must not store its
    /// rotated token afterwards.
    epoch: u64,
}

/// Per account: `write` serialises keychain writes and deletes of its refresh token;
/// `state` (never held across an await) orders them.
#[derive(Debug, Default)]
struct AccountLock {
    write: tokio::sync::Mutex<()>,
    state: Mutex<RtState>,
}

impl AccountLock {
    fn state(&self) -> std::sync::MutexGuard<'_, RtState> {
        lock(&self.state)
    }
}

/// Single flight of one access-token refresh: callers of the same key queue on `lock`; a
/// caller that waited while another refreshed (`done` moved) takes that result.
#[derive(Debug, Default)]
struct Flight {
    lock: tokio::sync::Mutex<()>,
    done: AtomicU64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    account: String,
    tenant: String,
    scope: String,
    claims: Option<String>,
}

/// Refresh tokens: keychain first, an in-memory copy for this process, memory-only with a
/// warning when the keychain fails. Never a file.
#[derive(Debug)]
struct Vault {
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

use pim_core::sync::lock;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, StoreError> + Send + 'static,
) -> std::result::Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Other(format!("keychain task failed: {e}"))))
}

impl Vault {
    fn new(store: Arc<dyn SecretStore>, warning: Option<String>, lock_dir: PathBuf) -> Vault {
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
    async fn load_shared(&self, user: &str) -> Result<Option<StoredToken>> {
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
    async fn load(&self, user: &str) -> Result<Option<StoredToken>> {
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
    async fn save(&self, user: &str, token: &StoredToken) {
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
    async fn delete(&self, user: &str) -> std::result::Result<bool, StoreError> {
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
    async fn delete_if_current(
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
    async fn save_if_current(&self, user: &str, token: &StoredToken, used: &Secret) -> bool {
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

    fn warning(&self) -> Option<String> {
        lock(&self.warning).clone()
    }
}

struct Inner {
    client: TokenClient,
    accounts: AccountStore,
    vault: Arc<Vault>,
    /// Rotated refresh tokens being saved in the background (see [`Auth::flush`]).
    saves: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    browser: Arc<dyn BrowserOpener>,
    on_url: Option<UrlCallback>,
    allow_interactive: bool,
    clock: Arc<dyn Clock>,
    login_timeout: Duration,
    cache: Mutex<HashMap<CacheKey, AccessToken>>,
    /// Per account: serialises changes of the stored refresh token (save, delete).
    locks: Mutex<HashMap<String, Arc<AccountLock>>>,
    /// Per (account, tenant, scope, claims): single flight of its refresh.
    flights: Mutex<HashMap<CacheKey, Arc<Flight>>>,
    /// Orders refresh responses by arrival, so the newest rotated refresh token wins.
    rt_seq: AtomicU64,
    /// One browser step-up at a time.
    interactive: tokio::sync::Mutex<()>,
    az_executor: Option<Arc<dyn azure_identity::Executor>>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field(
                "authority",
                &self.client.endpoints().authority_host.as_str(),
            )
            .field("client_id", &self.client.client_id())
            .field("accounts", &self.accounts.path())
            .field("allow_interactive", &self.allow_interactive)
            .field("cached_tokens", &lock(&self.cache).len())
            .finish_non_exhaustive()
    }
}

/// Sign-in for PIM Tray. Cheap to clone (shared state); one per process.
#[derive(Debug, Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

/// The result of an authorization-code or device-code exchange.
struct SignedIn {
    response: TokenResponse,
    claims: IdClaims,
}

impl Auth {
    /// Creates the sign-in service. Touches neither the disk nor the network; a damaged
    /// `accounts.json` is reported by the calls that read it.
    pub fn new(options: AuthOptions) -> Result<Auth> {
        let http = match options.http {
            Some(h) => h,
            None => entra::default_http_client()?,
        };
        let accounts = AccountStore::new(options.config_dir);
        let lock_dir = accounts.dir().to_owned();
        if let Some(w) = &options.keychain_warning {
            tracing::warn!("{w}");
        }
        Ok(Auth {
            inner: Arc::new(Inner {
                client: TokenClient::new(http, options.endpoints, options.client_id),
                accounts,
                vault: Arc::new(Vault::new(
                    options.secret_store,
                    options.keychain_warning,
                    lock_dir,
                )),
                saves: Mutex::new(Vec::new()),
                browser: options.browser,
                on_url: options.on_url,
                allow_interactive: options.allow_interactive,
                clock: options.clock,
                login_timeout: options.login_timeout,
                cache: Mutex::new(HashMap::new()),
                locks: Mutex::new(HashMap::new()),
                flights: Mutex::new(HashMap::new()),
                rt_seq: AtomicU64::new(0),
                interactive: tokio::sync::Mutex::new(()),
                az_executor: options.az_executor,
            }),
        })
    }

    /// A message for the user when refresh tokens cannot be kept in the OS keychain (they are
    /// then kept in memory for this process only). `None` when the keychain works.
    pub fn keychain_warning(&self) -> Option<String> {
        self.inner.vault.warning()
    }

    /// Waits until the rotated refresh tokens of finished refreshes are in the keychain.
    /// Refreshes save them in the background so callers need not wait for the keychain;
    /// a short-lived process (the CLI) calls this before it exits.
    pub async fn flush(&self) {
        loop {
            let pending: Vec<_> = lock(&self.inner.saves).drain(..).collect();
            if pending.is_empty() {
                return;
            }
            for h in pending {
                if let Err(e) = h.await {
                    tracing::warn!(error = %e, "saving the refresh token failed");
                }
            }
        }
    }

    /// Path of the accounts file.
    pub fn accounts_path(&self) -> PathBuf {
        self.inner.accounts.path()
    }

    /// Signs in with the system browser (auth code + PKCE on a loopback redirect), saves the
    /// refresh token in the keychain and the account in `accounts.json`, and makes it the
    /// default account. Also caches the first access token (Graph unless
    /// [`LoginOptions::resource`] says otherwise).
    pub async fn login_interactive(&self, options: LoginOptions) -> Result<Account> {
        // Report a damaged accounts file before the user goes through the browser.
        self.inner.accounts.load()?;
        let tenant = options.tenant.as_deref().unwrap_or(ORGANIZATIONS);
        let scope = self
            .inner
            .scope(options.resource.unwrap_or(Resource::Graph));
        let signed_in = self.inner.authorize(tenant, &scope, &options).await?;
        self.inner
            .finish_login(
                signed_in,
                &scope,
                options.claims.as_deref(),
                CredentialKind::Browser,
            )
            .await
    }

    /// Signs in with the device-code flow: shows the code through
    /// [`DeviceCodeOptions::on_prompt`], polls no faster than the interval Entra gives (+5 s
    /// on `slow_down`), and stores the result like [`Auth::login_interactive`].
    pub async fn login_device_code(&self, options: DeviceCodeOptions) -> Result<Account> {
        // Report a damaged accounts file before the user goes through the browser.
        self.inner.accounts.load()?;
        let tenant = options.tenant.as_deref().unwrap_or(ORGANIZATIONS);
        let scope = self
            .inner
            .scope(options.resource.unwrap_or(Resource::Graph));
        let full_scope = login_scope(&scope);
        let client = &self.inner.client;
        let dc = client.device_code(tenant, &full_scope).await??;
        let prompt = DeviceCodePrompt {
            message: dc.message.clone().unwrap_or_else(|| {
                format!(
                    "To sign in, open {} and enter the code {}",
                    dc.verification_uri, dc.user_code
                )
            }),
            verification_uri: dc.verification_uri.clone(),
            user_code: dc.user_code.clone(),
            expires_in: dc.lifetime(),
        };
        match &options.on_prompt {
            Some(cb) => cb(&prompt),
            None => tracing::warn!("{}", prompt.message),
        }
        let mut interval = dc.poll_interval();
        let device_code = Secret::new(dc.device_code);
        let start = tokio::time::Instant::now();
        let deadline = start.checked_add(prompt.expires_in).unwrap_or(start);
        let response = loop {
            // Never sleep past the code's end (a long interval would outlive it).
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            tokio::time::sleep(interval.min(left)).await;
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::SignInRequired {
                    reason: "the device code expired before the sign-in was completed".into(),
                });
            }
            match client
                .token(tenant, Grant::DeviceCode(&device_code), &full_scope, None)
                .await?
            {
                Ok(r) => break r,
                Err(TokenError::Entra(e)) => match e.kind() {
                    ErrorKind::Pending => {}
                    ErrorKind::SlowDown => {
                        interval = interval
                            .saturating_add(Duration::from_secs(5))
                            .min(entra::MAX_POLL_INTERVAL);
                    }
                    ErrorKind::Declined => {
                        return Err(Error::SignInRequired {
                            reason: "the sign-in was declined".into(),
                        });
                    }
                    ErrorKind::Expired => {
                        return Err(Error::SignInRequired {
                            reason: format!("the device code is no longer valid: {e}"),
                        });
                    }
                    _ => return Err(TokenError::Entra(e).into()),
                },
                Err(e) => return Err(e.into()),
            }
        };
        let claims = id_claims(&response)?;
        self.inner
            .finish_login(
                SignedIn { response, claims },
                &scope,
                None,
                CredentialKind::DeviceCode,
            )
            .await
    }

    /// Adds an account whose tokens come from the Azure CLI (the user ran `az login`): asks
    /// `az` for an ARM token (in `tenant`, else az's default tenant), reads who it belongs to,
    /// and saves the account ([`CredentialKind::AzureCli`], client id of the Azure CLI app,
    /// this configuration's cloud and endpoints) as the default. Nothing secret is stored.
    /// Only Azure resource roles work through it (see [`crate::azure_cli`]).
    pub async fn login_azure_cli(&self, tenant: Option<String>) -> Result<Account> {
        self.inner.accounts.load()?;
        let e = self.inner.client.endpoints().clone();
        let token = self
            .inner
            .az_source()
            .access_token(&TokenRequest {
                tenant_id: tenant.unwrap_or_default(),
                resource: Resource::Arm,
                scope: e.arm_scope.clone(),
                claims: None,
                force_refresh: true,
            })
            .await?;
        let id = entra::decode_jwt_claims::<IdClaims>(token.token.expose()).unwrap_or_default();
        let account = account_of(
            id,
            "the Azure CLI's token",
            &e,
            crate::azure_cli::AZURE_CLI_CLIENT_ID,
            self.inner.authority_host(),
            CredentialKind::AzureCli,
        )?;
        let account = self.inner.accounts.update(move |f| f.upsert(account))?;
        tracing::info!(upn = %account.upn, "added an Azure CLI account");
        Ok(account)
    }

    /// All accounts in `accounts.json`, sorted by key (including accounts of other clouds or
    /// client ids, which this configuration cannot use).
    pub fn accounts(&self) -> Result<Vec<Account>> {
        Ok(self.inner.accounts.load()?.accounts)
    }

    /// The default account among those usable with this configuration (same cloud, client id
    /// and authority host): the last one signed in or chosen, else the first by user name.
    pub fn default_account(&self) -> Result<Option<Account>> {
        let file = self.inner.accounts.load()?;
        Ok(file
            .default_account(|a| self.inner.usable(a).is_ok())
            .cloned())
    }

    /// The default account of the accounts file, whichever cloud, authority or app
    /// registration it uses (a host that opens every account, like the tray, starts with it).
    pub fn saved_default_account(&self) -> Result<Option<Account>> {
        Ok(self
            .inner
            .accounts
            .load()?
            .default_account(|_| true)
            .cloned())
    }

    /// Makes `account` the default.
    pub fn set_default_account(&self, account: &Account) -> Result<()> {
        let key = account.key();
        let found = self.inner.accounts.update(|f| {
            let found = f.accounts.iter().any(|a| a.key() == key);
            if found {
                f.default_account = Some(key.clone());
            }
            found
        })?;
        if found {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!(
                "{} is not signed in",
                account.upn
            )))
        }
    }

    /// Saves which tenants `account` hides (ids; see [`Account::hidden_tenants`]) and returns
    /// the account as saved. Ids are stored trimmed and in lower case, without duplicates.
    pub fn set_hidden_tenants(&self, account: &Account, ids: Vec<String>) -> Result<Account> {
        let key = account.key();
        let ids = pim_core::normalise_ids(ids);
        let saved = self.inner.accounts.update(|f| {
            let a = f.accounts.iter_mut().find(|a| a.key() == key)?;
            a.hidden_tenants = ids;
            Some(a.clone())
        })?;
        saved.ok_or_else(|| Error::InvalidInput(format!("{} is not signed in", account.upn)))
    }

    /// The tenant lists cached per account in the config folder (`tenants.json`), so a new
    /// process reads every tenant at once (see [`pim_core::SessionOptions::known_tenants`]).
    pub fn tenant_cache(&self) -> crate::TenantCache {
        crate::TenantCache::new(self.inner.accounts.dir())
    }

    /// Signs `account` out: deletes its refresh token (every keychain part), forgets its
    /// access tokens and removes it from `accounts.json` and its cached tenant list. Returns
    /// whether anything was there.
    pub async fn logout(&self, account: &Account) -> Result<bool> {
        let lock = self.inner.account_lock(&account.key());
        let _write = lock.write.lock().await;
        lock.state().epoch += 1;
        let had_token = self
            .inner
            .vault
            .delete(&account.keychain_user())
            .await
            .map_err(|e| {
                Error::Keychain(format!(
                    "cannot delete the saved sign-in of {}: {e}. Unlock the keychain and sign out again",
                    account.upn
                ))
            })?;
        self.inner.forget_access_tokens(&account.key());
        let key = account.key();
        let had_account = self.inner.accounts.update(|f| f.remove(&key))?;
        if let Err(e) = self.tenant_cache().remove(&key) {
            tracing::debug!(error = %e, "cannot update the tenant list");
        }
        tracing::info!(upn = %account.upn, "signed out");
        Ok(had_token || had_account)
    }

    /// Signs every account in `accounts.json` out. Returns the accounts signed out.
    pub async fn logout_all(&self) -> Result<Vec<Account>> {
        let accounts = self.accounts()?;
        for a in &accounts {
            self.logout(a).await?;
        }
        Ok(accounts)
    }

    /// The token source for `account`. Fails with `SignInRequired` at use when the account has
    /// no saved sign-in, or was made with another cloud, client id or authority.
    ///
    /// For [`CredentialKind::AzureCli`] accounts this is an [`AzureCliTokenSource`] (tokens from
    /// `az`, nothing stored).
    pub fn token_source(&self, account: &Account) -> Arc<dyn TokenSource> {
        if account.kind == CredentialKind::AzureCli {
            return Arc::new(self.inner.az_source());
        }
        Arc::new(AccountTokenSource {
            inner: self.inner.clone(),
            account: account.clone(),
        })
    }

    /// The default account and its token source; `SignInRequired` when nobody is signed in.
    pub fn default_token_source(&self) -> Result<(Account, Arc<dyn TokenSource>)> {
        match self.default_account()? {
            Some(a) => {
                let ts = self.token_source(&a);
                Ok((a, ts))
            }
            None => Err(Error::SignInRequired {
                reason: "nobody is signed in".into(),
            }),
        }
    }
}

/// A base URL without its trailing slash.
fn base(u: &url::Url) -> String {
    u.as_str().trim_end_matches('/').to_owned()
}

fn login_scope(resource_scope: &str) -> String {
    format!("{resource_scope} openid profile offline_access")
}

fn id_claims(response: &TokenResponse) -> Result<IdClaims> {
    response
        .id_token
        .as_deref()
        .and_then(entra::decode_jwt_claims::<IdClaims>)
        .ok_or_else(|| {
            Error::InvalidResponse("the sign-in response has no readable ID token".into())
        })
}

impl Inner {
    fn az_source(&self) -> AzureCliTokenSource {
        match &self.az_executor {
            Some(x) => AzureCliTokenSource::with_executor(x.clone(), self.clock.clone()),
            None => AzureCliTokenSource::with_clock(self.clock.clone()),
        }
    }

    fn scope(&self, resource: Resource) -> String {
        let e = self.client.endpoints();
        match resource {
            Resource::Graph => e.graph_scope.clone(),
            Resource::Arm => e.arm_scope.clone(),
        }
    }

    fn authority_host(&self) -> String {
        self.client
            .endpoints()
            .authority_host
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    /// The endpoints this configuration sends refresh and access tokens to, as bound to the
    /// refresh tokens it saves.
    fn bound(&self) -> BoundEndpoints {
        BoundEndpoints::of(self.client.endpoints())
    }

    /// Refuses a saved sign-in whose endpoints (see [`crate::bound`]) are not the ones this
    /// configuration and the accounts file would send its tokens to: someone edited
    /// `accounts.json` (or the configuration) after the sign-in. A value written before
    /// endpoints were bound counts as bound to the cloud's well-known endpoints.
    fn check_bound(&self, account: &Account, stored: &StoredToken) -> Result<()> {
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

    /// Whether this configuration can refresh tokens for `account`.
    fn usable(&self, account: &Account) -> Result<()> {
        let e = self.client.endpoints();
        if account.cloud != e.cloud
            || account.client_id != self.client.client_id()
            || account.authority_host.trim_end_matches('/') != self.authority_host()
        {
            return Err(Error::SignInRequired {
                reason: format!(
                    "{} signed in with another cloud, app registration or authority ({}, {})",
                    account.upn, account.authority_host, account.client_id
                ),
            });
        }
        Ok(())
    }

    fn account_lock(&self, key: &str) -> Arc<AccountLock> {
        lock(&self.locks).entry(key.to_owned()).or_default().clone()
    }

    fn flight(&self, key: &CacheKey) -> Arc<Flight> {
        lock(&self.flights).entry(key.clone()).or_default().clone()
    }

    /// Stores the refresh token a refresh response rotated from `used`, in the background (the
    /// caller does not wait for the keychain), unless a newer response's token is stored by
    /// then or the account signed in or out since the refresh started, in this process or
    /// another ([`Vault::save_if_current`]). Returns `false` when the account signed in or
    /// out in this process meanwhile (the caller then keeps nothing).
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

    fn forget_access_tokens(&self, account_key: &str) {
        lock(&self.cache).retain(|k, _| k.account != account_key);
    }

    fn cached(&self, key: &CacheKey) -> Option<AccessToken> {
        let now = self.clock.now();
        lock(&self.cache)
            .get(key)
            .filter(|t| fresh(t.expires_on, now))
            .cloned()
    }

    fn cache_token(&self, key: CacheKey, response: &TokenResponse) -> AccessToken {
        let token = AccessToken {
            token: Secret::new(response.access_token.clone()),
            expires_on: expiry(self.clock.now(), response.lifetime()),
        };
        lock(&self.cache).insert(key, token.clone());
        token
    }

    /// Browser sign-in up to the code redemption.
    async fn authorize(
        &self,
        tenant: &str,
        resource_scope: &str,
        options: &LoginOptions,
    ) -> Result<SignedIn> {
        let loopback = Loopback::bind().await.map_err(|e| {
            Error::Config(format!("cannot listen on 127.0.0.1 for the sign-in: {e}"))
        })?;
        let redirect_uri = loopback.redirect_uri();
        let pkce = Pkce::generate();
        let state = random_state();
        let scope = login_scope(resource_scope);
        let claims = entra::merge_claims(options.claims.as_deref())?;
        let mut url = entra::authority_url(self.client.endpoints(), tenant, "authorize")?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", self.client.client_id())
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("response_mode", "query")
                .append_pair("scope", &scope)
                .append_pair("state", &state)
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("claims", &claims);
            if let Some(h) = &options.login_hint {
                q.append_pair("login_hint", h);
            }
            if let Some(h) = &options.domain_hint {
                q.append_pair("domain_hint", h);
            }
            if let Some(p) = options.prompt {
                q.append_pair("prompt", p.as_str());
            }
        }
        if let Some(cb) = &self.on_url {
            cb(url.as_str());
        }
        tracing::info!(%tenant, port = loopback.port(), "opening the browser for sign-in");
        if let Err(e) = self.browser.open(url.as_str()) {
            tracing::warn!(error = %e, "cannot open the browser");
            if self.on_url.is_none() {
                return Err(Error::BrowserUnavailable {
                    reason: e.to_string(),
                });
            }
        }
        let code = match loopback.wait(&state, self.login_timeout).await {
            Some(Callback::Code(code)) => code,
            Some(Callback::Error {
                error,
                description,
                subcode,
            }) => {
                // An app the tenant refuses (consent, blocked, unknown, Conditional Access)
                // gets the specific error that says what an administrator must do.
                if let Some(refused) = crate::entra::redirect_refusal(
                    &error,
                    description.as_deref(),
                    subcode.as_deref(),
                    self.client.client_id(),
                ) {
                    return Err(refused);
                }
                let reason = if subcode.as_deref() == Some("cancel") {
                    "the sign-in was cancelled in the browser".to_owned()
                } else {
                    let d = description.as_deref().and_then(|d| d.lines().next());
                    format!("the sign-in failed: {} ({error})", d.unwrap_or(&error))
                };
                return Err(Error::SignInRequired { reason });
            }
            None => {
                return Err(Error::SignInRequired {
                    reason: format!(
                        "no answer from the browser within {} s",
                        self.login_timeout.as_secs()
                    ),
                });
            }
        };
        let response = self
            .client
            .token(
                tenant,
                Grant::AuthorizationCode {
                    code: &code,
                    redirect_uri: &redirect_uri,
                    verifier: &pkce.verifier,
                },
                &scope,
                options.claims.as_deref(),
            )
            .await??;
        let claims = id_claims(&response)?;
        Ok(SignedIn { response, claims })
    }

    /// Saves the refresh token and the account, caches the access token.
    async fn finish_login(
        &self,
        signed_in: SignedIn,
        resource_scope: &str,
        claims: Option<&str>,
        kind: CredentialKind,
    ) -> Result<Account> {
        let SignedIn {
            response,
            claims: id,
        } = signed_in;
        let account = account_of(
            id,
            "the ID token",
            self.client.endpoints(),
            self.client.client_id(),
            self.authority_host(),
            kind,
        )?;
        let tid = account.home_tenant_id.clone();
        let Some(rt) = response.refresh_token.clone() else {
            return Err(Error::InvalidResponse(
                "the sign-in response has no refresh token (offline_access not granted)".into(),
            ));
        };
        {
            let lock = self.account_lock(&account.key());
            let _write = lock.write.lock().await;
            {
                let mut state = lock.state();
                state.epoch += 1;
                state.saved_seq = self.rt_seq.fetch_add(1, Ordering::SeqCst) + 1;
            }
            self.vault
                .save(
                    &account.keychain_user(),
                    &StoredToken::new(Secret::new(rt), self.bound()),
                )
                .await;
            self.forget_access_tokens(&account.key());
            self.cache_token(
                CacheKey {
                    account: account.key(),
                    tenant: tid,
                    scope: resource_scope.to_owned(),
                    claims: claims.map(str::to_owned),
                },
                &response,
            );
        }
        let account = self.accounts.update(move |f| f.upsert(account))?;
        tracing::info!(upn = %account.upn, tenant = %account.home_tenant_id, "signed in");
        Ok(account)
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

    /// Interactive sign-in for one token request (claims step-up), as the same user.
    async fn step_up(
        &self,
        account: &Account,
        req: &TokenRequest,
        claims: Option<String>,
    ) -> Result<AccessToken> {
        let _one_at_a_time = self.interactive.lock().await;
        let key = CacheKey {
            account: account.key(),
            tenant: req.tenant_id.clone(),
            scope: req.scope.clone(),
            claims: req.claims.clone(),
        };
        // Another request may have just done the same step-up.
        if let Some(t) = self.cached(&key) {
            return Ok(t);
        }
        let options = LoginOptions {
            tenant: Some(req.tenant_id.clone()),
            login_hint: Some(account.upn.clone()),
            claims: claims.clone(),
            ..LoginOptions::default()
        };
        let signed_in = self.authorize(&req.tenant_id, &req.scope, &options).await?;
        let who = signed_in
            .claims
            .preferred_username
            .clone()
            .or(signed_in.claims.upn.clone())
            .unwrap_or_default();
        if !who.eq_ignore_ascii_case(&account.upn) {
            return Err(Error::InvalidInput(format!(
                "signed in as {who}, but {} was expected; sign in as {} to continue",
                account.upn, account.upn
            )));
        }
        let lock = self.account_lock(&account.key());
        let _write = lock.write.lock().await;
        if let Some(rt) = &signed_in.response.refresh_token {
            lock.state().saved_seq = self.rt_seq.fetch_add(1, Ordering::SeqCst) + 1;
            self.vault
                .save(
                    &account.keychain_user(),
                    &StoredToken::new(Secret::new(rt.clone()), self.bound()),
                )
                .await;
        }
        Ok(self.cache_token(key, &signed_in.response))
    }
}

/// The account a token names (`oid`, `tid`, user name), signed in with `kind` through
/// `client_id` at `authority_host`, working with `e`'s Graph and ARM. `source` names the token
/// in the error when it does not say who is signed in.
fn account_of(
    id: IdClaims,
    source: &str,
    e: &Endpoints,
    client_id: &str,
    authority_host: String,
    kind: CredentialKind,
) -> Result<Account> {
    let (Some(oid), Some(tid)) = (id.oid, id.tid) else {
        return Err(Error::InvalidResponse(format!(
            "{source} does not say who is signed in (no oid or tid)"
        )));
    };
    let upn = id
        .preferred_username
        .or(id.upn)
        .unwrap_or_else(|| oid.clone());
    Ok(Account {
        name: id.name.unwrap_or_else(|| upn.clone()),
        upn,
        oid,
        home_tenant_id: tid,
        cloud: e.cloud,
        client_id: client_id.to_owned(),
        authority_host,
        kind,
        graph_endpoint: Some(base(&e.graph)),
        arm_endpoint: Some(base(&e.arm)),
        hidden_tenants: Vec::new(),
    })
}

fn lock_remove(cache: &Mutex<HashMap<CacheKey, AccessToken>>, key: &CacheKey) {
    lock(cache).remove(key);
}

/// The [`TokenSource`] of one account.
#[derive(Debug)]
struct AccountTokenSource {
    inner: Arc<Inner>,
    account: Account,
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
    use crate::store::LimitedStore;
    use pim_core::config::Cloud;

    #[derive(Debug, Default)]
    struct NoBrowser(Mutex<usize>);
    impl BrowserOpener for NoBrowser {
        fn open(&self, _url: &str) -> std::io::Result<()> {
            *lock(&self.0) += 1;
            Err(std::io::Error::other("no browser here"))
        }
    }

    fn options(dir: &std::path::Path, store: Arc<dyn SecretStore>) -> AuthOptions {
        let mut e = Endpoints::for_cloud(Cloud::Public);
        // Nothing listens there: these tests must not reach the network.
        e.authority_host = url::Url::parse("http://127.0.0.1:9").unwrap();
        let mut o = AuthOptions::with_secret_store(e, "cid".into(), dir.join("cfg"), store);
        o.browser = Arc::new(NoBrowser::default());
        o
    }

    fn account(client_id: &str) -> Account {
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

    fn req() -> TokenRequest {
        TokenRequest {
            tenant_id: "t".into(),
            resource: Resource::Graph,
            scope: "https://graph.microsoft.com/.default".into(),
            claims: None,
            force_refresh: false,
        }
    }

    #[tokio::test]
    async fn broken_accounts_file_stops_login_before_the_browser() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cfg")).unwrap();
        std::fs::write(dir.path().join("cfg/accounts.json"), b"not json").unwrap();
        let auth = Auth::new(options(dir.path(), Arc::new(MemoryStore::new()))).unwrap();
        let err = auth
            .login_interactive(LoginOptions::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("accounts.json"), "{err}");
        assert!(auth.accounts().is_err());
        assert!(auth.default_account().is_err());
        assert_eq!(
            std::fs::read(dir.path().join("cfg/accounts.json")).unwrap(),
            b"not json"
        );
    }

    #[tokio::test]
    async fn browser_failure_without_url_callback_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let auth = Auth::new(options(dir.path(), Arc::new(MemoryStore::new()))).unwrap();
        let err = auth
            .login_interactive(LoginOptions::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("BROWSER"), "{err}");
        assert!(matches!(err, Error::BrowserUnavailable { .. }), "{err:?}");
        // With a URL callback the sign-in waits instead (here: until the timeout).
        let mut o = options(dir.path(), Arc::new(MemoryStore::new()));
        let shown = Arc::new(Mutex::new(Vec::<String>::new()));
        let s = shown.clone();
        o.on_url = Some(Arc::new(move |u: &str| lock(&s).push(u.to_owned())));
        o.login_timeout = Duration::from_millis(100);
        let err = Auth::new(o)
            .unwrap()
            .login_interactive(LoginOptions::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no answer"), "{err}");
        let shown = lock(&shown).clone();
        assert_eq!(shown.len(), 1);
        assert!(shown[0].contains("code_challenge_method=S256"));
    }

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

    /// Options and an account whose authority is the test server at `base`.
    fn fake_authority(dir: &std::path::Path, base: &str, store: MemoryStore) -> (Auth, Account) {
        let mut o = options(dir, Arc::new(store.clone()));
        o.endpoints.authority_host = url::Url::parse(base).unwrap();
        let mut a = account("cid");
        a.authority_host = base.to_owned();
        save_bound(&store, &a, &o.endpoints);
        (Auth::new(o).unwrap(), a)
    }

    /// Saves refresh token `0.rt` for `a`, bound to `e`.
    fn save_bound(store: &dyn SecretStore, a: &Account, e: &Endpoints) {
        let t = StoredToken::new(Secret::new("0.rt".to_owned()), BoundEndpoints::of(e));
        write_chunked(store, &a.keychain_user(), &t.encode()).unwrap();
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

    #[tokio::test]
    async fn absurd_device_code_lifetimes_do_not_overflow_or_hang() {
        use pim_core::test_server::{TestServer, response};
        // (expires_in, interval) of the device authorization response.
        for (expires_in, interval) in [(u64::MAX, 1), (1, u64::MAX)] {
            let server = TestServer::start(move |_, path| {
                if path.ends_with("/devicecode") {
                    let body = format!(
                        r#"{{"device_code":"dc","user_code":"U","verification_uri":"https://x","expires_in":{expires_in},"interval":{interval}}}"#
                    );
                    response(200, body.as_bytes(), true)
                } else {
                    response(400, br#"{"error":"expired_token"}"#, true)
                }
            })
            .await;
            let dir = tempfile::tempdir().unwrap();
            let (auth, _) = fake_authority(dir.path(), &server.base, MemoryStore::new());
            let prompt = Arc::new(Mutex::new(None::<DeviceCodePrompt>));
            let p = prompt.clone();
            let login = auth.login_device_code(DeviceCodeOptions {
                on_prompt: Some(Arc::new(move |d: &DeviceCodePrompt| {
                    *lock(&p) = Some(d.clone())
                })),
                ..Default::default()
            });
            let result = tokio::time::timeout(Duration::from_secs(20), login)
                .await
                .unwrap_or_else(|_| panic!("({expires_in}, {interval}): the sign-in hangs"));
            let err = result.unwrap_err();
            assert!(matches!(err, Error::SignInRequired { .. }), "{err:?}");
            let shown = lock(&prompt).clone().unwrap();
            assert!(shown.expires_in <= Duration::from_secs(24 * 3600));
        }
    }

    #[cfg(unix)]
    #[derive(Debug)]
    struct JwtAz;

    #[cfg(unix)]
    #[async_trait]
    impl azure_identity::Executor for JwtAz {
        async fn run(
            &self,
            _program: &std::ffi::OsStr,
            _args: &[&std::ffi::OsStr],
        ) -> std::io::Result<std::process::Output> {
            use base64::Engine as _;
            use std::os::unix::process::ExitStatusExt;
            let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
            let jwt = format!(
                "{}.{}.",
                b64(r#"{"alg":"none","typ":"JWT"}"#),
                b64(r#"{"tid":"t1","oid":"o1","upn":"az@x","name":"Az User"}"#)
            );
            let exp = (time::OffsetDateTime::now_utc() + time::Duration::hours(1)).unix_timestamp();
            Ok(std::process::Output {
                status: std::process::ExitStatus::from_raw(0),
                stdout: format!(
                    r#"{{"accessToken":"{jwt}","expires_on":{exp},"tokenType":"Bearer"}}"#
                )
                .into_bytes(),
                stderr: vec![],
            })
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn azure_cli_account_is_added_from_the_token_owner() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = options(dir.path(), Arc::new(MemoryStore::new()));
        o.az_executor = Some(Arc::new(JwtAz));
        let auth = Auth::new(o).unwrap();
        let a = auth.login_azure_cli(None).await.unwrap();
        assert_eq!(a.kind, CredentialKind::AzureCli);
        assert_eq!(
            (a.upn.as_str(), a.oid.as_str(), a.home_tenant_id.as_str()),
            ("az@x", "o1", "t1")
        );
        assert_eq!(a.client_id, crate::azure_cli::AZURE_CLI_CLIENT_ID);
        assert_eq!(auth.accounts().unwrap(), vec![a.clone()]);
        let t = auth
            .token_source(&a)
            .access_token(&TokenRequest {
                tenant_id: "t1".into(),
                resource: Resource::Arm,
                scope: "https://management.azure.com/.default".into(),
                claims: None,
                force_refresh: false,
            })
            .await
            .unwrap();
        assert!(t.token.expose().contains('.'));
        assert!(auth.logout(&a).await.unwrap());
        assert!(auth.accounts().unwrap().is_empty());
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
