//! `tenants.json` in the config folder: the tenant list discovered per account (ids, names,
//! domains, home flag; nothing secret), so a new process can read every tenant at once
//! instead of discovering them first. The session re-checks the list in parallel and the
//! file is rewritten when it changed. A damaged or unreadable file is ignored (debug log)
//! and rewritten by the next save; it never stops a command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pim_core::Tenant;
use serde::{Deserialize, Serialize};

/// File name inside the config folder.
pub const FILE_NAME: &str = "tenants.json";
const VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CacheFile {
    version: u32,
    /// Account key (see `pim_auth::Account::key`) → its tenants.
    #[serde(default)]
    accounts: BTreeMap<String, Vec<Tenant>>,
}

/// The tenant cache in one config folder.
#[derive(Debug, Clone)]
pub struct TenantCache {
    path: PathBuf,
}

impl TenantCache {
    /// The cache in `config_dir` (nothing is read or created yet).
    pub fn new(config_dir: &Path) -> TenantCache {
        TenantCache {
            path: config_dir.join(FILE_NAME),
        }
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Option<CacheFile> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::debug!(path = %self.path.display(), error = %e, "tenant cache unreadable; ignoring it");
                return None;
            }
        };
        match serde_json::from_slice::<CacheFile>(&bytes) {
            Ok(f) if f.version == VERSION => Some(f),
            Ok(f) => {
                tracing::debug!(path = %self.path.display(), version = f.version, "tenant cache of another version; ignoring it");
                None
            }
            Err(e) => {
                tracing::debug!(path = %self.path.display(), error = %e, "tenant cache damaged; ignoring it");
                None
            }
        }
    }

    /// The tenants saved for `account_key`; `None` when there are none or the file is
    /// missing or damaged.
    pub fn load(&self, account_key: &str) -> Option<Vec<Tenant>> {
        let list = self.read()?.accounts.remove(account_key)?;
        (!list.is_empty() && list.iter().all(|t| !t.id.trim().is_empty())).then_some(list)
    }

    /// Saves `tenants` for `account_key` (other accounts' entries are kept; a damaged file
    /// is replaced). Atomic: temporary file, fsync, rename.
    /// Holds the file's lock (see [`crate::filelock`]) for the read-modify-write.
    pub fn save(&self, account_key: &str, tenants: &[Tenant]) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            crate::accounts::create_private_dir(dir).map_err(std::io::Error::other)?;
        }
        crate::filelock::with_lock(&self.path, || self.save_locked(account_key, tenants))?
    }

    fn save_locked(&self, account_key: &str, tenants: &[Tenant]) -> std::io::Result<()> {
        let mut file = self.read().unwrap_or(CacheFile {
            version: VERSION,
            accounts: BTreeMap::new(),
        });
        file.accounts
            .insert(account_key.to_owned(), tenants.to_vec());
        let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        crate::accounts::atomic_write(&self.path, &bytes)
    }

    /// Forgets `account_key`'s tenants (sign-out). Missing or damaged file: nothing to do.
    pub fn remove(&self, account_key: &str) -> std::io::Result<()> {
        if self.path.parent().is_none_or(|d| !d.is_dir()) {
            return Ok(());
        }
        crate::filelock::with_lock(&self.path, || self.remove_locked(account_key))?
    }

    fn remove_locked(&self, account_key: &str) -> std::io::Result<()> {
        let Some(mut file) = self.read() else {
            return Ok(());
        };
        if file.accounts.remove(account_key).is_none() {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        crate::accounts::atomic_write(&self.path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenants() -> Vec<Tenant> {
        vec![
            Tenant {
                id: "11111111-1111-1111-1111-111111111111".into(),
                display_name: "Contoso".into(),
                default_domain: Some("contoso.onmicrosoft.com".into()),
                domains: vec!["contoso.onmicrosoft.com".into()],
                is_home: true,
            },
            Tenant::from_id("22222222-2222-2222-2222-222222222222", false),
        ]
    }

    #[test]
    fn concurrent_saves_from_two_processes_are_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let c = TenantCache::new(dir.path());
                std::thread::spawn(move || {
                    for i in 0..25 {
                        c.save(&format!("acct-{w}-{i}"), &tenants()).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let c = TenantCache::new(dir.path());
        let kept = (0..2)
            .flat_map(|w| (0..25).map(move |i| format!("acct-{w}-{i}")))
            .filter(|k| c.load(k).is_some())
            .count();
        assert_eq!(kept, 50, "every account's tenants kept");
    }

    #[test]
    fn save_then_load_per_account() {
        let dir = tempfile::tempdir().unwrap();
        let c = TenantCache::new(&dir.path().join("new-folder"));
        assert_eq!(c.load("a"), None, "no file yet");
        c.save("a", &tenants()).unwrap();
        c.save("b", &tenants()[..1]).unwrap();
        assert_eq!(c.load("a"), Some(tenants()));
        assert_eq!(c.load("b"), Some(tenants()[..1].to_vec()));
        assert_eq!(c.load("c"), None);
        c.remove("b").unwrap();
        assert_eq!(c.load("b"), None);
        assert_eq!(c.load("a"), Some(tenants()));
        // Only the cache file and its lock are left behind (no temporary files).
        let mut names: Vec<_> = std::fs::read_dir(dir.path().join("new-folder"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                std::ffi::OsString::from(".tenants.json.lock"),
                std::ffi::OsString::from(FILE_NAME)
            ]
        );
        let text = std::fs::read_to_string(c.path()).unwrap();
        assert!(text.contains("Contoso") && text.contains("\"isHome\": true"));
    }

    #[test]
    fn damaged_file_is_ignored_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let c = TenantCache::new(dir.path());
        for junk in [
            &b"not json"[..],
            b"{\"version\":1,\"accounts\":{\"a\":[{\"id\":1}]}}",
            b"{\"version\":99,\"accounts\":{}}",
            b"{\"version\":1,\"accounts\":{\"a\":[]}}",
            b"",
        ] {
            std::fs::write(c.path(), junk).unwrap();
            assert_eq!(c.load("a"), None, "{}", String::from_utf8_lossy(junk));
            c.remove("a").unwrap();
            c.save("a", &tenants()).unwrap();
            assert_eq!(c.load("a"), Some(tenants()));
        }
        // A folder where the file should be: load ignores it, save reports the error.
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(FILE_NAME)).unwrap();
        let c = TenantCache::new(d.path());
        assert_eq!(c.load("a"), None);
        assert!(c.save("a", &tenants()).is_err());
    }
}
