//! `parse_datetime` (RFC 3339 from Graph and ARM), with a format/parse round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        pim_core::fuzz_api::datetime(s);
    }
});
