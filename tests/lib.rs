//! Shared helpers for the workspace end-to-end tests: a fresh simulator per test (in process,
//! real loopback HTTP), the real `pim` binary run as a separate process from a clean first-run
//! environment, the simulator's test-control API, and a scan for leaked secrets.
//!
//! The CLI keeps its refresh token in the OS keychain, so these tests need a Secret Service
//! (`.ci/test.sh` runs them inside a private `dbus-run-session` with an unlocked
//! gnome-keyring). Each test uses its own random client id, so parallel tests never share a
//! keychain entry.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

/// The output of one `pim` run.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Parses stdout as JSON (panics with the text when it is not).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A directory holding the built binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/e2e-<hash> -> target/debug
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// Path of a workspace binary (`pim`, `pim-sim`), which must have been built.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace` first",
        p.display()
    );
    p
}

/// Whether a Secret Service is reachable (set by `.ci/session.sh`).
pub fn secret_service_available() -> bool {
    std::env::var_os("PIM_TEST_SECRET_SERVICE").is_some()
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
}

/// One simulator plus a clean first-run environment for `pim`.
#[derive(Debug)]
pub struct TestEnv {
    /// The simulator (stopped on drop).
    pub sim: pim_sim::SimHandle,
    /// Its base URL.
    pub base: String,
    /// Scratch folder: `home/`, `xdg-config/`, and `config/` (PIM_CONFIG_DIR, not created).
    pub scratch: tempfile::TempDir,
    /// The app registration id used by this test (random: isolates keychain entries).
    pub client_id: String,
    /// Every `pim` run so far (for the secret scan).
    pub runs: std::sync::Mutex<Vec<Run>>,
    http: reqwest::Client,
}

impl TestEnv {
    /// A simulator with the demo scenario.
    pub async fn demo() -> TestEnv {
        TestEnv::start(pim_sim::Scenario::builtin("demo").unwrap()).await
    }

    /// A simulator with `scenario`.
    pub async fn start(scenario: pim_sim::Scenario) -> TestEnv {
        assert!(
            secret_service_available(),
            "this test needs a Secret Service: run it through `bash .ci/test.sh` \
             (or inside dbus-run-session with gnome-keyring unlocked and PIM_TEST_SECRET_SERVICE=1)"
        );
        let opts = pim_sim::SimOptions {
            scenario,
            ..pim_sim::SimOptions::default()
        };
        let sim = pim_sim::Simulator::start(opts).await.unwrap();
        let base = sim.base_url();
        let scratch = tempfile::tempdir().unwrap();
        for d in ["home", "xdg-config", "xdg-data", "xdg-cache"] {
            std::fs::create_dir_all(scratch.path().join(d)).unwrap();
        }
        TestEnv {
            sim,
            base,
            scratch,
            client_id: uuid_like(),
            runs: std::sync::Mutex::new(Vec::new()),
            http: reqwest::Client::new(),
        }
    }

    /// `PIM_CONFIG_DIR` of this test (does not exist before the first run).
    pub fn config_dir(&self) -> PathBuf {
        self.scratch.path().join("config").join("pim")
    }

    /// Runs `pim args…` from a clean environment (no terminal, empty HOME and XDG folders).
    pub async fn pim(&self, args: &[&str]) -> Run {
        self.pim_with(args, &[]).await
    }

    /// Like [`TestEnv::pim`] with extra environment variables.
    pub async fn pim_with(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        let s = self.scratch.path();
        let mut cmd = tokio::process::Command::new(bin("pim"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", s.join("home"))
            .env("XDG_CONFIG_HOME", s.join("xdg-config"))
            .env("XDG_DATA_HOME", s.join("xdg-data"))
            .env("XDG_CACHE_HOME", s.join("xdg-cache"))
            .env("PIM_CONFIG_DIR", self.config_dir())
            .env("PIM_AUTHORITY_HOST", &self.base)
            .env("PIM_GRAPH_ENDPOINT", &self.base)
            .env("PIM_ARM_ENDPOINT", &self.base)
            .env("PIM_CLIENT_ID", &self.client_id)
            .env("BROWSER", "curl -sSL -o /dev/null")
            // The most verbose level, so the leak scans ([`TestEnv::assert_no_leak`]) see
            // everything any crate could log.
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for var in ["DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "TMPDIR"] {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("pim did not finish within 120 s")
            .unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.runs.lock().unwrap().push(run.clone());
        run
    }

    /// A `BROWSER` command that plays a user who cancels the sign-in: it answers the app's
    /// loopback redirect with `error=access_denied&error_subcode=cancel`.
    pub fn cancelling_browser(&self) -> String {
        let script = self.scratch.path().join("cancel-browser.py");
        std::fs::write(
            &script,
            r#"import sys, urllib.error, urllib.parse, urllib.request
# Like a browser: open what we are given (a local one-shot page), read where it redirects.
class Stop(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None
try:
    urllib.request.build_opener(Stop).open(sys.argv[1])
    raise SystemExit("no redirect to the authorize URL")
except urllib.error.HTTPError as e:
    authorize = e.headers["Location"]
q = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
back = q["redirect_uri"][0] + "?" + urllib.parse.urlencode({
    "error": "access_denied", "error_subcode": "cancel",
    "error_description": "AADSTS50058: the user cancelled", "state": q["state"][0]})
urllib.request.urlopen(back).read()
"#,
        )
        .unwrap();
        format!("python3 {}", script.display())
    }

    /// `pim login` through the browser stand-in; panics unless it succeeds.
    pub async fn login(&self) {
        self.pim(&["login"]).await.expect_code(0);
    }

    /// `pim roles --json` as a list of objects.
    pub async fn roles(&self) -> Vec<Value> {
        let run = self.pim(&["roles", "--json"]).await;
        run.expect_code(0);
        match run.json() {
            Value::Array(v) => v,
            other => panic!("roles --json is not an array: {other}"),
        }
    }

    /// Calls the simulator's test-control API.
    pub async fn ctl(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{}", self.base, path);
        let mut req = self.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            &url,
        );
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{method} {path} -> {status}: {text}");
        if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }
    }

    /// Moves the simulator's clock forward.
    pub async fn advance(&self, seconds: i64) {
        self.ctl(
            "POST",
            "/_sim/clock/advance",
            Some(serde_json::json!({ "seconds": seconds })),
        )
        .await;
    }

    /// Injects a fault (see the simulator's control API).
    pub async fn fault(&self, spec: Value) {
        self.ctl("POST", "/_sim/faults", Some(spec)).await;
    }

    /// The simulator's request log.
    pub async fn requests(&self) -> Vec<Value> {
        match self.ctl("GET", "/_sim/requests", None).await {
            Value::Array(v) => v,
            other => panic!("unexpected request log: {other}"),
        }
    }

    /// Clears the simulator's request log.
    pub async fn clear_requests(&self) {
        self.ctl("DELETE", "/_sim/requests", None).await;
    }

    /// The keychain items of this test's client id, read straight from the Secret Service
    /// with `secret-tool` (independent of the code under test): (username, secret).
    pub fn keychain_items(&self) -> Vec<(String, String)> {
        // `secret-tool search` prints attributes on stderr and secrets on stdout: take the
        // user names from the listing, then look each secret up by its attributes.
        let out = std::process::Command::new("secret-tool")
            .args(["search", "--all", "--unlock", "service", "pim-tray"])
            .output()
            .expect("secret-tool (package libsecret-tools) must be installed");
        let listing = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut users: Vec<String> = listing
            .lines()
            .filter_map(|l| l.strip_prefix("attribute.username = "))
            .filter(|u| u.contains(&self.client_id))
            .map(str::to_owned)
            .collect();
        users.sort();
        users.dedup();
        users
            .into_iter()
            .map(|u| {
                let out = std::process::Command::new("secret-tool")
                    .args(["lookup", "service", "pim-tray", "username", &u])
                    .output()
                    .unwrap();
                (u, String::from_utf8_lossy(&out.stdout).into_owned())
            })
            .collect()
    }

    /// Asserts that no secret in `secrets` (nor anything shaped like a JWT access token)
    /// appears in any file under the config folder or in any `pim` output so far.
    #[track_caller]
    pub fn assert_no_leak(&self, secrets: &[String]) {
        let mut haystacks: Vec<(String, String)> = Vec::new();
        for (i, r) in self.runs.lock().unwrap().iter().enumerate() {
            haystacks.push((format!("run {i} stdout"), r.stdout.clone()));
            haystacks.push((format!("run {i} stderr"), r.stderr.clone()));
        }
        let mut stack = vec![self.scratch.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(bytes) = std::fs::read(&p) {
                    haystacks.push((
                        p.display().to_string(),
                        String::from_utf8_lossy(&bytes).into_owned(),
                    ));
                }
            }
        }
        for (name, text) in &haystacks {
            for s in secrets.iter().filter(|s| s.len() >= 16) {
                assert!(!text.contains(s.as_str()), "a secret leaked into {name}");
            }
            assert!(
                !looks_like_jwt(text),
                "something shaped like an access token leaked into {name}"
            );
        }
    }
}

/// Whether `text` holds a JWT-shaped string (`eyJ…​.eyJ…​.`).
pub fn looks_like_jwt(text: &str) -> bool {
    text.match_indices("eyJ").any(|(i, _)| {
        let rest = &text[i..];
        let token: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        let parts: Vec<&str> = token.split('.').collect();
        parts.len() >= 3
            && parts[0].len() > 10
            && parts[1].starts_with("eyJ")
            && parts[1].len() > 10
    })
}

fn uuid_like() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The role named `name` (display name, exact) in `roles --json` output.
#[track_caller]
pub fn role<'a>(roles: &'a [Value], name: &str) -> &'a Value {
    let found: Vec<&Value> = roles.iter().filter(|r| r["name"] == name).collect();
    assert!(!found.is_empty(), "no role `{name}` in {roles:#?}");
    found[0]
}

/// The roles named `name` (several scopes or kinds may share a name).
pub fn roles_named<'a>(roles: &'a [Value], name: &str) -> Vec<&'a Value> {
    roles.iter().filter(|r| r["name"] == name).collect()
}

/// A browser stand-in for in-process sign-ins: GETs the authorize URL without following the
/// redirect, then delivers the `Location` (the code) to the app's loopback listener.
#[derive(Debug, Default)]
pub struct FollowBrowser;

impl pim_auth::BrowserOpener for FollowBrowser {
    fn open(&self, url: &str) -> std::io::Result<()> {
        let url = url.to_owned();
        tokio::runtime::Handle::current().spawn(async move {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let resp = http.get(&url).send().await.unwrap();
            let location = resp.headers()["location"].to_str().unwrap().to_owned();
            http.get(&location).send().await.unwrap();
        });
        Ok(())
    }
}

/// Signs the simulator's user in, in process, with tokens kept in memory (no keychain):
/// returns the account and its token source.
pub async fn sign_in_in_memory(
    base: &str,
    config_dir: &Path,
) -> (
    pim_auth::Account,
    std::sync::Arc<dyn pim_core::token::TokenSource>,
    pim_core::config::Endpoints,
) {
    use std::sync::Arc;
    let mut vars = std::collections::HashMap::new();
    for k in [
        "PIM_AUTHORITY_HOST",
        "PIM_GRAPH_ENDPOINT",
        "PIM_ARM_ENDPOINT",
    ] {
        vars.insert(k.to_owned(), base.to_owned());
    }
    let endpoints = pim_core::config::Endpoints::from_env(&pim_core::config::MapEnv(vars)).unwrap();
    let mut opts = pim_auth::AuthOptions::with_secret_store(
        endpoints.clone(),
        uuid_like(),
        config_dir.to_path_buf(),
        Arc::new(pim_auth::MemoryStore::new()),
    );
    opts.browser = Arc::new(FollowBrowser);
    opts.allow_interactive = true;
    let auth = pim_auth::Auth::new(opts).unwrap();
    let account = auth
        .login_interactive(pim_auth::LoginOptions::default())
        .await
        .unwrap();
    let tokens = auth.token_source(&account);
    (account, tokens, endpoints)
}
