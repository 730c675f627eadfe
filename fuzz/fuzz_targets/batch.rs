//! A Graph `$batch` response: statuses, headers, bodies, errors, and pages into the model.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pim_core::fuzz_api::batch(data));
