//! IPC data transfer objects (serde, camelCase). Domain types are not shaped for the UI; these
//! are, and inputs from the page are validated here before anything reaches the engine.
//! The UI's types for these shapes (`ui/ipc-types.d.ts`) are generated from them (`ipc.rs`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::IpcError;
use crate::settings::{IconTheme, Settings};
use crate::view::{PolicyView, RoleView};

/// PIM's own bounds on an activation, in minutes (5 minutes to a day): the range of the
/// default duration setting.
const ACTIVATION_MINUTES: std::ops::RangeInclusive<u32> =
    (pim_core::PimDuration::MIN_ACTIVATION.as_secs() / 60) as u32
        ..=(pim_core::PimDuration::MAX_ACTIVATION.as_secs() / 60) as u32;

/// Longest justification accepted (the service allows 500 characters).
pub const MAX_JUSTIFICATION: usize = 500;
/// Longest ticket number or system.
pub const MAX_TICKET: usize = 100;

/// Everything the activation window needs to render.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivationFormDto {
    /// The role.
    pub role: RoleView,
    /// Its policy.
    pub policy: PolicyView,
    /// Justification remembered for this role.
    pub justification: String,
    /// Ticket system used last.
    pub ticket_system: String,
    /// The last few justifications (any role), newest first.
    pub recent_justifications: Vec<String>,
    /// Suggested duration (the default, capped by the policy).
    pub duration_minutes: u32,
    /// Demo mode.
    pub demo: bool,
    /// Starred: the menu lists it under *Favourites*.
    pub favourite: bool,
}

/// The activation window's submission.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivateRoleRequest {
    /// Role key.
    pub role_key: String,
    /// Justification.
    #[serde(default)]
    pub justification: String,
    /// Ticket number.
    #[serde(default)]
    pub ticket_number: String,
    /// Ticket system.
    #[serde(default)]
    pub ticket_system: String,
    /// Duration in minutes.
    pub duration_minutes: u32,
    /// Optional start (RFC 3339); empty or absent means now.
    #[serde(default)]
    pub start_at: Option<String>,
}

/// A validated activation request for the engine.
///
/// [`ActivationInput::to_request`] makes the core's request of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationInput {
    /// Role key.
    pub key: String,
    /// Justification (may be empty when the policy does not ask).
    pub justification: String,
    /// Ticket number and system, when given.
    pub ticket: Option<(String, String)>,
    /// Duration in minutes.
    pub duration_minutes: u32,
    /// Start time; None means now.
    pub start: Option<OffsetDateTime>,
}

fn clean(s: &str, max: usize, what: &str) -> Result<String, IpcError> {
    let s = s.trim();
    if s.chars().count() > max {
        return Err(IpcError::invalid(format!(
            "The {what} is longer than {max} characters."
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(IpcError::invalid(format!(
            "The {what} contains control characters."
        )));
    }
    Ok(s.to_owned())
}

impl ActivateRoleRequest {
    /// Checks the request's shape: lengths, characters, a readable start within 30 days of
    /// `now`. The role's policy (justification, ticket, duration) is the core's to check,
    /// with the same rule for both faces, before anything is sent.
    pub fn validate(&self, now: OffsetDateTime) -> Result<ActivationInput, IpcError> {
        let key = clean(&self.role_key, 400, "role key")?;
        let justification = clean(&self.justification, MAX_JUSTIFICATION, "justification")?;
        let number = clean(&self.ticket_number, MAX_TICKET, "ticket number")?;
        let system = clean(&self.ticket_system, MAX_TICKET, "ticket system")?;
        let start = match self.start_at.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => {
                let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
                    IpcError::invalid("The start time is not a valid date and time.")
                })?;
                if t > now + time::Duration::days(30) {
                    return Err(IpcError::invalid(
                        "The start time must be within the next 30 days.",
                    ));
                }
                (t > now).then_some(t)
            }
        };
        let ticket = (!number.is_empty() || !system.is_empty()).then_some((number, system));
        Ok(ActivationInput {
            key,
            justification,
            ticket,
            duration_minutes: self.duration_minutes,
            start,
        })
    }
}

impl ActivationInput {
    /// The core's request: an empty justification is none; the duration in minutes.
    pub fn to_request(&self) -> pim_core::ActivationRequest {
        pim_core::ActivationRequest {
            justification: (!self.justification.is_empty()).then(|| self.justification.clone()),
            ticket: self
                .ticket
                .clone()
                .map(|(number, system)| pim_core::Ticket { number, system }),
            duration: Some(pim_core::PimDuration::from_minutes(u64::from(
                self.duration_minutes,
            ))),
            start: self.start,
        }
    }
}

/// What happened to an activation request.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivateRoleResponse {
    /// `active`, `pending` (awaiting approval) or `scheduled`.
    #[cfg_attr(test, ts(type = "\"active\" | \"pending\" | \"scheduled\""))]
    pub state: &'static str,
    /// A sentence for the user.
    pub message: String,
}

/// Editable settings, as the settings window shows them.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsDto {
    /// Reminder times, minutes before the end.
    pub reminder_minutes: Vec<u32>,
    /// Default duration in minutes.
    pub default_duration_minutes: u32,
    /// Launch at login.
    pub launch_at_login: bool,
    /// Cloud.
    pub cloud: String,
    /// Client id (empty: default).
    pub client_id: String,
    /// Authority host override (empty: the cloud's).
    pub authority_host: String,
    /// Graph endpoint override.
    pub graph_endpoint: String,
    /// ARM endpoint override.
    pub arm_endpoint: String,
    /// `auto`, `dark` or `light`.
    pub icon_theme: IconTheme,
    /// Signed-in accounts (read-only: what a page sends here is ignored).
    #[serde(default)]
    pub accounts: Vec<String>,
}

/// Checks a tenant id from the page (the engine then checks that the account reaches it).
pub fn tenant_id(id: &str) -> Result<&str, IpcError> {
    if id.trim().is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
        return Err(IpcError::invalid(
            "Pick a tenant from the list (its id is missing or malformed).",
        ));
    }
    Ok(id.trim())
}

/// Checks an account key from the page (the engine then looks it up).
pub fn account_key(key: &str) -> Result<&str, IpcError> {
    if key.trim().is_empty() || key.len() > 400 || key.chars().any(char::is_control) {
        return Err(IpcError::invalid(
            "Pick an account from the list (its key is missing or malformed).",
        ));
    }
    Ok(key)
}

/// Parses the cloud chosen for a new account: `public`, `usgov`, `china`, or `custom` (the
/// endpoints in the settings).
pub fn new_account_cloud(cloud: &str) -> Result<crate::engine::NewAccountCloud, IpcError> {
    use crate::engine::NewAccountCloud;
    use pim_core::config::Cloud;
    match cloud {
        "public" => Ok(NewAccountCloud::Cloud(Cloud::Public)),
        "usgov" => Ok(NewAccountCloud::Cloud(Cloud::UsGovernment)),
        "china" => Ok(NewAccountCloud::Cloud(Cloud::China)),
        "custom" => Ok(NewAccountCloud::Custom),
        "azure-cli" => Ok(NewAccountCloud::AzureCli),
        _ => Err(IpcError::invalid(
            "Choose the cloud: public, usgov, china, custom or azure-cli.",
        )),
    }
}

/// A ticket as the windows show it: `ServiceNow INC-1` (empty when none).
pub fn ticket_text(t: Option<&pim_core::Ticket>) -> String {
    t.map(|t| format!("{} {}", t.system, t.number).trim().to_owned())
        .unwrap_or_default()
}

/// A requested length in whole minutes, as the windows show it.
pub fn whole_minutes(d: Option<pim_core::PimDuration>) -> Option<u32> {
    d.map(|d| u32::try_from(d.to_time().whole_minutes().max(0)).unwrap_or(u32::MAX))
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

impl SettingsDto {
    /// Settings as shown.
    pub fn from_settings(s: &Settings, accounts: Vec<String>) -> SettingsDto {
        SettingsDto {
            reminder_minutes: s.reminder_minutes.clone(),
            default_duration_minutes: s.default_duration_minutes,
            launch_at_login: s.launch_at_login,
            cloud: s.cloud.clone(),
            client_id: opt(&s.client_id),
            authority_host: opt(&s.authority_host),
            graph_endpoint: opt(&s.graph_endpoint),
            arm_endpoint: opt(&s.arm_endpoint),
            icon_theme: s.icon_theme,
            accounts,
        }
    }

    /// Validates and applies to `s`.
    pub fn apply(&self, s: &mut Settings) -> Result<(), IpcError> {
        let mut minutes = self.reminder_minutes.clone();
        minutes.sort_unstable_by(|a, b| b.cmp(a));
        minutes.dedup();
        if minutes.len() > 5 || minutes.iter().any(|m| *m == 0 || *m > 24 * 60) {
            return Err(IpcError::invalid(
                "Give up to five reminder times between 1 and 1440 minutes.",
            ));
        }
        if !ACTIVATION_MINUTES.contains(&self.default_duration_minutes) {
            return Err(IpcError::invalid(
                "The default duration must be between 5 minutes and 24 h.",
            ));
        }
        pim_core::config::Cloud::parse(&self.cloud)?;
        for (name, v) in [
            ("authority host", &self.authority_host),
            ("Graph endpoint", &self.graph_endpoint),
            ("ARM endpoint", &self.arm_endpoint),
        ] {
            if let Some(v) = non_empty(v) {
                pim_core::config::parse_base_url(name, &v)?;
            }
        }
        if let Some(id) = non_empty(&self.client_id)
            && (id.len() != 36 || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        {
            return Err(IpcError::invalid("The client ID must be a GUID."));
        }
        s.reminder_minutes = minutes;
        s.default_duration_minutes = self.default_duration_minutes;
        s.launch_at_login = self.launch_at_login;
        s.cloud = self.cloud.trim().to_ascii_lowercase();
        s.client_id = non_empty(&self.client_id);
        s.authority_host = non_empty(&self.authority_host);
        s.graph_endpoint = non_empty(&self.graph_endpoint);
        s.arm_endpoint = non_empty(&self.arm_endpoint);
        s.icon_theme = self.icon_theme;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

    fn req(json: serde_json::Value) -> ActivateRoleRequest {
        serde_json::from_value(json).expect("request")
    }

    #[test]
    fn validation_checks_the_shape_and_leaves_the_policy_to_the_core() {
        let ok = req(
            serde_json::json!({"roleKey":"k","justification":" Incident 7 ","ticketNumber":"INC1",
            "ticketSystem":"ServiceNow","durationMinutes":90,"startAt":""}),
        );
        let input = ok.validate(NOW).expect("valid");
        assert_eq!(input.justification, "Incident 7");
        assert_eq!(input.ticket, Some(("INC1".into(), "ServiceNow".into())));
        assert_eq!(input.start, None);
        let request = input.to_request();
        assert_eq!(request.justification.as_deref(), Some("Incident 7"));
        assert_eq!(
            request.duration,
            Some(pim_core::PimDuration::from_minutes(90))
        );

        // No ticket and a long duration are the policy's business: the core refuses them
        // with its own message (the same one `pim activate` prints).
        let no_ticket =
            req(serde_json::json!({"roleKey":"k","justification":"x","durationMinutes":600}));
        let input = no_ticket.validate(NOW).expect("the shape is fine");
        assert_eq!(input.ticket, None);
        let strict = pim_core::Policy {
            max_duration: Some(pim_core::PimDuration::from_hours(4)),
            ticket_required: true,
            ..pim_core::Policy::default()
        };
        let e = IpcError::from(
            pim_core::policy::validate("Global Reader", Some(&strict), &input.to_request())
                .unwrap_err(),
        );
        assert_eq!(e.code, "policyViolation");
        assert!(
            e.message.contains("TicketingRule") && e.message.contains("4h"),
            "{}",
            e.message
        );
        // An empty justification is none.
        let blank = req(serde_json::json!({"roleKey":"k","durationMinutes":60}));
        assert_eq!(
            blank.validate(NOW).unwrap().to_request().justification,
            None
        );

        let later = ActivateRoleRequest {
            start_at: Some("2026-11-26T12:00:00Z".into()),
            ..ok.clone()
        };
        assert_eq!(
            later.validate(NOW).expect("valid").start,
            Some(datetime!(2026-11-26 12:00 UTC))
        );
        let bad = ActivateRoleRequest {
            start_at: Some("tomorrow".into()),
            ..ok.clone()
        };
        assert_eq!(bad.validate(NOW).unwrap_err().code, "invalidInput");
        let ctl = ActivateRoleRequest {
            justification: "a\u{7}b".into(),
            ..ok
        };
        assert_eq!(ctl.validate(NOW).unwrap_err().code, "invalidInput");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let r: Result<ActivateRoleRequest, _> = serde_json::from_value(
            serde_json::json!({"roleKey":"k","durationMinutes":60,"evil":1}),
        );
        assert!(r.is_err());
    }

    #[test]
    fn settings_round_trip_and_validation() {
        let mut s = Settings::default();
        let mut dto = SettingsDto::from_settings(&s, vec!["a@b".into()]);
        dto.reminder_minutes = vec![5, 30, 5];
        dto.graph_endpoint = "http://127.0.0.1:9/".into();
        dto.apply(&mut s).expect("apply");
        assert_eq!(s.reminder_minutes, [30, 5]);
        assert_eq!(s.graph_endpoint.as_deref(), Some("http://127.0.0.1:9/"));
        dto.arm_endpoint = "http://example.com".into();
        assert_eq!(dto.apply(&mut s).unwrap_err().code, "config");
        dto.arm_endpoint.clear();
        dto.client_id = "nope".into();
        assert_eq!(dto.apply(&mut s).unwrap_err().code, "invalidInput");
        let json = serde_json::to_value(SettingsDto::from_settings(&s, vec![])).expect("json");
        assert!(json.get("reminderMinutes").is_some() && json.get("iconTheme").is_some());
    }

    #[test]
    fn account_commands_validate_their_input() {
        use crate::engine::NewAccountCloud;
        use pim_core::config::Cloud;
        assert_eq!(account_key("public:c:o.t").expect("ok"), "public:c:o.t");
        for bad in ["", "  ", "a\nb", &"k".repeat(401)] {
            assert_eq!(account_key(bad).expect_err(bad).code, "invalidInput");
        }
        assert_eq!(
            new_account_cloud("usgov").expect("usgov"),
            NewAccountCloud::Cloud(Cloud::UsGovernment)
        );
        assert_eq!(
            new_account_cloud("china").expect("china"),
            NewAccountCloud::Cloud(Cloud::China)
        );
        assert_eq!(
            new_account_cloud("public").expect("public"),
            NewAccountCloud::Cloud(Cloud::Public)
        );
        assert_eq!(
            new_account_cloud("custom").expect("custom"),
            NewAccountCloud::Custom
        );
        assert_eq!(
            new_account_cloud("azure-cli").expect("azure-cli"),
            NewAccountCloud::AzureCli
        );
        assert_eq!(
            new_account_cloud("mars").expect_err("unknown").code,
            "invalidInput"
        );
    }

    /// `ui/ipc-types.d.ts` (generated, checked fresh by `ipc::tests`) names every DTO field.
    #[test]
    fn ui_ipc_types_document_every_dto_field() {
        let js = include_str!("../../ui/ipc-types.d.ts");
        let role = RoleView {
            key: "k".into(),
            kind: crate::view::RoleKind::Group,
            name: "n".into(),
            scope: Some("s".into()),
            tenant_id: "t".into(),
            state: crate::view::RoleState::Eligible,
        };
        let form = ActivationFormDto {
            role,
            policy: PolicyView::default(),
            justification: String::new(),
            ticket_system: String::new(),
            recent_justifications: vec!["Incident 42".into()],
            duration_minutes: 60,
            demo: true,
            favourite: false,
        };
        let values = [
            serde_json::to_value(&form).expect("json"),
            serde_json::to_value(SettingsDto::from_settings(&Settings::default(), vec![]))
                .expect("json"),
            serde_json::to_value(ActivateRoleResponse {
                state: "active",
                message: String::new(),
            })
            .expect("json"),
            serde_json::to_value(IpcError::invalid("x")).expect("json"),
            serde_json::to_value(crate::engine::AccountEntry {
                key: "k".into(),
                upn: "u".into(),
                cloud: "public".into(),
                azure_cli: false,
                current: true,
                tenants: vec![],
            })
            .expect("json"),
            serde_json::to_value(crate::engine::TenantEntry {
                id: "t".into(),
                name: "n".into(),
                domain: None,
                home: true,
                shown: true,
            })
            .expect("json"),
            serde_json::json!({"roleKey":0,"justification":0,"ticketNumber":0,"ticketSystem":0,"durationMinutes":0,"startAt":0}),
        ];
        fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
            if let serde_json::Value::Object(m) = v {
                for (k, v) in m {
                    out.push(k.clone());
                    keys(v, out);
                }
            }
        }
        let mut all = Vec::new();
        for v in &values {
            keys(v, &mut all);
        }
        let missing: Vec<_> = all
            .iter()
            .filter(|k| !js.contains(&format!("{k}:")))
            .collect();
        assert!(
            missing.is_empty(),
            "ui/ipc-types.d.ts does not document {missing:?}"
        );
        // The request shape is what ActivateRoleRequest accepts.
        let req: ActivateRoleRequest = serde_json::from_value(serde_json::json!({
            "roleKey":"k","justification":"","ticketNumber":"","ticketSystem":"","durationMinutes":60,"startAt":null
        }))
        .expect("request");
        assert_eq!(req.duration_minutes, 60);
    }
}
