//! The core's one error type. Variants are named by what the caller can do about them.

use std::time::Duration;

use crate::token::Resource;

/// Result with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core. Messages are written for the user: they say what
/// happened and what to do. They never contain tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No usable sign-in (none yet, refresh token revoked or expired): sign in again.
    #[error("sign-in required: {reason}. Run `pim login` (or Sign in from the tray).")]
    SignInRequired {
        /// Why.
        reason: String,
    },
    /// The resource demands claims (MFA, authentication context, CAE) that need an interactive
    /// sign-in.
    #[error("additional verification is required for {resource}; sign in again to satisfy it")]
    StepUpRequired {
        /// Resource that asked.
        resource: Resource,
        /// The claims request (JSON) to pass to the sign-in.
        claims: String,
    },
    /// Refused before sending: the request breaks the role's known policy.
    #[error("{message}")]
    PolicyViolation {
        /// Rule names (`JustificationRule`, `TicketingRule`, `ExpirationRule`, ...).
        rules: Vec<String>,
        /// What to do.
        message: String,
    },
    /// Bad input from the user or a caller (bad duration, unknown role, ...).
    #[error("{0}")]
    InvalidInput(String),
    /// A name matched several roles.
    #[error("`{name}` matches several roles; say which with --scope or --tenant:\n  {}", candidates.join("\n  "))]
    Ambiguous {
        /// The name given.
        name: String,
        /// Human descriptions of the candidates.
        candidates: Vec<String>,
    },
    /// No role matched.
    #[error("no role matches `{name}`{hint}")]
    NotFound {
        /// The name given.
        name: String,
        /// Extra help (e.g. close matches), starting with a separator.
        hint: String,
    },
    /// The service throttled us and retries ran out.
    #[error("the service is throttling requests; try again in {} s", retry_after.map(|d| d.as_secs().max(1)).unwrap_or(30))]
    Throttled {
        /// How long the service asked us to wait.
        retry_after: Option<Duration>,
    },
    /// The service refused the request (a PIM error with its code).
    #[error("{message} ({code}, HTTP {status}{})", request_id.as_deref().map(|r| format!(", request-id {r}")).unwrap_or_default())]
    Api {
        /// HTTP status.
        status: u16,
        /// Effective error code (unwrapped from `UnknownError` when double-wrapped).
        code: String,
        /// The service's message, possibly with advice prepended.
        message: String,
        /// `request-id` / `x-ms-request-id`, for support.
        request_id: Option<String>,
    },
    /// Network failure (connection refused, reset, timeout).
    #[error("network error: {0}")]
    Transport(String),
    /// The service answered something we cannot understand.
    #[error("unexpected response from the service: {0}")]
    InvalidResponse(String),
    /// Configuration problem (bad endpoint URL, unreadable config file, ...).
    #[error("configuration error: {0}")]
    Config(String),
    /// The OS keychain failed.
    #[error("keychain error: {0}")]
    Keychain(String),
    /// The user is not (or no longer) eligible for this role at this scope.
    #[error("{message}")]
    NotEligible {
        /// What happened and what to do.
        message: String,
    },
    /// The action is not possible yet (e.g. deactivating within 5 minutes of activation).
    #[error("{message}")]
    TooEarly {
        /// What happened and what to do.
        message: String,
        /// When it becomes possible, if known.
        retry_at: Option<time::OffsetDateTime>,
    },
    /// The action does not apply to the role in its current state (e.g. deactivating an
    /// admin assignment, cancelling when nothing is pending).
    #[error("{message}")]
    InvalidState {
        /// What happened and what to do.
        message: String,
    },
    /// A write may or may not have happened and could not be confirmed; check the role's state.
    #[error(
        "the outcome of the request is unknown ({detail}); refresh to see whether it took effect before trying again"
    )]
    Uncertain {
        /// What went wrong.
        detail: String,
    },
}

impl Error {
    /// A stable machine code for UIs and scripts (STYLE rule 7): branch on this, not on text.
    pub fn code(&self) -> &'static str {
        match self {
            Error::SignInRequired { .. } => "signInRequired",
            Error::StepUpRequired { .. } => "stepUpRequired",
            Error::PolicyViolation { .. } => "policyViolation",
            Error::InvalidInput(_) => "invalidInput",
            Error::Ambiguous { .. } => "ambiguous",
            Error::NotFound { .. } => "notFound",
            Error::Throttled { .. } => "throttled",
            Error::Api { .. } => "api",
            Error::Transport(_) => "transport",
            Error::InvalidResponse(_) => "invalidResponse",
            Error::Config(_) => "config",
            Error::Keychain(_) => "keychain",
            Error::NotEligible { .. } => "notEligible",
            Error::TooEarly { .. } => "tooEarly",
            Error::InvalidState { .. } => "invalidState",
            Error::Uncertain { .. } => "uncertain",
        }
    }
}
