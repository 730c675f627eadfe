//! `pim-sim` binary: runs the simulator on a loopback port until SIGTERM/SIGINT.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

/// Local simulator of Entra ID, Microsoft Graph (PIM) and Azure Resource Manager (PIM).
#[derive(Debug, Parser)]
#[command(name = "pim-sim", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Built-in scenario name (demo, small) or path to a scenario JSON file.
    #[arg(long, default_value = "demo")]
    scenario: String,
    /// Delay every non-control response by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Page size for Graph and ARM collections.
    #[arg(long)]
    page_size: Option<usize>,
    /// Stop when stdin reaches its end: a parent that starts the simulator with a pipe (the
    /// tray in demo mode) takes it down with it, however the parent ends.
    #[arg(long)]
    exit_with_stdin: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    {
        use tracing_subscriber::filter::{LevelFilter, Targets};
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        // `RUST_LOG` as `target=level` directives and a bare level (`Targets`); unset, empty
        // or not understood: errors only.
        let filter = std::env::var("RUST_LOG")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .and_then(|s| s.parse::<Targets>().ok())
            .unwrap_or_else(|| Targets::new().with_default(LevelFilter::ERROR));
        tracing_subscriber::registry()
            .with(filter)
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .init();
    }
    let args = Args::parse();
    // install the handlers before announcing readiness, so an early SIGTERM is handled
    let signal = shutdown_signal()?;
    let scenario = pim_sim::Scenario::load(&args.scenario).context("loading the scenario")?;
    let sim = pim_sim::Simulator::start(pim_sim::SimOptions {
        scenario,
        latency: Duration::from_millis(args.latency_ms),
        page_size: args.page_size,
        listen: args.listen,
    })
    .await
    .context("starting the simulator")?;
    let base = sim.base_url();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "PIM_SIM_READY {base}")?;
        out.flush()?;
    }
    {
        let mut err = std::io::stderr().lock();
        writeln!(err, "export PIM_AUTHORITY_HOST={base}")?;
        writeln!(err, "export PIM_GRAPH_ENDPOINT={base}")?;
        writeln!(err, "export PIM_ARM_ENDPOINT={base}")?;
        err.flush()?;
    }
    if args.exit_with_stdin {
        tokio::select! {
            () = signal => {}
            () = stdin_closed() => {}
        }
    } else {
        signal.await;
    }
    sim.shutdown().await;
    Ok(())
}

#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Resolves when stdin reaches its end (or fails); what is read is discarded.
async fn stdin_closed() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 256];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}
