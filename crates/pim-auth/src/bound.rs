//! The keychain value of a refresh token binds it to the endpoints it was issued for.
//!
//! `accounts.json` is plain metadata that any process of the user (or a synced dotfile) can
//! edit, yet its `authorityHost`, `graphEndpoint` and `armEndpoint` decide where the refresh
//! token and the access tokens go. So the keychain value names them too:
//!
//! ```text
//! pim-rt/1\n{"authorityHost":"https://login.microsoftonline.com","graphEndpoint":"…","armEndpoint":"…"}\n<refresh token>
//! ```
//!
//! and [`crate::Auth`] sends nothing for an account whose file (or configuration) names other
//! endpoints than its keychain value: it answers `SignInRequired`, naming the differing
//! endpoint and the fix (sign in again if the change was intended).
//!
//! **Values written before this binding** (the bare refresh token) are read as bound to the
//! well-known endpoints of the account's cloud ([`BoundEndpoints::well_known`]), never to what
//! the editable file says: such an account keeps working where it signed in with the standard
//! endpoints (nearly everyone), and the refresh token it rotates next is written bound; one
//! that used custom endpoints (a simulator, a proxy) must sign in once more. Trusting the
//! file on first read instead would hand the token to whoever edited the file before the
//! upgrade.

use std::fmt;

use pim_core::config::{Cloud, Endpoints};
use pim_core::token::Secret;
use serde::{Deserialize, Serialize};

/// First line of a bound value (the format's version).
const MAGIC: &str = "pim-rt/1\n";
/// What every bound value starts with, whatever its version.
const FAMILY: &str = "pim-rt/";

/// The endpoints a refresh token was issued for and may be used with (base URLs without a
/// trailing slash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BoundEndpoints {
    pub authority_host: String,
    pub graph_endpoint: String,
    pub arm_endpoint: String,
}

fn base(u: &url::Url) -> String {
    u.as_str().trim_end_matches('/').to_owned()
}

impl BoundEndpoints {
    /// The authority, Graph and ARM base URLs of `e`.
    pub fn of(e: &Endpoints) -> BoundEndpoints {
        BoundEndpoints {
            authority_host: base(&e.authority_host),
            graph_endpoint: base(&e.graph),
            arm_endpoint: base(&e.arm),
        }
    }

    /// The cloud's standard endpoints: what a value without binding is trusted with.
    pub fn well_known(cloud: Cloud) -> BoundEndpoints {
        BoundEndpoints::of(&Endpoints::for_cloud(cloud))
    }

    /// The first endpoint that differs from `other`: (name, ours, theirs).
    pub fn difference<'a>(
        &'a self,
        other: &'a BoundEndpoints,
    ) -> Option<(&'static str, &'a str, &'a str)> {
        [
            (
                "authority host",
                &self.authority_host,
                &other.authority_host,
            ),
            (
                "Graph endpoint",
                &self.graph_endpoint,
                &other.graph_endpoint,
            ),
            ("ARM endpoint", &self.arm_endpoint, &other.arm_endpoint),
        ]
        .into_iter()
        .find(|(_, a, b)| a != b)
        .map(|(n, a, b)| (n, a.as_str(), b.as_str()))
    }
}

/// A refresh token as kept in the keychain: with the endpoints it is bound to, or `None` for
/// a value written before binding (see the module docs).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct StoredToken {
    pub token: Secret,
    pub bound: Option<BoundEndpoints>,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("token", &self.token)
            .field("bound", &self.bound)
            .finish()
    }
}

impl StoredToken {
    /// `token` bound to `bound`.
    pub fn new(token: Secret, bound: BoundEndpoints) -> StoredToken {
        StoredToken {
            token,
            bound: Some(bound),
        }
    }

    /// The keychain value.
    pub fn encode(&self) -> Vec<u8> {
        let Some(bound) = &self.bound else {
            return self.token.expose().as_bytes().to_vec();
        };
        // Serialising three strings cannot fail.
        let json = serde_json::to_string(bound).unwrap_or_default();
        format!("{MAGIC}{json}\n{}", self.token.expose()).into_bytes()
    }

    /// Reads a keychain value. `Err` (a reason without any of the value) when it is not text,
    /// or a bound value that is damaged or of a newer format.
    pub fn decode(bytes: Vec<u8>) -> Result<StoredToken, String> {
        let text = String::from_utf8(bytes).map_err(|_| "it is not text".to_owned())?;
        let Some(rest) = text.strip_prefix(FAMILY) else {
            return Ok(StoredToken {
                token: Secret::new(text),
                bound: None,
            });
        };
        let Some(rest) = text.strip_prefix(MAGIC) else {
            let version: String = rest.chars().take_while(char::is_ascii_digit).collect();
            return Err(format!(
                "it was written by a newer version of PIM Tray (format {version})"
            ));
        };
        let (json, token) = rest
            .split_once('\n')
            .ok_or_else(|| "its endpoints line is incomplete".to_owned())?;
        let bound: BoundEndpoints =
            serde_json::from_str(json).map_err(|_| "its endpoints are unreadable".to_owned())?;
        if token.is_empty() {
            return Err("it holds no token".into());
        }
        Ok(StoredToken {
            token: Secret::new(token.to_owned()),
            bound: Some(bound),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_legacy_and_damage() {
        let mut e = Endpoints::for_cloud(Cloud::Public);
        e.graph = url::Url::parse("http://127.0.0.1:8/").unwrap();
        let b = BoundEndpoints::of(&e);
        assert_eq!(b.graph_endpoint, "http://127.0.0.1:8");
        let t = StoredToken::new(Secret::new("0.rt".to_owned()), b.clone());
        let bytes = t.encode();
        assert!(bytes.starts_with(b"pim-rt/1\n{\"authorityHost\""));
        assert_eq!(StoredToken::decode(bytes).unwrap(), t);
        // Written before binding: the bare token.
        let legacy = StoredToken::decode(b"0.legacy".to_vec()).unwrap();
        assert_eq!(legacy.token.expose(), "0.legacy");
        assert_eq!(legacy.bound, None);
        assert_eq!(legacy.encode(), b"0.legacy");
        assert_eq!(
            b.difference(&BoundEndpoints::well_known(Cloud::Public)),
            Some((
                "Graph endpoint",
                "http://127.0.0.1:8",
                "https://graph.microsoft.com"
            ))
        );
        for bad in [
            &b"pim-rt/2\n{}\nx"[..],
            b"pim-rt/1\n{\"authorityHost\":1}\n0.rt",
            b"pim-rt/1\nno newline",
            b"\xff\xfe",
        ] {
            let err = StoredToken::decode(bad.to_vec()).unwrap_err();
            assert!(!err.contains("0.rt"), "{err}");
        }
        let err = StoredToken::decode(b"pim-rt/2\n{}\nx".to_vec()).unwrap_err();
        assert!(err.contains("newer version"), "{err}");
    }
}
