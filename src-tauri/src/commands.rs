//! IPC commands: glue only. Each takes a DTO, validates it, makes one engine call, and
//! returns a DTO or an [`IpcError`]. [`TrayCommands`] is the tray's [`Commands`] (the list of
//! calls is `ipc_calls.rs`); [`dispatch`] answers a [`Call`] from a page in this process or
//! relayed by a window process, and [`handler`] is the tray's own Tauri IPC handler.

use serde_json::Value;
use tauri::{AppHandle, Manager, Runtime};

use crate::AppState;
use crate::approvals::{ApprovalDto, DecideApprovalRequest};
use crate::bundle::{
    ActivateBundleRequest, BundleEditDto, BundleFormDto, BundleRoleResultDto, BundleSummaryDto,
};
use crate::dto::{ActivateRoleRequest, ActivateRoleResponse, ActivationFormDto, SettingsDto};
use crate::engine::{AccountEntry, ActivationOutcome};
use crate::error::IpcError;
use crate::history::{HistoryDto, HistoryExportDto};
use crate::ipc::{Call, Commands};

fn not_found(key: &str) -> IpcError {
    IpcError {
        code: pim_core::ErrorCode::NotFound,
        message: format!("The role `{key}` is no longer available; refresh the tray menu."),
    }
}

/// Body of `get_activation_form` (also answers windows hosted in a child process).
pub async fn activation_form(
    state: &AppState,
    role_key: String,
) -> Result<ActivationFormDto, IpcError> {
    let settings = state.settings();
    // The engine finds the role once, in its session, with its policy.
    let form = state
        .engine
        .activation_form(&role_key, settings.default_duration_minutes)
        .await
        .map_err(|e| match e {
            pim_core::Error::NotFound { .. } => not_found(&role_key),
            e => IpcError::from(e),
        })?;
    Ok(ActivationFormDto {
        duration_minutes: form.duration_minutes,
        justification: settings
            .justifications
            .get(&role_key)
            .cloned()
            .unwrap_or_default(),
        ticket_system: settings.ticket_system.clone().unwrap_or_default(),
        recent_justifications: settings.recent_justifications.clone(),
        demo: state.demo,
        favourite: settings.favourites.contains(&role_key),
        role: form.role,
        policy: form.policy,
    })
}

/// Body of `activate_role`.
pub async fn activate(
    state: &AppState,
    request: ActivateRoleRequest,
) -> Result<ActivateRoleResponse, IpcError> {
    let title = state
        .model()
        .role(&request.role_key)
        .map(|r| r.title())
        .ok_or_else(|| not_found(&request.role_key))?;
    // Shape only here; the role's policy is checked by the core before anything is sent.
    let input = request.validate(time::OffsetDateTime::now_utc())?;
    // Remembering the justification is a convenience: a settings file that cannot be written
    // (read-only or full disk) is logged and mentioned, and never stops the activation.
    let remembered = state.remember(&input);
    let outcome = state.engine.activate(input).await?;
    let mut response = match outcome {
        ActivationOutcome::Active => ActivateRoleResponse {
            state: "active",
            message: format!("{title} is active."),
        },
        ActivationOutcome::Pending => ActivateRoleResponse {
            state: "pending",
            message: format!("{title} was requested and waits for approval."),
        },
        ActivationOutcome::Scheduled => ActivateRoleResponse {
            state: "scheduled",
            message: format!("{title} is scheduled."),
        },
    };
    if let Err(e) = remembered {
        tracing::warn!(error = %e.message, "could not save the justification in the settings");
        response.message.push_str(&format!(
            " Your justification was not saved for next time: {}",
            e.message
        ));
    }
    Ok(response)
}

/// How long `activation_progress` waits for news before answering with the current state.
pub const PROGRESS_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Body of `activation_progress`.
pub async fn progress(state: &AppState, seen: Option<String>) -> Result<Option<String>, IpcError> {
    if seen.as_ref().is_some_and(|s| s.chars().count() > 500) {
        return Err(IpcError::invalid("`seen` is longer than 500 characters."));
    }
    let mut rx = state.engine.progress();
    if *rx.borrow_and_update() != seen {
        return Ok(rx.borrow().clone());
    }
    let _ = tokio::time::timeout(PROGRESS_WAIT, rx.changed()).await;
    Ok(rx.borrow().clone())
}

/// Body of `get_accounts`.
pub fn accounts(state: &AppState) -> Result<Vec<AccountEntry>, IpcError> {
    Ok(state.engine.accounts()?.into_iter().collect())
}

/// Body of `use_account` and `remove_account`.
pub async fn account_action(
    state: &AppState,
    action: &str,
    key: String,
) -> Result<Vec<AccountEntry>, IpcError> {
    let key = crate::dto::account_key(&key)?;
    match action {
        "use" => state.engine.use_account(key).await?,
        _ => state.engine.remove_account(key).await?,
    }
    accounts(state)
}

/// Body of `add_account`.
pub async fn add(state: &AppState, cloud: String) -> Result<Vec<AccountEntry>, IpcError> {
    let cloud = crate::dto::new_account_cloud(&cloud)?;
    state.engine.add_account(cloud).await?;
    accounts(state)
}

/// Body of `set_tenant_shown`.
pub async fn tenant_shown(
    state: &AppState,
    key: String,
    tenant_id: String,
    shown: bool,
) -> Result<Vec<AccountEntry>, IpcError> {
    let key = crate::dto::account_key(&key)?;
    let tenant = crate::dto::tenant_id(&tenant_id)?;
    state.engine.set_tenant_shown(key, tenant, shown).await?;
    accounts(state)
}

/// Body of `get_settings`.
pub fn settings_dto(state: &AppState) -> SettingsDto {
    let accounts = state
        .model()
        .accounts
        .iter()
        .map(|a| a.upn.clone())
        .collect();
    SettingsDto::from_settings(&state.settings(), accounts)
}

/// Body of `save_settings`.
pub fn save<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    settings: SettingsDto,
) -> Result<SettingsDto, IpcError> {
    let saved = state.update_settings(|s| settings.apply(s))?;
    crate::platform::apply_launch_at_login(app, saved.launch_at_login);
    crate::tray::refresh_now(app);
    let accounts = state
        .model()
        .accounts
        .iter()
        .map(|a| a.upn.clone())
        .collect();
    Ok(SettingsDto::from_settings(&saved, accounts))
}

/// Body of `set_favourite`: the role must be one the open accounts have (a key from the
/// activation window), then the settings are saved and the menu rebuilt.
pub fn favourite<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    role_key: String,
    favourite: bool,
) -> Result<bool, IpcError> {
    if state.model().role(&role_key).is_none() {
        return Err(not_found(&role_key));
    }
    let saved = state.update_settings(|s| {
        s.set_favourite(&role_key, favourite);
        Ok(())
    })?;
    crate::tray::refresh_now(app);
    Ok(saved.favourites.contains(&role_key))
}

/// The tray's command bodies, over the app's state.
#[derive(Debug)]
pub struct TrayCommands<R: Runtime> {
    /// The app (its [`AppState`]; settings also touch autostart and the tray).
    pub app: AppHandle<R>,
}

impl<R: Runtime> TrayCommands<R> {
    fn state(&self) -> tauri::State<'_, AppState> {
        self.app.state::<AppState>()
    }
}

impl<R: Runtime> Commands for TrayCommands<R> {
    async fn get_activation_form(&self, role_key: String) -> Result<ActivationFormDto, IpcError> {
        activation_form(&self.state(), role_key).await
    }

    async fn activate_role(
        &self,
        request: ActivateRoleRequest,
    ) -> Result<ActivateRoleResponse, IpcError> {
        activate(&self.state(), request).await
    }

    async fn activation_progress(&self, seen: Option<String>) -> Result<Option<String>, IpcError> {
        progress(&self.state(), seen).await
    }

    async fn get_settings(&self) -> Result<SettingsDto, IpcError> {
        Ok(settings_dto(&self.state()))
    }

    async fn save_settings(&self, settings: SettingsDto) -> Result<SettingsDto, IpcError> {
        save(&self.app, &self.state(), settings)
    }

    async fn get_accounts(&self) -> Result<Vec<AccountEntry>, IpcError> {
        accounts(&self.state())
    }

    async fn use_account(&self, key: String) -> Result<Vec<AccountEntry>, IpcError> {
        account_action(&self.state(), "use", key).await
    }

    async fn remove_account(&self, key: String) -> Result<Vec<AccountEntry>, IpcError> {
        account_action(&self.state(), "remove", key).await
    }

    async fn add_account(&self, cloud: String) -> Result<Vec<AccountEntry>, IpcError> {
        add(&self.state(), cloud).await
    }

    async fn get_bundle_form(&self, name: String) -> Result<BundleFormDto, IpcError> {
        crate::bundle::form(&self.state(), &name).await
    }

    async fn activate_bundle(
        &self,
        request: ActivateBundleRequest,
    ) -> Result<Vec<BundleRoleResultDto>, IpcError> {
        crate::bundle::activate(&self.state(), request).await
    }

    async fn get_bundles(&self) -> Result<Vec<BundleSummaryDto>, IpcError> {
        crate::bundle::list(&self.state())
    }

    async fn remove_bundle(&self, name: String) -> Result<Vec<BundleSummaryDto>, IpcError> {
        let r = crate::bundle::remove(&self.state(), &name);
        crate::tray::refresh_now(&self.app);
        r
    }

    async fn update_bundle(&self, edit: BundleEditDto) -> Result<Vec<BundleSummaryDto>, IpcError> {
        crate::bundle::update(&self.state(), edit)
    }

    async fn save_active_bundle(&self, name: String) -> Result<Vec<BundleSummaryDto>, IpcError> {
        let r = crate::bundle::save_active(&self.state(), &name).await;
        crate::tray::refresh_now(&self.app);
        r
    }

    async fn get_approval(&self, id: String) -> Result<ApprovalDto, IpcError> {
        crate::approvals::approval(&self.state(), &id)
    }

    async fn decide_approval(&self, request: DecideApprovalRequest) -> Result<String, IpcError> {
        crate::approvals::decide(&self.state(), request).await
    }

    async fn get_history(&self, days: u32) -> Result<HistoryDto, IpcError> {
        crate::history::history(&self.state(), days).await
    }

    async fn export_history(&self, days: u32) -> Result<HistoryExportDto, IpcError> {
        // The user's Downloads folder, else their home folder.
        let dir = self
            .app
            .path()
            .download_dir()
            .ok()
            .filter(|d| d.is_dir())
            .or_else(|| self.app.path().home_dir().ok())
            .ok_or_else(|| IpcError::invalid("there is no Downloads or home folder to save in"))?;
        crate::history::export(&self.state(), days, &dir).await
    }

    async fn set_tenant_shown(
        &self,
        key: String,
        tenant_id: String,
        shown: bool,
    ) -> Result<Vec<AccountEntry>, IpcError> {
        tenant_shown(&self.state(), key, tenant_id, shown).await
    }

    async fn set_favourite(&self, role_key: String, favourite: bool) -> Result<bool, IpcError> {
        crate::commands::favourite(&self.app, &self.state(), role_key, favourite)
    }

    async fn close_window(&self) -> Result<(), IpcError> {
        // The window's own process closes it (see `handler`, `window_host`).
        Err(IpcError::invalid(
            "`close_window` is answered by the window that asks",
        ))
    }
}

/// Answers a call with the tray's command bodies.
pub async fn dispatch<R: Runtime>(app: &AppHandle<R>, call: Call) -> Result<Value, IpcError> {
    call.run(&TrayCommands { app: app.clone() }).await
}

/// The tray's Tauri IPC handler (pages in its own process): every listed command, read by
/// [`Call::parse`] and answered by [`dispatch`]; `close_window` closes the calling window.
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    |invoke| {
        let args = match invoke.message.payload() {
            tauri::ipc::InvokeBody::Json(v) => v.clone(),
            tauri::ipc::InvokeBody::Raw(_) => Value::Null,
        };
        let call = match Call::parse(invoke.message.command(), args) {
            Ok(call) => call,
            Err(e) => {
                invoke.resolver.reject(e);
                return true;
            }
        };
        if call == (Call::CloseWindow {}) {
            match invoke.message.webview().window().destroy() {
                Ok(()) => invoke.resolver.resolve(()),
                Err(e) => invoke
                    .resolver
                    .reject(IpcError::internal(format!("cannot close the window: {e}"))),
            }
            return true;
        }
        let app = invoke.message.webview().app_handle().clone();
        invoke.resolver.respond_async(async move {
            dispatch(&app, call)
                .await
                .map_err(tauri::ipc::InvokeError::from)
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use tauri::test::{
        INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
    };
    use tauri::webview::InvokeRequest;

    use crate::engine::FakeEngine;
    use crate::view::{RoleKind, RoleState, RoleView};

    fn app() -> (tauri::App<MockRuntime>, Arc<FakeEngine>, tempfile::TempDir) {
        let engine = Arc::new(FakeEngine::global_reader());
        let dir = tempfile::tempdir().expect("tempdir");
        let state = crate::AppState::new(engine.clone(), dir.path().to_owned(), true);
        let app = mock_builder()
            .manage(state)
            .invoke_handler(crate::handler())
            .build(mock_context(noop_assets()))
            .expect("app");
        (app, engine, dir)
    }

    fn invoke(
        app: &tauri::App<MockRuntime>,
        cmd: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        let webview = match tauri::Manager::get_webview_window(app, "main") {
            Some(w) => w,
            None => tauri::WebviewWindowBuilder::new(app, "main", Default::default())
                .build()
                .expect("webview"),
        };
        get_ipc_response(
            &webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: tauri::ipc::CallbackFn(0),
                error: tauri::ipc::CallbackFn(1),
                url: "tauri://localhost".parse().expect("url"),
                body: tauri::ipc::InvokeBody::Json(body),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<serde_json::Value>().expect("json"))
    }

    #[test]
    fn starring_a_role_is_saved_and_shown_in_its_form() {
        let (app, _engine, dir) = app();
        let form = invoke(&app, "get_activation_form", json!({"roleKey":"gr"})).expect("form");
        assert_eq!(form["favourite"], false);
        let on = invoke(
            &app,
            "set_favourite",
            json!({"roleKey":"gr","favourite":true}),
        )
        .expect("starred");
        assert_eq!(on, true);
        let form = invoke(&app, "get_activation_form", json!({"roleKey":"gr"})).expect("form");
        assert_eq!(form["favourite"], true);
        let saved = crate::settings::Settings::load(dir.path()).expect("settings");
        assert_eq!(saved.favourites, ["gr"]);
        let err = invoke(
            &app,
            "set_favourite",
            json!({"roleKey":"nope","favourite":true}),
        )
        .expect_err("unknown role");
        assert_eq!(err["code"], "notFound");
        let off = invoke(
            &app,
            "set_favourite",
            json!({"roleKey":"gr","favourite":false}),
        )
        .expect("unstarred");
        assert_eq!(off, false);
    }

    #[test]
    fn activation_form_and_activation_through_ipc() {
        let (app, engine, dir) = app();
        let form = invoke(&app, "get_activation_form", json!({"roleKey":"gr"})).expect("form");
        assert_eq!(form["role"]["title"], "Global Reader");
        assert_eq!(form["policy"]["maxDurationMinutes"], 480);
        assert_eq!(form["durationMinutes"], 60);
        assert_eq!(form["demo"], true);

        let err = invoke(
            &app,
            "activate_role",
            json!({"request":{"roleKey":"gr","durationMinutes":60}}),
        )
        .expect_err("justification required");
        assert_eq!(err["code"], "policyViolation");

        let ok = invoke(
            &app,
            "activate_role",
            json!({"request":{"roleKey":"gr","justification":"Audit","durationMinutes":120}}),
        )
        .expect("activated");
        assert_eq!(ok["state"], "active");
        assert_eq!(*engine.calls.lock().expect("lock"), ["activate:gr:120"]);
        // The justification is remembered (in the settings file, atomically written).
        let form = invoke(&app, "get_activation_form", json!({"roleKey":"gr"})).expect("form");
        assert_eq!(form["justification"], "Audit");
        assert!(
            std::fs::read_to_string(dir.path().join(crate::settings::FILE_NAME))
                .expect("settings file")
                .contains("Audit")
        );

        let err =
            invoke(&app, "get_activation_form", json!({"roleKey":"nope"})).expect_err("unknown");
        assert_eq!(err["code"], "notFound");
    }

    /// A fake engine with one eligible role, Security Administrator (key `sa`).
    fn security_administrator() -> FakeEngine {
        FakeEngine::new(vec![RoleView {
            key: "sa".into(),
            kind: RoleKind::EntraRole,
            name: "Security Administrator".into(),
            scope: None,
            tenant_id: "t".into(),
            state: RoleState::Eligible,
        }])
    }

    #[test]
    fn a_settings_file_that_cannot_be_written_does_not_stop_the_activation() {
        let fake = Arc::new(security_administrator());
        let dir = tempfile::tempdir().expect("tempdir");
        // The config "folder" is a regular file: nothing can be written below it (as a read-only
        // or full disk would refuse), whoever runs the test.
        let blocked = dir.path().join("not-a-folder");
        std::fs::write(&blocked, "").expect("file");
        let state = crate::AppState::new(fake.clone(), blocked, true);
        let request: crate::dto::ActivateRoleRequest = serde_json::from_value(
            json!({"roleKey":"sa","justification":"Incident 7","durationMinutes":60}),
        )
        .expect("request");
        let done = tauri::async_runtime::block_on(super::activate(&state, request))
            .expect("activated although the settings could not be saved");
        assert_eq!(done.state, "active");
        assert!(
            done.message.contains("not saved for next time"),
            "{}",
            done.message
        );
        assert_eq!(*fake.calls.lock().expect("lock"), ["activate:sa:60"]);
    }

    #[test]
    fn bad_input_is_refused_in_rust() {
        let (app, _engine, _dir) = app();
        let err = invoke(
            &app,
            "activate_role",
            json!({"request":{"roleKey":"gr","durationMinutes":"lots"}}),
        )
        .expect_err("bad type");
        assert!(err.to_string().contains("invalid type"), "{err}");
        let mut s = invoke(&app, "get_settings", json!({})).expect("settings");
        assert_eq!(s["reminderMinutes"], json!([15, 5]));
        s["reminderMinutes"] = json!([0]);
        let err = invoke(&app, "save_settings", json!({"settings": s})).expect_err("bad minutes");
        assert_eq!(err["code"], "invalidInput");
    }

    #[test]
    fn progress_tells_a_waiting_window_about_the_step_up_then_the_end() {
        let mut fake = security_administrator();
        fake.step_up = Some(crate::core_adapter::STEP_UP_MESSAGE.into());
        let dir = tempfile::tempdir().expect("tempdir");
        let state = crate::AppState::new(Arc::new(fake), dir.path().to_owned(), true);
        let request: crate::dto::ActivateRoleRequest = serde_json::from_value(
            json!({"roleKey":"sa","justification":"Incident 7","durationMinutes":60}),
        )
        .expect("request");
        let (seen, done) = tauri::async_runtime::block_on(async {
            tokio::join!(
                super::progress(&state, None),
                super::activate(&state, request)
            )
        });
        assert_eq!(
            seen.expect("progress").as_deref(),
            Some("Additional verification: complete the sign-in in your browser…")
        );
        assert_eq!(done.expect("activated").state, "active");
        // After the activation the news is "nothing running", at once for a window that
        // still shows the step-up.
        let after = tauri::async_runtime::block_on(super::progress(
            &state,
            Some(crate::core_adapter::STEP_UP_MESSAGE.into()),
        ))
        .expect("progress");
        assert_eq!(after, None);
        // Input from the page is checked.
        let err = tauri::async_runtime::block_on(super::progress(&state, Some("x".repeat(501))))
            .expect_err("too long");
        assert_eq!(err.code, "invalidInput");
    }

    #[test]
    fn account_commands_through_ipc() {
        let (app, engine, _dir) = app();
        let list = invoke(&app, "get_accounts", json!({})).expect("accounts");
        assert_eq!(list[0]["upn"], "adele@contoso.onmicrosoft.com");
        assert_eq!(list[0]["current"], true);
        let key = list[0]["key"].as_str().expect("key").to_owned();
        let err = invoke(&app, "use_account", json!({"key": ""})).expect_err("empty key");
        assert_eq!(err["code"], "invalidInput");
        let err = invoke(&app, "use_account", json!({"key": "nobody"})).expect_err("unknown");
        assert_eq!(err["code"], "notFound");
        invoke(&app, "use_account", json!({"key": key})).expect("use");
        let err = invoke(&app, "add_account", json!({"cloud": "mars"})).expect_err("cloud");
        assert_eq!(err["code"], "invalidInput");
        invoke(&app, "add_account", json!({"cloud": "usgov"})).expect("add");
        assert_eq!(list[0]["tenants"][0]["name"], "Contoso");
        assert_eq!(list[0]["tenants"][0]["shown"], true);
        let err = invoke(
            &app,
            "set_tenant_shown",
            json!({"key": key, "tenantId": "a\nb", "shown": false}),
        )
        .expect_err("malformed tenant id");
        assert_eq!(err["code"], "invalidInput");
        // Tauri refuses a call without `shown` before the command runs.
        let err = invoke(
            &app,
            "set_tenant_shown",
            json!({"key": key, "tenantId": "t"}),
        )
        .expect_err("missing flag");
        assert!(err.to_string().contains("shown"), "{err}");
        invoke(
            &app,
            "set_tenant_shown",
            json!({"key": key, "tenantId": " t ", "shown": false}),
        )
        .expect("hide");
        let list = invoke(&app, "remove_account", json!({"key": key})).expect("remove");
        assert_eq!(list, json!([]));
        assert_eq!(
            *engine.calls.lock().expect("lock"),
            [
                "use-account:nobody".to_owned(),
                format!("use-account:{key}"),
                "add-account:Cloud(UsGovernment)".to_owned(),
                format!("tenant-shown:{key}:t:false"),
                format!("remove-account:{key}"),
            ]
        );
    }

    #[test]
    fn a_request_is_shown_and_decided_through_ipc_once() {
        use crate::approvals::tests_support::alex;
        let (app, engine, _dir) = app();
        *engine.inbox.lock().expect("lock") = vec![alex("entra:t:a1"), alex("group:t:g1")];
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(crate::engine::Engine::read_approvals(engine.as_ref()))
            .expect("inbox");
        let a = invoke(&app, "get_approval", json!({"id": "entra:t:a1"})).expect("request");
        assert_eq!(a["requester"], "Alex Wilber");
        assert_eq!(a["name"], "Global Administrator");
        assert_eq!(a["ticket"], "ServiceNow INC-2217");
        assert_eq!(a["actionable"], true);
        // Refused before anything is sent: no reason to deny, a decision that is neither,
        // too long a justification.
        for (body, code) in [
            (
                json!({"id": "entra:t:a1", "decision": "deny", "justification": " "}),
                "invalidInput",
            ),
            (
                json!({"id": "entra:t:a1", "decision": "maybe"}),
                "invalidInput",
            ),
            (
                json!({"id": "entra:t:a1", "decision": "approve", "justification": "x".repeat(501)}),
                "invalidInput",
            ),
        ] {
            let err =
                invoke(&app, "decide_approval", json!({ "request": body })).expect_err("refused");
            assert_eq!(err["code"], code, "{err}");
        }
        assert!(engine.calls_to("decide").is_empty(), "nothing sent");
        let done = invoke(
            &app,
            "decide_approval",
            json!({"request": {"id": "entra:t:a1", "decision": "approve", "justification": " ok "}}),
        )
        .expect("approved");
        assert_eq!(done, "approved");
        let done = invoke(
            &app,
            "decide_approval",
            json!({"request": {"id": "group:t:g1", "decision": "deny", "justification": "Not now"}}),
        )
        .expect("denied");
        assert_eq!(done, "denied");
        assert_eq!(
            engine.calls_to("decide"),
            [
                "decide:entra:t:a1:Approve:ok",
                "decide:group:t:g1:Deny:Not now"
            ]
        );
        // Decided: gone; the window says so plainly.
        for cmd in ["get_approval", "decide_approval"] {
            let body = if cmd == "get_approval" {
                json!({"id": "entra:t:a1"})
            } else {
                json!({"request": {"id": "entra:t:a1", "decision": "approve"}})
            };
            let err = invoke(&app, cmd, body).expect_err("gone");
            assert_eq!(err["code"], "notFound", "{err}");
            assert!(
                err["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("no longer waits for you"),
                "{err}"
            );
        }
        assert_eq!(engine.calls_to("decide").len(), 2, "sent once each");
    }

    #[test]
    fn history_through_ipc_and_its_csv_export() {
        let (app, engine, dir) = app();
        let recent = crate::history::tests_support::entry(time::OffsetDateTime::now_utc());
        let old = crate::history::tests_support::entry(
            time::OffsetDateTime::now_utc() - time::Duration::days(40),
        );
        *engine.history.lock().expect("lock") = vec![old, recent];
        let h = invoke(&app, "get_history", json!({"days": 30})).expect("history");
        assert_eq!(h["entries"].as_array().map(Vec::len), Some(1), "{h}");
        assert_eq!(h["entries"][0]["name"], "SQL Prod Admins (member)");
        let h = invoke(&app, "get_history", json!({"days": 90})).expect("history");
        assert_eq!(h["entries"].as_array().map(Vec::len), Some(2));
        for days in [0, 366] {
            let err = invoke(&app, "get_history", json!({ "days": days })).expect_err("range");
            assert_eq!(err["code"], "invalidInput", "{days}");
        }
        // The export writes pim-core's CSV, never over an earlier file.
        let state = tauri::Manager::state::<crate::AppState>(&app);
        let out = dir.path().join("downloads");
        std::fs::create_dir(&out).expect("dir");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let first = rt
            .block_on(crate::history::export(&state, 90, &out))
            .expect("export");
        let second = rt
            .block_on(crate::history::export(&state, 90, &out))
            .expect("export");
        assert_eq!(first.count, 2);
        assert_ne!(first.path, second.path);
        let csv = std::fs::read_to_string(&first.path).expect("csv");
        assert!(
            csv.starts_with("createdAt,tenantId,tenantName,kind,name"),
            "{csv}"
        );
        assert!(csv.contains("\"Fix, \"\"prod\"\"\""), "{csv}");
        assert_eq!(csv.lines().count(), 3);
    }

    #[test]
    fn bundle_window_through_ipc() {
        use pim_accounts::bundles::{Bundle, BundleRole, BundleStore};
        let (app, engine, dir) = app();
        let err = invoke(&app, "get_bundle_form", json!({"name": "nope"})).expect_err("unknown");
        assert!(
            err["message"].as_str().unwrap_or("").contains("nope"),
            "{err}"
        );
        BundleStore::new(dir.path())
            .save(Bundle {
                name: "On call".into(),
                roles: vec![BundleRole {
                    tenant_id: "t".into(),
                    kind: pim_core::RoleKind::EntraRole,
                    role_definition_id: "gone".into(),
                    scope_id: "/".into(),
                    access_id: None,
                    name: "Retired Role".into(),
                    scope_name: "Directory".into(),
                    tenant_name: "Contoso".into(),
                }],
                reason: Some("Pager duty".into()),
                ticket_system: None,
                duration: None,
            })
            .expect("save");
        let f = invoke(&app, "get_bundle_form", json!({"name": "on call"})).expect("form");
        assert_eq!(f["name"], "On call");
        assert_eq!(f["justification"], "Pager duty");
        assert_eq!(f["roles"][0]["title"], "Retired Role");
        assert_eq!(f["roles"][0]["found"], false);
        assert_eq!(f["demo"], true);
        // The request's shape is checked here before the engine sees it.
        let long = "x".repeat(501);
        let err = invoke(
            &app,
            "activate_bundle",
            json!({"request": {"name": "On call", "justification": long, "durationMinutes": 60}}),
        )
        .expect_err("too long");
        assert_eq!(err["code"], "invalidInput");
        assert!(
            engine.calls_to("activate_bundle").is_empty(),
            "nothing sent"
        );
        let r = invoke(
            &app,
            "activate_bundle",
            json!({"request": {"name": "On call", "justification": "Pager duty", "durationMinutes": 60}}),
        )
        .expect("results");
        assert_eq!(r[0]["outcome"], "failed", "{r}");

        // Settings: the list, nothing active to save, and removal.
        let list = invoke(&app, "get_bundles", json!({})).expect("list");
        assert_eq!(list[0]["name"], "On call");
        assert_eq!(list[0]["roles"][0], "Retired Role — Directory (Contoso)");
        let err = invoke(&app, "save_active_bundle", json!({"name": "Now"})).expect_err("none");
        assert_eq!(err["code"], "invalidInput");
        assert!(
            err["message"]
                .as_str()
                .unwrap_or("")
                .contains("No role is active"),
            "{err}"
        );
        let err = invoke(&app, "save_active_bundle", json!({"name": " "})).expect_err("name");
        assert_eq!(err["code"], "invalidInput");
        let edited = invoke(
            &app,
            "update_bundle",
            json!({"edit": {"name": "on call", "reason": "Night shift", "ticketSystem": "Jira", "durationMinutes": 120}}),
        )
        .expect("edited");
        assert_eq!(edited[0]["reason"], "Night shift");
        assert_eq!(edited[0]["ticketSystem"], "Jira");
        assert_eq!(edited[0]["durationMinutes"], 120);
        assert_eq!(
            edited[0]["roles"].as_array().map(Vec::len),
            Some(1),
            "roles kept"
        );
        let err = invoke(
            &app,
            "update_bundle",
            json!({"edit": {"name": "On call", "durationMinutes": 2}}),
        )
        .expect_err("too short");
        assert_eq!(err["code"], "invalidInput");
        let cleared =
            invoke(&app, "update_bundle", json!({"edit": {"name": "On call"}})).expect("cleared");
        assert_eq!(cleared[0]["reason"], "");
        assert_eq!(cleared[0]["durationMinutes"], serde_json::Value::Null);
        let left = invoke(&app, "remove_bundle", json!({"name": "ON CALL"})).expect("removed");
        assert_eq!(left, json!([]));
        let err = invoke(&app, "remove_bundle", json!({"name": "On call"})).expect_err("gone");
        assert_eq!(err["code"], "invalidInput", "{err}");
    }
}
