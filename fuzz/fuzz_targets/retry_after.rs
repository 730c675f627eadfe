//! `Retry-After` values and HTTP dates (`Date` headers, which correct the clock).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        pim_core::fuzz_api::retry_after_and_date(s);
    }
});
