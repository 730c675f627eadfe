//! What the benchmarks share: their arguments, a simulator with injected latency and its user
//! signed in, the round-trip unit, and `pim` processes against the simulator.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pim_core::token::{Resource, TokenRequest, TokenSource};

/// The middle of `v` (of an even count, the upper of the two).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The number after `name` on the command line, else `default`.
fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A simulator that adds `--latency-ms` (default 100) to every response, and its user signed
/// in, in process, with tokens kept in memory.
pub struct Setup {
    /// The latency the simulator adds.
    pub latency: Duration,
    /// `--rounds` (default 7): how many timed runs each figure is the median of.
    pub rounds: usize,
    /// The simulator.
    pub sim: pim_sim::SimHandle,
    /// Scratch folder for configurations, removed at the end.
    scratch: tempfile::TempDir,
    /// The signed-in user.
    pub account: pim_auth::Account,
    /// Its tokens.
    pub tokens: Arc<dyn TokenSource>,
    /// The simulator's endpoints.
    pub endpoints: pim_core::config::Endpoints,
}

impl Setup {
    /// Reads the arguments, starts the simulator and signs its user in.
    pub async fn start() -> Setup {
        let latency = Duration::from_millis(arg("--latency-ms", 100));
        let rounds = arg("--rounds", 7) as usize;
        let sim = pim_sim::Simulator::start(pim_sim::SimOptions {
            latency,
            ..pim_sim::SimOptions::default()
        })
        .await
        .unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let (account, tokens, endpoints) =
            pim_tests::sign_in_in_memory(&sim.base_url(), &scratch.path().join("cfg")).await;
        Setup {
            latency,
            rounds,
            sim,
            scratch,
            account,
            tokens,
            endpoints,
        }
    }

    /// The simulator's base URL.
    pub fn base(&self) -> String {
        self.sim.base_url()
    }

    /// The unit: one authenticated round trip, the median of `2 × rounds` Graph GETs of
    /// `/v1.0/me` through `http` with a home-tenant token.
    pub async fn rtt(&self, http: &reqwest::Client) -> Duration {
        let base = self.base();
        let graph_token = self
            .tokens
            .access_token(&TokenRequest {
                tenant_id: self.account.home_tenant_id.clone(),
                resource: Resource::Graph,
                scope: self.endpoints.graph_scope.clone(),
                claims: None,
                force_refresh: false,
            })
            .await
            .unwrap()
            .token;
        let mut rtts = Vec::new();
        for _ in 0..self.rounds * 2 {
            let t = Instant::now();
            let r = http
                .get(format!("{base}/v1.0/me"))
                .bearer_auth(graph_token.expose())
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            r.bytes().await.unwrap();
            rtts.push(t.elapsed());
        }
        median(rtts)
    }

    /// `pim` processes against the simulator, with a configuration folder and client id of
    /// their own (the sign-in goes to the Secret Service). The `pim` binary must be built.
    pub fn cli(&self) -> Cli {
        Cli {
            pim: pim_tests::bin("pim"),
            cfg: self.scratch.path().join("cli"),
            client_id: uuid::Uuid::new_v4().to_string(),
            base: self.base(),
        }
    }
}

/// `pim` processes of [`Setup::cli`].
pub struct Cli {
    pim: PathBuf,
    /// Their configuration folder (`PIM_CONFIG_DIR`).
    pub cfg: PathBuf,
    client_id: String,
    base: String,
}

impl Cli {
    /// Runs `pim args…` to the end (no input, a browser that follows the sign-in page's
    /// redirects, warnings only in the log).
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(&self.pim)
            .args(args)
            .env("PIM_AUTHORITY_HOST", &self.base)
            .env("PIM_GRAPH_ENDPOINT", &self.base)
            .env("PIM_ARM_ENDPOINT", &self.base)
            .env("PIM_CONFIG_DIR", &self.cfg)
            .env("PIM_CLIENT_ID", &self.client_id)
            .env("BROWSER", "curl -sSL -o /dev/null")
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    /// [`Cli::run`], which must succeed (else the bench stops with its output).
    pub fn run_ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "pim {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}
