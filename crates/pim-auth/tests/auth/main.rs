//! pim-auth integration tests: sign-in against pim-sim over loopback, and the real keychain.
#![allow(clippy::unwrap_used)]

mod failures;
mod harness;
mod keychain;
mod signin;
