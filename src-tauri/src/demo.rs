//! Demo mode: the simulator (the `pim-sim` program shipped beside the tray, demo scenario)
//! on loopback, and a "browser" that completes the simulator's sign-in by itself.
//!
//! The simulator runs as its own process so that the tray binary links no HTTP server and
//! its idle memory is the tray's alone. It is found next to the tray's executable (as every
//! package installs it), or at `PIM_SIM` when that names a program; it exits when its stdin
//! closes, so it ends with the tray however the tray ends.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

/// Environment variable naming the simulator program (else: `pim-sim` beside the tray).
pub const PIM_SIM_ENV: &str = "PIM_SIM";

/// How long the simulator may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The running simulator process; it is stopped when this is dropped (and by itself when the
/// tray's end closes its stdin).
#[derive(Debug)]
pub struct SimProcess {
    base: String,
    _child: tokio::process::Child,
}

impl SimProcess {
    /// The simulator's base URL (`http://127.0.0.1:PORT`).
    pub fn base_url(&self) -> &str {
        &self.base
    }
}

/// The simulator program: `PIM_SIM` when set, else `pim-sim` next to `exe`.
pub fn simulator_program(exe: &Path, env: Option<std::ffi::OsString>) -> PathBuf {
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let name = if cfg!(windows) {
        "pim-sim.exe"
    } else {
        "pim-sim"
    };
    exe.parent().unwrap_or(Path::new(".")).join(name)
}

/// Reads the simulator's first line, `PIM_SIM_READY <base>`, and checks that the base is a
/// loopback URL.
pub fn parse_ready(line: &str) -> Option<String> {
    let base = line.trim_end().strip_prefix("PIM_SIM_READY ")?.trim();
    let url = url::Url::parse(base).ok()?;
    pim_core::config::is_loopback(&url).then(|| base.trim_end_matches('/').to_owned())
}

/// Starts the simulator program on `127.0.0.1:0` with the demo scenario, waits for its
/// readiness line, and prints `PIM_SIM_READY <base>` on stdout (flushed at once, also when
/// stdout is a file), plus the `export` lines on stderr that point the `pim` CLI at it.
pub async fn start_simulator() -> anyhow::Result<SimProcess> {
    let exe = std::env::current_exe()?;
    let program = simulator_program(&exe, std::env::var_os(PIM_SIM_ENV));
    let sim = spawn(&program).await.map_err(|e| {
        anyhow::anyhow!(
            "demo mode needs the simulator, {}: {e}. Install PIM Tray from its package (which \
             puts pim-sim beside pim-tray), build it with `cargo build -p pim-sim`, or set \
             {PIM_SIM_ENV} to its path.",
            program.display()
        )
    })?;
    let base = sim.base_url().to_owned();
    let mut out = std::io::stdout().lock();
    writeln!(out, "PIM_SIM_READY {base}")?;
    out.flush()?;
    eprintln!(
        "export PIM_AUTHORITY_HOST={base}\nexport PIM_GRAPH_ENDPOINT={base}\nexport PIM_ARM_ENDPOINT={base}"
    );
    Ok(sim)
}

/// Runs `program` as the demo simulator and waits (at most 30 s) for its base URL.
pub async fn spawn(program: &Path) -> anyhow::Result<SimProcess> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--scenario",
        "demo",
        "--exit-with-stdin",
    ])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .kill_on_drop(true);
    #[cfg(windows)]
    {
        // A console program started by a GUI one would open a console window.
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        cmd.creation_flags(CREATE_NO_WINDOW);
    }
    let mut child = cmd.spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(READY_TIMEOUT, lines.next_line())
        .await
        .map_err(|_| anyhow::anyhow!("it did not start within {} s", READY_TIMEOUT.as_secs()))??;
    let Some(base) = first.as_deref().and_then(parse_ready) else {
        let status = child.try_wait().ok().flatten();
        return Err(match status {
            Some(s) => anyhow::anyhow!("it exited ({s}) before it was ready"),
            None => anyhow::anyhow!("it did not say where it listens"),
        });
    };
    // Nothing more is read from its stdout; it writes nothing more there.
    drop(lines);
    Ok(SimProcess {
        base,
        _child: child,
    })
}

/// Opens sign-in pages of the simulator without a browser: fetches the authorize URL (which
/// the simulator answers with a redirect to our loopback listener) and follows that one
/// redirect. Only loopback URLs are fetched.
#[derive(Debug, Clone)]
pub struct DemoBrowser {
    client: reqwest::Client,
}

impl DemoBrowser {
    /// A new opener.
    pub fn new() -> DemoBrowser {
        DemoBrowser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }

    async fn complete(client: reqwest::Client, url: String) -> Result<(), String> {
        let resp = client.get(&url).send().await.map_err(|e| e.to_string())?;
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                format!(
                    "the simulator answered {} without a redirect",
                    resp.status()
                )
            })?
            .to_owned();
        let target = url::Url::parse(&location).map_err(|e| e.to_string())?;
        if !pim_core::config::is_loopback(&target) {
            return Err("the sign-in redirect does not go to loopback".into());
        }
        client.get(target).send().await.map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl Default for DemoBrowser {
    fn default() -> Self {
        DemoBrowser::new()
    }
}

impl pim_auth::BrowserOpener for DemoBrowser {
    fn open(&self, url: &str) -> std::io::Result<()> {
        let parsed = url::Url::parse(url).map_err(std::io::Error::other)?;
        if !pim_core::config::is_loopback(&parsed) {
            return Err(std::io::Error::other("demo mode signs in to loopback only"));
        }
        let client = self.client.clone();
        let url = url.to_owned();
        tauri::async_runtime::spawn(async move {
            if let Err(e) = DemoBrowser::complete(client, url).await {
                tracing::warn!("demo sign-in failed: {e}");
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulator_is_found_beside_the_tray_or_where_pim_sim_says() {
        let exe = Path::new("/opt/pim/bin/pim-tray");
        let beside = simulator_program(exe, None);
        assert_eq!(beside.parent(), Some(Path::new("/opt/pim/bin")));
        assert!(
            beside
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("pim-sim"))
        );
        assert_eq!(
            simulator_program(exe, Some("/tmp/sim".into())),
            PathBuf::from("/tmp/sim")
        );
        assert_eq!(simulator_program(exe, Some("".into())), beside);
    }

    #[test]
    fn only_a_loopback_readiness_line_is_believed() {
        assert_eq!(
            parse_ready("PIM_SIM_READY http://127.0.0.1:4321/\n").as_deref(),
            Some("http://127.0.0.1:4321")
        );
        assert_eq!(parse_ready("PIM_SIM_READY https://evil.example"), None);
        assert_eq!(parse_ready("hello"), None);
        assert_eq!(parse_ready("PIM_SIM_READY not a url"), None);
    }

    #[tokio::test]
    async fn a_program_that_is_not_the_simulator_is_a_clear_error() {
        let e = spawn(Path::new("/nonexistent/pim-sim")).await.unwrap_err();
        assert!(!e.to_string().is_empty());
        #[cfg(unix)]
        {
            // Exits at once without a readiness line.
            let e = spawn(Path::new("/bin/true")).await.unwrap_err();
            assert!(
                e.to_string().contains("before it was ready")
                    || e.to_string().contains("did not say"),
                "{e}"
            );
        }
    }
}
