//! Integration tests of pim-sim over real loopback HTTP (one binary, modules per area).

mod approvals;
mod authority;
mod authority_errors;
mod control;
mod effective;
mod endpoints;
mod faults;
mod harness;
mod history;
mod inbox;
mod lifecycle;
mod robustness;
mod rules;
mod schema;
