//! [`TokenClient`]: the token and device-code endpoints, and their successful answers.

use std::fmt;
use std::time::Duration;

use pim_core::config::Endpoints;
use pim_core::http::{BodyError, MAX_RESPONSE_BYTES, read_body};
use pim_core::token::Secret;
use serde::Deserialize;
use url::Url;

use super::{Request, TokenError, authority_url, merge_claims, parse_error};

fn de_u64_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        U(u64),
        S(String),
    }
    match N::deserialize(d)? {
        N::U(n) => Ok(n),
        N::S(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// A successful token response. `Debug` never shows the tokens.
#[derive(Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Lifetime in seconds.
    #[serde(deserialize_with = "de_u64_or_string")]
    pub expires_in: u64,
    /// The (rotated) refresh token, when `offline_access` was asked.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The ID token, when `openid` was asked.
    #[serde(default)]
    pub id_token: Option<String>,
    /// Granted scopes.
    #[serde(default)]
    pub scope: Option<String>,
}

/// Longest access-token lifetime believed: Entra's tokens last about an hour (up to 28 hours
/// with continuous access evaluation). A longer `expires_in` is capped (the token is refreshed
/// earlier), so "now + lifetime" never overflows.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Longest device-code validity believed (Entra gives 15 minutes).
pub const MAX_DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(3600);

/// Slowest device-code polling interval believed (Entra asks for 5 s).
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(60);

impl TokenResponse {
    /// `expires_in`, at most [`MAX_TOKEN_LIFETIME`].
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.expires_in).min(MAX_TOKEN_LIFETIME)
    }
}

impl DeviceCodeResponse {
    /// How long the code is valid: `expires_in`, at most [`MAX_DEVICE_CODE_LIFETIME`].
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.expires_in).min(MAX_DEVICE_CODE_LIFETIME)
    }

    /// How long to wait between polls: `interval`, between 1 s and [`MAX_POLL_INTERVAL`].
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.interval.max(1)).min(MAX_POLL_INTERVAL)
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.is_some())
            .field("id_token", &self.id_token.is_some())
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The device authorization response.
#[derive(Deserialize)]
pub struct DeviceCodeResponse {
    /// Secret polled with.
    pub device_code: String,
    /// Shown to the user.
    pub user_code: String,
    /// Where the user enters the code.
    pub verification_uri: String,
    /// Seconds until the code expires.
    #[serde(deserialize_with = "de_u64_or_string")]
    pub expires_in: u64,
    /// Seconds between polls.
    #[serde(default = "default_interval", deserialize_with = "de_u64_or_string")]
    pub interval: u64,
    /// A ready-made instruction.
    #[serde(default)]
    pub message: Option<String>,
}

fn default_interval() -> u64 {
    5
}

impl fmt::Debug for DeviceCodeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeResponse")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Calls the token and device-code endpoints.
#[derive(Debug, Clone)]
pub struct TokenClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    client_id: String,
}

/// Parameters of a grant (besides client id and claims, which are always sent).
pub enum Grant<'a> {
    /// `authorization_code`.
    AuthorizationCode {
        /// The code.
        code: &'a Secret,
        /// The same redirect URI as in the authorize request.
        redirect_uri: &'a str,
        /// The PKCE verifier.
        verifier: &'a Secret,
    },
    /// `refresh_token`.
    RefreshToken(&'a Secret),
    /// `urn:ietf:params:oauth:grant-type:device_code`.
    DeviceCode(&'a Secret),
}

impl fmt::Debug for Grant<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Grant::AuthorizationCode { .. } => "AuthorizationCode",
            Grant::RefreshToken(_) => "RefreshToken",
            Grant::DeviceCode(_) => "DeviceCode",
        })
    }
}

impl TokenClient {
    /// A client for `endpoints` and the app registration `client_id`.
    pub fn new(http: reqwest::Client, endpoints: Endpoints, client_id: String) -> TokenClient {
        TokenClient {
            http,
            endpoints,
            client_id,
        }
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// POST `/{tenant}/oauth2/v2.0/token`. `scope` is the full scope string; `claims` the
    /// step-up claims (cp1 is merged in).
    pub async fn token(
        &self,
        tenant: &str,
        grant: Grant<'_>,
        scope: &str,
        claims: Option<&str>,
    ) -> pim_core::Result<Result<TokenResponse, TokenError>> {
        let url = authority_url(&self.endpoints, tenant, "token")?;
        let claims = merge_claims(claims)?;
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", &self.client_id),
            ("scope", scope),
            ("claims", &claims),
        ];
        match &grant {
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                verifier,
            } => {
                form.push(("grant_type", "authorization_code"));
                form.push(("code", code.expose()));
                form.push(("redirect_uri", redirect_uri));
                form.push(("code_verifier", verifier.expose()));
            }
            Grant::RefreshToken(rt) => {
                form.push(("grant_type", "refresh_token"));
                form.push(("refresh_token", rt.expose()));
            }
            Grant::DeviceCode(dc) => {
                form.push(("grant_type", "urn:ietf:params:oauth:grant-type:device_code"));
                form.push(("device_code", dc.expose()));
            }
        }
        tracing::debug!(%tenant, grant = ?grant, %scope, "token request");
        let request = match grant {
            Grant::AuthorizationCode { .. } => Request::AuthorizationCode,
            Grant::RefreshToken(_) => Request::RefreshToken,
            Grant::DeviceCode(_) => Request::DeviceCode,
        };
        Ok(self.post(url, &form, request).await)
    }

    /// POST `/{tenant}/oauth2/v2.0/devicecode`.
    pub async fn device_code(
        &self,
        tenant: &str,
        scope: &str,
    ) -> pim_core::Result<Result<DeviceCodeResponse, TokenError>> {
        let url = authority_url(&self.endpoints, tenant, "devicecode")?;
        let claims = merge_claims(None)?;
        let form = [
            ("client_id", self.client_id.as_str()),
            ("scope", scope),
            ("claims", claims.as_str()),
        ];
        Ok(self.post(url, &form, Request::DeviceAuthorization).await)
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        form: &[(&str, &str)],
        request: Request,
    ) -> Result<T, TokenError> {
        let resp = self
            .http
            .post(url)
            .header("Accept", "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| TokenError::Transport(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let body = read_body(resp, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::Transport(e) => TokenError::Transport(e.without_url().to_string()),
                e @ BodyError::TooLarge { .. } => TokenError::InvalidResponse(format!(
                    "the sign-in service sent an unreadable answer (HTTP {status}): {e}"
                )),
            })?;
        if (200..300).contains(&status) {
            serde_json::from_slice(&body).map_err(|e| {
                TokenError::InvalidResponse(format!(
                    "the sign-in service sent an unreadable answer (HTTP {status}): {e}"
                ))
            })
        } else {
            Err(match parse_error(status, &body) {
                Some(mut e) => {
                    e.client_id = self.client_id.clone();
                    e.request = Some(request);
                    TokenError::Entra(e)
                }
                None => TokenError::InvalidResponse(format!(
                    "the sign-in service answered HTTP {status} without an error description"
                )),
            })
        }
    }
}

/// A reqwest client suited to the authority: no redirects, 30 s timeout.
pub fn default_http_client() -> pim_core::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("pim-tray/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| pim_core::Error::Config(format!("cannot create the HTTP client: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_for(base: &str) -> TokenClient {
        let mut e = Endpoints::for_cloud(pim_core::config::Cloud::Public);
        e.authority_host = Url::parse(base).unwrap();
        TokenClient::new(default_http_client().unwrap(), e, "cid".into())
    }

    #[tokio::test]
    async fn oversize_token_answers_are_refused() {
        use pim_core::test_server::{TestServer, response};
        let big = vec![b' '; 16 * 1024 * 1024 + 1];
        let server = TestServer::start(move |_, path| {
            if path.contains("/announced/") {
                response(200, &big, true)
            } else if path.contains("/error/") {
                response(400, &big, false)
            } else {
                response(200, &big, false)
            }
        })
        .await;
        let client = client_for(&server.base);
        let rt = Secret::new("0.rt");
        for tenant in ["streamed", "announced", "error"] {
            let r = client
                .token(tenant, Grant::RefreshToken(&rt), "s", None)
                .await
                .unwrap();
            match r {
                Err(TokenError::InvalidResponse(m)) => assert!(m.contains("16 MiB"), "{m}"),
                other => panic!("{tenant}: {other:?}"),
            }
        }
        let r = client.device_code("streamed", "s").await.unwrap();
        assert!(matches!(r, Err(TokenError::InvalidResponse(_))), "{r:?}");
    }

    #[tokio::test]
    async fn token_requests_do_not_follow_redirects() {
        use pim_core::test_server::{TestServer, redirect, response};
        let elsewhere = TestServer::start(|_, _| {
            response(200, br#"{"access_token":"x","expires_in":1}"#, true)
        })
        .await;
        let to = format!("{}/stolen", elsewhere.base);
        let server = TestServer::start(move |_, _| redirect(&to)).await;
        let rt = Secret::new("0.rt");
        let r = client_for(&server.base)
            .token("organizations", Grant::RefreshToken(&rt), "s", None)
            .await
            .unwrap();
        assert!(matches!(r, Err(TokenError::InvalidResponse(_))), "{r:?}");
        assert_eq!(elsewhere.hits(), 0, "the redirect was followed");
    }

    #[test]
    fn token_response_debug_hides_tokens() {
        let r: TokenResponse = serde_json::from_str(
            r#"{"access_token":"SECRET-AT","expires_in":"3599","refresh_token":"SECRET-RT","token_type":"Bearer"}"#,
        )
        .unwrap();
        assert_eq!(r.expires_in, 3599);
        let d = format!("{r:?}");
        assert!(!d.contains("SECRET"), "{d}");
    }
}
