//! The one error type crossing IPC: `{ code, message }`. The UI branches on `code`, never on
//! the message text, which is written for the user.

use pim_core::ErrorCode;
use serde::{Deserialize, Serialize};

/// An error returned by a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct IpcError {
    /// Machine-readable code ([`pim_core::ErrorCode`]: the core's codes and `internal`); an
    /// unknown name read from a window process's line is `internal`.
    #[cfg_attr(test, ts(type = "ErrorCode"))]
    pub code: ErrorCode,
    /// What happened and what to do, for the user.
    pub message: String,
}

impl IpcError {
    /// Bad input from the page.
    pub fn invalid(message: impl Into<String>) -> IpcError {
        IpcError {
            code: ErrorCode::InvalidInput,
            message: message.into(),
        }
    }

    /// Something on our side.
    pub fn internal(message: impl Into<String>) -> IpcError {
        IpcError {
            code: ErrorCode::Internal,
            message: message.into(),
        }
    }
}

impl From<pim_core::Error> for IpcError {
    fn from(e: pim_core::Error) -> IpcError {
        // pim-core names every error (sign-in refusals by reason: `consentRequired`,
        // `appBlocked`, `conditionalAccessBlocked`, ...); the UI branches on the same codes.
        // Its messages name no front end: the tray adds its own advice, once.
        let mut message = e.to_string();
        if matches!(e, pim_core::Error::SignInRequired { .. }) {
            message.push_str(" Choose Sign in… in the tray menu.");
        }
        IpcError {
            code: e.error_code(),
            message,
        }
    }
}

impl From<crate::settings::SettingsError> for IpcError {
    fn from(e: crate::settings::SettingsError) -> IpcError {
        IpcError {
            code: ErrorCode::Config,
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
        // Sign-in advice names the tray's way, once, and not the CLI's.
        let e: IpcError = pim_core::Error::SignInRequired {
            reason: "nobody is signed in".into(),
        }
        .into();
        assert_eq!(e.code, "signInRequired");
        assert_eq!(e.message.matches("Sign in").count(), 1, "{}", e.message);
        assert!(!e.message.contains("pim login"), "{}", e.message);
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
            // A window process reads the relayed code back as the same code.
            let line = crate::window_protocol::answer_line(serde_json::json!(1), Err(ipc.clone()));
            let (_, back) = crate::window_protocol::parse_answer(line.trim_end()).expect("answer");
            assert_eq!(back.expect_err("error").code, code);
        }
    }
}
