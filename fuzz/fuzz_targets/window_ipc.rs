//! The window processes' IPC (src-tauri `window_protocol.rs`, compiled from its source: the
//! tray itself links Tauri). Input: the first byte picks what is fuzzed, the rest is its input.
//!
//! - 0: `WindowArgs`: a first line parsed, and any role key and title written and read back.
//! - 1: call and answer lines: whatever parses is written again and reads back the same.
//! - 2: a whole conversation: the bytes are what a window process writes; `serve_child` must
//!   end at the end of input, or at the first line over the limit, and answer only in
//!   well-formed lines.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

#[allow(dead_code)]
#[path = "../../src-tauri/src/settings.rs"]
mod settings;

#[allow(dead_code)]
#[path = "../../src-tauri/src/error.rs"]
mod error;

#[allow(dead_code)]
#[path = "../../src-tauri/src/window_protocol.rs"]
mod window_protocol;

use window_protocol::{
    Ended, Limits, WindowArgs, WindowKind, answer_line, call_line, parse_answer, parse_call,
    serve_child,
};

const MAX_LINE: usize = 512;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
    })
}

fn window_args(bytes: &[u8]) {
    if let Ok(line) = std::str::from_utf8(bytes)
        && let Some(args) = WindowArgs::from_line(line)
    {
        let again = args.to_line();
        assert!(!again.contains('\n'));
        assert_eq!(WindowArgs::from_line(&again), Some(args));
    }
    // Any key and title survive the trip (split at the first 0 byte).
    let (key, title) = match bytes.iter().position(|b| *b == 0) {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[][..]),
    };
    let key = String::from_utf8_lossy(key).into_owned();
    let title = String::from_utf8_lossy(title).into_owned();
    for kind in [
        WindowKind::Activate(key),
        WindowKind::Settings,
        WindowKind::History,
        WindowKind::Bundle("On call".into()),
    ] {
        let args = WindowArgs {
            kind,
            title: title.clone(),
        };
        let line = args.to_line();
        assert!(!line.contains('\n'));
        assert_eq!(WindowArgs::from_line(&line), Some(args));
    }
}

fn lines(bytes: &[u8]) {
    if let Some(call) = parse_call(bytes)
        && let Some(id) = call.id.as_u64()
    {
        let again = call_line(id, &call.cmd, &call.args);
        assert!(!again.contains('\n'));
        assert_eq!(parse_call(again.as_bytes()), Some(call));
    }
    if let Ok(line) = std::str::from_utf8(bytes)
        && let Some((id, result)) = parse_answer(line)
    {
        let again = answer_line(json!(id), result.clone());
        assert_eq!(again.matches('\n').count(), 1);
        assert_eq!(parse_answer(again.trim_end()), Some((id, result)));
    }
}

fn conversation(bytes: &[u8]) {
    let limits = Limits {
        max_line: MAX_LINE,
        call_timeout: std::time::Duration::from_secs(5),
        write_timeout: std::time::Duration::from_secs(5),
        max_calls: 4,
    };
    let too_long = bytes.split(|b| *b == b'\n').any(|l| l.len() > MAX_LINE);
    let (to_child, mut child_reads) = tokio::io::duplex(64 * 1024);
    let (ended, answers) = runtime().block_on(async move {
        let reader = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut out = Vec::new();
            let _ = child_reads.read_to_end(&mut out).await;
            out
        });
        let ended = serve_child(bytes, to_child, limits, |cmd, args| async move {
            match cmd.as_str() {
                "fail" => Err(error::IpcError::invalid(format!("{args}"))),
                _ => Ok(json!({"cmd": cmd, "args": args})),
            }
        })
        .await;
        (ended, reader.await.unwrap_or_default())
    });
    let expected = if too_long {
        Ended::LineTooLong
    } else {
        Ended::Eof
    };
    assert_eq!(ended, expected);
    // Each answer the child got is one whole line: an object with an id and `ok` or `err`.
    // (A line cut short when the conversation ended is not checked.)
    let whole = answers
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(&answers[..0], |i| &answers[..=i]);
    let text = std::str::from_utf8(whole).expect("answers are UTF-8");
    for line in text.split_terminator('\n') {
        let v: Value = serde_json::from_str(line).expect("an answer is JSON");
        let v = v.as_object().expect("an answer is an object");
        assert!(v.contains_key("id"));
        assert!(v.contains_key("ok") != v.contains_key("err"), "{line}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => window_args(rest),
        1 => lines(rest),
        _ => conversation(rest),
    }
});
