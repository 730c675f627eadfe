//! The crate's error type for its Rust API (not the services' wire errors; those are in
//! `service_errors.rs`).

/// Errors returned by the simulator's Rust API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The scenario could not be loaded or is inconsistent.
    #[error("scenario: {0}")]
    Scenario(String),
    /// Binding or serving the listener failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    /// A control operation referred to something that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A control operation was not valid in the current state.
    #[error("invalid control request: {0}")]
    Invalid(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;
