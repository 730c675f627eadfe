//! pim-core: the Tauri-free core of PIM Tray.
//!
//! (Module docs and invariants are completed as the crate grows.)
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod token;

pub use error::{Error, Result};
