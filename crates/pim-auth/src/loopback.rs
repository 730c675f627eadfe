//! The loopback listener that receives the authorization response (RFC 8252 §7.3).
//!
//! Bound on `127.0.0.1` and the same port on `[::1]` before the browser starts; the redirect URI
//! is `http://localhost:PORT`, which the browser may resolve to either. When `[::1]:PORT` is
//! taken by someone else (a squatter would receive the code), another port is tried, and after
//! [`BIND_ATTEMPTS`] the redirect names `http://127.0.0.1:PORT` instead. When the host has no
//! IPv6 loopback at all, nobody can listen there and `localhost` stays.
//!
//! The connection handling is ours, hardened for a port any local process can reach: each
//! connection is served on its own task (browsers open speculative connections that never send
//! a request), at most [`MAX_CONNECTIONS`] at a time, each for at most [`READ_TIMEOUT`] and a
//! request head of at most 16 KiB; accept errors back off instead of spinning. The request head
//! is parsed by [`httparse`] (the parser hyper uses), again after every read until it is
//! complete; a head it rejects gets `400 Bad Request`, one too large `431`. The query is read
//! with [`url`]. The first `GET /` with `code` or `error` and the right `state` decides the
//! outcome; one with another `state` gets a page saying so and is otherwise ignored (it must
//! not let anyone end the sign-in).
//!
//! Not hyper's server: that would put an HTTP server stack into the tray binary for one request
//! per sign-in, against its idle-memory goal (and `cargo tree -p pim-tray` is to show no hyper
//! server).

use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pim_core::token::Secret;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
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
}

/// A bound listener waiting for one authorization response.
#[derive(Debug)]
pub struct Loopback {
    v4: TcpListener,
    v6: Option<TcpListener>,
    port: u16,
    /// `localhost`, or `127.0.0.1` when `[::1]:port` belongs to someone else.
    host: &'static str,
    stats: Arc<Stats>,
}

/// Connections being served now, and the most at once.
#[derive(Debug, Default)]
struct Stats {
    active: AtomicUsize,
    peak: AtomicUsize,
    accepted: AtomicUsize,
}

/// Bytes read for a request head before it is refused as too large (the read that crosses
/// this is still parsed, so a head of up to 18 KiB may be served).
const MAX_REQUEST: usize = 16 * 1024;
/// Header fields a request may carry (browsers send about 20).
const MAX_HEADERS: usize = 64;
/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 8;
/// How long one connection may take to send its request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports tried for a free `[::1]` side before falling back to a `127.0.0.1` redirect.
pub const BIND_ATTEMPTS: usize = 8;
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

impl Loopback {
    /// Binds `127.0.0.1:0` and `[::1]` on the same port (see the module docs).
    pub async fn bind() -> std::io::Result<Loopback> {
        Loopback::bind_ports(std::iter::repeat_n(0, BIND_ATTEMPTS)).await
    }

    /// Tries each port in turn (0: one the OS picks) until both loopbacks bind.
    async fn bind_ports(ports: impl IntoIterator<Item = u16>) -> std::io::Result<Loopback> {
        let mut v4_only = None;
        let mut last_err = None;
        for p in ports {
            let v4 = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, p))).await {
                Ok(l) => l,
                Err(e) => {
                    last_err = Some(e);
                    continue;
                }
            };
            let port = v4.local_addr()?.port();
            match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
                Ok(v6) => return Ok(Loopback::new(v4, Some(v6), port, "localhost")),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    tracing::warn!(
                        port,
                        "[::1]:{port} is taken by another program; trying another port"
                    );
                    v4_only = Some((v4, port));
                }
                // No IPv6 loopback here: nobody else can listen on it either.
                Err(_) => return Ok(Loopback::new(v4, None, port, "localhost")),
            }
        }
        match v4_only {
            Some((v4, port)) => Ok(Loopback::new(v4, None, port, "127.0.0.1")),
            None => {
                Err(last_err.unwrap_or_else(|| std::io::Error::other("no loopback port to try")))
            }
        }
    }

    fn new(v4: TcpListener, v6: Option<TcpListener>, port: u16, host: &'static str) -> Loopback {
        Loopback {
            v4,
            v6,
            port,
            host,
            stats: Arc::default(),
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://localhost:PORT` (or `http://127.0.0.1:PORT`, see the module docs), used in both
    /// the authorize and the token request.
    pub fn redirect_uri(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    /// Waits up to `timeout` for the authorization response carrying `state`. `None` on
    /// timeout.
    pub async fn wait(self, state: &str, timeout: Duration) -> Option<Callback> {
        let Loopback { v4, v6, stats, .. } = self;
        let accept = || async {
            tokio::select! {
                r = v4.accept() => r.map(|(s, _)| s),
                r = accept_opt(v6.as_ref()) => r.map(|(s, _)| s),
            }
        };
        run(accept, state, timeout, &stats).await
    }
}

/// The accept loop, over any source of connections (tests give it in-memory ones).
async fn run<S, A, F>(
    mut accept: A,
    state: &str,
    timeout: Duration,
    stats: &Arc<Stats>,
) -> Option<Callback>
where
    A: FnMut() -> F,
    F: Future<Output = std::io::Result<S>>,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Callback>(4);
    let mut tasks = JoinSet::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut backoff = Duration::ZERO;
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.ok()?,
            Some(cb) = rx.recv() => return Some(cb),
            _ = tokio::time::sleep_until(deadline) => return None,
        };
        let accepted = tokio::select! {
            r = accept() => r,
            Some(cb) = rx.recv() => return Some(cb),
            _ = tokio::time::sleep_until(deadline) => return None,
        };
        match accepted {
            Ok(stream) => {
                backoff = Duration::ZERO;
                let tx = tx.clone();
                let state = state.to_owned();
                let stats = stats.clone();
                stats.accepted.fetch_add(1, Ordering::Relaxed);
                let now = stats.active.fetch_add(1, Ordering::Relaxed) + 1;
                stats.peak.fetch_max(now, Ordering::Relaxed);
                tasks.spawn(async move {
                    let outcome = serve(stream, &state).await;
                    stats.active.fetch_sub(1, Ordering::Relaxed);
                    drop(permit);
                    if let Some(cb) = outcome {
                        let _ = tx.send(cb).await;
                    }
                });
            }
            Err(e) => {
                // E.g. out of file descriptors: wait before trying again instead of spinning.
                drop(permit);
                backoff = (backoff * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                tracing::debug!(error = %e, ?backoff, "loopback accept failed");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    Some(cb) = rx.recv() => return Some(cb),
                    _ = tokio::time::sleep_until(deadline) => return None,
                }
            }
        }
    }
    // `tasks` is dropped on return, aborting connections still open.
}

async fn accept_opt(l: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// A request head as read from one connection.
#[derive(Debug, PartialEq)]
enum Head {
    /// A complete head: its method and request target.
    Request { method: String, target: String },
    /// Not an HTTP/1.x request head (httparse's verdict).
    Malformed,
    /// No complete head in [`MAX_REQUEST`] bytes, or more than [`MAX_HEADERS`] fields.
    TooLarge,
}

/// Reads until the request head is complete (parsed after each read), malformed or too large.
/// `None` when the connection fails or closes first.
async fn read_head<S>(stream: &mut S) -> Option<Head>
where
    S: AsyncRead + Unpin,
{
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let head = match request.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => match (request.method, request.path) {
                (Some(method), Some(target)) => Head::Request {
                    method: method.to_owned(),
                    target: target.to_owned(),
                },
                _ => Head::Malformed,
            },
            Ok(httparse::Status::Partial) if buf.len() <= MAX_REQUEST => continue,
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => Head::TooLarge,
            Err(_) => Head::Malformed,
        };
        return Some(head);
    }
}

/// Serves one connection; returns the outcome if it carried an authorization response.
pub(crate) async fn serve<S>(mut stream: S, state: &str) -> Option<Callback>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream))
        .await
        .ok()
        .flatten()?;
    let (method, target) = match head {
        Head::Request { method, target } => (method, target),
        Head::Malformed => {
            respond(
                &mut stream,
                "400 Bad Request",
                "Bad request",
                "This is not an HTTP request.",
            )
            .await;
            return None;
        }
        Head::TooLarge => {
            respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "Request too large",
                "This request is too large.",
            )
            .await;
            return None;
        }
    };
    let url = url::Url::parse("http://localhost")
        .ok()
        .and_then(|base| base.join(&target).ok());
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
        // Not ours (an old tab, or someone else's request): say so, keep waiting for ours.
        tracing::warn!("ignored a sign-in response with another state");
        respond(
            &mut stream,
            "400 Bad Request",
            "Not this sign-in",
            "This response does not belong to the sign-in in progress (state mismatch). \
             Finish the sign-in in the tab PIM Tray opened last.",
        )
        .await;
        return None;
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

    /// Serves one in-memory connection whose client writes `request` through a pipe of
    /// `pipe` bytes (1: the listener reads it byte by byte) and then closes its writing half,
    /// reading the answer meanwhile (it may come before the request is all sent). The outcome
    /// and the answer.
    async fn serve_bytes(request: &[u8], pipe: usize, state: &str) -> (Option<Callback>, String) {
        let (client, server) = tokio::io::duplex(pipe);
        let (mut from_server, mut to_server) = tokio::io::split(client);
        let send = async {
            // Fails when the listener has answered and closed before reading it all.
            if to_server.write_all(request).await.is_ok() {
                let _ = to_server.shutdown().await;
            }
        };
        let receive = async {
            let mut answer = Vec::new();
            from_server.read_to_end(&mut answer).await.unwrap();
            String::from_utf8(answer).unwrap()
        };
        let (cb, (), answer) = tokio::join!(serve(server, state), send, receive);
        (cb, answer)
    }

    const REQUEST: &str = "GET /?code=abc&state=s HTTP/1.1\r\nHost: localhost:1\r\n\
                           User-Agent: test\r\nAccept: */*\r\n\r\n";

    #[tokio::test]
    async fn a_request_head_arriving_byte_by_byte_is_served() {
        let (cb, answer) = serve_bytes(REQUEST.as_bytes(), 1, "s").await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("Signed in. You can close this tab."));
        match cb {
            Some(Callback::Code(c)) => assert_eq!(c.expose(), "abc"),
            other => panic!("{other:?}"),
        }
        // In one piece too, and with the other state only answered.
        let (cb, answer) = serve_bytes(REQUEST.as_bytes(), 4096, "s").await;
        assert!(matches!(cb, Some(Callback::Code(_))), "{answer}");
        let (cb, answer) = serve_bytes(REQUEST.as_bytes(), 1, "other").await;
        assert!(cb.is_none());
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{answer}"
        );
        assert!(answer.contains("state mismatch"), "{answer}");
    }

    #[tokio::test]
    async fn a_malformed_request_head_gets_400_and_no_callback() {
        for request in [
            // A control byte in the method.
            "GET\x01/ HTTP/1.1\r\nHost: localhost\r\n\r\n",
            // No HTTP version (HTTP/0.9), and one httparse does not know.
            "GET /?code=abc&state=s\r\n\r\n",
            "GET /?code=abc&state=s HTTP/2.0\r\n\r\n",
            // Obsolete line folding in a header.
            "GET /?code=abc&state=s HTTP/1.1\r\nHost: localhost\r\nX-A: b\r\n c\r\n\r\n",
            // Header names with a space, a colon missing, a control byte.
            "GET /?code=abc&state=s HTTP/1.1\r\nX A: b\r\n\r\n",
            "GET /?code=abc&state=s HTTP/1.1\r\nHost localhost\r\n\r\n",
            "GET /?code=abc&state=s HTTP/1.1\r\nX\x01A: b\r\n\r\n",
        ] {
            for pipe in [1, 4096] {
                let (cb, answer) = serve_bytes(request.as_bytes(), pipe, "s").await;
                assert!(cb.is_none(), "{request:?}: {cb:?}");
                assert!(
                    answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
                    "{request:?}: {answer}"
                );
                assert!(answer.contains("This is not an HTTP request."), "{answer}");
            }
        }
    }

    #[tokio::test]
    async fn an_unfinished_or_too_large_request_head_is_refused() {
        // Closed before the head is complete: nothing to answer.
        let (cb, answer) = serve_bytes(b"GET /?code=abc&state=s HTTP/1.1\r\n", 1, "s").await;
        assert!(cb.is_none());
        assert_eq!(answer, "");
        // More than MAX_REQUEST bytes without the end of the head.
        let mut big = b"GET /?code=abc&state=s HTTP/1.1\r\n".to_vec();
        while big.len() <= MAX_REQUEST + 4096 {
            big.extend_from_slice(b"X-Padding: 0123456789abcdef0123456789abcdef\r\n");
        }
        let big = &big[..MAX_REQUEST + 4096];
        let (cb, answer) = serve_bytes(big, 64 * 1024, "s").await;
        assert!(cb.is_none());
        assert!(
            answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{answer}"
        );
        // More header fields than MAX_HEADERS.
        let mut many = b"GET /?code=abc&state=s HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let (cb, answer) = serve_bytes(&many, 64 * 1024, "s").await;
        assert!(cb.is_none());
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        // MAX_HEADERS fields are fine.
        let mut enough = b"GET /?code=abc&state=s HTTP/1.1\r\n".to_vec();
        for i in 1..MAX_HEADERS {
            enough.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        enough.extend_from_slice(b"Host: localhost\r\n\r\n");
        let (cb, answer) = serve_bytes(&enough, 64 * 1024, "s").await;
        assert!(matches!(cb, Some(Callback::Code(_))), "{answer}");
    }

    #[tokio::test]
    async fn only_get_for_the_root_is_taken() {
        for request in [
            "POST /?code=abc&state=s HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "get /?code=abc&state=s HTTP/1.1\r\n\r\n",
            "GET /x?code=abc&state=s HTTP/1.1\r\n\r\n",
        ] {
            let (cb, answer) = serve_bytes(request.as_bytes(), 4096, "s").await;
            assert!(cb.is_none(), "{request:?}");
            assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
        }
        // HTTP/1.0 and bare line feeds are still HTTP/1.
        let (cb, answer) = serve_bytes(b"GET /?code=abc&state=s HTTP/1.0\n\n", 1, "s").await;
        assert!(matches!(cb, Some(Callback::Code(_))), "{answer}");
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
    async fn a_wrong_state_is_answered_and_ignored() {
        let lb = Loopback::bind().await.unwrap();
        let port = lb.port();
        let waiter = tokio::spawn(async move { lb.wait("good", Duration::from_secs(10)).await });
        let page = get(port, "/?code=evil-code&state=evil").await;
        assert!(page.starts_with("HTTP/1.1 400"), "{page}");
        assert!(page.contains("state mismatch"), "{page}");
        let page = get(port, "/?error=access_denied&state=").await;
        assert!(page.contains("state mismatch"), "{page}");
        // The sign-in is still waiting, and takes its own response.
        let page = get(port, "/?code=abc&state=good").await;
        assert!(page.contains("Signed in"), "{page}");
        match waiter.await.unwrap() {
            Some(Callback::Code(c)) => assert_eq!(c.expose(), "abc"),
            other => panic!("{other:?}"),
        }
        let lb = Loopback::bind().await.unwrap();
        assert!(lb.wait("s", Duration::from_millis(50)).await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn accept_errors_back_off_instead_of_spinning() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let accept = || {
            let n = calls.fetch_add(1, Ordering::Relaxed);
            async move {
                if n < 1000 {
                    Err(std::io::Error::other("EMFILE"))
                } else {
                    std::future::pending::<std::io::Result<tokio::io::DuplexStream>>().await
                }
            }
        };
        let stats = Arc::default();
        assert!(
            run(accept, "s", Duration::from_secs(2), &stats)
                .await
                .is_none()
        );
        // 10 + 20 + ... ms doubling up to 1 s: about 8 tries in 2 s, not 1000.
        let n = calls.load(Ordering::Relaxed);
        assert!((2..20).contains(&n), "{n} accept calls");
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_a_few_connections_are_served_at_once() {
        let mut clients = Vec::new();
        let mut servers = Vec::new();
        for _ in 0..MAX_CONNECTIONS + 4 {
            let (c, s) = tokio::io::duplex(64);
            clients.push(c);
            servers.push(s);
        }
        let accept = || {
            let next = servers.pop();
            async move {
                match next {
                    Some(s) => Ok(s),
                    None => std::future::pending().await,
                }
            }
        };
        let stats: Arc<Stats> = Arc::default();
        // Idle connections (they never send a request) hold their slots until READ_TIMEOUT.
        assert!(READ_TIMEOUT > Duration::from_secs(5));
        assert!(
            run(accept, "s", Duration::from_secs(5), &stats)
                .await
                .is_none()
        );
        assert_eq!(stats.accepted.load(Ordering::Relaxed), MAX_CONNECTIONS);
        assert_eq!(stats.peak.load(Ordering::Relaxed), MAX_CONNECTIONS);
        drop(clients);
    }

    #[tokio::test]
    async fn a_squatted_ipv6_port_is_not_used_for_localhost() {
        let Ok(squatter) = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, 0))).await
        else {
            eprintln!("no IPv6 loopback here; nothing to test");
            return;
        };
        let taken = squatter.local_addr().unwrap().port();
        // Another port is picked when one is left to try...
        let lb = Loopback::bind_ports([taken, 0]).await.unwrap();
        assert_ne!(lb.port(), taken);
        assert!(lb.v6.is_some());
        assert_eq!(lb.redirect_uri(), format!("http://localhost:{}", lb.port()));
        // ...and when none is, the redirect names 127.0.0.1, which the squatter cannot take.
        if let Ok(lb) = Loopback::bind_ports([taken]).await {
            assert_eq!(lb.port(), taken);
            assert!(lb.v6.is_none());
            assert_eq!(lb.redirect_uri(), format!("http://127.0.0.1:{taken}"));
            let waiter = tokio::spawn(async move { lb.wait("s", Duration::from_secs(10)).await });
            let page = get(taken, "/?code=c&state=s").await;
            assert!(page.contains("Signed in"), "{page}");
            assert!(matches!(waiter.await.unwrap(), Some(Callback::Code(_))));
        }
    }
}
