//! `WWW-Authenticate` claims challenges (continuous access evaluation).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pim_core::fuzz_api::claims_challenge(data));
