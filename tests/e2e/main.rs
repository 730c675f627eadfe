//! End-to-end tests: the real `pim` binary, run as a separate process from a clean first-run
//! environment, against a fresh `pim-sim` (demo scenario) over loopback, with the refresh token
//! in the real Secret Service. Run through `bash .ci/test.sh` (they are `#[ignore]`d otherwise,
//! because they need a D-Bus session with an unlocked keyring).
#![allow(clippy::unwrap_used)]

mod accounts;
mod activation;
mod approval;
mod batch;
mod bundles;
mod clock;
mod faults;
mod first_run;
mod history;
mod inbox;
mod paging;
mod ready;
mod signin;
mod tenants;
