//! Demo mode: the embedded simulator (pim-sim, demo scenario) on loopback and a "browser"
//! that completes the simulator's sign-in by itself.

use std::io::Write;

/// Starts the simulator on `127.0.0.1:0` and prints `PIM_SIM_READY <base>` on stdout
/// (flushed at once, also when stdout is a file), plus the `export` lines on stderr that point
/// the `pim` CLI at it.
pub async fn start_simulator() -> anyhow::Result<pim_sim::SimHandle> {
    let scenario = pim_sim::Scenario::builtin("demo")?;
    let sim = pim_sim::Simulator::start(pim_sim::SimOptions {
        scenario,
        ..pim_sim::SimOptions::default()
    })
    .await?;
    let base = sim.base_url();
    let mut out = std::io::stdout().lock();
    writeln!(out, "PIM_SIM_READY {base}")?;
    out.flush()?;
    eprintln!(
        "export PIM_AUTHORITY_HOST={base}\nexport PIM_GRAPH_ENDPOINT={base}\nexport PIM_ARM_ENDPOINT={base}"
    );
    Ok(sim)
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
