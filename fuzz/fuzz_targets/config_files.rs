//! The files in the config folder: `accounts.json`, the tray's `tray-settings.json` and the
//! tenant cache `tenants.json`, each read through its own loader from a real file.
//! Input: first byte picks the file, the rest is its content.
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// The tray's settings module, compiled from its source: pim-tray itself links Tauri.
#[allow(dead_code)]
#[path = "../../src-tauri/src/settings.rs"]
mod settings;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("pim-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temporary folder");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((which, content)) = data.split_first() else {
        return;
    };
    let dir = dir();
    match which % 3 {
        0 => {
            let store = pim_auth::accounts::AccountStore::new(dir);
            if std::fs::write(store.path(), content).is_err() {
                return;
            }
            if let Ok(file) = store.load() {
                let _ = file.default_account(|_| true);
                for a in &file.accounts {
                    let _ = (a.key(), a.keychain_user(), a.endpoints(None));
                }
            }
        }
        1 => {
            if std::fs::write(settings::Settings::path(dir), content).is_err() {
                return;
            }
            if let Ok(s) = settings::Settings::load(dir) {
                let _ = serde_json::to_vec(&s);
            }
        }
        _ => {
            let cache = pim_auth::TenantCache::new(dir);
            if std::fs::write(cache.path(), content).is_err() {
                return;
            }
            let _ = cache.load("k");
            let _ = cache.load("");
        }
    }
});
