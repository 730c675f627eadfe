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
/// Homebrew's and the installer's folders are added so `az` is found.
///
/// Each call is bounded: it is killed (with its whole process group on Unix: `sh`, `az` and
/// `az`'s Python, which may sit on a keychain prompt) after [`AZ_TIMEOUT`] or when it writes
/// more than [`AZ_MAX_OUTPUT`] bytes to stdout or stderr, and when the caller stops waiting.
#[derive(Debug, Clone)]
pub struct AzExecutor {
    timeout: std::time::Duration,
    max_output: usize,
    path: Option<std::ffi::OsString>,
}

/// How long one `az` call may take by default.
pub const AZ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The most one `az` call may write to stdout (and to stderr) by default; a token answer is a
/// few KiB.
pub const AZ_MAX_OUTPUT: usize = 1024 * 1024;

/// The environment variable that sets how long one `az` call may take, in whole seconds
/// (1 to 3600; default [`AZ_TIMEOUT`]): for an `az` that waits on a slow keychain or proxy.
pub const AZ_TIMEOUT_ENV: &str = "PIM_AZ_TIMEOUT";

/// Reads a [`AZ_TIMEOUT_ENV`] value: unset is [`AZ_TIMEOUT`]; anything but 1 to 3600 whole
/// seconds is a configuration error that says how to fix it.
pub fn az_timeout_setting(value: Option<&std::ffi::OsStr>) -> Result<std::time::Duration> {
    let Some(value) = value else {
        return Ok(AZ_TIMEOUT);
    };
    let text = value.to_string_lossy();
    match text.trim().parse::<u64>() {
        Ok(secs @ 1..=3600) => Ok(std::time::Duration::from_secs(secs)),
        _ => Err(Error::Config(format!(
            "{AZ_TIMEOUT_ENV}={text:?} is not a number of seconds from 1 to 3600; set it to \
             one (e.g. {AZ_TIMEOUT_ENV}=60) or unset it for the default of {} s",
            AZ_TIMEOUT.as_secs()
        ))),
    }
}

impl Default for AzExecutor {
    fn default() -> Self {
        AzExecutor {
            timeout: AZ_TIMEOUT,
            max_output: AZ_MAX_OUTPUT,
            path: None,
        }
    }
}

impl AzExecutor {
    /// [`AZ_TIMEOUT`], [`AZ_MAX_OUTPUT`], the process's `PATH`.
    pub fn new() -> AzExecutor {
        AzExecutor::default()
    }

    /// How long one call may take.
    pub fn with_timeout(self, timeout: std::time::Duration) -> AzExecutor {
        AzExecutor { timeout, ..self }
    }

    /// The most one call may write to stdout (and to stderr).
    pub fn with_max_output(self, max_output: usize) -> AzExecutor {
        AzExecutor { max_output, ..self }
    }

    /// Runs commands with this `PATH` instead of the process's (tests: a fake `az`).
    pub fn with_path(self, path: std::ffi::OsString) -> AzExecutor {
        AzExecutor {
            path: Some(path),
            ..self
        }
    }
}

/// Kills the child's process group when dropped while armed (timeout, too much output, or the
/// caller gave up), so nothing `az` started lingers.
struct GroupKill(Option<u32>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self
            .0
            .and_then(|p| i32::try_from(p).ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Reads `r` to its end, failing once it passes `max` bytes.
async fn read_capped(
    r: Option<impl tokio::io::AsyncRead + Unpin>,
    max: usize,
) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let Some(r) = r else { return Ok(out) };
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    r.take(limit).read_to_end(&mut out).await?;
    if out.len() > max {
        return Err(std::io::Error::other(format!(
            "`az` wrote more than {max} bytes"
        )));
    }
    Ok(out)
}

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
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        #[cfg(windows)]
        {
            /// CREATE_NO_WINDOW: the child gets no console, so none flashes up over the tray.
            const CREATE_NO_WINDOW: u32 = 0x0800_0000;
            cmd.creation_flags(CREATE_NO_WINDOW);
        }
        if let Some(path) = &self.path {
            cmd.env("PATH", path);
        } else {
            #[cfg(target_os = "macos")]
            cmd.env(
                "PATH",
                path_with_dirs(std::env::var_os("PATH").as_deref(), &MACOS_AZ_DIRS),
            );
        }
        let mut child = cmd.spawn()?;
        let mut group = GroupKill(child.id());
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let max = self.max_output;
        let run = async {
            let (stdout, stderr) =
                tokio::try_join!(read_capped(stdout, max), read_capped(stderr, max))?;
            let status = child.wait().await?;
            Ok(std::process::Output {
                status,
                stdout,
                stderr,
            })
        };
        let output = tokio::time::timeout(self.timeout, run)
            .await
            .unwrap_or_else(|_| {
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "`az` did not answer within {} s (is it waiting for a keychain prompt?)",
                        self.timeout.as_secs_f32()
                    ),
                ))
            });
        if output.is_ok() {
            group.0 = None;
        }
        output
    }
}

/// The Azure CLI's public client id (the app its tokens are issued to).
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// (tenant, scope).
type CacheKey = (String, String);

/// A [`TokenSource`] backed by the Azure CLI, one `AzureCliCredential` per tenant.
pub struct AzureCliTokenSource {
    executor: Option<Arc<dyn Executor>>,
    clock: Arc<dyn Clock>,
    credentials: Mutex<HashMap<String, Arc<AzureCliCredential>>>,
    cache: Mutex<HashMap<CacheKey, AccessToken>>,
    /// One `az` call at a time per (tenant, scope); other tenants and scopes do not wait.
    flights: Mutex<HashMap<CacheKey, Arc<tokio::sync::Mutex<()>>>>,
    /// A bad [`AZ_TIMEOUT_ENV`]: every token request fails with it, before `az` runs.
    setting_error: Option<String>,
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

use pim_core::sync::lock;

impl AzureCliTokenSource {
    /// Runs the real `az` (through the shell, as azure_identity does) with [`AzExecutor`],
    /// each call bounded by [`AZ_TIMEOUT_ENV`] (default [`AZ_TIMEOUT`]).
    pub fn new() -> AzureCliTokenSource {
        AzureCliTokenSource::with_timeout_setting(std::env::var_os(AZ_TIMEOUT_ENV).as_deref())
    }

    /// Runs the real `az`, each call bounded by this [`AZ_TIMEOUT_ENV`] value (unset: the
    /// default). A bad value fails every token request with its fix, before `az` runs.
    pub fn with_timeout_setting(value: Option<&std::ffi::OsStr>) -> AzureCliTokenSource {
        let (timeout, setting_error) = match az_timeout_setting(value) {
            Ok(t) => (t, None),
            Err(Error::Config(why)) => (AZ_TIMEOUT, Some(why)),
            Err(e) => (AZ_TIMEOUT, Some(e.to_string())),
        };
        AzureCliTokenSource {
            executor: Some(Arc::new(AzExecutor::default().with_timeout(timeout))),
            clock: Arc::new(SystemClock),
            credentials: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
            flights: Mutex::new(HashMap::new()),
            setting_error,
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
            setting_error: None,
            ..AzureCliTokenSource::with_timeout_setting(None)
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
        if let Some(e) = &self.setting_error {
            return Err(Error::Config(e.clone()));
        }
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
        let flight = lock(&self.flights).entry(key.clone()).or_default().clone();
        let _one_at_a_time = flight.lock().await;
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
        let out = AzExecutor::default()
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

    /// A folder with a fake `az` (the script body given) and a `PATH` that finds it first.
    fn fake_az(body: &str) -> (tempfile::TempDir, AzExecutor) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let az = dir.path().join("az");
        std::fs::write(&az, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut path = std::ffi::OsString::from(dir.path());
        path.push(":/usr/bin:/bin");
        (dir, AzExecutor::default().with_path(path))
    }

    fn gone(pid: &str) -> bool {
        // Gone, or a zombie waiting for its parent.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    }

    #[tokio::test]
    async fn a_stuck_az_times_out_and_is_killed() {
        let (dir, exec) = fake_az("echo $$ > \"$(dirname \"$0\")/pid\"; exec sleep 600");
        let exec = exec.with_timeout(std::time::Duration::from_millis(300));
        let ts = AzureCliTokenSource::with_executor(Arc::new(exec), Arc::new(SystemClock));
        let err = ts.access_token(&req(None)).await.unwrap_err();
        assert!(
            matches!(&err, Error::AzureCliSignInRequired { reason, .. } if reason.contains("did not answer within")),
            "{err:?}"
        );
        let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
        let pid = pid.trim();
        for _ in 0..500 {
            if gone(pid) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(gone(pid), "the fake az (pid {pid}) is still running");
    }

    #[tokio::test]
    async fn az_output_is_bounded() {
        let (_dir, exec) = fake_az("yes");
        let exec = exec.with_max_output(64 * 1024);
        let ts = AzureCliTokenSource::with_executor(Arc::new(exec), Arc::new(SystemClock));
        let err = ts.access_token(&req(None)).await.unwrap_err();
        assert!(err.to_string().contains("more than 65536 bytes"), "{err}");
    }

    #[tokio::test]
    async fn one_stuck_az_does_not_stall_other_tenants() {
        let stuck = "11111111-1111-1111-1111-111111111111";
        let (_dir, exec) = fake_az(&format!(
            "case \"$*\" in *{stuck}*) exec sleep 600;; esac\n\
             echo '{{\"accessToken\":\"az-token\",\"expires_on\":{},\"tokenType\":\"Bearer\"}}'",
            (OffsetDateTime::now_utc() + time::Duration::hours(1)).unix_timestamp()
        ));
        let ts = Arc::new(AzureCliTokenSource::with_executor(
            Arc::new(exec),
            Arc::new(SystemClock),
        ));
        let waiting = {
            let ts = ts.clone();
            tokio::spawn(async move { ts.access_token(&req(None)).await })
        };
        tokio::task::yield_now().await;
        let mut other = req(None);
        other.tenant_id = "22222222-2222-2222-2222-222222222222".into();
        // Guard only: with one lock for every tenant this would wait 30 s for the stuck one.
        let t = tokio::time::timeout(std::time::Duration::from_secs(20), ts.access_token(&other))
            .await
            .expect("another tenant waited for the stuck az")
            .unwrap();
        assert_eq!(t.token.expose(), "az-token");
        assert!(!waiting.is_finished());
        waiting.abort();
    }

    #[test]
    fn the_az_timeout_setting_is_whole_seconds_or_a_clear_error() {
        use std::ffi::OsStr;
        assert_eq!(az_timeout_setting(None).expect("default"), AZ_TIMEOUT);
        assert_eq!(
            az_timeout_setting(Some(OsStr::new(" 90 "))).expect("90"),
            std::time::Duration::from_secs(90)
        );
        for bad in ["0", "3601", "soon", "1.5", "-3", ""] {
            let e = az_timeout_setting(Some(OsStr::new(bad))).expect_err(bad);
            assert_eq!(e.code(), "config");
            let msg = e.to_string();
            assert!(msg.contains("PIM_AZ_TIMEOUT"), "{msg}");
            assert!(
                msg.contains("1 to 3600") || msg.contains("from 1 to 3600"),
                "{msg}"
            );
        }
    }

    #[tokio::test]
    async fn a_bad_az_timeout_setting_fails_token_requests_before_az_runs() {
        let source = AzureCliTokenSource::with_timeout_setting(Some(std::ffi::OsStr::new("x")));
        let req = req(None);
        let e = source.access_token(&req).await.expect_err("bad setting");
        assert_eq!(e.code(), "config");
        let msg = e.to_string();
        assert_eq!(msg.matches("configuration error").count(), 1, "{msg}");
        assert!(msg.contains("PIM_AZ_TIMEOUT=\"x\""), "{msg}");
    }
}
