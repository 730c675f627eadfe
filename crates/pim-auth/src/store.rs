//! Where refresh tokens live: the OS keychain (through keyring-core), memory, or a size-limited
//! fake; plus the chunking that makes tokens fit Windows' 2,560-byte credential limit.
//!
//! A [`SecretStore`] is a flat map `user -> bytes` within one service (`pim-tray`). The chunking
//! functions ([`write_chunked`], [`read_chunked`], [`delete_chunked`]) lay one token over
//! several entries:
//!
//! * up to [`CHUNK_SIZE`] bytes: the entry `user` holds the token itself;
//! * longer: entries `user#G.0` .. `user#G.N-1` hold the parts of generation `G` (16 random
//!   hex digits, new for every write) and `user` holds a header
//!   `{"v":2,"g":"G","n":N,"len":L,"sha256":"<hex>"}` written after all parts; the previous
//!   value's parts are deleted after it. So a write that fails half-way, or races another
//!   writer (the tray and `pim` rotating the same token), never leaves a header naming parts
//!   of two values. A read checks length and SHA-256.
//! * version 1 headers `{"v":1,"n":N,"len":L,"sha256":"<hex>"}` (parts in place at
//!   `user#0` .. `user#N-1`, written by earlier versions) are still read, and replaced (their
//!   parts deleted) by the next write.
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
        pim_core::sync::lock(&self.entries)
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
        *pim_core::sync::lock(&self.unavailable) = reason.map(str::to_owned);
    }

    fn check(&self) -> Result<(), StoreError> {
        match &*pim_core::sync::lock(&self.unavailable) {
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
    /// The generation of the parts (version 2 only): 16 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    g: Option<String>,
    n: usize,
    len: usize,
    sha256: String,
}

/// Where the parts of one value live.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Parts {
    /// No entry, or a value stored whole: no parts.
    None,
    /// Version 1 (in place): `user#0` .. `user#{n-1}`.
    InPlace(usize),
    /// Version 2: `user#{gen}.0` .. `user#{gen}.{n-1}`.
    Generation(String, usize),
    /// The header is damaged: which parts it had is unknown (in-place parts are probed).
    Unknown,
}

impl Parts {
    fn of(header: &ChunkHeader) -> Parts {
        match &header.g {
            Some(g) => Parts::Generation(g.clone(), header.n),
            None => Parts::InPlace(header.n),
        }
    }

    fn name(&self, user: &str, i: usize) -> String {
        match self {
            Parts::Generation(g, _) => format!("{user}#{g}.{i}"),
            _ => format!("{user}#{i}"),
        }
    }

    /// Deletes these parts. For [`Parts::Unknown`] in-place parts are probed up to
    /// [`MAX_PARTS`], stopping at the first absent one. Returns whether any was there.
    fn delete(&self, store: &dyn SecretStore, user: &str) -> Result<bool, StoreError> {
        let (n, probe) = match self {
            Parts::None => return Ok(false),
            Parts::InPlace(n) | Parts::Generation(_, n) => (*n, false),
            Parts::Unknown => (MAX_PARTS, true),
        };
        let mut any = false;
        for i in 0..n {
            let deleted = store.delete(&self.name(user, i))?;
            any |= deleted;
            if probe && !deleted {
                break;
            }
        }
        Ok(any)
    }
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
/// with `{`, so a value that does and is not a sound version-1 or version-2 header is
/// damaged.
fn parse_header(value: &[u8]) -> Result<Option<ChunkHeader>, StoreError> {
    if value.first() != Some(&b'{') {
        return Ok(None);
    }
    let h: ChunkHeader = serde_json::from_slice(value)
        .map_err(|_| StoreError::Integrity("the header is unreadable".into()))?;
    match (h.v, &h.g) {
        (1, None) => {}
        (2, Some(g)) if g.len() == 16 && g.bytes().all(|b| b.is_ascii_hexdigit()) => {}
        (1 | 2, _) => {
            return Err(StoreError::Integrity(
                "the header names no valid generation".into(),
            ));
        }
        (v, _) => {
            return Err(StoreError::Integrity(format!("unknown header version {v}")));
        }
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

/// The parts the current entry for `user` refers to.
fn current_parts(store: &dyn SecretStore, user: &str) -> Result<Parts, StoreError> {
    Ok(match store.get(user)?.as_deref().map(parse_header) {
        None | Some(Ok(None)) => Parts::None,
        Some(Ok(Some(h))) => Parts::of(&h),
        Some(Err(_)) => Parts::Unknown,
    })
}

/// Saves `secret` for `user`, split into parts when longer than [`CHUNK_SIZE`].
///
/// The write is atomic for readers: a long value goes to a new generation of parts
/// (`user#{gen}.{i}`, `gen` random), then the header naming that generation replaces the
/// entry `user` in one store call, then the parts of the previous value are deleted. A
/// failure before the header is written leaves the previous value readable (and removes the
/// new parts it wrote); two concurrent writers each leave a complete generation, and the last
/// header written wins. A writer whose header was replaced by a concurrent one removes its own
/// generation; only a writer whose whole write falls between another's last look at the
/// header and that one's header write leaves its generation behind (unnamed; [`crate::Auth`]
/// serialises its keychain writes across processes, so it does not meet this). A secret longer than [`MAX_SECRET_LEN`] is refused with [`StoreError::TooLong`]
/// before anything is written.
pub fn write_chunked(store: &dyn SecretStore, user: &str, secret: &[u8]) -> Result<(), StoreError> {
    if secret.len() > MAX_SECRET_LEN {
        return Err(StoreError::TooLong {
            limit: MAX_SECRET_LEN,
        });
    }
    let old = current_parts(store, user).unwrap_or(Parts::Unknown);
    if secret.len() <= CHUNK_SIZE && secret.first() != Some(&b'{') {
        store.set(user, secret)?;
        old.delete(store, user)?;
        return Ok(());
    }
    let chunks: Vec<&[u8]> = secret.chunks(CHUNK_SIZE).collect();
    let generation = format!("{:016x}", rand::random::<u64>());
    let ours = Parts::Generation(generation.clone(), chunks.len());
    for (i, c) in chunks.iter().enumerate() {
        if let Err(e) = store.set(&ours.name(user, i), c) {
            // The header still names the previous value; drop what this attempt wrote.
            for j in 0..i {
                let _ = store.delete(&ours.name(user, j));
            }
            return Err(e);
        }
    }
    let header = ChunkHeader {
        v: 2,
        g: Some(generation),
        n: chunks.len(),
        len: secret.len(),
        sha256: sha256_hex(secret),
    };
    let header = serde_json::to_vec(&header)
        .map_err(|e| StoreError::Other(format!("cannot encode header: {e}")))?;
    // A concurrent writer may have replaced the header since `old` was read: its parts are
    // superseded by ours too.
    let just_before = current_parts(store, user).unwrap_or(Parts::Unknown);
    if let Err(e) = store.set(user, &header) {
        let _ = ours.delete(store, user);
        return Err(e);
    }
    old.delete(store, user)?;
    if just_before != old && just_before != ours {
        just_before.delete(store, user)?;
    }
    // Lost a race: another writer's header replaced ours, so our generation is never read.
    if current_parts(store, user).unwrap_or(Parts::Unknown) != ours {
        ours.delete(store, user)?;
    }
    Ok(())
}

/// How often [`read_chunked`] starts again when a concurrent write replaced the value under it.
const READ_ATTEMPTS: usize = 3;

/// Reads the secret for `user`, joining parts; `None` if there is no entry. Reads headers of
/// both versions (1: parts in place; 2: a generation of parts).
///
/// Fails with [`StoreError::Integrity`] when the header is unreadable or implausible (no
/// parts, more than 64, a length the parts cannot hold), a part is missing, or the
/// joined value does not match the header's length or SHA-256. Memory stays bounded by the
/// header's (checked) length whatever the parts hold. A part missing because a concurrent
/// write replaced the value meanwhile makes the read start again (a few times).
pub fn read_chunked(store: &dyn SecretStore, user: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(value) = store.get(user)? else {
            return Ok(None);
        };
        let header = value.clone();
        match read_value(store, user, value) {
            Err(StoreError::Integrity(m)) if attempt < READ_ATTEMPTS => {
                // Replaced meanwhile by a concurrent write: read the new value.
                if store.get(user)?.as_deref() == Some(header.as_slice()) {
                    return Err(StoreError::Integrity(m));
                }
            }
            other => return other,
        }
    }
}

fn read_value(
    store: &dyn SecretStore,
    user: &str,
    value: Vec<u8>,
) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(header) = parse_header(&value)? else {
        return Ok(Some(value));
    };
    let parts = Parts::of(&header);
    let mut out = Vec::with_capacity(header.len);
    for i in 0..header.n {
        match store.get(&parts.name(user, i))? {
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

/// Deletes the secret for `user` and all its parts (the generation its header names, and
/// in-place parts of the version-1 layout, also those a damaged header no longer names).
/// `Ok(false)` if nothing was there.
pub fn delete_chunked(store: &dyn SecretStore, user: &str) -> Result<bool, StoreError> {
    let known = current_parts(store, user).unwrap_or(Parts::Unknown);
    let mut any = store.delete(user)?;
    if let Parts::Generation(..) = known {
        any |= known.delete(store, user)?;
    }
    let in_place = match known {
        Parts::InPlace(n) => n,
        _ => 0,
    };
    for i in 0..MAX_PARTS {
        let deleted = store.delete(&format!("{user}#{i}"))?;
        any |= deleted;
        if !deleted && i >= in_place {
            break;
        }
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generation the header of `user` names.
    fn generation(s: &dyn SecretStore, user: &str) -> String {
        let h: serde_json::Value = serde_json::from_slice(&s.get(user).unwrap().unwrap()).unwrap();
        h["g"].as_str().unwrap().to_owned()
    }

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
        let header: serde_json::Value =
            serde_json::from_slice(&s.get("rt:a").unwrap().unwrap()).unwrap();
        let g = header["g"].as_str().unwrap();
        assert_eq!(
            s.memory().users(),
            vec![
                "rt:a".to_owned(),
                format!("rt:a#{g}.0"),
                format!("rt:a#{g}.1"),
                format!("rt:a#{g}.2")
            ]
        );
        assert_eq!(header["v"], 2);
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
        let g = generation(&s, "u");
        assert_eq!(
            s.memory().users(),
            vec!["u".to_owned(), format!("u#{g}.0"), format!("u#{g}.1")]
        );
        write_chunked(&s, "u", b"1.small").unwrap();
        assert_eq!(s.memory().users(), vec!["u"]);
        assert_eq!(read_chunked(&s, "u").unwrap().unwrap(), b"1.small");
    }

    #[test]
    fn integrity_is_checked() {
        let s = LimitedStore::new();
        let t = token(5000);
        write_chunked(&s, "u", &t).unwrap();
        let part1 = format!("u#{}.1", generation(&s, "u"));
        s.set(&part1, b"tampered").unwrap();
        assert!(matches!(
            read_chunked(&s, "u"),
            Err(StoreError::Integrity(_))
        ));
        let mut same_len = t[CHUNK_SIZE..2 * CHUNK_SIZE].to_vec();
        same_len[0] ^= 1;
        s.set(&part1, &same_len).unwrap();
        let err = read_chunked(&s, "u").unwrap_err();
        assert_eq!(err, StoreError::Integrity("checksum mismatch".into()));
        s.delete(&format!("u#{}.2", generation(&s, "u"))).unwrap();
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
            r#"{"v":3,"n":1,"len":3,"sha256":"x"}"#.to_owned(),
            // Version 2 needs a generation of 16 hex digits (it names entries).
            r#"{"v":2,"n":1,"len":3,"sha256":"x"}"#.to_owned(),
            r#"{"v":2,"g":"../x","n":1,"len":3,"sha256":"x"}"#.to_owned(),
            r#"{"v":1,"g":"0123456789abcdef","n":1,"len":3,"sha256":"x"}"#.to_owned(),
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

    type At = Box<dyn Fn(&str) -> bool + Send + Sync>;
    type Hook = Box<dyn FnOnce(&MemoryStore) + Send>;

    /// A store that runs a hook once, before the first `set` whose user `at` accepts, and
    /// can refuse such writes.
    #[derive(Default)]
    struct Hooked {
        inner: MemoryStore,
        at: Option<At>,
        hook: Mutex<Option<Hook>>,
        fail: bool,
    }

    impl fmt::Debug for Hooked {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Hooked")
        }
    }

    impl SecretStore for Hooked {
        fn get(&self, user: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(user)
        }
        fn set(&self, user: &str, secret: &[u8]) -> Result<(), StoreError> {
            if self.at.as_ref().is_some_and(|at| at(user)) {
                if let Some(hook) = self.hook.lock().unwrap().take() {
                    hook(&self.inner);
                }
                if self.fail {
                    return Err(StoreError::Unavailable("locked".into()));
                }
            }
            self.inner.set(user, secret)
        }
        fn delete(&self, user: &str) -> Result<bool, StoreError> {
            self.inner.delete(user)
        }
    }

    #[test]
    fn a_write_failing_on_part_1_leaves_the_old_value_readable() {
        let old = token(6000);
        let new: Vec<u8> = token(6000).iter().map(|b| b.to_ascii_uppercase()).collect();
        let s = Hooked {
            at: Some(Box::new(|u: &str| u.ends_with(".1") || u.ends_with("#1"))),
            fail: true,
            ..Hooked::default()
        };
        write_chunked(&s.inner, "u", &old).unwrap();
        let before = s.inner.users();
        let err = write_chunked(&s, "u", &new).unwrap_err();
        assert_eq!(err, StoreError::Unavailable("locked".into()));
        assert_eq!(read_chunked(&s, "u").unwrap().unwrap(), old);
        assert_eq!(
            s.inner.users(),
            before,
            "the failed write's parts are removed"
        );
        // Also over a version-1 value (parts in place).
        let v1 = MemoryStore::new();
        legacy_v1(&v1, "u", &old);
        let s = Hooked {
            inner: v1,
            at: Some(Box::new(|u: &str| u.ends_with(".1") || u.ends_with("#1"))),
            fail: true,
            ..Hooked::default()
        };
        assert!(write_chunked(&s, "u", &new).is_err());
        assert_eq!(read_chunked(&s, "u").unwrap().unwrap(), old);
    }

    #[test]
    fn two_concurrent_writers_leave_one_whole_value() {
        let a = token(6000);
        let b: Vec<u8> = token(6000).iter().map(|b| b.to_ascii_uppercase()).collect();
        let old = token(5000);
        // Writer B runs whole (i) after writer A wrote its first part, (ii) just before A
        // writes its header, (iii) just before A's first part, over a version-1 value.
        let cases: Vec<(At, bool)> = vec![
            (Box::new(|u: &str| u.ends_with(".1")), false),
            (Box::new(|u: &str| u == "u"), false),
            (Box::new(|u: &str| u.ends_with(".0")), true),
        ];
        for (n, (at, v1)) in cases.into_iter().enumerate() {
            let inner = MemoryStore::new();
            if v1 {
                legacy_v1(&inner, "u", &old);
            } else {
                write_chunked(&inner, "u", &old).unwrap();
            }
            let b2 = b.clone();
            let s = Hooked {
                inner,
                at: Some(at),
                hook: Mutex::new(Some(Box::new(move |m: &MemoryStore| {
                    write_chunked(m, "u", &b2).unwrap();
                }))),
                fail: false,
            };
            write_chunked(&s, "u", &a).unwrap();
            // A's header came last: A's value, whole; nothing else left behind.
            assert_eq!(read_chunked(&s, "u").unwrap().unwrap(), a, "case {n}");
            let g = generation(&s.inner, "u");
            let expected: Vec<String> = std::iter::once("u".to_owned())
                .chain((0..3).map(|i| format!("u#{g}.{i}")))
                .collect();
            if n == 1 {
                // B's whole write fell between A's last look at the header and A's header
                // write: B's generation is left over (unreadable, and never named again).
                // `Auth` serialises its writers across processes, so it does not meet this.
                assert_eq!(s.inner.len(), 7, "case {n}");
            } else {
                assert_eq!(s.inner.users(), expected, "case {n}");
            }
        }
    }

    /// Writes `secret` the way version 1 did: parts in place, then a version-1 header.
    fn legacy_v1(s: &dyn SecretStore, user: &str, secret: &[u8]) {
        let chunks: Vec<&[u8]> = secret.chunks(CHUNK_SIZE).collect();
        for (i, c) in chunks.iter().enumerate() {
            s.set(&format!("{user}#{i}"), c).unwrap();
        }
        let h = format!(
            r#"{{"v":1,"n":{},"len":{},"sha256":"{}"}}"#,
            chunks.len(),
            secret.len(),
            sha256_hex(secret)
        );
        s.set(user, h.as_bytes()).unwrap();
    }

    #[test]
    fn version_1_values_are_read_and_replaced_cleanly() {
        let s = MemoryStore::new();
        let t = token(7000);
        legacy_v1(&s, "u", &t);
        assert_eq!(read_chunked(&s, "u").unwrap().unwrap(), t);
        write_chunked(&s, "u", &token(3000)).unwrap();
        let g = generation(&s, "u");
        assert_eq!(
            s.users(),
            vec!["u".to_owned(), format!("u#{g}.0"), format!("u#{g}.1")]
        );
        legacy_v1(&s, "v", &t);
        assert!(delete_chunked(&s, "v").unwrap());
        assert_eq!(s.users().len(), 3);
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
