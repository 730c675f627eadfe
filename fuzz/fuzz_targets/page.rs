//! A Graph or ARM page (or single object) parsed into the model's roles and requests.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pim_core::fuzz_api::page(data));
