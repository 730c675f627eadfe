//! PKCE (RFC 7636, method S256) and the `state` value of the authorization request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pim_core::token::Secret;
use sha2::{Digest, Sha256};

/// A PKCE pair: the secret verifier (sent only to the token endpoint) and its S256 challenge
/// (sent in the authorize URL).
#[derive(Debug, Clone)]
pub struct Pkce {
    /// 43 characters of base64url from 32 random bytes. Never logged.
    pub verifier: Secret,
    /// `BASE64URL(SHA256(verifier))`, without padding.
    pub challenge: String,
}

impl Pkce {
    /// A fresh random pair.
    pub fn generate() -> Pkce {
        let bytes: [u8; 32] = rand::random();
        Pkce::from_verifier(&URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The pair for a given verifier.
    pub fn from_verifier(verifier: &str) -> Pkce {
        Pkce {
            verifier: Secret::new(verifier),
            challenge: s256(verifier),
        }
    }
}

/// `BASE64URL(SHA256(ASCII(verifier)))`.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A random, unguessable `state` value (base64url of 16 random bytes).
pub fn random_state() -> String {
    let bytes: [u8; 16] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn generated_values_are_valid_and_distinct() {
        let a = Pkce::generate();
        let b = Pkce::generate();
        assert_eq!(a.verifier.expose().len(), 43);
        assert!(
            a.verifier
                .expose()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a.verifier, b.verifier);
        assert_eq!(a.challenge, s256(a.verifier.expose()));
        assert!(!format!("{a:?}").contains(a.verifier.expose()));
        assert_ne!(random_state(), random_state());
    }
}
