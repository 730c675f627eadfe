//! Reading a keychain secret split into parts (`user` header + `user#0..N-1`), over random
//! entries; and a write/read round trip of the same bytes.
//! Input: entries separated by 0xFF; the first is `user`'s value, the next ones parts 0, 1...
#![no_main]
use libfuzzer_sys::fuzz_target;
use pim_auth::store::{MemoryStore, SecretStore, read_chunked, write_chunked};

fuzz_target!(|data: &[u8]| {
    let store = MemoryStore::new();
    let mut entries = data.split(|b| *b == 0xFF);
    if let Some(head) = entries.next() {
        let _ = store.set("u", head);
    }
    for (i, part) in entries.enumerate() {
        // Every other entry is left out, so missing parts are covered too.
        if part != b"-" {
            let _ = store.set(&format!("u#{i}"), part);
        }
    }
    if let Ok(Some(v)) = read_chunked(&store, "u") {
        assert!(v.len() <= pim_auth::store::MAX_SECRET_LEN.max(data.len()));
    }
    let fresh = MemoryStore::new();
    if write_chunked(&fresh, "v", data).is_ok() {
        let back = read_chunked(&fresh, "v").expect("a written secret reads back");
        assert_eq!(back.as_deref(), Some(data), "write/read round trip");
    }
    // Over the damaged entries: a write replaces them, whatever they were.
    if write_chunked(&store, "u", b"{fresh}").is_ok() {
        assert_eq!(
            read_chunked(&store, "u").ok().flatten().as_deref(),
            Some(&b"{fresh}"[..])
        );
    }
});
