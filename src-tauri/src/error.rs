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
    /// `invalidResponse`, `config`, `keychain`, `internal`.
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
        use pim_core::Error as E;
        let code = match &e {
            E::SignInRequired { .. } => "signInRequired",
            E::StepUpRequired { .. } => "stepUpRequired",
            E::PolicyViolation { .. } => "policyViolation",
            E::InvalidInput(_) => "invalidInput",
            E::Ambiguous { .. } => "ambiguous",
            E::NotFound { .. } => "notFound",
            E::Throttled { .. } => "throttled",
            E::Api { .. } => "api",
            E::Transport(_) => "transport",
            E::InvalidResponse(_) => "invalidResponse",
            E::Config(_) => "config",
            E::Keychain(_) => "keychain",
            _ => "internal",
        };
        IpcError {
            code,
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
}
