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
    #[error("sign-in required: {reason}.")]
    SignInRequired {
        /// Why.
        reason: String,
    },
    /// An Azure CLI account got no token from `az` (signed out, expired, not installed): the
    /// user signs in with the Azure CLI, not with us.
    #[error("the Azure CLI gave no token: {reason}. Run `{login}` in a terminal, then retry.")]
    AzureCliSignInRequired {
        /// What `az` said.
        reason: String,
        /// The command to run, e.g. `az login --tenant <id>`.
        login: String,
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
    #[error("`{name}` matches several roles; say which by scope or tenant:\n  {}", candidates.join("\n  "))]
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
    /// No browser could be started for an interactive sign-in (the caller may offer a device
    /// code instead).
    #[error(
        "cannot open a browser ({reason}); set BROWSER to your browser's command, or sign in with a device code"
    )]
    BrowserUnavailable {
        /// Why (the launcher's error).
        reason: String,
    },
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
    /// The sign-in service refused the app registration or the sign-in itself (consent
    /// missing, app disabled or unknown in the tenant, Conditional Access, public client flows
    /// off, ...). Signing in again as is will not help: the message says what to change,
    /// usually with an administrator, and names the app registration.
    #[error("{message}{}", request_id.as_deref().map(|r| format!(" (correlation id {r})")).unwrap_or_default())]
    SignInRefused {
        /// Why, for UIs and scripts.
        reason: SignInRefusal,
        /// The app registration (client id) that was refused.
        client_id: String,
        /// Entra's AADSTS error codes, e.g. `[65001]`.
        aadsts: Vec<i64>,
        /// What happened and what to do.
        message: String,
        /// Entra's correlation (or trace) id, for support.
        request_id: Option<String>,
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
    /// Whether the user must sign in again (with us or with the Azure CLI) before anything
    /// else can be read or sent.
    pub fn is_sign_in_required(&self) -> bool {
        matches!(
            self,
            Error::SignInRequired { .. } | Error::AzureCliSignInRequired { .. }
        )
    }

    /// Whether only the user can get past it: a sign-in (with us or the Azure CLI) or an
    /// interactive step-up. Such errors end a read or a write instead of being worked
    /// around (no fallback, no partial result).
    pub fn needs_user(&self) -> bool {
        self.is_sign_in_required() || matches!(self, Error::StepUpRequired { .. })
    }

    /// A stable machine code for UIs and scripts (STYLE rule 7): branch on this, not on text.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// [`Error::code`] as the enum the front ends serialise.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Error::SignInRequired { .. } => ErrorCode::SignInRequired,
            Error::AzureCliSignInRequired { .. } => ErrorCode::AzureCliSignInRequired,
            Error::StepUpRequired { .. } => ErrorCode::StepUpRequired,
            Error::PolicyViolation { .. } => ErrorCode::PolicyViolation,
            Error::InvalidInput(_) => ErrorCode::InvalidInput,
            Error::Ambiguous { .. } => ErrorCode::Ambiguous,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::Throttled { .. } => ErrorCode::Throttled,
            Error::Api { .. } => ErrorCode::Api,
            Error::Transport(_) => ErrorCode::Transport,
            Error::InvalidResponse(_) => ErrorCode::InvalidResponse,
            Error::Config(_) => ErrorCode::Config,
            Error::Keychain(_) => ErrorCode::Keychain,
            Error::BrowserUnavailable { .. } => ErrorCode::BrowserUnavailable,
            Error::NotEligible { .. } => ErrorCode::NotEligible,
            Error::TooEarly { .. } => ErrorCode::TooEarly,
            Error::InvalidState { .. } => ErrorCode::InvalidState,
            Error::Uncertain { .. } => ErrorCode::Uncertain,
            Error::SignInRefused { reason, .. } => reason.error_code(),
        }
    }
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $var:ident = $s:literal,)*) => {
        /// The machine codes of errors ([`Error::code`]), as the front ends send them: the
        /// tray's pages and the window processes branch on these, never on message text. Each
        /// is written once, here; serialised as its camelCase name, and any unknown name reads
        /// as [`ErrorCode::Internal`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $var,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$var,)*];

            /// The code's name on the wire (`signInRequired`, ...).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$var => $s,)*
                }
            }
        }
    };
}

error_codes! {
    /// [`Error::SignInRequired`].
    SignInRequired = "signInRequired",
    /// [`Error::AzureCliSignInRequired`].
    AzureCliSignInRequired = "azureCliSignInRequired",
    /// [`Error::StepUpRequired`].
    StepUpRequired = "stepUpRequired",
    /// [`Error::PolicyViolation`].
    PolicyViolation = "policyViolation",
    /// [`Error::InvalidInput`].
    InvalidInput = "invalidInput",
    /// [`Error::NotFound`].
    NotFound = "notFound",
    /// [`Error::Ambiguous`].
    Ambiguous = "ambiguous",
    /// [`Error::Throttled`].
    Throttled = "throttled",
    /// [`Error::Api`].
    Api = "api",
    /// [`Error::Transport`].
    Transport = "transport",
    /// [`Error::InvalidResponse`].
    InvalidResponse = "invalidResponse",
    /// [`Error::Config`].
    Config = "config",
    /// [`Error::Keychain`].
    Keychain = "keychain",
    /// [`Error::BrowserUnavailable`].
    BrowserUnavailable = "browserUnavailable",
    /// [`Error::NotEligible`].
    NotEligible = "notEligible",
    /// [`Error::TooEarly`].
    TooEarly = "tooEarly",
    /// [`Error::InvalidState`].
    InvalidState = "invalidState",
    /// [`Error::Uncertain`].
    Uncertain = "uncertain",
    /// [`SignInRefusal::ConsentRequired`].
    ConsentRequired = "consentRequired",
    /// [`SignInRefusal::AdminConsentRequired`].
    AdminConsentRequired = "adminConsentRequired",
    /// [`SignInRefusal::AppBlocked`].
    AppBlocked = "appBlocked",
    /// [`SignInRefusal::AppNotFound`].
    AppNotFound = "appNotFound",
    /// [`SignInRefusal::ConditionalAccess`].
    ConditionalAccessBlocked = "conditionalAccessBlocked",
    /// [`SignInRefusal::InvalidClient`].
    InvalidClient = "invalidClient",
    /// [`SignInRefusal::Declined`].
    SignInDeclined = "signInDeclined",
    /// Something on the front end's side (no core error): a bug, or a window process that
    /// lost its tray.
    Internal = "internal",
}

impl ErrorCode {
    /// The code with this name; [`ErrorCode::Internal`] for a name no version of ours sends.
    pub fn from_name(name: &str) -> ErrorCode {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == name)
            .unwrap_or(ErrorCode::Internal)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(ErrorCode::from_name(&name))
    }
}

/// Why the sign-in service refused a sign-in ([`Error::SignInRefused`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignInRefusal {
    /// The user (or an admin for them) has not consented to the app's permissions
    /// (AADSTS65001, `consent_required`); the user may be able to consent in the browser.
    ConsentRequired,
    /// Only an administrator can grant the consent (AADSTS90094, AADSTS900941, AADSTS65002,
    /// AADSTS650057).
    AdminConsentRequired,
    /// The app (or the resource's service principal) is disabled in the tenant, or the user
    /// is not assigned to it (AADSTS7000112, AADSTS500014, AADSTS50105).
    AppBlocked,
    /// No app with this client id in the tenant (AADSTS700016).
    AppNotFound,
    /// A Conditional Access policy blocks this sign-in, e.g. device code (AADSTS53003).
    ConditionalAccess,
    /// The app registration does not accept this client (public client flows off,
    /// AADSTS7000218; other `invalid_client` / `unauthorized_client`).
    InvalidClient,
    /// The user declined (consent or the sign-in, AADSTS65004).
    Declined,
}

impl SignInRefusal {
    /// The stable machine code reported by [`Error::code`].
    pub fn code(self) -> &'static str {
        self.error_code().as_str()
    }

    /// [`SignInRefusal::code`] as an [`ErrorCode`].
    pub fn error_code(self) -> ErrorCode {
        match self {
            SignInRefusal::ConsentRequired => ErrorCode::ConsentRequired,
            SignInRefusal::AdminConsentRequired => ErrorCode::AdminConsentRequired,
            SignInRefusal::AppBlocked => ErrorCode::AppBlocked,
            SignInRefusal::AppNotFound => ErrorCode::AppNotFound,
            SignInRefusal::ConditionalAccess => ErrorCode::ConditionalAccessBlocked,
            SignInRefusal::InvalidClient => ErrorCode::InvalidClient,
            SignInRefusal::Declined => ErrorCode::SignInDeclined,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_round_trip_by_name_and_unknown_names_are_internal() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            let json = serde_json::to_string(c).expect("serialise");
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).expect("read"), *c);
        }
        assert_eq!(
            serde_json::from_str::<ErrorCode>("\"rm -rf\"").expect("read"),
            ErrorCode::Internal
        );
        assert!(serde_json::from_str::<ErrorCode>("3").is_err());
        assert_eq!(ErrorCode::from_name("policyViolation"), "policyViolation");
        let refused = Error::SignInRefused {
            reason: SignInRefusal::ConditionalAccess,
            client_id: String::new(),
            aadsts: vec![53003],
            message: String::new(),
            request_id: None,
        };
        assert_eq!(refused.code(), "conditionalAccessBlocked");
    }
}
