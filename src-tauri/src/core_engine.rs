//! Adapts pim-core's `Session` (and pim-auth's sign-in) to the shell's [`Engine`] port.
//! (Wiring in progress: until the core's Session lands this engine stays signed out.)

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::RunOptions;
use crate::dto::ActivationInput;
use crate::engine::{ActivationOutcome, Engine, EngineResult};
use crate::settings::Settings;
use crate::view::{PolicyView, Status, TrayModel};

/// Starts the engine for the options (in demo mode, the embedded simulator first).
pub async fn start(
    options: &RunOptions,
    _settings: &Settings,
    _config_dir: &Path,
) -> anyhow::Result<Arc<dyn Engine>> {
    let (tx, _) = watch::channel(TrayModel {
        demo: options.demo,
        status: Status::SignedOut,
        accounts: Vec::new(),
    });
    Ok(Arc::new(Pending { tx }))
}

#[derive(Debug)]
struct Pending {
    tx: watch::Sender<TrayModel>,
}

fn not_yet() -> pim_core::Error {
    pim_core::Error::Config("the engine is not wired yet".into())
}

#[async_trait]
impl Engine for Pending {
    fn subscribe(&self) -> watch::Receiver<TrayModel> {
        self.tx.subscribe()
    }
    async fn refresh(&self) -> EngineResult<()> {
        Err(not_yet())
    }
    async fn policy(&self, _key: &str) -> EngineResult<PolicyView> {
        Err(not_yet())
    }
    async fn activate(&self, _input: ActivationInput) -> EngineResult<ActivationOutcome> {
        Err(not_yet())
    }
    async fn deactivate(&self, _key: &str) -> EngineResult<()> {
        Err(not_yet())
    }
    async fn extend(&self, _key: &str) -> EngineResult<()> {
        Err(not_yet())
    }
    async fn cancel(&self, _key: &str) -> EngineResult<()> {
        Err(not_yet())
    }
    async fn sign_in(&self) -> EngineResult<()> {
        Err(not_yet())
    }
    async fn sign_out(&self) -> EngineResult<()> {
        Err(not_yet())
    }
}
