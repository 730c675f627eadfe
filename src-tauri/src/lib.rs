//! pim-tray: the PIM Tray shell (Tauri v2), thin over pim-core.
//!
//! Code map:
//! - `view.rs`: the view model (accounts → tenants → roles with state and policy).
//! - `engine.rs`: the port to the engine (`Engine` trait); `core_adapter/` adapts pim-core's
//!   `Session` and pim-auth's sign-in; `demo.rs` starts the embedded simulator.
//! - `menu.rs` (pure) builds the tray menu from the view model (`recent.rs`: its *Recently
//!   ended* section with *Activate again*); `tray.rs` renders it natively.
//! - `approvals.rs`: the approver's inbox: when it is read (one task), its menu section, the
//!   notice of new requests and the decision window's IPC.
//! - `reminders.rs` (pure + one task) decides when expiry reminders are due and snoozes them;
//!   `notify.rs` shows them with the actions `extend`, `deactivate` and `snooze`, and the
//!   "ended" notice with `again`.
//! - `commands.rs` (IPC glue), `dto.rs` (IPC shapes and input validation), `error.rs`
//!   (`IpcError { code, message }`), `settings.rs` (versioned, atomically written settings),
//!   `windows.rs` (windows on demand), `actions.rs` (menu and notification actions),
//!   `platform.rs` (autostart, signals), `logging.rs`.
//!
//! Invariants:
//! - The idle tray has no webview: windows are created on demand and destroyed on close.
//! - The menu is rebuilt from values the engine pushes (a `watch` channel), never by polling
//!   the service.
//! - Commands are glue: validate the DTO, make one engine call, map the result.
//! - Nothing secret is stored or logged by the shell; tokens live in pim-auth (OS keychain).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod actions;
pub mod approvals;
pub mod bundle;
pub mod commands;
pub mod core_adapter;
pub mod demo;
pub mod dto;
pub mod engine;
pub mod error;
pub mod history;
pub mod ipc;
pub mod logging;
pub mod menu;
pub mod notify;
pub mod platform;
pub mod recent;
pub mod reminders;
pub mod settings;
pub mod shortcuts;
pub mod tray;
pub mod view;
pub mod window_host;
pub mod window_protocol;
pub mod windows;

use std::any::Any;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tauri::{Manager, RunEvent, Runtime};
use tokio::sync::watch;

use crate::dto::ActivationInput;
use crate::engine::Engine;
use crate::error::IpcError;
use crate::settings::{IconTheme, Settings};
use crate::view::TrayModel;

/// How the binary was started.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Start the embedded simulator and sign in to it.
    pub demo: bool,
}

/// The one piece of managed state.
pub struct AppState {
    /// The engine (pim-core session behind the `Engine` port).
    pub engine: Arc<dyn Engine>,
    /// Demo mode.
    pub demo: bool,
    config_dir: PathBuf,
    settings: Mutex<Settings>,
    reminder_minutes: watch::Sender<Vec<u32>>,
    read_now: approvals::ReadNow,
    tasks: Mutex<Vec<Box<dyn Any + Send>>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("engine", &self.engine)
            .field("demo", &self.demo)
            .field("config_dir", &self.config_dir)
            .finish_non_exhaustive()
    }
}

use pim_core::sync::lock;

impl AppState {
    /// State over an engine, with settings loaded from `config_dir` (defaults when missing
    /// or unreadable, with a warning).
    pub fn new(engine: Arc<dyn Engine>, config_dir: PathBuf, demo: bool) -> AppState {
        let settings = Settings::load(&config_dir).unwrap_or_else(|e| {
            tracing::warn!("{e}; using default settings");
            Settings::default()
        });
        AppState {
            engine,
            demo,
            reminder_minutes: watch::Sender::new(settings.reminder_minutes.clone()),
            settings: Mutex::new(settings),
            config_dir,
            read_now: approvals::ReadNow::default(),
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// Asks for the approver's inbox to be read now (`approvals.rs`).
    pub fn approvals_read_now(&self) -> &approvals::ReadNow {
        &self.read_now
    }

    /// The current view model.
    pub fn model(&self) -> TrayModel {
        self.engine.subscribe().borrow().clone()
    }

    /// A copy of the settings.
    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// What the menu shows besides the model: the starred roles.
    pub fn menu_extras(&self) -> shortcuts::MenuExtras {
        shortcuts::MenuExtras {
            favourites: lock(&self.settings).favourites.clone(),
            bundles: match self.bundles().load() {
                Ok(list) => list.into_iter().map(|b| b.name).collect(),
                Err(e) => {
                    tracing::warn!("bundles: {e}");
                    Vec::new()
                }
            },
        }
    }

    /// The bundles `pim bundle save` keeps (`bundles.json` in the config folder).
    pub fn bundles(&self) -> pim_accounts::bundles::BundleStore {
        pim_accounts::bundles::BundleStore::new(&self.config_dir)
    }

    /// Tray icon set.
    pub fn icon_theme(&self) -> IconTheme {
        lock(&self.settings).icon_theme
    }

    /// Changes the settings and saves them atomically.
    pub fn update_settings(
        &self,
        f: impl FnOnce(&mut Settings) -> Result<(), IpcError>,
    ) -> Result<Settings, IpcError> {
        let mut guard = lock(&self.settings);
        let next = Settings::update(&self.config_dir, &guard, f)?;
        *guard = next.clone();
        self.reminder_minutes
            .send_if_modified(|m| std::mem::replace(m, next.reminder_minutes.clone()) != *m);
        Ok(next)
    }

    /// Remembers the justification and ticket system of an activation.
    pub fn remember(&self, input: &ActivationInput) -> Result<(), IpcError> {
        let settings = self.settings();
        let same_reason = settings.justifications.get(&input.key) == Some(&input.justification)
            && settings.recent_justifications.first().map(String::as_str)
                == Some(input.justification.trim());
        let system = input.ticket.as_ref().map(|(_, s)| s.clone());
        if same_reason && (system.is_none() || system == settings.ticket_system) {
            return Ok(());
        }
        self.update_settings(|s| {
            if !input.justification.is_empty() {
                s.justifications
                    .insert(input.key.clone(), input.justification.clone());
                s.note_justification(&input.justification);
            }
            if system.is_some() {
                s.ticket_system = system;
            }
            Ok(())
        })
        .map(|_| ())
    }

    fn keep(&self, task: impl Any + Send) {
        lock(&self.tasks).push(Box::new(task));
    }
}

/// The IPC handler with every command ([`commands::handler`]).
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    commands::handler()
}

/// The app's configuration, assets and capabilities (shared by the tray and window
/// processes).
pub fn context() -> tauri::Context<tauri::Wry> {
    tauri::generate_context!()
}

/// Runs the tray until Quit or a termination signal.
pub fn run(options: RunOptions) -> anyhow::Result<()> {
    let env = pim_core::config::ProcessEnv;
    let mut config_dir = pim_core::config::config_dir_from_env(&env)?;
    if options.demo && pim_core::config::Env::var(&env, "PIM_CONFIG_DIR").is_none() {
        // Keep the demo account out of the real one's accounts file and settings.
        config_dir = config_dir.join("demo");
    }
    pim_auth::accounts::create_private_dir(&config_dir)?;
    logging::init(&config_dir);
    tracing::info!(demo = options.demo, "starting");

    // Tauri's own runtime has a worker thread per core, and each worker keeps its own malloc
    // arena and stack resident once it has run something; the tray's tasks wait on the
    // network almost all the time, so one worker does (blocking work has its own threads).
    // Kept until `run` returns; src-tauri/README.md, Figures.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    tauri::async_runtime::set(runtime.handle().clone());

    let app = tauri::Builder::default()
        // First, so a second launch hands over before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("second launch: showing settings");
            let _ = windows::open_settings(app);
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .invoke_handler(handler())
        .setup(move |app| {
            // A menu-bar app: no Dock icon on macOS.
            #[cfg(target_os = "macos")]
            app.set_activation_policy(tauri::ActivationPolicy::Accessory);
            let handle = app.handle().clone();
            let settings = Settings::load(&config_dir).unwrap_or_default();
            let engine = tauri::async_runtime::block_on(core_adapter::start(
                &options,
                &settings,
                &config_dir,
            ))?;
            let state = AppState::new(engine.clone(), config_dir.clone(), options.demo);
            let minutes = state.reminder_minutes.subscribe();
            app.manage(state);
            app.manage(window_host::Children::default());
            notify::register(&handle)?;
            let model = engine.subscribe().borrow().clone();
            let state = handle.state::<AppState>();
            tray::create(&handle, &model, state.icon_theme())?;
            let theme_app = handle.clone();
            state.keep(tray::TrayTask::spawn(
                handle.clone(),
                engine.subscribe(),
                Arc::new(move || theme_app.state::<AppState>().icon_theme()),
            ));
            let (snoozer, snoozes) = reminders::Snoozer::channel();
            handle.manage(snoozer);
            state.keep(reminders::ReminderTask::spawn(
                engine.subscribe(),
                minutes,
                snoozes,
                Arc::new(reminders::SystemClock),
                Arc::new(notify::Notifier::new(handle.clone())),
            ));
            state.keep(approvals::InboxTask::spawn(
                engine.clone(),
                state.approvals_read_now().clone(),
                Arc::new(notify::Notifier::new(handle.clone())),
            ));
            platform::exit_on_signals(handle.clone());
            if settings.launch_at_login {
                platform::apply_launch_at_login(&handle, true);
            }
            Ok(())
        })
        .build(context())?;

    app.run(|app, event| match event {
        RunEvent::ExitRequested {
            code: None, api, ..
        } => {
            // The last window closed: the tray keeps running.
            api.prevent_exit();
        }
        RunEvent::Exit => {
            // Quit or a signal: let a rotated refresh token reach the keychain first.
            if let Some(state) = app.try_state::<AppState>() {
                let engine = state.engine.clone();
                tauri::async_runtime::block_on(async move {
                    let wait = std::time::Duration::from_secs(5);
                    let _ = tokio::time::timeout(wait, engine.flush()).await;
                });
            }
        }
        _ => {}
    });
    Ok(())
}
