//! The loopback listener that receives the authorization response (RFC 8252 §7.3).
//!
//! Bound on `127.0.0.1` (and the same port on `::1` when possible) before the browser starts.
//! The redirect URI is `http://localhost:PORT`. Each connection is served on its own task
//! (browsers open speculative connections that never send a request); the first request for
//! `/` with `code` or `error` decides the outcome and gets a small HTML page.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use pim_core::token::Secret;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// What the browser brought back.
#[derive(Debug)]
pub enum Callback {
    /// The authorization code (state already checked).
    Code(Secret),
    /// The authority (or the user) refused.
    Error {
        /// `error`, e.g. `access_denied`.
        error: String,
        /// `error_description`.
        description: Option<String>,
        /// `error_subcode`, e.g. `cancel`.
        subcode: Option<String>,
    },
    /// `state` did not match: not our request.
    StateMismatch,
}

/// A bound listener waiting for one authorization response.
#[derive(Debug)]
pub struct Loopback {
    v4: TcpListener,
    v6: Option<TcpListener>,
    port: u16,
}

const MAX_REQUEST: usize = 16 * 1024;

impl Loopback {
    /// Binds `127.0.0.1:0` (and `[::1]` on the same port when available).
    pub async fn bind() -> std::io::Result<Loopback> {
        let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let port = v4.local_addr()?.port();
        let v6 = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port)))
            .await
            .ok();
        Ok(Loopback { v4, v6, port })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://localhost:PORT`, used in both the authorize and the token request.
    pub fn redirect_uri(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// Waits up to `timeout` for the authorization response carrying `state`. `None` on
    /// timeout.
    pub async fn wait(self, state: &str, timeout: Duration) -> Option<Callback> {
        let (tx, mut rx) = mpsc::channel::<Callback>(4);
        let mut tasks = JoinSet::new();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let accepted = tokio::select! {
                r = self.v4.accept() => r,
                r = accept_opt(self.v6.as_ref()) => r,
                Some(cb) = rx.recv() => return Some(cb),
                _ = tokio::time::sleep_until(deadline) => return None,
            };
            match accepted {
                Ok((stream, _)) => {
                    let tx = tx.clone();
                    let state = state.to_owned();
                    tasks.spawn(async move {
                        if let Some(cb) = serve(stream, &state).await {
                            let _ = tx.send(cb).await;
                        }
                    });
                }
                Err(e) => tracing::debug!(error = %e, "loopback accept failed"),
            }
        }
        // `tasks` is dropped here, aborting connections still open.
    }
}

async fn accept_opt(l: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Serves one connection; returns the outcome if it carried an authorization response.
pub(crate) async fn serve<S>(mut stream: S, state: &str) -> Option<Callback>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(2048);
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        let mut chunk = [0u8; 2048];
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() > MAX_REQUEST {
                return Some(());
            }
        }
    })
    .await;
    if !matches!(read, Ok(Some(()))) {
        return None;
    }
    let head = String::from_utf8_lossy(&buf);
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let url = url::Url::parse("http://localhost")
        .ok()
        .and_then(|base| base.join(target).ok());
    let Some(url) = url.filter(|u| method == "GET" && u.path() == "/") else {
        respond(&mut stream, "404 Not Found", "Not found", "Nothing here.").await;
        return None;
    };
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    let mut description = None;
    let mut subcode = None;
    for (k, v) in url.query_pairs() {
        match &*k {
            "code" => code = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            "error_subcode" => subcode = Some(v.into_owned()),
            _ => {}
        }
    }
    if code.is_none() && error.is_none() {
        respond(
            &mut stream,
            "400 Bad Request",
            "Sign-in failed",
            "This page expects a sign-in response.",
        )
        .await;
        return None;
    }
    if got_state.as_deref() != Some(state) {
        respond(
            &mut stream,
            "200 OK",
            "Sign-in failed",
            "The response does not belong to this sign-in (state mismatch). Start the sign-in again.",
        )
        .await;
        return Some(Callback::StateMismatch);
    }
    if let Some(error) = error {
        let cancelled = subcode.as_deref() == Some("cancel");
        let text = if cancelled {
            "Sign-in was cancelled. You can close this tab.".to_owned()
        } else {
            format!(
                "Sign-in failed: {}. You can close this tab.",
                description.as_deref().unwrap_or(&error)
            )
        };
        respond(&mut stream, "200 OK", "Sign-in failed", &text).await;
        return Some(Callback::Error {
            error,
            description,
            subcode,
        });
    }
    respond(
        &mut stream,
        "200 OK",
        "Signed in",
        "Signed in. You can close this tab.",
    )
    .await;
    code.map(|c| Callback::Code(Secret::new(c)))
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML (the same set as GLib's `g_markup_escape_text`,
/// so it also serves freedesktop notification markup).
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) async fn respond<S>(stream: &mut S, status: &str, title: &str, text: &str)
where
    S: AsyncWrite + Unpin,
{
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>PIM Tray: {}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{}</h1><p>{}</p></body></html>",
        html_escape(title),
        html_escape(title),
        html_escape(text)
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(port: u16, path: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn code_with_state_is_accepted() {
        let lb = Loopback::bind().await.unwrap();
        let port = lb.port();
        assert_eq!(lb.redirect_uri(), format!("http://localhost:{port}"));
        let waiter = tokio::spawn(async move { lb.wait("s1", Duration::from_secs(10)).await });
        // A speculative connection that never sends anything must not block.
        let _idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let favicon = get(port, "/favicon.ico").await;
        assert!(favicon.starts_with("HTTP/1.1 404"));
        let page = get(port, "/?code=abc&state=s1&session_state=x").await;
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        assert!(page.contains("Signed in. You can close this tab."));
        match waiter.await.unwrap() {
            Some(Callback::Code(c)) => assert_eq!(c.expose(), "abc"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn error_and_cancel_are_reported() {
        let lb = Loopback::bind().await.unwrap();
        let port = lb.port();
        let waiter = tokio::spawn(async move { lb.wait("s", Duration::from_secs(10)).await });
        let page = get(
            port,
            "/?error=access_denied&error_subcode=cancel&error_description=AADSTS50058%3A+%3Cx%3E&state=s",
        )
        .await;
        assert!(page.contains("Sign-in was cancelled"), "{page}");
        match waiter.await.unwrap() {
            Some(Callback::Error { error, subcode, .. }) => {
                assert_eq!(error, "access_denied");
                assert_eq!(subcode.as_deref(), Some("cancel"));
            }
            other => panic!("{other:?}"),
        }
        let lb = Loopback::bind().await.unwrap();
        let port = lb.port();
        let waiter = tokio::spawn(async move { lb.wait("s", Duration::from_secs(10)).await });
        let page = get(
            port,
            "/?error=server_error&error_description=%3Cb%3E&state=s",
        )
        .await;
        assert!(page.contains("&lt;b&gt;"), "{page}");
        assert!(matches!(
            waiter.await.unwrap(),
            Some(Callback::Error { .. })
        ));
    }

    #[tokio::test]
    async fn wrong_state_and_timeout() {
        let lb = Loopback::bind().await.unwrap();
        let port = lb.port();
        let waiter = tokio::spawn(async move { lb.wait("good", Duration::from_secs(10)).await });
        let page = get(port, "/?code=abc&state=evil").await;
        assert!(page.contains("state mismatch"));
        assert!(matches!(
            waiter.await.unwrap(),
            Some(Callback::StateMismatch)
        ));
        let lb = Loopback::bind().await.unwrap();
        assert!(lb.wait("s", Duration::from_millis(50)).await.is_none());
    }
}
