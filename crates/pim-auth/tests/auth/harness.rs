//! Test harness: pim-sim on 127.0.0.1:0, an `Auth` pointed at it with a Windows-limited fake
//! keychain, a browser stand-in and a manual clock kept in step with the sim's virtual clock.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pim_auth::{Auth, AuthOptions, BrowserOpener, LimitedStore, ManualClock};
use pim_core::config::{Cloud, Endpoints, parse_base_url};
use pim_core::token::{Resource, TokenRequest};
use serde_json::Value;
use time::OffsetDateTime;

/// What the browser stand-in does with the authorize URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// GET the authorize URL (no redirects), then GET its `Location` on our listener.
    Follow,
    /// Answer our listener with `error=access_denied&error_subcode=cancel`.
    Cancel,
    /// Do nothing (the user walked away).
    Ignore,
}

/// A browser that does the browser's job with reqwest.
#[derive(Debug, Clone)]
pub struct TestBrowser {
    pub opened: Arc<Mutex<Vec<String>>>,
    pub pages: Arc<Mutex<Vec<String>>>,
    pub mode: Arc<Mutex<Mode>>,
}

impl TestBrowser {
    pub fn new() -> TestBrowser {
        TestBrowser {
            opened: Arc::default(),
            pages: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Follow)),
        }
    }

    pub fn set_mode(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
    }

    pub fn opened(&self) -> Vec<String> {
        self.opened.lock().unwrap().clone()
    }

    /// The pages our listener answered, waiting (up to 5 s) until there are `n`.
    pub async fn pages(&self, n: usize) -> Vec<String> {
        for _ in 0..500 {
            let p = self.pages.lock().unwrap().clone();
            if p.len() >= n {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the browser stand-in saw fewer than {n} pages");
    }
}

fn query(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl BrowserOpener for TestBrowser {
    fn open(&self, url: &str) -> io::Result<()> {
        self.opened.lock().unwrap().push(url.to_owned());
        let mode = *self.mode.lock().unwrap();
        let url = url.to_owned();
        let pages = self.pages.clone();
        tokio::runtime::Handle::current().spawn(async move {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let callback = match mode {
                Mode::Ignore => return,
                Mode::Follow => {
                    let resp = http.get(&url).send().await.unwrap();
                    assert_eq!(resp.status().as_u16(), 302, "authorize answered {resp:?}");
                    resp.headers()["location"].to_str().unwrap().to_owned()
                }
                Mode::Cancel => {
                    let redirect = query(&url, "redirect_uri").unwrap();
                    let state = query(&url, "state").unwrap();
                    format!(
                        "{redirect}/?error=access_denied&error_subcode=cancel&error_description=AADSTS50058%3A+user+cancelled&state={state}"
                    )
                }
            };
            let page = http.get(&callback).send().await.unwrap();
            assert!(page.status().is_success());
            let text = page.text().await.unwrap();
            pages.lock().unwrap().push(text);
        });
        Ok(())
    }
}

pub struct Harness {
    /// Keeps the simulator running.
    pub _sim: pim_sim::SimHandle,
    pub base: String,
    pub auth: Auth,
    pub store: LimitedStore,
    pub browser: TestBrowser,
    pub clock: ManualClock,
    pub endpoints: Endpoints,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

pub async fn start() -> Harness {
    start_with(|_| {}).await
}

pub async fn start_with(adjust: impl FnOnce(&mut AuthOptions)) -> Harness {
    start_with_latency(Duration::ZERO, adjust).await
}

/// Like [`start_with`], with the simulator delaying every response by `latency`.
pub async fn start_with_latency(
    latency: Duration,
    adjust: impl FnOnce(&mut AuthOptions),
) -> Harness {
    let sim = pim_sim::Simulator::start(pim_sim::SimOptions {
        scenario: pim_sim::Scenario::builtin("demo").unwrap(),
        listen: "127.0.0.1:0".parse().unwrap(),
        latency,
        ..Default::default()
    })
    .await
    .unwrap();
    let base = sim.base_url();
    let http = reqwest::Client::new();
    let now: Value = http
        .get(format!("{base}/_sim/clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now = OffsetDateTime::parse(
        now["now"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let clock = ManualClock::new(now);
    let mut endpoints = Endpoints::for_cloud(Cloud::Public);
    endpoints.authority_host = parse_base_url("authority", &base).unwrap();
    endpoints.graph = parse_base_url("graph", &base).unwrap();
    endpoints.arm = parse_base_url("arm", &base).unwrap();
    let store = LimitedStore::new();
    let browser = TestBrowser::new();
    let dir = tempfile::tempdir().unwrap();
    let mut options = AuthOptions::with_secret_store(
        endpoints.clone(),
        "14d82eec-204b-4c2f-b7e8-296a70dab67e".into(),
        dir.path().join("config"),
        Arc::new(store.clone()),
    );
    options.browser = Arc::new(browser.clone());
    options.clock = Arc::new(clock.clone());
    options.login_timeout = Duration::from_secs(20);
    adjust(&mut options);
    let auth = Auth::new(options).unwrap();
    Harness {
        _sim: sim,
        base,
        auth,
        store,
        browser,
        clock,
        endpoints,
        dir,
        http,
    }
}

impl Harness {
    pub fn clock_now(&self) -> OffsetDateTime {
        use pim_auth::Clock;
        self.clock.now()
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap_or(Value::Null)
    }

    /// Moves the sim's virtual clock and our clock together.
    pub async fn advance(&self, seconds: u64) {
        self.control(
            "/_sim/clock/advance",
            serde_json::json!({ "seconds": seconds }),
        )
        .await;
        self.clock.advance(Duration::from_secs(seconds));
    }

    /// Token-endpoint calls the sim has seen.
    pub async fn token_calls(&self) -> usize {
        let v: Value = self
            .http
            .get(format!("{}/_sim/requests", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["path"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("/oauth2/v2.0/token")
            })
            .count()
    }

    pub fn request(&self, tenant: &str, resource: Resource) -> TokenRequest {
        TokenRequest {
            tenant_id: tenant.to_owned(),
            resource,
            scope: match resource {
                Resource::Graph => self.endpoints.graph_scope.clone(),
                Resource::Arm => self.endpoints.arm_scope.clone(),
            },
            claims: None,
            force_refresh: false,
        }
    }

    /// GET on the sim with a bearer token; returns the status.
    pub async fn call(&self, path: &str, token: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// The payload of an (unsigned) JWT.
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .unwrap(),
    )
    .unwrap()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    query(url, name)
}
