//! JWT payload decoding: the ID-token claims sign-in reads and the session's `oid` lookup.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = pim_auth::entra::decode_jwt_claims::<pim_auth::entra::IdClaims>(s);
    let _ = pim_auth::entra::decode_jwt_claims::<serde_json::Value>(s);
    pim_core::fuzz_api::jwt(s);
});
