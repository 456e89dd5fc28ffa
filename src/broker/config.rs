//! `[amqp]`: the broker connection and the names and limits of the topology.

use std::sync::Arc;

use pintu_channels::Secret;
use serde::Deserialize;

use super::failover::Failover;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpConfig {
    /// `amqp://user:password@host:5672/vhost`: a secret, it carries the password.
    pub url: Secret,
    /// Further endpoints of the same cluster (each a URL like `url`, each a
    /// secret), tried in order after `url` and round-robin after a lost
    /// connection (src/broker/failover.rs).
    #[serde(default)]
    pub urls: Vec<Secret>,
    /// Prefix of every exchange and queue name, so tenants and tests do not collide.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Deliveries of one message before the broker dead-letters it.
    #[serde(default = "default_delivery_limit")]
    pub delivery_limit: u32,
    /// Publishes awaiting confirmation at once (relay and router).
    #[serde(default = "default_window")]
    pub publish_window: usize,
    /// Agency codes that get their own queue (`kemenkes`, `3171.dinkes`, or a
    /// pattern such as `3171.#` for every unit of one city); `triage` always has one.
    #[serde(default)]
    pub agency_queues: Vec<String>,
    /// RabbitMQ management API base (`http://guest:guest@127.0.0.1:15672`) for ops views.
    #[serde(default)]
    pub management_url: Option<Secret>,
    /// Which endpoint answered last and whether its connection is still up:
    /// shared by every clone of this config, so the relay, the router and the
    /// consumers of one process move to the next endpoint together.
    #[serde(skip)]
    pub failover: Arc<Failover>,
}

impl AmqpConfig {
    /// `url`, then `urls`, each once, in the order written.
    pub fn endpoints(&self) -> Vec<&Secret> {
        let mut out: Vec<&Secret> = Vec::with_capacity(1 + self.urls.len());
        for u in std::iter::once(&self.url).chain(&self.urls) {
            if !out.contains(&u) {
                out.push(u);
            }
        }
        out
    }
}

fn default_prefix() -> String {
    "pintu".into()
}
fn default_delivery_limit() -> u32 {
    5
}
fn default_window() -> usize {
    1024
}

/// `%XX` escapes of a URL part (user, password, vhost) decoded; `None` when
/// an escape is malformed or the result is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
