//! Depth and consumer count of every Pintu queue.
//!
//! Two sources: the RabbitMQ management HTTP API when `amqp.management_url` is
//! set (it also splits ready from unacknowledged), otherwise a passive
//! `queue.declare` per queue over AMQP, which every broker answers and which
//! never creates or changes a queue. Both answers come from outside this
//! process, so every field is optional and a malformed answer is an error
//! value on that queue, never a panic.

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use serde::{Deserialize, Serialize};

use super::OpsError;
use crate::broker::config::percent_decode;
use crate::broker::AmqpConfig;
use crate::broker::Names;

/// What a queue is for; the page groups and colours by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Intake,
    Triage,
    Agency,
    Unbound,
    Outbound,
    Dead,
}

/// One queue as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStat {
    pub name: String,
    pub role: Role,
    /// Ready + unacknowledged messages.
    pub messages: Option<u64>,
    /// Waiting for a consumer (management API only).
    pub messages_ready: Option<u64>,
    /// Delivered, not yet acknowledged (management API only).
    pub messages_unacked: Option<u64>,
    pub consumers: Option<u64>,
    /// Why the figures are missing (queue not declared, broker unreachable, …).
    pub error: Option<String>,
}

impl QueueStat {
    pub(crate) fn failed(name: String, role: Role, error: String) -> QueueStat {
        QueueStat {
            name,
            role,
            messages: None,
            messages_ready: None,
            messages_unacked: None,
            consumers: None,
            error: Some(error),
        }
    }
}

/// Every queue Pintu owns, with its role, in display order.
pub fn pintu_queues(amqp: &AmqpConfig) -> Vec<(String, Role)> {
    let n = Names::new(&amqp.prefix);
    n.all_queues(&amqp.agency_queues)
        .into_iter()
        .map(|q| {
            let role = if q == n.intake_queue() {
                Role::Intake
            } else if q == n.agency_queue("triage") {
                Role::Triage
            } else if q == n.unbound_queue() {
                Role::Unbound
            } else if q == n.outbound_queue() {
                Role::Outbound
            } else if q == n.dead_queue() {
                Role::Dead
            } else {
                Role::Agency
            };
            (q, role)
        })
        .collect()
}

/// Passive declares on `conn`. A missing queue closes the channel (404), so a
/// fresh channel is opened for the next one.
pub async fn via_amqp(conn: &Connection, queues: &[(String, Role)]) -> Result<Vec<QueueStat>, OpsError> {
    let mut ch: Option<Channel> = None;
    let mut out = Vec::with_capacity(queues.len());
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    for (name, role) in queues {
        let channel = match ch.take().filter(|c| c.status().connected()) {
            Some(c) => c,
            None => conn.create_channel().await?,
        };
        match channel
            .queue_declare(name.as_str().into(), passive, FieldTable::default())
            .await
        {
            Ok(q) => {
                out.push(QueueStat {
                    name: name.clone(),
                    role: *role,
                    messages: Some(u64::from(q.message_count())),
                    messages_ready: None,
                    messages_unacked: None,
                    consumers: Some(u64::from(q.consumer_count())),
                    error: None,
                });
                ch = Some(channel);
            }
            Err(e) => {
                if !conn.status().connected() {
                    return Err(OpsError::Broker(e));
                }
                out.push(QueueStat::failed(name.clone(), *role, not_found_text(&e)));
            }
        }
    }
    if let Some(c) = ch {
        let _ = c.close(200, "done".into()).await;
    }
    Ok(out)
}

fn not_found_text(e: &lapin::Error) -> String {
    let s = e.to_string();
    if s.contains("NOT_FOUND") || s.contains("404") {
        "queue not declared".into()
    } else {
        s
    }
}

/// The vhost named by an AMQP URL (`amqp://h/%2f` → `/`; no path → `/`).
pub fn vhost_of(amqp_url: &str) -> Result<String, OpsError> {
    let url = reqwest::Url::parse(amqp_url).map_err(|e| OpsError::Setting {
        what: "amqp.url",
        source: e.into(),
    })?;
    let path = url.path().strip_prefix('/').unwrap_or(url.path());
    if path.is_empty() {
        return Ok("/".into());
    }
    percent_decode(path).ok_or_else(|| OpsError::Config("amqp.url: vhost is not valid percent-encoded UTF-8".into()))
}

/// Everything but unreserved characters escaped: vhost `/` must become `%2F`
/// inside a management API path.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A management API client: base URL without credentials plus basic auth,
/// because credentials embedded in a URL are not sent by every HTTP client.
#[derive(Debug, Clone)]
pub struct Management {
    base: reqwest::Url,
    user: String,
    password: Option<String>,
    vhost: String,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct MgmtQueue {
    name: String,
    #[serde(default)]
    messages: Option<u64>,
    #[serde(default)]
    messages_ready: Option<u64>,
    #[serde(default)]
    messages_unacknowledged: Option<u64>,
    #[serde(default)]
    consumers: Option<u64>,
}

impl Management {
    pub fn new(management_url: &str, amqp_url: &str) -> Result<Management, OpsError> {
        let mut base = reqwest::Url::parse(management_url).map_err(|e| OpsError::Setting {
            what: "amqp.management_url",
            source: e.into(),
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(OpsError::Config(
                "amqp.management_url: must be http:// or https://".into(),
            ));
        }
        let user = percent_decode(base.username()).unwrap_or_default();
        let password = base.password().and_then(percent_decode);
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| OpsError::Setting {
                what: "HTTP client",
                source: e.into(),
            })?;
        Ok(Management {
            base,
            user,
            password,
            vhost: vhost_of(amqp_url)?,
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.base.as_str().trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }

    /// `GET /api/queues/{vhost}` restricted to the columns needed, then matched
    /// against Pintu's queue names (a queue absent from the answer is not declared).
    pub async fn queues(&self, queues: &[(String, Role)]) -> Result<Vec<QueueStat>, OpsError> {
        let url = self.url(&format!(
            "api/queues/{}?columns=name,messages,messages_ready,messages_unacknowledged,consumers",
            percent_encode(&self.vhost)
        ));
        let mut req = self.http.get(&url);
        if !self.user.is_empty() {
            req = req.basic_auth(&self.user, self.password.as_deref());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| OpsError::ManagementHttp(e.without_url()))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| OpsError::ManagementHttp(e.without_url()))?;
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            return Err(OpsError::Management(format!("HTTP {status}: {text}")));
        }
        parse_management(&body, queues)
    }
}

/// The management API's queue list (a JSON array of objects) → our queues.
pub fn parse_management(body: &[u8], queues: &[(String, Role)]) -> Result<Vec<QueueStat>, OpsError> {
    let list: Vec<serde_json::Value> = serde_json::from_slice(body).map_err(OpsError::ManagementAnswer)?;
    let mut found = std::collections::HashMap::new();
    for item in list {
        // One odd entry (another tenant's exotic queue) must not hide the others.
        if let Ok(q) = serde_json::from_value::<MgmtQueue>(item) {
            found.insert(q.name.clone(), q);
        }
    }
    Ok(queues
        .iter()
        .map(|(name, role)| match found.get(name) {
            Some(q) => QueueStat {
                name: name.clone(),
                role: *role,
                messages: q
                    .messages
                    .or_else(|| Some(q.messages_ready? + q.messages_unacknowledged?)),
                messages_ready: q.messages_ready,
                messages_unacked: q.messages_unacknowledged,
                consumers: q.consumers,
                error: None,
            },
            None => QueueStat::failed(name.clone(), *role, "queue not declared".into()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qs() -> Vec<(String, Role)> {
        vec![("p.intake".into(), Role::Intake), ("p.dead".into(), Role::Dead)]
    }

    #[test]
    fn management_answer_is_matched_and_tolerant() {
        let body = br#"[{"name":"p.intake","messages":7,"messages_ready":5,"messages_unacknowledged":2,"consumers":1},
                        {"name":"other","messages":"weird"},
                        {"no_name":true}]"#;
        let v = parse_management(body, &qs()).unwrap();
        assert_eq!(v[0].messages, Some(7));
        assert_eq!(v[0].messages_unacked, Some(2));
        assert_eq!(v[0].consumers, Some(1));
        assert_eq!(v[1].error.as_deref(), Some("queue not declared"));
        // Right after declaration RabbitMQ may omit `messages`.
        let v = parse_management(
            br#"[{"name":"p.dead","messages_ready":3,"messages_unacknowledged":1}]"#,
            &qs(),
        )
        .unwrap();
        assert_eq!(v[1].messages, Some(4));
        assert_eq!(v[1].consumers, None);
    }

    #[test]
    fn malformed_management_answers_are_errors() {
        for body in [&b"<html>login</html>"[..], b"{\"error\":\"x\"}", b"", b"[1,2"] {
            let e = parse_management(body, &qs()).unwrap_err();
            assert!(e.to_string().contains("management API"), "{e}");
        }
    }

    #[test]
    fn vhosts() {
        assert_eq!(vhost_of("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap(), "/");
        assert_eq!(vhost_of("amqp://h:5672").unwrap(), "/");
        assert_eq!(vhost_of("amqp://h/lapor").unwrap(), "lapor");
        assert!(vhost_of("amqp://h/%zz").is_err());
        assert!(vhost_of("not a url").is_err());
        assert_eq!(percent_encode("/"), "%2F");
    }

    #[test]
    fn management_url_credentials_are_split_off() {
        let m = Management::new("http://ops:s%40cret@127.0.0.1:15672/", "amqp://h/%2f").unwrap();
        assert_eq!(m.user, "ops");
        assert_eq!(m.password.as_deref(), Some("s@cret"));
        assert!(!m.url("api/queues").contains("cret"));
        assert!(Management::new("ftp://x", "amqp://h").is_err());
    }

    #[test]
    fn roles() {
        let cfg = AmqpConfig {
            url: "amqp://h".into(),
            urls: Vec::new(),
            prefix: "p".into(),
            delivery_limit: 5,
            publish_window: 1,
            agency_queues: vec!["kemenkes".into(), "3171.#".into()],
            management_url: None,
            failover: Default::default(),
        };
        let roles: Vec<Role> = pintu_queues(&cfg).into_iter().map(|(_, r)| r).collect();
        assert_eq!(
            roles,
            [
                Role::Intake,
                Role::Triage,
                Role::Agency,
                Role::Agency,
                Role::Unbound,
                Role::Outbound,
                Role::Dead
            ]
        );
    }
}
