//! A simulator per test and a tiny token source that signs in with the sim's auth-code flow
//! (reqwest plays the browser) and then uses the refresh token for every tenant/resource.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use pim_core::config::{Endpoints, MapEnv};
use pim_core::token::{AccessToken, Secret, TokenRequest, TokenSource};
use pim_core::{Error, Result, Session, SessionOptions};
use pim_sim::{SimHandle, SimOptions, Simulator};
use sha2::Digest;
use tokio::sync::Mutex;

pub struct Harness {
    pub sim: SimHandle,
    pub session: Session,
    pub home: String,
    /// Options `session` was built with (to build another session on the same sign-in).
    pub options: SessionOptions,
    /// The token source behind `session`.
    pub tokens: Arc<TestTokens>,
}

#[derive(Debug)]
pub struct TestTokens {
    base: String,
    client: reqwest::Client,
    refresh: Mutex<String>,
    cache: Mutex<HashMap<CacheKey, AccessToken>>,
}

type CacheKey = (String, String, Option<String>);

const CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
const REDIRECT: &str = "http://localhost:53123/";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl TestTokens {
    /// Signs in (auth code + PKCE) and returns the source and the home tenant id.
    pub async fn sign_in(base: &str) -> (Arc<TestTokens>, String) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let v = authorize(&client, base, "organizations", None).await;
        let access = v["access_token"].as_str().unwrap();
        let payload = access.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .unwrap(),
        )
        .unwrap();
        let tid = claims["tid"].as_str().unwrap().to_owned();
        let src = TestTokens {
            base: base.to_owned(),
            client,
            refresh: Mutex::new(v["refresh_token"].as_str().unwrap().to_owned()),
            cache: Mutex::new(HashMap::new()),
        };
        (Arc::new(src), tid)
    }

    /// The "browser" step-up: an interactive sign-in in `tenant` with `claims`; the new
    /// refresh token (whose session now carries the claims) replaces the old one.
    pub async fn interactive(&self, tenant: &str, claims: &str) {
        let v = authorize(&self.client, &self.base, tenant, Some(claims)).await;
        *self.refresh.lock().await = v["refresh_token"].as_str().unwrap().to_owned();
    }
}

/// Auth code + PKCE against the sim (reqwest plays the browser); the token response.
async fn authorize(
    client: &reqwest::Client,
    base: &str,
    tenant: &str,
    claims: Option<&str>,
) -> serde_json::Value {
    let verifier = "v".repeat(50);
    let challenge = b64(&sha2::Sha256::digest(verifier.as_bytes()));
    let mut query = vec![
        ("client_id", CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "st"),
        (
            "scope",
            "https://graph.microsoft.com/.default openid profile offline_access",
        ),
    ];
    if let Some(c) = claims {
        query.push(("claims", c));
    }
    let resp = client
        .get(format!("{base}/{tenant}/oauth2/v2.0/authorize"))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 302, "authorize should redirect");
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    let url = url::Url::parse(&loc).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .to_string();
    client
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
            (
                "scope",
                "https://graph.microsoft.com/.default openid profile offline_access",
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[async_trait]
impl TokenSource for TestTokens {
    async fn access_token(&self, req: &TokenRequest) -> Result<AccessToken> {
        let key = (req.tenant_id.clone(), req.scope.clone(), req.claims.clone());
        if !req.force_refresh
            && let Some(t) = self.cache.lock().await.get(&key)
        {
            return Ok(t.clone());
        }
        let mut rt = self.refresh.lock().await;
        let mut form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("client_id", CLIENT_ID.to_owned()),
            ("refresh_token", rt.clone()),
            ("scope", format!("{} offline_access", req.scope)),
        ];
        if let Some(c) = &req.claims {
            form.push(("claims", c.clone()));
        }
        let resp = self
            .client
            .post(format!("{}/{}/oauth2/v2.0/token", self.base, req.tenant_id))
            .form(&form)
            .send()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        let v: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
            if err == "interaction_required" {
                return Err(Error::StepUpRequired {
                    resource: req.resource,
                    claims: req.claims.clone().unwrap_or_default(),
                });
            }
            return Err(Error::SignInRequired {
                reason: err.to_owned(),
            });
        }
        if let Some(n) = v["refresh_token"].as_str() {
            *rt = n.to_owned();
        }
        let t = AccessToken {
            token: Secret::new(v["access_token"].as_str().unwrap_or_default()),
            expires_on: time::OffsetDateTime::now_utc() + time::Duration::minutes(50),
        };
        self.cache.lock().await.insert(key, t.clone());
        Ok(t)
    }
}

pub async fn start() -> Harness {
    start_with(SimOptions::default()).await
}

pub async fn start_with(opts: SimOptions) -> Harness {
    let sim = Simulator::start(opts).await.unwrap();
    let base = sim.base_url();
    let env = MapEnv(
        [
            ("PIM_AUTHORITY_HOST", base.as_str()),
            ("PIM_GRAPH_ENDPOINT", base.as_str()),
            ("PIM_ARM_ENDPOINT", base.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    );
    let endpoints = Endpoints::from_env(&env).unwrap();
    let (tokens, home) = TestTokens::sign_in(&base).await;
    let mut opts = SessionOptions::new(endpoints, tokens.clone(), home.clone());
    opts.retry.base_backoff = std::time::Duration::from_millis(50);
    opts.settle = std::time::Duration::from_millis(200);
    let session = Session::new(opts.clone());
    Harness {
        sim,
        session,
        home,
        options: opts,
        tokens,
    }
}
