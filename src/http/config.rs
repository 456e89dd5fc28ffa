//! `[http]`: the listener, request limits, the ops token and trusted proxies.

use std::net::SocketAddr;

use pintu_channels::Secret;
use serde::Deserialize;
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    /// Largest request body accepted (bytes); larger gets 413.
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// URL providers use to reach this server (signature schemes sign it).
    #[serde(default)]
    pub public_base_url: Option<String>,
    /// Bearer token for ops/admin endpoints; required when the gateway is
    /// exposed (not bound to loopback, or behind `trusted_proxies`).
    #[serde(default)]
    pub ops_token: Option<Secret>,
    /// Reverse proxies / ingresses whose `X-Forwarded-For` names the client
    /// (addresses or CIDR blocks). Only their header is believed, and with any
    /// set, loopback no longer counts as private: the ops token and real
    /// secrets are required.
    #[serde(default)]
    pub trusted_proxies: Vec<pintu_channels::auth::IpRule>,
    /// One log line per HTTP request (target `pintu::access`), credentials in
    /// the query masked.
    #[serde(default)]
    pub access_log: bool,
}

fn default_body_limit() -> usize {
    256 * 1024
}
fn default_request_timeout_ms() -> u64 {
    10_000
}
