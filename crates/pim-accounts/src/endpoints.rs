//! Which service hosts are used: the precedence of cloud, `PIM_*` variables and settings.

use pim_core::Result;
use pim_core::config::{Cloud, Endpoints, Env, parse_base_url};

/// Endpoint choices kept in a face's settings (the tray's settings file); all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointSettings {
    /// The cloud, unless `PIM_CLOUD` names one.
    pub cloud: Option<Cloud>,
    /// The authority host (base URL), over the cloud's and `PIM_AUTHORITY_HOST`.
    pub authority_host: Option<String>,
    /// The Microsoft Graph base URL, over the cloud's and `PIM_GRAPH_ENDPOINT`.
    pub graph: Option<String>,
    /// The Azure Resource Manager base URL, over the cloud's and `PIM_ARM_ENDPOINT`.
    pub arm: Option<String>,
}

/// The endpoints of new sign-ins, from lowest to highest precedence: the cloud's hosts (the
/// cloud is `PIM_CLOUD`, else the settings' cloud, else the public cloud), then the
/// `PIM_AUTHORITY_HOST`, `PIM_GRAPH_ENDPOINT` and `PIM_ARM_ENDPOINT` variables, then the
/// settings' base URLs. A saved account keeps the endpoints it signed in with.
pub fn endpoints(env: &dyn Env, settings: &EndpointSettings) -> Result<Endpoints> {
    let cloud = match env.var("PIM_CLOUD") {
        Some(_) => None,
        None => settings.cloud,
    };
    let mut e = match cloud {
        Some(c) => endpoints_in(c, env)?,
        None => Endpoints::from_env(env)?,
    };
    if let Some(v) = &settings.authority_host {
        e.authority_host = parse_base_url("authority host", v)?;
    }
    if let Some(v) = &settings.graph {
        e.graph = parse_base_url("Graph endpoint", v)?;
    }
    if let Some(v) = &settings.arm {
        e.arm = parse_base_url("ARM endpoint", v)?;
    }
    Ok(e)
}

/// The endpoints of a sign-in in `cloud`, chosen explicitly (over `PIM_CLOUD`): its hosts,
/// with the `PIM_*_ENDPOINT` and `PIM_AUTHORITY_HOST` overrides as always.
pub fn endpoints_in(cloud: Cloud, env: &dyn Env) -> Result<Endpoints> {
    Endpoints::from_env(&CloudEnv { cloud, env })
}

/// `env` with `PIM_CLOUD` replaced.
#[derive(Debug)]
struct CloudEnv<'a> {
    cloud: Cloud,
    env: &'a dyn Env,
}

impl Env for CloudEnv<'_> {
    fn var(&self, name: &str) -> Option<String> {
        if name == "PIM_CLOUD" {
            return Some(self.cloud.as_str().to_owned());
        }
        self.env.var(name)
    }
}
