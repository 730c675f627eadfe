//! Graph and ARM error envelopes (`error.code`, `message`, policy rules, claims in messages)
//! and the typed errors made of them. Input: two bytes of HTTP status, then the body.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let [a, b, body @ ..] = data {
        pim_core::fuzz_api::http_error(u16::from_be_bytes([*a, *b]), body);
    }
});
