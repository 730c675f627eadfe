//! The one error type crossing IPC: `{ code, message }`. The UI branches on `code`, never on
//! the message text, which is written for the user.

use serde::Serialize;

/// An error returned by a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct IpcError {
    /// Machine-readable code: `signInRequired`, `stepUpRequired`, `policyViolation`,
    /// `invalidInput`, `notFound`, `ambiguous`, `throttled`, `api`, `transport`,
    /// `invalidResponse`, `config`, `keychain`, `browserUnavailable`, `notEligible`, `tooEarly`, `invalidState`,
    /// `uncertain`, the sign-in refusals (`consentRequired`, `adminConsentRequired`,
    /// `appBlocked`, `appNotFound`, `conditionalAccessBlocked`, `invalidClient`,
    /// `signInDeclined`) and `internal` ([`pim_core::Error::code`]).
    pub code: &'static str,
    /// What happened and what to do, for the user.
    pub message: String,
}

impl IpcError {
    /// Bad input from the page.
    pub fn invalid(message: impl Into<String>) -> IpcError {
        IpcError {
            code: "invalidInput",
            message: message.into(),
        }
    }

    /// Something on our side.
    pub fn internal(message: impl Into<String>) -> IpcError {
        IpcError {
            code: "internal",
            message: message.into(),
        }
    }
}

impl From<pim_core::Error> for IpcError {
    fn from(e: pim_core::Error) -> IpcError {
        // pim-core names every error (sign-in refusals by reason: `consentRequired`,
        // `appBlocked`, `conditionalAccessBlocked`, ...); the UI branches on the same codes.
        IpcError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<crate::settings::SettingsError> for IpcError {
    fn from(e: crate::settings::SettingsError) -> IpcError {
        IpcError {
            code: "config",
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_codes_and_serialize_camel_case() {
        let e: IpcError = pim_core::Error::PolicyViolation {
            rules: vec!["JustificationRule".into()],
            message: "A justification is required".into(),
        }
        .into();
        assert_eq!(e.code, "policyViolation");
        let json = serde_json::to_value(&e).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"code":"policyViolation","message":"A justification is required"})
        );
        let e: IpcError = pim_core::Error::Transport("connection refused".into()).into();
        assert_eq!(e.code, "transport");
    }

    #[test]
    fn every_core_code_is_kept_and_known_to_the_window_relay() {
        use pim_core::{Error as E, error::SignInRefusal as R};
        let refused = |reason| E::SignInRefused {
            reason,
            client_id: "00000000-0000-0000-0000-000000000001".into(),
            aadsts: vec![65001],
            message: "The user or administrator has not consented; ask an administrator.".into(),
            request_id: None,
        };
        let cases: Vec<(E, &str)> = vec![
            (refused(R::ConsentRequired), "consentRequired"),
            (refused(R::AdminConsentRequired), "adminConsentRequired"),
            (refused(R::AppBlocked), "appBlocked"),
            (refused(R::AppNotFound), "appNotFound"),
            (refused(R::ConditionalAccess), "conditionalAccessBlocked"),
            (refused(R::InvalidClient), "invalidClient"),
            (refused(R::Declined), "signInDeclined"),
            (E::Config("bad endpoint".into()), "config"),
            (E::Keychain("locked".into()), "keychain"),
            (
                E::AzureCliSignInRequired {
                    reason: "Please run 'az login' to setup account.".into(),
                    login: "az login".into(),
                },
                "azureCliSignInRequired",
            ),
            (
                E::BrowserUnavailable {
                    reason: "no launcher".into(),
                },
                "browserUnavailable",
            ),
        ];
        for (e, code) in cases {
            let text = e.to_string();
            let ipc: IpcError = e.into();
            assert_eq!(ipc.code, code);
            assert_eq!(ipc.message, text);
            // A window process maps the relayed code back to the same string.
            assert_eq!(crate::window_protocol::error_code(code), code);
        }
    }
}
