//! The IPC surface as types: [`Call`] (every command with its arguments) and [`Commands`]
//! (the command bodies, one method per call with its answer type), both made from the one
//! list in `ipc_calls.rs`, which `build.rs` also reads for the commands' permissions.
//!
//! A call arrives as a command name and a JSON object of arguments, from a page in the tray's
//! own process or relayed by a window process (`window_host`); [`Call::parse`] checks its
//! shape (unknown command, missing or mistyped argument: `invalidInput`) and [`Call::run`]
//! answers it with the [`Commands`] implementation, in both cases the same way. The UI's
//! types (`ui/ipc-types.d.ts`) are generated from the same types; a test fails when the file
//! is stale.

use std::future::Future;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::approvals::{ApprovalDto, DecideApprovalRequest};
use crate::bundle::{
    ActivateBundleRequest, BundleEditDto, BundleFormDto, BundleRoleResultDto, BundleSummaryDto,
};
use crate::dto::{ActivateRoleRequest, ActivateRoleResponse, ActivationFormDto, SettingsDto};
use crate::engine::AccountEntry;
use crate::error::IpcError;
use crate::history::{HistoryDto, HistoryExportDto};

macro_rules! ipc_calls {
    ($(
        $(#[$doc:meta])*
        $name:ident => $var:ident { $($field:ident : $ty:ty),* $(,)? } -> $ret:ty;
    )*) => {
        /// A call from a page: the command and its arguments.
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(
            tag = "cmd",
            content = "args",
            rename_all = "snake_case",
            rename_all_fields = "camelCase"
        )]
        pub enum Call {
            $($(#[$doc])* $var { $($field: $ty),* },)*
        }

        /// The command bodies: one method per [`Call`], returning that call's answer.
        pub trait Commands: Sync {
            $(
                $(#[$doc])*
                fn $name(&self, $($field: $ty),*)
                    -> impl Future<Output = Result<$ret, IpcError>> + Send;
            )*
        }

        impl Call {
            /// Every command name, in the list's order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name)),*];

            /// The command's name.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Call::$var { .. } => stringify!($name),)*
                }
            }

            /// Answers the call with `commands`, as JSON.
            pub async fn run<C: Commands>(self, commands: &C) -> Result<Value, IpcError> {
                match self {
                    $(Call::$var { $($field),* } => to_value(commands.$name($($field),*).await?),)*
                }
            }
        }

        /// The calls as a TypeScript map from command name to its arguments and answer.
        #[cfg(test)]
        fn typescript_calls(cfg: &ts_rs::Config) -> String {
            let mut out = String::from("export type IpcCalls = {\n");
            $(
                let args: Vec<String> = vec![$(format!(
                    "{}: {}",
                    camel(stringify!($field)),
                    <$ty as ts_rs::TS>::name(cfg)
                )),*];
                let args = if args.is_empty() {
                    "{}".to_owned()
                } else {
                    format!("{{ {} }}", args.join("; "))
                };
                out.push_str(&format!(
                    "  {}: {{ args: {}; ok: {} }};\n",
                    stringify!($name),
                    args,
                    <$ret as ts_rs::TS>::name(cfg)
                ));
            )*
            out.push_str("};\n");
            out
        }
    };
}

include!("ipc_calls.rs");

fn to_value<T: serde::Serialize>(v: T) -> Result<Value, IpcError> {
    serde_json::to_value(v).map_err(|e| IpcError::internal(e.to_string()))
}

impl Call {
    /// Reads a call: an unknown command, or arguments that are missing, mistyped or not an
    /// object, are `invalidInput` naming the command. Arguments not named by the call are
    /// ignored (as Tauri's own commands do), except inside an `ActivateRoleRequest`.
    pub fn parse(cmd: &str, args: Value) -> Result<Call, IpcError> {
        if !Call::NAMES.contains(&cmd) {
            return Err(IpcError::invalid(format!(
                "unknown command `{}`",
                cmd.chars().take(64).collect::<String>()
            )));
        }
        let args = match args {
            Value::Null => json!({}),
            v => v,
        };
        serde_json::from_value(json!({"cmd": cmd, "args": args}))
            .map_err(|e| IpcError::invalid(format!("invalid arguments for `{cmd}`: {e}")))
    }
}

#[cfg(test)]
fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The UI's types, as `ui/ipc-types.d.ts` holds them.
#[cfg(test)]
pub(crate) fn typescript() -> String {
    use ts_rs::TS;
    let cfg = ts_rs::Config::new();
    let codes: Vec<String> = pim_core::ErrorCode::ALL
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect();
    let mut out = String::from(
        "// Generated from src-tauri's IPC types (src/ipc_calls.rs, src/dto.rs, pim-core's\n\
         // ErrorCode) by `UPDATE_IPC_TYPES=1 cargo test -p pim-tray --lib ipc`; do not edit.\n\
         // A test fails when this file is stale.\n\n",
    );
    out.push_str(&format!("export type ErrorCode = {};\n", codes.join(" | ")));
    for decl in [
        crate::error::IpcError::decl(&cfg),
        crate::view::RoleView::decl(&cfg),
        crate::view::PolicyView::decl(&cfg),
        ActivationFormDto::decl(&cfg),
        ActivateRoleRequest::decl(&cfg),
        ActivateRoleResponse::decl(&cfg),
        crate::settings::IconTheme::decl(&cfg),
        SettingsDto::decl(&cfg),
        crate::engine::TenantEntry::decl(&cfg),
        crate::bundle::BundleRoleDto::decl(&cfg),
        BundleFormDto::decl(&cfg),
        ActivateBundleRequest::decl(&cfg),
        BundleRoleResultDto::decl(&cfg),
        BundleSummaryDto::decl(&cfg),
        BundleEditDto::decl(&cfg),
        crate::history::HistoryEntryDto::decl(&cfg),
        crate::history::HistoryDto::decl(&cfg),
        crate::history::HistoryExportDto::decl(&cfg),
        crate::approvals::ApprovalDto::decl(&cfg),
        crate::approvals::DecideApprovalRequest::decl(&cfg),
        AccountEntry::decl(&cfg),
    ] {
        out.push_str("export ");
        out.push_str(&decl);
        out.push('\n');
    }
    out.push_str(&typescript_calls(&cfg));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_parse_by_name_and_bad_ones_are_invalid_input() {
        assert_eq!(
            Call::parse("get_activation_form", json!({"roleKey": "k", "extra": 1})),
            Ok(Call::GetActivationForm {
                role_key: "k".into()
            })
        );
        assert_eq!(
            Call::parse(
                "set_tenant_shown",
                json!({"key": "a", "tenantId": "t", "shown": true})
            ),
            Ok(Call::SetTenantShown {
                key: "a".into(),
                tenant_id: "t".into(),
                shown: true
            })
        );
        assert_eq!(
            Call::parse("get_settings", Value::Null),
            Ok(Call::GetSettings {})
        );
        assert_eq!(
            Call::parse("activation_progress", json!({"seen": null})),
            Ok(Call::ActivationProgress { seen: None })
        );
        for (cmd, args) in [
            ("delete_everything", json!({})),
            ("get_activation_form", json!({})),
            ("get_activation_form", json!({"roleKey": 5})),
            ("get_settings", json!([1])),
            (
                "activate_role",
                json!({"request": {"roleKey": "k", "durationMinutes": 60, "extra": 1}}),
            ),
        ] {
            let e = Call::parse(cmd, args).expect_err(cmd);
            assert_eq!(e.code, "invalidInput", "{cmd}: {}", e.message);
        }
        for name in Call::NAMES {
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }

    #[test]
    fn the_capability_grants_exactly_the_listed_commands() {
        let file: Value = serde_json::from_str(include_str!("../capabilities/default.json"))
            .expect("capabilities/default.json");
        let granted: Vec<&str> = file["permissions"]
            .as_array()
            .expect("permissions")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let listed: Vec<String> = Call::NAMES
            .iter()
            .map(|n| format!("allow-{}", n.replace('_', "-")))
            .collect();
        assert_eq!(granted, listed);
    }

    #[test]
    fn ipc_types_for_the_ui_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/ipc-types.d.ts");
        let fresh = typescript();
        if std::env::var_os("UPDATE_IPC_TYPES").is_some() {
            std::fs::write(&path, &fresh).expect("write ui/ipc-types.d.ts");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/ipc-types.d.ts is stale: run `UPDATE_IPC_TYPES=1 cargo test -p pim-tray --lib ipc` \
             and commit it\n--- generated:\n{fresh}"
        );
    }
}
