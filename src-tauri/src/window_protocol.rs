//! The window processes' wire protocol, without Tauri: what the tray tells a window process
//! to show ([`WindowArgs`], its first stdin line), the call and answer lines, and the tray's
//! side of the conversation ([`serve_child`]) with its limits. `window_host` runs it between
//! real processes; the fuzz target `window_ipc` compiles this file on its own.
//!
//! Lines (one JSON object each, `\n`-terminated):
//! - tray → child, first: `{"window":"activate","role":KEY,"title":T}` or
//!   `{"window":"settings","title":T}` or `{"window":"history","title":T}` or
//!   `{"window":"bundle","bundle":NAME,"title":T}` or `{"window":"approval","approval":ID,"title":T}`;
//! - child → tray: `{"id":N,"cmd":NAME,"args":{...}}` ([`call_line`], [`parse_call`]);
//! - tray → child: `{"id":N,"ok":VALUE}` or `{"id":N,"err":{"code":C,"message":M}}`
//!   ([`answer_line`], [`parse_answer`]).
//!
//! A line that is not JSON, or not an object of that shape, is skipped; a line longer than
//! [`Limits::max_line`] ends the conversation.

use std::io::{BufRead, Read};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use pim_core::ErrorCode;

use crate::error::IpcError;

/// Which window a child process shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowKind {
    /// The activation window for a role key.
    Activate(String),
    /// The settings window.
    Settings,
    /// The history window (my requests).
    History,
    /// The window of a bundle (by name): one form for all its roles.
    Bundle(String),
    /// The decision window for a request of the approver's inbox (by id).
    Approval(String),
}

/// What a child process shows; sent as the first line of its stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowArgs {
    /// What to show.
    pub kind: WindowKind,
    /// Window title.
    pub title: String,
}

impl WindowArgs {
    /// The first line the tray writes to the child (without its newline).
    pub fn to_line(&self) -> String {
        match &self.kind {
            WindowKind::Activate(key) => {
                json!({"window": "activate", "role": key, "title": self.title})
            }
            WindowKind::Settings => json!({"window": "settings", "title": self.title}),
            WindowKind::History => json!({"window": "history", "title": self.title}),
            WindowKind::Bundle(name) => {
                json!({"window": "bundle", "bundle": name, "title": self.title})
            }
            WindowKind::Approval(id) => {
                json!({"window": "approval", "approval": id, "title": self.title})
            }
        }
        .to_string()
    }

    /// Parses the first line of the child's stdin.
    pub fn from_line(line: &str) -> Option<WindowArgs> {
        let v: Value = serde_json::from_str(line.trim_end()).ok()?;
        let title = v
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("PIM Tray")
            .to_owned();
        let kind = match v.get("window").and_then(Value::as_str)? {
            "activate" => WindowKind::Activate(v.get("role").and_then(Value::as_str)?.to_owned()),
            "settings" => WindowKind::Settings,
            "history" => WindowKind::History,
            "bundle" => WindowKind::Bundle(v.get("bundle").and_then(Value::as_str)?.to_owned()),
            "approval" => {
                WindowKind::Approval(v.get("approval").and_then(Value::as_str)?.to_owned())
            }
            _ => return None,
        };
        Some(WindowArgs { kind, title })
    }

    /// Reads the first line of this process's stdin (child side).
    pub fn from_stdin() -> Option<WindowArgs> {
        let mut line = String::new();
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        (&mut lock).take(64 * 1024).read_line(&mut line).ok()?;
        WindowArgs::from_line(&line)
    }
}

/// One call read from a window process.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The child's id for the call, echoed in the answer (any JSON value; `null` if absent).
    pub id: Value,
    /// The command name (empty if absent: the handler refuses it as unknown).
    pub cmd: String,
    /// The command's arguments (`null` if absent).
    pub args: Value,
}

/// A call line (child → tray), without its newline.
pub fn call_line(id: u64, cmd: &str, args: &Value) -> String {
    json!({"id": id, "cmd": cmd, "args": args}).to_string()
}

/// Parses a call line; `None` for anything that is not a JSON object.
pub fn parse_call(line: &[u8]) -> Option<Call> {
    let req = serde_json::from_slice::<Value>(line).ok()?;
    let req = req.as_object()?;
    Some(Call {
        id: req.get("id").cloned().unwrap_or(Value::Null),
        cmd: req
            .get("cmd")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        args: req.get("args").cloned().unwrap_or(Value::Null),
    })
}

/// An answer line (tray → child), with its newline.
pub fn answer_line(id: Value, result: Result<Value, IpcError>) -> String {
    let answer = match result {
        Ok(v) => json!({"id": id, "ok": v}),
        Err(e) => json!({"id": id, "err": e}),
    };
    format!("{answer}\n")
}

/// Parses an answer line (child side): the call's id and its result. `None` for a line that
/// is not JSON or has no numeric id. An unknown error code becomes `internal`.
pub fn parse_answer(line: &str) -> Option<(u64, Result<Value, IpcError>)> {
    let v = serde_json::from_str::<Value>(line).ok()?;
    let id = v.get("id").and_then(Value::as_u64)?;
    let answer = match v.get("err") {
        // A code this version does not know reads as `internal` (ErrorCode's deserialiser).
        Some(e) => Err(IpcError {
            code: e
                .get("code")
                .and_then(|c| serde_json::from_value(c.clone()).ok())
                .unwrap_or(ErrorCode::Internal),
            message: e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }),
        None => Ok(v.get("ok").cloned().unwrap_or(Value::Null)),
    };
    Some((id, answer))
}

/// Writes what to show as the child's first line.
pub async fn send_args<W: tokio::io::AsyncWrite + Unpin>(
    to_child: &mut W,
    args: &WindowArgs,
) -> std::io::Result<()> {
    let mut first = args.to_line();
    first.push('\n');
    let write = async {
        to_child.write_all(first.as_bytes()).await?;
        to_child.flush().await
    };
    tokio::time::timeout(Limits::default().write_timeout, write)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

/// Bounds on a window process's conversation with the tray.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest line read from the child.
    pub max_line: usize,
    /// How long one call may take before it is answered with an error.
    pub call_timeout: std::time::Duration,
    /// How long the child may leave an answer unread before it is ended.
    pub write_timeout: std::time::Duration,
    /// Calls answered at once; further lines wait.
    pub max_calls: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 1024 * 1024,
            call_timeout: std::time::Duration::from_secs(300),
            write_timeout: std::time::Duration::from_secs(10),
            max_calls: 16,
        }
    }
}

/// Why a conversation with a window process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The child closed its stdout (it exited, or its window closed).
    Eof,
    /// A line longer than [`Limits::max_line`].
    LineTooLong,
    /// Reading from or writing to the child failed, or it left an answer unread too long.
    Broken(String),
}

/// Reads calls from `from_child`, answers each with `handler` (concurrently) on `to_child`,
/// until the child closes its end or misbehaves. The caller then kills the process.
pub async fn serve_child<Rd, Wr, H, F>(
    from_child: Rd,
    to_child: Wr,
    limits: Limits,
    handler: H,
) -> Ended
where
    Rd: tokio::io::AsyncRead + Unpin,
    Wr: tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(String, Value) -> F,
    F: std::future::Future<Output = Result<Value, IpcError>> + Send + 'static,
{
    use tokio::io::AsyncReadExt;
    let mut reader = tokio::io::BufReader::new(from_child);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(limits.max_calls.max(1));
    // One writer: answers share the pipe, one line each; a child that stops reading is ended.
    let mut writer = tokio::spawn(async move {
        let mut to_child = to_child;
        while let Some(line) = rx.recv().await {
            let write = async {
                to_child.write_all(line.as_bytes()).await?;
                to_child.flush().await
            };
            match tokio::time::timeout(limits.write_timeout, write).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Ended::Broken(format!("writing to the window: {e}")),
                Err(_) => return Ended::Broken("the window does not read its answers".into()),
            }
        }
        Ended::Eof
    });
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_calls.max(1)));
    let mut calls = tokio::task::JoinSet::new();
    let mut line = Vec::new();
    let ended = loop {
        while calls.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break Ended::Broken("closed".into()),
            },
            w = &mut writer => break w.unwrap_or_else(|e| Ended::Broken(e.to_string())),
        };
        line.clear();
        let limit = u64::try_from(limits.max_line)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let mut limited = (&mut reader).take(limit);
        let read = tokio::select! {
            r = limited.read_until(b'\n', &mut line) => r,
            w = &mut writer => break w.unwrap_or_else(|e| Ended::Broken(e.to_string())),
        };
        match read {
            Ok(0) => break Ended::Eof,
            Ok(_) if line.last() != Some(&b'\n') && line.len() > limits.max_line => {
                break Ended::LineTooLong;
            }
            Ok(_) => {}
            Err(e) => break Ended::Broken(format!("reading from the window: {e}")),
        }
        let Some(Call { id, cmd, args }) = parse_call(&line) else {
            continue;
        };
        let call = handler(cmd, args);
        let tx = tx.clone();
        let timeout = limits.call_timeout;
        calls.spawn(async move {
            let result = tokio::time::timeout(timeout, call)
                .await
                .unwrap_or_else(|_| {
                    Err(IpcError::internal(format!(
                        "the tray did not finish this within {} s",
                        timeout.as_secs()
                    )))
                });
            let _ = tx.send(answer_line(id, result)).await;
            drop(permit);
        });
    };
    calls.abort_all();
    writer.abort();
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_args_round_trip() {
        for kind in [
            WindowKind::Activate("a|b c\n\"".into()),
            WindowKind::Settings,
            WindowKind::History,
            WindowKind::Bundle("On call".into()),
            WindowKind::Approval("entra:t%3A1:a 1:s1".into()),
        ] {
            let a = WindowArgs {
                kind,
                title: "Activate X — PIM Tray".into(),
            };
            assert!(!a.to_line().contains('\n'));
            assert_eq!(WindowArgs::from_line(&a.to_line()), Some(a));
        }
        assert_eq!(WindowArgs::from_line(r#"{"window":"evil"}"#), None);
        assert_eq!(WindowArgs::from_line(r#"{"window":"activate"}"#), None);
        assert_eq!(WindowArgs::from_line(r#"{"window":"approval"}"#), None);
        assert_eq!(WindowArgs::from_line("not json"), None);
    }

    #[test]
    fn calls_and_answers_round_trip() {
        let line = call_line(7, "activate_role", &json!({"request": {"roleKey": "k"}}));
        assert!(!line.contains('\n'));
        assert_eq!(
            parse_call(line.as_bytes()),
            Some(Call {
                id: json!(7),
                cmd: "activate_role".into(),
                args: json!({"request": {"roleKey": "k"}}),
            })
        );
        // Not an object, not JSON: skipped. Missing parts: null id, empty command.
        assert_eq!(parse_call(b"5"), None);
        assert_eq!(parse_call(b"{"), None);
        assert_eq!(
            parse_call(br#"{"args":[1]}"#),
            Some(Call {
                id: Value::Null,
                cmd: String::new(),
                args: json!([1]),
            })
        );

        let ok = answer_line(json!(3), Ok(json!({"state": "active"})));
        assert!(ok.ends_with('\n') && ok.matches('\n').count() == 1);
        assert_eq!(
            parse_answer(ok.trim_end()),
            Some((3, Ok(json!({"state": "active"}))))
        );
        let err = answer_line(json!(4), Err(IpcError::invalid("line\nbreak")));
        assert_eq!(err.matches('\n').count(), 1);
        assert_eq!(
            parse_answer(err.trim_end()),
            Some((4, Err(IpcError::invalid("line\nbreak"))))
        );
        // An unknown code is `internal`; no numeric id, no answer.
        let (_, made_up) =
            parse_answer(r#"{"id":1,"err":{"code":"rm -rf","message":"m"}}"#).expect("answer");
        assert_eq!(made_up.expect_err("err").code, "internal");
        assert_eq!(parse_answer(r#"{"id":"1","ok":1}"#), None);
        assert_eq!(parse_answer(r#"{"id":-1,"ok":1}"#), None);
    }

    #[tokio::test]
    async fn serve_child_answers_each_line_and_stops_at_the_line_limit() {
        let limits = Limits {
            max_line: 64,
            call_timeout: std::time::Duration::from_secs(5),
            write_timeout: std::time::Duration::from_secs(5),
            max_calls: 2,
        };
        let (to_child, _from_tray) = tokio::io::duplex(1 << 16);
        let input: &[u8] = b"{\"id\":1,\"cmd\":\"a\"}\nnot json\n{\"id\":2,\"cmd\":\"b\"}\n";
        let ended = serve_child(input, to_child, limits, |cmd, _| async move {
            Ok(Value::String(cmd))
        })
        .await;
        assert_eq!(ended, Ended::Eof);
        let long = [b'x'; 65];
        let (to_child2, _keep) = tokio::io::duplex(1 << 16);
        let ended = serve_child(&long[..], to_child2, limits, |_, _| async move {
            Ok(Value::Null)
        })
        .await;
        assert_eq!(ended, Ended::LineTooLong);
        // A 64-byte line is within the limit.
        let (to_child3, _keep3) = tokio::io::duplex(1 << 16);
        let ended = serve_child(&long[..64], to_child3, limits, |_, _| async move {
            Ok(Value::Null)
        })
        .await;
        assert_eq!(ended, Ended::Eof);
    }
}
