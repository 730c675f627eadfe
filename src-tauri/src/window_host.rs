//! Windows in a short-lived child process.
//!
//! The tray process never hosts a webview: a window is `pim-tray --window <kind> ...`, a
//! second, minimal Tauri process that shows the page and forwards each IPC call to the tray
//! over its stdin/stdout (one JSON object per line), where the ordinary command bodies
//! (`commands.rs`) validate and answer. When the window closes the child exits, and WebKit's
//! processes (web content and network) with it, so the tray returns to its idle footprint.
//!
//! Protocol: the child is started as `pim-tray --window`, and the first line the tray writes is
//! what to show (`{"window":"activate","role":KEY,"title":T}`), so role keys and titles are not
//! on a command line other local users can read. Then (child → tray):
//! `{"id":N,"cmd":"get_activation_form","args":{...}}`; (tray → child): `{"id":N,"ok":<value>}`
//! or `{"id":N,"err":{"code":..,"message":..}}`. The tray is the only party that validates and
//! acts; the child only relays.
//!
//! The tray does not trust the child to behave: lines longer than [`Limits::max_line`], a child
//! that stops reading its answers for [`Limits::write_timeout`], or its end of the pipe closing
//! end the conversation and the process; each call is answered within [`Limits::call_timeout`]
//! and at most [`Limits::max_calls`] run at once.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use tokio::sync::oneshot;

use crate::error::IpcError;
pub use crate::window_protocol::{Ended, Limits, WindowArgs, WindowKind, send_args, serve_child};
use crate::window_protocol::{call_line, parse_answer};

// ------------------------------------------------------------------ child side

/// How long the window waits for one answer (a little longer than the tray's own limit).
const CHILD_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(330);

/// The child's link to the tray: requests on stdout, answers on stdin.
#[derive(Debug, Default)]
pub struct Bridge {
    next: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<Result<Value, IpcError>>>>,
    out: Mutex<()>,
}

use pim_core::sync::lock;

impl Bridge {
    /// Sends one call to the tray and waits for its answer.
    pub async fn call(&self, cmd: &str, args: Value) -> Result<Value, IpcError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        {
            let _guard = lock(&self.out);
            let mut out = std::io::stdout().lock();
            let line = call_line(id, cmd, &args);
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                return Err(IpcError::internal("the tray is gone; close this window"));
            }
        }
        match tokio::time::timeout(CHILD_CALL_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(IpcError::internal("the tray is gone; close this window")),
            Err(_) => {
                lock(&self.pending).remove(&id);
                Err(IpcError::internal("the tray did not answer; try again"))
            }
        }
    }

    /// Reads the tray's answers from stdin until it closes (then exits the process: the tray
    /// has gone away).
    fn read_answers(&'static self) {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            let Some((id, answer)) = parse_answer(&line) else {
                continue;
            };
            if let Some(tx) = lock(&self.pending).remove(&id) {
                let _ = tx.send(answer);
            }
        }
        std::process::exit(0);
    }
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
            name if crate::ipc::Call::NAMES.contains(&name) => {
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
                WindowKind::History => (
                    "history".to_owned(),
                    "history.html".to_owned(),
                    crate::windows::HISTORY_SIZE,
                ),
                WindowKind::Bundle(name) => {
                    let encoded: String =
                        url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
                    (
                        "bundle-1".to_owned(),
                        format!("bundle.html?name={encoded}"),
                        crate::windows::BUNDLE_SIZE,
                    )
                }
                WindowKind::Approval(id) => {
                    let encoded: String =
                        url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
                    (
                        "approval-1".to_owned(),
                        format!("approval.html?id={encoded}"),
                        crate::windows::APPROVAL_SIZE,
                    )
                }
            };
            WebviewWindowBuilder::new(app, label, WebviewUrl::App(url.into()))
                .title(&args.title)
                .inner_size(size.0, size.1)
                .resizable(matches!(
                    args.kind,
                    WindowKind::Settings | WindowKind::History
                ))
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
        WindowKind::History => "history",
        WindowKind::Bundle(_) => "bundle",
        WindowKind::Approval(_) => "approval",
    };
    let exe = std::env::current_exe()?;
    // Menu clicks arrive on the GUI thread: enter the async runtime to spawn the process.
    let runtime = tauri::async_runtime::handle();
    let _guard = runtime.inner().enter();
    let (child, mut stdin, stdout) = start_child(&exe)?;
    let pid = child.id();
    let Some(children) = app.try_state::<Children>() else {
        return Err(std::io::Error::other("the tray is still starting"));
    };
    // Replacing a window of the same kind drops (and kills) the previous process.
    lock(&children.procs).insert(slot, child);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let handler_app = app.clone();
        let ended = match send_args(&mut stdin, &args).await {
            Err(e) => Ended::Broken(format!("sending the window its arguments: {e}")),
            Ok(()) => {
                serve_child(stdout, stdin, Limits::default(), move |cmd, args| {
                    let app = handler_app.clone();
                    async move { dispatch(&app, &cmd, args).await }
                })
                .await
            }
        };
        // The window closed or misbehaved: end and reap its process (unless a newer one took
        // the slot).
        let child = {
            let children = app.state::<Children>();
            let mut procs = lock(&children.procs);
            match procs.get(slot).map(tokio::process::Child::id) {
                Some(id) if id == pid => procs.remove(slot),
                _ => None,
            }
        };
        if let Some(mut c) = child {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
        tracing::info!(window = slot, ?ended, "window process ended");
    });
    Ok(())
}

/// Starts `exe --window` (what to show goes on its stdin: [`send_args`]).
pub fn start_child(
    exe: &std::path::Path,
) -> std::io::Result<(
    tokio::process::Child,
    tokio::process::ChildStdin,
    tokio::process::ChildStdout,
)> {
    let mut child = tokio::process::Command::new(exe)
        .arg("--window")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::Error::other("no pipes to the window process"));
    };
    Ok((child, stdin, stdout))
}

/// Answers one call from a window process with the ordinary command bodies.
pub async fn dispatch<R: Runtime>(
    app: &AppHandle<R>,
    cmd: &str,
    args: Value,
) -> Result<Value, IpcError> {
    crate::commands::dispatch(app, crate::ipc::Call::parse(cmd, args)?).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppState;
    use serde_json::json;
    #[cfg(target_os = "linux")]
    use tokio::io::AsyncBufReadExt;

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

    /// A fake window process: a shell script.
    #[cfg(unix)]
    fn script(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("fake-window");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    #[cfg(unix)]
    async fn echo(cmd: String, args: Value) -> Result<Value, IpcError> {
        match cmd.as_str() {
            "hang" => std::future::pending().await,
            "big" => Ok(Value::String("x".repeat(1024 * 1024))),
            _ => Ok(json!({"cmd": cmd, "args": args})),
        }
    }

    #[cfg(unix)]
    fn limits() -> Limits {
        Limits {
            max_line: 64 * 1024,
            call_timeout: std::time::Duration::from_millis(200),
            write_timeout: std::time::Duration::from_millis(200),
            max_calls: 4,
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn role_keys_go_to_the_child_on_stdin_not_argv() {
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = script(
            dir.path(),
            "read first; printf '%s\\n' \"$first\"; read wait_for_eof",
        );
        let args = WindowArgs {
            kind: WindowKind::Activate("sub-123|role-secret-key".into()),
            title: "Activate Owner — PIM Tray".into(),
        };
        let (child, mut stdin, stdout) = start_child(&exe).expect("spawn");
        send_args(&mut stdin, &args).await.expect("send");
        let pid = child.id().expect("pid");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = lines.next_line().await.expect("read").expect("line");
        assert_eq!(WindowArgs::from_line(&first), Some(args));
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
        let cmdline = String::from_utf8_lossy(&cmdline);
        assert!(cmdline.contains("--window"), "{cmdline}");
        assert!(!cmdline.contains("role-secret-key"), "{cmdline}");
        assert!(!cmdline.contains("Owner"), "{cmdline}");
        drop(stdin);
        drop(child);
    }

    #[cfg(unix)]
    async fn serve_script(body: &str) -> (Ended, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = script(dir.path(), body);
        let args = WindowArgs {
            kind: WindowKind::Settings,
            title: "t".into(),
        };
        let (mut child, mut stdin, stdout) = start_child(&exe).expect("spawn");
        send_args(&mut stdin, &args).await.expect("send");
        let ended = serve_child(stdout, stdin, limits(), echo).await;
        let _ = child.start_kill();
        let _ = child.wait().await;
        (ended, dir)
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn an_endless_line_from_the_child_ends_it() {
        let (ended, _dir) = serve_script("read first; exec cat /dev/zero").await;
        assert_eq!(ended, Ended::LineTooLong);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_child_dying_mid_call_ends_the_conversation() {
        let (ended, _dir) =
            serve_script(r#"read first; echo '{"id":1,"cmd":"hang"}'; exit 3"#).await;
        assert_eq!(ended, Ended::Eof);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn calls_time_out_and_answers_reach_the_child() {
        let (ended, dir) = serve_script(
            r#"read first
echo '{"id":7,"cmd":"hang"}'
read answer; printf '%s
' "$answer" > "$(dirname "$0")/answers"
echo 'not json'
echo '{"id":8,"cmd":"hello","args":{"a":1}}'
read answer; printf '%s
' "$answer" >> "$(dirname "$0")/answers""#,
        )
        .await;
        assert_eq!(ended, Ended::Eof);
        let answers = std::fs::read_to_string(dir.path().join("answers")).expect("answers");
        let answers: Vec<Value> = answers
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(answers.len(), 2, "{answers:?}");
        assert_eq!(answers[0]["id"], 7);
        assert_eq!(answers[0]["err"]["code"], "internal");
        assert_eq!(
            answers[1],
            json!({"id": 8, "ok": {"cmd": "hello", "args": {"a": 1}}})
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_child_that_stops_reading_is_ended() {
        let (ended, _dir) =
            serve_script(r#"read first; echo '{"id":1,"cmd":"big"}'; exec sleep 600"#).await;
        assert!(matches!(ended, Ended::Broken(_)), "{ended:?}");
    }
}
