//! The loopback listener's request parsing (request line, path, query) and its answer page.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cb, _answer) = pim_auth::fuzz_api::loopback(data, "fuzz-state");
    if let Some(pim_auth::loopback::Callback::Code(_)) = cb {
        // A code is only ever taken from a GET (the state is compared after the URL parser
        // has decoded it and dropped tabs and line breaks, so it is not looked for here).
        // Empty lines before the request line are skipped, as RFC 9112 §2.2 allows.
        let start = data
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(data.len());
        assert!(data[start..].starts_with(b"GET "));
    }
});
