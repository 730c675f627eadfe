//! The token endpoint's answers: error bodies (`error`, `error_codes`, `suberror`...) and
//! their typed errors, token and device-code responses, and authorize-redirect refusals.
//! Input: two bytes of HTTP status, then the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pim_auth::entra::{DeviceCodeResponse, TokenResponse, parse_error, redirect_refusal};

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => return,
    };
    if let Some(e) = parse_error(status, body) {
        let _ = (e.kind(), e.summary(), e.refusal(), e.to_string());
        let core: pim_core::Error = pim_auth::entra::TokenError::Entra(e.clone()).into();
        let _ = (core.code(), core.to_string());
        let _ = redirect_refusal(
            &e.error,
            e.error_description.as_deref(),
            e.suberror.as_deref(),
            "client",
        );
    }
    if let Ok(t) = serde_json::from_slice::<TokenResponse>(body) {
        let _ = (t.lifetime(), format!("{t:?}"));
    }
    if let Ok(d) = serde_json::from_slice::<DeviceCodeResponse>(body) {
        let _ = (d.lifetime(), d.poll_interval(), format!("{d:?}"));
    }
    if let Ok(s) = std::str::from_utf8(body) {
        let mut parts = s.splitn(3, '\n');
        let (error, desc, sub) = (parts.next().unwrap_or(""), parts.next(), parts.next());
        let _ = redirect_refusal(error, desc, sub, "client");
    }
});
