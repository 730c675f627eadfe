//! Where refresh tokens live: the OS keychain (through keyring-core), memory, or a size-limited
//! fake; plus the chunking that makes tokens fit Windows' 2,560-byte credential limit.
//!
//! A [`SecretStore`] is a flat map `user -> bytes` within one service (`pim-tray`). The chunking
//! functions ([`write_chunked`], [`read_chunked`], [`delete_chunked`]) lay one token over
//! several entries:
//!
//! * up to [`CHUNK_SIZE`] bytes: the entry `user` holds the token itself;
//! * longer: entries `user#0` .. `user#N-1` hold the parts and `user` holds a header
//!   `{"v":1,"n":N,"len":L,"sha256":"<hex>"}` written last. Parts left over from a longer
//!   earlier token are deleted. A read checks length and SHA-256.
//!
//! Store calls may block (D-Bus, Keychain prompts): async code calls them through
//! `tokio::task::spawn_blocking`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// The keychain service name of every entry the app writes.
pub const SERVICE: &str = "pim-tray";

/// Largest part written to one entry (below Windows' 2,560-byte `CRED_MAX_CREDENTIAL_BLOB_SIZE`).
pub const CHUNK_SIZE: usize = 2400;

/// Windows Credential Manager's limit for a secret blob, enforced by [`LimitedStore`].
pub const WINDOWS_BLOB_LIMIT: usize = 2560;

/// Most parts one value may have: bounds what is written, read (a header naming more is
/// damaged) and probed when deleting a token whose header is unreadable.
const MAX_PARTS: usize = 64;

/// Longest value [`write_chunked`] saves (and [`read_chunked`] joins): 64 parts of
/// [`CHUNK_SIZE`] bytes, 150 KiB, far beyond any refresh token.
pub const MAX_SECRET_LEN: usize = MAX_PARTS * CHUNK_SIZE;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The value is longer than the store accepts (Windows: 2,560 bytes).
    #[error("the value is longer than the keychain's limit of {limit} bytes")]
    TooLong {
        /// The store's limit in bytes.
        limit: usize,
    },
    /// The keychain cannot be reached or is locked (no Secret Service, access denied, ...).
    #[error("the keychain is unavailable: {0}")]
    Unavailable(String),
    /// A chunked token is incomplete or does not match its header.
    #[error("the saved sign-in in the keychain is damaged: {0}")]
    Integrity(String),
    /// Any other keychain failure.
    #[error("keychain failure: {0}")]
    Other(String),
}

/// A flat secret store within one service. Implementations must be cheap to share.
pub trait SecretStore: Send + Sync + fmt::Debug {
    /// The bytes stored for `user`, or `None` if there is no such entry.
    fn get(&self, user: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Creates or replaces the entry for `user`.
    fn set(&self, user: &str, secret: &[u8]) -> Result<(), StoreError>;
    /// Deletes the entry for `user`; `Ok(false)` if there was none.
    fn delete(&self, user: &str) -> Result<bool, StoreError>;
}

/// The OS keychain through `keyring_core` (Keychain on macOS, Credential Manager on Windows,
/// Secret Service on Linux/BSD), service [`SERVICE`].
#[derive(Clone)]
pub struct KeyringStore {
    service: String,
    store: Option<Arc<keyring_core::CredentialStore>>,
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .field("explicit_store", &self.store.is_some())
            .finish()
    }
}

impl KeyringStore {
    /// Installs the platform's default keychain as keyring-core's default store (once per
    /// process, through `keyring::Entry::store_status`) and returns a store using it.
    ///
    /// Fails with [`StoreError::Unavailable`] when the platform store cannot be set up (for
    /// example no Secret Service on a headless Linux box); callers then keep tokens in memory.
    pub fn platform_default() -> Result<KeyringStore, StoreError> {
        match keyring::Entry::store_status() {
            Ok(()) => Ok(KeyringStore {
                service: SERVICE.to_owned(),
                store: None,
            }),
            Err(e) => Err(StoreError::Unavailable(e.to_string())),
        }
    }

    /// A store over an explicit keyring-core credential store (tests use
    /// `keyring_core::mock::Store`), with service `service`.
    pub fn with_store(store: Arc<keyring_core::CredentialStore>, service: &str) -> KeyringStore {
        KeyringStore {
            service: service.to_owned(),
            store: Some(store),
        }
    }

    fn entry(&self, user: &str) -> Result<keyring_core::Entry, StoreError> {
        match &self.store {
            Some(s) => keyring_core::Entry::new_in_store(s, &self.service, user),
            None => keyring_core::Entry::new(&self.service, user),
        }
        .map_err(map_keyring_error)
    }
}

fn map_keyring_error(e: keyring_core::Error) -> StoreError {
    use keyring_core::Error as K;
    match e {
        K::TooLong(_, limit) => StoreError::TooLong {
            limit: limit as usize,
        },
        K::NoStorageAccess(err) => StoreError::Unavailable(err.to_string()),
        K::PlatformFailure(err) => StoreError::Unavailable(err.to_string()),
        K::NoDefaultStore => StoreError::Unavailable("no keychain store is installed".into()),
        // Never include the raw bytes that BadEncoding/BadDataFormat carry.
        K::BadEncoding(_) => StoreError::Other("entry is not valid UTF-8".into()),
        K::BadDataFormat(_, err) => StoreError::Other(format!("entry is malformed: {err}")),
        other => StoreError::Other(other.to_string()),
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, user: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.entry(user)?.get_secret() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring_error(e)),
        }
    }

    fn set(&self, user: &str, secret: &[u8]) -> Result<(), StoreError> {
        self.entry(user)?
            .set_secret(secret)
            .map_err(map_keyring_error)
    }

    fn delete(&self, user: &str) -> Result<bool, StoreError> {
        match self.entry(user)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(map_keyring_error(e)),
        }
    }
}

/// Secrets in process memory only: for sessions without a keychain, and for tests.
#[derive(Default, Clone)]
pub struct MemoryStore {
    entries: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Number of entries (tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store is empty (tests).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The users that have entries, sorted (tests).
    pub fn users(&self) -> Vec<String> {
        let mut v: Vec<String> = self.lock().keys().cloned().collect();
        v.sort();
        v
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, user: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(user).cloned())
    }
    fn set(&self, user: &str, secret: &[u8]) -> Result<(), StoreError> {
        self.lock().insert(user.to_owned(), secret.to_vec());
        Ok(())
    }
    fn delete(&self, user: &str) -> Result<bool, StoreError> {
        Ok(self.lock().remove(user).is_some())
    }
}

/// A test fake behaving like Windows Credential Manager: a [`MemoryStore`] that refuses values
/// longer than [`WINDOWS_BLOB_LIMIT`] bytes with [`StoreError::TooLong`], as
/// windows-native-keyring-store does. It can also be switched to fail every call, to test the
/// in-memory fallback.
#[derive(Debug, Default, Clone)]
pub struct LimitedStore {
    inner: MemoryStore,
    unavailable: Arc<Mutex<Option<String>>>,
}

impl LimitedStore {
    /// An empty store with Windows' limit.
    pub fn new() -> LimitedStore {
        LimitedStore::default()
    }

    /// The underlying entries (to inspect parts in tests).
    pub fn memory(&self) -> &MemoryStore {
        &self.inner
    }

    /// From now on every call fails with [`StoreError::Unavailable`] (`Some(reason)`), or works
    /// again (`None`).
    pub fn set_unavailable(&self, reason: Option<&str>) {
        *self.unavailable.lock().unwrap_or_else(|p| p.into_inner()) = reason.map(str::to_owned);
    }

    fn check(&self) -> Result<(), StoreError> {
        match &*self.unavailable.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(r) => Err(StoreError::Unavailable(r.clone())),
            None => Ok(()),
        }
    }
}

impl SecretStore for LimitedStore {
    fn get(&self, user: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.check()?;
        self.inner.get(user)
    }
    fn set(&self, user: &str, secret: &[u8]) -> Result<(), StoreError> {
        self.check()?;
        if secret.len() > WINDOWS_BLOB_LIMIT {
            return Err(StoreError::TooLong {
                limit: WINDOWS_BLOB_LIMIT,
            });
        }
        self.inner.set(user, secret)
    }
    fn delete(&self, user: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.delete(user)
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ChunkHeader {
    v: u32,
    n: usize,
    len: usize,
    sha256: String,
}

fn part_user(user: &str, i: usize) -> String {
    format!("{user}#{i}")
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The header, if `value` is one (`Ok(None)`: a token itself). Refresh tokens never start
/// with `{`, so a value that does and is not a sound version-1 header is damaged.
fn parse_header(value: &[u8]) -> Result<Option<ChunkHeader>, StoreError> {
    if value.first() != Some(&b'{') {
        return Ok(None);
    }
    let h: ChunkHeader = serde_json::from_slice(value)
        .map_err(|_| StoreError::Integrity("the header is unreadable".into()))?;
    if h.v != 1 {
        return Err(StoreError::Integrity(format!(
            "unknown header version {}",
            h.v
        )));
    }
    if h.n == 0 || h.n > MAX_PARTS {
        return Err(StoreError::Integrity(format!("header names {} parts", h.n)));
    }
    // Each part holds at most CHUNK_SIZE bytes: a larger length is damage, and must not
    // size an allocation.
    if h.len > h.n * CHUNK_SIZE {
        return Err(StoreError::Integrity(format!(
            "header says {} bytes in {} parts",
            h.len, h.n
        )));
    }
    Ok(Some(h))
}

/// Number of parts the current entry for `user` refers to (0 if unchunked or absent;
/// [`MAX_PARTS`] if its header is damaged, so every possible part is probed).
fn existing_parts(store: &dyn SecretStore, user: &str) -> Result<usize, StoreError> {
    Ok(match store.get(user)?.as_deref().map(parse_header) {
        None | Some(Ok(None)) => 0,
        Some(Ok(Some(h))) => h.n,
        Some(Err(_)) => MAX_PARTS,
    })
}

/// Saves `secret` for `user`, split into parts when longer than [`CHUNK_SIZE`]; removes parts
/// a previous, longer value left behind.
///
/// A secret longer than [`MAX_SECRET_LEN`] is refused with [`StoreError::TooLong`] before
/// anything is written.
pub fn write_chunked(store: &dyn SecretStore, user: &str, secret: &[u8]) -> Result<(), StoreError> {
    if secret.len() > MAX_SECRET_LEN {
        return Err(StoreError::TooLong {
            limit: MAX_SECRET_LEN,
        });
    }
    let old_parts = existing_parts(store, user).unwrap_or(MAX_PARTS);
    let new_parts = if secret.len() <= CHUNK_SIZE && secret.first() != Some(&b'{') {
        store.set(user, secret)?;
        0
    } else {
        let chunks: Vec<&[u8]> = secret.chunks(CHUNK_SIZE).collect();
        for (i, c) in chunks.iter().enumerate() {
            store.set(&part_user(user, i), c)?;
        }
        let header = ChunkHeader {
            v: 1,
            n: chunks.len(),
            len: secret.len(),
            sha256: sha256_hex(secret),
        };
        let header = serde_json::to_vec(&header)
            .map_err(|e| StoreError::Other(format!("cannot encode header: {e}")))?;
        store.set(user, &header)?;
        chunks.len()
    };
    for i in new_parts..old_parts {
        if !store.delete(&part_user(user, i))? && old_parts == MAX_PARTS {
            break;
        }
    }
    Ok(())
}

/// Reads the secret for `user`, joining parts; `None` if there is no entry.
///
/// Fails with [`StoreError::Integrity`] when the header is unreadable or implausible (no
/// parts, more than 64, a length the parts cannot hold), a part is missing, or the
/// joined value does not match the header's length or SHA-256. Memory stays bounded by the
/// header's (checked) length whatever the parts hold.
pub fn read_chunked(store: &dyn SecretStore, user: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(value) = store.get(user)? else {
        return Ok(None);
    };
    let Some(header) = parse_header(&value)? else {
        return Ok(Some(value));
    };
    let mut out = Vec::with_capacity(header.len);
    for i in 0..header.n {
        match store.get(&part_user(user, i))? {
            Some(part) if part.len() > header.len - out.len() => {
                return Err(StoreError::Integrity(format!(
                    "expected {} bytes, found more",
                    header.len
                )));
            }
            Some(part) => out.extend_from_slice(&part),
            None => {
                return Err(StoreError::Integrity(format!(
                    "part {i} of {} is missing",
                    header.n
                )));
            }
        }
    }
    if out.len() != header.len {
        return Err(StoreError::Integrity(format!(
            "expected {} bytes, found {}",
            header.len,
            out.len()
        )));
    }
    if sha256_hex(&out) != header.sha256 {
        return Err(StoreError::Integrity("checksum mismatch".into()));
    }
    Ok(Some(out))
}

/// Deletes the secret for `user` and all its parts (also parts a damaged header no longer
/// names). `Ok(false)` if nothing was there.
pub fn delete_chunked(store: &dyn SecretStore, user: &str) -> Result<bool, StoreError> {
    let known = existing_parts(store, user).unwrap_or(0);
    let mut any = store.delete(user)?;
    for i in 0..MAX_PARTS {
        let deleted = store.delete(&part_user(user, i))?;
        any |= deleted;
        if !deleted && i >= known {
            break;
        }
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| b"abcdefghij0123456789-_."[i % 23])
            .collect()
    }

    #[test]
    fn short_token_is_one_entry() {
        let s = LimitedStore::new();
        write_chunked(&s, "rt:a", b"0.short").unwrap();
        assert_eq!(s.memory().users(), vec!["rt:a"]);
        assert_eq!(read_chunked(&s, "rt:a").unwrap().unwrap(), b"0.short");
    }

    #[test]
    fn long_token_is_split_and_fits_the_windows_limit() {
        let s = LimitedStore::new();
        let t = token(6000);
        // The fake really enforces the limit.
        assert_eq!(
            s.set("x", &t),
            Err(StoreError::TooLong {
                limit: WINDOWS_BLOB_LIMIT
            })
        );
        write_chunked(&s, "rt:a", &t).unwrap();
        assert_eq!(
            s.memory().users(),
            vec!["rt:a", "rt:a#0", "rt:a#1", "rt:a#2"]
        );
        let header: serde_json::Value =
            serde_json::from_slice(&s.get("rt:a").unwrap().unwrap()).unwrap();
        assert_eq!(header["v"], 1);
        assert_eq!(header["n"], 3);
        assert_eq!(header["len"], 6000);
        assert_eq!(header["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(read_chunked(&s, "rt:a").unwrap().unwrap(), t);
    }

    #[test]
    fn token_just_over_windows_limit_roundtrips() {
        let s = LimitedStore::new();
        let t = token(WINDOWS_BLOB_LIMIT + 1);
        write_chunked(&s, "u", &t).unwrap();
        assert_eq!(read_chunked(&s, "u").unwrap().unwrap(), t);
        let t = token(CHUNK_SIZE);
        write_chunked(&s, "u", &t).unwrap();
        assert_eq!(s.memory().users(), vec!["u"]);
    }

    #[test]
    fn stale_parts_are_removed() {
        let s = LimitedStore::new();
        write_chunked(&s, "u", &token(9000)).unwrap();
        assert_eq!(s.memory().len(), 5);
        write_chunked(&s, "u", &token(3000)).unwrap();
        assert_eq!(s.memory().users(), vec!["u", "u#0", "u#1"]);
        write_chunked(&s, "u", b"1.small").unwrap();
        assert_eq!(s.memory().users(), vec!["u"]);
        assert_eq!(read_chunked(&s, "u").unwrap().unwrap(), b"1.small");
    }

    #[test]
    fn integrity_is_checked() {
        let s = LimitedStore::new();
        let t = token(5000);
        write_chunked(&s, "u", &t).unwrap();
        s.set("u#1", b"tampered").unwrap();
        assert!(matches!(
            read_chunked(&s, "u"),
            Err(StoreError::Integrity(_))
        ));
        let mut same_len = t[CHUNK_SIZE..2 * CHUNK_SIZE].to_vec();
        same_len[0] ^= 1;
        s.set("u#1", &same_len).unwrap();
        let err = read_chunked(&s, "u").unwrap_err();
        assert_eq!(err, StoreError::Integrity("checksum mismatch".into()));
        s.delete("u#2").unwrap();
        let err = read_chunked(&s, "u").unwrap_err();
        assert!(err.to_string().contains("part 2 of 3 is missing"), "{err}");
    }

    #[test]
    fn damaged_headers_are_integrity_errors_not_panics() {
        let s = MemoryStore::new();
        s.set("u#0", b"abc").unwrap();
        let headers = [
            // A huge `len` used to go straight to `Vec::with_capacity`.
            format!(r#"{{"v":1,"n":1,"len":{},"sha256":"x"}}"#, usize::MAX),
            format!(r#"{{"v":1,"n":1,"len":{},"sha256":"x"}}"#, 1u64 << 40),
            format!(
                r#"{{"v":1,"n":2,"len":{},"sha256":"x"}}"#,
                2 * CHUNK_SIZE + 1
            ),
            r#"{"v":1,"n":0,"len":0,"sha256":"x"}"#.to_owned(),
            r#"{"v":1,"n":65,"len":3,"sha256":"x"}"#.to_owned(),
            format!(r#"{{"v":1,"n":{},"len":3,"sha256":"x"}}"#, usize::MAX),
            // Not a header we can read: never handed out as a refresh token.
            r#"{"v":1,"n":-1,"len":3,"sha256":"x"}"#.to_owned(),
            r#"{"v":1,"n":1,"len":3"#.to_owned(),
            r#"{"v":2,"n":1,"len":3,"sha256":"x"}"#.to_owned(),
        ];
        for h in headers {
            s.set("u", h.as_bytes()).unwrap();
            let err = read_chunked(&s, "u").unwrap_err();
            assert!(matches!(err, StoreError::Integrity(_)), "{h}: {err:?}");
        }
        // A part longer than the header says is refused without joining the rest.
        s.set("u#1", &[b'x'; 10_000]).unwrap();
        s.set("u", br#"{"v":1,"n":2,"len":3000,"sha256":"x"}"#)
            .unwrap();
        let err = read_chunked(&s, "u").unwrap_err();
        assert!(matches!(err, StoreError::Integrity(_)), "{err:?}");
        // Deleting a damaged entry probes a bounded number of parts.
        s.set(
            "u",
            format!(r#"{{"v":1,"n":{},"len":3,"sha256":"x"}}"#, usize::MAX).as_bytes(),
        )
        .unwrap();
        assert!(delete_chunked(&s, "u").unwrap());
        assert!(s.is_empty());
    }

    #[test]
    fn too_long_a_secret_is_refused_when_writing() {
        let s = MemoryStore::new();
        let err = write_chunked(&s, "u", &token(MAX_PARTS * CHUNK_SIZE + 1)).unwrap_err();
        assert!(matches!(err, StoreError::TooLong { .. }), "{err:?}");
        assert!(s.is_empty());
        write_chunked(&s, "u", &token(MAX_PARTS * CHUNK_SIZE)).unwrap();
        assert_eq!(
            read_chunked(&s, "u").unwrap().unwrap().len(),
            MAX_PARTS * CHUNK_SIZE
        );
    }

    #[test]
    fn delete_removes_every_part() {
        let s = LimitedStore::new();
        write_chunked(&s, "u", &token(7000)).unwrap();
        write_chunked(&s, "other", b"0.x").unwrap();
        assert!(delete_chunked(&s, "u").unwrap());
        assert_eq!(s.memory().users(), vec!["other"]);
        assert!(!delete_chunked(&s, "u").unwrap());
        // Orphaned parts without a header are found too.
        s.set("v#0", b"a").unwrap();
        s.set("v#1", b"b").unwrap();
        assert!(delete_chunked(&s, "v").unwrap());
        assert_eq!(s.memory().users(), vec!["other"]);
    }

    #[test]
    fn keyring_core_mock_store_roundtrip() {
        let mock = keyring_core::mock::Store::new().unwrap();
        let s = KeyringStore::with_store(mock, SERVICE);
        let t = token(4096);
        write_chunked(&s, "rt:public:c:o.t", &t).unwrap();
        assert_eq!(read_chunked(&s, "rt:public:c:o.t").unwrap().unwrap(), t);
        assert!(delete_chunked(&s, "rt:public:c:o.t").unwrap());
        assert_eq!(read_chunked(&s, "rt:public:c:o.t").unwrap(), None);
    }

    #[test]
    fn unavailable_store_reports_it() {
        let s = LimitedStore::new();
        s.set_unavailable(Some("locked"));
        assert_eq!(
            write_chunked(&s, "u", b"x"),
            Err(StoreError::Unavailable("locked".into()))
        );
    }
}
