//! What real tenants answer at sign-in, against pim-sim's configurable authority: device-code
//! pending / slow_down / declined / expired / blocked, consent and app-registration refusals,
//! dead refresh tokens, and a refresh token over Windows' 2,560-byte limit end to end, with a
//! scan that no token reaches a file or an error message.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pim_auth::store::{SecretStore, WINDOWS_BLOB_LIMIT, read_chunked};
use pim_auth::{DeviceCodeOptions, DeviceCodePrompt, LoginOptions};
use pim_core::Error;
use pim_core::error::SignInRefusal;
use pim_core::token::Resource;
use serde_json::json;

use crate::harness::{self, Harness};

const CLIENT: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
const README_SECTION: &str = "App registration (for administrators)";

/// Device-code options whose prompt approves (or declines) the code on the sim, and records
/// the prompt.
fn device_options(
    h: &Harness,
    action: &'static str,
) -> (DeviceCodeOptions, Arc<Mutex<Vec<String>>>) {
    let base = h.base.clone();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let options = DeviceCodeOptions {
        on_prompt: Some(Arc::new(move |p: &DeviceCodePrompt| {
            s.lock().unwrap().push(format!("{p:?} {}", p.message));
            if action.is_empty() {
                return;
            }
            let url = format!("{base}/_sim/devicecode/{}/{action}", p.user_code);
            tokio::spawn(async move {
                let r = reqwest::Client::new().post(url).send().await.unwrap();
                assert!(r.status().is_success());
            });
        })),
        ..DeviceCodeOptions::default()
    };
    (options, seen)
}

fn assert_refused(err: &Error, reason: SignInRefusal, codes: &[i64]) {
    match err {
        Error::SignInRefused {
            reason: r,
            client_id,
            aadsts,
            request_id,
            ..
        } => {
            assert_eq!(*r, reason, "{err}");
            assert_eq!(client_id, CLIENT);
            assert_eq!(aadsts, codes);
            assert!(request_id.is_some(), "correlation id kept for support");
        }
        other => panic!("expected SignInRefused({reason:?}), got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(CLIENT), "names the app registration: {text}");
    assert!(
        text.contains(README_SECTION),
        "points to the README: {text}"
    );
    assert!(text.contains("correlation id"), "{text}");
    if let Some(c) = codes.first() {
        assert!(text.contains(&format!("AADSTS{c}")), "{text}");
    }
    assert!(
        !text.contains("Trace ID"),
        "only the first line of Entra's text: {text}"
    );
    assert_eq!(err.code(), reason.code());
}

#[tokio::test]
async fn device_code_pending_then_slow_down_adds_five_seconds_then_success() {
    let h = harness::start().await;
    h.control(
        "/_sim/config",
        json!({"devicePollScript": ["authorization_pending", "slow_down"]}),
    )
    .await;
    let (options, seen) = device_options(&h, "approve");
    let started = Instant::now();
    let account = h.auth.login_device_code(options).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(account.kind, pim_auth::CredentialKind::DeviceCode);
    assert_eq!(seen.lock().unwrap().len(), 1);
    // Polls at 1 s (pending), 2 s (slow_down), then 1 + 5 s later (success).
    // Every token-endpoint call of this test is a device-code poll.
    assert_eq!(h.token_calls().await, 3);
    assert!(
        elapsed >= Duration::from_millis(7_900),
        "slow_down must add 5 s to the 1 s interval: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
}

#[tokio::test]
async fn device_code_declined_and_expired() {
    let h = harness::start().await;
    let (options, _) = device_options(&h, "decline");
    let err = h.auth.login_device_code(options).await.unwrap_err();
    assert!(matches!(err, Error::SignInRequired { .. }), "{err:?}");
    assert!(err.to_string().contains("declined"), "{err}");

    // Expired: the virtual clock passes the code's 15 minutes while the user is away.
    let base = h.base.clone();
    let options = DeviceCodeOptions {
        on_prompt: Some(Arc::new(move |_: &DeviceCodePrompt| {
            let url = format!("{base}/_sim/clock/advance");
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(url)
                    .json(&json!({"seconds": 901}))
                    .send()
                    .await
                    .unwrap();
            });
        })),
        ..DeviceCodeOptions::default()
    };
    let err = h.auth.login_device_code(options).await.unwrap_err();
    assert!(matches!(err, Error::SignInRequired { .. }), "{err:?}");
    assert!(err.to_string().contains("AADSTS70019"), "{err}");
    assert!(h.auth.accounts().unwrap().is_empty());
    assert!(h.store.memory().is_empty());
}

#[tokio::test]
async fn conditional_access_blocking_device_code_says_use_the_browser() {
    let h = harness::start().await;
    h.control(
        "/_sim/config",
        json!({"authorityError": {"endpoint": "token", "grant": "device_code",
            "error": "invalid_grant", "codes": [53003], "suberror": "message_only"}}),
    )
    .await;
    let (options, _) = device_options(&h, "approve");
    let err = h.auth.login_device_code(options).await.unwrap_err();
    assert_refused(&err, SignInRefusal::ConditionalAccess, &[53003]);
    let text = err.to_string();
    assert!(text.contains("Conditional Access"), "{text}");
    assert!(text.contains("without --device-code"), "{text}");
    assert!(h.auth.accounts().unwrap().is_empty());
    assert!(h.store.memory().is_empty());
    // The browser sign-in is not affected.
    h.control("/_sim/config", json!({"authorityError": null}))
        .await;
    h.auth
        .login_interactive(LoginOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn device_code_with_public_client_flows_off_or_unknown_app() {
    let h = harness::start().await;
    h.control(
        "/_sim/config",
        json!({"authorityError": {"endpoint": "devicecode", "error": "invalid_client",
            "codes": [7000218], "status": 401, "times": 1}}),
    )
    .await;
    let (options, seen) = device_options(&h, "");
    let err = h.auth.login_device_code(options).await.unwrap_err();
    assert_refused(&err, SignInRefusal::InvalidClient, &[7000218]);
    assert!(
        err.to_string().contains("Allow public client flows"),
        "{err}"
    );
    assert!(seen.lock().unwrap().is_empty(), "no code shown");

    h.control(
        "/_sim/config",
        json!({"authorityError": {"endpoint": "devicecode", "error": "unauthorized_client",
            "codes": [700016], "times": 1}}),
    )
    .await;
    let (options, _) = device_options(&h, "");
    let err = h.auth.login_device_code(options).await.unwrap_err();
    assert_refused(&err, SignInRefusal::AppNotFound, &[700016]);
    assert!(err.to_string().contains("PIM_CLIENT_ID"), "{err}");
}

/// (error, AADSTS codes, suberror, expected refusal, words the message must contain)
type Case = (
    &'static str,
    &'static [i64],
    Option<&'static str>,
    SignInRefusal,
    &'static str,
);

#[tokio::test]
async fn refusals_at_code_redemption() {
    let h = harness::start().await;
    let cases: &[Case] = &[
        (
            "invalid_grant",
            &[65001],
            Some("consent_required"),
            SignInRefusal::ConsentRequired,
            "consent",
        ),
        (
            "consent_required",
            &[],
            None,
            SignInRefusal::ConsentRequired,
            "admin consent",
        ),
        (
            "invalid_grant",
            &[90094],
            None,
            SignInRefusal::AdminConsentRequired,
            "administrator must grant consent",
        ),
        (
            "invalid_grant",
            &[65002],
            None,
            SignInRefusal::AdminConsentRequired,
            "administrator",
        ),
        (
            "unauthorized_client",
            &[7000112],
            None,
            SignInRefusal::AppBlocked,
            "disabled or blocked",
        ),
        (
            "invalid_grant",
            &[500014],
            None,
            SignInRefusal::AppBlocked,
            "disabled or blocked",
        ),
        (
            "invalid_grant",
            &[50105],
            None,
            SignInRefusal::AppBlocked,
            "not assigned",
        ),
        (
            "unauthorized_client",
            &[700016],
            None,
            SignInRefusal::AppNotFound,
            "no app registration",
        ),
        (
            "invalid_grant",
            &[53003],
            None,
            SignInRefusal::ConditionalAccess,
            "Conditional Access",
        ),
        (
            "invalid_client",
            &[7000218],
            None,
            SignInRefusal::InvalidClient,
            "Allow public client flows",
        ),
        (
            "invalid_client",
            &[],
            None,
            SignInRefusal::InvalidClient,
            "public client",
        ),
    ];
    for (error, codes, suberror, reason, words) in cases {
        h.control(
            "/_sim/config",
            json!({"authorityError": {"endpoint": "token", "grant": "authorization_code",
                "error": error, "codes": codes, "suberror": suberror, "times": 1}}),
        )
        .await;
        let err = h
            .auth
            .login_interactive(LoginOptions::default())
            .await
            .unwrap_err();
        if codes.is_empty() {
            assert!(
                matches!(&err, Error::SignInRefused { reason: r, .. } if r == reason),
                "{err:?}"
            );
            assert!(err.to_string().contains(CLIENT), "{err}");
            assert!(err.to_string().contains(README_SECTION), "{err}");
        } else {
            assert_refused(&err, *reason, codes);
        }
        assert!(err.to_string().contains(words), "{error} {codes:?}: {err}");
        assert!(h.auth.accounts().unwrap().is_empty());
        assert!(h.store.memory().is_empty());
    }
    // Other Entra errors stay generic API errors with Entra's text.
    h.control(
        "/_sim/config",
        json!({"authorityError": {"endpoint": "token", "grant": "authorization_code",
            "error": "invalid_request", "codes": [900144], "description": "Something is missing.", "times": 1}}),
    )
    .await;
    let err = h
        .auth
        .login_interactive(LoginOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("AADSTS900144: Something is missing."),
        "{err}"
    );
    // And once the tenant is fixed, the sign-in works.
    h.auth
        .login_interactive(LoginOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn app_blocked_at_refresh_keeps_the_refresh_token() {
    let h = harness::start().await;
    let account = h
        .auth
        .login_interactive(LoginOptions::default())
        .await
        .unwrap();
    let user = account.keychain_user();
    let before = read_chunked(&h.store, &user).unwrap().unwrap();
    h.control(
        "/_sim/config",
        json!({"authorityError": {"endpoint": "token", "grant": "refresh_token",
            "error": "unauthorized_client", "codes": [7000112]}}),
    )
    .await;
    let ts = h.auth.token_source(&account);
    let mut req = h.request(&account.home_tenant_id, Resource::Arm);
    req.force_refresh = true;
    let err = ts.access_token(&req).await.unwrap_err();
    assert_refused(&err, SignInRefusal::AppBlocked, &[7000112]);
    assert_eq!(
        read_chunked(&h.store, &user).unwrap().unwrap(),
        before,
        "an app blocked by an admin is not a dead sign-in: the token is kept"
    );
    h.control("/_sim/config", json!({"authorityError": null}))
        .await;
    ts.access_token(&req).await.unwrap();
}

/// Every file under `dir`, with its contents.
fn files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p.display().to_string(), bytes));
        }
    }
}

/// Whether `haystack` holds the start or the end of `token` (40 characters each: enough to
/// prove a leak, and a leaked keychain part holds one of them or another token's).
fn contains(haystack: &[u8], token: &str) -> bool {
    let t = token.trim_end_matches('.').as_bytes();
    let head = &t[..t.len().min(40)];
    let tail = &t[t.len().saturating_sub(40)..];
    [head, tail]
        .iter()
        .any(|n| haystack.windows(n.len()).any(|w| w == *n))
}

/// The refresh token saved for `user` (the keychain value's last line; the lines before bind
/// it to its endpoints).
fn saved_token(h: &harness::Harness, user: &str) -> String {
    let value = String::from_utf8(read_chunked(&h.store, user).unwrap().unwrap()).unwrap();
    assert!(value.starts_with("pim-rt/1\n"), "bound to its endpoints");
    value.rsplit('\n').next().unwrap().to_owned()
}

#[tokio::test]
async fn long_refresh_token_through_the_limited_store_then_invalid_grant_deletes_every_part() {
    let h = harness::start().await;
    h.control("/_sim/config", json!({"refreshTokenBytes": 6000}))
        .await;
    let mut secrets: Vec<String> = Vec::new();
    let mut messages: Vec<String> = Vec::new();

    let account = h
        .auth
        .login_interactive(LoginOptions::default())
        .await
        .unwrap();
    let user = account.keychain_user();
    let rt1 = saved_token(&h, &user);
    assert_eq!(rt1.len(), 6000);
    assert!(
        rt1.len() > WINDOWS_BLOB_LIMIT,
        "the sim's token must exceed the Windows limit"
    );
    secrets.push(rt1.clone());
    // Stored in parts, none over the limit.
    let entries = h.store.memory().users();
    assert!(entries.len() >= 4, "header and parts: {entries:?}");
    for e in &entries {
        let v = h.store.memory().get(e).unwrap().unwrap();
        assert!(v.len() <= WINDOWS_BLOB_LIMIT, "{e}: {} bytes", v.len());
    }

    // Graph and ARM, both tenants: every refresh rotates a 6,000-character token, saved in parts.
    let ts = h.auth.token_source(&account);
    let tenants = ["contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com"];
    for tenant in tenants {
        for resource in [Resource::Graph, Resource::Arm] {
            let mut req = h.request(tenant, resource);
            req.force_refresh = true;
            let t = ts.access_token(&req).await.unwrap();
            secrets.push(t.token.expose().to_owned());
            messages.push(format!("{t:?}"));
            // Rotated tokens are saved by a background task: wait for it before reading.
            h.auth.flush().await;
            let rt = saved_token(&h, &user);
            assert_eq!(rt.len(), 6000);
            secrets.push(rt);
        }
    }
    assert_ne!(secrets.last().unwrap(), &rt1, "the rotated token was saved");

    // A restart reads it back from the parts.
    let again = h.auth.token_source(&account);
    let mut req = h.request(&account.home_tenant_id, Resource::Graph);
    req.force_refresh = true;
    let t = again.access_token(&req).await.unwrap();
    secrets.push(t.token.expose().to_owned());
    secrets.push(saved_token(&h, &user));

    // Refusals and a dead token: messages never carry a token.
    h.control(
        "/_sim/config",
        json!({"authorityError": {"endpoint": "token", "grant": "refresh_token",
            "error": "invalid_grant", "codes": [65001], "suberror": "consent_required", "times": 1}}),
    )
    .await;
    let err = ts.access_token(&req).await.unwrap_err();
    messages.push(format!("{err} {err:?}"));
    assert!(
        h.store.memory().users().len() >= 4,
        "consent keeps the token"
    );

    h.control(
        "/_sim/config",
        json!({"authorityError": {"endpoint": "token", "grant": "refresh_token",
            "error": "invalid_grant", "codes": [70008], "suberror": "bad_token"}}),
    )
    .await;
    let err = ts.access_token(&req).await.unwrap_err();
    messages.push(format!("{err} {err:?}"));
    assert!(matches!(err, Error::SignInRequired { .. }), "{err:?}");
    assert!(err.to_string().contains("AADSTS70008"), "{err}");
    assert!(
        h.store.memory().is_empty(),
        "the dead token and every part are deleted: {:?}",
        h.store.memory().users()
    );
    let err = ts.access_token(&req).await.unwrap_err();
    messages.push(format!("{err} {err:?}"));
    assert!(matches!(err, Error::SignInRequired { .. }), "{err:?}");

    // Device-code prompts and sign-in refusals, for the scan.
    h.control("/_sim/config", json!({"authorityError": null}))
        .await;
    let (options, seen) = device_options(&h, "decline");
    let err = h.auth.login_device_code(options).await.unwrap_err();
    messages.push(format!("{err} {err:?}"));
    messages.extend(seen.lock().unwrap().iter().cloned());

    // The scan: accounts file, config folder (the whole temp dir), every message.
    let mut found = Vec::new();
    files(h.dir.path(), &mut found);
    assert!(
        found
            .iter()
            .any(|(p, _)| p == &h.auth.accounts_path().display().to_string()),
        "the accounts file was written: {:?}",
        found.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    assert!(secrets.len() >= 10);
    for s in &secrets {
        assert!(s.len() > 40);
        for (path, bytes) in &found {
            assert!(!contains(bytes, s), "a token reached {path}");
        }
        for m in &messages {
            assert!(!contains(m.as_bytes(), s), "a token reached a message: {m}");
        }
    }
}

#[tokio::test]
async fn refusal_in_the_browser_redirect_is_reported_with_its_code() {
    let h = harness::start().await;
    h.control(
        "/_sim/config",
        json!({"authorityError": {"endpoint": "authorize", "error": "unauthorized_client",
            "codes": [7000112], "times": 1}}),
    )
    .await;
    let err = h
        .auth
        .login_interactive(LoginOptions::default())
        .await
        .unwrap_err();
    // The refusal comes back with what an administrator must do, naming the app.
    assert_refused_text(&err, SignInRefusal::AppBlocked);
    assert!(err.to_string().contains("AADSTS7000112"), "{err}");
    assert!(h.browser.pages(1).await[0].contains("AADSTS7000112"));
    assert!(h.auth.accounts().unwrap().is_empty());
    assert!(h.store.memory().is_empty());
}

fn assert_refused_text(err: &Error, reason: SignInRefusal) {
    assert_eq!(err.code(), reason.code(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(CLIENT), "{text}");
    assert!(text.contains(README_SECTION), "{text}");
}
