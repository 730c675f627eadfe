//! The loopback listener's request parsing (request line, path, query) and its answer page.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cb, _answer) = pim_auth::fuzz_api::loopback(data, "fuzz-state");
    if let Some(pim_auth::loopback::Callback::Code(_)) = cb {
        // A code is only ever taken with the right state.
        assert!(data.windows(16).any(|w| w == b"state=fuzz-state"));
    }
});
