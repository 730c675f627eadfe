//! The tray's settings: one versioned struct with serde defaults, stored as JSON in the config
//! folder (`PIM_CONFIG_DIR`) and written atomically (temporary file + rename). Nothing secret
//! is stored here: tokens live only in the OS keychain.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name inside the config folder.
pub const FILE_NAME: &str = "tray-settings.json";

/// Which tray icon set to use.
#[cfg_attr(test, derive(ts_rs::TS))]
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
    /// The last few justifications, newest first, whatever the role (offered in the
    /// activation window).
    pub recent_justifications: Vec<String>,
    /// Starred roles (stable role keys, as `pim_core::Role::key`), in the order starred: the
    /// menu's *Favourites*.
    pub favourites: Vec<String>,
}

/// How many recent justifications are kept.
pub const RECENT_JUSTIFICATIONS: usize = 5;

impl Settings {
    /// Puts `justification` first among the recent ones (once; at most
    /// [`RECENT_JUSTIFICATIONS`] kept). Blank ones are not kept.
    pub fn note_justification(&mut self, justification: &str) {
        let j = justification.trim();
        if j.is_empty() {
            return;
        }
        self.recent_justifications.retain(|r| r != j);
        self.recent_justifications.insert(0, j.to_owned());
        self.recent_justifications.truncate(RECENT_JUSTIFICATIONS);
    }

    /// Stars (`favourite`) or unstars the role `key`; a role is starred once, new ones last.
    pub fn set_favourite(&mut self, key: &str, favourite: bool) {
        let starred = self.favourites.iter().any(|k| k == key);
        if favourite && !starred {
            self.favourites.push(key.to_owned());
        } else if !favourite {
            self.favourites.retain(|k| k != key);
        }
    }
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
            recent_justifications: Vec::new(),
            favourites: Vec::new(),
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

    /// Saves atomically, like `accounts.json`: the folder is created private (0700 on unix), a
    /// new temporary file (0600, `create_new`, so never a file or link planted at its name) is
    /// written and synced, then renamed over the old file (a symbolic link at the file's name is
    /// replaced, never written through), and the folder is synced.
    pub fn save(&self, dir: &Path) -> Result<(), SettingsError> {
        let path = Self::path(dir);
        let io = |source| SettingsError::Io {
            path: path.clone(),
            source,
        };
        pim_auth::accounts::create_private_dir(dir).map_err(|e| io(std::io::Error::other(e)))?;
        let json = serde_json::to_vec_pretty(self).map_err(|source| SettingsError::Invalid {
            path: path.clone(),
            source,
        })?;
        pim_auth::accounts::atomic_write(&path, &json).map_err(io)
    }

    /// Read-modify-write of the file in `dir` under its lock (see `pim_auth::filelock`):
    /// starts from the file as it is on disk (`current` when it is missing or unreadable),
    /// applies `f`, saves. Returns the saved settings, or `f`'s error with nothing written.
    pub fn update<E: From<SettingsError>>(
        dir: &Path,
        current: &Settings,
        f: impl FnOnce(&mut Settings) -> Result<(), E>,
    ) -> Result<Settings, E> {
        let path = Self::path(dir);
        pim_auth::accounts::create_private_dir(dir).map_err(|e| {
            E::from(SettingsError::Io {
                path: path.clone(),
                source: std::io::Error::other(e),
            })
        })?;
        pim_auth::filelock::with_lock(&path, || {
            let mut next = Self::load(dir).unwrap_or_else(|_| current.clone());
            f(&mut next)?;
            next.save(dir)?;
            Ok(next)
        })
        .map_err(|source| E::from(SettingsError::Io { path, source }))?
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

    #[cfg(unix)]
    #[test]
    fn saved_private_and_never_through_a_planted_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("conf");
        std::fs::create_dir(&conf).expect("mkdir");
        // Another local user's link at the names the old code wrote to first.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "untouched").expect("victim");
        let tmp_name = format!(".{FILE_NAME}.{}.tmp", std::process::id());
        std::os::unix::fs::symlink(&victim, conf.join(tmp_name)).expect("link");
        let outside = dir.path().join("outside.json");
        std::fs::write(&outside, "{}").expect("outside");
        std::os::unix::fs::symlink(&outside, Settings::path(&conf)).expect("link");

        let s = Settings {
            ticket_system: Some("ServiceNow".into()),
            ..Settings::default()
        };
        s.save(&conf).expect("save");

        assert_eq!(
            std::fs::read_to_string(&victim).expect("victim"),
            "untouched"
        );
        assert_eq!(std::fs::read_to_string(&outside).expect("outside"), "{}");
        let meta = std::fs::symlink_metadata(Settings::path(&conf)).expect("meta");
        assert!(
            meta.file_type().is_file(),
            "the link was replaced by a file"
        );
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(Settings::load(&conf).expect("load"), s);
    }

    #[test]
    fn update_starts_from_the_file_so_other_writers_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stale = Settings::default();
        let other = Settings {
            ticket_system: Some("Jira".into()),
            ..Settings::default()
        };
        other.save(dir.path()).expect("save");
        let saved = Settings::update::<SettingsError>(dir.path(), &stale, |s| {
            s.default_duration_minutes = 30;
            Ok(())
        })
        .expect("update");
        assert_eq!(saved.ticket_system.as_deref(), Some("Jira"));
        assert_eq!(saved.default_duration_minutes, 30);
        assert_eq!(Settings::load(dir.path()).expect("load"), saved);
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

    #[test]
    fn recent_justifications_are_newest_first_once_and_few() {
        let mut s = Settings::default();
        for j in ["a", "b", " a ", "", "c", "d", "e", "f"] {
            s.note_justification(j);
        }
        assert_eq!(s.recent_justifications, ["f", "e", "d", "c", "a"]);
        // Saved and read back with the rest (older files without it read as empty).
        let old: Settings = serde_json::from_str(r#"{"version":1}"#).unwrap();
        assert!(old.recent_justifications.is_empty());
    }

    #[test]
    fn favourites_are_starred_once_in_order_and_unstarred() {
        let mut s = Settings::default();
        s.set_favourite("a", true);
        s.set_favourite("b", true);
        s.set_favourite("a", true);
        assert_eq!(s.favourites, ["a", "b"]);
        s.set_favourite("a", false);
        s.set_favourite("zz", false);
        assert_eq!(s.favourites, ["b"]);
        let dir = tempfile::tempdir().expect("tempdir");
        s.save(dir.path()).expect("save");
        assert_eq!(Settings::load(dir.path()).expect("load").favourites, ["b"]);
        // Older files without it read as none.
        let old: Settings = serde_json::from_str(r#"{"version":1}"#).unwrap();
        assert!(old.favourites.is_empty());
    }
}
