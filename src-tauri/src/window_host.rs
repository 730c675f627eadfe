//! Windows in a short-lived child process.
//!
//! The tray process never hosts a webview: a window is `pim-tray --window <kind> ...`, a
//! second, minimal Tauri process that shows the page and forwards each IPC call to the tray
//! over its stdin/stdout (one JSON object per line), where the ordinary command bodies
//! (`commands.rs`) validate and answer. When the window closes the child exits, and WebKit's
//! processes (web content and network) with it, so the tray returns to its idle footprint.
//!
//! Protocol (child → tray): `{"id":N,"cmd":"get_activation_form","args":{...}}`;
//! (tray → child): `{"id":N,"ok":<value>}` or `{"id":N,"err":{"code":..,"message":..}}`.
//! The tray is the only party that validates and acts; the child only relays.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::AppState;
use crate::error::IpcError;

/// Which window a child process shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowKind {
    /// The activation window for a role key.
    Activate(String),
    /// The settings window.
    Settings,
}

/// Arguments of a child process: `--window activate --role KEY --title T` or
/// `--window settings --title T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowArgs {
    /// What to show.
    pub kind: WindowKind,
    /// Window title.
    pub title: String,
}

impl WindowArgs {
    /// Command-line arguments for the child.
    pub fn to_args(&self) -> Vec<String> {
        let mut v = vec!["--window".to_owned()];
        match &self.kind {
            WindowKind::Activate(key) => {
                v.extend(["activate".into(), "--role".into(), key.clone()]);
            }
            WindowKind::Settings => v.push("settings".into()),
        }
        v.extend(["--title".into(), self.title.clone()]);
        v
    }

    /// Parses the arguments after `--window`.
    pub fn parse(args: &[String]) -> Option<WindowArgs> {
        let mut kind = None;
        let mut role = None;
        let mut title = String::from("PIM Tray");
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--window" => kind = it.next().cloned(),
                "--role" => role = it.next().cloned(),
                "--title" => title = it.next().cloned().unwrap_or_default(),
                _ => {}
            }
        }
        let kind = match kind.as_deref()? {
            "activate" => WindowKind::Activate(role?),
            "settings" => WindowKind::Settings,
            _ => return None,
        };
        Some(WindowArgs { kind, title })
    }
}

// ------------------------------------------------------------------ child side

/// The child's link to the tray: requests on stdout, answers on stdin.
#[derive(Debug, Default)]
pub struct Bridge {
    next: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<Result<Value, IpcError>>>>,
    out: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Bridge {
    /// Sends one call to the tray and waits for its answer.
    pub async fn call(&self, cmd: &str, args: Value) -> Result<Value, IpcError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        {
            let _guard = lock(&self.out);
            let mut out = std::io::stdout().lock();
            let line = json!({"id": id, "cmd": cmd, "args": args}).to_string();
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                return Err(IpcError::internal("the tray is gone; close this window"));
            }
        }
        rx.await
            .unwrap_or_else(|_| Err(IpcError::internal("the tray is gone; close this window")))
    }

    /// Reads the tray's answers from stdin until it closes (then exits the process: the tray
    /// has gone away).
    fn read_answers(&'static self) {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let Some(id) = v.get("id").and_then(Value::as_u64) else {
                continue;
            };
            let answer = match v.get("err") {
                Some(e) => Err(IpcError {
                    code: error_code(e.get("code").and_then(Value::as_str).unwrap_or("internal")),
                    message: e
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                }),
                None => Ok(v.get("ok").cloned().unwrap_or(Value::Null)),
            };
            if let Some(tx) = lock(&self.pending).remove(&id) {
                let _ = tx.send(answer);
            }
        }
        std::process::exit(0);
    }
}

/// Maps a code received from the tray back to the static code strings the UI knows.
pub(crate) fn error_code(code: &str) -> &'static str {
    const CODES: [&str; 26] = [
        "signInRequired",
        "azureCliSignInRequired",
        "stepUpRequired",
        "policyViolation",
        "invalidInput",
        "notFound",
        "ambiguous",
        "throttled",
        "api",
        "transport",
        "invalidResponse",
        "config",
        "keychain",
        "browserUnavailable",
        "notEligible",
        "tooEarly",
        "invalidState",
        "uncertain",
        "consentRequired",
        "adminConsentRequired",
        "appBlocked",
        "appNotFound",
        "conditionalAccessBlocked",
        "invalidClient",
        "signInDeclined",
        "internal",
    ];
    CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("internal")
}

/// The child's IPC handler: the same command names as the tray's, relayed to the tray (the
/// capability still decides which commands the page may call).
fn relay_handler<R: Runtime>(
    bridge: &'static Bridge,
) -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    move |invoke| {
        let cmd = invoke.message.command().to_owned();
        match cmd.as_str() {
            "close_window" => {
                let _ = invoke.message.webview().window().destroy();
                invoke.resolver.resolve(());
                true
            }
            "get_activation_form"
            | "activate_role"
            | "activation_progress"
            | "get_settings"
            | "save_settings"
            | "get_accounts"
            | "use_account"
            | "remove_account"
            | "add_account"
            | "set_tenant_shown" => {
                let args = match invoke.message.payload() {
                    tauri::ipc::InvokeBody::Json(v) => v.clone(),
                    tauri::ipc::InvokeBody::Raw(_) => Value::Null,
                };
                invoke.resolver.respond_async(async move {
                    bridge
                        .call(&cmd, args)
                        .await
                        .map_err(tauri::ipc::InvokeError::from)
                });
                true
            }
            _ => false,
        }
    }
}

/// Runs a window process until its window closes.
pub fn run_child(args: WindowArgs) -> anyhow::Result<()> {
    if let Some(why) = crate::windows::webview_unavailable() {
        anyhow::bail!(why);
    }
    let bridge: &'static Bridge = Box::leak(Box::default());
    std::thread::spawn(move || bridge.read_answers());
    tauri::Builder::default()
        .invoke_handler(relay_handler(bridge))
        .setup(move |app| {
            // The window belongs to the menu-bar app: no Dock icon for its process either.
            #[cfg(target_os = "macos")]
            app.set_activation_policy(tauri::ActivationPolicy::Accessory);
            let (label, url, size) = match &args.kind {
                WindowKind::Activate(key) => {
                    let encoded: String =
                        url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
                    (
                        "activate-1".to_owned(),
                        format!("activate.html?role={encoded}"),
                        crate::windows::ACTIVATE_SIZE,
                    )
                }
                WindowKind::Settings => (
                    "settings".to_owned(),
                    "settings.html".to_owned(),
                    crate::windows::SETTINGS_SIZE,
                ),
            };
            WebviewWindowBuilder::new(app, label, WebviewUrl::App(url.into()))
                .title(&args.title)
                .inner_size(size.0, size.1)
                .resizable(matches!(args.kind, WindowKind::Settings))
                .center()
                .focused(true)
                .build()?;
            Ok(())
        })
        .build(crate::context())?
        .run(|_app, _event| {});
    Ok(())
}

// ------------------------------------------------------------------ tray side

/// The running window processes (at most one per kind); killed when the tray exits.
#[derive(Debug, Default)]
pub struct Children {
    procs: Mutex<HashMap<&'static str, tokio::process::Child>>,
}

impl Children {
    /// Whether a window of this kind is open.
    pub fn is_running(&self, slot: &'static str) -> bool {
        let mut procs = lock(&self.procs);
        match procs.get_mut(slot) {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

/// Starts a window process and answers its calls.
pub fn spawn<R: Runtime>(app: &AppHandle<R>, args: WindowArgs) -> std::io::Result<()> {
    let slot = match args.kind {
        WindowKind::Activate(_) => "activate",
        WindowKind::Settings => "settings",
    };
    let exe = std::env::current_exe()?;
    // Menu clicks arrive on the GUI thread: enter the async runtime to spawn the process.
    let runtime = tauri::async_runtime::handle();
    let _guard = runtime.inner().enter();
    let mut child = tokio::process::Command::new(exe)
        .args(args.to_args())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::Error::other("no pipes to the window process"));
    };
    let pid = child.id();
    let Some(children) = app.try_state::<Children>() else {
        return Err(std::io::Error::other("the tray is still starting"));
    };
    // Replacing a window of the same kind drops (and kills) the previous process.
    lock(&children.procs).insert(slot, child);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        // Calls are answered concurrently (a window waits for progress while its activation
        // runs); answers share the pipe, one line each.
        let stdin = std::sync::Arc::new(tokio::sync::Mutex::new(stdin));
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let Ok(req) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let app = app.clone();
            let stdin = stdin.clone();
            tauri::async_runtime::spawn(async move {
                let id = req.get("id").cloned().unwrap_or(Value::Null);
                let cmd = req.get("cmd").and_then(Value::as_str).unwrap_or_default();
                let args = req.get("args").cloned().unwrap_or(Value::Null);
                let answer = match dispatch(&app, cmd, args).await {
                    Ok(v) => json!({"id": id, "ok": v}),
                    Err(e) => json!({"id": id, "err": e}),
                };
                let mut out = answer.to_string();
                out.push('\n');
                let mut stdin = stdin.lock().await;
                let _ = stdin.write_all(out.as_bytes()).await;
                let _ = stdin.flush().await;
            });
        }
        // The window closed: reap its process (unless a newer one took the slot).
        let ended = {
            let children = app.state::<Children>();
            let mut procs = lock(&children.procs);
            match procs.get(slot).map(tokio::process::Child::id) {
                Some(id) if id == pid => procs.remove(slot),
                _ => None,
            }
        };
        if let Some(mut c) = ended {
            let _ = c.wait().await;
        }
        tracing::info!(window = slot, "window process ended");
    });
    Ok(())
}

fn arg<T: serde::de::DeserializeOwned>(args: &Value, name: &str) -> Result<T, IpcError> {
    serde_json::from_value(args.get(name).cloned().unwrap_or(Value::Null))
        .map_err(|e| IpcError::invalid(format!("invalid `{name}`: {e}")))
}

fn to_value<T: serde::Serialize>(v: T) -> Result<Value, IpcError> {
    serde_json::to_value(v).map_err(|e| IpcError::internal(e.to_string()))
}

/// Answers one call from a window process with the ordinary command bodies.
pub async fn dispatch<R: Runtime>(
    app: &AppHandle<R>,
    cmd: &str,
    args: Value,
) -> Result<Value, IpcError> {
    let state = app.state::<AppState>();
    match cmd {
        "get_activation_form" => {
            to_value(crate::commands::activation_form(&state, arg(&args, "roleKey")?).await?)
        }
        "activate_role" => {
            to_value(crate::commands::activate(&state, arg(&args, "request")?).await?)
        }
        "activation_progress" => to_value(
            crate::commands::progress(&state, arg::<Option<String>>(&args, "seen")?).await?,
        ),
        "get_settings" => to_value(crate::commands::settings_dto(&state)),
        "get_accounts" => to_value(crate::commands::accounts(&state)?),
        "use_account" => {
            to_value(crate::commands::account_action(&state, "use", arg(&args, "key")?).await?)
        }
        "remove_account" => {
            to_value(crate::commands::account_action(&state, "remove", arg(&args, "key")?).await?)
        }
        "add_account" => to_value(crate::commands::add(&state, arg(&args, "cloud")?).await?),
        "set_tenant_shown" => to_value(
            crate::commands::tenant_shown(
                &state,
                arg(&args, "key")?,
                arg(&args, "tenantId")?,
                arg(&args, "shown")?,
            )
            .await?,
        ),
        "save_settings" => to_value(crate::commands::save(app, &state, arg(&args, "settings")?)?),
        other => Err(IpcError::invalid(format!("unknown command `{other}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_args_round_trip() {
        for kind in [WindowKind::Activate("a|b c".into()), WindowKind::Settings] {
            let a = WindowArgs {
                kind,
                title: "Activate X — PIM Tray".into(),
            };
            assert_eq!(WindowArgs::parse(&a.to_args()), Some(a));
        }
        assert_eq!(WindowArgs::parse(&["--window".into(), "evil".into()]), None);
        assert_eq!(error_code("policyViolation"), "policyViolation");
        assert_eq!(error_code("made-up"), "internal");
    }

    #[test]
    fn relayed_calls_are_validated_and_answered_by_the_tray() {
        use crate::engine::FakeEngine;
        let engine = std::sync::Arc::new(FakeEngine::global_reader());
        let dir = tempfile::tempdir().expect("tempdir");
        let app = tauri::test::mock_builder()
            .manage(AppState::new(engine.clone(), dir.path().to_owned(), true))
            .build(tauri::test::mock_context(tauri::test::noop_assets()))
            .expect("app");
        let h = app.handle();
        let form = tauri::async_runtime::block_on(dispatch(
            h,
            "get_activation_form",
            json!({"roleKey": "gr"}),
        ))
        .expect("form");
        assert_eq!(form["role"]["title"], "Global Reader");
        let err = tauri::async_runtime::block_on(dispatch(
            h,
            "activate_role",
            json!({"request": {"roleKey": "gr", "durationMinutes": 60, "extra": 1}}),
        ))
        .expect_err("unknown field");
        assert_eq!(err.code, "invalidInput");
        let ok = tauri::async_runtime::block_on(dispatch(
            h,
            "activate_role",
            json!({"request": {"roleKey": "gr", "justification": "x", "durationMinutes": 60}}),
        ))
        .expect("activated");
        assert_eq!(ok["state"], "active");
        let err = tauri::async_runtime::block_on(dispatch(h, "delete_everything", json!({})))
            .expect_err("unknown command");
        assert_eq!(err.code, "invalidInput");
    }
}
