//! Test harness: start a simulator, sign in over real loopback HTTP, call Graph/ARM.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pim_sim::{Scenario, SimControl, SimHandle, SimOptions, Simulator};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
pub const REDIRECT: &str = "http://localhost:8400/callback";
pub const GRAPH_DEFAULT: &str =
    "https://graph.microsoft.com/.default openid profile offline_access";
pub const ARM_DEFAULT: &str = "https://management.azure.com/.default offline_access";

pub const CONTOSO: &str = "cab01047-8ad9-4792-8e42-569340767f1b";
pub const FABRIKAM: &str = "f3b6c2d1-7a9e-4c58-b1d2-5e8f9a0b3c47";
pub const ADELE: &str = "071cc716-8147-4397-a5ba-b2105951cc0b";
pub const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
pub const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const SECURITY_ADMIN: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";
pub const USER_ADMIN: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
pub const EXCHANGE_ADMIN: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
pub const DIRECTORY_READERS: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";
pub const REPORTS_READER: &str = "4a5d8f65-41da-4de4-8968-e035b65339cf";
pub const SQL_GROUP: &str = "2b5ed229-4072-478d-9504-a047ebd4b07d";
pub const AU_EUROPE: &str = "/administrativeUnits/5d107bba-d8e2-4e13-b6ae-884be90e5d1a";
pub const PROD_SUB: &str = "/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f";
pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";

pub struct Sim {
    pub handle: SimHandle,
    pub base: String,
    pub http: reqwest::Client,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
    pub fn code(&self) -> String {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
    pub fn message(&self) -> String {
        self.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
    pub fn values(&self) -> Vec<Value> {
        self.body["value"].as_array().cloned().unwrap_or_default()
    }
    /// The `id` of the entity answered (panics "id" without one).
    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("id").to_owned()
    }
    /// The first listed item whose `roleDefinitionId` is `role`.
    pub fn find_role(&self, role: &str) -> Option<Value> {
        self.values()
            .into_iter()
            .find(|v| v["roleDefinitionId"] == role)
    }
}

pub async fn start(scenario: &str) -> Sim {
    start_with(Scenario::builtin(scenario).expect("scenario"), None).await
}

pub async fn start_with(scenario: Scenario, page_size: Option<usize>) -> Sim {
    let handle = Simulator::start(SimOptions {
        scenario,
        page_size,
        ..SimOptions::default()
    })
    .await
    .expect("simulator starts");
    let base = handle.base_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Sim { handle, base, http }
}

pub fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The redirect `Location` of an answer.
pub fn location(r: &reqwest::Response) -> url::Url {
    url::Url::parse(r.headers()["location"].to_str().expect("location")).expect("url")
}

/// The query parameter `k` of a URL.
pub fn param(u: &url::Url, k: &str) -> Option<String> {
    u.query_pairs()
        .find(|(a, _)| a == k)
        .map(|(_, v)| v.into_owned())
}

/// A virtual-clock time as RFC 3339, as requests carry it.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("fmt")
}

pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("jwt payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

/// Sends `req` (panicking with `what` when there is no answer) and reads the answer.
async fn send(req: reqwest::RequestBuilder, what: &str) -> Resp {
    to_resp(req.send().await.expect(what)).await
}

async fn to_resp(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Resp {
        status,
        headers,
        body,
    }
}

impl Sim {
    pub fn ctl(&self) -> SimControl {
        self.handle.control()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET authorize; returns the redirect Location.
    pub async fn authorize(&self, tenant: &str, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/{tenant}/oauth2/v2.0/authorize")))
            .query(params)
            .send()
            .await
            .expect("authorize")
    }

    /// Interactive sign-in (auth code + PKCE); returns the token response.
    pub async fn sign_in(&self, tenant: &str, scope: &str, claims: Option<&str>) -> Value {
        let (verifier, challenge) = pkce();
        let mut params = vec![
            ("client_id", CLIENT),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "st4te"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(c) = claims {
            params.push(("claims", c));
        }
        let r = self.authorize(tenant, &params).await;
        assert_eq!(r.status().as_u16(), 302, "authorize redirects");
        let code = param(&location(&r), "code").expect("code in redirect");
        let t = self.redeem(tenant, &code, REDIRECT, &verifier, scope).await;
        assert_eq!(t.status, 200, "token: {}", t.body);
        t.body
    }

    /// Redeems an authorization `code` at the token endpoint (grant `authorization_code`).
    pub async fn redeem(
        &self,
        tenant: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        scope: &str,
    ) -> Resp {
        self.token(
            tenant,
            &[
                ("client_id", CLIENT),
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
                ("scope", scope),
            ],
        )
        .await
    }

    /// Asks `organizations` for a device code for ARM (the body must be JSON).
    pub async fn device_code(&self) -> Resp {
        let r = self
            .http
            .post(self.url("/organizations/oauth2/v2.0/devicecode"))
            .form(&[("client_id", CLIENT), ("scope", ARM_DEFAULT)])
            .send()
            .await
            .expect("devicecode");
        Resp {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.json().await.expect("json"),
        }
    }

    pub async fn token(&self, tenant: &str, form: &[(&str, &str)]) -> Resp {
        send(
            self.http
                .post(self.url(&format!("/{tenant}/oauth2/v2.0/token")))
                .form(form),
            "token",
        )
        .await
    }

    /// The access token of an interactive sign-in to `organizations` for `scope`.
    pub async fn access_token(&self, scope: &str, claims: Option<&str>) -> String {
        self.sign_in("organizations", scope, claims).await["access_token"]
            .as_str()
            .expect("at")
            .to_owned()
    }

    pub async fn graph_token(&self) -> String {
        self.access_token(GRAPH_DEFAULT, None).await
    }

    pub async fn graph_token_with(&self, claims: &str) -> String {
        self.access_token(GRAPH_DEFAULT, Some(claims)).await
    }

    pub async fn arm_token(&self) -> String {
        self.access_token(ARM_DEFAULT, None).await
    }

    /// Access token for another resource/tenant via the refresh token.
    pub async fn refresh(&self, tenant: &str, rt: &str, scope: &str) -> Resp {
        self.token(
            tenant,
            &[
                ("client_id", CLIENT),
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", scope),
            ],
        )
        .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.get_abs(&self.url(path), token).await
    }

    pub async fn get_abs(&self, url: &str, token: &str) -> Resp {
        send(self.http.get(url).bearer_auth(token), "get").await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        send(
            self.http.post(self.url(path)).bearer_auth(token).json(body),
            "post",
        )
        .await
    }

    pub async fn post_empty(&self, path: &str, token: &str) -> Resp {
        send(self.http.post(self.url(path)).bearer_auth(token), "post").await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Resp {
        send(
            self.http.put(self.url(path)).bearer_auth(token).json(body),
            "put",
        )
        .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Resp {
        send(
            self.http
                .patch(self.url(path))
                .bearer_auth(token)
                .json(body),
            "patch",
        )
        .await
    }

    pub async fn control_post(&self, path: &str, body: &Value) -> Resp {
        send(self.http.post(self.url(path)).json(body), "control").await
    }

    pub async fn control_get(&self, path: &str) -> Resp {
        send(self.http.get(self.url(path)), "control").await
    }

    /// POSTs a Graph self-activation of `role` at `scope` (see [`activate_body`]).
    pub async fn activate(
        &self,
        token: &str,
        role: &str,
        scope: &str,
        duration: &str,
        justification: Option<&str>,
    ) -> Resp {
        let body = activate_body(role, scope, duration, justification);
        self.post(ROLE_REQUESTS, token, &body).await
    }

    /// PUTs the ARM schedule request `body` at [`PROD_SUB`] under a fresh name.
    pub async fn arm_put_new(&self, token: &str, body: &Value) -> Resp {
        let name = uuid::Uuid::new_v4().to_string();
        self.put(&arm_request_path(PROD_SUB, &name), token, body)
            .await
    }

    /// POSTs `cancel` for the ARM schedule request `name` at `scope`.
    pub async fn arm_cancel(&self, token: &str, scope: &str, name: &str) -> Resp {
        let path = format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/{name}/cancel?api-version=2020-10-01"
        );
        self.post_empty(&path, token).await
    }

    /// GETs the Graph role request `id`.
    pub async fn role_request(&self, token: &str, id: &str) -> Resp {
        self.get(&format!("{ROLE_REQUESTS}/{id}"), token).await
    }

    /// POSTs `cancel` for the Graph role request `id`.
    pub async fn cancel_role_request(&self, token: &str, id: &str) -> Resp {
        self.post_empty(&format!("{ROLE_REQUESTS}/{id}/cancel"), token)
            .await
    }
}

pub const ROLE_REQUESTS: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";
pub const GROUP_REQUESTS: &str =
    "/v1.0/identityGovernance/privilegedAccess/group/assignmentScheduleRequests";

pub fn activate_body(
    role: &str,
    scope: &str,
    duration: &str,
    justification: Option<&str>,
) -> Value {
    let mut b = json!({
        "action": "selfActivate",
        "principalId": ADELE,
        "roleDefinitionId": role,
        "directoryScopeId": scope,
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": duration}},
    });
    if let Some(j) = justification {
        b["justification"] = json!(j);
    }
    b
}

pub fn arm_role(sub_scope: &str, role: &str) -> String {
    format!("{sub_scope}/providers/Microsoft.Authorization/roleDefinitions/{role}")
}

pub fn arm_request_path(scope: &str, name: &str) -> String {
    format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/{name}?api-version=2020-10-01"
    )
}

pub fn arm_activate(
    scope: &str,
    role: &str,
    duration: &str,
    justification: Option<&str>,
    ticket: Option<&str>,
) -> Value {
    let mut p = json!({
        "principalId": ADELE,
        "roleDefinitionId": arm_role(PROD_SUB, role),
        "requestType": "SelfActivate",
        "scheduleInfo": {"expiration": {"type": "AfterDuration", "endDateTime": null, "duration": duration}},
    });
    let _ = scope;
    if let Some(j) = justification {
        p["justification"] = json!(j);
    }
    if let Some(t) = ticket {
        p["ticketInfo"] = json!({"ticketNumber": t, "ticketSystem": "Jira"});
    }
    json!({ "properties": p })
}
