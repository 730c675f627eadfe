//! PIM policy rules (Graph `rules`, ARM `effectiveRules`) and validation against them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pim_core::fuzz_api::policy(data));
