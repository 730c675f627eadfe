//! Endpoints and settings from the environment: clouds, base URLs, client id, config folder.
//!
//! Environment reads go through [`Env`] so tests inject their own.

use std::collections::HashMap;
use std::path::PathBuf;

use url::Url;

use crate::{Error, Result};

/// Default app registration (public client): Microsoft Graph Command Line Tools, which has the
/// Graph PIM scopes by dynamic consent. Organisations should register their own app and set
/// `PIM_CLIENT_ID` (see the README).
pub const DEFAULT_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";

/// Reads environment variables. [`ProcessEnv`] reads the real ones; [`MapEnv`] is for tests.
pub trait Env: Send + Sync + std::fmt::Debug {
    /// The variable's value, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// A fixed set of variables (tests).
#[derive(Debug, Clone, Default)]
pub struct MapEnv(pub HashMap<String, String>);

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned().filter(|v| !v.is_empty())
    }
}

/// A national cloud, or custom endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Cloud {
    /// Microsoft's public cloud (and GCC).
    Public,
    /// Azure US Government.
    UsGovernment,
    /// Azure operated by 21Vianet (China).
    China,
}

impl Cloud {
    /// Parses `public`, `usgov` / `usgovernment`, `china`.
    pub fn parse(s: &str) -> Result<Cloud> {
        match s.to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
            "public" | "global" | "azurepublic" | "azurecloud" => Ok(Cloud::Public),
            "usgov" | "usgovernment" | "azureusgovernment" | "gcchigh" => Ok(Cloud::UsGovernment),
            "china" | "azurechina" | "azurechinacloud" => Ok(Cloud::China),
            other => Err(Error::Config(format!(
                "unknown cloud `{other}`; use public, usgov or china"
            ))),
        }
    }

    /// Short name used in keychain entries and settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::UsGovernment => "usgov",
            Cloud::China => "china",
        }
    }
}

/// Where the three services live, and the scopes that name their resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Cloud these endpoints belong to (custom endpoints keep the cloud's scopes).
    pub cloud: Cloud,
    /// Authority host, e.g. `https://login.microsoftonline.com` (no tenant, no trailing slash).
    pub authority_host: Url,
    /// Graph base, e.g. `https://graph.microsoft.com`; the client appends `/v1.0/...`.
    pub graph: Url,
    /// ARM base, e.g. `https://management.azure.com`; the client appends the ARM paths.
    pub arm: Url,
    /// Scope for Graph tokens, e.g. `https://graph.microsoft.com/.default`.
    pub graph_scope: String,
    /// Scope for ARM tokens, e.g. `https://management.azure.com/.default`.
    pub arm_scope: String,
}

impl Endpoints {
    /// The cloud's default endpoints.
    pub fn for_cloud(cloud: Cloud) -> Endpoints {
        let (auth, graph, arm) = match cloud {
            Cloud::Public => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
                "https://management.azure.com",
            ),
            Cloud::UsGovernment => (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
                "https://management.usgovcloudapi.net",
            ),
            Cloud::China => (
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn",
                "https://management.chinacloudapi.cn",
            ),
        };
        #[allow(clippy::unwrap_used)] // constants above are valid URLs
        Endpoints {
            cloud,
            authority_host: Url::parse(auth).unwrap(),
            graph: Url::parse(graph).unwrap(),
            arm: Url::parse(arm).unwrap(),
            graph_scope: format!("{graph}/.default"),
            arm_scope: format!("{arm}/.default"),
        }
    }

    /// Endpoints from the environment: `PIM_CLOUD` picks the cloud (default public);
    /// `PIM_AUTHORITY_HOST`, `PIM_GRAPH_ENDPOINT`, `PIM_ARM_ENDPOINT` override its base URLs.
    /// Plain `http` is accepted only for loopback hosts.
    pub fn from_env(env: &dyn Env) -> Result<Endpoints> {
        let cloud = match env.var("PIM_CLOUD") {
            Some(c) => Cloud::parse(&c)?,
            None => Cloud::Public,
        };
        let mut e = Endpoints::for_cloud(cloud);
        if let Some(v) = env.var("PIM_AUTHORITY_HOST") {
            e.authority_host = parse_base_url("PIM_AUTHORITY_HOST", &v)?;
        }
        if let Some(v) = env.var("PIM_GRAPH_ENDPOINT") {
            e.graph = parse_base_url("PIM_GRAPH_ENDPOINT", &v)?;
        }
        if let Some(v) = env.var("PIM_ARM_ENDPOINT") {
            e.arm = parse_base_url("PIM_ARM_ENDPOINT", &v)?;
        }
        Ok(e)
    }
}

/// Parses a base URL setting: absolute, `https` (or `http` on a loopback host), no query or
/// fragment; a trailing slash is removed.
pub fn parse_base_url(name: &str, value: &str) -> Result<Url> {
    let url = Url::parse(value.trim())
        .map_err(|e| Error::Config(format!("{name}=`{value}` is not a valid URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::Config(format!(
                "{name}=`{value}`: plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost); use https"
            )));
        }
        s => {
            return Err(Error::Config(format!(
                "{name}=`{value}`: unsupported scheme `{s}`"
            )));
        }
    }
    if url.host_str().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "{name}=`{value}`: give a base URL like https://host[:port][/path], without query"
        )));
    }
    let trimmed = url.as_str().trim_end_matches('/').to_owned();
    Url::parse(&trimmed).map_err(|e| Error::Config(format!("{name}=`{value}`: {e}")))
}

/// Whether the URL's host is a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The app registration's client id: `PIM_CLIENT_ID` or [`DEFAULT_CLIENT_ID`].
pub fn client_id_from_env(env: &dyn Env) -> String {
    env.var("PIM_CLIENT_ID")
        .unwrap_or_else(|| DEFAULT_CLIENT_ID.to_owned())
}

/// The config/state folder: `PIM_CONFIG_DIR`, else the platform's config folder + `pim-tray`
/// (`$XDG_CONFIG_HOME/pim-tray`, `~/.config/pim-tray`, `%APPDATA%\pim-tray`,
/// `~/Library/Application Support/pim-tray`). Not created here.
pub fn config_dir_from_env(env: &dyn Env) -> Result<PathBuf> {
    if let Some(d) = env.var("PIM_CONFIG_DIR") {
        return Ok(PathBuf::from(d));
    }
    #[cfg(target_os = "windows")]
    let base = env.var("APPDATA").map(PathBuf::from);
    #[cfg(target_os = "macos")]
    let base = env
        .var("HOME")
        .map(|h| PathBuf::from(h).join("Library").join("Application Support"));
    #[cfg(not(any(target_os = "windows", target_os = "macos")))]
    let base = env
        .var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env.var("HOME").map(|h| PathBuf::from(h).join(".config")));
    base.map(|b| b.join("pim-tray")).ok_or_else(|| {
        Error::Config("cannot find a config folder: set PIM_CONFIG_DIR or HOME".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> MapEnv {
        MapEnv(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_are_public_cloud() {
        let e = Endpoints::from_env(&env(&[])).unwrap();
        assert_eq!(e.graph.as_str(), "https://graph.microsoft.com/");
        assert_eq!(e.arm_scope, "https://management.azure.com/.default");
    }

    #[test]
    fn loopback_http_allowed_other_http_refused() {
        let e =
            Endpoints::from_env(&env(&[("PIM_GRAPH_ENDPOINT", "http://127.0.0.1:8080/")])).unwrap();
        assert_eq!(e.graph.port(), Some(8080));
        let err =
            Endpoints::from_env(&env(&[("PIM_ARM_ENDPOINT", "http://example.com")])).unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
    }

    #[test]
    fn sovereign_clouds_have_their_hosts() {
        let e = Endpoints::from_env(&env(&[("PIM_CLOUD", "usgov")])).unwrap();
        assert_eq!(
            e.authority_host.host_str(),
            Some("login.microsoftonline.us")
        );
        let e = Endpoints::for_cloud(Cloud::China);
        assert_eq!(e.graph.host_str(), Some("microsoftgraph.chinacloudapi.cn"));
        assert!(Cloud::parse("mars").is_err());
    }

    #[test]
    fn config_dir_prefers_pim_config_dir() {
        let d = config_dir_from_env(&env(&[("PIM_CONFIG_DIR", "/x/y"), ("HOME", "/h")])).unwrap();
        assert_eq!(d, PathBuf::from("/x/y"));
        #[cfg(all(unix, not(target_os = "macos")))]
        assert_eq!(
            config_dir_from_env(&env(&[("HOME", "/h")])).unwrap(),
            PathBuf::from("/h/.config/pim-tray")
        );
    }
}
