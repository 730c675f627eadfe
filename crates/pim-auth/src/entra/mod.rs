//! The Entra ID v2 protocol: authority URLs, token requests, error responses, client
//! capabilities and ID-token claims.
//!
//! Nothing here logs or formats a token, code or verifier.
//!
//! The parts (their items are re-exported here, so paths stay `pim_auth::entra::…`):
//! - this module: tenants and authority URLs;
//! - `claims`: the claims request (`cp1` merged into a step-up challenge) and ID-token
//!   claims;
//! - `client`: [`TokenClient`], the token and device-code endpoints, and their answers;
//! - `error`: Entra's error responses: AADSTS codes, what they mean for the caller
//!   ([`ErrorKind`]), and the refusals ([`pim_core::error::SignInRefusal`]) with their
//!   messages.

use pim_core::config::Endpoints;
use url::Url;

mod claims;
mod client;
mod error;

pub use claims::{CP1_CLAIMS, IdClaims, decode_jwt_claims, merge_claims};
pub use client::{
    DeviceCodeResponse, Grant, MAX_DEVICE_CODE_LIFETIME, MAX_POLL_INTERVAL, MAX_TOKEN_LIFETIME,
    TokenClient, TokenResponse, default_http_client,
};
pub use error::{EntraError, ErrorKind, Request, TokenError, parse_error, redirect_refusal};

/// Tenant used for the first sign-in of a work or school account.
pub const ORGANIZATIONS: &str = "organizations";

/// Checks a tenant segment: a GUID, a domain, `organizations` or `common`. It goes into the
/// authority's path (`/{tenant}/oauth2/v2.0/token`), and into `az login --tenant`, so it
/// starts with a letter or digit (no `.`/`..` path segment, no option-like `-x`), has no
/// empty label (`a..b`) and does not end with a dot.
pub fn validate_tenant(tenant: &str) -> pim_core::Result<()> {
    let ok = tenant.len() <= 256
        && tenant
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric)
        && !tenant.contains("..")
        && !tenant.ends_with('.')
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(pim_core::Error::InvalidInput(format!(
            "`{tenant}` is not a tenant id or domain"
        )))
    }
}

/// `<authority_host>/{tenant}/oauth2/v2.0/{leaf}`.
pub fn authority_url(endpoints: &Endpoints, tenant: &str, leaf: &str) -> pim_core::Result<Url> {
    validate_tenant(tenant)?;
    let base = endpoints.authority_host.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/{tenant}/oauth2/v2.0/{leaf}"))
        .map_err(|e| pim_core::Error::Config(format!("bad authority host `{base}`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_urls() {
        let mut e = Endpoints::for_cloud(pim_core::config::Cloud::Public);
        assert_eq!(
            authority_url(&e, "organizations", "authorize")
                .unwrap()
                .as_str(),
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
        );
        e.authority_host = Url::parse("http://127.0.0.1:9/base").unwrap();
        assert_eq!(
            authority_url(&e, "contoso.onmicrosoft.com", "token")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9/base/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert!(authority_url(&e, "a/b", "token").is_err());
        assert!(authority_url(&e, "", "token").is_err());
        assert!(authority_url(&e, "x?y", "token").is_err());
    }

    #[test]
    fn tenant_segments_cannot_leave_the_tenant_path() {
        for bad in [
            ".",
            "..",
            "-x",
            "--tenant",
            ".contoso.com",
            "_x",
            "a..b",
            "x.",
        ] {
            let err = validate_tenant(bad).unwrap_err();
            assert!(matches!(err, pim_core::Error::InvalidInput(_)), "{bad}");
        }
        for good in [
            "organizations",
            "common",
            "contoso.onmicrosoft.com",
            "my-tenant.example.co.uk",
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "x_y",
        ] {
            validate_tenant(good).unwrap();
        }
        // `..` would have turned `/{tenant}/oauth2/v2.0/token` into `/oauth2/v2.0/token`.
        let e = Endpoints::for_cloud(pim_core::config::Cloud::Public);
        assert!(authority_url(&e, "..", "token").is_err());
    }
}
