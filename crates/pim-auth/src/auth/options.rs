//! [`AuthOptions`] and the options of each sign-in.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pim_core::Result;
use pim_core::config::{Endpoints, Env};
use pim_core::token::Resource;

use crate::browser::{BrowserOpener, SystemBrowser};
use crate::clock::{Clock, SystemClock};
use crate::store::{KeyringStore, MemoryStore, SecretStore, StoreError};

/// Default time to wait for the browser to come back.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Called with a URL the user may need to open by hand (printed by the CLI, shown by the tray).
pub type UrlCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// Called with the device-code instructions to show the user.
pub type DeviceCodeCallback = Arc<dyn Fn(&DeviceCodePrompt) + Send + Sync>;

/// Everything [`Auth`](super::Auth) needs. Build with [`AuthOptions::from_env`] (CLI, tray)
/// or [`AuthOptions::with_secret_store`] (tests; never touches the OS keychain), then adjust
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
    /// Whether [`TokenSource::access_token`](pim_core::token::TokenSource::access_token) may
    /// open the browser when a refresh needs interaction (step-up). `false`: it answers
    /// `StepUpRequired` / `SignInRequired`.
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
    /// Runs `az` for [`CredentialKind::AzureCli`](crate::accounts::CredentialKind::AzureCli)
    /// accounts; `None` runs the real `az` through the shell (tests and the tray set their
    /// own).
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

pub(super) fn keychain_warning_text(e: &StoreError) -> String {
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
    pub(super) fn as_str(self) -> &'static str {
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
