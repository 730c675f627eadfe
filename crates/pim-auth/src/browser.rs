//! Opening the sign-in page in the user's browser.
//!
//! [`SystemBrowser`] honours `BROWSER` (a command line split on whitespace, the URL appended as
//! one last argument, as xdg-open does) and otherwise uses the platform's opener. It spawns the
//! process and returns at once; a background thread reaps it so no zombie is left, and nobody
//! waits for the browser to exit.
//!
//! The authorize URL (with its `state`) never goes on a command line, where other local users
//! can read it (`ps`, `/proc/PID/cmdline`): the opener gets `http://127.0.0.1:PORT/NONCE`, a
//! one-shot local page that answers `303 See Other` to the real URL. It works with every opener
//! (xdg-open, open, the Windows URL handler, any `BROWSER`), and with sandboxed browsers (snap,
//! flatpak) that cannot read a file in the sender's `/tmp`, which rules out a temporary HTML
//! file. The page is served once, for five minutes; on Linux only to connections of our own
//! user (the peer's uid from `/proc/net/tcp`), so another user who saw the port and nonce gets
//! 403 and does not use it up.

use std::fmt;
use std::io;
use std::process::{Command, Stdio};
use std::sync::Arc;

use pim_core::config::{Env, ProcessEnv};

/// Opens a URL for the user. Injected into `AuthOptions`; tests supply their own.
pub trait BrowserOpener: Send + Sync + fmt::Debug {
    /// Starts opening `url` and returns without waiting for the browser.
    fn open(&self, url: &str) -> io::Result<()>;
}

/// The system browser: `BROWSER`, else xdg-open / open / the Windows URL handler.
#[derive(Debug, Clone)]
pub struct SystemBrowser {
    env: Arc<dyn Env>,
}

impl Default for SystemBrowser {
    fn default() -> Self {
        SystemBrowser {
            env: Arc::new(ProcessEnv),
        }
    }
}

impl SystemBrowser {
    /// Reads `BROWSER` from the process environment.
    pub fn new() -> SystemBrowser {
        SystemBrowser::default()
    }

    /// Reads `BROWSER` from `env`.
    pub fn with_env(env: Arc<dyn Env>) -> SystemBrowser {
        SystemBrowser { env }
    }

    /// The program and arguments that would open `url`.
    pub fn command_line(&self, url: &str) -> Vec<String> {
        match self.env.var("BROWSER") {
            Some(b) if !b.trim().is_empty() => browser_command(&b, url),
            _ => platform_command(url),
        }
    }
}

/// `BROWSER` split on whitespace, with `url` appended as one last argument.
pub fn browser_command(browser: &str, url: &str) -> Vec<String> {
    let mut argv: Vec<String> = browser.split_whitespace().map(str::to_owned).collect();
    argv.push(url.to_owned());
    argv
}

/// The platform's default way to open a URL.
pub fn platform_command(url: &str) -> Vec<String> {
    #[cfg(target_os = "macos")]
    let argv = vec!["open".to_owned(), url.to_owned()];
    #[cfg(target_os = "windows")]
    let argv = vec![
        "rundll32".to_owned(),
        "url.dll,FileProtocolHandler".to_owned(),
        url.to_owned(),
    ];
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let argv = vec!["xdg-open".to_owned(), url.to_owned()];
    argv
}

impl BrowserOpener for SystemBrowser {
    fn open(&self, url: &str) -> io::Result<()> {
        let local = redirect_once(url)?;
        let argv = self.command_line(&local);
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty BROWSER"))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start `{program}`: {e}")))?;
        let program = program.clone();
        // Reap the opener when it exits; it may be the browser itself (BROWSER=firefox), which
        // can outlive us, so nobody joins this thread.
        std::thread::Builder::new()
            .name("browser-reaper".into())
            .spawn(move || match child.wait() {
                Ok(status) if !status.success() => {
                    tracing::warn!(%program, %status, "the browser opener exited with an error")
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(%program, error = %e, "waiting for the browser opener"),
            })?;
        Ok(())
    }
}

/// How long the one-shot redirect page waits for the browser.
pub const REDIRECT_LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);

/// Serves a `303` to `url` once at a fresh `http://127.0.0.1:PORT/NONCE` (returned), from a
/// background thread that ends when served or after [`REDIRECT_LIFETIME`].
pub fn redirect_once(url: &str) -> io::Result<String> {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let nonce: String = rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = format!("/{nonce}");
    let target = url.to_owned();
    std::thread::Builder::new()
        .name("browser-redirect".into())
        .spawn(move || serve_redirect(&listener, &path, &target))?;
    Ok(format!("http://127.0.0.1:{port}/{nonce}"))
}

fn serve_redirect(listener: &std::net::TcpListener, path: &str, target: &str) {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + REDIRECT_LIFETIME;
    while std::time::Instant::now() < deadline {
        let (mut stream, peer) = match listener.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "browser redirect: accept failed");
                std::thread::sleep(std::time::Duration::from_millis(200));
                continue;
            }
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(5)));
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
        let head = String::from_utf8_lossy(&buf);
        let mut words = head.lines().next().unwrap_or_default().split(' ');
        let ok_request = words.next() == Some("GET") && words.next() == Some(path);
        let local = listener.local_addr().ok();
        let response = if !ok_request {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
        } else if local.is_some_and(|l| !same_user(peer, l)) {
            tracing::warn!("browser redirect: refused a request from another user");
            "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
        } else {
            let body = format!(
                "<!doctype html><a href=\"{0}\">Continue to the sign-in page</a>",
                crate::loopback::html_escape(target)
            );
            let response = format!(
                "HTTP/1.1 303 See Other\r\nLocation: {target}\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
            return;
        };
        let _ = stream.write_all(response.as_bytes());
    }
    tracing::debug!("browser redirect: nobody came within the lifetime");
}

/// Whether the client side of a loopback connection (`peer` → `local`) belongs to our user.
/// Linux: its uid in `/proc/net/tcp`; unknown (elsewhere, or no entry) counts as ours.
fn same_user(peer: std::net::SocketAddr, local: std::net::SocketAddr) -> bool {
    #[cfg(target_os = "linux")]
    {
        let me = rustix::process::getuid().as_raw();
        if let Ok(table) = std::fs::read_to_string("/proc/net/tcp")
            && let Some(uid) = socket_uid(&table, peer, local)
        {
            return uid == me;
        }
        true
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (peer, local);
        true
    }
}

/// The uid owning the IPv4 socket `local_addr` → `rem_addr` in a `/proc/net/tcp` table.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn socket_uid(
    table: &str,
    local_addr: std::net::SocketAddr,
    rem_addr: std::net::SocketAddr,
) -> Option<u32> {
    fn addr(field: &str) -> Option<std::net::SocketAddr> {
        let (ip, port) = field.split_once(':')?;
        let ip = u32::from_str_radix(ip, 16).ok()?.to_ne_bytes();
        let port = u16::from_str_radix(port, 16).ok()?;
        Some(std::net::SocketAddr::from((ip, port)))
    }
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (l, r, uid) = (f.get(1)?, f.get(2)?, f.get(7)?);
        (addr(l)? == local_addr && addr(r)? == rem_addr)
            .then(|| uid.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pim_core::config::MapEnv;

    fn env(browser: Option<&str>) -> Arc<dyn Env> {
        let mut m = MapEnv::default();
        if let Some(b) = browser {
            m.0.insert("BROWSER".into(), b.into());
        }
        Arc::new(m)
    }

    #[test]
    fn browser_is_split_on_whitespace_and_url_appended() {
        let url = "http://x/authorize?a=1&b=two words";
        let b = SystemBrowser::with_env(env(Some("  firefox   --new-window\t-P work ")));
        assert_eq!(
            b.command_line(url),
            vec!["firefox", "--new-window", "-P", "work", url]
        );
        assert_eq!(browser_command("lynx", "u"), vec!["lynx", "u"]);
    }

    #[test]
    fn empty_browser_falls_back_to_platform() {
        let b = SystemBrowser::with_env(env(Some("   ")));
        assert_eq!(b.command_line("u"), platform_command("u"));
        let b = SystemBrowser::with_env(env(None));
        let argv = b.command_line("u");
        assert_eq!(argv.last().map(String::as_str), Some("u"));
        #[cfg(all(unix, not(target_os = "macos")))]
        assert_eq!(argv[0], "xdg-open");
    }

    #[cfg(target_os = "linux")]
    fn http_get(url: &str) -> String {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').unwrap();
        let mut s = std::net::TcpStream::connect(host).unwrap();
        write!(s, "GET /{path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_authorize_url_is_not_on_the_openers_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = dir.path().join("fake-browser.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ntr '\\0' ' ' < /proc/$$/cmdline > {0}.cmdline\nprintf '%s' \"$1\" > {0}.tmp\nmv {0}.tmp {0}\nsleep 5\n",
                out.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let b = SystemBrowser::with_env(env(Some(&format!("sh {}", script.display()))));
        let url = "https://login.example/authorize?client_id=c&state=s3cr3t-state&code_challenge=x";
        let start = std::time::Instant::now();
        b.open(url).unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(3));
        for _ in 0..250 {
            if out.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let cmdline = std::fs::read_to_string(out.with_extension("cmdline")).unwrap();
        assert!(cmdline.contains("fake-browser.sh"), "{cmdline}");
        assert!(!cmdline.contains("s3cr3t-state"), "{cmdline}");
        assert!(!cmdline.contains("login.example"), "{cmdline}");
        // What the browser got leads to the URL, once.
        let local = std::fs::read_to_string(&out).unwrap();
        assert!(local.starts_with("http://127.0.0.1:"), "{local}");
        let wrong = http_get(&format!("{}x", local));
        assert!(wrong.starts_with("HTTP/1.1 404"), "{wrong}");
        let page = http_get(&local);
        assert!(page.starts_with("HTTP/1.1 303"), "{page}");
        assert!(page.contains(&format!("\r\nLocation: {url}\r\n")), "{page}");
        let missing = SystemBrowser::with_env(env(Some("/nonexistent/browser-xyz")));
        assert!(missing.open("u").is_err());
    }

    #[test]
    fn sockets_of_other_users_are_told_apart() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1001        0 111 1
   1: 0100007F:1F90 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000  1000        0 222 1
   2: garbage
";
        let client: std::net::SocketAddr = "127.0.0.1:41394".parse().unwrap();
        let server: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(socket_uid(table, client, server), Some(1001));
            assert_eq!(socket_uid(table, server, client), Some(1000));
        }
        assert_eq!(socket_uid(table, client, client), None);
        assert_eq!(socket_uid("", client, server), None);
    }
}
