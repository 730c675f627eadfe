//! pim-core: the Tauri-free core of PIM Tray.
//!
//! One model ([`model::Role`]) for the three kinds of privileged access — Microsoft Entra
//! roles, PIM for Groups membership/ownership, Azure resource roles — read from Microsoft
//! Graph and Azure Resource Manager, and the [`Session`] facade that refreshes them in the
//! fewest round trips and activates, deactivates, extends and cancels.
//!
//! ```no_run
//! # async fn f(tokens: std::sync::Arc<dyn pim_core::token::TokenSource>) -> pim_core::Result<()> {
//! use pim_core::config::{Endpoints, ProcessEnv};
//! use pim_core::{ActivationRequest, Outcome, PimDuration, RoleQuery, Session, SessionOptions};
//!
//! let endpoints = Endpoints::from_env(&ProcessEnv)?;
//! let session = Session::new(SessionOptions::new(endpoints, tokens, "home-tenant-guid"));
//! let mut changes = session.subscribe(); // a new Snapshot whenever a refresh or write changes one
//! let snapshot = session.refresh().await?; // every tenant, every kind, in parallel
//! for role in snapshot.roles() {
//!     println!("{} {:?} {:?}", role.describe(), role.state, role.time_left(session.now()));
//! }
//! let role = session.find(&RoleQuery::name("global reader"), &|_| false).await?;
//! let request = ActivationRequest {
//!     justification: Some("INC-4711".into()),
//!     duration: Some(PimDuration::parse("1h30m")?),
//!     ..Default::default()
//! };
//! match session.activate(&role, request).await? {
//!     Outcome::Active { until, .. } => println!("active until {until:?}"),
//!     other => println!("{other}"),
//! }
//! # let _ = changes.changed().await;
//! # Ok(()) }
//! ```
//!
//! Errors are [`Error`] variants named by what the caller can do ([`Error::code`] gives a
//! stable machine code): `PolicyViolation` (refused before sending, names the rules),
//! `StepUpRequired` (MFA / authentication context / CAE claims; a [`StepUpHook`] lets the
//! session retry after an interactive sign-in), `SignInRequired`, `TooEarly` (5-minute rule),
//! `InvalidState`, `NotEligible`, `Ambiguous`/`NotFound` (name lookup), `Throttled`, `Api`,
//! `Transport`, `Uncertain`.
//!
//! Invariants:
//! - pim-core does no I/O except through its HTTP clients ([`graph`], [`arm`] via `http`), and
//!   obtains tokens only through [`token::TokenSource`].
//! - Parsing is tolerant: unknown members are ignored, `null` is accepted anywhere, service
//!   enums are open (`Unknown(String)`) and compared case-insensitively, ids are opaque.
//! - Requests are validated against the known policy before anything is sent.
//! - Writes are never blindly retried: Graph writes are reconciled by re-reading after an
//!   uncertain outcome; ARM writes reuse their client-chosen request name.
//! - Time is an input ([`clock::Clock`]); "now" follows the server's `Date` header when the
//!   local clock is off by more than a minute.
//! - Tokens are never logged.
//! - What comes from the network or the user cannot panic the core: response bodies are read
//!   up to [`http::MAX_RESPONSE_BYTES`], dates are range-checked ([`wire::parse_datetime`])
//!   and added to with checked arithmetic, durations stop at [`PimDuration::MAX`], HTTP
//!   statuses are never truncated, and clients do not follow redirects.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod arm;
pub mod changes;
pub mod clock;
pub mod config;
pub mod duration;
pub mod error;
pub mod export;
pub mod graph;
pub mod http;
pub mod matching;
pub mod model;
pub mod policy;
pub mod session;
pub mod sync;
pub mod token;
pub mod wire;

/// A loopback HTTP server for tests (also pim-auth's, through the `test-server` feature).
#[cfg(any(test, feature = "test-server"))]
#[doc(hidden)]
pub mod test_server;

/// Fixtures for tests: the crate's own (`test_role`, ...) and, through the `testing` feature,
/// other crates' (`history_entry`).
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing;

/// Entry points for the fuzz targets in `fuzz/`.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz_api;

pub use changes::{Change, ChangeKind};
pub use clock::{Clock, ServerTime, SystemClock};
pub use duration::PimDuration;
pub use error::{Error, ErrorCode, Result};
pub use matching::{RoleQuery, match_tenants};
pub use model::{
    AccessId, Account, Action, ActivationRequest, ActiveAssignment, AssignmentType, EligibleRole,
    MemberType, Outcome, PolicyInfo, ReadyState, RequestStatus, Role, RoleKind, RoleState,
    ScheduleRequest, Scope, ScopeKind, Snapshot, Tenant, TenantError, TenantSnapshot, Ticket,
    Warning,
};
pub use policy::{ActivationForm, Policy};
pub use session::{
    ActivationPlan, ApprovalItem, ApprovalRef, ApprovalStage, Decision, History, HistoryEntry,
    Inbox, Planned, Readiness, ReadyOptions, ReadyOutcome, Requester, ScheduleOptions, Session,
    SessionOptions, StepUpHook, TenantHistory, TenantInbox, again_needs_form, hidden_tenants_after,
    normalise_ids, policy_claims,
};
