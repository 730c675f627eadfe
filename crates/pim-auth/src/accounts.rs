//! Signed-in accounts: non-secret metadata in `accounts.json` in the config folder.
//!
//! Invariants: the file holds no secrets, and nothing in it is trusted with one: the endpoints
//! an account's tokens go to are also bound to its refresh token in the keychain, and `Auth`
//! refuses an account whose file disagrees; it is replaced atomically (temporary file in the same
//! folder, fsync, rename, fsync of the folder), so readers see the old or the new file, never a
//! half-written one; a damaged file is reported (naming the file and the fix), never
//! overwritten.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use pim_core::config::{Cloud, Endpoints, parse_base_url};
use serde::{Deserialize, Serialize};

/// File name inside the config folder.
pub const ACCOUNTS_FILE: &str = "accounts.json";

/// How an account obtains tokens. Stored with the account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum CredentialKind {
    /// Auth code + PKCE in the system browser; refresh token in the keychain.
    #[default]
    Browser,
    /// Device code flow; refresh token in the keychain (same token handling as `Browser`).
    DeviceCode,
    /// Tokens from the Azure CLI (`az account get-access-token`, see
    /// [`crate::AzureCliTokenSource`]); nothing stored by us. ARM only (the Azure CLI app has no
    /// Graph PIM scopes); claims unsupported. Creating such accounts is issue 4.
    AzureCli,
}

/// A signed-in user (non-secret metadata).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Sign-in name (`preferred_username`), e.g. `adele@contoso.onmicrosoft.com`.
    pub upn: String,
    /// Display name.
    pub name: String,
    /// Object id of the user in the home tenant.
    pub oid: String,
    /// Home tenant id (the `tid` of the first sign-in).
    pub home_tenant_id: String,
    /// Cloud.
    pub cloud: Cloud,
    /// App registration the refresh token belongs to.
    pub client_id: String,
    /// Authority host used to sign in, e.g. `https://login.microsoftonline.com`.
    pub authority_host: String,
    /// How tokens are obtained.
    #[serde(default)]
    pub kind: CredentialKind,
    /// Graph base URL used at sign-in (custom endpoints, e.g. `PIM_GRAPH_ENDPOINT`); `None`
    /// in files written before it was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_endpoint: Option<String>,
    /// ARM base URL used at sign-in; `None` in files written before it was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm_endpoint: Option<String>,
    /// Ids of the tenants the user chose not to see with this account (`pim tenants hide`,
    /// the tray's Settings); kept when the account signs in again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_tenants: Vec<String>,
}

impl Account {
    /// Stable identity: `{cloud}:{client_id}:{oid}.{home_tenant_id}`.
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}.{}",
            self.cloud.as_str(),
            self.client_id,
            self.oid,
            self.home_tenant_id
        )
    }

    /// The endpoints this account signs in and works with: its cloud's, with the authority,
    /// Graph and ARM base URLs stored at sign-in. `fallback` (e.g. the environment's
    /// endpoints) supplies Graph and ARM for accounts saved before those were stored, when it
    /// is of the same cloud and authority.
    pub fn endpoints(&self, fallback: Option<&Endpoints>) -> pim_core::Result<Endpoints> {
        let mut e = Endpoints::for_cloud(self.cloud);
        e.authority_host = parse_base_url("authority host", &self.authority_host)?;
        if let Some(f) = fallback.filter(|f| {
            f.cloud == self.cloud
                && f.authority_host.as_str().trim_end_matches('/')
                    == self.authority_host.trim_end_matches('/')
        }) {
            e.graph = f.graph.clone();
            e.arm = f.arm.clone();
        }
        if let Some(g) = &self.graph_endpoint {
            e.graph = parse_base_url("Graph endpoint", g)?;
        }
        if let Some(a) = &self.arm_endpoint {
            e.arm = parse_base_url("ARM endpoint", a)?;
        }
        Ok(e)
    }

    /// The keychain user of the account's refresh token: `rt:{key}`.
    pub fn keychain_user(&self) -> String {
        format!("rt:{}", self.key())
    }
}

/// The accounts file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountsFile {
    /// Format version (1).
    pub version: u32,
    /// Key of the default account (the last one signed in or chosen).
    #[serde(default)]
    pub default_account: Option<String>,
    /// All accounts, sorted by key.
    #[serde(default)]
    pub accounts: Vec<Account>,
}

impl AccountsFile {
    /// The default account: the one named by `default_account` if it exists, else the first
    /// by (upn, key) order. Only accounts accepted by `usable` are considered.
    pub fn default_account(&self, usable: impl Fn(&Account) -> bool) -> Option<&Account> {
        let usable: Vec<&Account> = self.accounts.iter().filter(|a| usable(a)).collect();
        if let Some(d) = &self.default_account
            && let Some(a) = usable.iter().find(|a| &a.key() == d)
        {
            return Some(a);
        }
        usable
            .into_iter()
            .min_by(|a, b| (a.upn.to_lowercase(), a.key()).cmp(&(b.upn.to_lowercase(), b.key())))
    }

    /// Adds or replaces (same key) an account and makes it the default; returns it as stored.
    /// A new sign-in of a known account keeps the account's hidden tenants.
    pub fn upsert(&mut self, mut account: Account) -> Account {
        let key = account.key();
        if account.hidden_tenants.is_empty()
            && let Some(old) = self.accounts.iter().find(|a| a.key() == key)
        {
            account.hidden_tenants = old.hidden_tenants.clone();
        }
        self.accounts.retain(|a| a.key() != key);
        self.accounts.push(account.clone());
        self.accounts.sort_by_key(Account::key);
        self.default_account = Some(key);
        account
    }

    /// Removes an account; returns whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.accounts.len();
        self.accounts.retain(|a| a.key() != key);
        if self.default_account.as_deref() == Some(key) {
            self.default_account = None;
        }
        before != self.accounts.len()
    }
}

/// Reads and writes `accounts.json` in one folder.
#[derive(Debug, Clone)]
pub struct AccountStore {
    dir: PathBuf,
}

impl AccountStore {
    /// The store for `config_dir` (not created until the first write).
    pub fn new(config_dir: impl Into<PathBuf>) -> AccountStore {
        AccountStore {
            dir: config_dir.into(),
        }
    }

    /// The config folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Full path of the file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(ACCOUNTS_FILE)
    }

    /// Loads the file; an absent file is an empty list.
    pub fn load(&self) -> pim_core::Result<AccountsFile> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AccountsFile {
                    version: 1,
                    ..AccountsFile::default()
                });
            }
            Err(e) => {
                return Err(pim_core::Error::Config(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let file: AccountsFile = serde_json::from_slice(&bytes).map_err(|e| broken(&path, &e))?;
        if file.version != 1 {
            return Err(pim_core::Error::Config(format!(
                "{} has version {}, which this version of PIM Tray does not understand; \
                 update PIM Tray, or delete the file and sign in again",
                path.display(),
                file.version
            )));
        }
        Ok(file)
    }

    /// Loads, applies `f`, saves atomically; returns `f`'s result. The whole
    /// read-modify-write holds the folder's lock for this file (see [`crate::filelock`]), so
    /// the CLI and the tray never lose each other's changes.
    pub fn update<T>(&self, f: impl FnOnce(&mut AccountsFile) -> T) -> pim_core::Result<T> {
        create_private_dir(&self.dir)?;
        crate::filelock::with_lock(&self.path(), || {
            let mut file = self.load()?;
            let out = f(&mut file);
            file.version = 1;
            self.save(&file)?;
            Ok(out)
        })
        .map_err(|e| pim_core::Error::Config(e.to_string()))?
    }

    /// Writes the file atomically, creating the folder (0700 on unix) if needed.
    pub fn save(&self, file: &AccountsFile) -> pim_core::Result<()> {
        create_private_dir(&self.dir)?;
        let json = serde_json::to_vec_pretty(file)
            .map_err(|e| pim_core::Error::Config(format!("cannot encode accounts: {e}")))?;
        atomic_write(&self.path(), &json).map_err(|e| {
            pim_core::Error::Config(format!("cannot write {}: {e}", self.path().display()))
        })
    }
}

fn broken(path: &Path, e: &serde_json::Error) -> pim_core::Error {
    pim_core::Error::Config(format!(
        "the accounts file {} is damaged ({e}). It holds no secrets: fix it, or delete it and \
         run `pim login` again",
        path.display()
    ))
}

/// Creates `dir` and its parents; the folder itself gets mode 0700 on unix.
pub fn create_private_dir(dir: &Path) -> pim_core::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| {
        pim_core::Error::Config(format!("cannot create the folder {}: {e}", dir.display()))
    })
}

/// Writes `bytes` to `path` atomically: temporary file in the same folder, fsync, rename over
/// `path`, fsync of the folder (unix). On error the temporary file is removed.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let suffix: u64 = rand::random();
    let tmp = dir.join(format!(".{name}.{}.{suffix:016x}.tmp", std::process::id()));
    let result = (|| {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        #[cfg(unix)]
        fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(upn: &str, oid: &str) -> Account {
        Account {
            upn: upn.into(),
            name: "N".into(),
            oid: oid.into(),
            home_tenant_id: "tid".into(),
            cloud: Cloud::Public,
            client_id: "cid".into(),
            authority_host: "https://login.microsoftonline.com".into(),
            kind: CredentialKind::Browser,
            graph_endpoint: None,
            arm_endpoint: None,
            hidden_tenants: Vec::new(),
        }
    }

    #[test]
    fn endpoints_are_the_stored_ones() {
        let mut a = account("a@x", "oid1");
        let e = a.endpoints(None).unwrap();
        assert_eq!(e.graph.as_str(), "https://graph.microsoft.com/");
        a.cloud = Cloud::UsGovernment;
        a.authority_host = "http://127.0.0.1:7".into();
        a.graph_endpoint = Some("http://127.0.0.1:8".into());
        a.arm_endpoint = Some("http://127.0.0.1:9".into());
        let e = a
            .endpoints(Some(&Endpoints::for_cloud(Cloud::Public)))
            .unwrap();
        assert_eq!(e.cloud, Cloud::UsGovernment);
        assert_eq!(e.authority_host.port(), Some(7));
        assert_eq!(e.graph.port(), Some(8));
        assert_eq!(e.arm.port(), Some(9));
        assert_eq!(e.arm_scope, "https://management.usgovcloudapi.net/.default");
        let json = serde_json::to_string(&a).unwrap();
        let back: Account = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn keys_and_keychain_user() {
        let a = account("a@x", "oid1");
        assert_eq!(a.key(), "public:cid:oid1.tid");
        assert_eq!(a.keychain_user(), "rt:public:cid:oid1.tid");
    }

    #[test]
    fn roundtrip_creates_private_folder_and_leaves_no_temp_files() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("nested").join("pim-tray");
        let store = AccountStore::new(&dir);
        assert!(store.load().unwrap().accounts.is_empty());
        store.update(|f| f.upsert(account("b@x", "o2"))).unwrap();
        store.update(|f| f.upsert(account("a@x", "o1"))).unwrap();
        let f = store.load().unwrap();
        assert_eq!(f.accounts.len(), 2);
        assert_eq!(f.default_account(|_| true).unwrap().upn, "a@x");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let mut names = names;
        names.sort();
        assert_eq!(
            names,
            vec![".accounts.json.lock", "accounts.json"],
            "no temporary files"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
            let mode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("\"homeTenantId\""), "{text}");
    }

    #[test]
    fn hidden_tenants_survive_a_new_sign_in_and_old_files_read_without_them() {
        let mut f = AccountsFile::default();
        let mut a = account("a@x", "o1");
        a.hidden_tenants = vec!["guest-tid".into()];
        f.upsert(a);
        // Signing in again yields an account without the preference: it is kept.
        let again = f.upsert(account("a@x", "o1"));
        assert_eq!(again.hidden_tenants, vec!["guest-tid".to_owned()]);
        assert_eq!(f.accounts[0].hidden_tenants, vec!["guest-tid".to_owned()]);
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains("\"hiddenTenants\":[\"guest-tid\"]"), "{json}");
        // Written without it (older versions, or nothing hidden): reads as none hidden, and
        // an empty list is not written.
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        old["accounts"][0]
            .as_object_mut()
            .unwrap()
            .remove("hiddenTenants");
        let back: AccountsFile = serde_json::from_value(old).unwrap();
        assert!(back.accounts[0].hidden_tenants.is_empty());
        assert!(
            !serde_json::to_string(&back)
                .unwrap()
                .contains("hiddenTenants")
        );
    }

    #[test]
    fn default_account_is_deterministic() {
        let mut f = AccountsFile::default();
        f.upsert(account("zed@x", "o3"));
        f.upsert(account("Amy@x", "o1"));
        assert_eq!(f.default_account(|_| true).unwrap().upn, "Amy@x");
        f.default_account = Some("missing".into());
        assert_eq!(f.default_account(|_| true).unwrap().upn, "Amy@x");
        f.default_account = None;
        assert_eq!(f.default_account(|_| true).unwrap().upn, "Amy@x");
        assert_eq!(
            f.default_account(|a| a.upn.starts_with('z')).unwrap().upn,
            "zed@x"
        );
        assert!(f.remove(&account("zed@x", "o3").key()));
        assert!(!f.remove("nope"));
    }

    #[test]
    fn broken_file_is_reported_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = AccountStore::new(dir.path());
        fs::write(store.path(), b"{\"version\":1,\"accounts\":[{\"upn\":").unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("accounts.json"), "{err}");
        assert!(err.contains("delete it"), "{err}");
        let err = store.update(|f| f.upsert(account("a@x", "o"))).unwrap_err();
        assert!(matches!(err, pim_core::Error::Config(_)));
        assert_eq!(
            fs::read(store.path()).unwrap(),
            b"{\"version\":1,\"accounts\":[{\"upn\":"
        );
        fs::write(store.path(), br#"{"version":7,"accounts":[]}"#).unwrap();
        assert!(store.load().unwrap_err().to_string().contains("version 7"));
    }

    #[test]
    fn concurrent_updates_from_two_processes_are_not_lost() {
        // The CLI and the tray each hold their own AccountStore on the same folder.
        let dir = tempfile::tempdir().unwrap();
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let store = AccountStore::new(dir.path());
                std::thread::spawn(move || {
                    for i in 0..25 {
                        store
                            .update(|f| f.upsert(account("u@x", &format!("oid-{w}-{i}"))))
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let file = AccountStore::new(dir.path()).load().unwrap();
        assert_eq!(file.accounts.len(), 50, "every update kept");
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        atomic_write(&p, b"first version, long content").unwrap();
        atomic_write(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        // A failed write (target is a folder) leaves no temporary file behind.
        let d = dir.path().join("sub");
        fs::create_dir(&d).unwrap();
        fs::write(d.join("x"), b"x").unwrap();
        assert!(atomic_write(&d, b"x").is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let mut names = names;
        names.sort();
        assert_eq!(names, vec!["f.json", "sub"]);
    }
}
