//! Sign-in flows: the system browser (authorization code + PKCE on a loopback redirect),
//! the device code, the Azure CLI, and the browser step-up a refresh may need.

use std::sync::atomic::Ordering;
use std::time::Duration;

use pim_core::config::Endpoints;
use pim_core::token::{AccessToken, Resource, Secret, TokenRequest, TokenSource};
use pim_core::{Error, Result};

use super::tokens::CacheKey;
use super::{Auth, Inner};
use super::{DeviceCodeOptions, DeviceCodePrompt, LoginOptions};
use crate::accounts::{Account, CredentialKind};
use crate::bound::StoredToken;
use crate::entra::{self, ErrorKind, Grant, IdClaims, ORGANIZATIONS, TokenError, TokenResponse};
use crate::loopback::{Callback, Loopback};
use crate::pkce::{Pkce, random_state};

/// The result of an authorization-code or device-code exchange.
struct SignedIn {
    response: TokenResponse,
    claims: IdClaims,
}

impl Auth {
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

    /// Interactive sign-in for one token request (claims step-up), as the same user.
    pub(super) async fn step_up(
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[cfg(unix)]
    use async_trait::async_trait;
    use pim_core::sync::lock;

    use crate::auth::test_support::*;
    use crate::store::MemoryStore;

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
}
