//! The authority's grants: authorization codes, refresh tokens and device codes, and
//! what the sign-in behind them performed.

use std::collections::HashMap;

use time::OffsetDateTime;

/// The authority's grants.
#[derive(Debug, Default)]
pub struct AuthStore {
    pub codes: HashMap<String, AuthCode>,
    pub refresh: HashMap<String, RefreshGrant>,
    pub devices: Vec<DeviceGrant>,
}

/// What a sign-in performed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignIn {
    pub amr: Vec<String>,
    pub acrs: Vec<String>,
    pub cp1: bool,
}

/// An authorization code.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: String,
    pub tenant: String,
    pub signin: SignIn,
    pub expires: OffsetDateTime,
    pub used: bool,
}

/// A refresh token.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub client_id: String,
    pub signin: SignIn,
    pub expires: OffsetDateTime,
    /// Set when rotated: still accepted for 60 s after this time.
    pub superseded_at: Option<OffsetDateTime>,
    pub revoked: bool,
}

/// Device-code state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Declined,
    Redeemed,
}

/// A device-code grant.
#[derive(Debug, Clone)]
pub struct DeviceGrant {
    pub device_code: String,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub tenant: String,
    pub signin: SignIn,
    pub expires: OffsetDateTime,
    pub interval: u64,
    pub last_poll: Option<std::time::Instant>,
    pub status: DeviceStatus,
}
