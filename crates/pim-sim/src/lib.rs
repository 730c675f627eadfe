//! pim-sim: a faithful, stateful local simulator of Entra ID (authority), Microsoft
//! Graph v1.0 PIM and Azure Resource Manager PIM, for tests and demos of PIM Tray.
//!
//! One server on a loopback port plays all three services; the base URL layout is
//! `<base>/{tenant}/oauth2/v2.0/{authorize,token,devicecode}` (authority),
//! `<base>/v1.0/...` (Graph), `<base>/providers/...`, `<base>/subscriptions/...`,
//! `<base>/tenants` (ARM) and `<base>/_sim/...` (test control, see [`SimControl`]).
//! The wire contract is `shared/pim-api/README.md`; section F is the checklist.
//!
//! Invariants:
//! * Time comes only from the virtual clock (real time + offset); every response's
//!   `Date` header and every timestamp use it. Instances whose `endDateTime` has passed
//!   are simply not returned; scheduled activations appear at their start.
//! * The whole world is one `State` behind one mutex, never held across `.await`.
//! * Responses are built to the contract (Graph camelCase enums, ARM PascalCase; error
//!   codes and messages verbatim), never to a particular client's habits. Ids are
//!   opaque and deliberately varied (GUIDs, base64-like `…-1-e`, `{groupId}_member_{guid}`).
//! * Bad input never panics: malformed bodies get the service's own 400 shape.
//! * Tokens are unsigned JWTs (`alg: none`); nothing here is security.
//!
//! Code map (one line per module):
//! * `server`: HTTP plumbing: accept loop, request classification, latency, faults,
//!   the request log, the `Date` and request-id headers.
//! * `authority/`: Entra ID: authorize (PKCE), the token endpoint's grants, the device-code
//!   flow, what a token holds, claims requests, OAuth errors, OpenID configuration.
//! * `graph/`: Microsoft Graph: routing, directory objects, the user's effective
//!   memberships (`/me/memberOf`), PIM for Entra roles and for groups (and the
//!   schedule/request machinery they share), policies, `$batch`.
//! * `arm/`: Azure Resource Manager: routing and scope checks, how PIM items render,
//!   schedules and schedule requests, policies, the caller's effective `permissions`,
//!   `/tenants` and `/subscriptions`.
//! * `wire`: what Graph and ARM share: the request, its checked caller, body parsing.
//! * `requests`: PIM request processing: policy enforcement, activation, deactivation,
//!   extension, cancel, approvals, the passage of time.
//! * `approvals`: the approver's side: which requests wait for the caller, approvals and
//!   their stages as the caller sees them, decisions, the 24-hour window.
//! * `state/`: the world: tenants and the user, PIM records, the five PIM lists, when an
//!   active role takes effect (propagation delays), runtime configuration, the
//!   authority's grants, building it from a scenario (with its past requests).
//! * `scenario`: scenario files (JSON) and the built-in ones.
//! * `policy`: the policy model and its Graph rules and ARM `effectiveRules`.
//! * `odata`: query strings, `$filter`, `$select`, `$expand`, skip tokens.
//! * `reply`: a response before it becomes HTTP, the request's context, content types.
//! * `service_errors`: the services' error catalogue: exact codes and texts, Graph and
//!   ARM error shapes, fault-injection defaults.
//! * `api_error`: the Rust API's [`Error`] and [`Result`].
//! * `faults`: fault-injection rules and the replies they make.
//! * `control`: the `/_sim/*` test API and [`SimControl`].
//! * `clock`: the virtual clock and the wire's date, time and duration formats.
//! * `jwt`: unsigned JWT-shaped tokens.
//!
//! ```no_run
//! # async fn demo() -> pim_sim::Result<()> {
//! let sim = pim_sim::Simulator::start(pim_sim::SimOptions {
//!     scenario: pim_sim::Scenario::builtin("demo")?,
//!     ..Default::default()
//! })
//! .await?;
//! println!("{}", sim.base_url());
//! sim.control().advance(600);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod api_error;
mod approvals;
mod arm;
mod authority;
mod clock;
mod control;
mod faults;
mod graph;
mod jwt;
mod odata;
mod policy;
mod reply;
mod requests;
mod scenario;
mod server;
mod service_errors;
mod state;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use api_error::{Error, Result};
pub use control::{
    IncomingAssignment, IncomingPerson, IncomingRequest, IncomingStage, NewIncoming,
    PendingRequest, SimControl,
};
pub use faults::{Fault, FaultSpec};
pub use scenario::{
    AzureRoleSpec, DirectoryUserSpec, GrantKind, GrantSpec, HISTORY_STATUSES, HistorySpec,
    IncomingSpec, NamedSpec, PolicySpec, RequesterSpec, Scenario, StageSpec, SubscriptionSpec,
    TargetSpec, TenantSpec, UserSpec,
};
pub use state::{AuthorityError, PropagationDelay, RecordedRequest, RolePermission, SimConfig};

/// Scopes granted for a Graph `.default` request.
pub const DEFAULT_GRAPH_SCOPES: [&str; 7] = authority::DEFAULT_GRAPH_SCOPES;

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The world to simulate.
    pub scenario: Scenario,
    /// Delay added to every non-control response.
    pub latency: Duration,
    /// Page size for collections (overrides the scenario's config).
    pub page_size: Option<usize>,
    /// Address to bind (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            scenario: Scenario::builtin("demo").expect("the embedded demo scenario is valid"),
            latency: Duration::ZERO,
            page_size: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// Entry point.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds the listener, builds the world and starts serving.
    pub async fn start(opts: SimOptions) -> Result<SimHandle> {
        let clock = clock::Clock::default();
        let mut state = state::State::from_scenario(&opts.scenario, clock.now())?;
        if let Some(p) = opts.page_size {
            state.config.merge(&serde_json::json!({ "pageSize": p }))?;
        }
        let listener = tokio::net::TcpListener::bind(opts.listen).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(server::Shared::new(state, clock, opts.latency, addr));
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(server::serve(listener, shared.clone(), rx));
        Ok(SimHandle {
            addr,
            shared,
            stop: Some(tx),
            task: Some(task),
        })
    }
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// In-process control (same operations as `/_sim/*`).
    pub fn control(&self) -> SimControl {
        SimControl {
            shared: self.shared.clone(),
        }
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
