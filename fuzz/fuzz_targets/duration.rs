//! `PimDuration::parse` (human and ISO 8601), with an ISO 8601 round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        pim_core::fuzz_api::duration(s);
    }
});
