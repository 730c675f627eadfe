//! Opening the sign-in page in the user's browser.
//!
//! [`SystemBrowser`] honours `BROWSER` (a command line split on whitespace, the URL appended as
//! one last argument, as xdg-open does) and otherwise uses the platform's opener. It spawns the
//! process and returns at once; a background thread reaps it so no zombie is left, and nobody
//! waits for the browser to exit.

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
        let argv = self.command_line(url);
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

    #[cfg(unix)]
    #[test]
    fn opener_returns_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("url");
        let script = dir.path().join("fake-browser.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s' \"$1\" > {}\nsleep 5\n",
                out.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let b = SystemBrowser::with_env(env(Some(&format!("sh {}", script.display()))));
        let start = std::time::Instant::now();
        b.open("http://localhost:1/x?y=z").unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(3));
        for _ in 0..100 {
            if std::fs::read_to_string(&out).is_ok_and(|s| !s.is_empty()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "http://localhost:1/x?y=z"
        );
        let missing = SystemBrowser::with_env(env(Some("/nonexistent/browser-xyz")));
        assert!(missing.open("u").is_err());
    }
}
