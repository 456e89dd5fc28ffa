//! `[amqp]`: the broker connection and the names and limits of the topology.

use pintu_channels::Secret;
use serde::Deserialize;
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpConfig {
    /// `amqp://user:password@host:5672/vhost`: a secret, it carries the password.
    pub url: Secret,
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
