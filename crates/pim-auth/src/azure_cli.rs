//! Tokens from the Azure CLI (`az account get-access-token`): the zero-configuration path
//! for users who already ran `az login` ([`crate::CredentialKind::AzureCli`]).
//!
//! Limits (see AUTH.md §3): the Azure CLI's app registration has no Graph PIM scopes, so only
//! Azure resource (ARM) roles work this way; the CLI ignores claims, so a step-up answers
//! `StepUpRequired`, which the caller shows with the `az login --claims-challenge` hint.
//! Nothing is stored by us; tokens are cached in memory per (tenant, scope) until 5 minutes
//! before they expire, because each `az` call takes about a second.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_identity::{AzureCliCredential, AzureCliCredentialOptions, Executor};
use base64::Engine;
use pim_core::token::{AccessToken, Secret, TokenRequest, TokenSource};
use pim_core::{Error, Result};

use crate::clock::{Clock, SystemClock};

/// Runs `az` for a desktop app: no console window flashes up on Windows
/// (`CREATE_NO_WINDOW`), and on macOS, where apps started from Finder get a minimal `PATH`,
/// Homebrew's and the installer's folders are added so `az` is found. Elsewhere it runs the
/// command as it is.
#[derive(Debug, Default, Clone, Copy)]
pub struct AzExecutor;

/// Folders where `az` is installed on macOS (Homebrew on Apple silicon and Intel, the
/// official installer), appended to `PATH` when missing.
pub const MACOS_AZ_DIRS: [&str; 3] = ["/opt/homebrew/bin", "/usr/local/bin", "/usr/local/az/bin"];

/// `path` with each of `dirs` appended unless it is already there.
pub fn path_with_dirs(path: Option<&std::ffi::OsStr>, dirs: &[&str]) -> std::ffi::OsString {
    let mut parts: Vec<std::path::PathBuf> = path
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    for d in dirs {
        let d = std::path::PathBuf::from(d);
        if !parts.contains(&d) {
            parts.push(d);
        }
    }
    std::env::join_paths(parts).unwrap_or_else(|_| path.map(ToOwned::to_owned).unwrap_or_default())
}

#[async_trait]
impl Executor for AzExecutor {
    async fn run(
        &self,
        program: &std::ffi::OsStr,
        args: &[&std::ffi::OsStr],
    ) -> std::io::Result<std::process::Output> {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        #[cfg(windows)]
        {
            /// CREATE_NO_WINDOW: the child gets no console, so none flashes up over the tray.
            const CREATE_NO_WINDOW: u32 = 0x0800_0000;
            cmd.creation_flags(CREATE_NO_WINDOW);
        }
        #[cfg(target_os = "macos")]
        cmd.env(
            "PATH",
            path_with_dirs(std::env::var_os("PATH").as_deref(), &MACOS_AZ_DIRS),
        );
        cmd.output().await
    }
}

/// The Azure CLI's public client id (the app its tokens are issued to).
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// A [`TokenSource`] backed by the Azure CLI, one `AzureCliCredential` per tenant.
pub struct AzureCliTokenSource {
    executor: Option<Arc<dyn Executor>>,
    clock: Arc<dyn Clock>,
    credentials: Mutex<HashMap<String, Arc<AzureCliCredential>>>,
    cache: Mutex<HashMap<(String, String), AccessToken>>,
    refresh: tokio::sync::Mutex<()>,
}

impl fmt::Debug for AzureCliTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureCliTokenSource")
            .field("custom_executor", &self.executor.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for AzureCliTokenSource {
    fn default() -> Self {
        AzureCliTokenSource::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AzureCliTokenSource {
    /// Runs the real `az` (through the shell, as azure_identity does) with [`AzExecutor`].
    pub fn new() -> AzureCliTokenSource {
        AzureCliTokenSource {
            executor: Some(Arc::new(AzExecutor)),
            clock: Arc::new(SystemClock),
            credentials: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// Runs the real `az`, with `clock` for the cache.
    pub fn with_clock(clock: Arc<dyn Clock>) -> AzureCliTokenSource {
        AzureCliTokenSource {
            clock,
            ..AzureCliTokenSource::new()
        }
    }

    /// Runs commands through `executor` (tests; or a tray executor that hides the console
    /// window on Windows and fixes `PATH` on macOS), with `clock` for the cache.
    pub fn with_executor(executor: Arc<dyn Executor>, clock: Arc<dyn Clock>) -> Self {
        AzureCliTokenSource {
            executor: Some(executor),
            clock,
            ..AzureCliTokenSource::new()
        }
    }

    fn credential(&self, tenant: &str) -> Result<Arc<AzureCliCredential>> {
        if let Some(c) = lock(&self.credentials).get(tenant) {
            return Ok(c.clone());
        }
        // An empty tenant: az's default tenant (first sign-in, before the tenant is known).
        // Any other goes on az's command line: a GUID or domain only, never `-x` or `..`
        // (tenant ids also come from the service's tenant list).
        if !tenant.is_empty() {
            crate::entra::validate_tenant(tenant)?;
        }
        let c = AzureCliCredential::new(Some(AzureCliCredentialOptions {
            tenant_id: (!tenant.is_empty()).then(|| tenant.to_owned()),
            executor: self.executor.clone(),
            ..Default::default()
        }))
        .map_err(|e| Error::InvalidInput(format!("tenant `{tenant}`: {e}")))?;
        lock(&self.credentials).insert(tenant.to_owned(), c.clone());
        Ok(c)
    }

    fn cached(&self, key: &(String, String)) -> Option<AccessToken> {
        let now = self.clock.now();
        lock(&self.cache)
            .get(key)
            .filter(|t| crate::auth::fresh(t.expires_on, now))
            .cloned()
    }
}

#[async_trait]
impl TokenSource for AzureCliTokenSource {
    async fn access_token(&self, req: &TokenRequest) -> Result<AccessToken> {
        if let Some(claims) = &req.claims {
            let b64 = base64::engine::general_purpose::STANDARD.encode(claims);
            tracing::warn!(
                "the Azure CLI cannot satisfy claims; run: az login --tenant {} --scope {} --claims-challenge {b64}",
                req.tenant_id,
                req.scope
            );
            return Err(Error::StepUpRequired {
                resource: req.resource,
                claims: claims.clone(),
            });
        }
        let key = (req.tenant_id.clone(), req.scope.clone());
        if !req.force_refresh
            && let Some(t) = self.cached(&key)
        {
            return Ok(t);
        }
        let _one_at_a_time = self.refresh.lock().await;
        if !req.force_refresh
            && let Some(t) = self.cached(&key)
        {
            return Ok(t);
        }
        let credential = self.credential(&req.tenant_id)?;
        let token = credential
            .get_token(&[req.scope.as_str()], None)
            .await
            .map_err(|e| {
                let msg = e.to_string();
                let first = msg.lines().next().unwrap_or_default().to_owned();
                Error::AzureCliSignInRequired {
                    reason: first.trim_end_matches('.').to_owned(),
                    login: if req.tenant_id.is_empty() {
                        "az login".to_owned()
                    } else {
                        format!("az login --tenant {}", req.tenant_id)
                    },
                }
            })?;
        let token = AccessToken {
            token: Secret::new(token.token.secret().to_owned()),
            expires_on: token.expires_on,
        };
        lock(&self.cache).insert(key, token.clone());
        Ok(token)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use pim_core::token::Resource;
    use std::ffi::OsStr;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{ExitStatus, Output};
    use time::OffsetDateTime;

    #[test]
    fn macos_folders_are_appended_once() {
        let p = path_with_dirs(
            Some(OsStr::new("/usr/bin:/opt/homebrew/bin")),
            &MACOS_AZ_DIRS,
        );
        let parts: Vec<_> = std::env::split_paths(&p).collect();
        assert_eq!(parts.len(), 4, "{parts:?}");
        assert_eq!(parts[0], std::path::Path::new("/usr/bin"));
        assert!(parts.contains(&std::path::PathBuf::from("/usr/local/az/bin")));
        assert_eq!(
            path_with_dirs(None, &["/x"]),
            std::ffi::OsString::from("/x")
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn az_executor_runs_the_program_with_its_arguments_and_no_stdin() {
        let out = AzExecutor
            .run(
                OsStr::new("/bin/sh"),
                &[
                    OsStr::new("-c"),
                    OsStr::new("read x || echo no-stdin; echo \"$0\""),
                ],
            )
            .await
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("no-stdin"), "{text}");
    }

    #[derive(Debug)]
    struct FakeAz {
        calls: Mutex<Vec<String>>,
        logged_in: bool,
        expires_on: i64,
    }

    #[async_trait]
    impl Executor for FakeAz {
        async fn run(&self, _program: &OsStr, args: &[&OsStr]) -> std::io::Result<Output> {
            let cmd = args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            let n = {
                let mut calls = lock(&self.calls);
                calls.push(cmd);
                calls.len()
            };
            Ok(if self.logged_in {
                Output {
                    status: ExitStatus::from_raw(0),
                    stdout: format!(
                        r#"{{"accessToken":"az-token-{n}","expires_on":{},"tokenType":"Bearer","tenant":"t"}}"#,
                        self.expires_on
                    )
                    .into_bytes(),
                    stderr: vec![],
                }
            } else {
                Output {
                    status: ExitStatus::from_raw(1 << 8),
                    stdout: vec![],
                    stderr: b"ERROR: Please run 'az login' to setup account.".to_vec(),
                }
            })
        }
    }

    fn req(claims: Option<&str>) -> TokenRequest {
        TokenRequest {
            tenant_id: "11111111-1111-1111-1111-111111111111".into(),
            resource: Resource::Arm,
            scope: "https://management.azure.com/.default".into(),
            claims: claims.map(str::to_owned),
            force_refresh: false,
        }
    }

    #[tokio::test]
    async fn tenants_that_are_not_ids_or_domains_never_reach_az() {
        let az = Arc::new(FakeAz {
            calls: Mutex::new(vec![]),
            logged_in: true,
            expires_on: (OffsetDateTime::now_utc() + time::Duration::hours(1)).unix_timestamp(),
        });
        let ts = AzureCliTokenSource::with_executor(
            az.clone(),
            Arc::new(ManualClock::new(OffsetDateTime::now_utc())),
        );
        for tenant in ["-x", "..", ".", "--allow-no-subscriptions"] {
            let mut r = req(None);
            r.tenant_id = tenant.into();
            let err = ts.access_token(&r).await.unwrap_err();
            assert!(matches!(err, Error::InvalidInput(_)), "{tenant}: {err:?}");
        }
        assert!(lock(&az.calls).is_empty());
    }

    #[tokio::test]
    async fn tokens_come_from_az_and_are_cached_per_tenant_and_scope() {
        let now = OffsetDateTime::now_utc();
        let az = Arc::new(FakeAz {
            calls: Mutex::new(vec![]),
            logged_in: true,
            expires_on: (now + time::Duration::hours(1)).unix_timestamp(),
        });
        let clock = ManualClock::new(now);
        let ts = AzureCliTokenSource::with_executor(az.clone(), Arc::new(clock.clone()));
        let a = ts.access_token(&req(None)).await.unwrap();
        let b = ts.access_token(&req(None)).await.unwrap();
        assert_eq!(a.token, b.token);
        assert_eq!(a.token.expose(), "az-token-1");
        {
            let calls = lock(&az.calls);
            assert_eq!(calls.len(), 1);
            assert!(
                calls[0].contains("az account get-access-token"),
                "{}",
                calls[0]
            );
            assert!(calls[0].contains("--tenant 11111111-1111-1111-1111-111111111111"));
        }
        clock.advance(std::time::Duration::from_secs(56 * 60));
        let c = ts.access_token(&req(None)).await.unwrap();
        assert_eq!(c.token.expose(), "az-token-2");
        let err = ts
            .access_token(&req(Some(
                r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#,
            )))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::StepUpRequired { .. }));
    }

    #[tokio::test]
    async fn not_logged_in_is_sign_in_required() {
        let az = Arc::new(FakeAz {
            calls: Mutex::new(vec![]),
            logged_in: false,
            expires_on: 0,
        });
        let ts = AzureCliTokenSource::with_executor(az, Arc::new(SystemClock));
        let err = ts.access_token(&req(None)).await.unwrap_err();
        assert!(
            matches!(err, Error::AzureCliSignInRequired { .. }),
            "{err:?}"
        );
        assert_eq!(err.code(), "azureCliSignInRequired");
        assert!(err.is_sign_in_required());
        assert!(err.to_string().contains("az login"), "{err}");
        assert!(!err.to_string().contains("pim login"), "{err}");
    }
}
