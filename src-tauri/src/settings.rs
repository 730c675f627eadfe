//! The tray's settings: one versioned struct with serde defaults, stored as JSON in the config
//! folder (`PIM_CONFIG_DIR`) and written atomically (temporary file + rename). Nothing secret
//! is stored here: tokens live only in the OS keychain.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name inside the config folder.
pub const FILE_NAME: &str = "tray-settings.json";

/// Which tray icon set to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum IconTheme {
    /// Follows the taskbar where the system says (Windows' light or dark taskbar); a light
    /// glyph for dark panels elsewhere (the usual Linux look).
    #[default]
    Auto,
    /// Light glyph, for dark panels.
    Dark,
    /// Dark glyph, for light panels.
    Light,
}

/// Tray settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    /// Format version.
    pub version: u32,
    /// Reminder times in minutes before an activation ends.
    pub reminder_minutes: Vec<u32>,
    /// Default activation duration in minutes (capped by each role's policy).
    pub default_duration_minutes: u32,
    /// Start the tray at login.
    pub launch_at_login: bool,
    /// Cloud (`public`, `usgov`, `china`).
    pub cloud: String,
    /// App registration (client id); None uses the default.
    pub client_id: Option<String>,
    /// Authority host override.
    pub authority_host: Option<String>,
    /// Graph endpoint override.
    pub graph_endpoint: Option<String>,
    /// ARM endpoint override.
    pub arm_endpoint: Option<String>,
    /// Tray icon set.
    pub icon_theme: IconTheme,
    /// Last justification per role key (remembered for the activation window).
    pub justifications: BTreeMap<String, String>,
    /// Last ticket system used.
    pub ticket_system: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            version: 1,
            reminder_minutes: vec![15, 5],
            default_duration_minutes: 60,
            launch_at_login: false,
            cloud: "public".into(),
            client_id: None,
            authority_host: None,
            graph_endpoint: None,
            arm_endpoint: None,
            icon_theme: IconTheme::Auto,
            justifications: BTreeMap::new(),
            ticket_system: None,
        }
    }
}

/// Errors reading or writing the settings file.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file exists but is not valid.
    #[error("settings file {path} is not valid: {source}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// Parse error.
        source: serde_json::Error,
    },
    /// I/O.
    #[error("cannot access settings file {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
}

impl Settings {
    /// Path of the settings file in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE_NAME)
    }

    /// Loads the settings; a missing file gives the defaults.
    pub fn load(dir: &Path) -> Result<Settings, SettingsError> {
        let path = Self::path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| SettingsError::Invalid { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(source) => Err(SettingsError::Io { path, source }),
        }
    }

    /// Saves atomically: writes a temporary file in `dir`, syncs it, renames it over the old one.
    pub fn save(&self, dir: &Path) -> Result<(), SettingsError> {
        let path = Self::path(dir);
        let io = |source| SettingsError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        let json = serde_json::to_vec_pretty(self).map_err(|source| SettingsError::Invalid {
            path: path.clone(),
            source,
        })?;
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_defaults_and_save_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("not-yet");
        let mut s = Settings::load(&sub).expect("load");
        assert_eq!(s.reminder_minutes, [15, 5]);
        s.justifications.insert("k".into(), "Incident 42".into());
        s.save(&sub).expect("save");
        assert_eq!(Settings::load(&sub).expect("reload"), s);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&sub)
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [FILE_NAME]);
    }

    #[test]
    fn unknown_and_missing_fields_are_tolerated_bad_json_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            Settings::path(dir.path()),
            r#"{"reminderMinutes":[1],"future":true}"#,
        )
        .expect("write");
        let s = Settings::load(dir.path()).expect("load");
        assert_eq!(s.reminder_minutes, [1]);
        assert_eq!(s.default_duration_minutes, 60);
        std::fs::write(Settings::path(dir.path()), "{").expect("write");
        assert!(matches!(
            Settings::load(dir.path()),
            Err(SettingsError::Invalid { .. })
        ));
    }
}
