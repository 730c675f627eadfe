//! pim-core against the real pim-sim over loopback HTTP.
#![allow(clippy::unwrap_used, missing_docs)]

mod again;
mod approvals;
mod batch;
mod harness;
mod history;
mod ready;
mod refresh;
mod standin;
mod stepup;
mod writes;
